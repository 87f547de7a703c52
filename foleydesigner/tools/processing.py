"""Audio processors the mixing experts run (pedalboard), plus the master stage: loudness target + true-peak limit."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

from foleydesigner.tools.loudness import SILENCE_LUFS, integrated_lufs, true_peak_dbfs
from foleydesigner.units import SAMPLE_RATE


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


def apply_reverb(audio: np.ndarray, params: Mapping[str, Any], sr: int = SAMPLE_RATE) -> np.ndarray:
    """Algorithmic reverb of the scene's one shared space: room_size/damping/width from the scene, wet from depth."""
    import pedalboard as pb

    wet = float(params.get("wet", 0.1))
    rev = pb.Reverb(room_size=float(params.get("room_size", 0.4)), damping=float(params.get("damping", 0.5)),
                    wet_level=wet, dry_level=float(params.get("dry", 1.0 - 0.5 * wet)), width=float(params.get("width", 1.0)))
    return np.asarray(rev(np.ascontiguousarray(audio, dtype=np.float32), sr), dtype=np.float32)


def apply_dynamics(audio: np.ndarray, params: Mapping[str, Any], sr: int = SAMPLE_RATE) -> np.ndarray:
    """Transient control: a compressor with the planner's threshold/ratio/attack/release."""
    import pedalboard as pb

    comp = pb.Compressor(threshold_db=float(params.get("threshold_db", -18.0)), ratio=float(params.get("ratio", 3.0)),
                         attack_ms=float(params.get("attack_ms", 5.0)), release_ms=float(params.get("release_ms", 80.0)))
    out = np.asarray(comp(np.ascontiguousarray(audio, dtype=np.float32), sr), dtype=np.float32)
    makeup = float(params.get("makeup_db", 0.0))
    return apply_gain_db(out, makeup) if makeup else out


def duck_under(bed: np.ndarray, key: np.ndarray, *, depth_db: float, sr: int = SAMPLE_RATE, window_s: float = 0.05,
               smooth_s: float = 0.15) -> np.ndarray:
    """Lower `bed` by up to depth_db where the foreground `key` is sounding (sidechain ducking, smooth gain)."""
    hop = max(1, int(window_s * sr))
    n = bed.shape[-1]
    k = np.asarray(key, dtype=np.float64).mean(axis=0) if key.ndim == 2 else np.asarray(key, dtype=np.float64)
    frames = math.ceil(n / hop)
    kk = np.pad(k, (0, frames * hop - len(k)))[: frames * hop].reshape(frames, hop)
    level = 10 * np.log10(np.mean(kk**2, axis=1) + 1e-12)
    active = np.clip((level - (level.max() - 30.0)) / 20.0, 0.0, 1.0)  # 0 when key is 30 dB under its peak, 1 within 10 dB
    gain_db = -depth_db * uniform_filter1d(active, max(1, int(smooth_s / window_s)), mode="nearest")
    gain = np.interp(np.arange(n), np.arange(frames) * hop + hop / 2, 10 ** (gain_db / 20))
    return (bed * gain).astype(np.float32)


def true_peak_limit(audio: np.ndarray, *, ceiling_dbtp: float, sr: int = SAMPLE_RATE, window_ms: float = 5.0) -> np.ndarray:
    """Lookahead limiter on the 4x-oversampled envelope (BS.1770-4 true peak).

    The gain is the running minimum of ceiling/envelope over ±window, then averaged over a window half that
    size: every sample's gain is then at most what its own peak needs, and the gain moves smoothly (no clicks).
    """
    x = np.asarray(audio, dtype=np.float32)
    n = x.shape[-1]
    up = np.abs(resample_poly(x, 4, 1, axis=-1)).max(axis=0)[: 4 * n]
    env = np.pad(up, (0, 4 * n - len(up))).reshape(n, 4).max(axis=1)
    ceiling = db_to_gain(ceiling_dbtp)
    target = np.minimum(1.0, ceiling / np.maximum(env, 1e-12))
    w = max(1, int(window_ms * 1e-3 * sr))
    gain = uniform_filter1d(minimum_filter1d(target, 2 * w + 1, mode="nearest"), w + 1, mode="nearest")
    return (x * gain).astype(np.float32)


def master(audio: np.ndarray, *, target_lufs: float, ceiling_dbtp: float, sr: int = SAMPLE_RATE,
           tolerance_lu: float = 0.2, max_iter: int = 10) -> tuple[np.ndarray, dict[str, float]]:
    """Bring a mix to target integrated loudness with true peak ≤ ceiling; returns audio and measurements.

    The loudness after gain g and limiting, L(g), rises monotonically with g but less than 1 dB per dB once the
    limiter works, so g is found by a secant search on L(g) − target, each try limiting the *original* signal.
    """
    x = np.nan_to_num(np.asarray(audio, dtype=np.float32))
    margin = 0.3  # dB under the ceiling: the limiter's gain is computed on a 4x envelope, so inter-sample error is tiny
    lufs0 = integrated_lufs(x, sr)
    if lufs0 <= SILENCE_LUFS:
        return x, {"integrated_lufs": lufs0, "true_peak_dbtp": true_peak_dbfs(x, sr), "gain_db": 0.0}

    def attempt(gain_db: float) -> tuple[np.ndarray, float]:
        y = true_peak_limit(apply_gain_db(x, gain_db), ceiling_dbtp=ceiling_dbtp - margin, sr=sr)
        return y, integrated_lufs(y, sr)

    g0 = target_lufs - lufs0
    y, l0 = attempt(g0)
    best = (abs(l0 - target_lufs), g0, y, l0)
    g1 = g0 + (target_lufs - l0)
    for _ in range(max_iter):
        if best[0] <= tolerance_lu:
            break
        y, l1 = attempt(g1)
        if abs(l1 - target_lufs) < best[0]:
            best = (abs(l1 - target_lufs), g1, y, l1)
        slope = (l1 - l0) / (g1 - g0) if abs(g1 - g0) > 1e-6 else 1.0
        slope = min(max(slope, 0.05), 1.0)  # limited loudness grows at most 1 dB per dB of gain
        g0, l0 = g1, l1
        g1 = min(g1 + (target_lufs - l1) / slope, g1 + 30.0)
    _, gain, y, lufs = best
    tp = true_peak_dbfs(y, sr)
    return y, {"integrated_lufs": round(lufs, 2), "true_peak_dbtp": round(tp, 2), "gain_db": round(gain, 2)}
