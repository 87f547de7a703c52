"""Procedural Foley: physically informed DSP synthesis of 52 sound classes (the offline default generator).

Families: `impacts`, `doors`, `steps` (modal synthesis of struck objects and rhythmic contacts, on the
machinery in `modal`), `handling` (cloth, paper), `weather` and `water` (filtered/granular noise: drops,
bubbles, turbulence), `blasts` (gunshot, explosion, fire), `engines` (source–filter: firing/blade pulses
through resonances), `voices` (barks and walla through formants, birds, insects, applause) and `signals`
(phones, sirens, horns, hum, room tone, whooshes). Shared DSP lives in `dsp`, the registry in `registry`.
Every call is deterministic in its `rng`; 60 s of any class renders in ≈ 0.005–0.13 s on one core.
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

from foleydesigner.generation.procedural import (  # noqa: F401  (importing registers the models)
    blasts,
    doors,
    engines,
    handling,
    impacts,
    signals,
    steps,
    voices,
    water,
    weather,
)
from foleydesigner.generation.procedural.dsp import F32, fade_in
from foleydesigner.generation.procedural.registry import MODELS, Ctx, Model, SoundClass

__all__ = ["CLASSES", "SoundClass", "list_classes", "param_options", "render_examples", "resolve_class", "synthesize"]

log = logging.getLogger(__name__)

CLASSES: Mapping[str, SoundClass] = {name: m.sound for name, m in sorted(MODELS.items())}

#: Intensity 0 sits this many dB below intensity 1 (a whisper of a sound, not silence: the mixer rides levels).
INTENSITY_RANGE_DB = 30.0
#: Hard ceiling; a soft knee starts at _KNEE so limiting is gentle and monotonic.
PEAK_CEILING = 0.98
_KNEE = 0.8


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

def synthesize(name: str, *, duration_s: float, sr: int = 48000, onsets_s: Sequence[float] = (),
               start_s: float = 0.0, end_s: float | None = None, intensity: float = 0.7,
               params: Mapping[str, object] | None = None, rng: np.random.Generator) -> np.ndarray:
    """Render one sound event as float32 (channels, round(duration_s·sr)); 2 channels for diffuse classes.

    Impulsive classes put one hit at each onset (hit start at the onset sample); without onsets they play
    their natural pattern between start_s and end_s. Continuous classes sound between start_s and end_s with
    raised-cosine fades and are silent outside. Intensity (0–1) sets level over a 30 dB range and, where
    physical, excitation strength (harder hits are brighter). Peak ≤ 0.98.
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
        out = _render_span(model, channels, n, sr, start_s, end, intensity, merged, rng)
    return _level(model, out, intensity, sr, start_s, end)


def _render_hits(model: Model, out: np.ndarray, sr: int, onsets: list[float], start_s: float, end_s: float,
                 intensity: float, params: dict[str, object], rng: np.random.Generator) -> None:
    ctx = Ctx(sr, out.shape[1], intensity, params, rng, out.shape[0])
    if onsets:
        hits = [(t, 1.0) for t in sorted(onsets)]
    else:
        hits = model.pattern(ctx, start_s, end_s) if model.pattern else [(start_s, 1.0)]
    for t, accent in hits:
        # Per-hit force jitter (±~12 %): no two real footfalls or knocks are struck alike.
        v = float(np.clip(intensity * accent * rng.lognormal(0.0, 0.12), 0.03, 1.0))
        hit = np.atleast_2d(np.asarray(model.render(ctx, v), dtype=F32))
        pos = int(round(t * sr))
        m = min(hit.shape[1], out.shape[1] - pos)
        if m > 0:
            out[:, pos:pos + m] += hit[:, :m]


def _render_span(model: Model, channels: int, total: int, sr: int, start_s: float, end_s: float, intensity: float,
                 params: dict[str, object], rng: np.random.Generator) -> np.ndarray:
    s = int(round(start_s * sr))
    e = min(total, int(round(end_s * sr)))
    n = e - s
    if n <= 0:
        return np.zeros((channels, total), F32)
    ctx = Ctx(sr, n, intensity, params, rng, channels)
    span = np.atleast_2d(np.asarray(model.render(ctx), dtype=F32))[:, :n]
    if span.shape[0] != channels:
        span = np.broadcast_to(span.mean(axis=0, keepdims=True), (channels, span.shape[1]))
    if s == 0 and span.shape[1] == total and span.flags.c_contiguous and span.flags.writeable:
        return span  # the span is the whole clip: no copy
    out = np.zeros((channels, total), F32)
    out[:, s:s + span.shape[1]] = span
    return out


def _level(model: Model, out: np.ndarray, intensity: float, sr: int, start_s: float, end_s: float) -> np.ndarray:
    peak = _peak(out)
    if not math.isfinite(peak):  # a model bug must never reach the mix as NaN/Inf
        log.warning("%s produced non-finite samples; zeroed", model.sound.name)
        np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        peak = _peak(out)
    s = int(round(start_s * sr))
    e = min(out.shape[1], int(round(end_s * sr)))
    if model.norm == "rms" and e > s:
        span = np.ascontiguousarray(out[:, s:e]).ravel()
        ref = math.sqrt(float(np.dot(span, span)) / span.size)
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


def render_examples(out_dir: str | Path, *, seconds: float = 2.0, seed: int = 0) -> list[Path]:
    """Render `seconds` of every class with default params to out_dir/<name>.wav (48 kHz, 24-bit)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name in CLASSES:
        # Seed per class from its name, so adding a class never changes the others' examples.
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        audio = synthesize(name, duration_s=seconds, rng=rng)
        path = out / f"{name}.wav"
        tmp = out / f".{name}.wav.tmp"
        sf.write(tmp, audio.T, 48000, subtype="PCM_24", format="WAV")
        os.replace(tmp, path)  # atomic: an interrupted run never leaves a truncated WAV that looks complete
        paths.append(path)
        log.debug("rendered %s", path)
    return paths
