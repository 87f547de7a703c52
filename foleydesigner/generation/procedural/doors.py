"""Doors: knocks, slams, latches (modal panels + small metal parts) and hinge creak (stick-slip friction)."""

from __future__ import annotations

import math

import numpy as np

from foleydesigner.generation.procedural.dsp import (
    F32,
    burst,
    ctrl_times,
    decay,
    filt,
    half_sine,
    impulses,
    modes,
    place,
    pulse_times,
    smooth_noise,
    white,
)
from foleydesigner.generation.procedural.modal import (
    BAR,
    MATERIALS,
    Material,
    ModeBank,
    bank,
    hertz_tau,
    plate_ratios,
    t60s,
)
from foleydesigner.generation.procedural.recorded import struck, transient
from foleydesigner.generation.procedural.registry import Ctx, band_limited, register, single

#: Door leaves: (material, panel thickness m, T60 cap s). A hollow-core door is two 3 mm skins → low, boomy.
DOORS = {"wood": ("wood", 0.04, 0.25), "hollow": ("wood", 0.012, 0.35), "metal": ("metal", 0.0015, 0.6)}


def door_panel(ctx: Ctx, door: str) -> ModeBank:
    """Modes of a 2.0 × 0.85 m door leaf as a simply supported plate: f11 = (π/2)·(h c/√12)·(1/a² + 1/b²)."""
    material, h, cap = DOORS[door]
    mat = MATERIALS[material]
    f11 = 0.5 * math.pi * h * mat.c / math.sqrt(12.0) * (1.0 / 2.0**2 + 1.0 / 0.85**2)
    fr = f11 * plate_ratios(2.35, 20) * (1.0 + 0.03 * ctx.rng.standard_normal(20))
    damped = Material(mat.c, mat.eta, min(cap, mat.t_max), mat.tau)  # hinges and frame damp the leaf
    return ModeBank(fr, t60s(fr, damped), ctx.sr, 1.0)


def latch(rng: np.random.Generator, sr: int, v: float, f1: float = 2600.0) -> np.ndarray:
    """A latch bolt striking its keeper: a small steel bar ringing briefly (BAR modes) plus a contact tick."""
    fr = f1 * np.array(BAR[:4]) * (1.0 + 0.03 * rng.standard_normal(4))
    # A blunt steel-on-steel blow (≈ 0.1 ms contact) barely reaches the 3rd/4th bar modes (7–23 kHz).
    y = modes(fr, [0.08, 0.05, 0.03, 0.02], v * np.array([1.0, 0.3, 0.08, 0.03]), int(0.12 * sr), sr)
    tick = transient(rng, sr, "tick", 0.01)  # a real small steel contact (a clock's escapement) where one ships
    if tick is None:
        y += 0.4 * v * burst(rng, y.size, sr, 0.0005, ("bp", 1500.0, 7000.0, 2))
    else:
        y[: tick.size] += 0.4 * v * tick
    return y


def room_boom(rng: np.random.Generator, sr: int, n: int, v: float, f: float = 55.0) -> np.ndarray:
    """Air pushed by a swinging leaf: a low pressure thump (damped ~f Hz) and a short room tail."""
    x = np.zeros(n, F32)
    # The push lasts ~12 ms (shorter for a faster leaf) and excites whichever room mode is near f.
    p = half_sine(0.012 * rng.uniform(0.8, 1.25) * max(v, 0.1) ** -0.3, sr)
    x[: p.size] = p
    tail = white(rng, n) * decay(n, 0.12, sr) * 0.02
    boom = filt(x, sr, ("reson", f * rng.uniform(0.85, 1.15), 1.2), ("lp", 300.0)) * F32(3.0)
    boom += filt(tail, sr, ("lp", 2500.0))
    return boom * F32(v)


