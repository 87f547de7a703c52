"""Modal synthesis machinery: materials, mode-frequency laws, contact excitation and per-object mode banks.

A hit = contact force pulse × the body's decaying modes.

Mode frequencies come from plate/bar/shell theory scaled by size and material; damping from the material
loss factor η (T60 = ln(1000)/(π f η): internal friction damps high modes faster, which is why wood "knocks"
and steel "rings"); excitation from the contact time of the strike (Hertz: shorter, harder contact excites
higher modes). Repeated hits on one object share its modes (cached per call) and vary strike position and
force, as real repeated strikes do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from foleydesigner.generation.procedural.dsp import (
    F32,
    LN1000,
    burst,
    decay,
    filt,
    modes,
    ramp,
    white,
)
from foleydesigner.generation.procedural.registry import Ctx

T = TypeVar("T")


@dataclass(frozen=True)
class Material:
    c: float  # bending wave-speed scale sqrt(E/ρ), m/s
    eta: float  # loss factor (internal friction)
    t_max: float  # s: cap from radiation and support damping of an object in situ
    tau: float  # s: contact time of a hard striker at full velocity


MATERIALS = {
    # c = sqrt(E/ρ): spruce/oak ≈ 10 GPa / 600 kg/m³; steel 200 GPa / 7800; soda glass 70 GPa / 2500.
    "wood": Material(4000.0, 0.012, 0.5, 0.8e-3),
    "metal": Material(5100.0, 3e-4, 3.0, 0.25e-3),
    "glass": Material(5300.0, 1.5e-3, 1.5, 0.2e-3),
    "ceramic": Material(6000.0, 1e-3, 0.8, 0.3e-3),
    "plastic": Material(1500.0, 0.03, 0.15, 0.6e-3),
    "stone": Material(3500.0, 0.015, 0.25, 0.5e-3),
}

#: Free–free Euler–Bernoulli beam: f_n ∝ (β_n L)², β_n L = 4.730, 7.853, 10.996, 14.137, 17.279, 20.42.
BAR = (1.0, 2.756, 5.404, 8.933, 13.344, 18.64)


def ring_ratios(count: int) -> np.ndarray:
    """Flexural modes of a thin ring/cup/bottle wall (Rayleigh): f_n ∝ n(n²−1)/√(n²+1), n = 2, 3, …"""
    n = np.arange(2, count + 2, dtype=float)
    r = n * (n * n - 1.0) / np.sqrt(n * n + 1.0)
    return r / r[0]


def plate_ratios(aspect: float, count: int) -> np.ndarray:
    """Simply supported rectangular plate: f_mn ∝ (m/a)² + (n/b)²; aspect = a/b. Lowest `count` modes."""
    m, n = np.meshgrid(np.arange(1, 8), np.arange(1, 8))
    r = np.sort((m * m + (n * aspect) ** 2).ravel())
    return r[:count] / r[0]


def bar_f1(length_m: float, thick_m: float, c: float) -> float:
    """Fundamental of a free bar: f1 = (4.730)² h c / (2π √12 L²)."""
    return 22.37 * thick_m * c / (2.0 * math.pi * math.sqrt(12.0) * length_m ** 2)


def t60s(freqs: np.ndarray, mat: Material) -> np.ndarray:
    """Per-mode T60: internal friction (∝ 1/f) in parallel with the object's radiation/support cap."""
    internal = math.log(1000.0) / (math.pi * np.maximum(freqs, 1.0) * mat.eta)
    return 1.0 / (1.0 / internal + 1.0 / mat.t_max)


def contact_weight(freqs: np.ndarray, tau: float) -> np.ndarray:
    """Magnitude spectrum envelope of a half-sine contact force of length τ: flat to ≈ 0.6/τ, then −12 dB/oct."""
    return 1.0 / np.sqrt(1.0 + (freqs * tau / 0.6) ** 4)


