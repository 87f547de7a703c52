"""The mixing planner's material (paper §4): the Foley Analysis of the stems, the rule-based plan Π = {(stem, O)},
its validation against the experts' ranges, and the LLM planner and expert-refinement calls.

agents/mixing.py's nodes use these; report/mixdown.py re-renders a run's mix with `analyse`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from foleydesigner.agents.experts import BaseExpert, MixScene, MixTargets, capabilities
from foleydesigner.context import RunContext
from foleydesigner.edits import gain_offset_db
from foleydesigner.llm import ask
from foleydesigner.prompts import mixing as P
from foleydesigner.schemas import (
    EventClues,
    ExpertRefinement,
    FoleyScript,
    MixOperation,
    PlanProposal,
    SoundEvent,
)
from foleydesigner.tools import processing as proc
from foleydesigner.tools.analysis import measure, stem_features
from foleydesigner.tools.loudness import SILENCE_LUFS
from foleydesigner.tools.streams import WINDOW_S, ArrayAudio, AudioSource
from foleydesigner.units import SAMPLE_RATE

_FG_REF_INTENSITY, _BG_REF_INTENSITY = 0.7, 0.45  # intensity that sits exactly on the layer target
DEFAULT_TARGETS = MixTargets()
#: Where plan_mix keeps which backend planned each round, in the `settings` channel beside the experts' (no expert
#: name starts with "@"): mix_plan.json must name the planner that ran, not the one asked for.
PLANNER_KEY = "@planner"

class Held:
    """A heavy in-memory object (the whole-clip analysis, the stem sources) kept in the mixing state behind a small
    face. A tracer (LangSmith) serialises node inputs: it gets `to_dict()`, a reference, never the arrays (the
    analysis alone is ~17 MB for the demo, and every node of the subgraph sees it). The subgraph is never
    checkpointed, so nothing else serialises it; deepcopy (a tracer's copy of inputs) shares the object."""

    __slots__ = ("value", "what")

    def __init__(self, value: Any, what: str) -> None:
        self.value, self.what = value, what

    def to_dict(self) -> dict[str, str]:
        return {"held_in_memory": self.what}

    def __repr__(self) -> str:
        return f"<{self.what}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> Held:
        return self


def unheld(x: Any) -> Any:
    return x.value if isinstance(x, Held) else x


def level_gains(layer_lufs: Mapping[str, float], events: Mapping[str, SoundEvent], *,
                targets: MixTargets = DEFAULT_TARGETS) -> dict[str, float]:
    """Fader move (dB) per stem that brings each layer *as a group* to its target, ±3 dB by intensity.

    `layer_lufs` is each layer's integrated loudness (its stems summed). Levelling the layer rather than each
    stem keeps the distance cues the renderer put between a near and a far source (paper §2's depth); a silent
    layer gets no move.
    """
    gains: dict[str, float] = {}
    for layer, target, ref in (("fg", targets.fg_lufs, _FG_REF_INTENSITY), ("bg", targets.bg_lufs, _BG_REF_INTENSITY)):
        ids = [s for s in events if events[s].layer == layer]
        lufs = layer_lufs.get(layer, SILENCE_LUFS)
        if not ids or lufs <= SILENCE_LUFS:
            continue
        for s in ids:
            gains[s] = float(np.clip(target - lufs + 6.0 * (events[s].intensity - ref) + gain_offset_db(events[s]),
                                     -40.0, 60.0))  # + a reviewer's fader offset (edits.py `set gain_db`)
    return gains


def as_sources(audio: Mapping[str, Any]) -> dict[str, AudioSource]:
    return {sid: a if hasattr(a, "read") else ArrayAudio(a) for sid, a in audio.items()}


def analyse(audio: Mapping[str, Any], script: FoleyScript, clues: dict[str, EventClues], *,
            sr: int = SAMPLE_RATE, targets: MixTargets = DEFAULT_TARGETS, window_s: float = WINDOW_S) -> MixScene:
    """Foley Analysis: f = [f_sem, f_spec, f_rev, f_loud] per stem, masking, the scene's space, the layer balance.

    `audio` maps stem ids to arrays or AudioSources (tools/streams.py); they are measured in one windowed pass.
    """
    sources = as_sources(audio)
    events = {e.id: e for e in script.events if e.id in sources}
    stats, layer_profiles = measure(sources, groups={sid: events[sid].layer for sid in sources}, sr=sr,
                                    window_s=window_s)
    meta = {sid: (events[sid].label, events[sid].layer) for sid in sources}
    features = {f.event_id: f for f in stem_features(stats, meta)}
    depths = {sid: float(np.median(clues[sid].depth_m)) for sid in sources if sid in clues}
    layer_lufs = {layer: p.integrated() for layer, p in layer_profiles.items()}
    return MixScene(sr=sr, scene=script.scene, events=events, features=features,
                    bands={sid: st.bands for sid, st in stats.items()},
                    profiles={sid: st.profile for sid, st in stats.items()}, depths=depths,
                    space=proc.room_space(script.scene), level_gains=level_gains(layer_lufs, events, targets=targets),
                    targets=targets, stats=stats)


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


def features_text(scene: MixScene, ids: list[str] | None = None) -> str:
    ids = ids or list(scene.features)
    return "\n".join(scene.features[s].model_dump_json(exclude={"short_term_lufs"}) for s in ids)


def llm_plan(ctx: RunContext, scene: MixScene, experts: dict[str, BaseExpert], last: dict[str, Any] | None) -> PlanProposal:
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
                                                   features=features_text(scene), feedback=feedback))]

    def check(proposal: PlanProposal) -> str | None:  # a plan that cannot run goes back once, in the same call
        problems = validate_plan(proposal.plan, set(scene.features), experts)
        if not problems and scene.features and not any(proposal.plan.values()):
            problems = ["the plan has no operation for any stem: every stem needs at least its level set"]
        return (P.PLAN_INVALID.format(problems="; ".join(problems)) + f"\nYour plan was: {proposal.model_dump_json()}"
                if problems else None)

    return ask(ctx, "planner", "mixing.planner", messages, PlanProposal, check=check)


def llm_refine(ctx: RunContext, expert: BaseExpert, ops: dict[str, dict[str, Any]], reasons: dict[str, str],
                scene: MixScene) -> ExpertRefinement:
    from langchain_core.messages import HumanMessage, SystemMessage

    node = f"mixing.expert.{expert.spec.name}"
    messages = [SystemMessage(P.EXPERT_SYSTEM.format(name=expert.spec.name, capability=json.dumps(expert.spec.capability()))),
                HumanMessage(P.EXPERT_USER.format(scene=scene.scene.model_dump_json(), space=json.dumps(scene.space.as_dict()),
                                                  reasons=json.dumps(reasons), params=json.dumps(ops, default=str),
                                                  features=features_text(scene, list(ops))))]

    def merged(out: ExpertRefinement) -> dict[str, dict[str, Any]]:  # only the stems it was given, each as refined
        return {sid: out.params.get(sid, p) for sid, p in ops.items()}

    def check(out: ExpertRefinement) -> str | None:
        problems = [f"{sid}: {p}" for sid, params in merged(out).items() for p in expert.spec.check(params)]
        return (f"These parameters cannot run: {'; '.join(problems)}. Call ExpertRefinement again with every stem's "
                "parameters inside the ranges." if problems else None)

    out = ask(ctx, "experts", node, messages, ExpertRefinement, check=check)
    return ExpertRefinement(params=merged(out), note=out.note)


# --- nodes ------------------------------------------------------------------------------------------------------
