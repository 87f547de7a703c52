"""Multi-agent refinement and mixing (paper §4): Foley Analysis -> Mixing Planner -> experts -> verify.

The heuristic planner follows re-recording practice: level each layer to a loudness target (foreground clear of
beds), high-pass rumble, carve the bands where a bed masks a foreground sound, one shared reverb for the scene
with wet rising with distance, gentle transient control on hits, and ducking of the beds under foreground events.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from foleydesigner.context import RunContext
from foleydesigner.llm import HEURISTIC, make_chat_model, structured_call
from foleydesigner.prompts import mixing as P
from foleydesigner.schemas import EventClues, MixOperation, SceneContext, SoundEvent, StemFeatures
from foleydesigner.tools import processing as proc
from foleydesigner.tools.analysis import (
    N_BANDS,
    band_energies_db,
    erb_band_edges,
    masking_report,
    stem_features,
)
from foleydesigner.tools.loudness import integrated_lufs
from foleydesigner.units import SAMPLE_RATE

#: Stem loudness targets (LUFS, integrated) before the master stage: beds sit ~10 LU under foreground Foley,
#: the usual spacing between a hard effect and its ambience in a TV mix.
FG_TARGET_LUFS = -23.0
BG_TARGET_LUFS = -31.0
#: A foreground stem masked by more than this (dB, see analysis.masking_db) gets the beds carved for it.
MASKING_LIMIT_DB = 3.0
MAX_VERIFY_ROUNDS = 2
_ROOM = {"small": (0.25, 0.6), "medium": (0.45, 0.5), "large": (0.75, 0.35), "open": (0.15, 0.7)}

Expert = Callable[[np.ndarray, Mapping[str, Any], int], np.ndarray]
EXPERTS: dict[str, Expert] = {
    "gain": lambda a, p, sr: proc.apply_gain_db(a, float(p.get("gain_db", 0.0))),
    "eq": proc.apply_eq,
    "reverb": proc.apply_reverb,
    "dyn": proc.apply_dynamics,
}
#: Parameter ranges the planner's output must respect before anything runs.
RANGES: dict[str, tuple[float, float]] = {
    "gain_db": (-60.0, 12.0), "highpass_hz": (10.0, 2000.0), "lowpass_hz": (500.0, 22000.0), "freq_hz": (20.0, 20000.0),
    "q": (0.1, 10.0), "wet": (0.0, 1.0), "dry": (0.0, 1.0), "room_size": (0.0, 1.0), "damping": (0.0, 1.0),
    "threshold_db": (-60.0, 0.0), "ratio": (1.0, 20.0), "attack_ms": (0.1, 200.0), "release_ms": (5.0, 2000.0),
    "duck_db": (0.0, 24.0), "makeup_db": (0.0, 12.0),
}


class PlanProposal(BaseModel):
    plan: dict[str, list[MixOperation]] = Field(description="stem id -> operations")


def validate_plan(plan: Mapping[str, list[MixOperation]], stem_ids: set[str]) -> list[str]:
    """Problems with a plan (unknown stem or expert, parameter out of range); empty when it may run."""
    problems = []
    for sid, ops in plan.items():
        if sid not in stem_ids:
            problems.append(f"unknown stem '{sid}'")
        for op in ops:
            if op.expert not in EXPERTS:
                problems.append(f"{sid}: unknown expert '{op.expert}' (have {', '.join(EXPERTS)})")
            values = dict(op.params)
            for band in values.pop("bands", []) or []:
                values.update({f"band_{k}": v for k, v in band.items()})
            for key, v in values.items():
                name = key.removeprefix("band_").replace("gain_db", "gain_db")
                lo, hi = RANGES.get(name, RANGES.get(key, (-math.inf, math.inf)))
                if isinstance(v, (int, float)) and not (lo <= float(v) <= hi and math.isfinite(float(v))):
                    problems.append(f"{sid}: {op.expert}.{key}={v} outside [{lo}, {hi}]")
    return problems


def _carve_bands(fg_bands: list[np.ndarray], n: int = 2) -> list[float]:
    """Centre frequencies (Hz) of the fg stems' strongest ERB bands: where a bed must make room."""
    centres = np.sqrt(erb_band_edges()[:-1] * erb_band_edges()[1:])
    energy = sum(10 ** (b.mean(axis=1) / 10) for b in fg_bands) if fg_bands else np.zeros(N_BANDS)
    top = np.argsort(energy)[::-1][:n]
    return [float(round(centres[i], 1)) for i in sorted(top)]


