"""Struck objects (wood, metal, glass, bells, cutlery, coins, balls, bodies) by modal synthesis; see `modal`.

Where a real recording of a like contact ships (`recorded`), its attack drives the modes instead of a synthetic
click: a wood crack for wood, a clock's steel tick for metal, glass, coins and cutlery. Without one, the
synthetic contact below is the fallback.
"""

from __future__ import annotations

import math

import numpy as np

from foleydesigner.generation.procedural.dsp import (
    F32,
    burst,
    filt,
    half_sine,
    modes,
    place,
)
from foleydesigner.generation.procedural.modal import (
    BAR,
    MATERIALS,
    Material,
    ModeBank,
    bank,
    bar_f1,
    click,
    contact_weight,
    dense_modes,
    hertz_tau,
    object_modes,
    plate_ratios,
    ring_ratios,
    t60s,
)
from foleydesigner.generation.procedural.recorded import struck, transient
from foleydesigner.generation.procedural.registry import Ctx, register, regular

G = 9.81


# ---- impact_wood / metal / glass ----------------------------------------------------------------------------

@register("impact_wood", description="a wooden object struck (plank, crate, table top): short hollow knock",
          kind="impulsive", layer="fg", params={"size_m": 0.4, "striker": "hard"}, centroid=(400, 2500),
          choices={"striker": ("hard", "soft")}, ranges={"size_m": (0.05, 3.0)},
          synonyms=("wood impact", "wooden impact", "wood hit", "thud", "thump", "wood knock", "wood block"))
def impact_wood(ctx: Ctx, v: float) -> np.ndarray:
    size = ctx.f("size_m")
    # A board 2 cm thick, aspect 0.6: f11 from the bar formula (≈ 510 Hz at 0.4 m, 80 Hz for a 1 m table top).
    b = bank(ctx, "wood", lambda: object_modes(ctx, "wood", plate_ratios(0.6, 16), bar_f1(size, 0.02, 4000.0)))
    soft = 1.0 if ctx.s("striker") == "hard" else 6.0
    tau = hertz_tau(MATERIALS["wood"].tau, v, soft)
    y = b.hit(ctx.rng, v, tau)
    real = struck(ctx, y, "crack", 0.25 / soft)
    if real is not None:
        return real
    place(y, click(ctx.rng, ctx.sr, v / soft, 0.002, 800.0, 6000.0), 0, 0.25 * float(np.abs(y).max()) / max(v, 1e-3))
    return y


@register("impact_metal", description="a metal object struck (sheet, bar, pipe): bright clang with a long ring",
          kind="impulsive", layer="fg", params={"size_m": 0.5, "shape": "plate"}, centroid=(1000, 5000),
          choices={"shape": ("plate", "bar", "pipe")}, ranges={"size_m": (0.05, 3.0)}, tail_s=3.5,  # metal t_max 3 s
          synonyms=("metal impact", "metal hit", "clang", "clank", "metal clang", "pipe hit"))
def impact_metal(ctx: Ctx, v: float) -> np.ndarray:
    size, shape = ctx.f("size_m"), ctx.s("shape")

    def make() -> ModeBank:
        if shape == "plate":  # 3 mm steel sheet, aspect 0.7 (≈ 90 Hz at 0.5 m): dense inharmonic clang
            f11 = 0.5 * math.pi * 0.003 * 5100.0 / 3.3 * (1.0 / size**2 + 1.0 / (0.7 * size) ** 2)
            return object_modes(ctx, "metal", plate_ratios(0.7, 24), f11, 0.02)
        if shape == "bar":  # 1 cm thick bar
            return object_modes(ctx, "metal", np.array(BAR), bar_f1(size, 0.01, 5100.0), 0.01)
        # pipe: bending modes of a tube (radius of gyration r/√2, r = 2 cm) plus wall (ovalling) ring modes
        f1 = bar_f1(size, 0.02 * math.sqrt(6.0), 5100.0)  # h/√12 ≡ r/√2 → h = r√6
        return object_modes(ctx, "metal", np.concatenate([BAR, 6.0 * ring_ratios(5)]), f1, 0.01)

    b = bank(ctx, "metal", make)
    tau = hertz_tau(MATERIALS["metal"].tau, v)
    y = b.hit(ctx.rng, v, tau)
    if shape != "bar":  # the dense upper modes of a sheet or tube: shimmering decaying band noise
        peak = float(np.abs(y).max())
        hf = dense_modes(ctx.rng, y.size, ctx.sr, [(1500.0, 4000.0, 1.2, 0.25), (4000.0, 9000.0, 0.6, 0.15)])
        y += hf * (peak * float(contact_weight(np.array([3000.0]), tau)[0]))
    real = struck(ctx, y, "tick", 0.2)
    if real is not None:
        return real
    place(y, click(ctx.rng, ctx.sr, v, 0.0015, 2000.0, 12000.0), 0, 0.2 * float(np.abs(y).max()) / max(v, 1e-3))
    return y


