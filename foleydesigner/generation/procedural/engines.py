"""Vehicles and machines, source–filter: a pulse train at the physical firing/blade rate through resonances.

Four-stroke engine: each cylinder fires once per two revolutions, so the firing frequency is
rpm/60 · cylinders/2 (800 rpm, 4 cylinders → 26.7 Hz). Each firing sends a pressure pulse down the exhaust,
whose pipe (a quarter-wave resonator with hot gas, c ≈ 500 m/s) and muffler shape the tone.
"""

from __future__ import annotations

import numpy as np

from foleydesigner.generation.procedural.dsp import (
    F32,
    ctrl_at,
    ctrl_len,
    ctrl_times,
    filt,
    harmonic_table,
    impulses,
    lowrate,
    place,
    pulse_times,
    ramp,
    smooth_noise,
    steady_tone,
    stretch,
    sweep_phase,
    upsample,
    white,
)
from foleydesigner.generation.procedural.registry import Ctx, band_limited, register

C_AIR = 343.0
C_EXHAUST = 500.0  # speed of sound in ~350 °C exhaust gas

#: vehicle → (exhaust pipe length m, muffler cut-off Hz, mechanical noise level, firing jitter)
VEHICLES = {"car": (2.5, 450.0, 0.15, 0.05), "truck": (3.5, 350.0, 0.35, 0.08), "motorcycle": (1.2, 1200.0, 0.2, 0.07)}


def firing_pulses(ctx: Ctx, n: int, rate_ctrl: np.ndarray, cylinders: int, jitter: float) -> np.ndarray:
    """Impulse train at the firing rate (per control point, Hz): one pulse per firing, per-cylinder strength
    (imbalance gives the half-order 'burble') and cycle-to-cycle combustion variability."""
    t = pulse_times(rate_ctrl, ctx.sr, ctx.rng.random())
    cyl = ctx.rng.uniform(0.75, 1.0, cylinders)
    amps = cyl[np.arange(t.size) % cylinders] * ctx.rng.lognormal(0.0, jitter * 3.0, t.size)
    pos = ((t + ctx.rng.normal(0.0, jitter * 0.002, t.size)) * ctx.sr).astype(np.int64)
    return impulses(n, pos, amps)


def engine_tone(ctx: Ctx, n: int, rpm_ctrl: np.ndarray, load: float = 0.5, clatter: bool = True,
                block: float = 0.0) -> np.ndarray:
    """Exhaust note (+ mechanical noise) of the chosen vehicle for an rpm curve at control rate; `block` adds the
    engine block's own radiation of each firing (mid band, relative to the exhaust's level)."""
    sr, rng = ctx.sr, ctx.rng
    pipe, muffler, mech, jitter = VEHICLES[ctx.s("vehicle")]
    cyl = int(ctx.f("cylinders"))
    x = firing_pulses(ctx, n, rpm_ctrl / 60.0 * cyl / 2.0, cyl, jitter)
    f_pipe = C_EXHAUST / (4.0 * pipe)
    # Pulses excite the pipe's odd quarter-wave modes; the muffler low-passes; more load = brighter.
    tone = filt(x, sr, ("reson", f_pipe, 2.5), ("peak", 3.0 * f_pipe, 2.0, 6.0), ("lp", muffler * (0.7 + load), 2),
                ("hp", 20.0, 1))
    tone *= F32(1.0 / max(float(tone[::7].std()), 1e-9))
    if block > 0.0:  # each combustion knock rings the block and head: 150–900 Hz, heard beside the car
        knock = filt(x, sr, ("bp", 150.0, 900.0, 2))
        tone += knock * F32(block / max(float(knock[::7].std()), 1e-9))
    if clatter:  # valve train and injectors: a faint hissy clatter
        tone += filt(white(rng, n), sr, ("bp", 1200.0, 4000.0, 2)) * F32(0.3 * mech * (0.5 + load))
    return tone


ENGINE_PARAMS = {"vehicle": "car", "rpm": 800.0, "cylinders": 4}
ENGINE_CHOICES = {"vehicle": tuple(VEHICLES)}
ENGINE_RANGES = {"rpm": (300.0, 9000.0), "cylinders": (1, 12)}


# Magnitude centroid: the block's mid band and the clatter lift it to ≈ 1.25 kHz (recorded idles: 1.2–2 kHz).
@register("engine_idle", description="an engine idling: steady low firing rumble with mechanical clatter",
          kind="continuous", layer="fg", params=ENGINE_PARAMS, centroid=(150, 1500), choices=ENGINE_CHOICES,
          ranges=ENGINE_RANGES,
          synonyms=("engine", "idling", "engine running", "motor running", "idling engine", "car idle", "motor"))
