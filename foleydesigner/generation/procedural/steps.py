"""Rhythmic contact sounds: footsteps, hooves, heartbeat, typing, clock ticks.

A footstep is two contacts (heel strike, then the ball of the foot ~0.1 s later) through a surface model:
a resonant structure (wood floor, metal grate: modal), a granular medium (gravel, snow, grass: a cloud of
micro-impacts through the grains' band) or a rigid one (concrete: contact noise only).
"""

from __future__ import annotations

import numpy as np

from foleydesigner.generation.procedural.dsp import (
    F32,
    GrainBank,
    filt,
    half_sine,
    impulses,
    modes,
    place,
    ramp,
    white,
)
from foleydesigner.generation.procedural.modal import (
    MATERIALS,
    Material,
    ModeBank,
    bank,
    bar_f1,
    hertz_tau,
    plate_ratios,
    t60s,
)
from foleydesigner.generation.procedural.recorded import excite, transient
from foleydesigner.generation.procedural.registry import Ctx, register, regular

SURFACES = ("concrete", "wood", "gravel", "grass", "snow", "metal")


def _steps(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    # Walking cadence ≈ 1.8 steps/s (110 steps/min); left and right feet land slightly differently.
    return regular(ctx, t0, t1, ctx.f("rate_hz"), 0.025, (1.0, 0.88))


def _cloud(rng: np.random.Generator, k: int, n: int, sr: int, count: int, spread_s: float) -> np.ndarray:
    """k clouds of `count` micro-impacts (pebbles, snow crystals, blades) over spread_s, strongest first."""
    t = rng.exponential(spread_s / 3.0, (k, count))
    t[:, 0] = 0.0
    pos = np.minimum((t * sr).astype(np.int64), n - 1) + n * np.arange(k)[:, None]
    amps = rng.pareto(2.0, (k, count)) * np.exp(-t / spread_s)
    amps[:, 0] = np.maximum(amps[:, 0], 2.0)  # the first grain is the contact itself: keeps the onset sharp
    return impulses(k * n, pos.ravel(), amps.ravel()).reshape(k, n)


def _floor(ctx: Ctx, material: str, span_m: float, h: float, cap: float) -> ModeBank:
    """A floor (boards, deck plate) flexing over span_m: bar fundamental, plate-like overtones (aspect 1.8)."""
    mat = MATERIALS[material]
    fr = bar_f1(span_m, h, mat.c) * plate_ratios(1.8, 10) * (1.0 + 0.04 * ctx.rng.standard_normal(10))
    return ModeBank(fr, t60s(fr, Material(mat.c, mat.eta, cap, mat.tau)), ctx.sr, cap)


def _surface(ctx: Ctx, n: int, soft: bool) -> dict[str, object]:
    """What every step on this surface shares, built once per call: the body thump, grain banks, floor modes."""
    sr, rng, surface = ctx.sr, ctx.rng, ctx.s("surface")
    shoe = 2.0 if soft else 1.0
    # Body weight through the shoe: a low thump (contact ≈ 8–20 ms) common to every surface.
    force = np.zeros(n, F32)
    p = half_sine(0.01 * shoe * max(ctx.intensity, 0.05) ** -0.2, sr)
    force[: p.size] = p
    # Recorded steps on hard floors peak at 250–500 Hz (the heel's pad and the floor's surface giving), with
    # little under 60 Hz and 1–4 kHz 10–20 dB down: a 110 Hz body and a 0.4–3.5 kHz sole slap put the renders'
    # energy at both ends and a hole between (MFCC distance to them 1.05, against 0.81 between the recordings).
    parts: dict[str, object] = {"thump": filt(force, sr, ("reson", 280.0, 1.5), ("hp", 60.0, 2), ("lp", 900.0))
                                * F32(0.6)}
    m = int(0.06 * sr)
    if surface == "concrete":  # rigid: the sole's slap (heel pad on stone, 0.2–2 kHz) and a short rubber scuff
        parts["slap"] = GrainBank(rng, 8, m, sr, 0.006 * shoe, ("bp", 200.0, 2000.0 / shoe, 2))
        parts["scuff"] = GrainBank(rng, 6, int(0.2 * sr), sr, 0.04, ("bp", 1500.0, 5000.0, 2))
    elif surface in ("wood", "metal"):
        if surface == "wood":  # 22 mm boards flexing over ≈ 0.8 m of joists: hollow boom from ≈ 140 Hz
            parts["floor"] = _floor(ctx, "wood", 0.8, 0.022, 0.18)
        else:  # steel deck plate / grate, 5 mm, 0.6 m span: rings
            parts["floor"] = _floor(ctx, "metal", 0.6, 0.005, 0.35)
        parts["slap"] = GrainBank(rng, 8, m, sr, 0.004, ("bp", 800.0, 5000.0, 2))
    elif surface == "gravel":  # pebbles knocking each other for ~0.1 s: bright crunch
        parts["cloud"] = GrainBank(rng, 8, n, sr, 0.0, ("bp", 1000.0, 7000.0, 2), ("peak", 3500.0, 1.0, 6.0),
                                   source=_cloud(rng, 8, n, sr, 45, 0.08) * 0.5)
    elif surface == "snow":  # crystals fracturing as the snow compacts: dense crunch with a squeak band
        parts["cloud"] = GrainBank(rng, 8, n, sr, 0.0, ("bp", 700.0, 5000.0, 2), ("peak", 1600.0, 3.0, 6.0),
                                   source=_cloud(rng, 8, n, sr, 140, 0.12) * 0.36)
    else:  # grass: blades brushing the shoe: soft, dense, dull swish
        swish = white(rng, (8, n)) * np.exp(-ramp(n) / (0.06 * sr)).astype(F32)
        swish += _cloud(rng, 8, n, sr, 35, 0.12) * 0.3
        parts["cloud"] = GrainBank(rng, 8, n, sr, 0.0, ("bp", 300.0, 3000.0, 2), source=swish * 0.5)
    return parts


def _contact(ctx: Ctx, v: float, n: int, soft: bool) -> np.ndarray:
    """One heel or toe contact on the chosen surface, (n,) float32 starting at sample 0."""
    rng, surface = ctx.rng, ctx.s("surface")
    parts = bank(ctx, "surface", lambda: _surface(ctx, n, soft))
    shoe = 2.0 if soft else 1.0
    y = parts["thump"] * F32(v)  # type: ignore[operator]
    if "slap" in parts:
        place(y, parts["slap"].draw(rng), 0, (1.4 if surface == "concrete" else 0.8) * v ** 1.3 / shoe)  # type: ignore[attr-defined]
    if "scuff" in parts:
        place(y, parts["scuff"].draw(rng), 0, 0.05 * v)  # type: ignore[attr-defined]
    if "floor" in parts:
        floor: ModeBank = parts["floor"]  # type: ignore[assignment]
        ring = floor.hit(rng, v, hertz_tau(MATERIALS[surface].tau, v, 8.0 * shoe))
        place(y, ring, 0, 0.9 * v / max(float(np.abs(ring).max()), 1e-9))
    if "cloud" in parts:
        place(y, parts["cloud"].draw(rng), 0, v)  # type: ignore[attr-defined]
    return y


@register("footsteps", description="a person walking: heel-then-toe steps on a chosen surface",
          kind="impulsive", layer="fg", params={"surface": "concrete", "rate_hz": 1.8, "shoe": "hard"},
          centroid=(800, 4000), choices={"surface": SURFACES, "shoe": ("hard", "soft")},
          ranges={"rate_hz": (0.3, 5.0)}, pattern=_steps,
          synonyms=("footstep", "steps", "footfalls", "walking", "walk", "foot steps", "running", "treads"))
def footsteps(ctx: Ctx, v: float) -> np.ndarray:
    sr = ctx.sr
    soft = ctx.s("shoe") == "soft"
    n = int(0.3 * sr)
    y = np.zeros(int(0.45 * sr), F32)
    place(y, _contact(ctx, v, n, soft), 0)
    # Heel-to-toe roll ≈ 0.1 s at walking pace, shorter when faster; the toe lands softer.
    roll = min(0.14, 0.18 / ctx.f("rate_hz")) * ctx.rng.uniform(0.85, 1.15)
    place(y, _contact(ctx, v * ctx.rng.uniform(0.45, 0.65), n, soft), int(roll * sr))
    return y


#: Gait beat positions within one stride (fraction of the stride) and stride rate (Hz).
GAITS = {"walk": ((0.0, 0.25, 0.5, 0.75), 0.9), "trot": ((0.0, 0.02, 0.5, 0.52), 1.3),
         "canter": ((0.0, 0.18, 0.2, 0.38), 1.7), "gallop": ((0.0, 0.1, 0.24, 0.33), 2.2)}


def _gait(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    """One hit per stride: each hit is the stride's whole group of hoof beats (see horse_hooves)."""
    _, stride_hz = GAITS[ctx.s("gait")]
    hits: list[tuple[float, float]] = []
    t = t0
    while t < t1:
        hits.append((t, 1.0))
        t += 1.0 / stride_hz * (1.0 + ctx.rng.normal(0.0, 0.02))
    return hits


@register("horse_hooves", description="a horse's hooves (walk, trot, canter, gallop) on cobbles or dirt",
          kind="impulsive", layer="fg", params={"gait": "trot", "surface": "cobble"}, centroid=(600, 3500),
          choices={"gait": tuple(GAITS), "surface": ("cobble", "dirt")}, pattern=_gait,
          synonyms=("hooves", "horse", "hoofbeats", "galloping", "trotting", "clip clop", "horse gallop"))
def horse_hooves(ctx: Ctx, v: float) -> np.ndarray:
    """One stride: its gait's group of hoof beats, the first on sample 0.

    A horse is heard in gait groups (a trot's two near-simultaneous diagonal pairs, a canter's three beats, a
    gallop's four), and what the picture shows as one onset (a stride's landing) is the start of such a group;
    one even hit per onset is how the renders gave themselves away. The beats within a stride land a little
    unevenly (±6 ms) and each foot strikes differently (accent, ±12 % force).
    """
    beats, stride_hz = GAITS[ctx.s("gait")]
    sr, rng = ctx.sr, ctx.rng
    one = int(0.25 * sr)
    y = np.zeros(int((max(beats) / stride_hz) * sr) + one + int(0.02 * sr), F32)
    for i, b in enumerate(beats):
        at = 0 if i == 0 else max(0, int((b / stride_hz + rng.normal(0.0, 0.006)) * sr))
        force = float(np.clip(v * (1.0, 0.8, 0.9, 0.75)[i] * rng.lognormal(0.0, 0.12), 0.03, 1.0))
        place(y, _hoof(ctx, force, one), at)
    return y


def _hoof(ctx: Ctx, v: float, n: int) -> np.ndarray:
    """One hoof striking the ground, (n,) float32."""
    sr, rng = ctx.sr, ctx.rng
    # Hoof wall is a hollow keratin shell (the coconut-shell trick works for a reason): a damped cavity
    # "clop" near 500–900 Hz; an iron shoe on stone adds a short metallic ring.
    cobble = ctx.s("surface") == "cobble"

    def shared() -> tuple[np.ndarray, GrainBank]:
        force = np.zeros(n, F32)
        p = half_sine(0.006, sr)
        force[: p.size] = p
        thud = filt(force, sr, ("reson", 140.0, 1.5)) * F32(1.5)  # the horse's weight landing
        grit = GrainBank(rng, 8, int(0.1 * sr), sr, 0.003 if cobble else 0.03,
                         ("bp", 1200.0, 5000.0, 2) if cobble else ("bp", 300.0, 2500.0, 2))
        return thud, grit

    thud, grit = bank(ctx, "hoof", shared)
    f = rng.uniform(550.0, 850.0)
    y = modes([f, 1.9 * f, 3.1 * f], [0.05, 0.03, 0.02], v * np.array([1.0, 0.5, 0.3]), n, sr)
    if cobble:
        y += modes(rng.uniform(2500.0, 3500.0) * np.array([1.0, 2.76]), [0.04, 0.02], [0.25 * v, 0.12 * v], n, sr)
    else:  # dirt swallows the clop's highs
        y = filt(y, sr, ("lp", 1200.0))
    y += thud * F32(v)
    place(y, grit.draw(rng), 0, (0.4 if cobble else 0.25) * v)
    return y


def _beats(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    return regular(ctx, t0, t1, ctx.f("bpm") / 60.0, 0.015)


@register("heartbeat", description="a heartbeat, lub-dub (first and second heart sounds), felt more than heard",
          kind="impulsive", layer="fg", params={"bpm": 72.0}, centroid=(30, 200),
          ranges={"bpm": (30.0, 220.0)}, pattern=_beats, synonyms=("heart", "heart beat", "pulse", "heart pounding"))
def heartbeat(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    bpm = ctx.f("bpm")
    n = int(0.6 * sr)
    # S1 (mitral/tricuspid closure, 'lub') 25–100 Hz, ~0.1 s; S2 (aortic/pulmonic, 'dub') higher and shorter,
    # after the systole ≈ 0.3 s at rest, shortening with heart rate (Bazett-like √(RR)).
    s1 = modes(rng.uniform(30.0, 40.0) * np.array([1.0, 1.9, 3.3]), [0.12, 0.08, 0.05],
               v * np.array([1.0, 0.55, 0.25]), n, sr)
    s2 = modes(rng.uniform(48.0, 60.0) * np.array([1.0, 1.8, 2.9]), [0.08, 0.05, 0.03],
               0.75 * v * np.array([1.0, 0.5, 0.3]), n, sr)
    place(s1, s2, int(0.3 * np.sqrt(60.0 / bpm) * sr))
    return filt(s1, sr, ("lp", 180.0, 2)).astype(F32, copy=False)  # heard through the chest wall: highs are gone


def _typing(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    # Touch typing comes in words: 3–8 keys at ≈ 1.6×the mean rate, a space bar, then a short thinking pause.
    rate = ctx.f("rate_hz")
    hits: list[tuple[float, float]] = []
    t = t0
    while t < t1:
        for _ in range(int(ctx.rng.integers(3, 9))):
            hits.append((t, ctx.rng.uniform(0.6, 1.0)))
            t += ctx.rng.gamma(6.0, 1.0 / (1.6 * rate) / 6.0)
        hits.append((t, 1.0))  # space bar
        t += ctx.rng.gamma(3.0, 0.7 / rate / 3.0) + 1.0 / rate
    return [h for h in hits if h[0] < t1]


@register("keyboard_typing", description="typing on a computer keyboard: plastic key clicks in word bursts",
          kind="impulsive", layer="fg", params={"rate_hz": 6.0, "keyboard": "laptop"}, centroid=(2000, 7000),
          choices={"keyboard": ("laptop", "mechanical")}, ranges={"rate_hz": (1.0, 15.0)}, pattern=_typing,
          synonyms=("typing", "keyboard", "keystrokes", "typewriter"))
def keyboard_typing(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    n = int(0.2 * sr)
    mech = ctx.s("keyboard") == "mechanical"
    # Keycap bottoming out: plastic on plastic, a short ring of the cap/plate (ABS modes 2–5 kHz, T60 ~20 ms).
    f = rng.uniform(2000.0, 3200.0) * (0.8 if mech else 1.0)
    y = modes(f * np.array([1.0, 1.6, 2.4]), [0.025, 0.015, 0.01], v * np.array([1.0, 0.6, 0.4]), n, sr)
    ticks = bank(ctx, "ticks", lambda: GrainBank(rng, 8, int(0.02 * sr), sr, 0.0015, ("bp", 1500.0, 7000.0, 2)))
    place(y, ticks.draw(rng), 0, 1.2 * v)
    if mech:  # click-jacket switch: an extra sharp tick before bottom-out
        y += modes([4500.0, 7000.0], [0.01, 0.008], [0.8 * v, 0.4 * v], n, sr)
    place(y, ticks.draw(rng), int(rng.uniform(0.06, 0.11) * sr), 0.3 * v)  # key returning to the top
    return y


def _ticks(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    return regular(ctx, t0, t1, ctx.f("rate_hz"), 0.002, (1.0, 0.8))  # tick, tock


@register("clock_tick", description="a mechanical clock ticking: escapement clicks in a wooden case",
          kind="impulsive", layer="fg", params={"rate_hz": 1.0}, centroid=(2000, 7000),
          ranges={"rate_hz": (0.25, 8.0)}, pattern=_ticks,
          synonyms=("clock", "ticking", "tick", "tock", "tick tock", "clock ticking"))
def clock_tick(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    n = int(0.15 * sr)
    # Pallet hitting an escape-wheel tooth: tiny steel parts → modes 3–9 kHz dying in ~20 ms;
    # the case (thin wood box, ≈ 0.3 m) colours it with low-mid modes.
    case = bank(ctx, "case", lambda: ModeBank(np.array([420.0, 780.0, 1150.0, 1900.0]) *
                                             ctx.rng.uniform(0.9, 1.1),
                                             np.array([0.08, 0.06, 0.05, 0.04]), sr, 0.15))
    # Entry and exit pallets differ: tick and tock alternate in pitch.
    k = int(ctx.cache.get("k", 0))  # type: ignore[call-overload]
    ctx.cache["k"] = k + 1
    f = (3800.0, 4300.0)[k % 2] * rng.uniform(0.97, 1.03)
    y = modes(f * np.array([1.0, 1.5, 2.2]), [0.02, 0.015, 0.01], v * np.array([1.0, 0.7, 0.4]), n, sr)
    # A real escapement's tick, where one ships, replaces the pallet's three modes and drives the case.
    real = transient(rng, sr, "tick", 0.03)
    if real is not None:
        y = np.zeros(n, F32)
        y[: real.size] = v * real
        place(y, excite(case.hit(rng, v, 0.3e-3), real), 0, 0.35 * v)
        return y
    place(y, case.hit(rng, v, 0.3e-3), 0, 0.35)
    return y
