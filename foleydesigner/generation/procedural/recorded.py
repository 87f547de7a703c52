"""Recorded excitation: real attacks and grains cut from the committed CC0 / public-domain core recordings.

A synthetic hit gives itself away first in its excitation: a noise burst or a half-sine force is smooth, where a
real contact is a cluster of micro-impacts (the knuckle's skin, then bone; the ball's seam, then its face) heard
through a microphone in a room. Commuted synthesis (Smith 1993; Cook, "Real Sound Synthesis", ch. 4 and 8) keeps
the resonator a model and takes the excitation from a recording: here the first milliseconds after an onset in a
real take, convolved with the class's modes. Beds the same way: granular synthesis (Roads, "Microsound") lays
short Hann-windowed grains cut at random from a real recording at a density the class sets, and the class keeps
its own spectral shaping; each grain carries real micro-structure (bubbles, voices, crackle) that filtered
Gaussian noise lacks.

Sources are the COMMITTED files under foleydesigner/data/library, found by their UCS category prefix, so pure
`--generator procedural` works offline with nothing fetched. A role with no file gives None and the class falls
back to its synthetic excitation. Every draw comes from the call's rng: renders stay deterministic per seed.
"""

from __future__ import annotations

import functools
import logging
import math
from importlib import resources
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import oaconvolve, resample_poly

from foleydesigner.generation.procedural.dsp import F32, fade_in, filt
from foleydesigner.generation.procedural.registry import Ctx

log = logging.getLogger(__name__)

#: Role → UCS CatID prefixes of committed recordings (what the role's attacks or grains are cut from).
SOURCES: dict[str, tuple[str, ...]] = {
    "crack": ("WOODBrk",),  # wood splitting: sharp, broadband, multi-contact cracks (public domain, UFO:AI)
    "tick": ("CLOCKTick",),  # a clock's escapement: small, hard, bright contacts (public domain)
    "slam": ("DOORGlas",),  # a door meeting its frame: a heavy, broadband body contact (CC0, Minetest)
    "boom": ("EXPLReal", "FIREWork"),  # blasts: the low, rolling energy of real explosions (CC0)
    "water": ("WATRFall", "WATRFlow"),  # falling and flowing water: bubbles, splashes, spray (CC0)
    "walla": ("AMBCafe",),  # a restaurant's crowd: many voices, no words to pick out (CC0)
    "crackle": ("FIREBurn",),  # a burning fuse: dense broadband crackle (CC0)
    "creak": ("WOODCreak",),  # planks under load: stick-slip creaks (CC0)
}
#: Attacks of these roles are high-passed here (Hz): a clock's tick carries its wooden case's low modes, and
#: what stands in for a small steel contact is the tick itself, not the case.
_ATTACK_HP = {"tick": 1000.0}
_MAX_ATTACKS = 48  # per role: plenty of round-robin, bounded analysis cost
_FRAME_S = 0.005  # onset analysis frame: a transient's rise is a few ms
_RISE_DB = 15.0  # an onset: a frame this much above the quietest of the previous 30 ms…
_FLOOR_DB = 35.0  # …and within this of the file's loudest frame (not a click in the noise floor)
_GAP_S = 0.05  # onsets closer than this are one attack
_GRAIN_FLOOR_DB = 30.0  # grains are cut only where the source is within this of its loudest part


def library_dir() -> Path:
    return Path(str(resources.files("foleydesigner") / "data" / "library"))


def _files(role: str) -> list[Path]:
    root = library_dir()
    if not root.is_dir():
        return []
    return sorted(p for prefix in SOURCES[role] for p in root.glob(f"{prefix}_*") if p.suffix in (".ogg", ".flac", ".wav"))


