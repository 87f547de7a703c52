"""Handling noise: cloth and paper moved by hands and bodies (friction noise + buckling micro-impulses).

The friction noise is granular: grains of a real crackling recording (a burning fuse: dense, broadband,
power-law crackle, the same statistics as fibres and sheets slipping; `recorded`), white noise where none ships.
"""

from __future__ import annotations

import numpy as np

from foleydesigner.generation.procedural.dsp import (
    F32,
    ctrl_times,
    filt,
    impulses,
    lowrate,
    pareto_amps,
    poisson_times,
    stretch,
    upsample,
    white,
)
from foleydesigner.generation.procedural.recorded import grains
from foleydesigner.generation.procedural.registry import Ctx, register


def _friction(ctx: Ctx) -> np.ndarray:
    """Unit-RMS friction noise for ctx.n samples: real crackle grains (20 ms, ≈ 5 overlapping), else white."""
    real = grains(ctx.rng, ctx.sr, "crackle", ctx.n, grain_s=0.02, rate_hz=250.0)
    return white(ctx.rng, ctx.n) if real is None else real[0]


def gestures(ctx: Ctx, rate_hz: float, min_s: float, max_s: float) -> np.ndarray:
    """Control-rate movement envelope: overlapping Hann-shaped gestures (an arm swing, a page turn)."""
    t = ctrl_times(ctx.n, ctx.sr)
    env = np.full(t.size, 0.05)
    start = -ctx.rng.uniform(0.0, max_s)
    while start < t[-1]:
        length = ctx.rng.uniform(min_s, max_s)
        x = (t - start) / length
        inside = (x >= 0.0) & (x <= 1.0)
        env[inside] += ctx.rng.uniform(0.4, 1.0) * np.sin(np.pi * x[inside]) ** 2
        start += ctx.rng.exponential(1.0 / rate_hz) + 0.3 * length
    return env


#: fabric → (friction band, crinkle rate per second at full movement, crinkle band)
FABRICS = {"cotton": ((400.0, 4500.0), 40.0, (1500.0, 6000.0)),
           "nylon": ((1200.0, 10000.0), 120.0, (3000.0, 12000.0)),
           "leather": ((200.0, 2500.0), 25.0, (600.0, 3000.0))}


@register("cloth_rustle", description="clothes rustling as someone moves (cotton, nylon jacket, leather)",
          kind="continuous", layer="fg", params={"fabric": "cotton", "activity": 1.5}, centroid=(1500, 6000),
          choices={"fabric": tuple(FABRICS)}, ranges={"activity": (0.1, 6.0)}, norm="peak", level_db=-3.0,
          synonyms=("cloth", "clothes rustle", "fabric", "clothing", "rustle", "rustling", "jacket", "clothes"))
def cloth_rustle(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    band, crinkle_hz, crinkle_band = FABRICS[ctx.s("fabric")]
    env = gestures(ctx, ctx.f("activity"), 0.25, 0.9)
    env_a = upsample(env, n, sr)
    # Fibres rubbing: friction noise whose level follows the sliding speed…
    rub = filt(_friction(ctx) * env_a, sr, ("bp", band[0], band[1], 2))
    # …and weave/fold buckling: sparse clicks, more of them when moving fast.
    times = poisson_times(rng, crinkle_hz * 2.0, n / sr)
    pos = (times * sr).astype(np.int64)
    keep = rng.random(pos.size) < env_a[np.minimum(pos, n - 1)] / max(float(env.max()), 1e-9)
    clicks = filt(impulses(n, pos[keep], pareto_amps(rng, int(keep.sum())).astype(np.float64)), sr,
                  ("bp", crinkle_band[0], crinkle_band[1], 2))
    return (rub + 0.5 * clicks).astype(F32, copy=False)


@register("paper_rustle", description="paper handled: page turns, crinkles and sheets sliding",
          kind="continuous", layer="fg", params={"activity": 1.0}, centroid=(2000, 8000),
          ranges={"activity": (0.1, 6.0)}, norm="peak", level_db=-3.0,
          synonyms=("paper", "papers", "pages", "page turn", "page turning", "newspaper", "crumple", "envelope"))
def paper_rustle(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    env = gestures(ctx, ctx.f("activity"), 0.3, 1.0)
    env_a = upsample(env, n, sr)
    # Stiff sheets buckle in discrete snaps (crumpling is a crackling noise with power-law event sizes,
    # Houle & Sethna 1996): a dense, bright click stream gated by the hand movement.
    times = poisson_times(rng, 900.0, n / sr)
    pos = (times * sr).astype(np.int64)
    keep = rng.random(pos.size) < (env_a[np.minimum(pos, n - 1)] / max(float(env.max()), 1e-9)) ** 2
    clicks = impulses(n, pos[keep], pareto_amps(rng, int(keep.sum()), 1.3, 40.0).astype(np.float64))
    slide = _friction(ctx) * env_a * 0.15
    y = filt(clicks + slide, sr, ("hp", 1200.0, 2), ("peak", 4000.0, 0.8, 4.0), ("lp", 8000.0, 2))
    # The sheet flapping moves air: a low swish made at low rate.
    r = lowrate(sr, 800.0)
    m = n // r + 2
    flap = stretch(filt(white(rng, m), sr // r, ("bp", 150.0, 900.0, 2)), r, n) * env_a
    return (y + 0.6 * flap).astype(F32, copy=False)
