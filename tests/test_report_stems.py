"""The Stems monitor for every way a run delivers its stems (`--stem-format flac`, `--stems trimmed`), and the
report's reuse of the mixer's own processed stems when a run leaves them in its scratch folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from foleydesigner.cli import app
from foleydesigner.report import write_report
from foleydesigner.tools.stems import deliver_stem
from tests.helpers import copy_run, page_json


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stems") / "demo"
    res = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _close(a: list[int], b: list[int]) -> float:
    """Largest difference of two envelopes (0..100 = -60..0 dBFS) where either shows sound."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    loud = (x > 10) | (y > 10)
    return float(np.max(np.abs(x - y)[loud])) if loud.any() else 0.0


def test_flac_stems_are_found_and_play_post_plan(demo, tmp_path):
    run = copy_run(demo, tmp_path / "flac")
    for wav in sorted((run / "stems").glob("*.wav")):
        deliver_stem(wav, mode="full", fmt="flac")  # what `--stem-format flac` delivers
    data = page_json(write_report(run))
    full = page_json(demo / "report.html")
    assert all(ev["stem"].endswith(".flac") for ev in data["events"] if ev["stem"])
    assert not any("stems missing" in w or "before the mix plan" in w for w in data["warnings"])
    assert data["media"]["stems_post_plan"] is True and data["media"]["faders_db"] == full["media"]["faders_db"]
    keys = {k for k in full["media"]["audio"] if k.startswith("stem:")}
    assert keys and keys <= set(data["media"]["audio"])
    for sid in full["media"]["faders_db"]:  # 24-bit FLAC plays what the float WAV did, within a dB
        assert _close(data["media"]["envelopes"][sid], full["media"]["envelopes"][sid]) <= 2


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_trimmed_stems_are_placed_on_the_clip_clock_and_play_post_plan(demo, tmp_path, fmt):
    """`--stems trimmed` cuts each stem to where it sounds; its place is the WAV's bext TimeReference or, for
    FLAC, session.otio. Put back there, the stems run through the plan as in the full-length run."""
    run = copy_run(demo, tmp_path / f"trimmed_{fmt}")
    starts = {}
    for wav in sorted((run / "stems").glob("*.wav")):
        path, first, length = deliver_stem(wav, mode="trimmed", fmt=fmt)
        starts[path.stem] = (first, length)
    if fmt == "flac":  # session.otio is where a FLAC's place is: rewrite its media ranges as a trimmed run would
        doc = (run / "session.otio").read_text()
        doc = doc.replace(".wav\"", ".flac\"")
        otio = json.loads(doc)
        _place(otio, starts)
        (run / "session.otio").write_text(json.dumps(otio))
    assert max(first for first, _ in starts.values()) > 48_000  # some stem starts a second or more into the clip
    data = page_json(write_report(run))
    full = page_json(demo / "report.html")
    assert data["media"]["stems_post_plan"] is True
    assert not any("before the mix plan" in w for w in data["warnings"])
    for sid, entry in full["media"]["audio"].items():
        if sid.startswith("stem:"):
            assert data["media"]["audio"][sid]["offset_s"] == pytest.approx(entry["offset_s"], abs=0.002)
    for sid in full["media"]["faders_db"]:
        assert _close(data["media"]["envelopes"][sid], full["media"]["envelopes"][sid]) <= 2


def _place(node, starts: dict[str, tuple[int, int]]) -> None:
    """Each stem's media reference starts at its first sample, as tools/otio.py writes for trimmed stems."""
    if isinstance(node, dict):
        url = str(node.get("target_url", ""))
        if url.startswith("stems/") and Path(url).stem in starts:
            rng = node.setdefault("available_range", {})
            sid = Path(url).stem
            rng["start_time"] = {"OTIO_SCHEMA": "RationalTime.1", "rate": 48000.0, "value": float(starts[sid][0])}
            rng["duration"] = {"OTIO_SCHEMA": "RationalTime.1", "rate": 48000.0, "value": float(starts[sid][1])}
        for v in node.values():
            _place(v, starts)
    elif isinstance(node, list):
        for v in node:
            _place(v, starts)


