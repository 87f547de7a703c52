"""Edit timelines end to end: a cut of 5 shots from 3 synthetic source clips is read (OTIO, and the same cut as
a CMX 3600 EDL), each shot is cut frame-accurately, run through `foley run`, and conformed into a reel whose
mixes last exactly the timeline and whose hits sit at their record times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from foleydesigner import cli
from foleydesigner.batch.extract import extract_range
from foleydesigner.batch.reel import conform_reel
from foleydesigner.batch.timeline import is_timeline, read_timeline
from foleydesigner.bench.synthetic import make_clip
from foleydesigner.errors import InputError
from foleydesigner.tools.loudness import integrated_lufs

SR = 48_000
FPS = 25
runner = CliRunner()
# (source clip, source in, source out, scene): record times follow one another from 0
CUT = [("ball", 0.4, 1.6, "1"), ("walker", 0.8, 2.0, "1"), ("ball", 2.0, 3.2, "1"), ("amb", 0.4, 1.4, "2"),
       ("walker", 2.4, 3.6, "2")]
KINDS = {"ball": "bouncing_ball", "walker": "walker", "amb": "ambience_only"}


def _write_otio(folder: Path) -> Path:
    import opentimelineio as otio

    rt, tr_ = otio.opentime.RationalTime, otio.opentime.TimeRange
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, a, b, scene in CUT:
        media = otio.schema.ExternalReference(target_url=f"media/{name}.mp4", available_range=tr_(rt(0, FPS), rt(100, FPS)))
        track.append(otio.schema.Clip(name=f"{name}.mp4", media_reference=media, metadata={"scene": scene},
                                      source_range=tr_(rt(round(a * FPS), FPS), rt(round((b - a) * FPS), FPS))))
    timeline = otio.schema.Timeline(name="cut", tracks=[track])
    path = folder / "cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def _tc(seconds: float, hour: int = 0) -> str:
    f = round(seconds * FPS)
    return f"{hour:02d}:{f // (60 * FPS) % 60:02d}:{f // FPS % 60:02d}:{f % FPS:02d}"


def _write_edl(folder: Path) -> Path:
    """The same cut as a CMX 3600 EDL (record timecode from 01:00:00:00, scenes as locators)."""
    lines, rec = ["TITLE: cut", "FCM: NON-DROP FRAME", ""], 0.0
    for i, (name, a, b, scene) in enumerate(CUT, start=1):
        lines += [f"{i:03d}  AX       V     C        {_tc(a)} {_tc(b)} {_tc(rec, 1)} {_tc(rec + b - a, 1)}",
                  f"* FROM CLIP NAME: media/{name}.mp4", f"* LOC: {_tc(rec, 1)} RED SC{scene}", ""]
        rec += b - a
    path = folder / "cut.edl"
    path.write_text("\n".join(lines))
    return path


@pytest.fixture(scope="module")
def cut(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cut")
    (d / "media").mkdir()
    for name, kind in KINDS.items():
        make_clip(kind, d / "media" / f"{name}.mp4", width=320, height=180, fps=FPS, duration_s=4.0, seed=1)
    return _write_otio(d)


@pytest.fixture(scope="module")
def conformed(cut: Path) -> tuple[list, float, Path, dict]:
    """Every shot extracted and run with the offline defaults through `foley run`, then conformed."""
    shots, duration = read_timeline(cut)
    runs = cut.parent / "runs"
    for s in shots:
        clip = extract_range(s.clip, s.source_start_s, s.source_end_s, cut.parent / "shots" / f"{s.name}.mp4")
        r = runner.invoke(cli.app, ["run", str(clip), "--out", str(runs / s.name)])
        assert r.exit_code == 0, r.output
    summary = conform_reel(shots, {s.name: runs / s.name for s in shots}, runs, duration, -24.0)
    return shots, duration, runs, summary


def test_read_timeline_gives_shots_in_record_order(cut: Path) -> None:
    shots, duration = read_timeline(cut)
    assert is_timeline(cut) and not is_timeline(cut.with_suffix(".mp4"))
    assert [s.name for s in shots] == ["001_ball", "002_walker", "003_ball", "004_amb", "005_walker"]
    assert duration == pytest.approx(5.8)
    rec = np.cumsum([0.0] + [b - a for _, a, b, _ in CUT])
    for s, (name, a, b, scene), r0, r1 in zip(shots, CUT, rec, rec[1:], strict=False):
        assert s.clip == (cut.parent / "media" / f"{name}.mp4").resolve() and s.scene == scene
        assert (s.source_start_s, s.source_end_s) == pytest.approx((a, b))
        assert (s.record_start_s, s.record_end_s) == pytest.approx((r0, r1))


def test_edl_reads_as_the_same_cut(cut: Path) -> None:
    shots, duration = read_timeline(_write_edl(cut.parent))
    ref, ref_duration = read_timeline(cut)
    assert duration == pytest.approx(ref_duration)
    for s, r in zip(shots, ref, strict=True):
        assert (s.clip, s.scene) == (r.clip, r.scene)
        assert (s.source_start_s, s.source_end_s, s.record_start_s, s.record_end_s) == pytest.approx(
            (r.source_start_s, r.source_end_s, r.record_start_s, r.record_end_s), abs=1e-6)


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as f:
        return [fr.to_ndarray(format="gray").astype(np.float32) for fr in f.decode(video=0)]


def test_extract_range_is_frame_accurate(cut: Path, tmp_path: Path) -> None:
    src = _frames(cut.parent / "media" / "ball.mp4")
    out = extract_range(cut.parent / "media" / "ball.mp4", 0.4, 1.6, tmp_path / "shot.mp4")
    got = _frames(out)
    assert len(got) == 30  # 1.2 s at 25 fps
    with av.open(str(out)) as f:
        assert not f.streams.audio and float(f.streams.video[0].average_rate) == FPS
    for j in (0, 29):  # the first and last frame are source frames 10 and 39, not their neighbours
        diffs = [float(np.mean(np.abs(got[j] - src[k]))) for k in range(10 + j - 2, 10 + j + 3)]
        assert int(np.argmin(diffs)) == 2, diffs


def test_extract_range_rejects_a_range_past_the_media(cut: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="reaches past the end"):
        extract_range(cut.parent / "media" / "amb.mp4", 3.0, 5.0, tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def _attack(x: np.ndarray, t: float, reach: float = 0.06, hop: float = 0.0025) -> tuple[float, float]:
    """Onset of the hit nearest `t` (s): where the level rose most over 30 ms, within ±reach; and that rise (dB)."""
    mono = x.sum(axis=1)
    a, h = int((t - reach - 0.03) * SR), int(hop * SR)
    seg = mono[a: int((t + reach) * SR)]
    db = 10 * np.log10(np.mean(seg[: seg.size // h * h].reshape(-1, h) ** 2, axis=1) + 1e-12)
    lag = int(round(0.03 / hop))
    rise = db[lag:] - db[:-lag]
    return a / SR + (int(np.argmax(rise)) + lag) * hop, float(rise.max())


def _lag(stem: np.ndarray, mix: np.ndarray, t: float, offset: float, reach: float = 0.02) -> float:
    """Seconds by which the stem's hit at `t` sits later in the mix than at t + offset (cross-correlation)."""
    a, b = int((t - 0.01) * SR), int((t + 0.05) * SR)
    r = int(reach * SR)
    ref = stem[a:b].sum(axis=1)
    seg = mix[a + int(round(offset * SR)) - r: b + int(round(offset * SR)) + r].sum(axis=1)
    xc = np.correlate(seg, ref, mode="valid")  # 2r + 1 lags, from -reach to +reach
    return (int(np.argmax(xc)) - r) / SR


