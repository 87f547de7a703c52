"""Reverb expert: one shared acoustic space per scene, fed by a post-fader send from each stem.

The space (shoebox size, RT60, critical distance r_c) comes from the scene context (processing.room_space);
its impulse response is image-source early reflections (pyroomacoustics) plus an exponentially decaying noise
tail. A source at distance d in a diffuse field has DRR = 20·log10(r_c / d) (Sabine), so the send follows depth:
far sources are wetter, near ones drier, all in the same room — the paper's "consistent reverb" (§4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from foleydesigner.agents.experts.base import BaseExpert, ExpertOutput, ExpertSpec, MixScene, Plan
from foleydesigner.schemas import MixOperation
from foleydesigner.tools import processing as proc

#: Wettest a foreground stem may be (DRR, dB): indoors it may sit under its room a little; outdoors the
#: "room" is a few facade reflections, and a foreground sound drowned in them reads as a mistake.
DRR_MIN_DB, DRR_MIN_OUTDOOR_DB, DRR_MAX_DB = -3.0, 6.0, 20.0
#: Film perspective: Foley sits drier than the physical room would make it (about a quarter of the reverberant
#: energy), so the picture's depth reads without the mix turning to wash.
PERSPECTIVE_DB = 6.0


class ReverbParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    send_db: float = Field(default=-12.0, ge=-60.0, le=6.0, description="post-fader send into the scene's one shared "
                           "space; the stem's direct-to-reverberant ratio becomes ≈ −send_db")


class ReverbExpert(BaseExpert):
    spec = ExpertSpec(
        name="reverb",
        description="Puts stems in the scene's one shared acoustic space (convolution with the room's impulse "
                    "response: shoebox from the scene's size and surfaces, RT60 and critical distance listed under "
                    "`space`). `send_db` per stem sets how wet: DRR ≈ −send_db; far sources wetter than near ones.",
        params=ReverbParams, order=90)

    def propose(self, scene: MixScene, plan: Plan) -> dict[str, MixOperation]:
        space = scene.space
        lo = DRR_MIN_OUTDOOR_DB if space.outdoor else DRR_MIN_DB
        ops = {}
        for sid in scene.ids("fg"):
            d = scene.depths.get(sid)
            if d is None:
                continue
            drr = float(np.clip(20 * math.log10(space.critical_distance_m / d) + PERSPECTIVE_DB, lo, DRR_MAX_DB))
            send = -drr
            why = (f"{d:.1f} m in a {space.rt60_s:.1f} s {'outdoor space' if space.outdoor else 'room'} "
                   f"(r_c {space.critical_distance_m:.1f} m): DRR {drr:+.0f} dB with film perspective")
            f = scene.features[sid]
            if f.drr_db is not None and f.rt60_s is not None and f.rt60_s >= 0.5 * space.rt60_s and f.drr_db < drr:
                cut = min(6.0, drr - f.drr_db)  # it already carries a room: add less of ours
                send -= cut
                why += f"; already reads {f.drr_db:+.0f} dB DRR / {f.rt60_s:.1f} s decay, send {cut:.0f} dB less"
            ops[sid] = MixOperation(expert="reverb", params={"send_db": round(send, 1)}, reason=why)
        return ops

    def process(self, stems: Mapping[str, np.ndarray], ops: Mapping[str, dict[str, Any]], scene: MixScene) -> ExpertOutput:
        if not ops:
            return ExpertOutput()
        depths = [scene.depths[s] for s in ops if s in scene.depths] or [3.0]
        distance = round(2 * float(np.median(depths))) / 2  # 0.5 m steps: the cached IR is reused across rounds
        ir = proc.room_ir(scene.space, scene.sr, max(distance, 0.5))
        send = np.zeros_like(next(iter(stems.values())), dtype=np.float32)
        for sid, params in ops.items():
            send += stems[sid] * np.float32(10 ** (ReverbParams.model_validate(params).send_db / 20))
        notes = {"rt60_target_s": scene.space.rt60_s, "rt60_measured_s": proc.decay_time_s(ir, scene.sr),
                 "ir_length_s": round(ir.shape[1] / scene.sr, 3), "source_distance_m": distance}
        return ExpertOutput(returns={"reverb": proc.convolve_return(send, ir)}, notes=notes)
