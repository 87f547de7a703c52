"""Living sources: dog barks and crowd walla (source–filter: glottal pulses → vocal-tract formants),
birdsong (FM syllables), crickets (stridulation pulses) and applause (many hand claps)."""

from __future__ import annotations

import math

import numpy as np

from foleydesigner.generation.procedural.dsp import (
    F32,
    Spot,
    ctrl_at,
    ctrl_len,
    filt,
    harmonic_table,
    impulses,
    lookup,
    lowrate,
    place,
    place_spot,
    ramp,
    smooth_noise,
    spot,
    spot_grain,
    stretch,
    white,
)
from foleydesigner.generation.procedural.recorded import grains, transient
from foleydesigner.generation.procedural.registry import Ctx, register

C_AIR = 343.0


def tube_formants(length_m: float, count: int = 4) -> list[float]:
    """Formants of a uniform vocal tract closed at the glottis, open at the lips: (2k−1)·c/(4L)."""
    return [(2 * k - 1) * C_AIR / (4.0 * length_m) for k in range(1, count + 1)]


def voiced(rng: np.random.Generator, sr: int, f0: np.ndarray, jitter: float, breath: float) -> np.ndarray:
    """Glottal source for an f0 contour (one value per sample): an impulse per cycle with period jitter and
    shimmer, plus aspiration noise; −12 dB/oct glottal roll-off is left to the formant filter's slopes."""
    # Phase starts at one full cycle: the first glottal pulse (the call's onset) is on sample 0.
    ph = 1.0 + np.cumsum(f0 * (1.0 + jitter * rng.standard_normal(f0.size) * 0.3)) / sr
    pos = np.flatnonzero(np.diff(np.floor(ph), prepend=0.0) > 0)
    x = impulses(f0.size, pos, rng.lognormal(0.0, 2.0 * jitter, pos.size))
    return x + breath * white(rng, f0.size) * 0.3


#: dog size → (vocal tract length m, bark f0 peak Hz)
DOGS = {"small": (0.09, 750.0), "medium": (0.15, 480.0), "large": (0.21, 320.0)}


def _bouts(ctx: Ctx, t0: float, t1: float) -> list[tuple[float, float]]:
    # Barking comes in bouts: 1–4 barks ≈ 0.35 s apart, then a 1–3 s pause.
    hits, t = [], t0
    while t < t1:
        for i in range(int(ctx.rng.integers(1, 5))):
            hits.append((t, (1.0, 0.85, 0.9, 0.8)[i]))
            t += ctx.rng.uniform(0.28, 0.45)
        t += ctx.rng.uniform(1.0, 3.0)
    return [h for h in hits if h[0] < t1]


@register("dog_bark", description="a dog barking (small, medium or large): harsh voiced bark through formants",
          kind="impulsive", layer="fg", params={"size": "medium"}, centroid=(600, 3000),
          choices={"size": tuple(DOGS)}, pattern=_bouts,
          synonyms=("dog", "bark", "barks", "barking", "woof", "dog barking", "barking dog"))
def dog_bark(ctx: Ctx, v: float) -> np.ndarray:
    sr, rng = ctx.sr, ctx.rng
    tract, f_peak = DOGS[ctx.s("size")]
    dur = rng.uniform(0.12, 0.22)
    n = int(dur * sr)
    u = ramp(n) / n
    # Pitch jumps up at the onset, peaks early and falls: a bark is a short, loud, rising-falling call.
    f0 = f_peak * rng.uniform(0.9, 1.1) * (0.75 + 0.35 * np.sin(np.pi * np.minimum(u * 1.6, 1.0)))
    # Voiced: a bark is a harmonic call (its partials show plainly in a spectrogram), roughened by jitter and
    # some breath, more in a hard bark. A pulse per cycle carries f0/sr of energy per sample, white noise
    # (0.3·breath)², so breath 0.02–0.06 keeps the harmonics ≈ 15–25 dB over the noise.
    src = voiced(rng, sr, f0, 0.02, 0.02 + 0.04 * v)
    fmts = np.array(tube_formants(tract * rng.uniform(0.95, 1.05)))
    y = filt(src, sr, *(("reson", float(f), 5.0) for f in fmts[:3]), ("peak", float(fmts[3]), 3.0, 4.0),
             ("lp", 5000.0, 2))
    # Abrupt onset (≈ 1.5 ms: the glottis is forced open under high subglottal pressure), quick decay.
    env = np.minimum(ramp(n) / (0.0015 * sr), 1.0) * np.exp(-u * 3.0) * (1.0 - u) ** 0.5
    y = y * env
    y[1:] -= 0.7 * y[:-1].copy()  # lip radiation: a first difference, +6 dB/octave
    return (v * y).astype(F32, copy=False)