def _check_reel(shots: list, duration: float, runs: Path, reel: Path, summary: dict) -> None:
    """The reel lasts the timeline to the sample, is at the target, and every shot's hits sit at record time."""
    stereo, sr = sf.read(reel / "mix_stereo.wav", always_2d=True)
    surround, _ = sf.read(reel / "mix_5_1.wav", always_2d=True)
    assert sr == SR and stereo.shape[0] == surround.shape[0] == round(duration * SR)  # 5.8 s to the sample
    assert abs(integrated_lufs(stereo.T) - -24.0) < 0.5 and summary["shots_placed"] == 5
    checked = 0
    for s in shots:
        script = json.loads((runs / s.name / "script.json").read_text())
        for e in script["events"]:
            hits = [t for t in e["onsets_s"] if 0.1 < t < s.duration_s - 0.1] if e["layer"] == "fg" else []
            stem = sf.read(runs / s.name / "stems" / f"{e['id']}.wav", always_2d=True)[0] if hits else None
            for t in hits:
                # a hit rises out of the reel mix (15 dB in 30 ms) within 30 ms of record time (coarse: a heel's body,
                # the beds under it); where exactly is the cross-correlation's job, below
                t_reel, rise = _attack(stereo, s.record_start_s + t, reach=0.03)
                assert rise > 15.0 and abs(t_reel - (s.record_start_s + t)) < 0.03, (s.name, t, t_reel)
                # the stem moved by the record offset exactly: its hit lines up with the reel's to within 1 ms
                assert abs(_lag(stem, stereo, t, s.record_start_s)) < 0.001, (s.name, t)
                checked += 1
    assert checked >= 2


