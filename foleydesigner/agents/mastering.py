"""What the mixer's last steps decide: the keyed rides a layer took on purpose, masking with the reverb returns,
the loudness the master aims at (with its make-up cap), and the plan as it ran with who decided each part.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foleydesigner.agents.experts import MixScene, MixTargets
from foleydesigner.agents.mixplan import DEFAULT_TARGETS, PLANNER_KEY
from foleydesigner.llm import HEURISTIC
from foleydesigner.schemas import MixOperation


def rides_of(notes: dict[str, Any]) -> dict[str, float]:
    """Per stem, the LU its experts took it down on purpose under the foreground (`ride_lu` in their notes)."""
    out: dict[str, float] = {}
    for expert_notes in notes.values():
        for sid, n in expert_notes.items():
            if isinstance(n, dict) and "ride_lu" in n:
                out[sid] = out.get(sid, 0.0) + float(n["ride_lu"])
    return out


def layer_ride(power: list[float], rides: list[float]) -> float:
    """A layer's ride in LU: its stems' rides weighted by their power in the layer."""
    p = np.asarray(power, dtype=np.float64)
    if not any(rides) or p.sum() <= 0:
        return 0.0
    return float(10 * np.log10(np.sum(p * 10 ** (np.asarray(rides) / 10)) / p.sum()))


def masking_with(bands: dict[str, np.ndarray], sid: str, maskers: list[np.ndarray]) -> float:
    from foleydesigner.tools.analysis import combined_db, masking_db

    return masking_db(bands[sid], combined_db(maskers, bands[sid]))


#: The most the master may raise a mix. A re-recording mixer brings a quiet mix up a few dB, never a noise floor
#: by 15: past this the stems themselves are wrong, and the warning says so.
MAX_MAKEUP_DB = 10.0


def master_target(target_lufs: float, scene: MixScene) -> tuple[float, list[str]]:
    """The loudness the master aims at. With foreground sounds, the delivery target. Without any (an ambience-only
    scene), the beds' reference level: where they sit under a foreground mastered to the target (the planner's
    fg/bg spacing), so room tone is not normalised up to programme loudness."""
    return layered_target(target_lufs, has_fg=bool(scene.ids("fg")), has_bg=bool(scene.ids("bg")), targets=scene.targets)


def layered_target(target_lufs: float, *, has_fg: bool, has_bg: bool,
                   targets: MixTargets = DEFAULT_TARGETS) -> tuple[float, list[str]]:
    """master_target's rule from what a programme holds (a run's scene, or a conformed reel of runs)."""
    if has_fg or not has_bg:
        return target_lufs, []
    t = targets
    ref = target_lufs - (t.fg_lufs - t.bg_lufs)
    return ref, [f"no foreground sounds: the beds are delivered at their reference level, {ref:.0f} LUFS "
                 f"({t.fg_lufs - t.bg_lufs:.0f} LU under the {target_lufs:.0f} LUFS target), not normalised up to it"]


def as_run(state: dict[str, Any]) -> tuple[dict[str, list[MixOperation]], dict[str, Any]]:
    """The last round's plan with each operation's parameters as its expert ran them (configured from measurements,
    refined by an LLM), and who decided: the planner that ran each round (after any fallback), each expert's
    backend, and, where an expert changed what the planner asked for, both values."""
    last = int(state.get("round", 1)) - 1
    settings = state.get("settings", {})
    ran = {name: st for name, st in settings.items() if not name.startswith("@") and st.get("round") == last}
    plan: dict[str, list[MixOperation]] = {}
    changed: dict[str, dict[str, Any]] = {}
    for sid, ops in state["plan"].items():
        plan[sid] = []
        for op in ops:
            params = ran.get(op.expert, {}).get("ops", {}).get(sid, op.params)
            plan[sid].append(op.model_copy(update={"params": dict(params)}))
            if params != op.params:
                changed.setdefault(sid, {})[op.expert] = {"planned": dict(op.params), "ran": dict(params),
                                                          "by": ran[op.expert].get("backend", HEURISTIC)}
    rounds = settings.get(PLANNER_KEY, {}).get("rounds", [])
    planner = rounds[-1]["backend"] if rounds else HEURISTIC
    records = {"planner": planner, "planner_fell_back": any(r["fell_back"] for r in rounds), "planner_rounds": rounds,
               "experts_backend": {name: st.get("backend", HEURISTIC) for name, st in ran.items()},
               "refined": changed}
    return plan, records
