"""Spatial and temporal evaluation metrics (DESIGN.md "Evaluation vocabulary").

ITD-based metrics follow SpatialSonic/BEWO: GCC-PHAT ITD per 0.24 s window; GCC-MSE is the mean over clips of
(mean ITD generated − mean ITD reference)² in ms², ×1000. Sign convention everywhere: ITD = t_left − t_right,
positive when the right ear leads (source on the right); ILD = 20·log10(rms_R / rms_L), positive right.
Loudness and true peak live in ``foleydesigner.tools.loudness``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.fft import next_fast_len
from scipy.optimize import linear_sum_assignment

from foleydesigner.generation.spatial import azimuth_from_pan_db
from foleydesigner.units import SPEED_OF_SOUND

_HEAD_RADIUS_M = 0.0875  # the renderer's default (generation.spatial.SpatialConfig)
_MIN_COHERENCE = 0.1  # GCC-PHAT peak (1 = pure delay) below which the ITD of a window is not trusted


def _phat_batch(left: np.ndarray, right: np.ndarray, sr: int, max_delay_s: float,
                interp: int) -> tuple[np.ndarray, np.ndarray]:
    """GCC-PHAT over rows of (frames, samples): delays in s (t_left − t_right) and peak heights in [0, 1].

    The integer peak of the whitened cross-correlation is refined on a grid of 1/interp sample by evaluating
    its band-limited interpolation directly (what a zero-padded IFFT would give), then by a parabola.
    """
    n = left.shape[1]
    nfft = next_fast_len(2 * n, real=True)  # ≥ 2n: linear, not circular, correlation
    win = np.hanning(n + 2)[1:-1]
    cross = np.fft.rfft(left * win, nfft) * np.conj(np.fft.rfft(right * win, nfft))
    mag = np.abs(cross)
    floor = 1e-10 * np.max(mag, axis=1, keepdims=True) + 1e-30  # empty bins carry no phase: leave them out
    g = np.where(mag > floor, cross / np.maximum(mag, floor), 0.0)
    weight = np.count_nonzero(g, axis=1)
    cc = np.fft.irfft(g, nfft, axis=1)
    max_lag = max(1, min(int(math.ceil(max_delay_s * sr)), n - 1))
    lags = np.arange(-max_lag, max_lag + 1)
    k0 = lags[np.argmax(cc[:, lags], axis=1)]
    # Fine grid τ = k0 + m/interp: r(τ) = Σ_k w_k Re(G_k e^{j2πkτ/nfft}) (w = 2 off DC/Nyquist for rfft).
    sub = np.arange(-interp, interp + 1) / interp
    fine = np.zeros((g.shape[0], sub.size))
    for lo in range(0, g.shape[1], 8192):  # chunks keep the steering matrix small for long signals
        bins = np.arange(lo, min(lo + 8192, g.shape[1]))
        wk = np.where((bins == 0) | (2 * bins == nfft), 1.0, 2.0)
        shifted = g[:, bins] * wk * np.exp(2j * np.pi * np.outer(k0, bins) / nfft)
        # einsum, not @: tiny products are not worth waking a BLAS thread pool (slow on shared CPUs).
        fine += np.einsum("fb,bs->fs", shifted, np.exp(2j * np.pi * np.outer(bins, sub) / nfft)).real
    fine /= 2.0 * np.maximum(weight, 1)[:, None]
    j = np.clip(np.argmax(fine, axis=1), 1, sub.size - 2)
    rows = np.arange(fine.shape[0])
    y0, y1, y2 = fine[rows, j - 1], fine[rows, j], fine[rows, j + 1]
    den = y0 - 2.0 * y1 + y2
    frac = np.where(np.abs(den) > 1e-12, 0.5 * (y0 - y2) / np.where(den == 0, 1.0, den), 0.0)
    tau = np.clip(k0 + (sub[j] + np.clip(frac, -0.5, 0.5) / interp), -max_lag, max_lag)
    silent = weight == 0  # no bin with energy: no delay to report
    return np.where(silent, 0.0, tau / sr), np.where(silent, 0.0, np.clip(y1, 0.0, 1.0))


def gcc_phat_itd(left: np.ndarray, right: np.ndarray, sr: int, *, max_delay_s: float = 1e-3,
                 interp: int = 16) -> float:
    """ITD (s), t_left − t_right, by GCC-PHAT with sub-sample peak interpolation; positive: source right."""
    a, b = np.asarray(left, np.float64), np.asarray(right, np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError("left and right must be 1-D arrays of equal length ≥ 2")
    if interp < 1 or max_delay_s <= 0:
        raise ValueError(f"interp must be ≥ 1 and max_delay_s > 0, got {interp} and {max_delay_s}")
    return float(_phat_batch(a[None], b[None], sr, max_delay_s, interp)[0][0])


def _frames(stereo: np.ndarray, sr: int, window_s: float, hop_s: float | None) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(stereo, np.float64)
    if a.ndim != 2 or a.shape[0] != 2:
        raise ValueError(f"stereo must be (2, n), got shape {a.shape}")
    win, hop = int(round(window_s * sr)), int(round((hop_s or window_s) * sr))
    if win < 2 or hop < 1:
        raise ValueError("window_s and hop_s must cover at least 2 and 1 samples")
    count = max(1, 1 + (a.shape[1] - win) // hop)
    a = np.pad(a, ((0, 0), (0, max(0, win - a.shape[1]))))
    starts = np.arange(count) * hop
    frames = np.lib.stride_tricks.sliding_window_view(a, win, axis=1)[:, starts]
    return frames, (starts + win / 2) / sr


def _rms_db(x: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.mean(np.square(x), axis=-1) + 1e-20)


def _windowed_itd(stereo: np.ndarray, sr: int, window_s: float, hop_s: float | None, max_delay_s: float,
                  min_rms_db: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    frames, times = _frames(stereo, sr, window_s, hop_s)
    parts = [_phat_batch(frames[0, i:i + 64], frames[1, i:i + 64], sr, max_delay_s, 16)  # bounded memory
             for i in range(0, frames.shape[1], 64)]
    itd, peak = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    loud = np.minimum(_rms_db(frames[0]), _rms_db(frames[1])) >= min_rms_db
    return times, itd * 1e3, loud, peak


def windowed_itd_ms(stereo: np.ndarray, sr: int, *, window_s: float = 0.24, hop_s: float | None = None,
                    max_delay_s: float = 1e-3, min_rms_db: float = -60.0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SpatialSonic-style GCC-PHAT ITD per window: (window centres s, ITD ms, valid = both ears ≥ min_rms_db).

    Windows do not overlap unless hop_s is given; invalid (quiet) windows carry NaN.
    """
    times, itd, loud, _ = _windowed_itd(stereo, sr, window_s, hop_s, max_delay_s, min_rms_db)
    return times, np.where(loud, itd, np.nan), loud


