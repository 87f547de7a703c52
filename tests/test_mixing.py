"""Stage ③ (paper §4): analysis, the expert plugins, planner (rules and a scripted LLM), verification, master."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from foleydesigner.agents.experts import MixTargets, load_experts
from foleydesigner.agents.mixing import MAX_ROUNDS
from foleydesigner.agents.mixplan import analyse, heuristic_plan, validate_plan
from foleydesigner.errors import BackendError
from foleydesigner.graphs.mixing import run_mixing
from foleydesigner.llm import RetryPolicy, register_chat_model_factory, unregister_chat_model_factory
from foleydesigner.schemas import EventClues, FoleyScript, MixOperation, SceneContext, SoundEvent
from foleydesigner.tools.analysis import band_energies_db, drr_estimate_db, loudness_profile, masking_report
from foleydesigner.tools.loudness import SILENCE_LUFS, integrated_lufs, true_peak_dbfs
from foleydesigner.tools.processing import convolve_return, decay_time_s, room_ir, room_space
from tests.fakes import ScriptedChatModel, call
from tests.helpers import context

SR = 48_000


def band_noise(n: int, lo: float, hi: float, seed: int) -> np.ndarray:
    sos = butter(4, [lo, hi], btype="band", fs=SR, output="sos")
    return sosfilt(sos, np.random.default_rng(seed).standard_normal((2, n))).astype(np.float32)


def overlap(dur: float = 4.0) -> tuple[dict[str, np.ndarray], FoleyScript, dict[str, EventClues]]:
    """The designed overlap: a broadband bed (rain, 300 Hz–8 kHz) burying three 1.2–3.5 kHz hits (keys)."""
    n = int(dur * SR)
    bed = band_noise(n, 300, 8000, 1)
    bed *= 0.05 / bed.std()
    hit = band_noise(int(0.3 * SR), 1200, 3500, 2)[0] * np.hanning(int(0.3 * SR))
    fg = np.zeros((2, n), np.float32)
    for t in (0.5, 1.7, 2.9):
        fg[:, int(t * SR): int(t * SR) + hit.size] += hit
    fg *= 0.03 / np.abs(fg).max()
    script = FoleyScript(duration_s=dur, scene=SceneContext(location="indoor", room_size="medium"), events=[
        SoundEvent(id="hit", label="keys", layer="fg", start_s=0.5, end_s=3.2, intensity=0.7),
        SoundEvent(id="bed", label="rain", layer="bg", start_s=0.0, end_s=dur, intensity=0.45)])
    frames = int(dur * 25)
    clues = {e: EventClues(event_id=e, fps=25.0, t_s=list(np.arange(frames) / 25.0), depth_m=[2.0] * frames,
                           azimuth_deg=[0.0] * frames, activation=[1] * frames, source="track" if e == "hit" else "scene")
             for e in ("hit", "bed")}
    return {"bed": bed, "hit": fg}, script, clues


def clicks(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(int(seconds * SR)).astype(np.float32) * 0.002
    for t in np.arange(0.25, seconds, 0.5):
        i = int(t * SR)
        x[i: i + 480] += 0.8 * np.exp(-np.arange(480) / 40.0) * np.sign(np.sin(np.arange(480) * 0.4))
    return np.stack([x, 0.9 * x])


@pytest.fixture()
def scripted():
    """`--llm scripted:x` resolves to the model the test puts in `holder.model`."""
    holder = SimpleNamespace(model=None)
    register_chat_model_factory("scripted", lambda name, **kw: holder.model)
    yield holder
    unregister_chat_model_factory("scripted")


# --- analysis ---------------------------------------------------------------------------------------------------

def test_loudness_profile_matches_pyloudnorm():
    rng = np.random.default_rng(3)
    signals = [clicks(), rng.standard_normal((6, SR * 2)).astype(np.float32) * 0.05, clicks()[:, : SR // 5],
               band_noise(SR * 3, 100, 300, 4) * 0.1]
    for x in signals:
        assert loudness_profile(x).integrated() == pytest.approx(integrated_lufs(x), abs=0.02)
    assert loudness_profile(signals[0]).integrated(20 * np.log10(2.0)) == pytest.approx(integrated_lufs(signals[0] * 2.0), abs=0.02)
    assert loudness_profile(np.zeros((2, SR))).integrated() == SILENCE_LUFS


def test_short_term_loudness_and_range():
    quiet, loud = band_noise(SR * 4, 200, 4000, 5), band_noise(SR * 4, 200, 4000, 6)
    quiet *= 10 ** ((-30 - integrated_lufs(quiet)) / 20)
    loud *= 10 ** ((-20 - integrated_lufs(loud)) / 20)
    prof = loudness_profile(np.concatenate([quiet, loud], axis=1))
    assert prof.short_term_lufs().max() == pytest.approx(-20.0, abs=0.5)
    assert prof.loudness_range_lu() == pytest.approx(10.0, abs=1.5)


def test_band_energies_put_a_tone_in_its_band():
    t = np.arange(SR) / SR
    centres, bands = band_energies_db(np.stack([np.sin(2 * np.pi * 1000 * t)] * 2).astype(np.float32))
    assert bands.shape == (24, 49)
    k = int(np.argmax(bands.mean(axis=1)))
    assert centres[k] / 1.3 < 1000 < centres[k] * 1.3


def test_reverb_estimates_see_a_room():
    dry = clicks()
    space = room_space(SceneContext(location="indoor", room_size="large"))
    wet = dry + convolve_return(dry, room_ir(space, SR, 8.0))
    assert drr_estimate_db(dry) > drr_estimate_db(wet) + 6.0


# --- experts ----------------------------------------------------------------------------------------------------

def test_eq_expert_halves_the_masking_without_moving_the_foreground():
    audio, script, clues = overlap()
    lufs = {s: loudness_profile(a).integrated() for s, a in audio.items()}
    # Targets where the stems already are: the faders stay put, and what changes is the EQ's doing alone.
    scene = analyse(audio, script, clues, targets=MixTargets(fg_lufs=lufs["hit"], bg_lufs=lufs["bed"]))
    before = scene.features["hit"].masked_by_bg_db
    assert before > 6.0 and max(abs(g) for g in scene.level_gains.values()) < 0.01
    experts = load_experts()
    plan = heuristic_plan(scene, experts)
    eq_ops = {s: op.params for s, ops in plan.items() for op in ops if op.expert == "eq"}
    assert eq_ops["bed"]["carve_for"] == ["hit"] and "carve" in plan["bed"][0].reason
    configured = experts["eq"].configure(eq_ops, scene, plan)
    assert configured["bed"]["carve_bands"]
    out = experts["eq"].process(audio, configured, scene)
    after = masking_report({s: band_energies_db(out.stems[s])[1] for s in audio}, {"hit": "fg", "bed": "bg"})["hit"][1]
    assert after <= 0.5 * before, (before, after)
    assert abs(loudness_profile(out.stems["hit"]).integrated() - lufs["hit"]) <= 1.0
    # keyed: between the hits the bed is untouched (apart from its rumble high-pass)
    gap = slice(int(1.2 * SR), int(1.4 * SR))
    assert np.std(out.stems["bed"][:, gap]) == pytest.approx(np.std(audio["bed"][:, gap]), rel=0.05)


def footsteps(seconds: float = 4.0) -> np.ndarray:
    """Heel clicks (2 ms) over a 200 ms body ~10 dB down: what transient control is for."""
    rng = np.random.default_rng(7)
    x = np.zeros(int(seconds * SR), np.float32)
    body = rng.standard_normal(int(0.2 * SR)) * np.exp(-np.arange(int(0.2 * SR)) / (0.06 * SR)) * 0.25
    for t in np.arange(0.25, seconds - 0.2, 0.5):
        i = int(t * SR)
        x[i: i + 96] += rng.standard_normal(96) * 0.8
        x[i: i + body.size] += body
    return np.stack([x, 0.9 * x]) * 0.1


def test_transient_control_keeps_loudness_and_ducking_rides_the_bed():
    audio, script, clues = overlap()
    audio["hit"] = footsteps()
    scene = analyse(audio, script, clues)
    dyn = load_experts()["dyn"]
    peak = scene.features["hit"].peak_dbfs
    ops = {"hit": {"gain_db": 6.0, "threshold_db": peak - 12.0, "ratio": 4.0}, "bed": {"duck_db": 6.0}}
    out = dyn.process(audio, ops, scene)
    peak_to_loud = lambda x: 20 * np.log10(np.abs(x).max()) - loudness_profile(x).integrated()  # noqa: E731
    assert peak_to_loud(out.stems["hit"]) < peak_to_loud(audio["hit"]) - 3.0  # the clicks are pulled in
    assert loudness_profile(out.stems["hit"]).integrated() == pytest.approx(scene.profiles["hit"].integrated() + 6.0, abs=0.7)
    hit_t = slice(int(1.3 * SR), int(1.35 * SR))
    assert 20 * np.log10(np.std(out.stems["bed"][:, hit_t]) / np.std(audio["bed"][:, hit_t])) < -4.0
    assert out.notes["bed"]["ride_lu"] > 0.5  # declared, so verification does not undo it with the fader


def test_room_follows_the_scene_and_sends_follow_depth():
    spaces = {k: room_space(SceneContext(location="indoor", room_size=k)) for k in ("small", "medium", "large")}
    assert spaces["small"].rt60_s < spaces["medium"].rt60_s < spaces["large"].rt60_s
    assert room_space(SceneContext(room_size="medium", surfaces=["tile"])).rt60_s > spaces["medium"].rt60_s
    for space in spaces.values():
        ir = room_ir(space, SR, 4.0)
        assert np.allclose(np.sum(ir.astype(np.float64) ** 2, axis=1), 1.0, atol=1e-3)
        assert decay_time_s(ir) == pytest.approx(space.rt60_s, rel=0.25)
        assert abs(np.corrcoef(ir[0], ir[1])[0, 1]) < 0.6  # the two sides are decorrelated
    audio, script, clues = overlap()
    near = clues["hit"].model_copy(update={"depth_m": [1.0] * 100})
    far = clues["hit"].model_copy(update={"event_id": "far", "depth_m": [4.0] * 100})
    audio["far"] = audio["hit"].copy()
    script.events.append(script.events[0].model_copy(update={"id": "far"}))
    scene = analyse(audio, script, {"hit": near, "far": far, "bed": clues["bed"]})
    sends = {s: op.params["send_db"] for s, op in load_experts()["reverb"].propose(scene, {}).items()}
    assert sends["far"] > sends["hit"] + 6.0


# --- planner ----------------------------------------------------------------------------------------------------

def test_heuristic_plan_is_valid_and_every_operation_has_a_reason():
    audio, script, clues = overlap()
    scene = analyse(audio, script, clues)
    experts = load_experts()
    plan = heuristic_plan(scene, experts)
    assert validate_plan(plan, set(audio), experts) == []
    assert {op.expert for ops in plan.values() for op in ops} == {"eq", "dyn", "reverb"}
    assert all(len(op.reason) > 20 for ops in plan.values() for op in ops)
    bad = {"hit": [MixOperation(expert="eq", params={"highpass_hz": 5000})], "ghost": [],
           "bed": [MixOperation(expert="fuzz"), MixOperation(expert="dyn"), MixOperation(expert="dyn", params={"ratio": 50})]}
    problems = " | ".join(validate_plan(bad, set(audio), experts))
    for needle in ("hit: eq.highpass_hz", "unknown stem 'ghost'", "unknown expert 'fuzz'", "'dyn' used twice", "dyn.ratio"):
        assert needle in problems


def _plan(gains: dict[str, float], carve: bool) -> dict:
    bed = [{"expert": "dyn", "params": {"gain_db": gains["bed"]}, "reason": "bed under the hits"}]
    if carve:
        bed.append({"expert": "eq", "params": {"carve_for": ["hit"]}, "reason": "the bed buries the keys at 1-3 kHz"})
    return {"plan": {"hit": [{"expert": "dyn", "params": {"gain_db": gains["hit"]}, "reason": "keys up front"}], "bed": bed}}


def test_llm_planner_is_reasked_validated_and_replans_from_verification(tmp_path, scripted):
    audio, script, clues = overlap()
    gains = analyse(audio, script, clues).level_gains
    loud_bed = {"hit": gains["hit"] - 24.0, "bed": gains["bed"]}  # verification must catch the buried keys
    out_of_range = {"plan": {"hit": [{"expert": "eq", "params": {"highpass_hz": 9000}, "reason": "x"}]}}
    scripted.model = ScriptedChatModel(by_tool={"PlanProposal": [
        call("PlanProposal", out_of_range), call("PlanProposal", _plan(loud_bed, False)),
        call("PlanProposal", _plan(gains, True))]})
    ctx = context(tmp_path, llm_roles={"planner": "scripted:mixer"})
    plan = run_mixing(ctx, audio, script, clues)["mix_plan"]
    rounds = plan["verification"]["rounds"]
    assert len(rounds) == 2 and not rounds[0]["passed"] and rounds[1]["passed"]
    assert rounds[0]["fg_masked_by_bg_db"]["hit"] > 3.0 >= rounds[1]["fg_masked_by_bg_db"]["hit"]
    assert [op["expert"] for op in plan["plan"]["bed"]] == ["dyn", "eq"]
    prompts = [m[-1].content for m in scripted.model.calls]
    assert "cannot run" in prompts[1] and "highpass_hz" in prompts[1]
    assert "Verification of your previous plan" in prompts[2] and "masked" in prompts[2]
    system = scripted.model.calls[0][0].content
    assert all(f'"name": "{n}"' in system for n in ("eq", "dyn", "reverb")) and '"maximum": 18.0' in system
    nodes = [json.loads(line)["node"] for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert nodes.count("mixing.planner") >= 5  # 3 LLM calls + 2 planner rounds


def test_llm_failure_fails_clearly_or_falls_back(tmp_path, scripted):
    audio, script, clues = overlap()
    scripted.model = ScriptedChatModel(responses=[TimeoutError("the planner's server timed out")])
    with pytest.raises(BackendError, match="--fallback heuristic"):  # a transport failure needs --fallback
        run_mixing(context(tmp_path, llm_roles={"planner": "scripted:m"}, llm_retry=RetryPolicy(0)), audio, script, clues)
    out = run_mixing(context(tmp_path, llm_roles={"planner": "scripted:m"}, fallback="heuristic",
                             llm_retry=RetryPolicy(0)), audio, script, clues)
    assert any("heuristic" in w for w in out["warnings"])
    assert out["mix_plan"]["verification"]["rounds"][-1]["passed"]


@pytest.mark.parametrize("answer", [{"plan": {}}, {"plan": {"hit": [], "bed": []}}, {"plan": {"hit": [{"expert": "nope"}]}}])
def test_an_empty_or_invalid_llm_plan_gives_way_to_the_rules(tmp_path, scripted, answer):
    """Without --fallback too: the model answered, its plan cannot mix (an empty plan leaves every stem at its raw
    level: the foreground tens of LU under target), so the rule-based plan mixes and a warning says so."""
    audio, script, clues = overlap()
    scripted.model = ScriptedChatModel(responses=[call("PlanProposal", answer)])
    out = run_mixing(context(tmp_path, llm_roles={"planner": "scripted:m"}), audio, script, clues)
    (warning,) = [w for w in out["warnings"] if w.startswith("mixing.planner")]
    assert warning.startswith("mixing.planner: the LLM plan was empty or invalid, used the rule-based plan")
    assert len(warning) < 300 and len(scripted.model.calls) == 2 * len(out["mix_plan"]["verification"]["rounds"])
    v = out["mix_plan"]["verification"]
    assert v["planner"] == "heuristic" and v["planner_fell_back"] and v["rounds"][0]["passed"]
    assert {op["expert"] for ops in out["mix_plan"]["plan"].values() for op in ops} >= {"eq", "dyn"}


def test_llm_plans_that_keep_missing_verification_give_the_last_round_to_the_rules(tmp_path, scripted):
    """A planner whose every plan is in range but absurd (+60 dB on the bed, the keys 24 dB down): after two missed
    rounds the last one is the rule-based plan, so the delivered mix passes, with one warning naming the miss."""
    audio, script, clues = overlap()
    gains = analyse(audio, script, clues).level_gains
    absurd = {"hit": gains["hit"] - 24.0, "bed": 60.0}
    scripted.model = ScriptedChatModel(by_tool={"PlanProposal": [call("PlanProposal", _plan(absurd, False))]})
    out = run_mixing(context(tmp_path, llm_roles={"planner": "scripted:mixer"}), audio, script, clues)
    v = out["mix_plan"]["verification"]
    assert [r["passed"] for r in v["rounds"]] == [False, False, True]
    assert [r["backend"] for r in v["planner_rounds"]] == ["scripted:mixer", "scripted:mixer", "heuristic"]
    assert v["rounds"][-1]["fg_minus_bg_lu"] > 3.0 > v["rounds"][0]["fg_minus_bg_lu"]  # the keys sit over the bed
    (warning,) = [w for w in out["warnings"] if w.startswith("mixing.planner")]
    assert "missed verification in 2 rounds" in warning and "rule-based plan" in warning and len(warning) < 300
    assert not any(w.startswith("mix verification failed") for w in out["warnings"])


def test_an_llm_expert_whose_parameters_cannot_run_keeps_the_measured_ones(tmp_path, scripted):
    """Without --fallback too: an expert model that answers parameters out of range twice (a 500 dB fader, an
    unknown key) does not end the run; the expert runs with its measured parameters and a warning says so."""
    audio, script, clues = overlap()
    scripted.model = ScriptedChatModel(responses=[call("ExpertRefinement", {"params": {
        "hit": {"gain_db": 500.0, "ratio": -3}, "bed": {"bogus": 1, "send_db": 99.0}}})])
    out = run_mixing(context(tmp_path, llm_roles={"experts": "scripted:x"}), audio, script, clues)
    said = [w for w in out["warnings"] if w.startswith("mixing.expert.")]
    assert said and all("could not run, kept the measured ones" in w and len(w) < 300 for w in said)
    assert out["mix_plan"]["verification"]["rounds"][-1]["passed"]
    ran = {op["expert"]: op["params"] for op in out["mix_plan"]["plan"]["hit"]}
    assert -40.0 <= ran["dyn"]["gain_db"] <= 60.0 and ran["dyn"].get("ratio", 4.0) >= 1.0


def test_llm_expert_refines_inside_its_ranges(tmp_path, scripted):
    from foleydesigner.agents.mixplan import llm_refine

    audio, script, clues = overlap()
    scene = analyse(audio, script, clues)
    scripted.model = ScriptedChatModel(responses=[
        call("ExpertRefinement", {"params": {"hit": {"send_db": 40.0}}}),  # out of range: re-asked
        call("ExpertRefinement", {"params": {"hit": {"send_db": -20.0}, "ghost": {}}, "note": "keep the keys dry"})])
    ctx = context(tmp_path, llm_roles={"experts": "scripted:x"})
    out = llm_refine(ctx, load_experts()["reverb"], {"hit": {"send_db": -9.0}}, {"hit": "2 m in a room"}, scene)
    assert out.params == {"hit": {"send_db": -20.0}} and out.note == "keep the keys dry"  # no stem added
    assert "cannot run" in scripted.model.calls[1][-1].content
    assert '"send_db"' in scripted.model.calls[0][0].content  # the expert's capability is its system prompt


# --- the whole stage --------------------------------------------------------------------------------------------

def test_mixing_stage_meets_master_targets_and_explains_itself(tmp_path):
    audio, script, clues = overlap()
    ctx = context(tmp_path, target_lufs=-23.0)
    out = run_mixing(ctx, audio, script, clues)
    import soundfile as sf

    mix, _ = sf.read(str(tmp_path / "mix_stereo.wav"), always_2d=True)
    assert abs(integrated_lufs(mix.T) + 23.0) <= 0.5 and true_peak_dbfs(mix.T) <= -2.0 and np.isfinite(mix).all()
    plan = out["mix_plan"]
    assert {f["event_id"] for f in plan["features"]} == {"hit", "bed"} and plan["space"]["rt60_measured_s"] > 0
    v = plan["verification"]
    assert 1 <= len(v["rounds"]) <= MAX_ROUNDS and v["rounds"][-1]["fg_masked_by_bg_db"]["hit"] <= 3.0
    assert v["master"]["integrated_lufs"] == pytest.approx(-23.0, abs=0.5)
    assert all(Path(tmp_path / ".internal" / f"bus_{k}.f32").is_file() for k in ("front", "ambience", "rear"))


def test_one_layer_or_a_silent_stem_still_mixes(tmp_path):
    audio, script, clues = overlap()
    only_bed = script.model_copy(update={"events": [e for e in script.events if e.id == "bed"]})
    out = run_mixing(context(tmp_path / "a"), {"bed": audio["bed"]}, only_bed, {"bed": clues["bed"]})["mix_plan"]
    # a bed alone sits at its reference level under a -24 LUFS foreground (8 LU down), not normalised up to -24
    assert out["verification"]["rounds"][-1]["passed"] and abs(out["verification"]["master"]["integrated_lufs"] + 32) <= 0.5
    audio["hit"] = np.zeros_like(audio["hit"])
    out = run_mixing(context(tmp_path / "b"), audio, script, clues)["mix_plan"]
    assert len(out["verification"]["rounds"]) == 1 and out["verification"]["rounds"][0]["fg_masked_by_bg_db"]["hit"] == 0.0


def test_traced_node_inputs_carry_references_not_the_analysis(tmp_path):
    """What LangSmith would upload per mixing node: its inputs, serialised as its client does. The analysis and
    the stems stay in memory behind a reference (agents/mixplan.Held)."""
    from langchain_core.callbacks import BaseCallbackHandler
    from langsmith._internal._serde import dumps_json

    from foleydesigner.graphs.mixing import build_mixing_graph

    sizes: dict[str, int] = {}

    class Inputs(BaseCallbackHandler):
        def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, tags=None, metadata=None, **kw):
            node = (metadata or {}).get("langgraph_node")
            if node and isinstance(inputs, dict):
                body = dumps_json(inputs)
                sizes[node] = max(sizes.get(node, 0), len(body))
                assert b"band_energy_db" not in body and b"short_term_lufs" not in body

    audio, script, clues = overlap(8.0)
    inputs = {"audio": audio, "script": script.model_dump(mode="json"),
              "clues": {k: v.model_dump(mode="json") for k, v in clues.items()}}
    build_mixing_graph().invoke(inputs, context=context(tmp_path), config={"callbacks": [Inputs()]})
    raw = len(dumps_json({"audio": audio}))  # what the stems alone weigh as JSON
    assert {"analyse", "plan", "expert", "render", "verify", "master"} <= set(sizes)
    later = {k: v for k, v in sizes.items() if k not in ("__start__", "load", "render_script")}  # the input itself
    assert max(later.values()) < 100_000 < raw  # each node's inputs: tens of kB, not the arrays
