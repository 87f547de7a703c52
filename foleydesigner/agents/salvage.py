"""Salvage: a model's Foley script that the schema refuses over one event is not thrown away whole.

The writer's answer goes back to the model once with the validation error (llm.structured_call). When the second
answer still breaks the schema, the events that can be read are kept and the rest dropped, each with a note,
instead of losing every event (the run failing, or the offline rules replacing the whole script):
  times        a negative start is clamped to 0 where the event still lasts past it (the overlap is real); a time
               that is not a finite number, an end before its start, or an event wholly before 0 is dropped;
  layer        a layer other than fg/bg ('middle') becomes the lexicon's layer for the class, else it is dropped;
  numbers      intensity and confidence outside [0, 1] are clipped; onsets that are not finite numbers go;
  ids          a repeated id gets a suffix (_2, _3...);
  fields       a field the schema does not know is left out; a scene it cannot read is left unknown.
What is kept is then grounded like any other answer (agents/enforce.py). The notes start with "salvaged:" and
become warnings (enforce.ground_script).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from foleydesigner.lexicon import BY_NAME
from foleydesigner.schemas import FoleyScript, SceneContext, SoundEvent

NOTE = "salvaged"
_FIELDS = frozenset(SoundEvent.model_fields)


def _number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _event(raw: Any, i: int) -> tuple[dict[str, Any] | None, str]:
    """The event as the schema reads it, or None; and what was changed or why it went."""
    if not isinstance(raw, dict):
        return None, f"events[{i}] is not an object; dropped"
    name = str(raw.get("id") or f"events[{i}]")
    ev = {k: v for k, v in raw.items() if k in _FIELDS}
    changed = [f"left out {', '.join(sorted(set(raw) - _FIELDS))}"] if set(raw) - _FIELDS else []
    start, end = _number(ev.get("start_s")), _number(ev.get("end_s"))
    if start is None or end is None:
        return None, f"{name}: start_s/end_s {raw.get('start_s')!r}-{raw.get('end_s')!r} are not times; dropped"
    if end < start:
        return None, f"{name}: ends ({end:g} s) before it starts ({start:g} s); dropped"
    if end <= 0:
        return None, f"{name}: {start:g}-{end:g} s is before the clip; dropped"
    if start < 0:
        changed.append(f"start {start:g} s clamped to 0")
        start = 0.0
    ev.update(start_s=start, end_s=end)
    if ev.get("layer") not in ("fg", "bg"):
        entry = BY_NAME.get(str(ev.get("label", "")))
        if entry is None:
            return None, f"{name}: layer {ev.get('layer')!r} is neither fg nor bg; dropped"
        changed.append(f"layer {ev.get('layer')!r} read as {entry.layer}")
        ev["layer"] = entry.layer
    for key, default in (("intensity", 0.7), ("confidence", 1.0)):
        if key in ev:
            v = _number(ev[key])
            ev[key] = default if v is None else min(1.0, max(0.0, v))
    if isinstance(ev.get("onsets_s"), list):
        onsets = [o for o in map(_number, ev["onsets_s"]) if o is not None and o >= 0]
        if len(onsets) != len(ev["onsets_s"]):
            changed.append("onsets before 0 or not times left out")
        ev["onsets_s"] = onsets
    if ev.get("depth_m") is not None and not (_number(ev["depth_m"]) or 0) > 0:
        ev.pop("depth_m")
    try:
        SoundEvent.model_validate(ev)
    except ValidationError as exc:
        first = exc.errors()[0]
        return None, f"{name}: {'.'.join(map(str, first['loc']))}: {first['msg']}; dropped"
    return ev, f"{name}: {', '.join(changed)}" if changed else ""


def salvage_script(args: Any) -> tuple[FoleyScript, list[str]] | None:
    """The readable part of a FoleyScript answer the schema refused, with one note per change; None when there is
    nothing to read (not an object, no events list)."""
    if not isinstance(args, dict) or not isinstance(args.get("events"), list):
        return None
    notes: list[str] = []
    events: list[dict[str, Any]] = []
    ids: set[str] = set()
    for i, raw in enumerate(args["events"]):
        ev, note = _event(raw, i)
        if note:
            notes.append(f"{NOTE}: {note}")
        if ev is None:
            continue
        base = SoundEvent.model_validate(ev).id
        eid, n = base, 2
        while eid in ids:
            eid, n = f"{base}_{n}", n + 1
        if eid != base:
            notes.append(f"{NOTE}: {base}: the id is used twice; this one is {eid}")
        ids.add(eid)
        events.append({**ev, "id": eid})
    try:
        scene = SceneContext.model_validate(args.get("scene") or {})
    except ValidationError:
        scene = SceneContext()
        notes.append(f"{NOTE}: the scene could not be read; left unknown")
    duration = _number(args.get("duration_s"))
    duration = duration if duration and duration > 0 else max((e["end_s"] for e in events), default=1.0) or 1.0
    return FoleyScript(duration_s=duration, scene=scene, events=[SoundEvent.model_validate(e) for e in events],
                       notes=notes), notes
