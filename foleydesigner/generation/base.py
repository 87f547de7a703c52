"""The generator seam: one protocol, request/result dataclasses, and a registry of backends.

A backend turns one sound event plus its spatio-temporal clues into one stereo stem of the clip: the segment the
event can sound in, placed at its offset in the clip (silent elsewhere), so a 3 s event of a 300 s clip costs 3 s.
Backends are looked up by name (`--generator NAME`) in `generation.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from foleydesigner.schemas import EventClues, SceneContext, SoundEvent
from foleydesigner.units import SAMPLE_RATE


@dataclass(frozen=True)
class GenerationRequest:
    event: SoundEvent
    clues: EventClues
    duration_s: float
    scene: SceneContext = field(default_factory=SceneContext)
    sample_rate: int = SAMPLE_RATE
    seed: int = 0

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, got {self.duration_s}")
        if self.sample_rate not in (16_000, 22_050, 24_000, 32_000, 44_100, 48_000):
            raise ValueError(f"sample_rate must be a standard rate, got {self.sample_rate}")

    @property
    def n_samples(self) -> int:
        return int(round(self.duration_s * self.sample_rate))


@dataclass(frozen=True)
class GenerationResult:
    """A stem: `audio` holds clip samples offset … offset + m − 1; the rest of the clip's n_total is silence.

    A result built with the whole clip (offset 0, n_total None) is the whole stem, as before segments existed.
    """

    audio: np.ndarray  # float32 (2, m)
    sample_rate: int
    info: dict[str, Any] = field(default_factory=dict)
    offset: int = 0  # clip sample index of audio[:, 0]
    n_total: int | None = None  # the clip's length in samples; None: the segment ends the clip

    def __post_init__(self) -> None:
        if self.audio.ndim != 2 or self.audio.shape[0] != 2:
            raise ValueError(f"a stem must be stereo (2, n), got shape {self.audio.shape}")
        if not np.all(np.isfinite(self.audio)):
            raise ValueError("generated audio contains NaN or Inf")
        if self.offset < 0:
            raise ValueError(f"offset must be ≥ 0, got {self.offset}")
        if self.n_total is not None and self.offset + self.audio.shape[1] > self.n_total:
            raise ValueError(f"the segment (offset {self.offset}, {self.audio.shape[1]} samples) runs past the "
                             f"clip's {self.n_total} samples")

    @property
    def total_samples(self) -> int:
        """The clip's length in samples."""
        return self.offset + self.audio.shape[1] if self.n_total is None else self.n_total

    def full(self) -> np.ndarray:
        """The whole-clip stem, float32 (2, total_samples), silent outside the segment; `audio` itself (no copy)
        when the segment is the whole clip. Costs the clip's length: writers stream the segment instead."""
        audio = np.asarray(self.audio, dtype=np.float32)
        if self.offset == 0 and audio.shape[1] == self.total_samples:
            return audio
        out = np.zeros((2, self.total_samples), np.float32)
        out[:, self.offset:self.offset + audio.shape[1]] = audio
        return out


@runtime_checkable
class FoleyGenerator(Protocol):
    name: str

    def generate(self, request: GenerationRequest) -> GenerationResult: ...
