"""Combustion: gunshots and explosions (Friedlander blast waves + tails), and fire (crackle + roar)."""

from __future__ import annotations

import math

import numpy as np

from foleydesigner.generation.procedural.doors import latch
from foleydesigner.generation.procedural.dsp import (
    F32,
    burst,
    ctrl_len,
    decay,
    filt,
    impulses,
    lowrate,
    pareto_amps,
    place,
    poisson_times,
    ramp,
    smooth_noise,
    stretch,
    upsample,
    white,
)
from foleydesigner.generation.procedural.registry import Ctx, band_limited, register, single


def friedlander(sr: int, t_pos: float, length_s: float, b: float = 1.8) -> np.ndarray:
    """Friedlander blast wave p(t) = (1 − t/T₊)·e^(−b t/T₊): instant overpressure, exponential fall through a
    negative (suction) phase. T₊ sets the spectrum (peak near 1/(2T₊))."""
    t = ramp(int(length_s * sr)) / (t_pos * sr)
    return ((1.0 - t) * np.exp(-b * t)).astype(F32, copy=False)


#: (positive phase T₊ s, tail τ s, crack level, action delay s or 0)
WEAPONS = {"pistol": (0.0012, 0.18, 0.0, 0.06), "rifle": (0.0009, 0.3, 0.6, 0.0),
           "shotgun": (0.002, 0.3, 0.0, 0.0)}


@register("gunshot", description="a gunshot outdoors: muzzle blast, bullet crack (rifle), action, echoes",
          kind="impulsive", layer="fg", params={"weapon": "pistol"}, centroid=(1000, 5000),
          choices={"weapon": tuple(WEAPONS)}, pattern=single,
          synonyms=("gun", "gun shot", "shot", "shots", "gunfire", "pistol shot", "rifle shot", "bang"))