@band_limited(4000.0)
def engine_idle(ctx: Ctx) -> np.ndarray:
    k = ctrl_len(ctx.n, ctx.sr)
    # Idle speed control hunts by ±1–2 % over a second or so.
    rpm = ctx.f("rpm") * (1.0 + 0.015 * smooth_noise(ctx.rng, k, 0.8))
    # At idle the exhaust is quiet and the block, valves and injectors carry the sound: recorded idles have their
    # power centroid at 200–460 Hz, where the exhaust alone puts it below 100 Hz.
    return engine_tone(ctx, ctx.n, rpm, 0.1, block=0.7)


@register("engine_passby", description="a vehicle driving past: engine and tyre roar swelling, Doppler drop",
          kind="continuous", layer="fg",
          params={"vehicle": "car", "rpm": 3000.0, "cylinders": 4, "speed_kmh": 60.0, "closest_m": 5.0},
          centroid=(300, 2000), choices=ENGINE_CHOICES,
          ranges={**ENGINE_RANGES, "speed_kmh": (5.0, 300.0), "closest_m": (0.5, 200.0)}, fade_s=0.1, loop=False,
          synonyms=("car passing", "car passes", "passing car", "drive by", "drives past", "car pass by",
                    "pass by", "car driving by", "motorbike passing", "truck passing"))