def layer_gains(stems: Mapping[str, np.ndarray], events: Mapping[str, SoundEvent], sr: int = SAMPLE_RATE) -> dict[str, float]:
    """Gain (dB) per stem that brings each layer *as a group* to its target, then offsets by intensity.

    Levelling the layer rather than each stem keeps the distance cues the renderer put between a near and a
    far source; intensity moves a stem ±3 dB around its layer.
    """
    gains: dict[str, float] = {}
    for layer, target in (("fg", FG_TARGET_LUFS), ("bg", BG_TARGET_LUFS)):
        ids = [s for s in stems if events[s].layer == layer]
        if not ids:
            continue
        lufs = integrated_lufs(np.sum([stems[s] for s in ids], axis=0), sr)
        if lufs <= -100:
            continue
        ref = 0.7 if layer == "fg" else 0.4
        for s in ids:
            gains[s] = float(np.clip(target - lufs + 6.0 * (events[s].intensity - ref), RANGES["gain_db"][0], 40.0))
    return gains


def heuristic_plan(features: list[StemFeatures], events: Mapping[str, SoundEvent], depths: Mapping[str, float],
                   scene: SceneContext, fg_bands: list[np.ndarray], gains: Mapping[str, float],
                   carve_db: float = 4.0) -> dict[str, list[MixOperation]]:
    room, damping = _ROOM[scene.room_size]
    outdoor = scene.location == "outdoor" or scene.room_size == "open"
    worst_fg_mask = max((f.masked_by_bg_db for f in features if f.layer == "fg"), default=0.0)
    carve = _carve_bands(fg_bands) if worst_fg_mask > MASKING_LIMIT_DB else []
    plan: dict[str, list[MixOperation]] = {}
    for f in features:
        ev = events[f.event_id]
        ops: list[MixOperation] = []
        if f.event_id in gains:
            target = FG_TARGET_LUFS if f.layer == "fg" else BG_TARGET_LUFS
            ops.append(MixOperation(expert="gain", params={"gain_db": round(gains[f.event_id], 2)},
                                    reason=f"{f.layer} layer to {target:.0f} LUFS as a group (keeps distance cues), "
                                           f"intensity {ev.intensity:.2f}"))
        eq: dict[str, Any] = {"highpass_hz": 40.0 if f.layer == "fg" else 60.0}
        reason = "high-pass rumble below the stem's useful range"
        if f.layer == "bg" and carve:
            eq["bands"] = [{"freq_hz": c, "gain_db": -carve_db, "q": 1.2} for c in carve]
            reason += (f"; carve {carve_db:.0f} dB at {', '.join(f'{c:.0f}' for c in carve)} Hz where the beds mask "
                       f"foreground sounds (worst {worst_fg_mask:.1f} dB)")
        ops.append(MixOperation(expert="eq", params=eq, reason=reason))
        if f.layer == "fg":
            d = depths.get(f.event_id, 3.0)
            wet = min(0.35, 0.04 + 0.025 * d) * (0.5 if outdoor else 1.0)
            ops.append(MixOperation(expert="reverb", params={"room_size": room, "damping": damping, "wet": round(wet, 3)},
                                    reason=f"shared {scene.room_size} space; wet {wet:.2f} for {d:.1f} m"))
            if f.crest_db > 18.0:
                thr = round(max(-60.0, f.peak_dbfs + gains.get(f.event_id, 0.0) - 10.0), 1)
                ops.append(MixOperation(expert="dyn", params={"threshold_db": min(thr, -1.0), "ratio": 3.0,
                                                               "attack_ms": 3.0, "release_ms": 80.0},
                                        reason=f"crest factor {f.crest_db:.0f} dB: tame the hits so the bed can be heard"))
        elif any(x.layer == "fg" for x in features):
            ops.append(MixOperation(expert="dyn", params={"duck_db": 3.0}, reason="duck the bed 3 dB under foreground events"))
        plan[f.event_id] = ops
    return plan


def _llm_plan(ctx: RunContext, features: list[StemFeatures], scene: SceneContext, target: float) -> dict[str, list[MixOperation]]:
    from langchain_core.messages import HumanMessage, SystemMessage

    backend = ctx.llm_for("planner")
    model = make_chat_model(backend, base_url=ctx.llm_base_url)
    system = P.PLANNER_SYSTEM.format(experts=", ".join(EXPERTS), scene=scene.model_dump_json())
    user = P.PLANNER_USER.format(target_lufs=target, true_peak=ctx.true_peak_dbtp,
                                 features="\n".join(f.model_dump_json() for f in features))
    proposal = structured_call(model, [SystemMessage(system), HumanMessage(user)], PlanProposal,
                               tracer=ctx.tracer, node="mixing.planner", backend=backend)
    return proposal.plan


