"""Weather: rain (Poisson drop impacts + Minnaert bubbles + hiss), wind (turbulence + Aeolian tones), thunder.

Beds are diffuse: each channel gets its own drops/turbulence, so the stereo image is wide and decorrelated.
Low-frequency parts are synthesised at a reduced rate and interpolated up (cost ∝ rate).
"""

from __future__ import annotations

import math

import numpy as np

from foleydesigner.generation.procedural.dsp import (
    CONTROL_HZ,
    F32,
    GrainBank,
    Stage,
    ctrl_at,
    ctrl_len,
    decay,
    filt,
    impulses,
    lowrate,
    pareto_amps,
    place,
    poisson_times,
    smooth_noise,
    stretch,
    white,
)
from foleydesigner.generation.procedural.realism import reverb
from foleydesigner.generation.procedural.registry import Ctx, register, single
from foleydesigner.generation.procedural.water import bubble_table, scatter

C_AIR = 343.0


def _drops(ctx: Ctx, rate_hz: float, hiss: float, *stages: Stage) -> np.ndarray:
    """Independent drop impacts per channel (heavy-tailed sizes) plus hiss, shaped in one filter pass and
    slowly modulated (rain intensity drifts with the wind)."""
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    # Both channels' drops in one impulse train over 2n samples (independent Poisson streams per ear).
    t = poisson_times(rng, rate_hz * 2.0, n / sr)
    ch = rng.random(t.size) < 0.5
    # Rain intensity drifts with the wind over seconds: it scales each drop (drift read at its time).
    k = ctrl_len(n, sr)
    drift = np.clip(1.0 + 0.25 * smooth_noise(rng, k, 3.0, (2,)), 0.3, None)
    idx = np.minimum((t * CONTROL_HZ).astype(np.int64), k - 1)
    gain = 3.0 / math.sqrt(max(rate_hz, 1.0) / 1000.0)
    amps = pareto_amps(rng, t.size, 1.5, 10.0) * (gain * drift[ch.astype(np.int64), idx]).astype(F32)
    pos = (t * sr).astype(np.int64) + n * ch
    if hiss > 0.0:
        x = white(rng, (2, n))
        x *= F32(hiss)
    else:
        x = np.full((2, n), 1e-20, F32)  # keeps IIR states out of subnormal range between sparse drops
    # Buffered scatter: in a dense shower two drops on one sample keep only one — inaudible, 5x faster.
    x.reshape(-1)[pos] += amps
    return filt(x, sr, *stages)


@register("rain_light", description="light rain outdoors: sparse drop ticks on leaves and ground, soft hiss",
          kind="continuous", layer="bg", diffuse=True, params={"drops_hz": 400.0}, centroid=(2500, 8000),
          ranges={"drops_hz": (20.0, 5000.0)},
          synonyms=("rain", "raining", "drizzle", "light rain", "rainfall", "soft rain"))
def rain_light(ctx: Ctx) -> np.ndarray:
    y = _drops(ctx, ctx.f("drops_hz"), 0.08, ("hp", 900.0), ("peak", 4000.0, 0.8, 6.0), ("lp", 8000.0))
    scatter(y, ctx.rng, ctx.sr, bubble_table(ctx.rng, ctx.sr, (0.8, 2.0), 12), 6.0, 0.06)
    return y


@register("rain_heavy", description="a downpour: dense roaring rain, splashes and streaming water",
          kind="continuous", layer="bg", diffuse=True, params={"drops_hz": 4000.0}, centroid=(1500, 6000),
          ranges={"drops_hz": (500.0, 40000.0)},
          synonyms=("heavy rain", "downpour", "pouring rain", "rainstorm", "storm", "torrential rain"))
