"""The master stage: make-up gain is capped, an ambience-only scene is delivered at the beds' reference level,
and a failed verification is a warning on the console and in run.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from foleydesigner.agents import mixing as M
from foleydesigner.agents.mastering import MAX_MAKEUP_DB
from foleydesigner.agents.mixplan import DEFAULT_TARGETS
from foleydesigner.bench.synthetic import make_clip
from foleydesigner.cli import app
from foleydesigner.pipeline import run_foley
from foleydesigner.tools.loudness import integrated_lufs
from foleydesigner.tools.processing import master, master_source
from foleydesigner.tools.streams import ArrayAudio

SR = 48_000


def test_make_up_gain_is_capped():
    rng = np.random.default_rng(0)
    quiet = (rng.standard_normal((2, SR * 2)) * 10 ** (-55 / 20)).astype(np.float32)  # ~ -55 LUFS room tone
    lufs0 = integrated_lufs(quiet)
    _, measured = master(quiet, target_lufs=-24.0, ceiling_dbtp=-2.0)
    assert measured["gain_db"] > 20  # uncapped, noise is pushed up to programme loudness
    capped = MAX_MAKEUP_DB
    out: list[np.ndarray] = []
    m = master_source(ArrayAudio(quiet), lambda a, b: out.append(b), target_lufs=-24.0, ceiling_dbtp=-2.0,
                      max_gain_db=capped, window=quiet.shape[1])
    assert m["gain_capped"] and m["gain_db"] == capped
    assert integrated_lufs(np.concatenate(out, axis=1)) == pytest.approx(lufs0 + capped, abs=0.1)
    m = master_source(ArrayAudio(quiet * 100), lambda a, b: None, target_lufs=-24.0, ceiling_dbtp=-2.0,
                      max_gain_db=capped, window=quiet.shape[1])  # within the cap: the target, no flag
    assert "gain_capped" not in m and m["integrated_lufs"] == pytest.approx(-24.0, abs=0.2)


@pytest.fixture(scope="module")
def ambience(tmp_path_factory) -> tuple[Path, dict]:
    d = tmp_path_factory.mktemp("amb")
    clip = d / "room.mp4"
    make_clip("ambience_only", clip, width=160, height=96, fps=25.0, duration_s=2.0, seed=0)
    return d, run_foley(clip, d / "o")


def test_ambience_only_scene_is_delivered_at_reference_level(ambience):
    d, state = ambience
    assert all(e["layer"] == "bg" for e in state["script"]["events"])
    t = DEFAULT_TARGETS
    ref = -24.0 - (t.fg_lufs - t.bg_lufs)  # the beds under a foreground at the -24 LUFS target: -32
    stereo, _ = sf.read(d / "o" / "mix_stereo.wav", always_2d=True)
    surround, _ = sf.read(d / "o" / "mix_5_1.wav", always_2d=True)
    assert integrated_lufs(stereo.T) == pytest.approx(ref, abs=0.5)
    assert integrated_lufs(surround.T) == pytest.approx(integrated_lufs(stereo.T), abs=0.5)
    run = json.loads((d / "o" / "run.json").read_text())
    assert sum("no foreground sounds" in w for w in run["warnings"]) == 1


def test_failed_verification_is_a_warning(tmp_path, monkeypatch):
    real = M.verify_mix

    def failing(state, runtime):
        out = real(state, runtime)
        out["rounds"] = [{**r, "passed": False, "missed": ["footsteps_1 masked 9.0 dB by the beds (limit 3)"]}
                         for r in out["rounds"]]
        return out

    monkeypatch.setattr(M, "verify_mix", failing)
    clip = tmp_path / "c.mp4"
    make_clip("single_mover", clip, width=160, height=96, fps=25.0, duration_s=1.0, seed=0)
    r = CliRunner().invoke(app, ["run", str(clip), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert r.output.count("warning: mix verification failed after 3 round(s): footsteps_1 masked 9.0 dB") == 1
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert [w for w in run["warnings"] if w.startswith("mix verification failed")] == \
        ["mix verification failed after 3 round(s): footsteps_1 masked 9.0 dB by the beds (limit 3)"]
    plan = json.loads((tmp_path / "o" / "mix_plan.json").read_text())
    assert plan["verification"]["rounds"][-1]["passed"] is False