class ModeBank:
    """The modes of one object, synthesised once per call: a hit is a weighted sum of the precomputed rows."""

    def __init__(self, freqs: np.ndarray, t60: np.ndarray, sr: int, max_s: float) -> None:
        self.last_shift = 0.0
        self.keep = (freqs < 0.45 * sr) & (freqs > 10.0)
        if not self.keep.any():  # all modes above Nyquist (a coin at 8 kHz): keep the lowest, clamped
            low = int(np.argmin(freqs))
            self.keep[low] = True
            freqs, t60 = freqs.copy(), t60.copy()
            freqs[low] = min(float(freqs[low]), 0.4 * sr)
        self.freqs, self.t60 = freqs[self.keep], t60[self.keep]
        self.length = int(min(max_s, 1.2 * float(self.t60.max())) * sr) + 1
        # Each row only as long as its own mode lasts (high modes die fast): a hit costs Σ lengths, not K × max.
        self.rows: list[np.ndarray] = []
        for f, t in zip(self.freqs, self.t60, strict=True):
            m = min(self.length, int(1.2 * t * sr) + 1)
            row = modes([f], [t], [1.0], m, sr)
            tail = m // 10  # taper whatever the max_s cap cut off
            row[m - tail:] *= np.linspace(1.0, 0.0, tail, dtype=F32)
            self.rows.append(row)

    def hit(self, rng: np.random.Generator, v: float, tau: float, amps: np.ndarray | float = 1.0,
            spread: float = 0.6, detune: float = 0.006) -> np.ndarray:
        """One strike: strike-position weights (random, 1−spread…1), contact spectrum for velocity v, and a
        per-hit pitch jitter of ~detune (varispeed: the Foley editor's trick against machine-gun repeats)."""
        pos = rng.uniform(1.0 - spread, 1.0, self.freqs.size)
        a = np.asarray(amps, dtype=float)
        if a.ndim and a.size == self.keep.size:
            a = a[self.keep]
        w = v * pos * np.broadcast_to(a, self.freqs.shape) * contact_weight(self.freqs, tau)
        y = np.zeros(self.length, F32)
        for wk, row in zip(w, self.rows, strict=True):
            y[: row.size] += F32(wk) * row
        if detune:
            k = ramp(y.size)
            # Never re-use the last hit's pitch: consecutive shifts differ by ≥ detune/2 (round-robin variation).
            shift = rng.uniform(-detune, detune)
            for _ in range(8):
                if abs(shift - self.last_shift) >= 0.5 * detune:
                    break
                shift = rng.uniform(-detune, detune)
            self.last_shift = shift
            y = np.interp(k * (1.0 + shift), k, y, right=0.0).astype(F32, copy=False)
        return y


def bank(ctx: Ctx, key: str, make: Callable[[], T]) -> T:
    """What all hits of this call share (the same object's modes), built on the first hit."""
    if key not in ctx.cache:
        ctx.cache[key] = make()
    return ctx.cache[key]  # type: ignore[return-value]


def hertz_tau(mat_tau: float, v: float, softness: float = 1.0) -> float:
    """Contact time ∝ v^(-1/5) (Hertz); softness multiplies it (a knuckle or shoe is softer than a hammer)."""
    return mat_tau * softness * max(v, 0.05) ** -0.2


def click(rng: np.random.Generator, sr: int, v: float, dur_s: float, lo: float, hi: float) -> np.ndarray:
    """Contact noise: the few-ms broadband crack of local deformation at the strike point."""
    n = max(8, int(dur_s * 4 * sr))
    return v * burst(rng, n, sr, dur_s, ("bp", lo, hi, 2))


def dense_modes(rng: np.random.Generator, n: int, sr: int, bands: list[tuple[float, float, float, float]]) -> np.ndarray:
    """Where modes overlap (high frequencies of plates and shells, modal density ∝ area/thickness, ~20 per kHz
    for a 3 mm steel sheet) they are heard as decaying band noise: one (lo, hi, T60, level) band each."""
    y = np.zeros(n, F32)
    for lo, hi, t60, level in bands:
        if lo < 0.45 * sr and level > 0.0:
            m = min(n, int(1.2 * t60 * sr))
            y[:m] += level * filt(white(rng, m) * decay(m, t60 / LN1000, sr), sr, ("bp", lo, hi, 2)).astype(F32, copy=False)
    return y


def object_modes(ctx: Ctx, material: str, ratios: np.ndarray, f1: float, jitter: float = 0.03) -> ModeBank:
    mat = MATERIALS[material]
    # Randomised modes: real objects are never ideal plates/bars; ±jitter per mode, drawn once per object.
    freqs = f1 * ratios * (1.0 + jitter * ctx.rng.standard_normal(ratios.size))
    return ModeBank(freqs, t60s(freqs, mat), ctx.sr, mat.t_max)
