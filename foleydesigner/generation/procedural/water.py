"""Water: bubbles are the voice of water (Minnaert 1933: an air bubble of radius R rings at f ≈ 3.26/R Hz·m,
rising in pitch as it nears the surface), with impact slaps, sprays and turbulent noise around them."""

from __future__ import annotations

import math

import numpy as np

from foleydesigner.generation.procedural.dsp import (
    F32,
    burst,
    ctrl_at,
    ctrl_len,
    ctrl_times,
    filt,
    lowrate,
    modes,
    place,
    poisson_times,
    smooth_noise,
    stretch,
    upsample,
    white,
)
from foleydesigner.generation.procedural.registry import Ctx, register, regular, single


def bubble(rng: np.random.Generator, sr: int, radius_mm: float, amp: float) -> np.ndarray:
    """A drop-entrained bubble: Minnaert resonance f = 3.26/R (Hz·m), rising as it nears the surface
    (σ ≈ 0.1 f/ms chirp, van den Doel 2005), damped in ~10 cycles."""
    f0 = 3.26 / (radius_mm * 1e-3)
    dur = min(0.06, 12.0 / f0 + 0.004)
    n = max(8, int(dur * sr))
    t = np.arange(n) / sr
    f = f0 * (1.0 + 2.0 * t / dur)
    ph = np.cumsum(f) / sr
    return (amp * np.sin(2.0 * np.pi * ph) * np.exp(-t * f0 / 3.0 * 0.4 * math.pi / 4.0)).astype(F32, copy=False)


def bubble_table(rng: np.random.Generator, sr: int, r_mm: tuple[float, float], count: int = 24) -> list[np.ndarray]:
    """Unit-amplitude bubbles with radii log-uniform in r_mm (precomputed once, placed many times)."""
    radii = np.exp(rng.uniform(math.log(r_mm[0]), math.log(r_mm[1]), count))
    return [bubble(rng, sr, r, 1.0) for r in radii]


def scatter(out: np.ndarray, rng: np.random.Generator, sr: int, table: list[np.ndarray], rate_hz: float,
            level: float) -> None:
    """Poisson-timed grains drawn from `table` into each channel of out (independent per channel)."""
    for ch in range(out.shape[0]):
        times = poisson_times(rng, rate_hz, out.shape[1] / sr)
        kinds = rng.integers(0, len(table), times.size)
        amps = level * rng.uniform(0.1, 1.0, times.size) ** 2
        for t, k, a in zip((times * sr).astype(int), kinds, amps, strict=True):
            place(out[ch], table[k], int(t), float(a))


@register("water_stream", description="a babbling brook or running stream: dense bubbling over a water rush",
          kind="continuous", layer="bg", diffuse=True, params={"flow": 0.5}, centroid=(600, 3500),
          ranges={"flow": (0.0, 1.0)},
          synonyms=("stream", "brook", "creek", "river", "running water", "babbling brook", "faucet", "tap running"))