@register("impact_glass", description="a glass object struck (bottle, jar, tumbler): bright, short ring",
          kind="impulsive", layer="fg", params={"size_m": 0.2, "object": "bottle"}, centroid=(1500, 6000),
          choices={"object": ("bottle", "pane")}, ranges={"size_m": (0.03, 2.0)},
          synonyms=("glass impact", "glass hit", "tink", "bottle hit", "glass tap"))
def impact_glass(ctx: Ctx, v: float) -> np.ndarray:
    size = ctx.f("size_m")

    def make() -> ModeBank:
        if ctx.s("object") == "pane":  # 4 mm pane, aspect 0.75: plate modes
            f11 = 0.5 * math.pi * 0.004 * 5300.0 / 3.3 * (1.0 / size**2 + 1.0 / (0.75 * size) ** 2)
            return object_modes(ctx, "glass", plate_ratios(0.75, 18), f11)
        # Bottle wall = thin cylindrical shell: ring modes; 3 mm wall, radius ≈ size/6 (≈ 1.5 kHz at 0.2 m).
        f1 = 0.0035 * 5300.0 / (2.0 * math.pi * (size / 6.0) ** 2) * 0.55
        return object_modes(ctx, "glass", ring_ratios(7), f1)

    b = bank(ctx, "glass", make)
    y = b.hit(ctx.rng, v, hertz_tau(MATERIALS["glass"].tau, v))
    real = struck(ctx, y, "tick", 0.3)
    if real is not None:
        return real
    place(y, click(ctx.rng, ctx.sr, v, 0.001, 3000.0, 14000.0), 0, 0.3 * float(np.abs(y).max()) / max(v, 1e-3))
    return y


@register("glass_clink", description="two wine glasses touched in a toast: a pure ringing 'ting' with beats",
          kind="impulsive", layer="fg", params={"pitch_hz": 780.0}, centroid=(1000, 5000),
          ranges={"pitch_hz": (300.0, 3000.0)}, tail_s=3.0,  # 2.5 s mode banks
          synonyms=("clink", "cheers", "glasses clink", "wine glass", "glass toast"))
def glass_clink(ctx: Ctx, v: float) -> np.ndarray:
    f0 = ctx.f("pitch_hz")

    def make() -> tuple[ModeBank, ModeBank]:
        # Two glasses a few % apart in pitch: their (2,0) modes beat. Light touch → long clean ring (η of glass).
        mat = Material(5300.0, 6e-4, 2.5, 0.15e-3)
        pair = []
        for detune in (1.0, 1.0 + ctx.rng.uniform(0.03, 0.08)):
            fr = f0 * detune * ring_ratios(5) * (1.0 + 0.01 * ctx.rng.standard_normal(5))
            pair.append(ModeBank(fr, t60s(fr, mat), ctx.sr, 2.5))
        return pair[0], pair[1]

    a, b = bank(ctx, "clink", make)  # type: ignore[misc]
    tau = 0.15e-3
    amps = np.array([1.0, 0.5, 0.35, 0.2, 0.1])
    y = a.hit(ctx.rng, v, tau, amps, 0.3)
    place(y, b.hit(ctx.rng, v, tau, amps, 0.3), 0, 0.8)
    real = struck(ctx, y, "tick", 0.15, 0.006)  # a light touch: only the attack's first milliseconds
    if real is not None:
        return real
    place(y, click(ctx.rng, ctx.sr, v, 0.0006, 4000.0, 15000.0), 0, 0.15 * float(np.abs(y).max()) / max(v, 1e-3))
    return y


