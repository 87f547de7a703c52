"""`foley run --resume`: a run killed with -9 after a graph node continues from its SQLite checkpoint, and the
nodes that had finished are not run again (the trace shows each of them once, from before the kill)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from foleydesigner.bench.synthetic import make_clip
from foleydesigner.pipeline import KILL_AFTER_ENV, run_foley

FOLEY = os.path.join(os.path.dirname(sys.executable), "foley")


def test_resume_after_kill_reruns_nothing_that_had_finished(tmp_path):
    clip = tmp_path / "clip.mp4"
    make_clip("bouncing_ball", clip, width=160, height=96, fps=12.0, duration_s=2.0, seed=0)
    out = tmp_path / "out"
    killed = subprocess.run([FOLEY, "run", str(clip), "--out", str(out), "--seed", "3"], capture_output=True, text=True,
                            env={**os.environ, KILL_AFTER_ENV: "decompose"}, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    killed_at = time.time()
    (staging,) = tmp_path.glob(".out.partial-*")
    assert (staging / ".checkpoint" / "graph.sqlite").is_file() and not out.exists()

    state = run_foley(clip, out, resume=True, seed=3)
    assert state["resumed_after"] == ["load_video", "decompose"]
    lines = [json.loads(line) for line in (out / "trace.jsonl").read_text().splitlines()]
    before = {line["node"] for line in lines if line["ts"] < killed_at}
    after = [line["node"] for line in lines if line["ts"] >= killed_at]
    assert {"analyse_picture", "load_video", "filmscribe.generate", "tot.select"} <= before
    assert not {"analyse_picture", "load_video", "filmscribe.generate", "script_writer", "tot.select"} & set(after)
    assert "extract_clues" in after and "mixing.master" in after
    assert [n for n in before | set(after) if n.startswith("generate_stem")]  # the stems were made after the resume
    assert all(not n.startswith("generate_stem") for n in before)
    for name in ("script.json", "clues.json", "mix_stereo.wav", "mix_5_1.wav", "run.json"):
        assert (out / name).is_file(), name
    assert not (out / ".checkpoint").exists() and not list(tmp_path.glob(".out.partial-*"))
    assert json.loads((out / "run.json").read_text())["key"]["settings_hash"]


def test_resume_with_other_settings_starts_afresh(tmp_path):
    clip = tmp_path / "clip.mp4"
    make_clip("single_mover", clip, width=160, height=96, fps=12.0, duration_s=2.0, seed=1)
    out = tmp_path / "out"
    killed = subprocess.run([FOLEY, "run", str(clip), "--out", str(out)], capture_output=True, text=True,
                            env={**os.environ, KILL_AFTER_ENV: "load_video"}, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    state = run_foley(clip, out, resume=True, seed=9)  # not what the killed run was asked for: nothing to continue
    assert state["resumed_after"] == []
    nodes = [json.loads(line)["node"] for line in (out / "trace.jsonl").read_text().splitlines()]
    assert nodes.count("load_video") == 1 and not list(tmp_path.glob(".out.partial-*"))


def test_resume_never_publishes_the_temp_files_of_writes_the_kill_cut_short(tmp_path):
    clip = tmp_path / "clip.mp4"
    make_clip("single_mover", clip, width=160, height=96, fps=12.0, duration_s=2.0, seed=2)
    out = tmp_path / "out"
    killed = subprocess.run([FOLEY, "run", str(clip), "--out", str(out)], capture_output=True, text=True,
                            env={**os.environ, KILL_AFTER_ENV: "upmix"}, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    (staging,) = tmp_path.glob(".out.partial-*")
    # what a kill during generate_stem and during export leaves: tools/export.tmp_beside's temp files
    (staging / "stems" / ".footsteps_t0.wav.k3j2xq.part").write_bytes(b"\0" * (2 << 20))
    (staging / ".clip.foley.mp4.a8s7d6.part.mp4").write_bytes(b"\0" * 4096)
    state = run_foley(clip, out, resume=True)
    assert "upmix" in state["resumed_after"]
    assert not [p for p in out.rglob("*") if ".part" in p.name]
    assert sorted(json.loads((out / "run.json").read_text())["files"]) == sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
