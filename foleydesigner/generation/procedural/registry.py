"""Sound classes, the per-call synthesis context and the registry the model modules fill in."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

from foleydesigner.generation.procedural.dsp import stretch

Kind = Literal["impulsive", "continuous"]
Layer = Literal["fg", "bg"]


@dataclass(frozen=True)
class SoundClass:
    """What the pipeline and the LLM agents see of a procedural model."""

    name: str
    description: str
    kind: Kind
    default_layer: Layer
    diffuse: bool
    params: Mapping[str, object]
    #: Plausible magnitude-weighted spectral centroid (Hz) of a render with default params, long-term spectrum.
    centroid_hz: tuple[float, float]
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ctx:
    """One synthesize() call as a model sees it. `n` is the span to fill (continuous) or the clip (impulsive)."""

    sr: int
    n: int
    intensity: float
    params: Mapping[str, object]
    rng: np.random.Generator
    channels: int
    #: Per-call scratch space: a hit model keeps what all its hits share (the same floor, the same bell).
    cache: dict[str, object] = field(default_factory=dict)

    def f(self, key: str) -> float:
        return float(self.params[key])  # type: ignore[arg-type]

    def s(self, key: str) -> str:
        return str(self.params[key])

    @property
    def dur_s(self) -> float:
        return self.n / self.sr

    def slower(self, top_hz: float) -> tuple[Ctx, int]:
        """The same call at sr/r, r chosen so content up to top_hz survives linear interpolation back up
        (images ≥ 4·top_hz away): synthesise there, then `stretch(y, r, ctx.n)`. Cost falls by r."""
        r = max(1, int(self.sr / (4.0 * top_hz)))
        return Ctx(self.sr // r, self.n // r + 2, self.intensity, self.params, self.rng, self.channels,
                   self.cache), r


#: A hit model: (ctx, velocity in (0, 1]) -> one hit, (m,) or (2, m), energy from sample 0.
HitFn = Callable[[Ctx, float], np.ndarray]
#: A continuous model: ctx -> the span, (n,) or (2, n).
SpanFn = Callable[[Ctx], np.ndarray]
#: A pattern: (ctx, start_s, end_s) -> [(time_s, accent)], the natural rhythm when no onsets are given.
PatternFn = Callable[[Ctx, float, float], list[tuple[float, float]]]


@dataclass(frozen=True)
class Model:
    sound: SoundClass
    render: Callable[..., np.ndarray]
    pattern: PatternFn | None
    choices: Mapping[str, tuple[str, ...]]
    ranges: Mapping[str, tuple[float, float]]
    #: Level at intensity 1: peak dBFS ("peak") or RMS dBFS over the span ("rms", for steady beds).
    level_db: float
    norm: Literal["peak", "rms"]
    fade_s: float
    #: How long one hit can ring past its onset (s, impulsive), 0 for continuous sounds (silent after end_s):
    #: how far past its last hit an event can sound, so a renderer can stop there.
    tail_s: float
    #: A long continuous span may be laid from one looped texture (a steady bed); False where the sound has a
    #: shape across its span (a pass-by, a swing) that a loop would repeat.
    loop: bool


MODELS: dict[str, Model] = {}
#: Default ring-out of one hit (s): the buffer length of every hit model that does not declare tail_s.
HIT_TAIL_S = 2.5


def register(name: str, *, description: str, kind: Kind, layer: Layer, diffuse: bool = False,
             params: Mapping[str, object] | None = None, centroid: tuple[float, float],
             synonyms: Sequence[str] = (), choices: Mapping[str, Sequence[str]] | None = None,
             ranges: Mapping[str, tuple[float, float]] | None = None, pattern: PatternFn | None = None,
             level_db: float | None = None, norm: Literal["peak", "rms"] | None = None,
             fade_s: float | None = None, tail_s: float | None = None, loop: bool = True
             ) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Decorator: add a model to the library. Continuous beds default to RMS levelling, hits to peak."""

    def wrap(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        if name in MODELS:
            raise RuntimeError(f"sound class {name!r} registered twice")
        # Defaults are shared by every call: expose them read-only.
        sound = SoundClass(name, description, kind, layer, diffuse, MappingProxyType(dict(params or {})), centroid,
                           tuple(synonyms))
        mode = norm or ("rms" if kind == "continuous" else "peak")
        level = level_db if level_db is not None else (-20.0 if mode == "rms" else -1.0)
        # Ambience beds fade slowly (an ambience cut in over 20 ms sounds like an edit); fg sounds fade fast.
        fade = fade_s if fade_s is not None else (1.0 if diffuse else 0.03)
        # 2.5 s covers every hit but the long ringers, which declare their own (≥ a hit model's buffer length).
        tail = tail_s if tail_s is not None else (HIT_TAIL_S if kind == "impulsive" else 0.0)
        MODELS[name] = Model(sound, fn, pattern, {k: tuple(v) for k, v in (choices or {}).items()},
                             dict(ranges or {}), level, mode, fade, tail, loop and kind == "continuous")
        return fn

    return wrap


def band_limited(top_hz: float) -> Callable[[SpanFn], SpanFn]:
    """Decorator for continuous models whose content stays below top_hz: run them at a reduced rate
    (Ctx.slower) and interpolate the result up once — the cost of every pass inside falls by the factor."""

    def wrap(fn: SpanFn) -> SpanFn:
        @functools.wraps(fn)
        def run(ctx: Ctx) -> np.ndarray:
            low, r = ctx.slower(top_hz)
            return stretch(fn(low), r, ctx.n) if r > 1 else fn(ctx)

        return run

    return wrap


# ---- rhythm helpers for patterns ---------------------------------------------------------------------------

def regular(ctx: Ctx, t0: float, t1: float, rate_hz: float, jitter: float = 0.03,
            accents: Sequence[float] = (1.0,)) -> list[tuple[float, float]]:
    """Hits at rate_hz from t0 to t1 with Gaussian timing jitter (fraction of the period) and cycling accents."""
    period = 1.0 / rate_hz
    k = max(1, int((t1 - t0) / period + 1e-9))
    times = t0 + period * np.arange(k)
    times[1:] += ctx.rng.normal(0.0, jitter * period, k - 1)
    return [(float(t), accents[i % len(accents)]) for i, t in enumerate(times) if t0 <= t < t1]


def single(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    return [(t0, 1.0)]