@register("crowd_murmur", description="walla: many people talking indistinctly in a room or street",
          kind="continuous", layer="bg", diffuse=True, params={"people": 20.0}, centroid=(700, 2500),
          ranges={"people": (3.0, 1000.0)},
          synonyms=("crowd", "walla", "murmur", "chatter", "babble", "people talking", "voices", "crowd noise"))
def crowd_murmur(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    people = ctx.f("people")
    r = lowrate(sr, 3000.0)
    low_sr = sr // r
    m = n // r + 2
    k = ctrl_len(n, sr)
    # Babble of the many: noise with the long-term speech spectrum (peak ≈ 500 Hz, −6…−9 dB/oct above 1 kHz)
    # modulated at syllable rate (≈ 4 Hz); modulation depth shrinks as 1/√N as voices average out.
    # The band is not fixed (a fixed one is what gave synthetic walla away): the room's talk shifts between
    # vowels and consonants, so a darker and a brighter version of the same babble are crossfaded by a slow
    # random control (≈ 0.3 s), and the sibilants' hiss (3–5 kHz) comes and goes with the brighter one.
    # The babble's source: grains of a real room's walla (voices' own micro-structure: pitch, syllables,
    # breaths) where one ships, white noise otherwise; the long-term speech spectrum is then shaped on top.
    real = grains(rng, low_sr, "walla", m, grain_s=0.3, rate_hz=12.0, channels=2)
    source = white(rng, (2, m)) if real is None else real
    dark = filt(source, low_sr, ("hp", 70.0, 2), ("peak", 300.0, 0.7, 8.0), ("lp", 1500.0, 2))
    bright = filt(source, low_sr, ("hp", 200.0, 2), ("peak", 1000.0, 0.8, 6.0), ("lp", 4500.0, 2))
    mix = ctrl_at(1.0 / (1.0 + np.exp(-1.5 * smooth_noise(rng, k, 0.3, (2,)))), m, low_sr, sr)
    babble = dark * (1.0 - mix) + bright * mix
    depth = min(1.0, 2.0 / math.sqrt(people))
    babble *= ctrl_at(np.exp(depth * smooth_noise(rng, k, 0.06, (2,))), m, low_sr, sr)
    # The nearest tables carry most of what is heard of a room's talk: up to 8 talkers at 3× the babble's level
    # (4 at half that measured further from a recorded restaurant, its syllables buried in the wash; 4 at 3×
    # left gaps where the bed dropped 10 dB).
    near = _talkers(rng, low_sr, m, min(8, int(people)))
    near *= F32(3.0 * float(babble[:, ::5].std()) / max(float(near[:, ::5].std()), 1e-9))
    babble += near
    return stretch(babble, r, n)


#: Vowel formants F1–F3 (Hz), adult male averages (Peterson & Barney 1952); women/children ≈ ×1.17.
VOWELS = ((270.0, 2290.0, 3010.0), (530.0, 1840.0, 2480.0), (730.0, 1090.0, 2440.0), (570.0, 840.0, 2410.0),
          (300.0, 870.0, 2240.0), (500.0, 1500.0, 2500.0))


def _talkers(rng: np.random.Generator, fs: int, m: int, count: int) -> np.ndarray:
    """A few nearer talkers as (2, m) at rate fs: voiced syllables (f0 100–230 Hz, random vowel), in phrases
    with turn-taking pauses. All syllables are synthesised together: sources as one 2-D array, one formant
    filter call per (vowel, voice type) group."""
    starts, lens, f0s, gains, groups = [], [], [], [], []
    for _ in range(count):
        female = rng.random() < 0.5
        g = (spot(rng.uniform(-0.8, 0.8), fs), rng.uniform(0.3, 0.7))
        f0 = rng.uniform(170.0, 230.0) if female else rng.uniform(95.0, 140.0)
        t = rng.uniform(0.0, 1.0)
        while t < m / fs:
            dur = rng.uniform(0.12, 0.3)
            starts.append(int(t * fs))
            lens.append(int(dur * fs))
            f0s.append(f0 * rng.uniform(0.9, 1.1))
            gains.append(g)
            groups.append(int(rng.integers(0, len(VOWELS))) * 2 + int(female))
            # Phrases of ~2 s, then the talker listens for a while.
            t += dur + (rng.uniform(1.0, 4.0) if rng.random() < 0.12 else rng.uniform(0.0, 0.08))
    out = np.zeros((2, m), F32)
    if not starts:
        return out
    s_len = np.array(lens)
    width = int(s_len.max())
    u = (ramp(width)[None, :] / s_len[:, None]).astype(F32)
    # Intonation: a gentle rise or fall across each syllable; glottal pulses where the phase wraps.
    tilt = (0.15 * rng.uniform(-1.0, 1.0, (len(lens), 1))).astype(F32)
    f0 = (np.array(f0s, dtype=F32)[:, None] / F32(fs)) * (1.0 + tilt * (0.5 - u))
    cycles = np.floor(np.cumsum(f0, axis=1))
    pulses = np.zeros(u.shape, F32)
    pulses[:, 1:] = cycles[:, 1:] > cycles[:, :-1]
    pulses[u >= 1.0] = 0.0
    src = pulses + F32(0.03) * white(rng, pulses.shape)
    env = np.sin(F32(np.pi) * np.minimum(u, F32(1.0)))
    env *= env
    shaped = np.zeros(src.shape, F32)
    group = np.array(groups)
    for gid in np.unique(group):
        rows = group == gid
        f1, f2, f3 = (f * (1.17 if gid % 2 else 1.0) for f in VOWELS[gid // 2])
        shaped[rows] = filt(src[rows], fs, ("reson", f1, 6.0), ("reson", f2, 8.0), ("peak", f3, 4.0, 6.0),
                            ("lp", 3500.0, 2))
    shaped *= env
    for row, st, (where, g) in zip(shaped, starts, gains, strict=True):
        place_spot(out, row, st, where, g)
    return out


@register("birds", description="songbirds outdoors: chirps, whistles and trills from several birds around",
          kind="continuous", layer="bg", diffuse=True, params={"songs_per_s": 0.8}, centroid=(2500, 6500),
          ranges={"songs_per_s": (0.05, 10.0)}, norm="peak", level_db=-3.0,
          synonyms=("bird", "birdsong", "birds chirping", "chirping", "chirp", "tweet", "songbirds", "dawn chorus"))
def birds(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    y = np.zeros((2, n), F32)
    # Each bird has a place, a distance (level) and a repertoire centre; songs are phrases of syllables
    # (down-sweeps, up-sweeps, whistles, trills) — the syrinx makes near-pure FM tones.
    sides = rng.choice((-1.0, 1.0), 6) * rng.uniform(0.6, 1.0, 6)  # spread wide round the listener
    near = [(spot(float(p), sr, coincident=True), rng.uniform(0.3, 1.0), rng.uniform(2000.0, 4500.0)) for p in sides]
    # Far birds: quieter, more of them, duller (air absorbs their highs), filling the gaps between songs.
    far = [(spot(rng.uniform(-1.0, 1.0), sr, coincident=True), rng.uniform(0.05, 0.15), rng.uniform(1500.0, 3000.0))
           for _ in range(12)]
    # The far chorus sings five times as often as the near birds: real dawn choruses overlap, so no one bird's
    # phrase rhythm sets the scene's envelope. Each bird keeps its own time (a bird does not wait for another to
    # finish): one bird's trill, evenly spaced syllables, is then heard through the others' songs instead of
    # alone, which made 4 s renders' envelopes repeat (median periodicity 0.29, one at 0.65; 4 s windows of
    # recorded choruses: median 0.14).
    for flock, rate in ((near, ctx.f("songs_per_s")), (far, 5.0 * ctx.f("songs_per_s"))):
        for bird in flock:
            each = rate / len(flock)
            t = rng.exponential(1.0 / each)
            while t < n / sr:
                t = _song(y, rng, sr, t, *bird) + rng.exponential(1.0 / each)
    # Outdoor air between the songs (leaves, far traffic, the wind in the mic): a recording never goes silent.
    air = filt(white(rng, (2, n)), sr, ("hp", 60.0, 2), ("lp", 2500.0, 2))
    y += air * F32(_BIRD_AIR_RMS / (float(np.sqrt(np.mean(air * air))) + 1e-12))
    return y


#: ≈ −40 dB under a near bird's song (level ≤ 1): recorded birdsong sits in its place's air, which carries a
#: good part of such a recording's power below 1 kHz (−48 dB left the renders all song and no place).
_BIRD_AIR_RMS = 0.01


#: A nearly pure syrinx tone (weak 2nd harmonic) and a sin² window, as lookup tables.
_SYRINX = harmonic_table([1.0, 0.1])
_HANN2 = (np.sin(np.pi * ramp(1025) / 1024) ** 2).astype(F32)


def _song(y: np.ndarray, rng: np.random.Generator, sr: int, t: float, where: Spot, level: float,
          fc: float) -> float:
    """One phrase of 2–7 syllables of one syllable type into y from time t; returns the time it ends."""
    kind = int(rng.integers(0, 4))
    for _ in range(int(rng.integers(2, 8))):
        dur = rng.uniform(0.04, 0.15)
        m = int(dur * sr)
        u = ramp(m) / m
        if kind == 0:  # down-sweep
            f = fc * (1.4 - 0.7 * u)
        elif kind == 1:  # up-sweep
            f = fc * (0.8 + 0.5 * u)
        elif kind == 2:  # whistle with slight vibrato
            f = fc * (1.0 + 0.02 * np.sin(2.0 * np.pi * 6.0 * u))
        else:  # trill: fast frequency modulation (~30 Hz)
            f = fc * (1.0 + 0.15 * np.sin(2.0 * np.pi * 30.0 * dur * u))
        syl = lookup(_SYRINX, np.cumsum(np.minimum(f, 0.45 * sr)) / sr)  # table reads, not sin() calls
        syl *= _HANN2[(u * (_HANN2.size - 1)).astype(np.int64)]
        place_spot(y, syl, int(t * sr), where, level * rng.uniform(0.6, 1.0))
        # Gaps vary from syllable to syllable (spread over a factor of ≈ 7, not 2: a narrower spread made the
        # syllables of every phrase a metronome at ≈ 0.16 s).
        t += dur + rng.uniform(0.02, 0.1) * rng.lognormal(0.0, 1.0)
    return t


@register("crickets", description="a night field of crickets: chirping chorus over quiet night air",
          kind="continuous", layer="bg", diffuse=True, params={"temperature_c": 22.0, "count": 6.0},
          centroid=(3500, 6500), ranges={"temperature_c": (8.0, 38.0), "count": (1.0, 40.0)},
          synonyms=("cricket", "night ambience", "night sounds", "insects", "cicadas", "chirping crickets"))
def crickets(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    # Dolbear's law: chirps/min ≈ 7·T(°C) − 30 (snowy tree cricket); field crickets sing ≈ 4.5 kHz.
    chirp_hz = max(0.3, (7.0 * ctx.f("temperature_c") - 30.0) / 60.0)
    y = np.zeros((2, n), F32)
    for _ in range(int(ctx.f("count"))):
        where = spot(rng.uniform(-1.0, 1.0), sr)
        level = rng.uniform(0.2, 1.0)
        fc = rng.uniform(4200.0, 5200.0)
        # One syllable = one wing closure: the file sweeps the scraper, a ~15 ms tone burst gliding down.
        m = int(0.015 * sr)
        u = ramp(m) / m
        pulse = spot_grain((np.sin(2.0 * np.pi * np.cumsum(fc * (1.02 - 0.04 * u)) / sr) * np.sin(np.pi * u) ** 2
                            ).astype(F32), where)
        rate = chirp_hz * rng.uniform(0.95, 1.05)  # neighbours entrain: individuals differ by a few %
        count = int(n / sr * rate) + 2
        chirps = rng.uniform(0.0, 1.0 / rate) + np.cumsum(rng.uniform(0.95, 1.05, count) / rate) - 1.0 / rate
        for t, syllables, gains in zip(chirps[chirps < n / sr], rng.integers(3, 5, count),
                                       level * rng.uniform(0.7, 1.0, (count, 4)), strict=False):
            for j in range(syllables):  # 3–4 syllables at ≈ 30 per second
                place(y, pulse, int((t + j / 30.0) * sr), float(gains[j]))
    r = lowrate(sr, 800.0)
    m = n // r + 2
    air = stretch(filt(white(rng, (2, m)), sr // r, ("lp", 400.0, 2), ("hp", 40.0, 1)), r, n)
    return y + (0.02 * air).astype(F32, copy=False)


@register("applause", description="an audience clapping: many independent hand claps, wide",
          kind="continuous", layer="bg", diffuse=True, params={"people": 30.0}, centroid=(1500, 4500),
          ranges={"people": (1.0, 300.0)},
          synonyms=("clapping", "claps", "clap", "audience applause", "cheering", "ovation", "hand clap"))
def applause(ctx: Ctx) -> np.ndarray:
    sr, rng, n = ctx.sr, ctx.rng, ctx.n
    y = np.zeros((2, n), F32)
    people = int(ctx.f("people"))
    for _ in range(min(people, 40)):  # beyond ~40 clappers the texture no longer changes, only the level
        where = spot(rng.uniform(-1.0, 1.0), sr)
        level = rng.uniform(0.3, 1.0)
        # Repp (1987): a clap's spectrum peaks at 1–2.5 kHz depending on hand configuration (air cavity).
        m = int(0.016 * sr)
        # The palms' contact: a real sharp contact's attack where one ships (hand flesh on flesh is a short
        # crack), a decaying noise burst otherwise, through the cupped hands' air cavity.
        hits = [transient(rng, sr, "crack", 0.016) for _ in range(3)]
        sounds = [spot_grain(filt(white(rng, m) * np.exp(-ramp(m) / (0.004 * sr)).astype(F32, copy=False)
                                 if h is None else h, sr, ("reson", rng.uniform(900.0, 2500.0), 3.0),
                                 ("hp", 300.0, 1), ("lp", 6000.0, 2)), where) for h in hits]
        rate = rng.uniform(3.5, 5.0)  # unsynchronised applause ≈ 4 claps/s (Néda et al. 2000)
        count = int(n / sr * rate) + 2
        claps = rng.uniform(0.0, 0.3) + np.cumsum(rng.uniform(0.9, 1.1, count) / rate) - 1.0 / rate
        for t, k, g in zip((claps[claps < n / sr] * sr).astype(np.int64), rng.integers(0, 3, count),
                           level * rng.uniform(0.6, 1.0, count), strict=False):
            place(y, sounds[k], int(t), float(g))
    return y