def ild_db(stereo: np.ndarray) -> float:
    """Broadband interaural level difference 20·log10(rms_R / rms_L), dB; positive: source on the right."""
    a = np.asarray(stereo, np.float64)
    if a.ndim != 2 or a.shape[0] != 2:
        raise ValueError(f"stereo must be (2, n), got shape {a.shape}")
    return float(_rms_db(a[1]) - _rms_db(a[0]))


def windowed_ild_db(stereo: np.ndarray, sr: int, *, window_s: float = 0.24, hop_s: float | None = None,
                    min_rms_db: float = -60.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ILD per window: (window centres s, ILD dB, valid = both ears ≥ min_rms_db)."""
    frames, times = _frames(stereo, sr, window_s, hop_s)
    left, right = _rms_db(frames[0]), _rms_db(frames[1])
    return times, right - left, np.minimum(left, right) >= min_rms_db


def estimate_azimuth_deg(stereo: np.ndarray, sr: int, *, window_s: float = 0.24, hop_s: float | None = None,
                         head_radius_m: float = _HEAD_RADIUS_M, min_rms_db: float = -60.0
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Azimuth per window (frontal hemisphere, degrees): inverse Woodworth ITD, ILD where the ITD is unreliable.

    The Woodworth ITD (a/c)(θ + sin θ) is monotonic on [−90°, 90°], so it is inverted by table lookup. A window
    whose GCC-PHAT peak is weak (diffuse or incoherent ears) or whose ITD sign contradicts a clear ILD
    (> 3 dB) falls back to inverting the renderer's stereo pan law. Front and back cannot be told apart here.
    """
    times, itd_ms, loud, peak = _windowed_itd(stereo, sr, window_s, hop_s, 1.2e-3, min_rms_db)
    _, ild, _ = windowed_ild_db(stereo, sr, window_s=window_s, hop_s=hop_s, min_rms_db=min_rms_db)
    grid = np.linspace(-90.0, 90.0, 721)
    th = np.radians(np.abs(grid))
    table_ms = np.sign(grid) * head_radius_m / SPEED_OF_SOUND * (th + np.sin(th)) * 1e3
    az_itd = np.interp(itd_ms, table_ms, grid)
    az_ild = azimuth_from_pan_db(ild)
    contradicts = (np.abs(ild) > 3.0) & (np.sign(ild) != np.sign(itd_ms))
    az = np.where((peak < _MIN_COHERENCE) | contradicts, az_ild, az_itd)
    return times, np.where(loud, az, np.nan), loud


def _clip_itd_trajectories(clips: Sequence[np.ndarray], sr: int) -> list[np.ndarray]:
    return [windowed_itd_ms(c, sr)[1] for c in clips]


def _check_sets(generated: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> None:
    if len(generated) != len(reference) or len(generated) == 0:
        raise ValueError("generated and reference must be non-empty lists of equal length (paired clips)")


def gcc_mse(generated: Sequence[np.ndarray], reference: Sequence[np.ndarray], sr: int) -> float:
    """SpatialSonic GCC-MSE: mean over paired clips of (mean windowed ITD gen − ref)², ms², ×1000.

    A clip's mean is over its valid (non-silent) windows; a silent clip counts as centred (0 ms).
    """
    _check_sets(generated, reference)

    def mean_itd(traj: np.ndarray) -> float:
        return float(np.nanmean(traj)) if np.any(np.isfinite(traj)) else 0.0

    g = np.array([mean_itd(t) for t in _clip_itd_trajectories(generated, sr)])
    r = np.array([mean_itd(t) for t in _clip_itd_trajectories(reference, sr)])
    return float(np.mean((g - r) ** 2) * 1000.0)


def _trajectory_vectors(clips: Sequence[np.ndarray], sr: int, n_bins: int) -> np.ndarray:
    rows = []
    for traj in _clip_itd_trajectories(clips, sr):
        ok = np.isfinite(traj)
        t = np.linspace(0.0, 1.0, traj.size)
        filled = np.interp(t, t[ok], traj[ok]) if ok.any() else np.zeros_like(traj)  # bridge silent windows
        rows.append(np.interp(np.linspace(0.0, 1.0, n_bins), t, filled))
    return np.asarray(rows)


def fsad(generated: Sequence[np.ndarray], reference: Sequence[np.ndarray], sr: int, *,
         n_bins: int = 256) -> float:
    """Fréchet distance between Gaussians fitted to per-clip ITD trajectories (ms, resampled to n_bins), ×1000.

    A proxy for SpatialSonic's FSAD built on the ITD trajectory instead of a learned embedding. With fewer
    clips than bins the covariances are singular, so both get the same ridge (1e-6 ms² + 1e-3 of the mean
    variance): the distance stays finite, ≥ 0, and exactly 0 for identical sets.
    """
    if len(generated) == 0 or len(reference) == 0:
        raise ValueError("generated and reference must be non-empty")
    a, b = _trajectory_vectors(generated, sr, n_bins), _trajectory_vectors(reference, sr, n_bins)

    def cov(v: np.ndarray) -> np.ndarray:
        return np.cov(v, rowvar=False) if v.shape[0] > 1 else np.zeros((n_bins, n_bins))

    # Both covariances act only on the span of the centred trajectories; on its complement both equal the
    # ridge λI and contribute λ + λ − 2λ = 0. Working in that span (≤ clips dims) is exact and tiny.
    centred = np.concatenate([a - a.mean(axis=0), b - b.mean(axis=0)])
    q = np.linalg.qr(centred.T)[0] if centred.any() else np.zeros((n_bins, 0))
    ca, cb = q.T @ cov(a) @ q, q.T @ cov(b) @ q
    ridge = 1e-6 + 1e-3 * (np.trace(ca) + np.trace(cb)) / (2 * n_bins)
    ca, cb = ca + ridge * np.eye(q.shape[1]), cb + ridge * np.eye(q.shape[1])
    wa, va = np.linalg.eigh(ca)
    sqrt_a = (va * np.sqrt(np.clip(wa, 0.0, None))) @ va.T
    cross = np.linalg.eigvalsh(sqrt_a @ cb @ sqrt_a)  # Tr sqrt(Ca Cb) via the symmetric form
    trace_term = np.trace(ca) + np.trace(cb) - 2.0 * np.sum(np.sqrt(np.clip(cross, 0.0, None)))
    dist = float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2) + trace_term)
    return max(0.0, dist) * 1000.0