def gunshot(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    t_pos, tau, crack, action = WEAPONS[ctx.s("weapon")]
    n = int(1.6 * sr)
    y = np.zeros(n, F32)
    if crack:  # supersonic bullet: a ~0.3 ms N-wave arriving before the muzzle blast
        m = max(4, int(0.0003 * sr))
        place(y, np.linspace(1.0, -1.0, m, dtype=F32), 0, crack * v)
        lead = int(0.004 * sr)
    else:
        lead = 0
    # Microphone and air round the shock front: no recorded blast is flat to 24 kHz.
    blast = filt(friedlander(sr, t_pos * v ** -0.3, 0.05), sr, ("lp", 3500.0, 2)).astype(F32, copy=False)
    place(y, blast, lead, v)
    # Turbulent muzzle gas: broadband noise riding the blast; then ground reflection and a reverberant tail.
    place(y, burst(rng, int(0.05 * sr), sr, 0.006, ("bp", 400.0, 4000.0, 2)), lead, 0.3 * v)
    tail = white(rng, n) * decay(n, tau, sr) * 0.06 * v
    y += filt(tail, sr, ("bp", 150.0, 3000.0, 2)).astype(F32, copy=False)
    for t in rng.uniform(0.15, 0.6, 2):  # slap-back echoes from buildings/trees, absorbed above 2 kHz
        place(y, filt(blast, sr, ("lp", 1800.0)).astype(F32, copy=False), int(t * sr), 0.15 * v * rng.uniform(0.5, 1.0))
    if action:  # pistol slide cycling and a brass case bouncing
        place(y, latch(rng, sr, 0.1 * v, 2800.0), int(action * sr))
        place(y, latch(rng, sr, 0.04 * v, 5200.0), int(rng.uniform(0.5, 0.7) * sr))
    return y


@register("explosion", description="an explosion: blast wave, fireball roar, falling debris",
          kind="impulsive", layer="fg", params={"charge_kg": 5.0}, centroid=(80, 1000),
          ranges={"charge_kg": (0.05, 1000.0)}, pattern=single, tail_s=6.5,
          synonyms=("blast", "boom", "detonation", "explodes", "bomb", "grenade"))
def explosion(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    w = ctx.f("charge_kg")
    # Hopkinson–Cranz cube-root scaling: durations grow as W^(1/3) (≈ 10 ms T₊ for 5 kg at ~100 m).
    scale = w ** (1.0 / 3.0)
    t_pos = 0.006 * scale
    length = min(6.0, 2.5 + 0.8 * scale)
    n = int(length * sr)
    y = np.zeros(n, F32)
    blast = filt(friedlander(sr, t_pos, min(length, 20 * t_pos)), sr, ("lp", 1500.0, 2)).astype(F32, copy=False)
    place(y, blast / max(float(np.abs(blast).max()), 1e-9), 0, v)
    # The fireball's turbulent combustion and the shock's passage through clutter: a broadband burst over the
    # first second. Recorded explosions keep 0.5–5 kHz within ≈ 15 dB of their low peak; the blast wave and the
    # low roar alone left the renders 20–35 dB down there.
    y += 0.15 * v * burst(rng, n, sr, 0.25 * scale ** 0.5, ("hp", 300.0, 2), ("lp", 2500.0, 4))
    # Fireball and ground-shock roar: low band noise decaying over seconds, made at low rate.
    r = lowrate(sr, 400.0)
    m = n // r + 2
    roar = filt(white(rng, m) * decay(m, length / 4.0, sr // r), sr // r, ("lp", 250.0, 2), ("hp", 20.0, 1))
    y += 0.35 * v * stretch(roar, r, n).astype(F32, copy=False) / max(float(np.abs(roar).max()), 1e-9)
    # Debris raining down: Poisson clicks whose rate decays over ~2 s, bright and scattered.
    times = rng.exponential(0.8, int(60 * min(scale, 4.0))) + 0.25
    pos = (times[times < length] * sr).astype(np.int64)
    debris = filt(impulses(n, pos, pareto_amps(rng, pos.size).astype(np.float64)), sr, ("bp", 600.0, 4000.0, 2))
    y += 0.04 * v * debris.astype(F32, copy=False)
    return y


FIRES = {"campfire": (0.5, 30.0), "fireplace": (0.4, 20.0), "bonfire": (2.0, 60.0)}


@register("fire_crackle", description="a wood fire: crackles and pops over a low flame roar and hiss",
          kind="continuous", layer="fg", params={"fire": "campfire"}, centroid=(1000, 5000),
          choices={"fire": tuple(FIRES)}, norm="peak", level_db=-3.0,
          synonyms=("fire", "crackle", "crackling", "campfire", "fireplace", "flames", "bonfire", "burning"))
@band_limited(6000.0)
def fire_crackle(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    diameter, crackle_hz = FIRES[ctx.s("fire")]
    k = ctrl_len(n, sr)
    # Crackles come in bursts (resin pockets and steam popping): Poisson with a slowly wandering rate.
    activity = np.exp(0.8 * smooth_noise(rng, k, 1.5))
    times = poisson_times(rng, crackle_hz * 2.0, n / sr)
    keep = rng.random(times.size) < np.interp(times, np.arange(k) / 200.0, activity / activity.max())
    pos = (times[keep] * sr).astype(np.int64)
    # Pop sizes heavy-tailed but capped at 20× the smallest: with 60× a few huge pops set the whole envelope, whose
    # spacing then read as a rhythm (periodicity 0.28–0.34 in 4 s; recorded fires 0.10–0.16).
    x = impulses(n, pos, pareto_amps(rng, pos.size, 1.2, 20.0).astype(np.float64))
    # Each pop is a tiny steam explosion: a few clustered sub-clicks (add a delayed copy of each).
    sub = np.minimum(pos + rng.integers(20, 200, pos.size), n - 1)
    x += impulses(n, sub, 0.5 * pareto_amps(rng, pos.size).astype(np.float64))
    hiss = white(rng, n) * upsample(0.05 + 0.04 * np.clip(smooth_noise(rng, k, 2.0), 0.0, None), n, sr)
    y = filt(x + hiss, sr, ("hp", 700.0, 2), ("peak", 2500.0, 0.8, 4.0), ("lp", 6000.0, 2))
    # Flame roar: buoyant flames puff at f ≈ 1.5/√D Hz (Cetegen & Ahmed 1993) — a low band breathing.
    puff = 1.5 / math.sqrt(diameter)
    r = lowrate(sr, 500.0)
    m = n // r + 2
    roar = filt(white(rng, m), sr // r, ("lp", 300.0, 2), ("hp", 40.0, 1))
    # The puffing rate wanders (±30 %, as gusts and fuel shift it): a fixed rate reads as a machine, not a fire.
    phase = 2.0 * np.pi * np.cumsum(puff * (1.0 + 0.3 * smooth_noise(rng, k, 0.7))) / 200.0 + rng.uniform(0, 6.3)
    # Shallow (±20 %): recorded fires measure no more periodic than 0.16 in any 4 s, where ±40 % read 0.24–0.33.
    breathe = 1.0 + 0.2 * np.sin(phase) * (0.6 + 0.4 * smooth_noise(rng, k, 1.0))
    y += 0.9 * stretch(roar, r, n) * upsample(breathe, n, sr)
    return y.astype(F32, copy=False)
