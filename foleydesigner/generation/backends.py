"""Built-in generator backends: `procedural` (default, offline DSP) and `dit` (trained FoleyDiT).

Each factory validates what it needs up front, so a missing checkpoint fails before any work starts.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.errors import BackendError
from foleydesigner.generation.base import GenerationRequest, GenerationResult, register_generator
from foleydesigner.lexicon import find_sounds


def event_rng(seed: int, event_id: str) -> np.random.Generator:
    """Per-event random stream: the same seed and event give the same sound whatever the branch order."""
    return np.random.default_rng([seed, zlib.crc32(event_id.encode())])


class ProceduralGenerator:
    """Physically informed DSP synthesis per sound class, placed along the clues by the spatial renderer."""

    name = "procedural"

    def __init__(self, *, binaural: bool = False) -> None:
        from foleydesigner.generation import procedural

        self._lib = procedural
        self.binaural = binaural

    def sound_class(self, label: str, description: str = "") -> str:
        cls = self._lib.resolve_class(label)
        if cls is None:
            for _, _, entry in find_sounds(f"{label} {description}"):
                cls = self._lib.resolve_class(entry.sound_class)
                if cls:
                    break
        if cls is None:
            names = ", ".join(sorted(c.name for c in self._lib.list_classes()))
            raise BackendError(f"the procedural generator has no sound for '{label}'; use one of: {names}")
        return cls

    def generate(self, request: GenerationRequest) -> GenerationResult:
        from foleydesigner.generation.spatial import SpatialConfig, render_clues

        ev = request.event
        cls = self.sound_class(ev.label, ev.description)
        info = self._lib.CLASSES[cls]
        params = {k: v for k, v in ev.params.items() if k in info.params}
        dur = request.duration_s
        onsets = [o for o in ev.onsets_s if 0.0 <= o < dur]  # a script may round a last hit onto the clip's end
        start = min(ev.start_s, dur)
        src = self._lib.synthesize(cls, duration_s=dur, sr=request.sample_rate, onsets_s=onsets,
                                   start_s=start, end_s=min(max(ev.end_s, start), dur), intensity=ev.intensity, params=params,
                                   rng=event_rng(request.seed, ev.id))
        placed = request.clues.source != "scene" or not info.diffuse
        if placed:
            # The room is the mixer's reverb expert's job (one shared space, wet from depth): no tail here.
            config = SpatialConfig(mode="binaural" if self.binaural else "stereo", hard_mask=request.clues.source == "track",
                                   distance_reverb=False)
            audio = render_clues(src, request.clues, sr=request.sample_rate, config=config)
        else:
            audio = src if src.shape[0] == 2 else np.repeat(src, 2, axis=0)
        return GenerationResult(audio=np.ascontiguousarray(audio, dtype=np.float32), sample_rate=request.sample_rate,
                                info={"sound_class": cls, "spatialised": placed})


@register_generator("procedural", "physically informed DSP synthesis + ITD/ILD/distance renderer (offline, CPU)",
                    "nothing")
def _procedural(**options: Any) -> ProceduralGenerator:
    return ProceduralGenerator(binaural=bool(options.get("binaural", False)))


@register_generator("dit", "FoleyDiT: Stable-Audio-style DiT with position-aware clue injection (paper §3)",
                    "--dit-checkpoint PATH (a `foley train` checkpoint folder); torch")
def _dit(**options: Any) -> Any:
    ckpt = options.get("dit_checkpoint")
    if not ckpt:
        raise BackendError("--generator dit needs --dit-checkpoint PATH (a folder written by `foley train`)")
    if not Path(str(ckpt)).exists():
        raise BackendError(f"--dit-checkpoint {ckpt} does not exist; train one with `foley train` or pick --generator procedural")
    from foleydesigner.generation.dit.backend import DiTGenerator

    return DiTGenerator(ckpt, **{k: v for k, v in options.items() if k in ("steps", "device")})
