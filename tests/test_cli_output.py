"""What a user sees: progress lines without a terminal, warnings once, a readable summary, honest help, every
backend listed, faststart video with titled tracks, foley_demo/ ignored by git."""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from foleydesigner import cli
from foleydesigner.bench.synthetic import make_clip

runner = CliRunner()


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("seen")
    clip = d / "walk.mp4"
    make_clip("single_mover", clip, width=160, height=96, fps=25.0, duration_s=1.0, seed=0)
    r = runner.invoke(cli.app, ["run", str(clip), "--out", str(d / "o")])
    assert r.exit_code == 0, r.output
    return d / "o", r.output


def test_progress_lines_without_a_terminal(ran):
    _, output = ran
    lines = re.findall(r"^(\w+) done \((\d+\.\d) s\)$", output, flags=re.M)
    assert [s for s, _ in lines] == list(cli.STAGES)  # every stage, in order, as it finished
    assert [float(t) for _, t in lines] == sorted(float(t) for _, t in lines)


def test_summary_is_readable(ran):
    out, output = ran
    assert "{" not in output and "'integrated_lufs'" not in output
    assert re.search(r"stereo: -2\d\.\d LUFS, -\d+\.\d dBTP · 5\.1: -2\d\.\d LUFS, -\d+\.\d dBTP", output), output
    run = json.loads((out / "run.json").read_text())
    assert len(run["warnings"]) == len(set(run["warnings"]))


def test_long_event_ids_are_not_cut(capsys):
    ids = ["motorcycle_passby_t123", "running_footsteps_t45", "room_tone_1"]
    events = [{"id": i, "layer": "fg", "start_s": 0.0, "end_s": 1.0, "onsets_s": [0.1], "source_track": 7} for i in ids]
    clues = {i: {"azimuth_deg": [-30.0, 30.0], "source": "track"} for i in ids}
    level = {"integrated_lufs": -24.0, "true_peak_dbtp": -2.1}
    state = {"run": {"warnings": ["w"], "timings_s": {"total": 1.0}, "outputs": {"video": "c.foley.mp4"}},
             "script": {"events": events}, "clues": clues, "out_dir": "/tmp/o",
             "mix_plan": {"verification": {"delivery": {"stereo": level, "surround_5_1": level}}}}
    cli._summary(state)
    shown = capsys.readouterr().out
    assert all(i in shown for i in ids), shown


def test_run_help_does_not_call_the_input_silent():
    r = runner.invoke(cli.app, ["run", "--help"])
    assert r.exit_code == 0 and "silent" not in r.output.lower()
    assert "silent" not in runner.invoke(cli.app, ["--help"]).output.lower()


def test_backends_lists_every_vision_backend():
    from foleydesigner.tools.vision import VISION_BACKENDS

    listed = json.loads(runner.invoke(cli.app, ["backends", "--json"]).output)
    assert sorted(listed["vision"]) == sorted(VISION_BACKENDS)


def test_video_is_faststart_with_titled_tracks(ran):
    out, _ = ran
    data = (out / "walk.foley.mp4").read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")  # index first: plays while it downloads
    with av.open(str(out / "walk.foley.mp4")) as c:
        assert [(s.metadata.get("title") or s.metadata.get("name"), s.metadata.get("language")) for s in c.streams.audio] \
            == [("Foley 5.1", "und"), ("Foley stereo", "und")]


def test_demo_output_is_ignored_by_git():
    ignored = (Path(__file__).resolve().parents[1] / ".gitignore").read_text().split()
    assert "foley_demo/" in ignored
