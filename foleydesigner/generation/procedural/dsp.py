"""DSP building blocks shared by the procedural models.

Everything here is vectorised: a 60 s texture at 48 kHz is 2.9 M samples and each class has ~0.15 s to make
it, so a model may afford only a handful of full-length passes. Rules of thumb measured on one core:
uniform noise ≈ 8 ms, one `sosfilt`/`lfilter` pass ≈ 17–25 ms (whatever the order up to ~8), an element-wise
op ≈ 2 ms. Hence: generate uniform (not Gaussian) noise, cascade filter sections into one `sosfilt` call,
build slow envelopes at a 200 Hz control rate and interpolate, and add short grains by slicing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import signal

F32 = np.float32
TWO_PI = 2.0 * math.pi
#: T60 → exponential rate: a mode decays by 60 dB (factor 1000) in T60, so e^{-ln(1000) t / T60}.
LN1000 = math.log(1000.0)
#: Control rate of slow envelopes (gusts, pass-bys, syllables): 5 ms resolution is far below what the ear tracks.
CONTROL_HZ = 200
_SQRT12 = math.sqrt(12.0)

Stage = tuple  # ("lp", fc[, order]) | ("hp", fc[, order]) | ("bp", lo, hi[, order]) | ("peak", f, q, dB) | ("reson", f, q)


def white(rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
    """Unit-variance white noise. Uniform, not Gaussian: 5x cheaper, and any filtering makes it Gaussian anyway."""
    x = rng.random(shape, dtype=F32)
    x -= 0.5
    x *= _SQRT12
    return x


def nyq(f: float, sr: int) -> float:
    """Clamp a design frequency below Nyquist (models are written for 48 kHz but must run at 16 kHz too)."""
    return float(min(max(f, 1.0), 0.45 * sr))


@lru_cache(maxsize=2048)
def _stage_sos(stage: Stage, sr: int) -> np.ndarray:
    kind = stage[0]
    if kind in ("lp", "hp"):
        order = int(stage[2]) if len(stage) > 2 else 2
        return signal.butter(order, nyq(stage[1], sr), btype="lowpass" if kind == "lp" else "highpass", fs=sr,
                             output="sos")
    if kind == "bp":
        order = int(stage[3]) if len(stage) > 3 else 1
        lo, hi = nyq(stage[1], sr), nyq(stage[2], sr)
        lo = min(lo, 0.9 * hi)
        return signal.butter(order, [lo, hi], btype="bandpass", fs=sr, output="sos")
    w0 = TWO_PI * nyq(stage[1], sr) / sr
    alpha = math.sin(w0) / (2.0 * stage[2])
    cw = math.cos(w0)
    if kind == "reson":  # RBJ constant-0-dB-peak band-pass: a damped mode of bandwidth f/Q
        b = [alpha, 0.0, -alpha]
        a = [1.0 + alpha, -2.0 * cw, 1.0 - alpha]
    elif kind == "peak":  # RBJ peaking EQ: a broad resonance riding on the rest of the spectrum
        amp = 10.0 ** (stage[3] / 40.0)
        b = [1.0 + alpha * amp, -2.0 * cw, 1.0 - alpha * amp]
        a = [1.0 + alpha / amp, -2.0 * cw, 1.0 - alpha / amp]
    else:
        raise ValueError(f"unknown filter stage {stage!r}")
    return np.array([[b[0] / a[0], b[1] / a[0], b[2] / a[0], 1.0, a[1] / a[0], a[2] / a[0]]])


@lru_cache(maxsize=1024)
def chain_sos(stages: tuple[Stage, ...], sr: int, single: bool = False) -> np.ndarray:
    sos = np.vstack([_stage_sos(tuple(s), sr) for s in stages])
    return sos.astype(F32, copy=False) if single else sos


#: Above this length filtering runs in float32 (≈ 2x faster, error ~1e-6 of full scale); hits stay float64.
_F32_FROM = 100_000


def filt(x: np.ndarray, sr: int, *stages: Stage) -> np.ndarray:
    """Run x (…, n) through a cascade of filter stages in ONE sosfilt pass (cost ≈ one pass, not one per
    stage). Returns float32."""
    if x.shape[-1] == 0:
        return x.astype(F32, copy=False)
    if x.shape[-1] >= _F32_FROM:
        return signal.sosfilt(chain_sos(tuple(stages), sr, True), x.astype(F32, copy=False), axis=-1)
    return signal.sosfilt(chain_sos(tuple(stages), sr), x, axis=-1).astype(F32, copy=False)


_RAMP = np.arange(1 << 16, dtype=np.float64)
_RAMP32 = np.arange(4096, dtype=F32)


def ramp(n: int) -> np.ndarray:
    """0, 1, …, n-1 as float64 (cached: most hits are shorter than 1.4 s)."""
    global _RAMP
    if n > _RAMP.size:
        _RAMP = np.arange(max(n, 2 * _RAMP.size), dtype=np.float64)
    return _RAMP[:n]


def damped_sine(f: float, t60: float, m: int, sr: int) -> np.ndarray:
    """e^{-ln(1000) t / T60} sin(2π f t) over m samples as Im(z^k), z = e^{(-δ + iω)/sr}: powers are built
    blockwise (z^k = z^(1024 b) · z^j), exact per block and ~3x cheaper than separate exp() and sin()."""
    if m <= _RAMP32.size:  # short (damped, high) modes: direct float32 evaluation has less overhead
        k = _RAMP32[:m]
        y = np.exp(k * F32(-LN1000 / (t60 * sr)))
        y *= np.sin(k * F32(TWO_PI * f / sr))
        return y
    block = 1024
    s_ = complex(-LN1000 / (t60 * sr), TWO_PI * f / sr)
    b = -(-m // block)
    base = np.exp(s_ * ramp(block)).astype(np.complex64)
    heads = np.exp(s_ * block * ramp(b)).astype(np.complex64)
    return (heads[:, None] * base[None, :]).imag.reshape(-1)[:m]


def modes(freqs: Sequence[float], t60s: Sequence[float], amps: Sequence[float], n: int, sr: int) -> np.ndarray:
    """Modal synthesis: Σ a_k e^{-ln(1000) t / T60_k} sin(2π f_k t) — the impulse response of a struck linear
    body (Adrien 1991; van den Doel & Pai 1998). Each mode is computed only over its own T60, so highly damped
    high modes cost little; modes above 0.45·sr are dropped."""
    out = np.zeros(n, dtype=F32)
    for f, t60, a in zip(freqs, t60s, amps, strict=True):
        if a == 0.0 or f >= 0.45 * sr or f <= 0.0:
            continue
        # Run to −72 dB (1.2·T60) and taper the last fifth: a hard cut at −60 dB is a click whose broadband
        # splatter would brighten the spectrum.
        m = min(n, int(1.2 * t60 * sr) + 1)
        mode = damped_sine(f, t60, m, sr)
        tail = m // 5
        if tail > 1:
            mode[m - tail:] *= _cos_out(tail)
        if a != 1.0:
            mode *= F32(a)
        out[:m] += mode
    return out


@lru_cache(maxsize=64)
def _cos_out(m: int) -> np.ndarray:
    return (0.5 + 0.5 * np.cos(np.pi * ramp(m) / m)).astype(F32, copy=False)


def half_sine(dur_s: float, sr: int) -> np.ndarray:
    """Contact force of an elastic impact: close to a half sine whose length is the contact time (Hertz);
    shorter contact (harder, faster) = flatter, brighter spectrum."""
    m = max(2, int(round(dur_s * sr)))
    return np.sin(np.pi * (ramp(m) + 0.5) / m).astype(F32, copy=False)


def decay(n: int, tau_s: float, sr: int) -> np.ndarray:
    """e^{-t/τ} over n samples, floored at e^-50: subnormal floats would make every later filter crawl."""
    return np.exp(np.maximum(ramp(n) * (-1.0 / max(tau_s * sr, 1e-9)), -50.0).astype(F32, copy=False))


def fade_in(m: int) -> np.ndarray:
    """Raised-cosine (sin²) ramp 0→1 over m samples: no slope discontinuity at either end."""
    return (np.sin(0.5 * np.pi * (ramp(m) + 0.5) / max(m, 1)) ** 2).astype(F32, copy=False)


def burst(rng: np.random.Generator, n: int, sr: int, tau_s: float, *stages: Stage) -> np.ndarray:
    """A decaying filtered-noise burst (scrape, slap, splash spray) starting at full level on sample 0.
    Only ~12 τ (−100 dB) plus 10 ms of filter ring is computed; the rest of the n samples are zeros."""
    m = min(n, int(12.0 * tau_s * sr + 0.01 * sr) + 1)
    x = white(rng, m) * decay(m, tau_s, sr)
    y = filt(x, sr, *stages) if stages else x
    if m == n:
        return y
    out = np.zeros(n, F32)
    out[:m] = y
    return out


# ---- control-rate envelopes ------------------------------------------------------------------------------

def hop(sr: int) -> int:
    return max(1, sr // CONTROL_HZ)


def ctrl_len(n: int, sr: int) -> int:
    """Number of control points needed to cover n audio samples (one more than the hops)."""
    return n // hop(sr) + 2


def ctrl_times(n: int, sr: int) -> np.ndarray:
    """Times (s) of the control points that cover n samples."""
    return ramp(ctrl_len(n, sr)) * (hop(sr) / sr)


def upsample(c: np.ndarray, n: int, sr: int) -> np.ndarray:
    """Linear interpolation of control points (spaced hop(sr)) to n audio samples, vectorised by reshaping."""
    return stretch(c, hop(sr), n)


def stretch(c: np.ndarray, factor: int, n: int) -> np.ndarray:
    """Linear interpolation by an integer factor: (m,) → (n,) with n ≤ (m-1)·factor; also (…, m) → (…, n)."""
    c = np.asarray(c, dtype=F32)
    if factor <= 10:  # few phases: one long strided pass per phase (a tiny inner axis would crawl)
        d = np.diff(c, axis=-1)
        y = np.empty((*c.shape[:-1], d.shape[-1] * factor), F32)
        for j in range(factor):
            out = y[..., j::factor]
            np.multiply(d, F32(j / factor), out=out)
            out += c[..., :-1]
        return y[..., :n]
    frac = (ramp(factor) / factor).astype(F32, copy=False)
    y = np.empty((*c.shape[:-1], c.shape[-1] - 1, factor), F32)
    np.multiply(np.diff(c, axis=-1)[..., None], frac, out=y)
    y += c[..., :-1, None]
    return y.reshape(*c.shape[:-1], -1)[..., :n]


def ctrl_at(c: np.ndarray, m: int, fs: float, sr: int) -> np.ndarray:
    """Control points (spaced hop(sr)/sr s) read at m points of rate fs — to apply envelopes at a low rate."""
    factor = hop(sr) * fs / sr
    if abs(factor - round(factor)) < 1e-9 and round(factor) >= 1:  # whole samples per hop: reshape trick
        f = int(round(factor))
        pad = max(0, -(-m // f) + 1 - c.shape[-1])
        if pad:
            c = np.concatenate([c, np.repeat(c[..., -1:], pad, axis=-1)], axis=-1)
        return stretch(c, f, m)
    tc = ramp(c.shape[-1]) * (hop(sr) / sr)
    t = ramp(m) / fs
    if c.ndim == 1:
        return np.interp(t, tc, c).astype(F32, copy=False)
    return np.stack([np.interp(t, tc, row) for row in c]).astype(F32, copy=False)


def smooth_noise(rng: np.random.Generator, m: int, corr_s: float, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Slow random fluctuation at control rate, unit std, correlation time ≈ corr_s (gusts, drifts, jitters)."""
    x = rng.standard_normal((*shape, m + 64))
    pole = math.exp(-1.0 / max(corr_s * CONTROL_HZ, 1e-3))
    y = signal.lfilter([1.0 - pole], [1.0, -pole], x, axis=-1)
    y = signal.lfilter([1.0 - pole], [1.0, -pole], y, axis=-1)[..., 64:]
    y -= y.mean(axis=-1, keepdims=True)
    return y / (y.std(axis=-1, keepdims=True) + 1e-12)