def activation_iou(pred: Sequence[float] | np.ndarray, truth: Sequence[float] | np.ndarray) -> float:
    """Frame-level IoU of two binary activation sequences (values > 0.5 are active); both empty → 1.0."""
    p, t = np.asarray(pred) > 0.5, np.asarray(truth) > 0.5
    if p.shape != t.shape:
        raise ValueError(f"pred and truth must have the same length, got {p.shape} and {t.shape}")
    union = np.count_nonzero(p | t)
    return 1.0 if union == 0 else float(np.count_nonzero(p & t) / union)


@dataclass(frozen=True)
class OnsetScore:
    """Onset detection score; errors_s are signed (pred − truth) per matched pair."""

    precision: float
    recall: float
    f1: float
    errors_s: list[float] = field(default_factory=list)
    median_error_s: float = math.nan  # median |error|; NaN when nothing matched


def onset_f1(pred_s: Sequence[float], truth_s: Sequence[float], *, tolerance_s: float) -> OnsetScore:
    """One-to-one onset matching within ±tolerance_s (Hungarian: most matches, then smallest total error)."""
    p, t = np.asarray(pred_s, np.float64).ravel(), np.asarray(truth_s, np.float64).ravel()
    if p.size == 0 and t.size == 0:
        return OnsetScore(1.0, 1.0, 1.0)
    if p.size == 0 or t.size == 0:
        return OnsetScore(0.0 if p.size else 1.0, 0.0 if t.size else 1.0, 0.0)
    diff = p[:, None] - t[None, :]
    within = np.abs(diff) <= tolerance_s + 1e-12
    # Any out-of-tolerance pair costs more than all in-tolerance errors together, so the count is maximised.
    big = 1.0 + within.size * (tolerance_s + 1.0)
    rows, cols = linear_sum_assignment(np.where(within, np.abs(diff), big))
    keep = within[rows, cols]
    errors = diff[rows[keep], cols[keep]]
    tp = int(keep.sum())
    prec, rec = tp / p.size, tp / t.size
    f1 = 0.0 if tp == 0 else 2 * prec * rec / (prec + rec)
    med = float(np.median(np.abs(errors))) if tp else math.nan
    return OnsetScore(prec, rec, f1, [float(e) for e in errors], med)