@functools.lru_cache(maxsize=64)
def sources(role: str, sr: int) -> tuple[np.ndarray, ...]:
    """The role's committed recordings, mono float32 at sr, each peak-normalised (empty when none ship)."""
    out = []
    for path in _files(role):
        try:
            x, fs = sf.read(str(path), dtype="float32", always_2d=True)
        except (OSError, RuntimeError) as exc:  # a damaged file must not break synthesis: fall back
            log.warning("recorded excitation: cannot read %s (%s); skipped", path.name, exc)
            continue
        y = x.mean(axis=1)
        if fs != sr:
            g = math.gcd(int(fs), int(sr))
            y = resample_poly(y, sr // g, int(fs) // g).astype(F32)
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak > 0.0:
            out.append((y / peak).astype(F32))
    return tuple(out)


def _frame_db(y: np.ndarray, hop: int) -> np.ndarray:
    k = y.size // hop
    return 10.0 * np.log10(np.mean(np.square(y[: k * hop].reshape(k, hop), dtype=np.float64), axis=1) + 1e-20)


@functools.lru_cache(maxsize=64)
def attacks(role: str, sr: int, length_s: float) -> tuple[np.ndarray, ...]:
    """The role's real attacks: from 1 ms before each onset, length_s long, faded out over the last 40 %,
    peak 1. Onsets are frames that rise _RISE_DB over the previous 30 ms within _FLOOR_DB of the loudest."""
    hop = max(1, int(_FRAME_S * sr))
    m, pre = int(length_s * sr), int(0.001 * sr)
    fade = fade_in(max(1, int(0.4 * m)))[::-1]
    cuts: list[np.ndarray] = []
    for y in sources(role, sr):
        if role in _ATTACK_HP:  # the whole take, so no cut starts with a filter's step response
            y = filt(y, sr, ("hp", _ATTACK_HP[role], 2)).astype(F32)
        db = _frame_db(y, hop)
        if db.size < 8:
            continue
        last = -10**9
        for i in range(6, db.size):
            if db[i] - db[i - 6:i].min() >= _RISE_DB and db[i] >= db.max() - _FLOOR_DB and i - last > _GAP_S / _FRAME_S:
                last = i
                # To the sample: after the quietest of the previous frames, the first sample reaching a fifth of
                # the local peak, so every cut has the same 1 ms of pre-roll ahead of its real onset.
                lo = (i - 5 + int(np.argmin(db[i - 6:i]))) * hop
                env = np.abs(y[lo:(i + 2) * hop])
                start = lo + int(np.argmax(env >= 0.2 * float(env.max())))
                a = max(0, start - pre)
                cut = y[a:a + m].copy()
                if cut.size < m:
                    continue
                cut[m - fade.size:] *= fade
                peak = float(np.max(np.abs(cut)))
                if peak > 0.0:
                    cuts.append((cut / peak).astype(F32))
    if len(cuts) > _MAX_ATTACKS:  # spread the kept ones over all files rather than the first file's
        cuts = [cuts[int(j)] for j in np.linspace(0, len(cuts) - 1, _MAX_ATTACKS)]
    return tuple(cuts)


def transient(rng: np.random.Generator, sr: int, role: str, length_s: float = 0.015) -> np.ndarray | None:
    """One real attack of the role (drawn by the call's rng: round-robin variation), or None when none ships."""
    cuts = attacks(role, sr, length_s)
    if not cuts:
        return None
    return cuts[int(rng.integers(len(cuts)))]


def struck(ctx: Ctx, ir: np.ndarray, role: str, direct: float, length_s: float = 0.012) -> np.ndarray | None:
    """`excite` with one of the role's attacks, or None (the caller's synthetic contact then) when none ships."""
    attack = transient(ctx.rng, ctx.sr, role, length_s)
    return None if attack is None else excite(ir, attack, direct)


def excite(ir: np.ndarray, attack: np.ndarray | None, direct: float = 0.0) -> np.ndarray:
    """A resonator's impulse response driven by a real attack (commuted synthesis), same length and peak as ir;
    `direct` adds the attack itself (the contact heard directly) at that fraction of the peak."""
    if attack is None:
        return ir
    peak = float(np.max(np.abs(ir))) if ir.size else 0.0
    y = oaconvolve(ir, attack, axes=-1)[..., : ir.shape[-1]]
    got = float(np.max(np.abs(y))) if y.size else 0.0
    y = y * (peak / got) if got > 0.0 else y
    if direct > 0.0:
        k = min(attack.size, y.shape[-1])
        y[..., :k] += direct * peak * attack[:k]
    return y.astype(F32, copy=False)


def grains(rng: np.random.Generator, sr: int, role: str, n: int, *, grain_s: float, rate_hz: float,
           spread_db: float = 3.0, channels: int = 1) -> np.ndarray | None:
    """n samples of granular texture from the role's recordings, (channels, n), or None when none ship.

    Grains are grain_s long, Hann-windowed, cut where the source is within _GRAIN_FLOOR_DB of its loudest part,
    one started at a random point of each 1/rate_hz slot per channel (density = rate·length; ≥ 2 sounds continuous), each
    with a level spread of spread_db (std). The result's RMS is 1 (per channel, where there is any sound)."""
    srcs = sources(role, sr)
    g = max(8, int(grain_s * sr))
    usable = [(y, _loud_starts(y, g, sr)) for y in srcs if y.size > g]
    usable = [(y, s) for y, s in usable if s.size]
    if not usable or n <= 0:
        return None
    win = np.hanning(g).astype(F32)
    out = np.zeros((channels, n + g), F32)
    for c in range(channels):
        # One grain in each 1/rate slot, at a random point of it: random like a Poisson stream, but without its
        # long gaps (a dip of a bed to near silence where, by chance, no grain falls).
        count = max(1, int(math.ceil(rate_hz * (n + g) / sr)))
        starts = ((np.arange(count) + rng.random(count)) * (sr / rate_hz)).astype(np.int64) - g
        which = rng.integers(0, len(usable), count)
        levels = 10.0 ** (rng.normal(0.0, spread_db, count) / 20.0)
        for t, w, lv in zip(starts, which, levels, strict=True):
            y, loud = usable[int(w)]
            p = int(loud[int(rng.integers(loud.size))])
            a = max(0, int(t))
            seg = y[p + a - int(t):p + min(g, n + g - int(t))]
            if seg.size > 0:
                out[c, a:a + seg.size] += F32(lv) * seg * win[a - int(t):a - int(t) + seg.size]
    out = out[:, :n]
    rms = np.sqrt(np.mean(np.square(out, dtype=np.float64), axis=1, keepdims=True))
    return (out / np.maximum(rms, 1e-9)).astype(F32, copy=False)


def _loud_starts(y: np.ndarray, g: int, sr: int) -> np.ndarray:
    """Grain start samples whose frame is within _GRAIN_FLOOR_DB of the source's loudest frame."""
    hop = max(1, int(0.01 * sr))
    db = _frame_db(y, hop)
    ok = np.flatnonzero(db >= db.max() - _GRAIN_FLOOR_DB) * hop
    return ok[ok <= y.size - g]
