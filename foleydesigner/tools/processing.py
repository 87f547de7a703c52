"""Audio processors the mixing experts run (pedalboard, FFT convolution), the scene's shared acoustic space,
and the master stage: loudness target (BS.1770 / A/85 / R128) + true-peak limit."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import butter, lfilter, oaconvolve, sosfilt

from foleydesigner.schemas import SceneContext
from foleydesigner.tools.loudness import (
    SILENCE_LUFS,
    LazyPeakEnvelope,
    LoudnessMeter,
    oversampled_envelope,
    oversampled_peak,
)
from foleydesigner.tools.streams import WINDOW_S, ArrayAudio, AudioSource, SpillFile, aligned, spans
from foleydesigner.units import SAMPLE_RATE

log = logging.getLogger(__name__)


def db_to_gain(db: float) -> float:
    return float(10 ** (db / 20))


def apply_gain_db(audio: np.ndarray, db: float) -> np.ndarray:
    return (audio * db_to_gain(db)).astype(np.float32)


def apply_eq(audio: np.ndarray, params: Mapping[str, Any], sr: int = SAMPLE_RATE) -> np.ndarray:
    """params: highpass_hz, lowpass_hz, cuts/boosts: [{freq_hz, gain_db, q}] (peaking), low_shelf_db, high_shelf_db."""
    import pedalboard as pb

    chain: list[Any] = []
    if params.get("highpass_hz"):
        chain.append(pb.HighpassFilter(cutoff_frequency_hz=float(params["highpass_hz"])))
    if params.get("lowpass_hz"):
        chain.append(pb.LowpassFilter(cutoff_frequency_hz=float(params["lowpass_hz"])))
    for band in params.get("bands", []):
        chain.append(pb.PeakFilter(cutoff_frequency_hz=float(band["freq_hz"]), gain_db=float(band["gain_db"]), q=float(band.get("q", 1.0))))
    if params.get("low_shelf_db"):
        chain.append(pb.LowShelfFilter(cutoff_frequency_hz=float(params.get("low_shelf_hz", 150.0)), gain_db=float(params["low_shelf_db"])))
    if params.get("high_shelf_db"):
        chain.append(pb.HighShelfFilter(cutoff_frequency_hz=float(params.get("high_shelf_hz", 6000.0)), gain_db=float(params["high_shelf_db"])))
    if not chain:
        return audio
    return np.asarray(pb.Pedalboard(chain)(np.ascontiguousarray(audio, dtype=np.float32), sr), dtype=np.float32)


def compressor_gain_db(hop_peak: np.ndarray, *, threshold_db: float, ratio: float, attack_ms: float,
                       release_ms: float, sr: int = SAMPLE_RATE, hop: int = 8) -> np.ndarray:
    """Gain (dB, ≤ 0) per control step of a lookahead compressor, from the peak of each `hop` samples.

    The gain reduction (1 − 1/ratio)·(peak − threshold) dB is reached `attack_ms` before each peak and recovers
    with a `release_ms` time constant. pedalboard's Compressor has no lookahead: a Foley click shorter than its
    attack passes untouched, which is exactly what transient control must catch. Control runs every `hop`
    samples (0.17 ms): finer than any attack, 8× less work. Computed on the whole clip's detector at once, so a
    long clip processed in windows gets the very same gain curve.
    """
    peak = np.asarray(hop_peak, dtype=np.float64)
    target = -np.maximum(20 * np.log10(np.maximum(peak, 1e-12)) - threshold_db, 0.0) * (1.0 - 1.0 / ratio)
    if not target.any():
        return np.zeros_like(target)
    a = max(1, int(round(attack_ms * 1e-3 * sr / hop)))
    g = minimum_filter1d(target, a + 1, origin=-((a + 1) // 2))  # down `a` steps before each peak
    alpha = math.exp(-hop / (release_ms * 1e-3 * sr))
    g = np.minimum(g, lfilter([1 - alpha], [1, -alpha], g))  # fast down, exponential back up
    return uniform_filter1d(g, max(1, a), mode="nearest")  # no gain steps: no clicks


def hop_peaks(audio: np.ndarray, hop: int = 8) -> np.ndarray:
    """max |x| over channels per `hop` samples (the compressor's detector input)."""
    x = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    m = -(-x.shape[-1] // hop)
    return np.pad(np.abs(x).max(axis=0), (0, m * hop - x.shape[-1])).reshape(m, hop).max(axis=1)


def apply_control_gain(audio: np.ndarray, gain_db: np.ndarray, *, hop: int = 8, start: int = 0) -> np.ndarray:
    """audio × a per-control-step gain (dB, step k centred on clip sample k·hop + hop/2), interpolated per
    sample; `audio` begins at clip sample `start`."""
    x = np.asarray(audio, dtype=np.float32)
    n = x.shape[-1]
    k0 = max(0, start // hop - 1)
    k1 = min(len(gain_db), (start + n) // hop + 2)
    if k1 <= k0:
        return x
    ks = np.arange(k0, k1)
    gain = np.interp(np.arange(n), ks * hop + hop / 2 - start, 10 ** (gain_db[k0:k1] / 20)).astype(np.float32)
    return x * gain


def lookahead_compress(audio: np.ndarray, *, threshold_db: float, ratio: float, attack_ms: float, release_ms: float,
                       sr: int = SAMPLE_RATE, hop: int = 8) -> np.ndarray:
    """A lookahead compressor (compressor_gain_db) on a signal in memory."""
    g = compressor_gain_db(hop_peaks(audio, hop), threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms,
                           release_ms=release_ms, sr=sr, hop=hop)
    return apply_control_gain(audio, g, hop=hop) if g.any() else np.asarray(audio, dtype=np.float32)


def duck_under(bed: np.ndarray, key: np.ndarray, *, depth_db: float, sr: int = SAMPLE_RATE, window_s: float = 0.05,
               smooth_s: float = 0.15, ref_db: float | None = None) -> np.ndarray:
    """Lower `bed` by up to depth_db where the foreground `key` is sounding (sidechain ducking, smooth gain).

    The duck is full within 10 dB of the key's reference level and off 30 dB under it; the reference is the
    key's loudest 50 ms unless `ref_db` (mean-square dB of the mono key) gives the whole clip's.
    """
    hop = max(1, int(window_s * sr))
    n = bed.shape[-1]
    k = np.asarray(key, dtype=np.float64).mean(axis=0) if key.ndim == 2 else np.asarray(key, dtype=np.float64)
    frames = math.ceil(n / hop)
    kk = np.pad(k, (0, frames * hop - len(k)))[: frames * hop].reshape(frames, hop)
    level = 10 * np.log10(np.mean(kk**2, axis=1) + 1e-12)
    ref = level.max() if ref_db is None else ref_db
    active = np.clip((level - (ref - 30.0)) / 20.0, 0.0, 1.0)  # 0 when key is 30 dB under its reference, 1 within 10 dB
    gain_db = -depth_db * uniform_filter1d(active, max(1, int(smooth_s / window_s)), mode="nearest")
    gain = np.interp(np.arange(n), np.arange(frames) * hop + hop / 2, 10 ** (gain_db / 20))
    return (bed * gain).astype(np.float32)


def blend_by_envelope(dry: np.ndarray, wet: np.ndarray, envelope: np.ndarray, hop: int) -> np.ndarray:
    """dry + e(t)·(wet − dry) with e ∈ [0, 1] given per `hop` samples: a keyed (dynamic) version of a process,
    e.g. an EQ cut that only acts while the foreground it makes room for is sounding."""
    n = dry.shape[-1]
    e = np.interp(np.arange(n), np.arange(len(envelope)) * hop + hop / 2, envelope).astype(np.float32)
    return (dry + e * (wet - dry)).astype(np.float32)


# --- the scene's one shared acoustic space ------------------------------------------------------------------

#: Shoebox sizes (m) and mid-frequency RT60 (s) per SceneContext.room_size: a bedroom, a living room / office,
#: a hall / warehouse. "open" is a street canyon: facades either side, no ceiling, a few early reflections.
_ROOMS = {"small": ((4.0, 3.5, 2.6), 0.4), "medium": ((8.0, 6.0, 3.0), 0.6), "large": ((20.0, 15.0, 8.0), 1.4),
          "open": ((30.0, 14.0, 12.0), 0.5)}
_HARD = ("concrete", "tile", "stone", "marble", "glass", "metal", "brick", "asphalt")
_SOFT = ("carpet", "curtain", "fabric", "grass", "snow", "foam", "sand", "forest")


@dataclass(frozen=True)
class RoomSpace:
    """The acoustic space the reverb expert puts every sound of a scene in (paper §4: one space per scene)."""

    dims_m: tuple[float, float, float]
    rt60_s: float
    outdoor: bool
    critical_distance_m: float  # where direct and reverberant energy are equal (Sabine: 0.057·√(V/RT60))
    method: str = "pyroomacoustics ShoeBox image sources (order 3) + exponential noise tail"

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def room_space(scene: SceneContext) -> RoomSpace:
    """The space from the scene context: size class → shoebox and RT60, hard/soft surfaces scale the RT60."""
    outdoor = scene.location == "outdoor" or scene.room_size == "open"
    dims, rt60 = _ROOMS["open" if outdoor and scene.room_size in ("open", "large") else scene.room_size]
    surfaces = " ".join(scene.surfaces).lower()
    rt60 *= 1.25 ** sum(w in surfaces for w in _HARD) * 0.8 ** sum(w in surfaces for w in _SOFT)
    rt60 = float(np.clip(rt60, 0.2, 3.0))
    volume = dims[0] * dims[1] * dims[2]
    # Outdoors there is no diffuse field to speak of: the facades return little energy, so r_c is large.
    rc = 10.0 if outdoor else 0.057 * math.sqrt(volume / rt60)
    return RoomSpace(dims_m=dims, rt60_s=round(rt60, 3), outdoor=outdoor, critical_distance_m=round(rc, 2))


def _early_reflections(space: RoomSpace, sr: int, source_distance_m: float) -> np.ndarray | None:
    """(2, n) image-source early reflections (orders 1–3, direct path removed) for a spaced pair, or None."""
    try:
        import pyroomacoustics as pra
    except ImportError:  # the synthetic tail alone is still a valid room
        return None
    w, d, h = space.dims_m
    volume, surface = w * d * h, 2 * (w * d + w * h + d * h)
    alpha = float(np.clip(0.161 * volume / (surface * space.rt60_s), 0.02, 0.95))  # Sabine
    walls = {k: pra.Material(alpha) for k in ("east", "west", "north", "south", "floor", "ceiling")}
    if space.outdoor:
        walls.update(ceiling=pra.Material(0.99), floor=pra.Material(0.05), north=pra.Material(0.6),
                     south=pra.Material(0.6))  # sky above, asphalt below, open street ends
    listener = np.array([w / 2, 0.3 * d, 1.6])
    src = listener + [0.0, min(max(source_distance_m, 1.0), 0.65 * d), 0.0]
    mics = np.c_[listener - [0.085, 0, 0], listener + [0.085, 0, 0]]  # ear-spaced pair: decorrelated sides
    rirs = []
    for order in (3, 0):
        room = pra.ShoeBox([w, d, h], fs=sr, materials=walls, max_order=order, air_absorption=False)
        room.add_source(src)
        room.add_microphone_array(mics)
        room.compute_rir()
        rirs.append([room.rir[m][0] for m in range(2)])  # rir[mic][source]
    n = max(len(r) for pair in rirs for r in pair)
    out = np.zeros((2, n))
    for ch in range(2):
        out[ch, : len(rirs[0][ch])] += rirs[0][ch]
        out[ch, : len(rirs[1][ch])] -= rirs[1][ch]  # same fractional-delay filter: the direct path cancels
    # pyroomacoustics scales each image by 1/r: ×r_direct puts the direct sound at unit gain.
    return out * float(np.linalg.norm(src - listener))


@lru_cache(maxsize=8)
def room_ir(space: RoomSpace, sr: int = SAMPLE_RATE, source_distance_m: float = 3.0, seed: int = 0) -> np.ndarray:
    """(2, n) reverberant part of the space's impulse response (no direct sound), unit energy per channel.

    Early reflections from the image-source model, then a Gaussian-noise tail per ear (independent: the two
    sides are decorrelated, as a diffuse field is) decaying 60 dB in RT60 (×1.2 under 500 Hz, ×0.6 over 4 kHz:
    air and surfaces absorb highs first). The tail carries the diffuse-field share (r/r_c)² of the energy.
    """
    rng = np.random.default_rng(seed)
    n = int(1.2 * space.rt60_s * sr)
    t = np.arange(n) / sr
    tail = np.zeros((2, n))
    bands = (("low", 500.0, 1.2), ("band", (500.0, 4000.0), 1.0), ("high", 4000.0, 0.6))
    for kind, edge, k in bands:
        btype = {"low": "lowpass", "band": "bandpass", "high": "highpass"}[kind]
        sos = butter(2, edge, btype=btype, fs=sr, output="sos")
        tail += sosfilt(sos, rng.standard_normal((2, n)), axis=-1) * np.exp(-6.91 * t / (k * space.rt60_s))
    mixing_time = 1e-3 * math.sqrt(space.dims_m[0] * space.dims_m[1] * space.dims_m[2])  # ≈ √V ms
    tail *= np.clip((t - 0.003) / max(mixing_time, 0.005), 0.0, 1.0)  # builds up as reflections densify
    tail /= np.sqrt(np.sum(tail**2, axis=1, keepdims=True))
    diffuse = (source_distance_m / space.critical_distance_m) ** 2
    early = _early_reflections(space, sr, source_distance_m)
    ir = tail * math.sqrt(diffuse)
    if early is not None:
        m = min(n, early.shape[1])
        ir[:, :m] += early[:, :m]
    ir /= np.sqrt(np.sum(ir**2, axis=1, keepdims=True))
    return ir.astype(np.float32)


def convolve_return(send: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Stereo reverb return: each side of the send bus through its own side of the IR (FFT overlap-add)."""
    n = send.shape[-1]
    return oaconvolve(np.asarray(send, np.float32), ir, axes=-1)[:, :n].astype(np.float32)


def decay_time_s(ir: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """T20 × 3 of an impulse response from its Schroeder integral (ISO 3382): what the room really does."""
    e = np.sum(np.asarray(ir, np.float64) ** 2, axis=0)[::-1].cumsum()[::-1]
    edc = 10 * np.log10(e / e[0] + 1e-20)
    sel = np.flatnonzero((edc <= -5) & (edc >= -25))
    return round(float(-60.0 / np.polyfit(sel / sr, edc[sel], 1)[0]), 3) if sel.size > 2 else 0.0


def true_peak_envelope(audio: np.ndarray) -> np.ndarray:
    """Per sample, the largest |value| of the 4x-oversampled signal around it, over all channels (BS.1770-4 TP)."""
    return oversampled_envelope(audio)


def _limit_gain(env: np.ndarray, ceiling_dbtp: float, sr: int, window_ms: float) -> np.ndarray:
    target = np.minimum(1.0, db_to_gain(ceiling_dbtp) / np.maximum(env, 1e-12))
    w = max(1, int(window_ms * 1e-3 * sr))
    return uniform_filter1d(minimum_filter1d(target, 2 * w + 1, mode="nearest"), w + 1, mode="nearest")


def true_peak_limit(audio: np.ndarray, *, ceiling_dbtp: float, sr: int = SAMPLE_RATE, window_ms: float = 5.0,
                    envelope: np.ndarray | None = None) -> np.ndarray:
    """Lookahead limiter on the 4x-oversampled envelope (BS.1770-4 true peak).

    The gain is the running minimum of ceiling/envelope over ±window, then averaged over a window half that
    size: every sample's gain is then at most what its own peak needs, and the gain moves smoothly (no clicks).
    `envelope` may be given (true_peak_envelope of this very signal) to skip the oversampling.
    """
    x = np.asarray(audio, dtype=np.float32)
    env = true_peak_envelope(x) if envelope is None else envelope
    return (x * _limit_gain(env, ceiling_dbtp, sr, window_ms)).astype(np.float32)


def master(audio: np.ndarray, *, target_lufs: float, ceiling_dbtp: float, sr: int = SAMPLE_RATE,
           tolerance_lu: float = 0.2, max_iter: int = 10) -> tuple[np.ndarray, dict[str, float]]:
    """master_source on a signal in memory; returns the mastered audio and the measurements."""
    x = np.nan_to_num(np.asarray(audio, dtype=np.float32))
    x = x[None, :] if x.ndim == 1 else x
    out = np.empty_like(x)

    def keep(a: int, block: np.ndarray) -> None:
        out[:, a: a + block.shape[1]] = block

    measured = master_source(ArrayAudio(x), keep, target_lufs=target_lufs, ceiling_dbtp=ceiling_dbtp, sr=sr,
                             tolerance_lu=tolerance_lu, max_iter=max_iter, window=max(x.shape[1], 1))
    return out, measured


_TP_PAD = 64  # samples either side for the 4x oversampling filter's reach (as loudness.oversampled_envelope)
_LIMIT_PAD = 2048  # samples read either side of a window: the limiter's ±5 ms minimum and mean filters reach < 500


def master_source(src: AudioSource, write: Callable[[int, np.ndarray], None], *, target_lufs: float,
                  ceiling_dbtp: float, sr: int = SAMPLE_RATE, tolerance_lu: float = 0.2, max_iter: int = 10,
                  window: int | None = None, scratch: Path | None = None,
                  max_gain_db: float | None = None, weights: tuple[float, ...] | None = None) -> dict[str, float]:
    """Bring a mix to target integrated loudness with true peak ≤ ceiling, raising it by `max_gain_db` at most; `write(start, block)` receives the
    mastered signal window by window, in order. Returns the measurements.

    The loudness after gain g and limiting, L(g), rises monotonically with g but less than 1 dB per dB once the
    limiter works, so g is found by a secant search on L(g) − target, each try limiting the *original* signal
    (one pass over it per try, a window at a time; the 4x true-peak envelope is computed once and, for a long
    mix, kept in `scratch` on disk). Windows read the limiter's reach on either side, so the result is the same
    as limiting the whole signal at once.
    """
    n = src.n
    window = window or aligned(WINDOW_S, sr)
    parts = spans(n, window)
    margin = 0.3  # dB under the ceiling: the limiter's gain is computed on a 4x envelope, so inter-sample error is tiny
    meter = LoudnessMeter(sr, weights=weights)  # weights: BS.1770 channel weights of other layouts (7.1.4, FOA's W)
    in_memory = len(parts) == 1 or scratch is None
    mags: list[np.ndarray] = []  # in memory: per-sample peaks, oversampled later only where the limiter could act
    env_file = None if in_memory else SpillFile(scratch / "tp_envelope.f32", 1, n)  # type: ignore[operator]
    for a, b in parts:
        lo, hi = max(0, a - _TP_PAD), min(n, b + _TP_PAD)
        x = src.read(lo, hi)
        meter.push(x[:, a - lo: b - lo])
        if env_file is None:
            mags.append(np.abs(x[:, a - lo: b - lo]).max(axis=0, initial=0.0))
        else:  # a gain scales the envelope: oversample once, not per try
            env_file.write(a, oversampled_envelope(x)[None, a - lo: b - lo])
    lufs0 = meter.profile().integrated()
    lazy = LazyPeakEnvelope(np.concatenate(mags), src.read) if env_file is None else None
    ceiling = db_to_gain(ceiling_dbtp - margin)

    def envelope(lo: int, hi: int, g: float) -> np.ndarray:
        if lazy is None:
            return env_file.read(lo, hi)[0]  # type: ignore[union-attr]
        return lazy.values(lo, hi, lambda bound: ceiling / np.maximum(bound * g, 1e-12) < 1.0)  # as _limit_gain reads it

    def limited(gain_db: float, a: int, b: int) -> np.ndarray:
        g = db_to_gain(gain_db)
        lo, hi = max(0, a - _LIMIT_PAD), min(n, b + _LIMIT_PAD)
        gain = _limit_gain(envelope(lo, hi, g) * g, ceiling_dbtp - margin, sr, 5.0)[a - lo: b - lo]
        return (src.read(a, b) * np.float32(g) * gain).astype(np.float32)

    def attempt(gain_db: float) -> float:
        m = LoudnessMeter(sr, weights=weights)
        for a, b in parts:
            m.push(limited(gain_db, a, b))
        return m.profile().integrated()

    try:
        capped = lufs0 > SILENCE_LUFS and max_gain_db is not None and target_lufs - lufs0 > max_gain_db
        if lufs0 <= SILENCE_LUFS:
            gain, lufs = 0.0, lufs0
        elif capped:  # limiting only lowers the level: at the cap the mix is as close to the target as it may get
            gain = float(max_gain_db)  # type: ignore[arg-type]
            lufs = attempt(gain)
        else:
            g0 = target_lufs - lufs0
            l0 = attempt(g0)
            best = (abs(l0 - target_lufs), g0, l0)
            g1 = g0 + (target_lufs - l0)
            for _ in range(max_iter):
                if best[0] <= tolerance_lu:
                    break
                l1 = attempt(g1)
                if abs(l1 - target_lufs) < best[0]:
                    best = (abs(l1 - target_lufs), g1, l1)
                slope = (l1 - l0) / (g1 - g0) if abs(g1 - g0) > 1e-6 else 1.0
                slope = min(max(slope, 0.05), 1.0)  # limited loudness grows at most 1 dB per dB of gain
                g0, l0 = g1, l1
                g1 = min(g1 + (target_lufs - l1) / slope, g1 + 30.0, math.inf if max_gain_db is None else max_gain_db)
            _, gain, lufs = best
        peak = 0.0
        for a, b in parts:
            lo, hi = max(0, a - _TP_PAD), min(n, b + _TP_PAD)
            y = limited(gain, lo, hi) if lufs0 > SILENCE_LUFS else src.read(lo, hi)
            write(a, y[:, a - lo: b - lo])
            if b > a:  # the true peak of what was written, oversampled with the neighbours it sits between
                peak = max(peak, oversampled_peak(y, a - lo, b - lo))
    finally:
        if env_file is not None:
            env_file.remove()
    tp = 20.0 * math.log10(peak) if peak > 0 else -math.inf
    if lufs0 <= SILENCE_LUFS:
        return {"integrated_lufs": lufs0, "true_peak_dbtp": tp, "gain_db": 0.0}
    out = {"integrated_lufs": round(lufs, 2), "true_peak_dbtp": round(tp, 2), "gain_db": round(gain, 2)}
    return {**out, "gain_capped": True} if capped else out
