"""One example per sound class, rendered the way `foley run` renders an event (`foley sounds --render DIR`).

Each class is one event through the chosen generator (default: `hybrid`, as `foley run`): a 2 s clip, the source
straight ahead at 2 m, a bed over the whole clip and a hit pattern the generator chooses (the procedural model's,
or the hybrid's pace). The stem is written as `<class>.wav` (48 kHz, 24-bit), atomically.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import soundfile as sf

from foleydesigner.generation.base import GenerationRequest
from foleydesigner.generation.registry import make_generator
from foleydesigner.schemas import EventClues, SceneContext, SoundEvent

log = logging.getLogger(__name__)

FPS = 25.0


def class_request(cls: str, seconds: float, seed: int) -> GenerationRequest:
    from foleydesigner.generation.procedural import CLASSES

    info = CLASSES[cls]
    bed = info.kind == "continuous" and info.diffuse
    n = int(round(seconds * FPS)) + 1
    # A continuous sound spans the clip; a hit pattern starts 0.1 s in, so its attack is not at the file's edge.
    start = 0.0 if info.kind == "continuous" else 0.1
    event = SoundEvent(id=cls, label=cls, description=info.description, layer=info.default_layer,
                       start_s=start, end_s=seconds, params=dict(info.params))
    clues = EventClues(event_id=cls, fps=FPS, t_s=[i / FPS for i in range(n)], depth_m=[2.0] * n,
                       azimuth_deg=[0.0] * n, activation=[1] * n, source="scene" if bed else "track")
    return GenerationRequest(event=event, clues=clues, duration_s=seconds, scene=SceneContext(), seed=seed)


def render_classes(out_dir: str | Path, *, generator: str = "hybrid", seconds: float = 2.0, seed: int = 0,
                   library: str | Path | None = None, classes: list[str] | None = None) -> list[Path]:
    """Render every class (or `classes`) with `generator` to out_dir/<class>.wav; returns the paths."""
    from foleydesigner.generation.procedural import CLASSES

    options: dict[str, Any] = {"library": str(library)} if library else {}
    gen = make_generator(generator, **options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for cls in classes or list(CLASSES):
        result = gen.generate(class_request(cls, seconds, seed))
        path, tmp = out / f"{cls}.wav", out / f".{cls}.wav.tmp"
        sf.write(tmp, result.full().T, result.sample_rate, subtype="PCM_24", format="WAV")
        os.replace(tmp, path)
        paths.append(path)
        log.debug("rendered %s with %s", path, generator)
    return paths