def water_stream(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    flow = ctx.f("flow")
    # The unresolved part: turbulent rush (low-mid band) at half rate, interpolated up.
    r = lowrate(sr, 3000.0)
    m = n // r + 2
    # Shallow water over stones has little below 250 Hz (recorded streams: 30 dB under their 0.5–4 kHz body);
    # deep, slow rivers carry more rumble.
    rush = stretch(filt(white(rng, (2, m)), sr // r, ("hp", 300.0, 4), ("lp", 2000.0, 2), ("peak", 800.0, 1.0, 4.0)),
                   r, n)
    y = (0.25 + 0.3 * flow) * rush.astype(F32, copy=False)
    # Resolved bubbles: radii 1–10 mm → 330 Hz–3.3 kHz, more and bigger with more flow.
    table = bubble_table(rng, sr, (1.0, 4.0 + 6.0 * flow))
    scatter(y, rng, sr, table, 40.0 + 80.0 * flow, 1.1)
    # Spray and surface hiss: water breaking over stones throws droplets whose splashes are far smaller than
    # the bubbles (2–8 kHz), flickering as the surface churns. Recorded streams centre at 1.5–3 kHz, not below.
    k = ctrl_len(n, sr)
    flicker = upsample(np.exp(0.6 * smooth_noise(rng, k, 0.03, (2,))), n, sr)
    spray = filt(white(rng, (2, n)), sr, ("bp", 2000.0, 8000.0, 2)) * flicker
    y += F32(0.12 * (0.5 + flow)) * spray
    return y


@register("waves", description="ocean surf on a beach: breaking waves, foam wash and backwash, low swell",
          kind="continuous", layer="bg", diffuse=True, params={"period_s": 9.0}, centroid=(400, 3500),
          ranges={"period_s": (3.0, 25.0)}, fade_s=2.0,
          synonyms=("surf", "ocean", "sea", "shore", "beach", "breakers", "ocean waves", "sea waves"))
def waves(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    t = ctrl_times(n, sr)
    period = ctx.f("period_s")
    crash = np.zeros((2, t.size))
    wash = np.zeros((2, t.size))
    # Breakers arrive at the swell period (±20 %); the first may be mid-break when the shot starts.
    tb = -rng.uniform(0.0, period)
    while tb < t[-1]:
        size = rng.uniform(0.5, 1.0)
        x = t - tb
        on = x >= 0
        rise = np.clip(x / 0.6, 0.0, 1.0) ** 2  # the lip curls and crashes over ~0.6 s
        for ch, p in enumerate(rng.uniform(0.6, 1.0, 2)):
            crash[ch] += on * size * p * rise * np.exp(-np.clip(x, 0.0, None) / 1.3)
            # Foam runs up the beach and drains back: a later, longer, brighter fizz.
            wx = np.clip(x - 0.8, 0.0, None)
            wash[ch] += on * size * p * (1.0 - np.exp(-wx / 0.5)) * np.exp(-wx / 3.0)
        tb += period * rng.uniform(0.8, 1.2)
    # Surf has little above 5 kHz: everything is made at sr/2 and interpolated up once at the end.
    r = lowrate(sr, 5000.0)
    fs = sr // r
    m = n // r + 2
    noise = filt(white(rng, (2, m)), fs, ("hp", 60.0), ("peak", 500.0, 0.7, 6.0), ("lp", 4000.0))
    fizz = np.diff(noise, axis=-1)  # first difference: +6 dB/oct, the foam's hiss
    fizz *= ctrl_at(0.08 * wash, m, fs, sr)[:, 1:]
    noise *= ctrl_at(crash + 0.08, m, fs, sr)
    noise[:, 1:] += fizz
    # Swell: the low, steady roar of distant breaking, slowly varying (made and modulated at a lower rate).
    rs = max(1, lowrate(sr, 300.0) // r)
    ms = m // rs + 2
    swell = filt(white(rng, (2, ms)), fs // rs, ("lp", 150.0, 2), ("hp", 25.0, 1))
    # Under the breakers, not over them: a recorded beach keeps below 60 Hz ≈ 20 dB under its 125–500 Hz body;
    # at full level the swell made the renders' loudest band 30–125 Hz.
    swell *= ctrl_at(0.3 * (0.8 + 0.24 * smooth_noise(rng, t.size, 4.0)), ms, fs // rs, sr)
    noise += stretch(swell, rs, m)
    return stretch(noise, r, n)


def _drips(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    # A leaking tap drips almost periodically (Shaw 1984) — regular with 8 % jitter.
    return regular(ctx, t0, t1, ctx.f("rate_hz"), 0.08)


@register("water_drips", description="water dripping into a pool or sink: plinks of pinched-off bubbles",
          kind="impulsive", layer="fg", params={"rate_hz": 1.3, "into": "water"}, centroid=(800, 4000),
          choices={"into": ("water", "sink")}, ranges={"rate_hz": (0.1, 20.0)}, pattern=_drips,
          synonyms=("drip", "drips", "dripping", "water drop", "leak", "leaking tap", "dripping tap"))
def water_drips(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    n = int(0.12 * sr)
    y = np.zeros(n, F32)
    y += 0.3 * v * burst(rng, n, sr, 0.0015, ("bp", 1000.0, 5000.0, 2))  # the drop's impact
    if ctx.s("into") == "water":
        # A 3–5 mm drop entrains a ≈ 1.5–3 mm bubble: a 1–2 kHz rising plink a few ms after impact.
        place(y, bubble(rng, sr, rng.uniform(1.6, 3.0), v), int(rng.uniform(0.001, 0.004) * sr))
    else:  # stainless sink: the drop excites the bowl's modes
        f = rng.uniform(1400.0, 1800.0)
        y += modes(f * np.array([1.0, 2.3, 3.9]), [0.1, 0.06, 0.04], v * np.array([0.6, 0.4, 0.2]), n, sr)
    return y


SPLASH = {"small": (0.4, 0.005), "medium": (0.7, 0.012), "large": (1.2, 0.025)}


@register("water_splash", description="something (or someone) hitting water: slap, spray, gloop, droplets",
          kind="impulsive", layer="fg", params={"size": "medium"}, centroid=(800, 5000),
          choices={"size": tuple(SPLASH)}, pattern=single,
          synonyms=("splash", "splashing", "dive", "jumps into the water", "plunge", "splash into water"))
def water_splash(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    length, cavity_m = SPLASH[ctx.s("size")]
    n = int((length + 0.8) * sr)
    y = np.zeros(n, F32)
    # Impact slap: the flat water surface is hit; then spray (crown and sheet breakup) decays.
    y += v * burst(rng, n, sr, 0.004, ("bp", 250.0, 4000.0, 2)) * 1.5
    y += 0.4 * v * burst(rng, n, sr, length * 0.35, ("bp", 500.0, 6000.0, 2))
    # The air cavity pinches off and rings as one big bubble (Minnaert for R ≈ cavity radius): the 'gloop'.
    gloop = bubble(rng, sr, cavity_m * 1000.0 * rng.uniform(0.8, 1.2), 0.8 * v)
    place(y, gloop, int(length * 0.25 * sr))
    cloud = np.zeros((1, int(length * sr)), F32)
    scatter(cloud, rng, sr, [bubble(rng, sr, r, 1.0) for r in rng.uniform(1.0, 6.0, 12)], 120.0, 0.35 * v)
    place(y, cloud[0], int(0.02 * sr))
    for t in length * 0.3 + rng.exponential(0.25, int(10 * length)):  # droplets falling back
        place(y, bubble(rng, sr, rng.uniform(0.8, 2.0), 0.15 * v * rng.uniform(0.3, 1.0)), int(t * sr))
    return y
