"""A supervisor's edits of a finished run (edits.json, exported by report.html or written by a script or an LLM).

    {"format": "foleydesigner.edits/1", "run": "<source run folder, optional>", "edits": [op, ...]}

ops, applied in order: remove an event (it goes to the candidates, so a later `restore` brings it back), restore
a candidate, move an event (`by_s` or `to_s`, its new start) or one of its onsets, and `set` an event's class
(`label`), walking `surface`, `layer` and `gain_db` (a fader offset on the mixer's level). An edited copy of
script.json is accepted too: script_diff.py turns it into the same ops by comparing it with the source run's script.

Edits are checked like an LLM's answer (an unknown class or id, a time outside the clip, a bad layer or gain):
the first problem is one line naming the op's index, and nothing runs. `render_changed` then says which stems
must be rendered again: only those whose event or clues changed in a way the generator hears.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from foleydesigner.errors import InputError
from foleydesigner.schemas import EventClues, FoleyScript, Layer, SoundEvent, VideoInfo

FORMAT = "foleydesigner.edits/1"
#: A user's fader offset (dB) on top of the level the mixer plans: as far down as the mixer itself goes, and up
#: to +20 dB (more would push a stem into the limiter rather than forward in the mix).
GAIN_RANGE_DB = (-40.0, 20.0)
#: A moved onset of a track-bound event makes its source heard from the onset this long (s): the hard activation
#: mask of a tracked source would otherwise mute a hit moved onto frames where the event was not active.
ONSET_HEARD_S = 0.5
#: Event fields that never change a stem's samples: a stem whose event differs only in these is reused.
_MIX_ONLY = {"layer", "confidence", "evidence", "origin"}


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RemoveOp(_Op):
    """Take an event out of the run (kept in the script's candidates)."""

    op: Literal["remove"]
    id: str


class RestoreOp(_Op):
    """Render a candidate (a sound spotted on weak evidence) as an event."""

    op: Literal["restore"]
    id: str


class _TimeOp(_Op):
    by_s: float | None = Field(default=None, allow_inf_nan=False, description="shift, seconds (+ later)")
    to_s: float | None = Field(default=None, allow_inf_nan=False, description="new time, seconds in the clip")

    @model_validator(mode="after")
    def _one_of(self) -> _TimeOp:
        if (self.by_s is None) == (self.to_s is None):
            raise ValueError("give one of by_s (a shift) or to_s (a time), not both or neither")
        return self


class MoveOp(_TimeOp):
    """Move the whole event: its start, end and onsets (`to_s` is its new start); its clues move with it."""

    op: Literal["move"]
    id: str


class MoveOnsetOp(_TimeOp):
    """Move one onset (index into the event's onsets_s, in time order) by by_s, or to to_s."""

    op: Literal["move_onset"]
    id: str
    index: int = Field(ge=0)


class SetOp(_Op):
    """Change an event's sound class, walking surface, layer or fader (dB), any of them."""

    op: Literal["set"]
    id: str
    label: str | None = Field(default=None, min_length=1)
    surface: str | None = Field(default=None, min_length=1)
    layer: Layer | None = None
    gain_db: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _something(self) -> SetOp:
        if all(v is None for v in (self.label, self.surface, self.layer, self.gain_db)):
            raise ValueError("set needs at least one of label, surface, layer, gain_db")
        return self


EditOp = Annotated[RemoveOp | RestoreOp | MoveOp | MoveOnsetOp | SetOp, Field(discriminator="op")]
OPS: dict[str, type[_Op]] = {"remove": RemoveOp, "restore": RestoreOp, "move": MoveOp, "move_onset": MoveOnsetOp,
                             "set": SetOp}


class EditsFile(_Op):
    """edits.json: the operations, in the order they apply, and optionally the run they apply to."""

    format: Literal["foleydesigner.edits/1"] = FORMAT
    run: str | None = Field(default=None, description="the source run's folder (absolute, or relative to the "
                            "current folder or to the edits file)")
    edits: list[EditOp] = Field(default_factory=list)


# ---- reading -----------------------------------------------------------------------------------------------

def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"] if p not in OPS)
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def parse_edits(data: Any, *, name: str = "edits") -> EditsFile:
    """An edits file's JSON → EditsFile; the first problem is one InputError naming the op's index."""
    if not isinstance(data, dict):
        raise InputError(f"{name}: give a JSON object {{\"format\": \"{FORMAT}\", \"edits\": [...]}}")
    unknown = sorted(set(data) - {"format", "run", "edits"})
    if unknown:
        raise InputError(f"{name}: unknown field '{unknown[0]}' (fields: format, run, edits)")
    if data.get("format", FORMAT) != FORMAT:
        raise InputError(f"{name}: format {data.get('format')!r} is not {FORMAT!r}")
    if not isinstance(data.get("edits", []), list):
        raise InputError(f"{name}: edits must be a list of operations")
    if data.get("run") is not None and not isinstance(data["run"], str):
        raise InputError(f"{name}: run must be the source run's folder, as a string")
    ops = []
    for i, raw in enumerate(data.get("edits", [])):
        kind = raw.get("op") if isinstance(raw, dict) else None
        if kind not in OPS:
            shown = f"unknown op {kind!r}" if isinstance(raw, dict) else "not an object"
            raise InputError(f"{name}: edits[{i}]: {shown}; ops are {', '.join(OPS)}")
        try:
            ops.append(OPS[kind].model_validate(raw))
        except ValidationError as exc:
            raise InputError(f"{name}: edits[{i}] ({kind}): {_first_error(exc)}") from None
    return EditsFile(format=FORMAT, run=data.get("run"), edits=ops)  # type: ignore[arg-type]


def read_edits(path: str | Path) -> EditsFile | FoleyScript:
    """edits.json, or an edited copy of script.json (told by its shape: duration_s and events)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--edits {p}: no such file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"--edits {p} is not UTF-8 text; give an edits.json or an edited script.json") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"--edits {p} is not JSON (line {exc.lineno}: {exc.msg})") from None
    if isinstance(data, dict) and "events" in data and "duration_s" in data:  # its "edits" are a record of past ones
        try:
            return FoleyScript.model_validate(data)
        except ValidationError as exc:
            raise InputError(f"--edits {p}: an edited script.json, but {_first_error(exc)}") from None
    return parse_edits(data, name=f"--edits {p}")


# ---- checking and applying ----------------------------------------------------------------------------

def known_class(label: str) -> tuple[str, dict[str, Any]] | None:
    """(the class name an event takes, its recipe's params) for a label the lexicon or the generator knows."""
    from foleydesigner.generation import procedural
    from foleydesigner.lexicon import lookup

    entry = lookup(label)
    if entry is not None:
        return entry.name, dict(entry.params)
    cls = procedural.resolve_class(label)
    return (cls, {}) if cls else None


def _model_of(label: str) -> str | None:
    """The procedural model that renders a label (a lexicon class names its recipe's model)."""
    from foleydesigner.generation import procedural
    from foleydesigner.lexicon import lookup

    entry = lookup(label)
    return procedural.resolve_class(entry.sound_class if entry else label)


def _surface_for(label: str, surface: str) -> str | None:
    """The surface a class's generator takes for a word ('wooden' → 'wood'), or None if it has no such surface."""
    from foleydesigner.generation import procedural
    from foleydesigner.lexicon import find_surface

    cls = _model_of(label)
    choices = procedural.param_options(cls).get("surface") if cls else None
    if not choices or not isinstance(choices[0], str):
        return None
    word = surface.strip().lower()
    word = word if word in choices else (find_surface(word) or word)
    return word if word in choices else None


class _Problem(Exception):
    pass


def _check_time(t: float, duration_s: float, what: str) -> None:
    if not 0.0 <= t < duration_s:
        raise _Problem(f"{what} {t:.3f} s is outside the clip (0 to {duration_s:.3f} s)")


def shift_clues(clues: EventClues, by_s: float) -> EventClues:
    """A moved event's clues: each frame takes the value the source had by_s earlier (its ends held)."""
    t = np.asarray(clues.t_s, np.float64)
    back = t - by_s

    def interp(v: list[float]) -> list[float]:
        return np.interp(back, t, np.asarray(v, np.float64)).round(3).tolist()

    idx = np.clip(np.round(back * clues.fps).astype(int), 0, len(t) - 1)
    act = np.asarray(clues.activation)[idx] * ((back >= -0.5 / clues.fps) & (back <= t[-1] + 0.5 / clues.fps))
    return clues.model_copy(update={"depth_m": interp(clues.depth_m), "azimuth_deg": interp(clues.azimuth_deg),
                                    "elevation_deg": None if clues.elevation_deg is None else interp(clues.elevation_deg),
                                    "activation": act.astype(int).tolist()})


def _relaid(ev: SoundEvent, clues: EventClues | None, video: VideoInfo) -> EventClues | None:
    """Clues that are the event's span alone (a script cue, a bed): laid out again for its new times."""
    if clues is None or clues.source == "track":
        return clues
    from foleydesigner.tools.clues import clues_for_event

    return clues_for_event(ev, [], video)


def _apply_one(op: EditOp, events: dict[str, SoundEvent], cands: dict[str, SoundEvent],
               clues: dict[str, EventClues], video: VideoInfo) -> str:
    dur = video.duration_s
    if isinstance(op, RestoreOp):
        if op.id not in cands:
            hint = "it is an event already" if op.id in events else f"candidates: {', '.join(cands) or 'none'}"
            raise _Problem(f"unknown candidate '{op.id}' ({hint})")
        events[op.id] = cands.pop(op.id)
        return f"restored candidate {op.id}"
    if op.id not in events:
        hint = "a candidate: restore it first" if op.id in cands else f"events: {', '.join(events) or 'none'}"
        raise _Problem(f"unknown event '{op.id}' ({hint})")
    ev = events[op.id]
    if isinstance(op, RemoveOp):
        cands[op.id] = ev.model_copy(update={"evidence": [*ev.evidence, "removed in review (edits)"]})
        del events[op.id]  # its clues stay in `clues`: a later restore of it needs them
        return f"removed {op.id}"
    if isinstance(op, MoveOp):
        by = op.by_s if op.by_s is not None else op.to_s - ev.start_s  # type: ignore[operator]
        start = ev.start_s + by
        _check_time(start, dur, "the new start")
        # as a clip slid along a DAW's timeline: the hits that pass the clip's end are cut, the others move
        onsets = [o + by for o in ev.onsets_s if 0.0 <= o + by < dur]
        if ev.onsets_s and not onsets:
            raise _Problem(f"every onset of {op.id} would be outside the clip (0 to {dur:.3f} s)")
        events[op.id] = ev = ev.model_copy(update={"start_s": start, "end_s": min(max(ev.end_s + by, start), dur),
                                                   "onsets_s": onsets})
        if op.id in clues:
            moved = shift_clues(clues[op.id], by) if clues[op.id].source == "track" else _relaid(ev, clues[op.id], video)
            clues[op.id] = moved  # type: ignore[assignment]
        return f"moved {op.id} by {by:+.3f} s"
    if isinstance(op, MoveOnsetOp):
        order = sorted(ev.onsets_s)
        if op.index >= len(order):
            raise _Problem(f"index {op.index}: {op.id} has {len(order)} onsets")
        new = op.to_s if op.to_s is not None else order[op.index] + op.by_s  # type: ignore[operator]
        _check_time(new, dur, "the onset moved to")
        onsets = sorted([*order[:op.index], new, *order[op.index + 1:]])
        ring = max(0.0, ev.end_s - order[-1])  # the tail after the last hit stays as long
        events[op.id] = ev = ev.model_copy(update={"onsets_s": onsets, "start_s": min(ev.start_s, new),
                                                   "end_s": min(dur, max(ev.end_s, onsets[-1] + ring))})
        c = clues.get(op.id)
        if c is not None and c.source == "track":
            t = np.asarray(c.t_s)
            heard = (t + 0.5 / c.fps > new) & (t - 0.5 / c.fps <= min(new + ONSET_HEARD_S, ev.end_s))
            clues[op.id] = c.model_copy(update={"activation": (np.asarray(c.activation) | heard).astype(int).tolist()})
        elif c is not None:
            clues[op.id] = _relaid(ev, c, video)  # type: ignore[assignment]
        return f"moved onset {op.index} of {op.id} to {new:.3f} s"
    assert isinstance(op, SetOp)
    update: dict[str, Any] = {}
    params = dict(ev.params)
    done = []
    label = ev.label
    if op.label is not None:
        found = known_class(op.label)
        if found is None:
            raise _Problem(f"unknown sound class '{op.label}' (`foley sounds` lists them)")
        label, recipe = found
        # Another model: the old class's parameters do not belong to it, its recipe's do. The same model
        # (footsteps → running_footsteps) keeps what was set on it (the surface) under the new recipe. The library's
        # choices were for the old class either way.
        kept = {k: v for k, v in params.items() if k != "library"} if _model_of(label) == _model_of(ev.label) else \
            {k: v for k, v in params.items() if k == "gain_db"}
        params = {**kept, **recipe}
        update["label"] = label
        done.append(f"class {ev.label} → {label}")
    if op.surface is not None:
        surface = _surface_for(label, op.surface)
        if surface is None:
            raise _Problem(f"surface '{op.surface}': class {label} has no such walking surface")
        params["surface"] = surface
        params.pop("library", None)  # the library's choice was for the old surface
        done.append(f"surface {surface}")
    if op.layer is not None:
        update["layer"] = op.layer
        done.append(f"layer {op.layer}")
    if op.gain_db is not None:
        lo, hi = GAIN_RANGE_DB
        if not lo <= op.gain_db <= hi:
            raise _Problem(f"gain_db {op.gain_db:g} is outside [{lo:g}, {hi:g}] dB")
        params["gain_db"] = float(op.gain_db)
        done.append(f"gain {op.gain_db:+.1f} dB")
    events[op.id] = ev.model_copy(update={**update, "params": params})
    return f"set {op.id}: {', '.join(done)}"


def apply_edits(script: FoleyScript, clues: dict[str, EventClues], ops: list[EditOp], video: VideoInfo
                ) -> tuple[FoleyScript, dict[str, EventClues], list[dict[str, Any]]]:
    """The script and clues after the ops, in order, and one record per op ({index, op, id, done}).

    Restored candidates have no clues yet (the caller lays them out). The first problem is one InputError
    naming the op's index; the inputs are never changed.
    """
    events = {e.id: e for e in script.events}
    cands = {e.id: e for e in script.candidates}
    out = dict(clues)
    log = []
    for i, op in enumerate(ops):
        try:
            done = _apply_one(op, events, cands, out, video)
        except _Problem as exc:
            raise InputError(f"edits[{i}] ({op.op} {op.id}): {exc}") from None
        log.append({"index": i, **op.model_dump(exclude_none=True), "done": done})
    order = [e.id for e in script.events] + [e.id for e in script.candidates]
    rank = {sid: k for k, sid in enumerate(order)}
    edited = script.model_copy(update={
        "events": sorted(events.values(), key=lambda e: rank.get(e.id, len(rank))),
        "candidates": sorted(cands.values(), key=lambda e: rank.get(e.id, len(rank)))})
    return FoleyScript.model_validate(edited.model_dump()), {k: v for k, v in out.items() if k in events}, log


def _sound_of(ev: SoundEvent) -> dict[str, Any]:
    d = ev.model_dump(mode="json", exclude=_MIX_ONLY)
    d["params"] = {k: v for k, v in d["params"].items() if k != "gain_db"}
    return d


def render_changed(old: SoundEvent | None, new: SoundEvent, old_clues: EventClues | None, new_clues: EventClues | None
                   ) -> str | None:
    """Why the stem of `new` must be rendered again (None: the source's stem is the same sound)."""
    if old is None or old_clues is None:
        return "restored"
    if _sound_of(old) != _sound_of(new):
        fields = [k for k, v in _sound_of(new).items() if _sound_of(old).get(k) != v]
        return f"changed {', '.join(fields)}"
    if new_clues is None or old_clues.model_dump() != new_clues.model_dump():
        return "clues moved"
    return None


def gain_offset_db(ev: SoundEvent) -> float:
    """A `set gain_db` edit: the fader offset (dB) the mixer adds to the level it plans for this event."""
    g = ev.params.get("gain_db", 0.0)
    return float(g) if isinstance(g, (int, float)) and math.isfinite(g) else 0.0