# ---- placement -------------------------------------------------------------------------------------------

def place(out: np.ndarray, grain: np.ndarray, pos: int, gain: float = 1.0) -> None:
    """out[..., pos:pos+m] += gain·grain, clipped to out; grain is (m,) or matches out's leading axes."""
    n = out.shape[-1]
    m = grain.shape[-1]
    if pos >= n or pos + m <= 0:
        return
    a, b = max(pos, 0), min(pos + m, n)
    out[..., a:b] += F32(gain) * grain[..., a - pos:b - pos]


def pan(p: float) -> np.ndarray:
    """Constant-power gains (L, R) for a position p in [-1, 1] (sin/cos law)."""
    th = (min(max(p, -1.0), 1.0) + 1.0) * np.pi / 4.0
    return np.array([math.cos(th), math.sin(th)], dtype=F32)[:, None]


#: A near-coincident (ORTF, 17 cm) pair: a source at the side reaches the far microphone ≈ 0.5 ms later.
#: Time as well as level differences make an ambience of point sources wide and decorrelated, and at 17 cm
#: the low end stays correlated enough to survive a mono fold-down.
AB_MAX_DELAY_S = 0.0005

Spot = tuple[np.ndarray, tuple[int, int]]


def spot(p: float, sr: int, coincident: bool = False) -> Spot:
    """Where a point source sits in a diffuse ambience: constant-power gains and pair delays (L, R).
    coincident=True (an XY pair: level only) keeps pure tones from combing in a mono fold-down."""
    d = 0 if coincident else int(round(abs(p) * AB_MAX_DELAY_S * sr))
    return pan(p)[:, 0], ((d, 0) if p > 0 else (0, d))


