"""Tonal machines and air: phones, sirens, horns, mains hum (additive/wavetable), room tone, whooshes."""

from __future__ import annotations

import numpy as np

from foleydesigner.generation.procedural.dsp import (
    F32,
    ctrl_len,
    ctrl_times,
    filt,
    harmonic_table,
    lookup,
    lowrate,
    modes,
    place,
    smooth_noise,
    steady_tone,
    stretch,
    sweep_phase,
    upsample,
    white,
)
from foleydesigner.generation.procedural.realism import reverb
from foleydesigner.generation.procedural.registry import Ctx, band_limited, register

#: Ring cadences, (on s, off s) pairs: North American 2 s on / 4 s off; UK double ring 0.4/0.2/0.4/2.0.
CADENCES = {"us": ((2.0, 4.0),), "uk": ((0.4, 0.2), (0.4, 2.0))}


def _cadence(t: np.ndarray, pattern: tuple[tuple[float, float], ...]) -> np.ndarray:
    period = sum(a + b for a, b in pattern)
    x = t % period
    on = np.zeros(t.size, bool)
    start = 0.0
    for a, b in pattern:
        on |= (x >= start) & (x < start + a)
        start += a + b
    return on


def _harmonics(f_max: float, sr: int, slope: float, odd_only: bool = False, limit: int = 40) -> list[float]:
    """Harmonic amplitudes 1/k^slope up to Nyquist for the highest fundamental used (no aliasing)."""
    top = max(1, min(limit, int(0.45 * sr / f_max)))
    return [0.0 if odd_only and k % 2 == 0 else k ** -slope for k in range(1, top + 1)]


@register("phone_ring", description="a telephone ringing: electromechanical bell (or digital trill) in cadence",
          kind="continuous", layer="fg", params={"style": "bell", "cadence": "us"}, centroid=(1500, 5000),
          choices={"style": ("bell", "digital"), "cadence": tuple(CADENCES)}, norm="peak", level_db=-3.0,
          fade_s=0.02, synonyms=("phone", "telephone", "phone ringing", "ringing phone", "ringtone", "ring"))
