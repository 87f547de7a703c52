"""Multi-agent refinement and mixing (paper §4): Foley Analysis → Mixing Planner → experts → Verify → master.

The node functions of the mixing subgraph (graphs/mixing.py wires them). Analysis measures every stem once;
the planner (heuristic rules from each expert's `propose`, or an LLM that reads the experts' declared
capabilities) writes Π = {(stem, O)} with a reason per operation, validated against the experts' parameter
ranges before anything runs; the experts configure in parallel (LangGraph Send) and process in channel-strip
order; verification re-measures and sends the plan back while masking or levels miss their targets (bounded).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.agents.experts import BaseExpert, MixScene, MixTargets, capabilities, load_experts, planned
from foleydesigner.context import RunContext
from foleydesigner.errors import BackendError
from foleydesigner.llm import HEURISTIC, ask, with_fallback
from foleydesigner.prompts import mixing as P
from foleydesigner.schemas import (
    EventClues,
    ExpertRefinement,
    FoleyScript,
    MixOperation,
    MixPlan,
    PlanProposal,
    SoundEvent,
)
from foleydesigner.tools import processing as proc
from foleydesigner.tools.analysis import (
    band_centres_hz,
    band_energies_db,
    loudness_profile,
    masking_report,
    stem_features,
)
from foleydesigner.tools.export import atomic_write_wav
from foleydesigner.tools.loudness import SILENCE_LUFS
from foleydesigner.tools.upmix import route_bus
from foleydesigner.units import SAMPLE_RATE

MAX_ROUNDS = 3  # the first plan and at most two re-plans: each round re-renders every stem
INTERNAL = ".internal"  # the run's scratch folder (stages.INTERNAL); the upmix reads the buses from it
_FG_REF_INTENSITY, _BG_REF_INTENSITY = 0.7, 0.45  # intensity that sits exactly on the layer target
DEFAULT_TARGETS = MixTargets()


def _ctx(runtime: Any) -> RunContext:
    return runtime.context  # type: ignore[no-any-return]


def _read_wav(path: Path) -> np.ndarray:
    import soundfile as sf

    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T)


def level_gains(audio: dict[str, np.ndarray], events: Mapping[str, SoundEvent], *, targets: MixTargets = DEFAULT_TARGETS,
                sr: int = SAMPLE_RATE) -> dict[str, float]:
    """Fader move (dB) per stem that brings each layer *as a group* to its target, ±3 dB by intensity.

    Levelling the layer rather than each stem keeps the distance cues the renderer put between a near and a
    far source (paper §2's depth); a silent layer gets no move.
    """
    gains: dict[str, float] = {}
    for layer, target, ref in (("fg", targets.fg_lufs, _FG_REF_INTENSITY), ("bg", targets.bg_lufs, _BG_REF_INTENSITY)):
        ids = [s for s in audio if events[s].layer == layer]
        if not ids:
            continue
        lufs = loudness_profile(np.sum([audio[s] for s in ids], axis=0), sr).integrated()
        if lufs <= SILENCE_LUFS:
            continue
        for s in ids:
            gains[s] = float(np.clip(target - lufs + 6.0 * (events[s].intensity - ref), -40.0, 60.0))
    return gains


def analyse(audio: dict[str, np.ndarray], script: FoleyScript, clues: dict[str, EventClues], *,
            sr: int = SAMPLE_RATE, targets: MixTargets = DEFAULT_TARGETS) -> MixScene:
    """Foley Analysis: f = [f_sem, f_spec, f_rev, f_loud] per stem, masking, the scene's space, the layer balance."""
    events = {e.id: e for e in script.events if e.id in audio}
    bands = {sid: band_energies_db(a, sr)[1] for sid, a in audio.items()}
    profiles = {sid: loudness_profile(a, sr) for sid, a in audio.items()}
    meta = {sid: (events[sid].label, events[sid].layer) for sid in audio}
    features = {f.event_id: f for f in stem_features(audio, meta, sr, bands=bands, profiles=profiles)}
    depths = {sid: float(np.median(clues[sid].depth_m)) for sid in audio if sid in clues}
    return MixScene(sr=sr, scene=script.scene, events=events, features=features, bands=bands, profiles=profiles,
                    depths=depths, space=proc.room_space(script.scene),
                    level_gains=level_gains(audio, events, targets=targets, sr=sr), targets=targets)


def heuristic_plan(scene: MixScene, experts: dict[str, BaseExpert]) -> dict[str, list[MixOperation]]:
    """The offline planner: every expert's own rule (`propose`), in channel-strip order, on the measurements."""
    plan: dict[str, list[MixOperation]] = {sid: [] for sid in scene.features}
    for expert in experts.values():
        for sid, op in expert.propose(scene, plan).items():
            if sid in plan:
                plan[sid].append(op)
    return plan


def validate_plan(plan: dict[str, list[MixOperation]], stem_ids: set[str], experts: dict[str, BaseExpert]) -> list[str]:
    """Why a plan may not run (unknown stem or expert, an expert twice on a stem, a parameter out of range)."""
    problems = []
    for sid, ops in plan.items():
        if sid not in stem_ids:
            problems.append(f"unknown stem '{sid}' (stems: {', '.join(sorted(stem_ids))})")
        names = [op.expert for op in ops]
        problems += [f"{sid}: expert '{n}' used twice" for n in sorted({n for n in names if names.count(n) > 1})]
        for op in ops:
            if op.expert not in experts:
                problems.append(f"{sid}: unknown expert '{op.expert}' (available: {', '.join(experts)})")
            else:
                problems += [f"{sid}: {op.expert}.{p}" for p in experts[op.expert].spec.check(op.params)]
    return problems


def _features_text(scene: MixScene, ids: list[str] | None = None) -> str:
    ids = ids or list(scene.features)
    return "\n".join(scene.features[s].model_dump_json(exclude={"short_term_lufs"}) for s in ids)


def _llm_plan(ctx: RunContext, scene: MixScene, experts: dict[str, BaseExpert], last: dict[str, Any] | None) -> PlanProposal:
    from langchain_core.messages import HumanMessage, SystemMessage

    t = scene.targets
    feedback = P.PLANNER_FEEDBACK.format(round=last["round"], verification=json.dumps(last, default=str),
                                         missed="; ".join(last["missed"])) if last else ""
    messages = [SystemMessage(P.PLANNER_SYSTEM.format(experts=json.dumps(capabilities(experts)),
                                                      scene=scene.scene.model_dump_json(),
                                                      space=json.dumps(scene.space.as_dict()))),
                HumanMessage(P.PLANNER_USER.format(fg_lufs=t.fg_lufs, bg_lufs=t.bg_lufs, masking_limit_db=t.masking_limit_db,
                                                   target_lufs=ctx.target_lufs, true_peak=ctx.true_peak_dbtp,
                                                   level_gains=json.dumps({s: round(g, 1) for s, g in scene.level_gains.items()}),
                                                   features=_features_text(scene), feedback=feedback))]
    for _ in range(2):
        proposal = ask(ctx, "planner", "mixing.planner", messages, PlanProposal)
        problems = validate_plan(proposal.plan, set(scene.features), experts)
        if not problems:
            return proposal
        messages = messages[:2] + [HumanMessage(f"Your plan was: {proposal.model_dump_json()}\n"
                                                + P.PLAN_INVALID.format(problems="; ".join(problems)))]
    raise BackendError(f"mixing.planner: {ctx.llm_for('planner')} planned operations that cannot run, even after a "
                       f"re-ask ({'; '.join(problems[:5])}); try another model, or pass --fallback heuristic")


def _llm_refine(ctx: RunContext, expert: BaseExpert, ops: dict[str, dict[str, Any]], reasons: dict[str, str],
                scene: MixScene) -> ExpertRefinement:
    from langchain_core.messages import HumanMessage, SystemMessage

    node = f"mixing.expert.{expert.spec.name}"
    messages = [SystemMessage(P.EXPERT_SYSTEM.format(name=expert.spec.name, capability=json.dumps(expert.spec.capability()))),
                HumanMessage(P.EXPERT_USER.format(scene=scene.scene.model_dump_json(), space=json.dumps(scene.space.as_dict()),
                                                  reasons=json.dumps(reasons), params=json.dumps(ops, default=str),
                                                  features=_features_text(scene, list(ops))))]
    for _ in range(2):
        out = ask(ctx, "experts", node, messages, ExpertRefinement)
        merged = {sid: out.params.get(sid, p) for sid, p in ops.items()}
        problems = [f"{sid}: {p}" for sid, params in merged.items() for p in expert.spec.check(params)]
        if not problems:
            return ExpertRefinement(params=merged, note=out.note)
        messages = messages[:2] + [HumanMessage(f"These parameters cannot run: {'; '.join(problems)}. Call "
                                                "ExpertRefinement again with every stem's parameters inside the ranges.")]
    raise BackendError(f"{node}: {ctx.llm_for('experts')} refined parameters out of range even after a re-ask "
                       f"({'; '.join(problems[:5])}); try another model, or pass --fallback heuristic")


# --- nodes ------------------------------------------------------------------------------------------------------

def load_stems(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """The unprocessed stems (given directly, or read from stems/<id>.wav), denormals flushed to zero: a decayed
    tail of 1e-40 makes every IIR filter downstream run 10–50× slower."""
    ctx = _ctx(runtime)
    started = time.perf_counter()
    audio = state.get("audio") or {s["event_id"]: _read_wav(ctx.work_dir / s["path"])
                                   for s in sorted(state["stems"], key=lambda s: s["event_id"])}
    clean = {}
    for sid, a in sorted(audio.items()):
        x = np.array(a, dtype=np.float32)
        if not np.isfinite(x).all():
            np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        x[np.abs(x) < 1e-30] = 0.0
        x.flags.writeable = False  # every round starts from these: an expert must never change them in place
        clean[sid] = x
    return {"audio": clean, "started": started}


def analyse_stems(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    script = FoleyScript.model_validate(state["script"])
    clues = {k: EventClues.model_validate(v) for k, v in state["clues"].items()}
    experts = load_experts()
    with ctx.tracer.span("mixing.analysis", "agent", backend="local", inputs=sorted(state["audio"])) as rec:
        scene = analyse(state["audio"], script, clues)
        rec["parsed"] = {"stems": [f.model_dump(exclude={"band_energy_db", "short_term_lufs"}) for f in scene.features.values()],
                         "space": scene.space.as_dict(), "experts": list(experts)}
    return {"scene": scene, "experts": experts, "round": 0, "timings": {"mix.analysis": time.perf_counter() - t0}}


def plan_mix(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    r = int(state.get("round", 0))
    last = state["rounds"][-1] if r > 0 and state.get("rounds") else None
    scene: MixScene = replace(state["scene"], feedback=last) if last else state["scene"]
    experts = state["experts"]
    backend = ctx.llm_for("planner")
    with ctx.tracer.span("mixing.planner", "agent", backend=backend, inputs=sorted(scene.features), round=r) as rec:
        proposal, warnings = with_fallback(ctx, "planner", "mixing.planner", lambda: _llm_plan(ctx, scene, experts, last),
                                           lambda: PlanProposal(plan=heuristic_plan(scene, experts)))
        problems = validate_plan(proposal.plan, set(scene.features), experts)
        if problems:  # only the heuristic path can get here: an expert's own rule broke its own ranges
            raise ValueError(f"mixing planner: an expert proposed an invalid operation: {'; '.join(problems)}")
        plan = {sid: list(proposal.plan.get(sid, [])) for sid in scene.features}
        rec["parsed"] = {s: [o.model_dump() for o in ops] for s, ops in plan.items()}
    return {"plan": plan, "scene": scene, "warnings": warnings,
            "timings": {f"mix.plan[{r}]": time.perf_counter() - t0}}


def run_expert(task: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """One expert branch (LangGraph Send): exact parameters from measurement, then an LLM may refine them."""
    ctx = _ctx(runtime)
    expert: BaseExpert = task["expert"]
    name, scene, plan, r = expert.spec.name, task["scene"], task["plan"], task["round"]
    backend = ctx.llm_for("experts")
    with ctx.tracer.span(f"mixing.expert.{name}", "agent", backend=backend, inputs=task["ops"], round=r) as rec:
        ops = expert.configure(task["ops"], scene, plan)
        bad = [f"{sid}: {p}" for sid, params in ops.items() for p in expert.spec.check(params)]
        if bad:
            raise ValueError(f"mixing expert '{name}' configured parameters out of its own ranges: {'; '.join(bad)}")
        warnings: list[str] = []
        if backend != HEURISTIC and ops:
            reasons = {sid: next((o.reason for o in plan[sid] if o.expert == name), "") for sid in ops}
            refined, warnings = with_fallback(ctx, "experts", f"mixing.expert.{name}",
                                              lambda: _llm_refine(ctx, expert, ops, reasons, scene),
                                              lambda: ExpertRefinement(params=ops))
            ops = refined.params
        rec["parsed"] = ops
    return {"settings": {name: {"round": r, "ops": ops}}, "warnings": warnings}


def render_mix(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Every expert's processing in channel-strip order (EQ → dynamics → … → reverb send) on the original stems."""
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    r, scene = state["round"], state["scene"]
    stems = dict(state["audio"])
    returns: dict[str, np.ndarray] = {}
    notes: dict[str, Any] = {}
    warnings = []
    with ctx.tracer.span("mixing.experts", "agent", backend="local", inputs=sorted(state.get("settings", {})), round=r) as rec:
        for name, expert in state["experts"].items():
            s = state.get("settings", {}).get(name)
            if not s or s["round"] != r or not s["ops"]:
                continue
            t = time.perf_counter()
            out = expert.process(stems, s["ops"], scene)
            for sid, y in [*out.stems.items(), *out.returns.items()]:
                if not np.isfinite(y).all():  # a plugin's bug must never reach the mix as NaN
                    warnings.append(f"mixing expert '{name}' produced NaN/Inf on {sid}; replaced by zeros")
                    np.nan_to_num(y, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
            stems.update({sid: y for sid, y in out.stems.items() if sid in stems})
            returns.update({f"{name}:{k}": y for k, y in out.returns.items()})
            notes[name] = {**out.notes, "seconds": round(time.perf_counter() - t, 4)}
        rec["parsed"] = notes
    return {"processed": stems, "returns": returns, "notes": notes, "warnings": warnings,
            "timings": {f"mix.experts[{r}]": time.perf_counter() - t0}}


def verify_mix(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Re-measure what the experts did: masking of each foreground stem by the beds, and each layer's level."""
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    r, scene, plan, processed = state["round"], state["scene"], state["plan"], state["processed"]
    t = scene.targets
    with ctx.tracer.span("mixing.verify", "agent", backend="local", inputs=r, round=r) as rec:
        bands = {s: band_energies_db(a, scene.sr)[1] for s, a in processed.items()}  # once per round
        layers = {s: scene.layer(s) for s in processed}
        masks = masking_report(bands, layers)
        ret_bands = [band_energies_db(a, scene.sr)[1] for a in state.get("returns", {}).values()]
        fg_ids, bg_ids = scene.ids("fg"), scene.ids("bg")
        rides = _rides(state.get("notes", {}))
        level, ridden = {}, {}
        for layer, ids in (("fg", fg_ids), ("bg", bg_ids)):
            if ids:
                level[layer], ridden[layer] = _layer_level([processed[s] for s in ids], [rides.get(s, 0.0) for s in ids], scene.sr)
        target = {"fg": t.fg_lufs, "bg": t.bg_lufs}
        # Keyed rides (ducking, a keyed carve) take a layer down under the foreground on purpose: the fader is
        # judged on the level before them, or verification would fight the experts by pushing the fader up.
        error = {k: round(target[k] - (v + ridden[k]), 2) for k, v in level.items() if v > SILENCE_LUFS}
        trim = {layer: round(float(np.mean([float(planned(plan, s, "dyn", "gain_db", scene.level_gains.get(s, 0.0)))
                                            - scene.level_gains.get(s, 0.0) for s in ids])), 2)
                for layer, ids in (("fg", fg_ids), ("bg", bg_ids)) if ids}
        fg_mask = {s: round(masks[s][1], 2) for s in fg_ids}
        missed = [f"{s} masked {m:.1f} dB by the beds (limit {t.masking_limit_db:.0f})" for s, m in fg_mask.items()
                  if m > t.masking_limit_db]
        missed += [f"{k} layer {level[k] + ridden[k]:.1f} LUFS before keyed rides, target {target[k]:.0f} "
                   f"±{t.level_tolerance_lu:.0f}" for k, e in error.items() if abs(e) > t.level_tolerance_lu]
        with_returns = {s: round(_masking_with(bands, s, [bands[b] for b in bg_ids] + ret_bands), 2) for s in fg_ids}
        faded = {s: scene.bands[s] + float(planned(plan, s, "dyn", "gain_db", 0.0)) for s in scene.bands}
        at_fader = masking_report(faded, layers)  # what EQ and ducking had to fix, once the faders were set
        result = {"round": r, "fg_masked_by_bg_db": fg_mask, "fg_masked_by_bg_and_reverb_db": with_returns,
                  "fg_masked_at_fader_db": {s: round(at_fader[s][1], 2) for s in fg_ids},
                  "fg_masked_raw_db": {s: scene.features[s].masked_by_bg_db for s in fg_ids},
                  "layer_lufs": {k: round(v, 2) for k, v in level.items()},
                  "layer_rides_lu": {k: round(v, 2) for k, v in ridden.items()}, "level_error_lu": error, "applied_trim_db": trim,
                  "fg_minus_bg_lu": round(level["fg"] - level["bg"], 2) if {"fg", "bg"} <= level.keys() else None,
                  "experts": state.get("notes", {}), "missed": missed, "passed": not missed}
        rec["parsed"] = result
    return {"rounds": [result], "round": r + 1, "timings": {f"mix.verify[{r}]": time.perf_counter() - t0}}


def _rides(notes: dict[str, Any]) -> dict[str, float]:
    """Per stem, the LU its experts took it down on purpose under the foreground (`ride_lu` in their notes)."""
    out: dict[str, float] = {}
    for expert_notes in notes.values():
        for sid, n in expert_notes.items():
            if isinstance(n, dict) and "ride_lu" in n:
                out[sid] = out.get(sid, 0.0) + float(n["ride_lu"])
    return out


def _layer_level(stems: list[np.ndarray], rides: list[float], sr: int) -> tuple[float, float]:
    """(integrated LUFS of the layer, its ride in LU: the stems' rides weighted by their power in the layer)."""
    level = loudness_profile(np.sum(stems, axis=0), sr).integrated()
    if not any(rides):
        return level, 0.0
    power = np.array([np.mean(np.square(s, dtype=np.float64)) for s in stems])
    before = np.sum(power * 10 ** (np.asarray(rides) / 10))
    return level, float(10 * np.log10(before / max(power.sum(), 1e-30))) if power.sum() > 0 else 0.0


def _masking_with(bands: dict[str, np.ndarray], sid: str, maskers: list[np.ndarray]) -> float:
    from foleydesigner.tools.analysis import combined_db, masking_db

    return masking_db(bands[sid], combined_db(maskers, bands[sid]))


def master_mix(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Sum, master to the loudness target with the true-peak ceiling (BS.1770 / A/85 / R128), write the stereo
    mix and the upmix buses, and the MixPlan: analysis, plan with reasons, and what verification measured."""
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    scene: MixScene = state["scene"]
    processed, returns = state["processed"], state.get("returns", {})
    with ctx.tracer.span("mixing.master", "agent", backend="local", inputs=sorted(processed)) as rec:
        parts = [*processed.values(), *returns.values()]
        mix = np.sum(parts, axis=0) if parts else np.zeros((2, 1), np.float32)
        mastered, measured = proc.master(mix, target_lufs=ctx.target_lufs, ceiling_dbtp=ctx.true_peak_dbtp, sr=scene.sr)
        atomic_write_wav(ctx.work_dir / "mix_stereo.wav", mastered)
        gain = np.float32(proc.db_to_gain(measured.get("gain_db", 0.0)))
        buses = {k: np.zeros_like(mastered) for k in ("front", "ambience", "rear")}
        clues = {k: EventClues.model_validate(v) for k, v in state.get("clues", {}).items()}
        for sid, audio in processed.items():
            buses[route_bus(scene.events[sid], clues.get(sid))] += audio * gain
        for audio in returns.values():
            buses["ambience"] += audio * gain  # a diffuse return belongs around the listener (see upmix)
        (ctx.work_dir / INTERNAL).mkdir(parents=True, exist_ok=True)
        np.savez(ctx.work_dir / INTERNAL / "buses.npz", **buses)
        rec["parsed"] = measured
    space = {**scene.space.as_dict(), **state.get("notes", {}).get("reverb", {})}
    analysis = {"band_centres_hz": [round(float(c), 1) for c in band_centres_hz()], "targets": asdict(scene.targets),
                "level_gains_db": {s: round(g, 2) for s, g in scene.level_gains.items()},
                "depths_m": {s: round(d, 2) for s, d in scene.depths.items()}}
    plan = MixPlan(target_lufs=ctx.target_lufs, true_peak_dbtp=ctx.true_peak_dbtp, features=list(scene.features.values()),
                   plan=state["plan"], analysis=analysis, space=space, experts=capabilities(state["experts"]),
                   verification={"planner": ctx.llm_for("planner"), "experts_backend": ctx.llm_for("experts"),
                                 "rounds": state.get("rounds", []), "master": measured})
    done = time.perf_counter()
    return {"mix_plan": plan.model_dump(mode="json"), "mix": {"stereo": "mix_stereo.wav"},
            "timings": {"mix.master": done - t0, "mix": done - state.get("started", t0)}}