def spot_grain(grain: np.ndarray, where: Spot) -> np.ndarray:
    """A mono grain rendered once at a spot as a (2, m + delay) stereo grain: one place() per use after."""
    g, (dl, dr) = where
    out = np.zeros((2, grain.shape[-1] + max(dl, dr)), F32)
    out[0, dl:dl + grain.shape[-1]] = grain * g[0]
    out[1, dr:dr + grain.shape[-1]] = grain * g[1]
    return out


def place_spot(out: np.ndarray, grain: np.ndarray, pos: int, where: Spot, gain: float = 1.0) -> None:
    """Add a mono grain into a (2, n) ambience at a spot: per-channel gain and arrival delay."""
    g, (dl, dr) = where
    place(out[0], grain, pos + dl, gain * float(g[0]))
    place(out[1], grain, pos + dr, gain * float(g[1]))


def impulses(n: int, positions: np.ndarray, amps: np.ndarray) -> np.ndarray:
    """Sparse impulse train (sum of amps at integer positions), vectorised with bincount."""
    keep = (positions >= 0) & (positions < n)
    x = np.bincount(positions[keep], weights=amps[keep], minlength=n).astype(F32, copy=False)
    # A 1e-20 floor keeps IIR states out of subnormal range between sparse impulses (x100 slowdowns).
    x += F32(1e-20)
    return x