def test_a_runs_own_report_plays_the_mixers_strips_and_a_rebuild_renders_the_same(demo, tmp_path):
    """`foley run` builds its report from the mixer's processed strips (no second render of the plan); `foley report`
    later, with the strips gone, renders them again from the stems: both play the same audio."""
    own = page_json(demo / "report.html")
    assert own["media"]["stems_from"] == "mixer" and not (demo / ".internal").exists()  # the run still cleans up
    rebuilt = page_json(write_report(copy_run(demo, tmp_path / "again")))
    assert rebuilt["media"]["stems_from"] == "rendered"
    assert set(own["media"]["audio"]) == set(rebuilt["media"]["audio"])
    for sid, env in own["media"]["envelopes"].items():
        assert _close(env, rebuilt["media"]["envelopes"][sid]) <= 1, sid
    for key, entry in own["media"]["audio"].items():
        assert entry["offset_s"] == pytest.approx(rebuilt["media"]["audio"][key]["offset_s"], abs=0.002), key


def test_stem_monitors_rendered_beside_the_upmix_are_the_ones_the_report_renders(demo, tmp_path, monkeypatch):
    """stages.preview_stems renders the stem monitors while the run upmixes (report/early.py); the report takes
    them only for the same stems, resolution and master gain, and they are what it renders itself: the same
    envelopes, spectrograms and decoded previews."""
    import foleydesigner.report.monitors as monitors
    from foleydesigner.report import early_store
    from foleydesigner.report.early import EARLY_DIR, render_early
    from foleydesigner.report.mixdown import render_post_plan

    run = copy_run(demo, tmp_path / "run")
    script, plan = (json.loads((run / f).read_text()) for f in ("script.json", "mix_plan.json"))
    render_post_plan(run, script, json.loads((run / "clues.json").read_text()), plan, run)  # the mixer's strips
    late = page_json(write_report(run))
    late_audio = {k: decoded_preview(run, v["src"]) for k, v in late["media"]["audio"].items()}
    spectra = {p.name: p.read_bytes() for p in (run / "report_media" / "spectra").iterdir()}
    assert render_early(run, script, plan) and (run / EARLY_DIR / "manifest.json").is_file()
    taken: list[bool] = []

    def spy(*args):
        taken.append(early_store.take_early(*args))
        return taken[-1]

    monkeypatch.setattr(monitors, "take_early", spy)
    early = page_json(write_report(run))
    assert taken == [True]
    assert early["media"] == late["media"]
    assert {k: decoded_preview(run, v["src"]) for k, v in early["media"]["audio"].items()} == late_audio
    assert {p.name: p.read_bytes() for p in (run / "report_media" / "spectra").iterdir()} == spectra
    # another master gain (a plan changed since): not taken, rendered again
    plan["verification"]["master"]["gain_db"] = float(plan["verification"]["master"].get("gain_db") or 0.0) + 1.0
    (run / "mix_plan.json").write_text(json.dumps(plan))
    taken.clear()
    write_report(run)
    assert taken == [False]


def decoded_preview(run: Path, src: str) -> bytes:
    """The PCM of a report's Web Audio preview (report_media/audio/*.js: base64 Ogg Opus): the Ogg container
    carries a random stream serial, so two encodes of the same audio differ as files, not as sound."""
    import base64
    import io
    import re

    import av

    b64 = re.search(r'="([^"]+)";', (run / src).read_text()).group(1)
    with av.open(io.BytesIO(base64.b64decode(b64))) as c:
        return np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1).tobytes()


def test_mix_monitors_rendered_beside_the_export_are_the_ones_the_report_renders(demo, tmp_path, monkeypatch):
    """stages.preview_mixes renders the mixes' monitors while the video is muxed (report/early.py); the report
    takes them while the mix files are the ones they came from, and they are what it renders itself."""
    import foleydesigner.report.monitors as monitors
    from foleydesigner.report import early_store
    from foleydesigner.report.early import render_early_mixes

    run = copy_run(demo, tmp_path / "run")
    late = page_json(write_report(run))
    late_audio = {k: decoded_preview(run, v["src"]) for k, v in late["media"]["audio"].items() if k.startswith(("mix", "5.1"))}
    picture = (run / "report_media" / "spectrogram.png").read_bytes()
    assert render_early_mixes(run, json.loads((run / "script.json").read_text())["duration_s"])
    taken: list[bool] = []

    def spy(*args):
        taken.append(early_store.take_early_mixes(*args))
        return taken[-1]

    monkeypatch.setattr(monitors, "take_early_mixes", spy)
    early = page_json(write_report(run))
    assert taken == [True] and early["media"] == late["media"]
    assert {k: decoded_preview(run, early["media"]["audio"][k]["src"]) for k in late_audio} == late_audio
    assert (run / "report_media" / "spectrogram.png").read_bytes() == picture
    (run / "mix_stereo.wav").touch()  # a mix written again since: not taken, rendered again
    taken.clear()
    assert page_json(write_report(run))["media"] == late["media"] and taken == [False]
