"""Multi-agent refinement and mixing (paper §4): Foley Analysis → Mixing Planner → experts → Verify → master.

The node functions of the mixing subgraph (graphs/mixing.py wires them; the analysis and plans are in
agents/mixplan.py, the master's targets and the as-run plan in agents/mastering.py). Analysis measures every stem once;
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
from typing import Any

import numpy as np

from foleydesigner.agents.experts import BaseExpert, MixScene, capabilities, load_experts, planned
from foleydesigner.agents.mastering import (
    MAX_MAKEUP_DB,
    as_run,
    layer_ride,
    masking_with,
    master_target,
    rides_of,
)
from foleydesigner.agents.mixplan import (
    PLANNER_KEY,
    Held,
    analyse,
    as_sources,
    heuristic_plan,
    llm_plan,
    llm_refine,
    unheld,
    validate_plan,
)
from foleydesigner.context import RunContext
from foleydesigner.llm import HEURISTIC, InvalidAnswer, with_fallback
from foleydesigner.schemas import EventClues, ExpertRefinement, FoleyScript, MixPlan, PlanProposal
from foleydesigner.tools import processing as proc
from foleydesigner.tools.analysis import band_centres_hz, masking_report, measure
from foleydesigner.tools.export import WavWriter
from foleydesigner.tools.loudness import SILENCE_LUFS
from foleydesigner.tools.streams import PREROLL_S, AudioSource, SpillFile, WavAudio, aligned, spans
from foleydesigner.tools.upmix import route_bus

BUSES = ("front", "ambience", "rear")  # the upmix's input buses, spilled as .internal/bus_<name>.f32
MAX_ROUNDS = 3  # the first plan and at most two re-plans: each round re-renders every stem
INTERNAL = ".internal"  # the run's scratch folder (stages.INTERNAL); the upmix reads the buses from it



def _ctx(runtime: Any) -> RunContext:
    return runtime.context  # type: ignore[no-any-return]


def load_stems(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """The unprocessed stems as sources (given arrays, or stems/<id>.wav read window by window); NaN and
    denormals are cleaned on every read (streams._clean)."""
    ctx = _ctx(runtime)
    started = time.perf_counter()
    given = unheld(state.get("audio"))
    sources = as_sources(given) if given else {s["event_id"]: WavAudio(ctx.work_dir / s["path"])
                                             for s in sorted(state["stems"], key=lambda s: s["event_id"])}
    out = {"sources": Held(dict(sorted(sources.items())), f"{len(sources)} stem sources"), "started": started}
    return {**out, "audio": Held(given, f"{len(given)} stems in memory")} if given else out  # not in later inputs


def analyse_stems(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    script = FoleyScript.model_validate(state["script"])
    clues = {k: EventClues.model_validate(v) for k, v in state["clues"].items()}
    experts = load_experts()
    sources = unheld(state["sources"])
    with ctx.tracer.span("mixing.analysis", "agent", backend="local", inputs=sorted(sources)) as rec:
        scene = analyse(sources, script, clues, window_s=ctx.window_s)
        rec["parsed"] = {"stems": [f.model_dump(exclude={"band_energy_db", "short_term_lufs"}) for f in scene.features.values()],
                         "space": scene.space.as_dict(), "experts": list(experts)}
    return {"scene": Held(scene, f"analysis of {len(scene.features)} stems"), "experts": experts, "round": 0,
            "timings": {"mix.analysis": time.perf_counter() - t0}}


def plan_mix(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    r = int(state.get("round", 0))
    last = state["rounds"][-1] if r > 0 and state.get("rounds") else None
    scene: MixScene = replace(unheld(state["scene"]), feedback=last) if last else unheld(state["scene"])
    experts = state["experts"]
    backend = ctx.llm_for("planner")
    with ctx.tracer.span("mixing.planner", "agent", backend=backend, inputs=sorted(scene.features), round=r) as rec:
        rejected: list[str] = []

        def llm() -> PlanProposal:  # an empty or invalid plan (after its re-ask) gives way to the rules, always
            try:
                return llm_plan(ctx, scene, experts, last)
            except InvalidAnswer as exc:
                if not exc.checked:
                    raise  # no plan at all (a refusal, broken JSON): a failed step, for --fallback to decide
                reason = exc.reason.removeprefix("mixing.planner: ")
                rejected.append(f"mixing.planner: the LLM plan was empty or invalid, used the rule-based plan: "
                                f"{reason if len(reason) <= 140 else reason[:137] + '...'}")
                return PlanProposal(plan=heuristic_plan(scene, experts))

        earlier = state.get("settings", {}).get(PLANNER_KEY, {}).get("rounds", [])
        if r == MAX_ROUNDS - 1 and earlier and not any(x["fell_back"] for x in earlier) and backend != HEURISTIC:
            # every LLM plan so far missed verification (a +60 dB fader is in range, yet a bed then buries the
            # foreground): the last round is the rules', so what is delivered is the rule-based mix, not the miss
            proposal, warnings = PlanProposal(plan=heuristic_plan(scene, experts)), [
                f"mixing.planner: the LLM plans missed verification in {r} rounds ({_short(last['missed'])}), "
                "the last round used the rule-based plan"]
        else:
            proposal, warnings = with_fallback(ctx, "planner", "mixing.planner", llm,
                                               lambda: PlanProposal(plan=heuristic_plan(scene, experts)))
        warnings += rejected
        problems = validate_plan(proposal.plan, set(scene.features), experts)
        if problems:  # only the heuristic path can get here: an expert's own rule broke its own ranges
            raise ValueError(f"mixing planner: an expert proposed an invalid operation: {'; '.join(problems)}")
        plan = {sid: list(proposal.plan.get(sid, [])) for sid in scene.features}
        used = HEURISTIC if warnings else backend  # with_fallback warns exactly when it fell back
        rec["parsed"] = {s: [o.model_dump() for o in ops] for s, ops in plan.items()}
        rec["decision"] = (f"{used}{f' (fell back from {backend})' if used != backend else ''}: "
                           + "; ".join(f"{s} {'+'.join(o.expert for o in ops) or '-'}" for s, ops in plan.items()))
    rounds = [*state.get("settings", {}).get(PLANNER_KEY, {}).get("rounds", []),
              {"round": r, "backend": used, "fell_back": used != backend}]
    return {"plan": plan, "scene": Held(scene, f"analysis of {len(scene.features)} stems"), "warnings": warnings, "settings": {PLANNER_KEY: {"round": r, "rounds": rounds}},
            "timings": {f"mix.plan[{r}]": time.perf_counter() - t0}}


def _short(missed: list[str]) -> str:
    text = "; ".join(missed)
    return text if len(text) <= 100 else text[:97] + "..."


def run_expert(task: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """One expert branch (LangGraph Send): exact parameters from measurement, then an LLM may refine them."""
    ctx = _ctx(runtime)
    expert: BaseExpert = task["expert"]
    name, scene, plan, r = expert.spec.name, unheld(task["scene"]), task["plan"], task["round"]
    backend = ctx.llm_for("experts")
    with ctx.tracer.span(f"mixing.expert.{name}", "agent", backend=backend, inputs=task["ops"], round=r) as rec:
        ops = expert.configure(task["ops"], scene, plan)
        bad = [f"{sid}: {p}" for sid, params in ops.items() for p in expert.spec.check(params)]
        if bad:
            raise ValueError(f"mixing expert '{name}' configured parameters out of its own ranges: {'; '.join(bad)}")
        warnings: list[str] = []
        used = HEURISTIC
        if backend != HEURISTIC and ops:
            reasons = {sid: next((o.reason for o in plan[sid] if o.expert == name), "") for sid in ops}
            measured, rejected = ops, []

            def llm() -> ExpertRefinement:  # parameters out of range (after the re-ask) give way to the measured ones
                try:
                    return llm_refine(ctx, expert, measured, reasons, scene)
                except InvalidAnswer as exc:
                    if not exc.checked:
                        raise  # no answer at all: a failed step, for --fallback to decide
                    reason = exc.reason.removeprefix(f"mixing.expert.{name}: ")
                    rejected.append(f"mixing.expert.{name}: the LLM's parameters could not run, kept the measured "
                                    f"ones: {reason if len(reason) <= 140 else reason[:137] + '...'}")
                    return ExpertRefinement(params=measured)

            refined, warnings = with_fallback(ctx, "experts", f"mixing.expert.{name}", llm,
                                              lambda: ExpertRefinement(params=measured))
            ops, used = refined.params, HEURISTIC if warnings or rejected else backend
            warnings += rejected
        rec["parsed"] = ops
        rec["decision"] = f"{used}: " + "; ".join(f"{s} {json.dumps(p, default=str)}" for s, p in ops.items())
    return {"settings": {name: {"round": r, "ops": ops, "backend": used}}, "warnings": warnings}


def _length(sources: Mapping[str, AudioSource]) -> int:
    return max((src.n for src in sources.values()), default=0)


def render_mix(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Every expert's processing in channel-strip order (EQ → dynamics → … → reverb send) on the original stems,
    window by window (tools/streams.py): each window is read with a pre-roll that settles filters and reverb
    tails, and only its core is kept. Processed stems and bus returns are spilled to the scratch folder."""
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    r, scene, sources = state["round"], unheld(state["scene"]), unheld(state["sources"])
    n = _length(sources)
    window, pre = aligned(ctx.window_s, scene.sr), aligned(PREROLL_S, scene.sr)
    folder = ctx.work_dir / INTERNAL / "render"
    processed = {sid: SpillFile(folder / f"{sid}.f32", src.channels, n) for sid, src in sources.items()}
    returns: dict[str, SpillFile] = {}
    active = [(name, expert, st["ops"]) for name, expert in state["experts"].items()
              if (st := state.get("settings", {}).get(name)) and st["round"] == r and st["ops"]]
    parts: dict[str, list[tuple[dict[str, Any], dict[str, float]]]] = {name: [] for name, _, _ in active}
    seconds = dict.fromkeys(parts, 0.0)
    warnings: list[str] = []
    with ctx.tracer.span("mixing.experts", "agent", backend="local", inputs=sorted(parts), round=r) as rec:
        for a, b in spans(n, window):
            lo = max(0, a - pre)
            stems = {sid: src.read(lo, b) for sid, src in sources.items()}
            here = scene.at(lo)
            for name, expert, ops in active:
                t = time.perf_counter()
                out = expert.process(stems, ops, here)
                for sid, y in [*out.stems.items(), *out.returns.items()]:
                    if not np.isfinite(y).all():  # a plugin's bug must never reach the mix as NaN
                        msg = f"mixing expert '{name}' produced NaN/Inf on {sid}; replaced by zeros"
                        warnings += [msg] if msg not in warnings else []
                        np.nan_to_num(y, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
                stems.update({sid: y for sid, y in out.stems.items() if sid in stems})
                for key, y in out.returns.items():
                    name_key = f"{name}:{key}"
                    if name_key not in returns:
                        returns[name_key] = SpillFile(folder / f"return_{name}_{key}.f32", y.shape[0], n)
                    returns[name_key].write(a, y[:, a - lo:])
                weights = {sid: float(np.sum(np.square(y[:, a - lo:], dtype=np.float64))) for sid, y in stems.items()}
                parts[name].append((out.notes, weights))
                seconds[name] += time.perf_counter() - t
            for sid, y in stems.items():
                processed[sid].write(a, y[:, a - lo:])
        notes = {name: {**_merge_notes(p), "seconds": round(seconds[name], 4)} for name, p in parts.items()}
        rec["parsed"] = notes
    return {"processed": processed, "returns": returns, "notes": notes, "warnings": warnings,
            "timings": {f"mix.experts[{r}]": time.perf_counter() - t0}}


def _merge_notes(parts: list[tuple[dict[str, Any], dict[str, float]]]) -> dict[str, Any]:
    """One expert's notes from every window as one: a per-stem number is the mean over windows weighted by the
    stem's energy there (a ride measured where the stem sounds counts, a silent window does not); anything else
    is the first window's (the room, the carve: the same in every window)."""
    if len(parts) == 1:
        return parts[0][0]

    def mean(values: list[tuple[Any, float]]) -> Any:
        first = values[0][0]
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            total = sum(w for _, w in values)
            if total <= 0:
                return round(float(np.mean([v for v, _ in values])), 2)
            return round(sum(float(v) * w for v, w in values) / total, 2)
        return first

    merged: dict[str, Any] = {}
    for key in dict.fromkeys(k for notes, _ in parts for k in notes):
        found = [(notes[key], w.get(key, 1.0)) for notes, w in parts if key in notes]
        if all(isinstance(v, dict) for v, _ in found):
            merged[key] = {k: mean([(v[k], w) for v, w in found if k in v]) for k in dict.fromkeys(k for v, _ in found for k in v)}
        else:
            merged[key] = mean(found)
    return merged


def verify_mix(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Re-measure what the experts did: masking of each foreground stem by the beds, and each layer's level."""
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    r, scene, plan, processed = state["round"], unheld(state["scene"]), state["plan"], state["processed"]
    t = scene.targets
    with ctx.tracer.span("mixing.verify", "agent", backend="local", inputs=r, round=r) as rec:
        layers = {s: scene.layer(s) for s in processed}
        measured, layer_profiles = measure({**processed, **{f"return:{k}": v for k, v in state.get("returns", {}).items()}},
                                           groups=layers, sr=scene.sr, window_s=ctx.window_s, full=False)  # once per round
        bands = {s: measured[s].bands for s in processed}
        masks = masking_report(bands, layers)
        ret_bands = [measured[f"return:{k}"].bands for k in state.get("returns", {})]
        fg_ids, bg_ids = scene.ids("fg"), scene.ids("bg")
        rides = rides_of(state.get("notes", {}))
        level, ridden = {}, {}
        for layer, ids in (("fg", fg_ids), ("bg", bg_ids)):
            if ids:
                level[layer] = layer_profiles[layer].integrated()
                ridden[layer] = layer_ride([measured[s].mean_square for s in ids], [rides.get(s, 0.0) for s in ids])
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
        with_returns = {s: round(masking_with(bands, s, [bands[b] for b in bg_ids] + ret_bands), 2) for s in fg_ids}
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
        rec["decision"] = ("passed" if not missed else "missed: " + "; ".join(missed)) + " (" + ", ".join(
            f"{k} {v:.1f} LUFS" for k, v in level.items()) + ")"
    return {"rounds": [result], "round": r + 1, "timings": {f"mix.verify[{r}]": time.perf_counter() - t0}}



def master_mix(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Sum, master to the loudness target with the true-peak ceiling (BS.1770 / A/85 / R128), write the stereo
    mix and the upmix buses, and the MixPlan: analysis, plan with reasons, and what verification measured."""
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    scene: MixScene = unheld(state["scene"])
    processed, returns = state["processed"], state.get("returns", {})
    with ctx.tracer.span("mixing.master", "agent", backend="local", inputs=sorted(processed)) as rec:
        n = _length(processed) if processed else 1
        window = aligned(ctx.window_s, scene.sr)
        scratch = ctx.work_dir / INTERNAL
        pre = SpillFile(scratch / "premaster.f32", 2, n)
        for a, b in spans(n, window):  # the sum of every processed stem and return, once
            parts = [src.read(a, b) for src in (*processed.values(), *returns.values())]
            pre.write(a, np.sum(parts, axis=0) if parts else np.zeros((2, b - a), np.float32))
        target, warnings = master_target(ctx.target_lufs, scene)
        with WavWriter(ctx.work_dir / "mix_stereo.wav", 2, scene.sr) as wav:
            measured = proc.master_source(pre, lambda a, y: wav.write(y), target_lufs=target, max_gain_db=MAX_MAKEUP_DB,
                                          ceiling_dbtp=ctx.true_peak_dbtp, sr=scene.sr, window=window, scratch=scratch)
        pre.remove()
        # the 5.1 is mastered to what the stereo reached, so both deliveries agree when the target was not the norm
        measured["target_lufs"] = measured["integrated_lufs"] if measured.get("gain_capped") else target
        if measured.get("gain_capped"):
            warnings.append(f"make-up gain capped at +{MAX_MAKEUP_DB:g} dB: the mix reads {measured['integrated_lufs']:.1f} "
                            f"LUFS, under the {target:.0f} LUFS target (the stems are very quiet)")
        last = (state.get("rounds") or [{}])[-1]
        if last.get("passed") is False:
            warnings.append(f"mix verification failed after {len(state['rounds'])} round(s): {'; '.join(last['missed'])}")
        gain = np.float32(proc.db_to_gain(measured.get("gain_db", 0.0)))
        clues = {k: EventClues.model_validate(v) for k, v in state.get("clues", {}).items()}
        route = {sid: route_bus(scene.events[sid], clues.get(sid)) for sid in processed}
        buses = {k: SpillFile(scratch / f"bus_{k}.f32", 2, n) for k in BUSES}
        for a, b in spans(n, window):
            acc = {k: np.zeros((2, b - a), np.float32) for k in BUSES}
            for sid, src in processed.items():
                acc[route[sid]] += src.read(a, b) * gain
            for src in returns.values():
                acc["ambience"] += src.read(a, b) * gain  # a diffuse return belongs around the listener (see upmix)
            for k, bus in buses.items():
                bus.write(a, acc[k])
        kept = bool(set(ctx.deliver) - {"stereo", "5.1"})  # immersive delivery renders objects from them (delivery.py)
        # the processed strips stay in the scratch folder until the run removes it: the report's Stems monitor
        # plays them as they were mixed (report/mixdown.py) instead of rendering every strip a second time
        rec["parsed"] = measured
    space = {**scene.space.as_dict(), **state.get("notes", {}).get("reverb", {})}
    analysis = {"band_centres_hz": [round(float(c), 1) for c in band_centres_hz()], "targets": asdict(scene.targets),
                "level_gains_db": {s: round(g, 2) for s, g in scene.level_gains.items()},
                "depths_m": {s: round(d, 2) for s, d in scene.depths.items()}}
    used, records = as_run(state)
    plan = MixPlan(target_lufs=ctx.target_lufs, true_peak_dbtp=ctx.true_peak_dbtp, features=list(scene.features.values()),
                   plan=used, analysis=analysis, space=space, experts=capabilities(state["experts"]),
                   verification={**records, "rounds": state.get("rounds", []), "master": measured})
    done = time.perf_counter()
    # What immersive delivery reads from the scratch folder: processed stems and returns, with their channels.
    render = {"render": {"stems": {s: src.channels for s, src in processed.items()},
                         "returns": {src.path.name: src.channels for src in returns.values()}}} if kept else {}
    return {"mix_plan": plan.model_dump(mode="json"), "mix": {"stereo": "mix_stereo.wav", **render},
            "warnings": warnings,
            "timings": {"mix.master": done - t0, "mix": done - state.get("started", t0)}}