def poisson_times(rng: np.random.Generator, rate_hz: float, dur_s: float) -> np.ndarray:
    """Event times of a Poisson process (independent drops, crackles, bubbles), unsorted."""
    k = rng.poisson(max(rate_hz, 0.0) * max(dur_s, 0.0))
    return rng.random(k) * dur_s


def pareto_amps(rng: np.random.Generator, k: int, alpha: float = 1.5, cap: float = 30.0) -> np.ndarray:
    """Heavy-tailed event sizes: many small drops/crackles, a few big ones (crackling noise and raindrop
    impacts have power-law-like size statistics); capped so one event cannot dominate a bed. Inverse CDF of
    a Pareto law, u^(-1/α)."""
    u = rng.random(k, dtype=F32)
    u += F32(cap ** -alpha)  # u ≥ cap^-α ⇔ size ≤ cap
    return np.minimum(u ** F32(-1.0 / alpha), F32(cap))


def pulse_times(rate_ctrl: np.ndarray, sr: int, phase0: float = 0.0) -> np.ndarray:
    """Times (s) at which an oscillator with instantaneous rate rate_ctrl (Hz, at control points) completes
    each cycle: integrate the rate at control rate and invert by interpolation — exact to the control-rate
    linearisation, and ~100x cheaper than an audio-rate phase accumulator for firing/slip/blade pulses."""
    dt = hop(sr) / sr
    cum = np.concatenate([[phase0], phase0 + np.cumsum(0.5 * (rate_ctrl[1:] + rate_ctrl[:-1]) * dt)])
    targets = np.arange(math.ceil(cum[0]), math.floor(cum[-1]) + 1, dtype=np.float64)
    return np.interp(targets, cum, ramp(cum.size) * dt)