def phone_ring(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    on = _cadence(np.arange(n // 96 + 2) * 96 / sr, CADENCES[ctx.s("cadence")])  # 2 ms resolution
    y = np.zeros(n, F32)
    if ctx.s("style") == "bell":
        # 20 Hz ringing current swings the clapper between two steel gongs: 40 strikes/s, alternating.
        gongs = []
        for f in (1350.0, 1620.0):
            fr = f * rng.uniform(0.97, 1.03) * np.array([1.0, 2.2, 3.6, 5.2])
            gongs.append(modes(fr, [0.8, 0.5, 0.3, 0.2], [1.0, 0.5, 0.35, 0.2], int(0.3 * sr), sr))
        strikes = np.arange(0.0, n / sr, 1.0 / 40.0)
        for i, t in enumerate(strikes):
            if on[int(t * sr) // 96]:
                place(y, gongs[i % 2], int(t * sr), rng.uniform(0.8, 1.0))
        return y
    # Digital ringer: square-ish tone trilling between 1.2 and 1.5 kHz at 16 Hz.
    t = ctrl_times(n, sr)
    f = np.where((t * 16.0).astype(int) % 2 == 0, 1200.0, 1500.0)
    tone = lookup(harmonic_table(_harmonics(1500.0, sr, 1.0, odd_only=True, limit=9)), sweep_phase(upsample(f, n, sr),
                                                                                                  sr))
    gate = upsample(_cadence(t, CADENCES[ctx.s("cadence")]).astype(F32, copy=False), n, sr)  # 5 ms ramps, no clicks
    return filt(tone * gate, sr, ("lp", 7000.0)).astype(F32, copy=False)


@register("siren", description="an emergency siren: wailing (or yelping) sweep through a horn speaker",
          kind="continuous", layer="fg", params={"mode": "wail", "low_hz": 650.0, "high_hz": 1500.0},
          centroid=(800, 3500), choices={"mode": ("wail", "yelp")},
          ranges={"low_hz": (200.0, 2000.0), "high_hz": (300.0, 4000.0)}, fade_s=0.1,
          synonyms=("police siren", "ambulance", "ambulance siren", "fire engine", "sirens"))
@band_limited(5000.0)
def siren(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    t = ctrl_times(n, sr)
    lo, hi = ctx.f("low_hz"), max(ctx.f("high_hz"), ctx.f("low_hz") + 1.0)
    if ctx.s("mode") == "wail":  # rotor spin-up/down: ≈ 5 s cycle, smooth turnarounds
        s = 0.5 - 0.5 * np.cos(2.0 * np.pi * (t / 5.0 + rng.uniform(0.0, 0.1)))
    else:  # yelp: fast rising sweeps, ≈ 3 per second
        s = (t * 3.0) % 1.0
    f = lo + (hi - lo) * s
    tone = lookup(harmonic_table(_harmonics(hi, sr, 1.5, odd_only=True, limit=15)), sweep_phase(upsample(f, n, sr), sr))
    y = filt(tone, sr, ("hp", 400.0, 2), ("peak", 2000.0, 1.2, 4.0), ("lp", 5000.0, 2))
    # A siren is heard in a street: its facades return the sweep for a second or two (a street canyon's T60 is
    # ≈ 1–2 s), so each moment carries the pitches just past, as a recorded siren's smeared spectrogram shows.
    return reverb(rng, sr, y.astype(F32, copy=False), 1.5, 0.6, lp_hz=4000.0, hp_hz=200.0, predelay_s=0.03)[:n]


@register("car_horn", description="a car horn: two electric horns a third apart, harsh and buzzy",
          kind="continuous", layer="fg", params={"pitch_hz": 420.0}, centroid=(1000, 3500),
          ranges={"pitch_hz": (150.0, 1000.0)}, fade_s=0.02,
          synonyms=("horn", "honk", "honking", "car honk", "horn honk", "honks"))
@band_limited(6000.0)
def car_horn(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    f = ctx.f("pitch_hz")
    # Vibrating diaphragm interrupted by its own contacts: a pulse-like wave rich in harmonics (≈ 1/k^0.7);
    # the low/high pair is tuned about a major third apart (≈ 5:4).
    y = np.zeros(n, F32)
    k = ctrl_len(n, sr)
    for ratio in (1.0, 1.25):
        table = harmonic_table(_harmonics(f * ratio, sr, 1.0, limit=30))
        # Each diaphragm's pitch drifts a little with the supply and the contacts (±0.3 %): the two horns' near-
        # coincident partials then beat irregularly, not as a metronome.
        inst = f * ratio * rng.uniform(0.995, 1.005) * (1.0 + 0.003 * upsample(smooth_noise(rng, k, 0.3), n, sr))
        y += lookup(table, rng.random() + np.cumsum(inst, dtype=np.float64) / sr)
    # The contacts chatter: no two breaks are alike, so the level flickers at random (±4 %, 5 ms correlation).
    # Without it the slow beat of the pair was all the envelope did, and it repeated every 0.1–0.3 s where a
    # recorded honk's envelope does not repeat at all.
    y *= (1.0 + 0.04 * upsample(smooth_noise(rng, k, 0.005), n, sr)).astype(F32, copy=False)
    return filt(y, sr, ("hp", 250.0, 2), ("peak", 2500.0, 1.5, 6.0), ("lp", 6000.0, 2)).astype(F32, copy=False)


@register("electric_hum", description="mains hum and transformer buzz (fluorescent lights, amplifiers)",
          kind="continuous", layer="bg", params={"mains_hz": 50.0, "buzz": 0.2}, centroid=(100, 700),
          ranges={"mains_hz": (45.0, 65.0), "buzz": (0.0, 1.0)},
          synonyms=("hum", "mains hum", "buzz", "electrical hum", "transformer hum", "fluorescent buzz"))
def electric_hum(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    fm = ctx.f("mains_hz")
    buzz = ctx.f("buzz")
    # Magnetostriction flexes the core twice per cycle: the hum lives at 2·f_mains and its harmonics;
    # core saturation adds odd harmonics (buzz).
    amps = _harmonics(fm, sr, 1.3, limit=30)
    amps = [a * (1.0 if k % 2 == 0 else 0.15 + buzz) for k, a in enumerate(amps, start=1)]
    amps[0] = 0.3
    tone = steady_tone(harmonic_table(amps), fm, n, sr, rng.random())
    wobble = upsample(1.0 + 0.05 * smooth_noise(rng, ctrl_len(n, sr), 2.0), n, sr)
    return (tone * wobble).astype(F32, copy=False)


@register("room_tone", description="the quiet air of an interior: ventilation rumble and soft air hiss",
          kind="continuous", layer="bg", diffuse=True, params={"hvac": 0.5}, centroid=(100, 900),
          ranges={"hvac": (0.0, 1.0)}, level_db=-30.0, fade_s=1.5,
          synonyms=("roomtone", "ambience", "interior ambience", "silence", "quiet room", "air conditioning", "hvac"))
def room_tone(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    hvac = ctx.f("hvac")
    # Room noise follows the NC curves: energy falls ~5 dB/octave above ~63 Hz; nothing much above 4 kHz.
    r = lowrate(sr, 1000.0)
    low_sr = sr // r
    m = n // r + 2
    air = filt(white(rng, (2, m)), low_sr, ("hp", 25.0, 1), ("lp", 90.0 + 150.0 * hvac, 1), ("lp", 1200.0, 2))
    duct = filt(white(rng, (2, m)), low_sr, ("reson", 120.0, 8.0)) * (0.4 * hvac)  # fan blade-pass
    return stretch(air + duct, r, n).astype(F32, copy=False)


#: Half-width (s) of a whoosh's pass: its level is within 6 dB of the peak for ≈ 1.3 of these either side.
_WHOOSH_HALF_S = {"small": 0.05, "medium": 0.08, "large": 0.12}


@register("whoosh", description="something swishing past close by (swing, throw, fly-by): swept air noise",
          kind="continuous", layer="fg", params={"size": "medium"}, centroid=(500, 4000),
          choices={"size": ("small", "medium", "large")}, norm="peak", level_db=-2.0, fade_s=0.03, loop=False,
          synonyms=("swish", "swoosh", "swing", "woosh", "fly by", "flyby", "swipe", "zip past"))
def whoosh(ctx: Ctx) -> np.ndarray:
    scale = {"small": 2.0, "medium": 1.0, "large": 0.45}[ctx.s("size")]
    low, r = ctx.slower(4000.0 * scale)  # nothing above the top band's edge (3.5 kHz × scale)
    sr, n = low.sr, low.n
    t = ctrl_times(n, sr)
    # Pass-by of a moving edge: turbulence level ∝ (d0/r)², and the band rises as it nears (vortex-shedding
    # frequency ∝ speed, Doppler up then down) — a crossfade between three fixed bands follows it. A swung arm or
    # a thrown object passes in a tenth of a second or two (recorded whooshes sound 0.1–0.3 s), however long the
    # event: the half-width is fixed, at most a fifth of a short span.
    half = min(_WHOOSH_HALF_S[ctx.s("size")], 0.2 * low.dur_s)
    x = (t - 0.55 * low.dur_s) / max(half, 1e-3)
    near = 1.0 / (1.0 + x * x)
    bands = (("bp", 150.0 * scale, 600.0 * scale, 2), ("bp", 500.0 * scale, 1800.0 * scale, 2),
             ("bp", 1200.0 * scale, 3500.0 * scale, 2))
    weights = (np.clip(1.0 - near * 1.5, 0.0, None) + 0.3, near, 0.5 * near ** 3)
    src = white(ctx.rng, n)
    y = np.zeros(n, F32)
    for band, w in zip(bands, weights, strict=True):
        part = filt(src, sr, band)
        part *= upsample(w * near, n, sr)
        y += part
    return stretch(y, r, ctx.n)
