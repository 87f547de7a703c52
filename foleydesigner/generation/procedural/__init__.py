"""Procedural Foley: physically informed DSP synthesis of 52 sound classes (the offline default generator).

Families: `impacts`, `doors`, `steps` (modal synthesis of struck objects and rhythmic contacts, on the
machinery in `modal`), `handling` (cloth, paper), `weather` and `water` (filtered/granular noise: drops,
bubbles, turbulence), `blasts` (gunshot, explosion, fire), `engines` (source–filter: firing/blade pulses
through resonances), `voices` (barks and walla through formants, birds, insects, applause) and `signals`
(phones, sirens, horns, hum, room tone, whooshes). Shared DSP lives in `dsp`, the registry in `registry`;
`recorded` supplies real attacks and grains from the committed CC0/PD core as excitation where one fits.
Every call is deterministic in its `rng`; 60 s of any class renders in ≈ 0.005–0.13 s on one core. A steady
bed longer than LOOP_S is laid from one looped texture, so its cost stops growing with its length.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import correlate

from foleydesigner.generation.procedural import (  # noqa: F401  (importing registers the models)
    blasts,
    doors,
    engines,
    handling,
    impacts,
    realism,
    signals,
    steps,
    voices,
    water,
    weather,
)
from foleydesigner.generation.procedural.dsp import F32, fade_in
from foleydesigner.generation.procedural.registry import MODELS, Ctx, Model, SoundClass

__all__ = ["CLASSES", "LOOP_S", "SoundClass", "lay_texture", "list_classes", "param_options", "render_examples", "resolve_class",
           "sounding_extent", "synthesize"]

log = logging.getLogger(__name__)

CLASSES: Mapping[str, SoundClass] = {name: m.sound for name, m in sorted(MODELS.items())}

#: Intensity 0 sits this many dB below intensity 1 (a whisper of a sound, not silence: the mixer rides levels).
INTENSITY_RANGE_DB = 30.0
#: Hard ceiling; a soft knee starts at _KNEE so limiting is gentle and monotonic.
PEAK_CEILING = 0.98
_KNEE = 0.8
#: A loopable continuous span longer than this (s) is laid from one texture of this length, repeated end to end
#: as a sound editor loops an ambience: the same sound all along, at the cost of one loop whatever the span.
LOOP_S = 60.0
#: Each join of a loop crossfades over this long (s): slow enough that a join never reads as an event in a bed.
LOOP_XFADE_S = 2.0
#: A join may slide this far (s) to where the texture's end best matches its start: one period of 40 Hz, so a
#: tonal bed (mains hum, a horn) splices in phase instead of cancelling through the crossfade.
_SPLICE_SEARCH_S = 0.025


def list_classes() -> list[SoundClass]:
    return list(CLASSES.values())


def param_options(name: str) -> dict[str, tuple[str, ...] | tuple[float, float]]:
    """Allowed values of each parameter of a class: the choices of a text parameter, the (min, max) of a
    number (what a script writer or an LLM may put in an event's params)."""
    model = _model(name)
    return {key: model.choices[key] if isinstance(default, str) else model.ranges.get(key, (-math.inf, math.inf))
            for key, default in model.sound.params.items()}


# ---- label resolution ------------------------------------------------------------------------------------

def _stem(word: str) -> str:
    """Crude English singular: 'slams'→'slam', 'glasses'→'glass', 'hooves' kept, 'footfalls'→'footfall'."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(label: str) -> list[str]:
    return [_stem(w) for w in re.split(r"[^a-z0-9]+", label.lower()) if w]


def _key(label: str) -> str:
    return "".join(_words(label))


_INDEX: dict[str, str] = {}
for _name, _sound in CLASSES.items():
    for _label in (_name, *_sound.synonyms):
        _INDEX.setdefault(_key(_label), _name)


def resolve_class(label: str) -> str | None:
    """Class name for a label or synonym: case-, plural-, space- and underscore-tolerant ('Foot steps',
    'door slams'). A longer label resolves through its longest known phrase ('footsteps on gravel')."""
    words = _words(label)
    for size in range(len(words), 0, -1):
        for i in range(len(words) - size + 1):
            hit = _INDEX.get("".join(words[i:i + size]))
            if hit:
                return hit
    return None


def _model(name: str) -> Model:
    resolved = name if name in MODELS else resolve_class(name)
    if resolved is None:
        close = difflib.get_close_matches(name.lower(), list(MODELS) + [s for c in CLASSES.values() for s in c.synonyms],
                                          n=5, cutoff=0.5)
        hint = f"; did you mean: {', '.join(close)}" if close else f"; known classes: {', '.join(MODELS)}"
        raise ValueError(f"name: unknown sound class {name!r}{hint}")
    return MODELS[resolved]


def _merge_params(model: Model, params: Mapping[str, object] | None) -> dict[str, object]:
    merged = dict(model.sound.params)
    for key, value in (params or {}).items():
        if key not in merged:
            raise ValueError(f"params: {model.sound.name} has no parameter {key!r}; it takes "
                             f"{', '.join(merged) or 'none'}")
        default = merged[key]
        if isinstance(default, str):
            allowed = model.choices.get(key, ())
            if str(value) not in allowed:
                raise ValueError(f"params: unknown {key} {value!r} for {model.sound.name}; choose from "
                                 f"{', '.join(allowed)}")
            merged[key] = str(value)
        else:
            try:
                if isinstance(value, bool):
                    raise TypeError
                value = float(value)  # type: ignore[arg-type]  # LLM scripts often send "1.8"
            except (TypeError, ValueError):
                raise ValueError(f"params: {key} must be a number, got {value!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"params: {key} must be finite, got {value!r}")
            lo, hi = model.ranges.get(key, (-math.inf, math.inf))
            if not lo <= value <= hi:
                raise ValueError(f"params: {key} must be in [{lo}, {hi}] for {model.sound.name}, got {value}")
            merged[key] = float(value)
    return merged


# ---- synthesis -------------------------------------------------------------------------------------------

def sounding_extent(name: str, *, start_s: float, end_s: float, onsets_s: Sequence[float] = ()
                    ) -> tuple[float, float]:
    """The times (s) between which `synthesize` of this event can be non-zero: from its start or first onset to
    its end or last onset plus the longest ring of one hit (0 for continuous classes, silent after end_s).

    A long clip's event is rendered over just that span. Natural hit patterns jitter hits by a few ms around
    their grid, so keep a margin before the start.
    """
    model = _model(name)
    return min([start_s, *onsets_s]), max([end_s, *onsets_s]) + model.tail_s


def synthesize(name: str, *, duration_s: float, sr: int = 48000, onsets_s: Sequence[float] = (),
               start_s: float = 0.0, end_s: float | None = None, intensity: float = 0.7,
               params: Mapping[str, object] | None = None, rng: np.random.Generator,
               loop_s: float | None = LOOP_S) -> np.ndarray:
    """Render one sound event as float32 (channels, round(duration_s·sr)); 2 channels for diffuse classes.

    Impulsive classes put one hit at each onset (hit start at the onset sample); without onsets they play
    their natural pattern between start_s and end_s. Continuous classes sound between start_s and end_s with
    raised-cosine fades and are silent outside; a steady one (not a pass-by or a swing) longer than loop_s is
    one texture of loop_s repeated with crossfaded joins (None: render the span in one piece). Intensity (0–1)
    sets level over a 30 dB range and, where physical, excitation strength (harder hits are brighter).
    Peak ≤ 0.98. The result is shift-invariant: the same event shifted by whole samples, in any clip that holds
    its `sounding_extent`, renders the same samples, shifted (so a long clip's event can be rendered alone).
    """
    model = _model(name)
    if not (isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a finite number > 0, got {duration_s!r}")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 8000 <= sr <= 192_000:
        raise ValueError(f"sr must be an integer sample rate in [8000, 192000], got {sr!r}")
    if not (isinstance(intensity, (int, float)) and 0.0 <= intensity <= 1.0):
        raise ValueError(f"intensity must be in [0, 1], got {intensity!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed))")
    if loop_s is not None and not (isinstance(loop_s, (int, float)) and 2.0 * LOOP_XFADE_S <= loop_s < math.inf):
        raise ValueError(f"loop_s must be None or a number ≥ {2.0 * LOOP_XFADE_S} (two crossfades), got {loop_s!r}")
    n = int(round(duration_s * sr))
    end = duration_s if end_s is None else float(end_s)
    if not 0.0 <= start_s < duration_s:
        raise ValueError(f"start_s must be in [0, duration_s={duration_s}), got {start_s}")
    if not start_s < end <= duration_s + 0.5 / sr:
        raise ValueError(f"end_s must be in (start_s={start_s}, duration_s={duration_s}], got {end_s}")
    onsets = [float(t) for t in onsets_s]
    bad = [t for t in onsets if not 0.0 <= t < duration_s]
    if bad:
        raise ValueError(f"onsets_s must lie in [0, duration_s={duration_s}), got {bad[:5]}")
    merged = _merge_params(model, params)
    channels = 2 if model.sound.diffuse else 1
    if model.sound.kind == "impulsive":
        out = np.zeros((channels, n), dtype=F32)
        _render_hits(model, out, sr, onsets, start_s, end, intensity, merged, rng)
    else:
        out = _render_span(model, channels, n, sr, start_s, end, intensity, merged, rng, loop_s)
    return _level(model, out, intensity, sr, start_s, end)


def _render_hits(model: Model, out: np.ndarray, sr: int, onsets: list[float], start_s: float, end_s: float,
                 intensity: float, params: dict[str, object], rng: np.random.Generator) -> None:
    ctx = Ctx(sr, out.shape[1], intensity, params, rng, out.shape[0])
    if onsets:
        hits = [(t, 1.0) for t in sorted(onsets)]
    else:
        hits = model.pattern(ctx, start_s, end_s) if model.pattern else [(start_s, 1.0)]
    last = 0
    for t, accent in hits:
        # Per-hit force jitter (±~12 %): no two real footfalls or knocks are struck alike.
        v = float(np.clip(intensity * accent * rng.lognormal(0.0, 0.12), 0.03, 1.0))
        hit = realism.shape_hit(np.atleast_2d(np.asarray(model.render(ctx, v), dtype=F32)), model.sound.name, v, sr, rng)
        pos = int(round(t * sr))
        m = min(hit.shape[1], out.shape[1] - pos)
        if m > 0:
            out[:, pos:pos + m] += hit[:, :m]
            last = max(last, pos + m)
    if hits:
        first = max(0, int(round(min(t for t, _ in hits) * sr)))  # from the first hit: nothing before it
        # …to the event's end or the longest ring of its last hit, as a recording runs on past the sound
        ring = int(round((max(t for t, _ in hits) + model.tail_s) * sr))
        realism.add_air(out, first, min(out.shape[1], max(last, ring, int(round(end_s * sr)))), sr, rng)


def _render_span(model: Model, channels: int, total: int, sr: int, start_s: float, end_s: float, intensity: float,
                 params: dict[str, object], rng: np.random.Generator, loop_s: float | None) -> np.ndarray:
    s = int(round(start_s * sr))
    e = min(total, int(round(end_s * sr)))
    n = e - s
    if n <= 0:
        return np.zeros((channels, total), F32)
    loop = int(round(loop_s * sr)) if loop_s is not None and model.loop else n
    if loop < n:
        out = np.zeros((channels, total), F32)
        _lay_loop(out[:, s:e], model, Ctx(sr, loop, intensity, params, rng, channels))
        return out
    span = _model_span(model, Ctx(sr, n, intensity, params, rng, channels))
    if s == 0 and span.shape[1] == total and span.flags.c_contiguous and span.flags.writeable:
        return span  # the span is the whole clip: no copy
    out = np.zeros((channels, total), F32)
    out[:, s:s + span.shape[1]] = span
    return out


def _model_span(model: Model, ctx: Ctx) -> np.ndarray:
    """A continuous model's render of ctx.n samples as float32 (ctx.channels, ≤ ctx.n)."""
    span = np.atleast_2d(np.asarray(model.render(ctx), dtype=F32))[:, :ctx.n]
    if span.shape[0] != ctx.channels:
        span = np.broadcast_to(span.mean(axis=0, keepdims=True), (ctx.channels, span.shape[1]))
    return span


def _lay_loop(span: np.ndarray, model: Model, ctx: Ctx) -> None:
    """Fill `span` (channels, n) in place with one texture, a loop of ctx.n samples, laid end to end.

    Each join crossfades the texture's end into its start over LOOP_XFADE_S, at the splice (within
    _SPLICE_SEARCH_S) where the two match best, with gains a·g, b·g (a = cos, b = sin of a quarter turn) and
    g = 1/√(1 + 2ρab) for their correlation ρ there: the power of the sum stays constant, which is the equal-power
    crossfade for uncorrelated noise (ρ ≈ 0, most beds) and the equal-gain one for an in-phase tone (ρ = 1).
    """
    x = int(round(LOOP_XFADE_S * ctx.sr))
    d = int(round(_SPLICE_SEARCH_S * ctx.sr))
    tex = _model_span(model, Ctx(ctx.sr, ctx.n + d + x, ctx.intensity, ctx.params, ctx.rng, ctx.channels))
    lay_texture(span, tex, ctx.n, xfade=x, search=d)


def lay_texture(span: np.ndarray, tex: np.ndarray, loop: int, *, xfade: int, search: int) -> None:
    """Fill `span` (channels, n) in place with `tex` (channels, ≥ loop + search + xfade) looped every ~`loop`
    samples, each join the power-preserving crossfade of `_lay_loop` at the best splice within `search` samples.

    The same loop serves synthesised beds and recorded textures (the library generator's beds).
    """
    n, x, d = span.shape[1], xfade, search
    if tex.shape[1] < loop + d + x or x < 1:
        raise ValueError(f"a texture of {tex.shape[1]} samples cannot loop every {loop} with a {x}-sample join "
                         f"and a {d}-sample splice search")
    period, rho = _splice(tex, loop, d, x)
    u = (np.arange(x) + 0.5) / x
    a, b = np.cos(0.5 * np.pi * u), np.sin(0.5 * np.pi * u)
    g = 1.0 / np.sqrt(1.0 + 2.0 * rho * a * b)
    join = (a * g).astype(F32) * tex[:, period:period + x] + (b * g).astype(F32) * tex[:, :x]
    span[:, :min(n, period)] = tex[:, :min(n, period)]
    for p in range(period, n, period):  # the loop's k-th repeat starts at k·period, over the join
        k = min(x, n - p)
        span[:, p:p + k] = join[:, :k]
        m = min(period, n - p)
        span[:, p + x:p + m] = tex[:, x:m]


def _splice(tex: np.ndarray, loop: int, d: int, x: int) -> tuple[int, float]:
    """The period in [loop, loop + d] whose join region tex[:, period:period + x] best matches the texture's start
    tex[:, :x], and their normalised correlation there, clipped to [0, 1]: where even the best splice is
    anti-correlated, equal power is the safe law (compensating a negative ρ takes gains far above +3 dB)."""
    head = tex[:, :x].astype(np.float64)
    tail = tex[:, loop:loop + d + x].astype(np.float64)
    c = sum(correlate(t, h, mode="valid", method="fft") for t, h in zip(tail, head, strict=True))
    energy = np.concatenate([[0.0], np.cumsum(np.sum(tail * tail, axis=0))])
    window = energy[x:] - energy[:-x]  # tail energy under each candidate join, d + 1 values
    r = c / np.sqrt(np.maximum(window * float(np.sum(head * head)), 1e-30))
    k = int(np.argmax(r))
    return loop + k, float(np.clip(r[k], 0.0, 1.0))


def _level(model: Model, out: np.ndarray, intensity: float, sr: int, start_s: float, end_s: float) -> np.ndarray:
    peak = _peak(out)
    if not math.isfinite(peak):  # a model bug must never reach the mix as NaN/Inf
        log.warning("%s produced non-finite samples; zeroed", model.sound.name)
        np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        peak = _peak(out)
    s = int(round(start_s * sr))
    e = min(out.shape[1], int(round(end_s * sr)))
    if model.norm == "rms" and e > s:
        # Row by row: each row's slice is contiguous, so a long span is never copied to be measured.
        ref = math.sqrt(sum(float(np.dot(row, row)) for row in out[:, s:e]) / ((e - s) * out.shape[0]))
        # …unless that would push rare peaks (a big drop, a loud pop) past −1 dBFS at full intensity: then the
        # peak sets the level, so beds are never squashed by the safety limiter.
        ref = max(ref, peak * 10.0 ** ((model.level_db + 1.0) / 20.0))
    else:
        ref = peak
    if ref <= 1e-12:
        return out
    gain = 10.0 ** ((model.level_db - INTENSITY_RANGE_DB * (1.0 - intensity)) / 20.0) / ref
    out *= F32(gain)
    if model.sound.kind == "continuous" and e > s:
        _fade(out[:, s:e], int(model.fade_s * sr))
    if peak * gain > _KNEE:
        # Soft knee above 0.8 → asymptote at the ceiling: monotonic, so louder requests stay louder.
        over = np.abs(out) > _KNEE
        x = out[over]
        span = PEAK_CEILING - _KNEE
        out[over] = np.sign(x) * (_KNEE + span * np.tanh((np.abs(x) - _KNEE) / span))
    return out


def _peak(x: np.ndarray) -> float:
    return max(float(x.max()), -float(x.min()))


def _fade(span: np.ndarray, fade: int) -> None:
    n = span.shape[1]
    # ≥ 20 ms when the span allows; never more than a third of the span so the sound still reaches full level.
    m = max(1, min(fade, n // 3)) if n >= 3 else n
    ramp = fade_in(m)
    span[:, :m] *= ramp
    span[:, n - m:] *= ramp[::-1]


def _example(name: str, seconds: float, rng: np.random.Generator, sr: int = 48000) -> np.ndarray:
    """A class's example: a continuous one is cut from the middle of a longer render, so the example is the bed
    at full level from end to end (with 10 ms fades), not its fade-in and fade-out around a short middle."""
    model = _model(name)
    if model.sound.kind == "impulsive":
        return synthesize(name, duration_s=seconds, sr=sr, rng=rng)
    pad = int(round(model.fade_s * sr))
    n = int(round(seconds * sr))
    audio = synthesize(name, duration_s=(n + 2 * pad) / sr, sr=sr, rng=rng)[:, pad:pad + n].copy()
    _fade(audio, int(0.01 * sr))
    return audio


def render_examples(out_dir: str | Path, *, seconds: float = 2.0, seed: int = 0) -> list[Path]:
    """Render `seconds` of every class with default params to out_dir/<name>.wav (48 kHz, 24-bit); beds at full
    level throughout (see _example)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name in CLASSES:
        # Seed per class from its name, so adding a class never changes the others' examples.
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        audio = _example(name, seconds, rng)
        path = out / f"{name}.wav"
        tmp = out / f".{name}.wav.tmp"
        sf.write(tmp, audio.T, 48000, subtype="PCM_24", format="WAV")
        os.replace(tmp, path)  # atomic: an interrupted run never leaves a truncated WAV that looks complete
        paths.append(path)
        log.debug("rendered %s", path)
    return paths
