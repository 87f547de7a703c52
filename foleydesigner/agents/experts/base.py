"""What a mixing expert is: a declared capability the planner reads, and three calls the mixing graph makes.

An expert declares an `ExpertSpec` — name, one-paragraph description, a pydantic parameter model whose `Field`
ranges are the limits every plan is validated against, and its slot in the channel strip (`order`: EQ 10,
dynamics 20, reverb send 90; a channel strip runs filters before compressors before sends). Then:

- `propose(scene, plan)` — the offline (heuristic) planner's rule: which stems need this expert, with what.
- `configure(ops, scene, plan)` — turn planned parameters into exact ones from measurements (the EQ designs
  its cuts from the masking it measured, the reverb its sends from the room's critical distance).
- `process(stems, ops, scene)` — run it; returns replaced stems and any bus returns (the reverb's).

`process` may be called once per window of a long clip (tools/streams.py): the stems it gets then cover
samples [scene.start, scene.start + n) of the clip, preceded by a few seconds of pre-roll, while the scene's
measurements (`bands`, `stats`) always cover the whole clip — slice per-frame data with `scene.frames(...)`,
and decide anything that needs the whole clip (a make-up gain, a key's reference level) from `scene.stats`,
so every window decides alike. A per-sample process with at most a few seconds of memory needs nothing more.

Only `spec` and `process_stem` (or `process`) are required; see README "Writing a mixing expert".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ValidationError

from foleydesigner.schemas import MixOperation, SceneContext, SoundEvent, StemFeatures
from foleydesigner.tools.analysis import LoudnessProfile, StemStats
from foleydesigner.tools.processing import RoomSpace

Plan = Mapping[str, list[MixOperation]]


@dataclass(frozen=True)
class ExpertSpec:
    """The capability an expert declares; the planner learns about the expert from this alone."""

    name: str
    description: str
    params: type[BaseModel]
    order: int = 50

    def capability(self) -> dict[str, Any]:
        """Name, description and each parameter's type, range, default and meaning (what an LLM planner reads)."""
        schema = self.params.model_json_schema()
        params = {}
        for key, prop in schema.get("properties", {}).items():
            info = {k: prop[k] for k in ("type", "minimum", "maximum", "default", "description") if k in prop}
            if "anyOf" in prop:
                info["type"] = " | ".join(str(p.get("type", p.get("$ref", "?")).split("/")[-1]) for p in prop["anyOf"])
            if "items" in prop:
                info["items"] = prop["items"].get("type") or prop["items"].get("$ref", "").split("/")[-1]
            params[key] = info
        defs = {name: {k: {x: v[x] for x in ("type", "minimum", "maximum", "description") if x in v}
                       for k, v in d.get("properties", {}).items()} for name, d in schema.get("$defs", {}).items()}
        out: dict[str, Any] = {"name": self.name, "description": self.description, "order": self.order, "params": params}
        if defs:
            out["types"] = defs
        return out

    def check(self, params: Mapping[str, Any]) -> list[str]:
        """Problems with one operation's parameters (unknown key, wrong type, outside its range); [] when valid."""
        try:
            self.params.model_validate(dict(params))
        except ValidationError as exc:
            return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return []


@dataclass(frozen=True)
class MixTargets:
    """The mix's aims, shared by planner, experts and verification."""

    fg_lufs: float = -23.0  # foreground Foley group, before the master stage
    bg_lufs: float = -31.0  # beds ~8 LU under: the usual spacing of a hard effect over its ambience in a TV mix
    masking_limit_db: float = 3.0  # a foreground stem buried deeper than this (analysis.masking_db) gets room made
    level_tolerance_lu: float = 1.0


@dataclass(frozen=True)
class MixScene:
    """What every expert may read: the scene, and the analysis of the *unprocessed* stems (measured once)."""

    sr: int
    scene: SceneContext
    events: Mapping[str, SoundEvent]
    features: Mapping[str, StemFeatures]
    bands: Mapping[str, np.ndarray]  # ERB band energies, dB [bands, frames] at analysis.HOP_S
    profiles: Mapping[str, LoudnessProfile]
    depths: Mapping[str, float]
    space: RoomSpace
    level_gains: Mapping[str, float] = field(default_factory=dict)  # fader moves that put each layer on its target
    targets: MixTargets = MixTargets()
    feedback: Mapping[str, Any] = field(default_factory=dict)  # the previous round's verification when re-planning
    stats: Mapping[str, StemStats] = field(default_factory=dict)  # whole-clip measurements of the unprocessed stems
    start: int = 0  # clip sample where the audio handed to `process` begins (0 unless a long clip is windowed)

    def at(self, start: int) -> MixScene:
        """This scene as seen by `process` for audio that begins at clip sample `start`."""
        return replace(self, start=start)

    def frames(self, per_frame: np.ndarray, hop: int, n: int) -> np.ndarray:
        """The part of a whole-clip per-frame array (one value per `hop` samples, frame k centred on
        k·hop + hop/2) that covers the audio [start, start + n), plus one frame for interpolation at the end;
        frame 0 of the result is the one that starts at `start` (a multiple of hop in windowed runs)."""
        first = self.start // hop
        return per_frame[..., first: first + -(-n // hop) + 1]

    def layer(self, sid: str) -> str:
        return self.events[sid].layer

    def ids(self, layer: str) -> list[str]:
        return [s for s in self.features if self.layer(s) == layer]


@dataclass
class ExpertOutput:
    stems: dict[str, np.ndarray] = field(default_factory=dict)  # stems this expert replaced
    returns: dict[str, np.ndarray] = field(default_factory=dict)  # bus returns (e.g. the reverb's), mixed as beds
    # What it measured or did, for mix_plan.json; per stem. `notes[sid]["ride_lu"]` declares a keyed ride (LU the
    # stem was taken down under the foreground on purpose): verification then judges the fader before it.
    notes: dict[str, Any] = field(default_factory=dict)


def planned(plan: Plan, sid: str, expert: str, key: str, default: Any = None) -> Any:
    """A parameter another expert was planned with on this stem (e.g. the fader gain the EQ must predict)."""
    for op in plan.get(sid, []):
        if op.expert == expert and key in op.params:
            return op.params[key]
    return default


class BaseExpert:
    """Subclass, set `spec`, implement `process_stem` (per-stem) or `process` (needs other stems or buses)."""

    spec: ClassVar[ExpertSpec]

    def propose(self, scene: MixScene, plan: Plan) -> dict[str, MixOperation]:
        """The offline planner's rule for this expert: {stem id: operation}. None by default."""
        return {}

    def configure(self, ops: Mapping[str, dict[str, Any]], scene: MixScene, plan: Plan) -> dict[str, dict[str, Any]]:
        """Exact parameters from measurements; by default the planned ones, as they are."""
        return {sid: dict(p) for sid, p in ops.items()}

    def process(self, stems: Mapping[str, np.ndarray], ops: Mapping[str, dict[str, Any]], scene: MixScene) -> ExpertOutput:
        out = ExpertOutput()
        for sid, params in ops.items():
            y = self.process_stem(stems[sid], self.spec.params.model_validate(params), scene)
            out.stems[sid] = np.asarray(y, dtype=np.float32)
        return out

    def process_stem(self, audio: np.ndarray, params: Any, scene: MixScene) -> np.ndarray:
        raise NotImplementedError(f"expert '{self.spec.name}' must implement process_stem() or process()")