def sweep_phase(freq: np.ndarray, sr: int) -> np.ndarray:
    """Phase in cycles (float64, wrapped) of an oscillator whose instantaneous frequency is freq (Hz, per sample)."""
    ph = np.cumsum(freq, dtype=np.float64) / sr
    return ph - np.floor(ph)


def lowrate(sr: int, top_hz: float) -> int:
    """Integer decimation factor so content below top_hz can be synthesised at sr/factor (cheap rumbles)."""
    return max(1, int(sr / (4.0 * top_hz)))


# ---- oscillators -----------------------------------------------------------------------------------------

TABLE_SIZE = 2048


def harmonic_table(amps: Sequence[float]) -> np.ndarray:
    """One period of Σ amps[k-1]·sin(2π k θ): additive synthesis precomputed once, read by phase."""
    th = ramp(TABLE_SIZE) / TABLE_SIZE
    tab = np.zeros(TABLE_SIZE)
    for k, a in enumerate(amps, start=1):
        if a:
            tab += a * np.sin(TWO_PI * k * th)
    return (tab / max(float(np.abs(tab).max()), 1e-12)).astype(F32, copy=False)


def lookup(table: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """Wavetable oscillator: table value at phase `cycles` (any real, wrapped), nearest sample."""
    idx = (cycles * TABLE_SIZE).astype(np.int64)
    idx &= TABLE_SIZE - 1
    return table[idx]


def fixed_phase(n: int, f: float, sr: int, offset: float = 0.0) -> np.ndarray:
    """Phase in cycles of a constant-frequency oscillator (wrapped, so float32 stays precise)."""
    ph = ramp(n) * (f / sr) + offset
    ph -= np.floor(ph)
    return ph


def steady_tone(table: np.ndarray, f: float, n: int, sr: int, offset: float = 0.0) -> np.ndarray:
    """A constant-pitch wavetable tone by looping one second: with f rounded to whole Hz a second holds
    whole cycles, so the loop is seamless and costs a memory copy instead of n phase computations."""
    one = lookup(table, fixed_phase(sr, float(max(1, round(f))), sr, offset))
    return np.resize(one, n)


class GrainBank:
    """k variants of a decaying filtered-noise grain, filtered in one call. A hit draws a random blend of two
    of them, so repeated hits vary continuously (never identical) at the cost of two slice-adds."""

    def __init__(self, rng: np.random.Generator, k: int, m: int, sr: int, tau_s: float, *stages: Stage,
                 source: np.ndarray | None = None) -> None:
        x = source if source is not None else white(rng, (k, m)) * decay(m, tau_s, sr)
        self.rows = filt(x, sr, *stages) if stages else x.astype(F32, copy=False)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        k = self.rows.shape[0]
        i, step, a = rng.integers(0, k), rng.integers(1, k), rng.uniform(0.25, 0.75)
        j = (i + step) % k  # a different row
        # Independent noises add in power: normalise so the blend keeps the rows' level.
        return (self.rows[i] * F32(a) + self.rows[j] * F32(1.0 - a)) * F32(1.0 / math.hypot(a, 1.0 - a))
