"""Limits: screenplay size, number of events, the writer's cost per cue, free disk space and a full disk."""

from __future__ import annotations

import errno
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foleydesigner.agents import script_writer
from foleydesigner.agents.filmscribe import heuristic_scribe
from foleydesigner.bench.synthetic import make_clip
from foleydesigner.cli import app
from foleydesigner.errors import FoleyError, InputError
from foleydesigner.limits import estimate_bytes, is_disk_full
from foleydesigner.pipeline import run_foley
from tests.helpers import linear_track, video_info

runner = CliRunner()
PARA = "Joggers run on the gravel. Off to the right, a DOG BARKS. A DOOR SLAMS somewhere.\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    clip = tmp_path_factory.mktemp("tiny") / "tiny.mp4"
    make_clip("single_mover", clip, width=160, height=96, fps=25.0, duration_s=1.0, seed=0)
    return clip


def _nothing_left(parent: Path) -> bool:
    return not [p for p in parent.iterdir() if p.name.startswith(".o.")]


def test_five_megabyte_screenplay_is_refused_at_once(tmp_path, tiny):
    big = tmp_path / "epic.fountain"
    big.write_text("EXT. PARK - DAY\n\n" + PARA * (5_000_000 // len(PARA) + 1))
    t0 = time.perf_counter()
    r = runner.invoke(app, ["run", str(tiny), "--out", str(tmp_path / "o"), "--script", str(big)])
    assert r.exit_code == 2 and "5.0 MB, above the 1 MB limit" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and time.perf_counter() - t0 < 30
    assert not (tmp_path / "o").exists() and _nothing_left(tmp_path)


def test_writer_work_per_cue_does_not_grow_with_the_events_written(monkeypatch):
    """The cue loop looked at every event written so far for every cue: quadratic (a 5 MB screenplay ran > 15 min)."""
    calls = 0
    real = script_writer.family

    def counted(label: str) -> str:
        nonlocal calls
        calls += 1
        return real(label)

    monkeypatch.setattr(script_writer, "family", counted)
    v = video_info()
    tracks = [linear_track(0, t0=0.0, t1=3.5, x0=60, x1=560, onsets=[0.3, 0.8, 1.3, 1.8])]
    counts = []
    for n in (200, 400):
        sp = "EXT. PARK - DAY\n\n" + PARA * n
        scene = heuristic_scribe(v, tracks, sp, None)
        calls = 0
        script = script_writer.heuristic_write(v, scene, tracks, sp)
        counts.append(calls)
        steps = next(e for e in script.events if e.source_track == 0)
        assert steps.description.count("| screenplay:") <= script_writer.MAX_CUE_NOTES  # does not grow either
    assert counts[1] <= 2.1 * counts[0], counts  # linear: twice the cues, twice the work (quadratic: 4x)


def test_too_many_events_fail_before_any_stem_is_written(tmp_path, tiny):
    sp = tmp_path / "busy.fountain"
    sp.write_text("EXT. PARK - DAY\n\n" + PARA * 10)
    r = runner.invoke(app, ["run", str(tiny), "--out", str(tmp_path / "o"), "--script", str(sp), "--max-events", "5"])
    assert r.exit_code == 2 and "above the limit of 5" in r.output and "--max-events" in r.output, r.output
    assert not (tmp_path / "o").exists() and _nothing_left(tmp_path)


def test_estimate_counts_stems_mixes_and_scratch():
    one, two = estimate_bytes(1, 10.0), estimate_bytes(2, 10.0)
    per_stem = 10.0 * 48_000 * 2 * (4 + 4) * 1.1  # float32 WAV + float32 scratch copy, stereo
    assert abs((two - one) - per_stem) < 2
    assert estimate_bytes(100, 80.0) > 5e9  # the 80 s street scene with 100 stems: GBs, as measured


def _tmpfs(where: Path, size: str) -> None:
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")


def test_too_little_free_space_fails_before_any_work(tmp_path, tiny):
    disk = tmp_path / "disk"
    _tmpfs(disk, "1m")
    try:
        r = runner.invoke(app, ["run", str(tiny), "--out", str(disk / "o")])
        assert r.exit_code == 2 and "needs ~" in r.output and "MB free" in r.output and f"at {disk}" in r.output, r.output
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)  # lazy: a handle the failed run left open must not keep the mount


def test_disk_filling_up_during_the_run_is_one_line_and_leaves_nothing(tmp_path, tiny):
    disk = tmp_path / "disk"
    _tmpfs(disk, "40m")
    try:
        def fill(node: str) -> None:  # someone else fills the disk once the check has passed
            if node == "extract_clues":
                with open(disk / "filler.bin", "wb") as f:
                    try:
                        while True:
                            f.write(b"\0" * (1 << 20))
                    except OSError:
                        pass

        with pytest.raises(FoleyError, match=r"disk full: needs ~[\d.]+ MB at .*, [\d.]+ MB free") as err:
            run_foley(tiny, disk / "o", on_stage=fill)
        assert "Traceback" not in str(err.value) and "\n" not in str(err.value)
        assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)  # lazy: a handle the failed run left open must not keep the mount


def test_disk_full_is_recognised_through_wrapped_errors():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise InputError("could not mux audio into clip.foley.mp4") from inner
    except InputError as exc:
        assert is_disk_full(exc)
    assert is_disk_full(RuntimeError("Error : unable to write: No space left on device"))
    assert not is_disk_full(ValueError("bad value"))


def test_on_a_nearly_full_disk_a_failure_that_is_not_a_write_keeps_its_own_cause(tmp_path, tiny, monkeypatch):
    """An LLM server answering 401 while the disk has under 16 MB free is a 401, not "disk full"."""
    from foleydesigner import limits
    from foleydesigner.errors import BackendError

    monkeypatch.setattr(limits, "_NEARLY_FULL", 1 << 62)  # every disk counts as nearly full
    assert not is_disk_full(BackendError("openai:gpt-4o answered 401 Unauthorized: invalid api key"), tmp_path)
    assert not is_disk_full(ConnectionRefusedError(111, "Connection refused"), tmp_path)
    assert is_disk_full(RuntimeError("Error : System error."), tmp_path)  # libsndfile's ENOSPC
    assert is_disk_full(OSError(errno.EIO, "Input/output error"), tmp_path)

    def refuse(node: str) -> None:
        if node == "decompose":
            raise BackendError("the LLM server at http://127.0.0.1:9/v1 answered 401 Unauthorized")

    with pytest.raises(FoleyError) as err:
        run_foley(tiny, tmp_path / "o", on_stage=refuse)
    assert "401 Unauthorized" in str(err.value) and "disk full" not in str(err.value)
