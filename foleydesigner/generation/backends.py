"""Built-in generator backends: `procedural` (default, offline DSP) and `dit` (trained FoleyDiT); `generation.registry`
names them (and `library`, in `generation.library`).

Each factory validates what it needs up front, so a missing checkpoint fails before any work starts.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.errors import BackendError
from foleydesigner.generation.base import GenerationRequest, GenerationResult
from foleydesigner.lexicon import find_sounds
from foleydesigner.schemas import EventClues, SoundEvent
from foleydesigner.units import SPEED_OF_SOUND

#: A stem's segment starts this long (s) before its event's start or first onset: natural hit patterns jitter
#: hits a few ms around their grid, and the renderer's lit-ear delay is a fraction of a millisecond early.
PRE_ROLL_S = 0.5
#: Slack (s) after the last hit's ring plus the farthest propagation delay: the ear delays (≤ 0.7 ms), the
#: renderer's sub-sample latency, and margin.
_TAIL_MARGIN_S = 0.05


def event_rng(seed: int, event_id: str) -> np.random.Generator:
    """Per-event random stream: the same seed and event give the same sound whatever the branch order."""
    return np.random.default_rng([seed, zlib.crc32(event_id.encode())])


def clip_times(event: SoundEvent, duration_s: float) -> tuple[float, float, list[float]]:
    """The event's (start, end, onsets) clamped to the clip: a script may round a last hit onto the clip's end."""
    start = min(event.start_s, duration_s)
    onsets = [o for o in event.onsets_s if 0.0 <= o < duration_s]
    return start, min(max(event.end_s, start), duration_s), onsets


def place_source(src: np.ndarray, clues: EventClues, t0: float, sr: int, *, binaural: bool = False) -> np.ndarray:
    """A stem segment's dry source (mono or stereo, starting at clip time t0) placed along its clues: (2, n)."""
    from foleydesigner.generation.spatial import SpatialConfig, render_spatial

    # The room is the mixer's reverb expert's job (one shared space, wet from depth): no tail here.
    config = SpatialConfig(mode="binaural" if binaural else "stereo", hard_mask=clues.source == "track",
                           distance_reverb=False)
    # Clue times are clip times: shifted to the segment (the renderer holds the first and last frames outside
    # them). It counts propagation delay from the closest point of the path it is given, so a partial event is
    # referenced to the source's nearest point during its segment rather than during the whole clip: in sync
    # with the picture where the sound is loudest. A whole-clip event is the whole-clip render.
    return render_spatial(src, t_s=np.asarray(clues.t_s, np.float64) - t0, azimuth_deg=clues.azimuth_deg,
                          depth_m=clues.depth_m, activation=clues.activation, sr=sr, config=config)


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

    def span(self, event: SoundEvent, clues: EventClues, duration_s: float, sr: int) -> tuple[int, int]:
        """Clip samples [s0, s1) the stem of `event` along `clues` can be non-zero in: from PRE_ROLL_S before its
        start or first onset to past its last hit's ring plus the longest propagation delay the renderer adds.

        Rendering just that segment makes a stem cost its event's length, not the clip's.
        """
        cls = self.sound_class(event.label, event.description)
        start, end, onsets = clip_times(event, duration_s)
        first, last = self._lib.sounding_extent(cls, start_s=start, end_s=end, onsets_s=onsets)
        # The renderer delays by (d − d_min)/c; the deepest frame bounds that whatever part of the path it sees.
        last += max(clues.depth_m) / SPEED_OF_SOUND + _TAIL_MARGIN_S
        n_total = int(round(duration_s * sr))
        return max(0, math.floor((first - PRE_ROLL_S) * sr)), min(n_total, math.ceil(last * sr))

    def generate(self, request: GenerationRequest) -> GenerationResult:
        ev, clues, sr, dur = request.event, request.clues, request.sample_rate, request.duration_s
        cls = self.sound_class(ev.label, ev.description)
        info = self._lib.CLASSES[cls]
        params = {k: v for k, v in ev.params.items() if k in info.params}
        start, end, onsets = clip_times(ev, dur)
        s0, s1 = self.span(ev, clues, dur, sr)
        t0 = s0 / sr
        # Times shifted to the segment; a segment that ends the clip keeps the clip's own end in seconds, so the
        # same clamps hold as for a whole-clip render (cropped: a rounding tie could make it one sample longer).
        # Synthesis is shift-invariant: the same samples as a whole-clip render, shifted.
        seg_s = (s1 - s0) / sr if s1 < request.n_samples else dur - t0
        src = self._lib.synthesize(cls, duration_s=seg_s, sr=sr, onsets_s=[o - t0 for o in onsets],
                                   start_s=start - t0, end_s=end - t0, intensity=ev.intensity, params=params,
                                   rng=event_rng(request.seed, ev.id))[:, :request.n_samples - s0]
        placed = clues.source != "scene" or not info.diffuse
        audio = place_source(src, clues, t0, sr, binaural=self.binaural) if placed else \
            (src if src.shape[0] == 2 else np.repeat(src, 2, axis=0))
        return GenerationResult(audio=np.ascontiguousarray(audio, dtype=np.float32), sample_rate=sr,
                                info={"sound_class": cls, "spatialised": placed}, offset=s0, n_total=request.n_samples)


def procedural_factory(**options: Any) -> ProceduralGenerator:
    return ProceduralGenerator(binaural=bool(options.get("binaural", False)))


def dit_factory(**options: Any) -> Any:
    ckpt = options.get("dit_checkpoint")
    if not ckpt:
        raise BackendError("--generator dit needs --dit-checkpoint PATH (a folder written by `foley train`)")
    if not Path(str(ckpt)).exists():
        raise BackendError(f"--dit-checkpoint {ckpt} does not exist; train one with `foley train` or pick --generator procedural")
    from foleydesigner.generation.dit.backend import DiTGenerator

    return DiTGenerator(ckpt, **{k: v for k, v in options.items() if k in ("steps", "device")})