def execute(stems: Mapping[str, np.ndarray], plan: Mapping[str, list[MixOperation]], layers: Mapping[str, str],
            sr: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """Run every stem's operations; bed ducking is keyed by the processed foreground bus."""
    out: dict[str, np.ndarray] = {}
    deferred: dict[str, float] = {}
    for sid, audio in stems.items():
        x = np.asarray(audio, dtype=np.float32)
        for op in plan.get(sid, []):
            if op.expert == "dyn" and "duck_db" in op.params:
                deferred[sid] = float(op.params["duck_db"])
                continue
            x = EXPERTS[op.expert](x, op.params, sr)
        out[sid] = x
    fg = [a for s, a in out.items() if layers[s] == "fg"]
    if deferred and fg:
        key = np.sum(fg, axis=0)
        for sid, depth in deferred.items():
            out[sid] = proc.duck_under(out[sid], key, depth_db=depth, sr=sr)
    return out


def mix_stems(ctx: RunContext, stems: Mapping[str, np.ndarray], events: Mapping[str, SoundEvent],
              clues: Mapping[str, EventClues], scene: SceneContext, sr: int = SAMPLE_RATE) -> dict[str, Any]:
    """Diagnose, plan, execute, verify (re-plan while fg masking by the beds stays over the limit), master."""
    meta = {sid: (events[sid].label, events[sid].layer) for sid in stems}
    layers = {sid: events[sid].layer for sid in stems}
    depths = {sid: float(np.median(np.asarray(clues[sid].depth_m))) for sid in stems if sid in clues}
    with ctx.tracer.span("mixing.analysis", "agent", backend="local", inputs=sorted(stems)) as rec:
        bands = {sid: band_energies_db(a, sr)[1] for sid, a in stems.items()}
        features = stem_features(dict(stems), meta, sr, bands=bands)
        gains = layer_gains(stems, events, sr)
        rec["parsed"] = [{"id": f.event_id, "lufs": f.integrated_lufs, "masked_by_bg_db": f.masked_by_bg_db} for f in features]
    fg_bands = [bands[s] for s in stems if layers[s] == "fg"]
    carve_db = 4.0
    rounds: list[dict[str, Any]] = []
    for round_ in range(MAX_VERIFY_ROUNDS + 1):
        backend = ctx.llm_for("planner") if round_ == 0 else HEURISTIC
        with ctx.tracer.span("mixing.planner", "agent", backend=backend, inputs=[f.event_id for f in features],
                             round=round_) as rec:
            if backend == HEURISTIC:
                plan = heuristic_plan(features, events, depths, scene, fg_bands, gains, carve_db=carve_db)
            else:
                plan = _llm_plan(ctx, features, scene, ctx.target_lufs)
            problems = validate_plan(plan, set(stems))
            if problems:
                rec["rejected"] = problems
                plan = heuristic_plan(features, events, depths, scene, fg_bands, gains, carve_db=carve_db)
            rec["parsed"] = {s: [o.model_dump() for o in ops] for s, ops in plan.items()}
        with ctx.tracer.span("mixing.experts", "agent", backend="local", inputs=sorted(plan), round=round_):
            processed = execute(stems, plan, layers, sr)
        with ctx.tracer.span("mixing.verify", "agent", backend="local", inputs=round_, round=round_) as rec:
            after = {s: band_energies_db(a, sr)[1] for s, a in processed.items()}
            masks = masking_report(after, layers)
            fg_mask = {s: round(m[1], 2) for s, m in masks.items() if layers[s] == "fg"}
            fg = [processed[s] for s in processed if layers[s] == "fg"]
            bg = [processed[s] for s in processed if layers[s] == "bg"]
            offset = integrated_lufs(np.sum(fg, axis=0), sr) - integrated_lufs(np.sum(bg, axis=0), sr) if fg and bg else None
            result = {"round": round_, "fg_masked_by_bg_db": fg_mask,
                      "fg_minus_bg_lu": None if offset is None else round(offset, 2)}
            rounds.append(result)
            rec["parsed"] = result
        if all(m <= MASKING_LIMIT_DB for m in fg_mask.values()) or carve_db >= 12.0:
            break
        carve_db = min(12.0, carve_db + 4.0)  # still buried: carve deeper, bounded
    mix = np.sum(list(processed.values()), axis=0) if processed else np.zeros((2, 1), np.float32)
    mastered, measured = proc.master(mix, target_lufs=ctx.target_lufs, ceiling_dbtp=ctx.true_peak_dbtp, sr=sr)
    master_gain = proc.db_to_gain(measured.get("gain_db", 0.0))
    return {"features": features, "plan": plan, "processed": processed, "mix": mastered, "master": measured,
            "master_gain": master_gain, "verification": {"rounds": rounds, "master": measured}}
