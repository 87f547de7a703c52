"""An edited copy of script.json, given to `foley run --edits` in place of an edits file: compared with the
source run's script and turned into the ops it stands for (edits.py), so both are checked and applied alike."""

from __future__ import annotations

from typing import Any

from foleydesigner.edits import EditOp, EditsFile, MoveOnsetOp, MoveOp, RemoveOp, RestoreOp, SetOp
from foleydesigner.errors import InputError
from foleydesigner.schemas import FoleyScript, SoundEvent


def _close(a: float, b: float) -> bool:
    return abs(a - b) < 1e-4


def ops_from_script(source: FoleyScript, edited: FoleyScript) -> list[EditOp]:
    """The ops that turn the source run's script into an edited copy of it. Only what ops can say may differ
    (which events, their times, class, surface, layer and params.gain_db); anything else is one InputError."""
    old = {e.id: e for e in source.events}
    cands = {e.id: e for e in source.candidates}
    new = {e.id: e for e in edited.events}
    ops: list[EditOp] = [RemoveOp(op="remove", id=i) for i in old if i not in new]
    for ev in edited.events:
        if ev.id in old:
            base = old[ev.id]
        elif ev.id in cands:
            ops.append(RestoreOp(op="restore", id=ev.id))
            base = cands[ev.id]
        else:
            raise InputError(f"edited script: event '{ev.id}' is neither an event nor a candidate of the source "
                             "run; an edit cannot add new sounds")
        ops += _event_ops(base, ev)
    return ops


def _event_ops(base: SoundEvent, ev: SoundEvent) -> list[EditOp]:
    ops: list[EditOp] = []
    shift = ev.start_s - base.start_s
    if not _close(shift, 0.0):
        ops.append(MoveOp(op="move", id=ev.id, by_s=shift))
    if len(ev.onsets_s) != len(base.onsets_s):
        raise InputError(f"edited script: event '{ev.id}' has {len(ev.onsets_s)} onsets, the source {len(base.onsets_s)}; "
                         "onsets can be moved, not added or removed")
    for i, (a, b) in enumerate(zip(sorted(base.onsets_s), sorted(ev.onsets_s), strict=True)):
        if not _close(a + shift, b):
            ops.append(MoveOnsetOp(op="move_onset", id=ev.id, index=i, to_s=b))
    changes: dict[str, Any] = {}
    if ev.label != base.label:
        changes["label"] = ev.label
    if ev.params.get("surface") != base.params.get("surface") and ev.params.get("surface") is not None:
        changes["surface"] = ev.params["surface"]
    if ev.layer != base.layer:
        changes["layer"] = ev.layer
    if float(ev.params.get("gain_db", 0.0)) != float(base.params.get("gain_db", 0.0)):
        changes["gain_db"] = float(ev.params.get("gain_db", 0.0))
    if changes:
        ops.append(SetOp(op="set", id=ev.id, **changes))
    ignored = {"start_s", "end_s", "onsets_s", "label", "layer", "params", "evidence", "confidence", "description"}
    for field in sorted(set(SoundEvent.model_fields) - ignored):
        if getattr(ev, field) != getattr(base, field):
            raise InputError(f"edited script: event '{ev.id}' changes {field}; edits change times, label, "
                             "params.surface, layer and params.gain_db only")
    return ops


def normalised(edits: EditsFile | FoleyScript, source: FoleyScript) -> list[EditOp]:
    """The ops of an edits file, or those an edited script.json stands for."""
    return ops_from_script(source, edits) if isinstance(edits, FoleyScript) else list(edits.edits)