@band_limited(4000.0)
def engine_passby(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    t = ctrl_times(n, sr)
    v = ctx.f("speed_kmh") / 3.6
    d0 = ctx.f("closest_m")
    # Straight-line pass, closest approach mid-shot: r(t) = √(d0² + (v(t−tc))²), radial speed v·x/r.
    x = v * (t - ctx.dur_s / 2.0)
    r = np.sqrt(d0 * d0 + x * x)
    doppler = 1.0 / (1.0 + v * x / r / C_AIR)  # moving source, static listener: f' = f / (1 + v_r/c)
    rpm = ctx.f("rpm") * (1.0 + 0.01 * smooth_noise(rng, t.size, 0.5))
    y = engine_tone(ctx, n, rpm * doppler, 0.7, clatter=False)  # at speed the clatter is masked
    # Tyre/road noise (peaks near 1 kHz, CPX measurements) dominates above ~50 km/h; grows ~ v^3 in power.
    tyre = filt(white(rng, n), sr, ("bp", 400.0, 2000.0, 2), ("peak", 1000.0, 1.0, 4.0))
    tyre *= F32((v / 17.0) ** 1.5 * 0.8)
    y += tyre
    y *= upsample(d0 / r, n, sr)  # spherical spreading: amplitude ∝ 1/r
    return y


@register("traffic", description="city traffic ambience: distant road rumble with cars passing in the stereo field",
          kind="continuous", layer="bg", diffuse=True, params={"cars_per_min": 12.0}, centroid=(300, 2500),
          ranges={"cars_per_min": (0.0, 120.0)},
          synonyms=("city traffic", "distant traffic", "street noise", "city noise", "road noise"))
def traffic(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    t = ctrl_times(n, sr)
    env = np.full((2, t.size), 0.25)
    # Individual cars: 10–20 m from the listener at 30–60 km/h, crossing left↔right.
    rate = ctx.f("cars_per_min") / 60.0
    tc = -5.0
    while True:
        tc += rng.exponential(1.0 / max(rate, 1e-3))
        if tc > t[-1] + 5.0 or rate <= 0:
            break
        v = rng.uniform(8.0, 17.0) * rng.choice([-1.0, 1.0])
        d0 = rng.uniform(8.0, 25.0)
        x = v * (t - tc)
        rr = np.sqrt(d0 * d0 + x * x)
        side = x / rr  # sine of the azimuth, −1 (left) … 1 (right); constant-power pan along the path
        gains = np.stack([np.cos((side + 1.0) * np.pi / 4.0), np.sin((side + 1.0) * np.pi / 4.0)])
        env += 1.5 * gains * (8.0 / rr)  # amplitude ∝ 1/r, unity at 8 m
    # Road roar: tyres + engines, broadband peaking low; the far field is low-passed by air and buildings —
    # nothing much above 2 kHz, so it is made at a low rate, enveloped there and interpolated up once.
    r = lowrate(sr, 2000.0)
    fs = sr // r
    m = n // r + 2
    # A passing car brings its tyre hiss with it (air and buildings take the highs of the far roar): the band
    # moves up while a car is near, as the share of passing cars in the level grows, and back as it leaves.
    source = white(rng, (2, m))
    far = filt(source, fs, ("bp", 200.0, 1000.0, 2), ("peak", 600.0, 1.0, 3.0), ("lp", 1900.0, 2))
    near = filt(source, fs, ("bp", 400.0, 1800.0, 2), ("peak", 1100.0, 1.0, 3.0), ("lp", 1900.0, 2))
    lift = ctrl_at(np.clip((env - 0.25) / env, 0.0, 1.0), m, fs, sr)
    road = (far * (1.0 - lift) + near * lift) * ctrl_at(env, m, fs, sr)
    road += 1.2 * filt(white(rng, (2, m)), fs, ("lp", 120.0, 2), ("hp", 20.0, 1))
    return stretch(road, r, n)


@register("tyre_screech", description="tyres skidding on asphalt: rubber stick-slip squeal with scrub noise",
          kind="continuous", layer="fg", params={"pitch_hz": 950.0}, centroid=(800, 4000),
          ranges={"pitch_hz": (300.0, 3000.0)}, fade_s=0.05, loop=False,
          synonyms=("screech", "tire screech", "tyres squeal", "tires squeal", "skid", "skidding", "squeal"))
@band_limited(6000.0)
def tyre_screech(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    k = ctrl_len(n, sr)
    u = ramp(k) / max(k - 1, 1)
    # Tread blocks stick and slip at a rate set by sliding speed: the pitch sags as the car slows, and
    # wobbles as load shifts between blocks.
    f = ctx.f("pitch_hz") * (1.0 - 0.2 * u) * (1.0 + 0.04 * smooth_noise(rng, k, 0.05) + 0.015 * smooth_noise(
        rng, k, 0.01))
    ph = sweep_phase(upsample(f, n, sr), sr)
    # Stick-slip gives a sawtooth-like wave (slow stick, sudden slip): harmonics 1/k.
    table = sum(np.sin(2.0 * np.pi * h * ramp(1024) / 1024) / h for h in range(1, 7)).astype(F32, copy=False)
    squeal = table[(ph * 1024).astype(np.int64) & 1023]
    rough = upsample(np.clip(1.0 + 0.5 * smooth_noise(rng, k, 0.03), 0.1, None), n, sr)
    scrub = filt(white(rng, n), sr, ("bp", 1200.0, 5000.0, 2))
    return (squeal * rough + 0.3 * scrub).astype(F32, copy=False)


@register("helicopter", description="a helicopter: main-rotor blade slap 'wop-wop', tail-rotor buzz, turbine",
          kind="continuous", layer="fg", params={"rotor_rpm": 258.0, "blades": 4}, centroid=(150, 1500),
          ranges={"rotor_rpm": (100.0, 600.0), "blades": (2, 8)},
          synonyms=("chopper", "helicopter flying", "rotor", "heli"))
@band_limited(4500.0)
def helicopter(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    # Blade-passing frequency = rpm/60 · blades (UH-60: 258 rpm × 4 = 17.2 Hz); tail rotor ≈ 4.6× faster.
    bpf = ctx.f("rotor_rpm") / 60.0 * ctx.f("blades")
    k = ctrl_len(n, sr)
    rate = bpf * (1.0 + 0.003 * smooth_noise(rng, k, 2.0))
    main = (pulse_times(rate, sr) * sr).astype(np.int64)
    tail = (pulse_times(rate * 4.6, sr) * sr).astype(np.int64)
    x = impulses(n, main, rng.lognormal(0.0, 0.1, main.size))
    x += impulses(n, tail, np.full(tail.size, 0.15))
    # Blade–vortex interaction slaps are sharp low-mid pulses; rotor broadband noise throbs with them.
    slap = filt(x, sr, ("reson", 90.0, 1.0), ("lp", 1200.0, 2))
    slap *= F32(1.0 / max(float(slap[::7].std()), 1e-9))
    throb = np.full(n, 0.2, F32)
    bump = np.hanning(int(0.02 * sr)).astype(F32) ** 2
    for p in main:
        place(throb, bump, int(p) - bump.size // 2)
    wash = filt(white(rng, n), sr, ("lp", 2000.0, 2), ("hp", 60.0, 1))
    wash *= throb
    slap += wash
    slap += 0.02 * steady_tone(harmonic_table([1.0]), 4100.0, n, sr)  # turbine compressor tone
    return slap