def _knocks(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    k = int(ctx.f("count"))
    period = 1.0 / 5.0  # knuckle raps come at ≈ 5 per second
    times = t0 + period * np.arange(k) + np.concatenate([[0.0], ctx.rng.normal(0.0, 0.012, k - 1)])
    return [(float(t), (1.0, 0.85, 0.92)[i % 3]) for i, t in enumerate(times) if t < t1]


@register("door_knock", description="knuckles rapping on a door: hollow knocks, in a short burst",
          kind="impulsive", layer="fg", params={"door": "wood", "count": 3}, centroid=(250, 1500),
          choices={"door": tuple(DOORS)}, ranges={"count": (1, 12)}, pattern=_knocks,
          synonyms=("knock", "knocking", "knock on door", "door knocking", "rap", "raps on the door"))
def door_knock(ctx: Ctx, v: float) -> np.ndarray:
    b = bank(ctx, "door", lambda: door_panel(ctx, ctx.s("door")))
    # A knuckle is soft: ≈ 3 ms contact, so energy sits in the panel's low modes; a bony click rides on top.
    # Each rap lands on a different spot of the leaf: wide modal-weight variation.
    y = b.hit(ctx.rng, v, hertz_tau(MATERIALS["wood"].tau, v, 4.0), spread=0.9, detune=0.01)[: int(0.4 * ctx.sr)]
    # A real wooden contact's attack drives the leaf (knuckle bone on wood) where one ships.
    real = struck(ctx, y, "crack", 0.15)
    if real is not None:
        return real
    tick = burst(ctx.rng, int(0.01 * ctx.sr), ctx.sr, 0.0015, ("bp", 1200.0, 4000.0, 2))
    place(y, tick, 0, 0.15 * v * float(np.abs(y).max()) / max(v, 1e-3))
    return y


@register("door_slam", description="a door slammed shut: heavy panel bang, latch clack, frame rattle, room boom",
          kind="impulsive", layer="fg", params={"door": "wood"}, centroid=(300, 3000),
          choices={"door": tuple(DOORS)}, pattern=single,
          synonyms=("slam", "door bang", "slams the door", "slammed door", "bangs the door"))
def door_slam(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    n = int(1.0 * sr)
    b = bank(ctx, "door", lambda: door_panel(ctx, ctx.s("door")))
    # Leaf edge hits the frame wood-on-wood: hard, short contact excites the whole panel.
    y = np.zeros(n, F32)
    panel = b.hit(rng, v, hertz_tau(MATERIALS["wood"].tau, v, 1.5))[:n]
    real = struck(ctx, panel, "slam", 0.3)  # a real door's blow on its frame drives the leaf, where one ships
    panel = panel if real is None else real
    y[: panel.size] += panel / max(float(np.abs(panel).max()), 1e-9) * v
    y += 0.9 * room_boom(rng, sr, n, v)
    place(y, latch(rng, sr, 0.35 * v), int(0.004 * sr))
    for t in np.sort(rng.uniform(0.02, 0.09, 3)):  # frame and hardware rattle after the blow
        place(y, latch(rng, sr, 0.08 * v, rng.uniform(1800.0, 4000.0)), int(t * sr))
    return y


@register("door_close", description="a door pulled shut normally: soft thump and the latch click-clack",
          kind="impulsive", layer="fg", params={"door": "wood"}, centroid=(500, 4000),
          choices={"door": tuple(DOORS)}, pattern=single,
          synonyms=("door shut", "door closes", "closes the door", "shuts the door", "door closing"))
def door_close(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    n = int(0.6 * sr)
    y = np.zeros(n, F32)
    # Bolt rides the strike plate (click) then springs into the keeper (clack) ≈ 60 ms later; panel meets stop.
    # The panel meeting its stop carries the sound; the latch rides on it. Recorded closes keep 30 Hz–1 kHz
    # within ≈ 10 dB of their peak band: with the latch at full level and the panel at half, the renders were
    # all click (2–4 kHz) with a hole 25 dB deep at 250 Hz–1 kHz.
    place(y, latch(rng, sr, 0.35 * v), 0)
    gap = int(rng.uniform(0.045, 0.075) * sr)
    place(y, latch(rng, sr, 0.5 * v, rng.uniform(2000.0, 2400.0)), gap)
    b = bank(ctx, "door", lambda: door_panel(ctx, ctx.s("door")))
    panel = b.hit(rng, v, hertz_tau(MATERIALS["wood"].tau, v, 6.0))
    place(y, panel / max(float(np.abs(panel).max()), 1e-9), gap, 1.0 * v)
    # Edge meeting frame and stop: a short contact slap across the mids (the panel's modes sit below): a real
    # door's blow on its frame where one ships.
    real = transient(rng, sr, "slam", 0.06)
    slap = (filt(real, sr, ("bp", 300.0, 2500.0, 2)) if real is not None else
            burst(rng, int(0.15 * sr), sr, 0.012, ("bp", 300.0, 2500.0, 2)))
    place(y, slap / max(float(np.abs(slap).max()), 1e-9), gap, 0.6 * v)
    place(y, room_boom(rng, sr, n - gap, 0.25 * v), gap)
    return y


@register("door_open", description="a door opened: handle turn, latch release, air swish and a faint hinge",
          kind="impulsive", layer="fg", params={"door": "wood"}, centroid=(500, 4000),
          choices={"door": tuple(DOORS)}, pattern=single,
          synonyms=("door opens", "opens the door", "door opening", "door unlock", "unlocks the door"))
def door_open(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    n = int(1.3 * sr)
    y = np.zeros(n, F32)
    place(y, latch(rng, sr, 0.5 * v, 3200.0), 0)  # hand meets handle
    # Handle turn: spring-loaded spindle, metal-on-metal friction for ≈ 0.2 s (band-limited scrape)
    turn = int(0.2 * sr)
    scrape = filt(white(rng, turn) * np.hanning(turn).astype(F32, copy=False), sr, ("bp", 1200.0, 4500.0, 2)).astype(F32, copy=False)
    place(y, scrape, int(0.01 * sr), 0.25 * v)
    place(y, latch(rng, sr, 0.8 * v, 2300.0), int(0.22 * sr))  # bolt retracts out of the keeper
    # The leaf, freed from the frame, knocks lightly against the bolt: its panel modes speak briefly.
    b = bank(ctx, "door", lambda: door_panel(ctx, ctx.s("door")))
    panel = b.hit(rng, v, hertz_tau(MATERIALS["wood"].tau, v, 4.0))
    place(y, panel, int(0.225 * sr), 0.3 * v / max(float(np.abs(panel).max()), 1e-9))
    # The leaf sweeping air: low band noise swelling and fading over ~0.9 s.
    m = n - int(0.3 * sr)
    swish = filt(white(rng, m) * np.hanning(m).astype(F32, copy=False) ** 2, sr, ("bp", 120.0, 900.0, 2)).astype(F32, copy=False)
    place(y, swish, int(0.3 * sr), 0.35 * v)
    return y


@register("door_creak", description="a hinge creaking as a door swings: stick-slip friction through the leaf",
          kind="continuous", layer="fg", params={"pitch_hz": 160.0, "speed": 1.0}, centroid=(500, 4000),
          ranges={"pitch_hz": (20.0, 1500.0), "speed": (0.1, 4.0)}, loop=False,
          synonyms=("creak", "creaking", "creaky door", "squeak", "hinge", "hinges", "creaking door"))
@band_limited(4000.0)
def door_creak(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    t = ctrl_times(n, sr)
    dur = max(ctx.dur_s, 1e-3)
    # Angular speed of the leaf: a swing (accelerate, coast, stop) with hand wobble.
    swing = np.sin(np.pi * np.clip(t / dur, 0.0, 1.0)) ** 0.7
    omega = np.clip(swing * (1.0 + 0.35 * smooth_noise(rng, t.size, 0.15)), 0.0, None) * ctx.f("speed")
    # Stick-slip: each slip is an impulse; slip rate grows with sliding speed (Rabinowicz), hence the glide.
    rate = ctx.f("pitch_hz") * (0.55 + 0.9 * omega) * (1.0 + 0.04 * smooth_noise(rng, t.size, 0.02))
    ts = pulse_times(rate, sr)
    amp = np.interp(ts, t, omega) * (1.0 + 0.3 * rng.standard_normal(ts.size))
    x = impulses(n, (ts * sr).astype(np.int64), amp)
    # Excited structure: hinge pin (high-Q metal squeal) and the door leaf's broad low-mid modes.
    y = filt(x, sr, ("hp", 120.0), ("peak", 650.0, 2.5, 10.0), ("peak", 1700.0, 4.0, 8.0), ("reson", 2600.0, 1.2),
             ("lp", 4000.0))
    return y.astype(F32, copy=False)


@register("car_door", description="a car door shut: padded heavy thunk, double latch click, body boom",
          kind="impulsive", layer="fg", params={}, centroid=(400, 3000), pattern=single,
          synonyms=("car door slam", "car door close", "car door shut", "vehicle door"))
def car_door(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    n = int(0.8 * sr)
    # Rubber seals make the contact long (≈ 15 ms): a thunk, not a bang; the cabin air-spring booms near 45 Hz.
    force = np.zeros(n, F32)
    p = half_sine(0.015 * v ** -0.2 * rng.uniform(0.85, 1.15), sr)
    force[: p.size] = p * v
    # The seals' blow carries a real door's contact on it (its attack, where one ships): not a smooth pulse.
    real = transient(rng, sr, "slam", 0.03)
    if real is not None:
        force[: real.size] += 0.1 * v * real
    # The door skin's lowest mode shifts with how the seals seat (±8 %).
    y = filt(force, sr, ("reson", 95.0 * rng.uniform(0.92, 1.08), 2.0), ("peak", 300.0, 1.0, 6.0)) * F32(4.0)
    y += room_boom(rng, sr, n, 0.8 * v, 45.0)
    place(y, latch(rng, sr, 0.3 * v, 2100.0), int(0.008 * sr))
    place(y, latch(rng, sr, 0.2 * v, 2500.0), int(rng.uniform(0.03, 0.05) * sr))
    return y