def onset_envelope(audio: np.ndarray, sr: int, *, hop_s: float = 0.01) -> np.ndarray:
    """Spectral-flux onset strength, one value per hop; value k describes the change around time k·hop_s.

    Log-compressed magnitudes (log1p(100|X|)) make the flux follow relative rises, so a quiet onset counts;
    each flux compares frames centred half a hop before and after k·hop_s, so the envelope is not skewed.
    """
    a = np.asarray(audio, np.float64)
    mono = a if a.ndim == 1 else a.mean(axis=0)
    hop = max(2, int(round(hop_s * sr)))
    nfft = 1 << int(math.ceil(math.log2(2 * hop)))
    count = int(math.ceil(mono.size / hop)) + 1
    pad = nfft // 2 + hop // 2  # frame j is centred at (j − ½)·hop
    x = np.pad(mono, (pad, pad + count * hop + nfft))
    frames = np.lib.stride_tricks.sliding_window_view(x, nfft)[: (count + 1) * hop : hop][: count + 1]
    mag = np.log1p(100.0 * np.abs(np.fft.rfft(frames * np.hanning(nfft), axis=1)))
    flux = np.maximum(np.diff(mag, axis=0), 0.0).sum(axis=1)
    return flux[:count]


def av_offset_ms(visual_signal: Sequence[float] | np.ndarray, visual_rate_hz: float, audio: np.ndarray, sr: int,
                 *, max_lag_s: float = 0.5, hop_s: float = 0.01) -> float:
    """Lag (ms) maximising the cross-correlation of a visual motion-onset signal and the audio onset envelope.

    Positive: the audio is late. The visual signal is resampled linearly onto the envelope's hop grid, both are
    standardised, and the peak is refined by a parabola (resolution well under one hop).
    """
    env = onset_envelope(audio, sr, hop_s=hop_s)
    vis = np.asarray(visual_signal, np.float64)
    t_env = np.arange(env.size) * hop_s
    v = np.interp(t_env, np.arange(vis.size) / visual_rate_hz, vis, left=0.0, right=0.0)
    v, e = v - v.mean(), env - env.mean()
    if not (np.any(v) and np.any(e)):
        return 0.0
    max_lag = max(1, int(round(max_lag_s / hop_s)))
    full = np.correlate(np.pad(e, (max_lag, max_lag)), v, mode="valid")  # full[L+max_lag] = Σ e[k+L] v[k]
    k = int(np.argmax(full))
    frac = 0.0
    if 0 < k < full.size - 1:
        den = full[k - 1] - 2 * full[k] + full[k + 1]
        frac = 0.5 * (full[k - 1] - full[k + 1]) / den if den != 0 else 0.0
    return float((k - max_lag + frac) * hop_s * 1000.0)


def azimuth_error_deg(estimated_deg: Sequence[float] | np.ndarray, truth_deg: Sequence[float] | np.ndarray,
                      mask: Sequence[bool] | np.ndarray | None = None) -> float:
    """Mean absolute azimuth error, wrap-aware (179° vs −179° is 2°); NaN entries and masked-out ones skipped."""
    e, t = np.asarray(estimated_deg, np.float64), np.asarray(truth_deg, np.float64)
    err = np.abs((e - t + 180.0) % 360.0 - 180.0)
    keep = np.isfinite(err) if mask is None else np.isfinite(err) & np.asarray(mask, bool)
    return float(np.mean(err[keep])) if keep.any() else math.nan
