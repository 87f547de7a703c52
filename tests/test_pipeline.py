"""End to end: `foley run` on a synthetic crossing clip and the bundled demo clip; bad input handling."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from scipy.signal import welch
from typer.testing import CliRunner

from foleydesigner.bench.synthetic import make_clip
from foleydesigner.cli import app
from foleydesigner.errors import InputError
from foleydesigner.pipeline import run_foley
from foleydesigner.schemas import CluesFile, FoleyScript, MixPlan, RunInfo
from foleydesigner.tools.loudness import integrated_lufs, true_peak_dbfs

CONTRACT = ("script.json", "clues.json", "mix_plan.json", "mix_stereo.wav", "mix_5_1.wav", "trace.jsonl", "run.json")


@pytest.fixture(scope="module")
def crossing(tmp_path_factory) -> tuple[Path, Path, dict]:
    d = tmp_path_factory.mktemp("crossing")
    clip = d / "crossing.mp4"
    make_clip("single_mover", clip, width=640, height=360, fps=25.0, duration_s=4.0, seed=0)
    out = d / "out"
    state = run_foley(clip, out, seed=1)
    return clip, out, state


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-20))


def test_contract_files_exist_and_validate(crossing):
    clip, out, _ = crossing
    for name in CONTRACT:
        assert (out / name).is_file(), name
    script = FoleyScript.model_validate_json((out / "script.json").read_text())
    clues = CluesFile.model_validate_json((out / "clues.json").read_text())
    MixPlan.model_validate_json((out / "mix_plan.json").read_text())
    run = RunInfo.model_validate_json((out / "run.json").read_text())
    assert run.timings_s["total"] > 0 and run.backends["generator"] == "hybrid"  # the default
    assert {c.event_id for c in clues.events} == {e.id for e in script.events}
    for e in script.events:
        info = sf.info(str(out / "stems" / f"{e.id}.wav"))
        assert (info.samplerate, info.channels) == (48000, 2)
        assert abs(info.duration - script.duration_s) < 1e-3
    assert (out / run.outputs["video"]).is_file()
    assert not list(out.parent.glob(".out.partial-*"))  # staging folder gone


def test_crossing_object_moves_left_to_right(crossing):
    _, out, state = crossing
    script = FoleyScript.model_validate(state["script"])
    movers = [e for e in script.events if e.source_track is not None]
    assert len(movers) == 1, [e.id for e in script.events]
    stem, sr = sf.read(str(out / "stems" / f"{movers[0].id}.wav"), always_2d=True)
    clues = state["clues"][movers[0].id]
    act = np.flatnonzero(clues["activation"])
    t0, t1 = clues["t_s"][act[0]], clues["t_s"][act[-1]]
    first = stem[int(t0 * sr): int((t0 + 0.6) * sr)]
    last = stem[int((t1 - 0.6) * sr): int(t1 * sr)]
    assert _rms_db(first[:, 0]) > _rms_db(first[:, 1]) + 3.0  # louder left at the start
    assert _rms_db(last[:, 1]) > _rms_db(last[:, 0]) + 3.0  # louder right at the end
    assert clues["azimuth_deg"][act[0]] < -10 and clues["azimuth_deg"][act[-1]] > 10


def test_mixes_meet_loudness_peak_and_lfe(crossing):
    _, out, _ = crossing
    stereo, sr = sf.read(str(out / "mix_stereo.wav"), always_2d=True)
    x51, _ = sf.read(str(out / "mix_5_1.wav"), always_2d=True)
    assert sf.info(str(out / "mix_stereo.wav")).subtype == "PCM_24"
    assert abs(integrated_lufs(stereo.T) - (-24.0)) <= 0.5
    assert abs(integrated_lufs(x51.T) - (-24.0)) <= 0.5
    assert true_peak_dbfs(stereo.T) <= -2.0 + 0.05 and true_peak_dbfs(x51.T) <= -2.0 + 0.05
    f, p = welch(x51[:, 3], sr, nperseg=8192)
    if p.sum() > 0:
        assert 10 * np.log10(p[f > 150].sum() / p.sum()) < -30


def test_trace_has_every_stage(crossing):
    _, out, state = crossing
    nodes = [json.loads(s)["node"] for s in (out / "trace.jsonl").read_text().splitlines()]
    for expected in ("load_video", "filmscribe.generate", "filmscribe.validate", "script_writer", "extract_clues",
                     "mixing.analysis", "mixing.planner", "mixing.experts"):
        assert expected in nodes, expected
    assert sum(n.startswith("generate_stem[") for n in nodes) == len(state["script"]["events"])


def test_same_seed_same_sound(crossing, tmp_path):
    clip, out, _ = crossing
    again = run_foley(clip, tmp_path / "again", seed=1)
    a = sf.read(str(out / "mix_stereo.wav"))[0]
    b = sf.read(str(Path(again["out_dir"]) / "mix_stereo.wav"))[0]
    assert np.array_equal(a, b)


@pytest.mark.slow
def test_demo_clip_end_to_end(tmp_path, demo_clip):
    from foleydesigner.cli import demo_screenplay

    state = run_foley(demo_clip, tmp_path / "demo", screenplay_path=demo_screenplay(), seed=0)
    out = Path(state["out_dir"])
    for name in CONTRACT:
        assert (out / name).is_file()
    script = FoleyScript.model_validate(state["script"])
    steps = [e for e in script.events if e.label == "footsteps" and e.source_track is not None]
    long_walks = [e for e in steps if e.end_s - e.start_s >= 2.0]
    assert len(long_walks) >= 3
    for e in long_walks:  # a walking gait: about 1.5-2.5 steps per second
        rate = len(e.onsets_s) / (e.end_s - e.start_s)
        assert 1.0 <= rate <= 3.0, (e.id, rate)
    assert {e.label for e in script.events if e.layer == "bg"} >= {"wind", "traffic"}
    door = next(e for e in script.events if e.label in ("door_slam", "car_door"))  # "a car DOOR SLAMS"
    assert door.azimuth_deg is not None and door.azimuth_deg < 0  # "off to the left"
    assert len(door.onsets_s) == 1 and door.start_s - 0.002 <= door.onsets_s[0] <= door.end_s  # one hit, kept by ToT
    with av.open(str(out / "demo_vtest.foley.mp4")) as c:
        assert [s.codec_context.channels for s in c.streams.audio] == [6, 2]


# --- bad input ------------------------------------------------------------------------------------------------

runner = CliRunner()


def _cli(*args: str):
    return runner.invoke(app, list(args))


def test_missing_file(tmp_path):
    r = _cli("run", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "not found" in r.output
    assert not (tmp_path / "o").exists()


def test_not_a_video(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    r = _cli("run", str(bad), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "cannot read" in r.output
    assert not (tmp_path / "o").exists()


def _audio_only(path: Path, *, empty_video: bool = False) -> None:
    with av.open(str(path), "w") as out:
        if empty_video:  # a video stream that never gets a frame
            v = out.add_stream("mpeg4", rate=25)
            v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        s = out.add_stream("aac", rate=48000, layout="stereo")
        for i in range(10):
            f = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            f.sample_rate, f.pts, f.time_base = 48000, i * 1024, Fraction(1, 48000)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def test_zero_frame_and_audio_only_clips(tmp_path):
    empty = tmp_path / "empty.mkv"
    _audio_only(empty, empty_video=True)
    with pytest.raises(InputError, match="zero frames"):
        run_foley(empty, tmp_path / "o1")
    audio = tmp_path / "audio.m4a"
    _audio_only(audio)
    with pytest.raises(InputError, match="no video stream"):
        run_foley(audio, tmp_path / "o2")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_existing_audio_is_replaced_with_warning_or_kept(tmp_path, crossing):
    clip, _, _ = crossing
    with_audio = tmp_path / "with_audio.mp4"
    with av.open(str(clip)) as inp, av.open(str(with_audio), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        a = out.add_stream("aac", rate=48000, layout="stereo")
        for p in inp.demux(vin):
            if p.dts is not None:
                p.stream = vout
                out.mux(p)
        f = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
        f.sample_rate, f.pts, f.time_base = 48000, 0, Fraction(1, 48000)
        for p in [*a.encode(f), *a.encode(None)]:
            out.mux(p)
    s1 = run_foley(with_audio, tmp_path / "replace")
    assert any("already has an audio track" in w for w in s1["run"]["warnings"])
    with av.open(str(tmp_path / "replace" / "with_audio.foley.mp4")) as c:
        assert len(c.streams.audio) == 2
    run_foley(with_audio, tmp_path / "keep", keep_original_audio=True)
    with av.open(str(tmp_path / "keep" / "with_audio.foley.mp4")) as c:
        assert len(c.streams.audio) == 3


def test_out_dir_rules(tmp_path, crossing):
    clip, out, _ = crossing
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.docx").write_text("precious")
    r = _cli("run", str(clip), "--out", str(busy))
    assert r.exit_code == 2 and "not empty" in r.output
    r = _cli("run", str(clip), "--out", str(busy), "--force")
    assert r.exit_code == 2 and "not a FoleyDesigner run" in r.output
    assert (busy / "thesis.docx").read_text() == "precious"


def test_unknown_backends_and_absurd_flags(tmp_path, crossing):
    clip, _, _ = crossing
    cases = [("--generator", "magic", "unknown generator 'magic'"), ("--vision", "xray", "unknown vision backend"),
             ("--llm", "gpt4", "provider:model"), ("--target-lufs", "5", "--target-lufs"), ("--hfov", "0", "--hfov"),
             ("--window-s", "0.5", "--window-s")]
    for flag, value, message in cases:
        r = _cli("run", str(clip), "--out", str(tmp_path / "o"), flag, value)
        assert r.exit_code == 2 and message in r.output, (flag, r.output)
        assert not (tmp_path / "o").exists()


def test_missing_api_key_names_the_variable(tmp_path, crossing, monkeypatch):
    clip, _, _ = crossing
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    r = _cli("run", str(clip), "--out", str(tmp_path / "o"), "--llm", "openai:gpt-4o-mini")
    assert r.exit_code == 2 and "OPENAI_API_KEY" in r.output
    assert not (tmp_path / "o").exists()
    assert not list(tmp_path.glob(".o.partial-*"))