def rain_heavy(ctx: Ctx) -> np.ndarray:
    # Dense enough that drops fuse into noise; splashes and runoff add a low-mid roar under the hiss.
    y = _drops(ctx, ctx.f("drops_hz"), 0.9, ("hp", 200.0), ("peak", 700.0, 0.7, 7.0), ("peak", 3000.0, 0.8, 3.0),
               ("lp", 7000.0))
    scatter(y, ctx.rng, ctx.sr, bubble_table(ctx.rng, ctx.sr, (0.6, 3.0), 16), 25.0, 0.08)
    return y


ROOFS = {
    # Thin steel sheet rings (panel modes, light damping); clay tiles are thick and damped; heard from inside.
    "metal": (("hp", 150.0), ("peak", 420.0, 4.0, 12.0), ("peak", 1150.0, 5.0, 10.0), ("peak", 2600.0, 4.0, 6.0),
              ("lp", 3500.0, 4)),
    "tile": (("hp", 80.0), ("peak", 300.0, 1.0, 8.0), ("lp", 2500.0, 4)),
}


@register("rain_on_roof", description="rain drumming on a roof heard from inside (tin roof rings, tiles thud)",
          kind="continuous", layer="bg", diffuse=True, params={"roof": "metal", "drops_hz": 1500.0},
          centroid=(500, 3000), choices={"roof": tuple(ROOFS)}, ranges={"drops_hz": (50.0, 20000.0)},
          synonyms=("rain on the roof", "tin roof rain", "rain drumming", "rain on tin roof", "rain indoors"))