# ---- breaking glass ------------------------------------------------------------------------------------------

@register("glass_shatter", description="a pane or bottle breaking: crack, then shards falling and tinkling",
          kind="impulsive", layer="fg", params={"size_m": 0.6, "height_m": 1.0}, centroid=(3000, 9000),
          ranges={"size_m": (0.05, 3.0), "height_m": (0.1, 5.0)}, tail_s=3.5,  # 1.6 × a 5 m fall + 1.2 s = 2.8 s
          synonyms=("shatter", "glass break", "glass breaking", "smash", "window smash", "breaking glass"))
def glass_shatter(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    size, height = ctx.f("size_m"), ctx.f("height_m")
    # Shards hit the floor after free fall t = √(2h/g) (±30 % from launch speed), then bounce and skitter.
    fall = math.sqrt(2.0 * height / G)
    n = int((fall * 1.6 + 1.2) * sr)
    y = np.zeros(n, F32)
    crack = burst(rng, int(0.06 * sr), sr, 0.008, ("bp", 1500.0, 9000.0, 2))
    y[: crack.size] += 1.2 * v * crack
    # The pane itself rings for an instant as it cracks (plate modes of a 4 mm pane, aspect 0.75).
    big = object_modes(ctx, "glass", plate_ratios(0.75, 12), 0.5 * math.pi * 0.004 * 5300.0 / 3.3 * 2.8 / size**2)
    ring = big.hit(rng, v, 0.2e-3)[:n]
    y[: ring.size] += 0.6 * v * ring / max(1e-9, float(np.abs(ring).max()))
    count = int(40 + 80 * min(size, 2.0) * (0.5 + v))
    # Shard launch times: most fragments break free in the first 60 ms, landing times spread around `fall`.
    times = np.concatenate([rng.exponential(0.02, count // 3), fall * rng.uniform(0.7, 1.3, count - count // 3)])
    times += rng.exponential(0.08, count) * (rng.random(count) < 0.4)  # second bounces
    for t in times:
        f1 = rng.uniform(2000.0, 6000.0)  # small shards: a few cm → high plate modes
        fr = f1 * np.array([1.0, 1.7, 2.9])
        amp = v * rng.uniform(0.08, 0.5) * (0.4 if t > fall * 1.35 else 1.0)
        shard = modes(fr, [0.08, 0.05, 0.03], amp * np.array([1.0, 0.6, 0.4]), int(0.09 * sr), sr)
        shard += amp * 0.5 * burst(rng, shard.size, sr, 0.0008, ("bp", 2000.0, 8000.0, 2))
        place(y, shard, int(t * sr))
    return y


# ---- punch ---------------------------------------------------------------------------------------------------

@register("punch", description="a fist hitting a body: low thud of the torso plus skin slap",
          kind="impulsive", layer="fg", params={"target": "body"}, centroid=(300, 2000),
          choices={"target": ("body", "face")}, synonyms=("body hit", "body blow", "slap", "kick"))
def punch(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    n = int(0.35 * sr)
    # Soft tissue: long contact (≈ 10 ms) and heavily damped low modes of the torso cavity (60–250 Hz, Q ≈ 2–4).
    force = np.zeros(n, F32)
    pulse = half_sine(rng.uniform(0.008, 0.012) * v ** -0.2, sr)
    force[: pulse.size] = pulse * v
    thud = filt(force, sr, ("reson", 90.0 * rng.uniform(0.9, 1.1), 2.0), ("peak", 220.0, 1.5, 8.0),
                ("lp", 1200.0, 2))
    face = ctx.s("target") == "face"
    # The skin slap: a real contact's attack (a sharp crack on a face, a heavy door-on-frame blow on a torso),
    # band-limited as flesh passes it; a decaying noise burst where none ships.
    real = transient(rng, sr, "crack" if face else "slam", 0.03)
    slap = (filt(real, sr, ("bp", 700.0, 4000.0 if face else 2500.0, 2)) if real is not None else
            burst(rng, int(0.05 * sr), sr, 0.006 if face else 0.01, ("bp", 700.0, 4000.0 if face else 2500.0, 2)))
    y = thud.astype(F32, copy=False) * (0.6 if face else 1.0)
    y[: slap.size] += (0.9 if face else 0.5) * v ** 1.5 * slap * float(np.abs(thud).max()) / max(
        float(np.abs(slap).max()), 1e-9)
    return y


# ---- ball bounce ---------------------------------------------------------------------------------------------

#: (radius m, contact time s, restitution e, cavity Q). Cavity mode ka = 2.08 → f = 2.08 c / (2π r).
BALLS = {"basketball": (0.12, 0.008, 0.76, 25.0), "tennis": (0.033, 0.004, 0.73, 6.0),
         "pingpong": (0.02, 0.0012, 0.9, 40.0)}


def _bounces(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    radius, _, e, _ = BALLS[ctx.s("ball")]
    if ctx.s("motion") == "dribble":  # a dribble: steady ≈ 1.8 Hz hand-driven bounces
        return regular(ctx, t0, t1, 1.8, 0.02)
    # Dropped from height h: impact speed v0 = √(2gh); after each bounce v ← e·v and the flight lasts 2v/g.
    v = math.sqrt(2.0 * G * ctx.f("height_m"))
    t, hits = t0, []
    v0 = v
    while t < t1 and v > 0.04 * v0:
        hits.append((t, v / v0))
        v *= e * (1.0 + 0.02 * ctx.rng.standard_normal())
        t += 2.0 * v / G
    return hits


@register("ball_bounce", description="a ball bouncing on a hard floor (drop to rest, or dribbling)",
          kind="impulsive", layer="fg", params={"ball": "basketball", "motion": "drop", "height_m": 1.2},
          centroid=(300, 2000), choices={"ball": tuple(BALLS), "motion": ("drop", "dribble")},
          ranges={"height_m": (0.1, 10.0)}, pattern=_bounces,
          synonyms=("bounce", "bouncing ball", "ball", "dribble", "dribbling"))
def ball_bounce(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    radius, tau, _, q = BALLS[ctx.s("ball")]
    n = int(0.25 * sr)
    force = np.zeros(n, F32)
    pulse = half_sine(tau * v ** -0.2, sr)
    force[: pulse.size] = pulse / float(pulse.max())
    # The floor's surface answers the ball with its own snap: a real wooden contact where one ships (the floor of
    # a court or hall is wood), a noise burst otherwise. It rides on the smooth rubber contact and drives the same
    # resonators, so the ping starts with a real attack's micro-structure.
    snap = transient(rng, sr, "crack", 0.01)
    snap = burst(rng, int(0.01 * sr), sr, 0.001, ("bp", 500.0, 5000.0, 2)) if snap is None else snap
    force[: snap.size] += 0.15 * snap
    f_cav = 2.08 * 343.0 / (2.0 * math.pi * radius) * rng.uniform(0.98, 1.02)
    # The floor's and the ball's low thump carries the bounce; the shell/air cavity "ping" rings under it. A
    # rubber contact of τ ms passes little above 0.6/τ (≈ 75 Hz for a basketball), so the ping is not the equal of
    # the thump (normalising each to its own peak made the ping dominate): it sits ≈ 10 dB under it, its
    # resonance gain winning back part of what the soft contact loses.
    ping = filt(force, sr, ("reson", f_cav, q))
    thump = filt(force, sr, ("reson", 120.0, 1.5))
    y = (0.3 * ping / max(float(np.abs(ping).max()), 1e-9) + thump / max(float(np.abs(thump).max()), 1e-9))
    y[: snap.size] += 0.3 * snap
    # Dry: the room a ball bounces in is the scene's, laid by the mixer's reverb expert (a hall baked into the
    # source would follow the ball into a garden).
    return (v * y).astype(F32, copy=False)


# ---- bell ----------------------------------------------------------------------------------------------------

#: Church-bell partials relative to the prime (strike note): hum, prime, tierce (minor third), quint,
#: nominal, deciem, undeciem, duodeciem, upper octave (Rossing, "The Science of Sound", ch. 13).
BELL = (0.5, 1.0, 1.2, 1.5, 2.0, 2.5, 2.67, 3.0, 4.0, 5.33)
BELL_AMP = (0.6, 0.8, 1.0, 0.4, 0.9, 0.5, 0.4, 0.3, 0.25, 0.12)


def _toll(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    return regular(ctx, t0, t1, 1.0 / ctx.f("interval_s"), 0.02, (1.0, 0.9))


@register("bell", description="a struck bronze bell tolling (church or hand bell): additive bell partials",
          kind="impulsive", layer="fg", params={"pitch_hz": 392.0, "interval_s": 2.5}, centroid=(300, 1500),
          ranges={"pitch_hz": (80.0, 3000.0), "interval_s": (0.3, 30.0)}, pattern=_toll, tail_s=6.5,
          synonyms=("church bell", "bells", "toll", "tolling", "chime", "chimes", "bell ring"))
def bell(ctx: Ctx, v: float) -> np.ndarray:
    f0 = ctx.f("pitch_hz")

    def make() -> ModeBank:
        fr = f0 * np.array(BELL) * (1.0 + 0.004 * ctx.rng.standard_normal(len(BELL)))
        # Bell partials are doublets split by ~0.1–0.3 % by the casting's asymmetry (the slow 'warble'); it is
        # audible on the long-ringing lower five, so only those get their twin.
        split = fr[:5] * (1.0 + ctx.rng.uniform(0.001, 0.003, 5))
        # Bronze: low partials ring for many seconds (hum longest), high ones die fast; scaled by bell size.
        t60 = np.minimum(6.0, 5.0 * (392.0 / f0) ** 0.5 * (fr / f0) ** -0.9)
        return ModeBank(np.concatenate([fr, split]), np.concatenate([t60, t60[:5]]), ctx.sr, 6.0)

    b = bank(ctx, "bell", make)
    # Where the clapper lands relative to each doublet's nodes sets how it shares energy between the pair
    # (cos²/sin² of the strike angle): every strike warbles differently. Iron on bronze: ≈ 1 ms contact,
    # harder strikes bring up the nominal and above.
    theta = np.concatenate([ctx.rng.uniform(0.0, np.pi, 5), np.zeros(len(BELL) - 5)])
    amps = np.concatenate([np.array(BELL_AMP) * np.cos(theta) ** 2, np.array(BELL_AMP[:5]) * np.sin(theta[:5]) ** 2])
    y = b.hit(ctx.rng, v, 0.6e-3 * v ** -0.5, amps, 0.3, detune=0.0)
    place(y, click(ctx.rng, ctx.sr, v, 0.002, 1500.0, 8000.0), 0, 0.1 * float(np.abs(y).max()) / max(v, 1e-3))
    return y


# ---- cutlery / coins -----------------------------------------------------------------------------------------

def _clatter(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    k = int(ctx.rng.integers(3, 6))
    times = t0 + np.cumsum(np.concatenate([[0.0], ctx.rng.uniform(0.04, 0.2, k - 1)]))
    return [(float(t), float(a)) for t, a in zip(times, ctx.rng.uniform(0.5, 1.0, k), strict=True) if t < t1]


@register("cutlery", description="knives and forks set down on a ceramic plate: quick metallic clatter",
          kind="impulsive", layer="fg", params={}, centroid=(2500, 8000), pattern=_clatter,
          synonyms=("silverware", "fork", "knife", "spoon", "utensils", "dishes", "clatter", "plate clatter"))
def cutlery(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    plate = bank(ctx, "plate", lambda: object_modes(ctx, "ceramic", ring_ratios(6), 1400.0))
    y = np.zeros(int(0.6 * sr), F32)
    # A utensil lands in 2–4 contacts within ~40 ms (tip, handle, rattle); each rings as a thin steel bar.
    for j in range(int(rng.integers(2, 5))):
        f1 = rng.uniform(1500.0, 3500.0)  # a 20 cm fork/knife blade, ~3 mm thick
        fr = f1 * np.array(BAR[:4]) * (1.0 + 0.02 * rng.standard_normal(4))
        a = v * (1.0 if j == 0 else rng.uniform(0.2, 0.6))
        k = modes(fr, [0.35, 0.2, 0.12, 0.08], a * np.array([1.0, 0.7, 0.5, 0.3]), int(0.4 * sr), sr)
        place(y, k, int(rng.uniform(0.0, 0.04) * sr) * (j > 0))
    p = plate.hit(rng, 0.5 * v, 0.3e-3)
    place(y, p / max(float(np.abs(p).max()), 1e-9) * 0.5 * v, 0)
    real = struck(ctx, y, "tick", 0.2)  # each utensil's contact: a real small steel tick
    return y if real is None else real


def _coin_drop(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    # Bounces (e ≈ 0.45 on a wooden table) then Euler's-disk rattle: the contact point precesses faster and
    # faster as the tilt angle shrinks (rate ∝ α^-1/2), ending abruptly.
    v, t, hits = 1.0, t0, []
    while v > 0.1:
        hits.append((t, v))
        v *= 0.45
        t += 2.0 * v * 1.4 / G
    rate, a = 12.0, 0.35
    while rate < 90.0 and t < t1:
        hits.append((t, a * ctx.rng.uniform(0.7, 1.0)))
        t += 1.0 / rate
        rate *= 1.07
        a *= 0.97
    return [h for h in hits if h[0] < t1]


@register("coins", description="a coin dropped on a table: bounces, then a spinning rattle that speeds up",
          kind="impulsive", layer="fg", params={"diameter_mm": 24.0}, centroid=(3000, 10000),
          ranges={"diameter_mm": (10.0, 45.0)}, pattern=_coin_drop,
          synonyms=("coin", "coin drop", "loose change", "coins jingle"))
def coins(ctx: Ctx, v: float) -> np.ndarray:
    # Free circular plate modes (Rossing): (2,0), (0,1), (3,0), (1,1), (4,0) at 1, 1.73, 2.33, 3.91, 4.11.
    d = ctx.f("diameter_mm") / 1000.0
    f1 = 4500.0 * (0.024 / d) ** 2  # a 24 mm, 1.75 mm thick cupronickel coin rings near 4.5 kHz
    b = bank(ctx, "coin", lambda: object_modes(ctx, "metal", np.array([1.0, 1.73, 2.33, 3.91, 4.11]), f1, 0.01))
    y = b.hit(ctx.rng, v, 0.1e-3, np.array([1.0, 0.8, 0.6, 0.4, 0.3]), 0.8)[: int(0.8 * ctx.sr)]
    real = struck(ctx, y, "tick", 0.0, 0.004)  # the coin's own edge tick through its modes…
    if real is not None:  # …and the table under it: a wood crack's first milliseconds
        table = transient(ctx.rng, ctx.sr, "crack", 0.01)
        if table is not None:
            real[: table.size] += 0.3 * v * table * float(np.abs(real).max()) / max(v, 1e-3)
        return real
    table = burst(ctx.rng, int(0.02 * ctx.sr), ctx.sr, 0.004, ("bp", 800.0, 6000.0, 2)) * (0.3 * v)
    y[: table.size] += table * float(np.abs(y).max()) / max(v, 1e-3)
    return y