def test_reel_lasts_the_timeline_and_hits_sit_at_record_time(conformed) -> None:
    shots, duration, runs, summary = conformed
    _check_reel(shots, duration, runs, runs / "reel", summary)


@pytest.mark.slow
def test_foley_batch_on_a_timeline_runs_one_job_per_shot_and_conforms_the_reel(cut: Path, tmp_path: Path) -> None:
    """`foley batch cut.otio`: 5 shots of 3 source clips give 5 jobs on Ray and a reel at the timeline's record
    times; the same command again recomputes no shot."""
    out = tmp_path / "out"
    cmd = [str(Path(sys.executable).with_name("foley")), "batch", str(cut), "--out", str(out), "--workers", "2"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((out / "batch.json").read_text())
    shots, duration = read_timeline(cut)
    assert [j["name"] for j in record["jobs"]] == [s.name for s in shots] and len(shots) == 5
    assert {j["status"] for j in record["jobs"]} == {"done"}
    reel = record["reels"][str(cut)]
    assert reel["status"] == "done" and Path(reel["out"]) == out / "reel"
    _check_reel(shots, duration, out, out / "reel", reel)
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    record = json.loads((out / "batch.json").read_text())
    assert {j["status"] for j in record["jobs"]} == {"skipped"} and record["reels"][str(cut)]["status"] == "done"


def test_conform_cli_and_its_errors(conformed, cut: Path, tmp_path: Path) -> None:
    _, _, runs, summary = conformed
    r = runner.invoke(cli.app, ["conform", str(cut), "--runs", str(runs), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "5 shots, 5.800 s" in r.output and (tmp_path / "reel" / "session.otio").is_file()
    again = json.loads((tmp_path / "reel" / "reel.json").read_text())
    assert again["stereo"] == summary["stereo"]  # the same runs conform to the same reel
    r = runner.invoke(cli.app, ["conform", str(cut), "--runs", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "--runs" in r.output and len(r.output.strip().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(cli.app, ["conform", str(cut), "--runs", str(empty)])
    assert r.exit_code == 2 and "run them first" in r.output
    bad = tmp_path / "cut.xml"
    bad.write_text("<xml/>")
    r = runner.invoke(cli.app, ["conform", str(bad), "--runs", str(runs)])
    assert r.exit_code == 2 and "not an edit timeline" in r.output


def test_timeline_errors_name_the_problem(cut: Path, tmp_path: Path) -> None:
    import opentimelineio as otio

    text = cut.read_text().replace("media/ball.mp4", "media/gone.mp4")
    (tmp_path / "relinked.otio").write_text(text)
    with pytest.raises(InputError, match="gone.mp4 does not exist"):
        read_timeline(tmp_path / "relinked.otio")
    otio.adapters.write_to_file(otio.schema.Timeline(name="empty", tracks=[otio.schema.Track(
        kind=otio.schema.TrackKind.Audio)]), str(tmp_path / "audio.otio"))
    with pytest.raises(InputError, match="no video track"):
        read_timeline(tmp_path / "audio.otio")
    (tmp_path / "broken.otio").write_text("{ not json")
    with pytest.raises(InputError, match="cannot read it"):
        read_timeline(tmp_path / "broken.otio")


def test_a_retimed_clip_is_refused(cut: Path, tmp_path: Path) -> None:
    import opentimelineio as otio

    tl = otio.adapters.read_from_file(str(cut))
    tl.video_tracks()[0][1].effects.append(otio.schema.LinearTimeWarp(time_scalar=2.0))
    for clip in tl.find_clips():
        clip.media_reference.target_url = str(cut.parent / clip.media_reference.target_url)
    otio.adapters.write_to_file(tl, str(tmp_path / "fast.otio"))
    with pytest.raises(InputError, match="'walker.mp4' is retimed"):
        read_timeline(tmp_path / "fast.otio")


def test_a_late_shot_is_cut_after_seeking(cut: Path, tmp_path: Path) -> None:
    src = _frames(cut.parent / "media" / "walker.mp4")
    got = _frames(extract_range(cut.parent / "media" / "walker.mp4", 2.4, 3.6, tmp_path / "late.mp4"))
    assert len(got) == 30
    diffs = [float(np.mean(np.abs(got[0] - src[k]))) for k in range(58, 63)]
    assert int(np.argmin(diffs)) == 2, diffs  # source frame 60