def rain_on_roof(ctx: Ctx) -> np.ndarray:
    # The roof passes nothing much above 3.5 kHz: drum it at half rate (interpolation images land above
    # 20 kHz, where they are ~30 dB down), interpolate up once.
    r = lowrate(ctx.sr, 6000.0)
    low = Ctx(ctx.sr // r, ctx.n // r + 2, ctx.intensity, ctx.params, ctx.rng, 2)
    return stretch(_drops(low, ctx.f("drops_hz"), 0.0, *ROOFS[ctx.s("roof")]), r, ctx.n)


@register("rain_on_window", description="rain against a window pane from inside: glassy taps, muffled hiss",
          kind="continuous", layer="bg", diffuse=True, params={"drops_hz": 60.0}, centroid=(1000, 5000),
          ranges={"drops_hz": (5.0, 2000.0)}, norm="peak", level_db=-3.0,
          synonyms=("rain on the window", "rain against the window", "rain on glass", "rain taps", "window rain"))
def rain_on_window(ctx: Ctx) -> np.ndarray:
    # Each drop excites the pane's plate modes (4 mm glass, ~1 m: dense 1–6 kHz) briefly; the outside rain
    # reaches us through the glass, i.e. low-passed (mass law: transmission loss rises 6 dB/octave).
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    # Taps are sparse: filter a few unit taps through the pane once, then place them (no full-length filter).
    m_tap = int(0.03 * sr)
    unit = np.zeros((8, m_tap), F32)
    unit[:, 0] = 1.0
    unit[:, 1:int(0.001 * sr)] += 0.05 * white(rng, (8, int(0.001 * sr) - 1))  # drop spreading on the glass
    panes = GrainBank(rng, 8, m_tap, sr, 0.0, ("hp", 700.0), ("peak", 1800.0 * rng.uniform(0.95, 1.05), 6.0, 14.0),
                      ("peak", 3300.0, 6.0, 12.0), ("peak", 4800.0, 5.0, 6.0), ("lp", 6000.0), source=unit)
    r = lowrate(sr, 1500.0)
    m = n // r + 2
    outside = filt(white(rng, (2, m)), sr // r, ("lp", 900.0, 2), ("hp", 100.0))
    y = stretch(outside, r, n)
    y *= F32(0.02 / max(float(outside.std()), 1e-9))
    tap_level = 0.5 * float(np.abs(panes.rows).max())
    for ch in range(2):
        times = poisson_times(rng, ctx.f("drops_hz"), n / sr)
        amps = pareto_amps(rng, times.size, 1.5, 10.0) * F32(0.1 / tap_level)
        kinds = rng.integers(0, panes.rows.shape[0], times.size)  # 8 pane spots, drawn in bulk
        for t, k, a in zip((times * sr).astype(np.int64), kinds, amps, strict=True):
            place(y[ch], panes.rows[k], int(t), float(a))
    return y


@register("wind", description="wind outdoors: gusting turbulent roar with whistles in strong gusts",
          kind="continuous", layer="bg", diffuse=True, params={"speed_ms": 8.0, "gustiness": 0.5},
          centroid=(100, 1200), ranges={"speed_ms": (1.0, 40.0), "gustiness": (0.0, 1.0)},
          synonyms=("breeze", "gust", "gusts", "windy", "howling wind", "wind gusts", "gale"))
def wind(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    u = ctx.f("speed_ms")
    g = ctx.f("gustiness")
    r = lowrate(sr, 1500.0)
    low_sr = sr // r
    m = n // r + 2
    k = ctrl_len(n, sr)
    # Gusts: lognormal speed fluctuations with a few-second correlation, partly common to both ears.
    common = smooth_noise(rng, k, 3.0)
    gust = np.exp(g * (0.8 * common + 0.45 * smooth_noise(rng, k, 1.5, (2,))))
    # Turbulent roar: spectrum scales with U/L (Strouhal), so stronger wind is brighter.
    # The band moves with each gust (a fixed band is what gave synthetic wind away): the same noise through a
    # duller and a brighter low-pass, crossfaded by the gust's strength, is a filter whose corner rides the gust.
    fc = 150.0 + 25.0 * u
    source = white(rng, (2, m))
    dull = filt(source, low_sr, ("lp", 0.55 * fc, 2), ("hp", 30.0, 1))
    bright = filt(source, low_sr, ("lp", 1.8 * fc, 2), ("hp", 30.0, 1))
    lift = ctrl_at(np.clip(0.5 + 0.8 * np.log(gust), 0.0, 1.0), m, low_sr, sr)
    roar = dull * (1.0 - lift) + bright * lift * F32(0.6)  # the brighter band carries more power at equal gain
    # Aeolian tones from wires/edges: f = St·U/d with St ≈ 0.2, d ≈ 3–6 mm → a few hundred Hz; they sing
    # only in the strong part of gusts, pitch following the gust speed.
    tone = filt(white(rng, (2, m)), low_sr, ("reson", 0.2 * u / 0.004, 40.0), ("reson", 0.2 * u / 0.006, 30.0))
    whistle = np.clip(gust - 1.0, 0.0, None) * (2.0 * g)
    # Envelopes are applied at the low rate, then one interpolation brings the sum up to sr.
    y = stretch(roar * ctrl_at(gust, m, low_sr, sr) + tone * ctrl_at(whistle, m, low_sr, sr), r, n)
    return y.astype(F32, copy=False)


def _thunder_arrivals(rng: np.random.Generator, dist_m: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Few (1969): the channel is a tortuous path of short segments, each radiating an N-wave. Arrival time
    = distance/c, so a 5 km channel seen from a few km rolls on for seconds. Returns (delay s, amplitude)."""
    steps = rng.normal(0.0, 1.0, (count, 3)) * np.array([60.0, 60.0, 25.0]) + np.array([0.0, 0.0, 8.0])
    path = np.cumsum(steps, axis=0)  # random walk from the ground strike point upwards
    path[:, 0] += dist_m
    r = np.linalg.norm(path + np.array([0.0, 0.0, 1.7]), axis=1)
    delay = (r - r.min()) / C_AIR
    amp = rng.pareto(2.5, count) / r * dist_m * (0.7 + 0.3 * rng.random(count))
    # The channel base carries the return stroke's largest current and is nearest: the first arrival is loud.
    amp[np.argmin(delay)] = amp.max()
    return delay, amp


@register("thunder", description="a thunderclap: crack (when close) then long rolling rumble",
          kind="impulsive", layer="bg", diffuse=True, params={"distance_km": 3.0}, centroid=(60, 600),
          ranges={"distance_km": (0.2, 20.0)}, pattern=single, tail_s=14.5,
          synonyms=("thunderclap", "thunder clap", "rumble of thunder", "lightning", "thunder rumble"))
def thunder(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    d = ctx.f("distance_km") * 1000.0
    # Air absorption (ISO 9613-1, 20 °C, 70 % RH) ≈ 3.7 dB/km at 1 kHz, rising ~f^1.5: keep what loses < 10 dB.
    top = float(np.clip(1000.0 * (10.0 / (3.7 * d / 1000.0)) ** (1.0 / 1.5), 150.0, 4000.0))
    r = lowrate(sr, top)
    low_sr = sr // r
    delay, amp = _thunder_arrivals(rng, d, 2500)
    length = float(min(delay.max() + 1.5, 14.0))
    m = int(length * low_sr) + 2
    # Each ear gets a slightly different projection of the channel; the first arrival is exactly at the onset.
    arrivals = [(np.abs(rng.normal(0.0, 0.002, delay.size)), rng.uniform(0.6, 1.0, amp.size)) for _ in range(2)]
    # N-waves of segment length ~ 10–30 m last ~ 5–20 ms: energy around 1/(2 T), 25–250 Hz. The band is not
    # one fixed filter (that gave synthetic thunder away): arrivals are grouped by path length, and each group has
    # its own N-wave band and its own air absorption (ISO 9613-1: ≈ 3.7 dB/km at 1 kHz, rising as f^1.5, so a
    # corner where the loss reaches 6 dB). The near channel base arrives first and brightest; the roll darkens as
    # the far segments arrive, as recorded thunder does (its 0.25–2 kHz within 10 dB of its peak band).
    order = np.argsort(delay)
    path_m = d + (delay - delay.min()) * C_AIR
    rolled = np.zeros((2, m))
    for group in np.array_split(order, 4):
        if group.size == 0:
            continue
        mask = np.zeros(delay.size, bool)
        mask[group] = True
        corner = float(np.clip(1000.0 * (6.0 / (3.7 * float(np.median(path_m[group])) / 1000.0)) ** (1.0 / 1.5),
                               150.0, 0.4 * low_sr))
        part = np.stack([impulses(m, ((delay + jit - (delay + jit).min()) * low_sr).astype(np.int64)[mask],
                                  (amp * g)[mask]) for jit, g in arrivals])
        # An N-wave lengthens as it travels (weak-shock stretching), so a farther group's band sits lower.
        band = float(np.clip(180.0 * math.sqrt(2000.0 / float(np.median(path_m[group]))), 50.0, 300.0))
        band *= float(rng.uniform(0.8, 1.25))
        rolled += filt(part, low_sr, ("hp", 25.0, 1), ("reson", band, 0.5), ("lp", corner, 2))
    # Thunder reaches a listener kilometres away scattered by terrain, buildings and turbulent air: every
    # arrival is followed by echoes for seconds, which is what makes a recorded roll continuous where the bare
    # arrivals clicked (a valley's or a town's outdoor T60 is of the order of 2–4 s).
    y = reverb(rng, low_sr, rolled.astype(F32), 3.0, 1.2, lp_hz=0.4 * low_sr, hp_hz=25.0, predelay_s=0.05)[:, :m]
    y[:, : int(0.04 * low_sr)] *= 1.0 + 2.0 * (d < 1500.0)  # the crack of a close strike
    tail = filt(white(rng, (2, m)), low_sr, ("lp", 120.0, 2)) * decay(m, length / 4.0, low_sr) * 0.05 * float(
        np.abs(y).max())
    return (v * stretch(y + tail, r, (m - 1) * r)).astype(F32, copy=False)
