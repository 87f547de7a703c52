"""The `library` generator: each event's sound cut from the user's own recordings, then placed by the renderer.

Per event the library is searched with the event's label and description (widened by the lexicon). Hits: one
per visual onset, each a take cut from a one-shot at one of its onsets (a file of five footsteps gives five
takes), taken round-robin over the best files so no take plays twice in a row, each with a small random pitch
(±~0.5 semitone) and level (±~1.5 dB) change, as a Foley editor varies a repeated sound. The attack of each take
lands on its onset's sample. Beds: a texture looped over the event's span with the procedural library's
power-preserving joins (`procedural.lay_texture`). Sources are then placed along the clues exactly as the
procedural generator's are. An event nothing matches is rendered by the procedural generator, with a warning.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from foleydesigner.errors import BackendError
from foleydesigner.generation.backends import (
    PRE_ROLL_S,
    ProceduralGenerator,
    clip_times,
    event_rng,
    place_source,
)
from foleydesigner.generation.base import GenerationRequest, GenerationResult
from foleydesigner.generation.library.analysis import read_audio
from foleydesigner.generation.library.index import Match, SoundLibrary, tokens
from foleydesigner.lexicon import find_sounds, lookup
from foleydesigner.schemas import SoundEvent
from foleydesigner.units import SPEED_OF_SOUND

log = logging.getLogger(__name__)

ATTACK_PRE_S = 0.005  # a take starts this long before its onset: the attack's first rise stays whole
TAKE_MAX_S = 3.0  # a take rings at most this long (the procedural hits' 2.5 s ring, and a little more)
TAKE_MIN_S = 0.04  # shorter slices between two onsets are one hit's transients, not takes
TAKE_FADE_S = 0.02  # a take cut before the next hit of its file fades out over this
#: An onset inside a file is a new hit only where the sound before it has died down this far under its own peak;
#: otherwise it is that sound going on (an explosion's debris, thunder's roll, a door's latch after its swing),
#: and cutting there left a 0.2 s fragment of a 2 s blast: a gunshot, not an explosion.
TAKE_DECAYED_DB = -20.0
PITCH_SD_CENTS = 25.0  # per-hit pitch change: σ 25 cents, clipped to ±60 (a tuned-down take still reads the same)
LEVEL_SD_DB = 1.0  # per-hit level change: σ 1 dB, clipped to ±2.5
HIT_LEVEL_DB = -1.0  # a file's loudest hit peaks here at intensity 1 (as procedural hits do)
BED_LEVEL_DB = -20.0  # a bed's RMS at intensity 1 (as procedural beds)
INTENSITY_RANGE_DB = 30.0  # intensity 0 is this much below intensity 1 (as procedural)
BED_FADE_S = 1.0  # beds fade in and out over this (an ambience cut in over 20 ms sounds like an edit)
SOURCE_FADE_S = 0.03  # a continuous source on screen fades over this (as procedural foreground sounds)
BED_MIN_S = 0.1  # a texture shorter than this cannot be looped into a bed
TOP_FILES = 6  # takes are drawn from this many of the best-matching files…
TOP_RATIO = 0.6  # …that score at least this fraction of the best
_TAIL_MARGIN_S = 0.05
_SR = 48_000


@dataclass
class Choice:
    """What was chosen for one hit or bed: the file, where in it, its search score, and the variation applied."""

    file: str
    offset_s: float
    score: float
    at_s: float  # clip time the take's onset (a hit) or the bed's start lands on
    length_s: float
    pitch_cents: float = 0.0
    gain_db: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


@dataclass
class Plan:
    query: str
    mode: str  # "hits" | "bed"
    choices: list[Choice] = field(default_factory=list)


def event_query(event: SoundEvent) -> tuple[str, set[str]]:
    """The search text of an event and its core words. The text: the label twice (it names the sound), the
    description, and the words of the lexicon entries they name (the sound's synonyms and procedural class). The
    core words (the label's and the lexicon's) are what a match must share: a description word alone ('left',
    'concrete') does not make a file the sound."""
    label = event.label.replace("_", " ")
    found = [e for e in (lookup(event.label),) if e] + [e for _, _, e in find_sounds(f"{label} {event.description}")]
    entries = list({e.name: e for e in found}.values())  # each named sound once, in order of mention
    lexicon = [w for e in entries[:3] for w in (e.name.replace("_", " "), e.generator.replace("_", " "), *e.words[:8])]
    text = " ".join(w for w in (label, label, event.description, *lexicon) if w)
    return text, set(tokens(" ".join([label, *lexicon])))


@lru_cache(maxsize=64)
def _load(path: str, sr: int) -> np.ndarray:
    """A recording at the generator's rate, float32 (channels, n) (cached: takes of one file share it)."""
    audio, file_sr = read_audio(path)
    if file_sr != sr:
        frac = Fraction(sr, file_sr).limit_denominator(1000)
        audio = resample_poly(audio, frac.numerator, frac.denominator, axis=1).astype(np.float32)
    return audio


@lru_cache(maxsize=256)
def _new_hits(path: str, onsets: tuple[float, ...], sr: int = 16_000) -> list[float]:
    """The onsets of a file that start a new hit: the first, then each where the 20 ms before it lie
    TAKE_DECAYED_DB under the loudest moment of the hit that is ringing and whose own first 100 ms reach within
    TAKE_DECAYED_DB of the file's loudest (a crumble deep in a blast's tail is not a hit of its own; 10 ms RMS
    frames)."""
    if len(onsets) < 2:
        return list(onsets)
    audio = _load(path, sr)  # at the rate its takes are cut at: the same cached read
    mono = audio.mean(axis=0)
    hop = sr // 100
    n = mono.size // hop
    if n == 0:
        return list(onsets)
    db = 10.0 * np.log10(np.mean(mono[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    keep, top = [onsets[0]], float(db.max())
    for o in onsets[1:]:
        a, b = int(keep[-1] * 100), int(o * 100)
        if b - 2 <= a or b >= n:
            continue
        if db[b - 2:b].max() <= db[a:b].max() + TAKE_DECAYED_DB and db[b:b + 10].max() >= top + TAKE_DECAYED_DB:
            keep.append(o)
    return keep


def _repitch(x: np.ndarray, cents: float) -> np.ndarray:
    """Played faster by 2^(cents/1200): higher and shorter, as a varispeed (tape-style) pitch change."""
    if abs(cents) < 1.0:
        return x
    frac = Fraction(2.0 ** (-cents / 1200.0)).limit_denominator(400)
    return resample_poly(x, frac.numerator, frac.denominator, axis=1).astype(np.float32)


class LibraryGenerator:
    """Cut and place the user's recordings (see the module doc)."""

    name = "library"

    def __init__(self, library: str | Path, *, binaural: bool = False, min_score: float = 0.0) -> None:
        self.library = SoundLibrary(library)
        if not self.library.recordings:
            raise BackendError(f"--library {library} holds no readable WAV/FLAC/OGG/MP3 recordings")
        self.binaural = binaural
        self.min_score = min_score
        self.fallback = ProceduralGenerator(binaural=binaural)
        #: what renders an event the library has nothing for: the procedural generator, or (`--generator library`
        #: from the command line) the hybrid one, so the core library's recordings come second and synthesis third
        self.second: Any = None

    def _impulsive(self, event: SoundEvent, onsets: list[float]) -> bool:
        if onsets:
            return True
        from foleydesigner.generation.procedural import CLASSES

        try:
            cls = self.fallback.sound_class(event.label, event.description)
        except BackendError:
            return False
        return CLASSES[cls].kind == "impulsive"

    def search(self, event: SoundEvent, kind: str | None) -> tuple[str, list[Match]]:
        query, core = event_query(event)
        found = [m for m in self.library.search(query, k=TOP_FILES * 4, kind=kind)
                 if m.score > self.min_score and core & set(tokens(m.recording.text))]
        if not found:
            return query, []
        return query, [m for m in found if m.score >= TOP_RATIO * found[0].score][:TOP_FILES]

    # ---- hits -----------------------------------------------------------------------------------------------

    def _takes(self, matches: list[Match], sr: int | None = None) -> list[tuple[Match, float, float]]:
        """(match, onset s, end s) of every take of the files: onset to the next onset where the sound has died
        down (TAKE_DECAYED_DB; read at `sr`) or the file's end; an onset inside a still-ringing sound is that
        sound's. Without `sr`, every onset (whether a file has a take at all: no file is read)."""
        takes = []
        for m in matches:
            rec = m.recording
            onsets = (list(rec.onsets_s) if sr is None or len(rec.onsets_s) < 2
                      else _new_hits(str(self.library.file(m.recording)), tuple(rec.onsets_s), sr)) or [0.0]
            for i, o in enumerate(onsets):
                end = min(onsets[i + 1] if i + 1 < len(onsets) else rec.duration_s, o + TAKE_MAX_S)
                if end - o >= TAKE_MIN_S:
                    takes.append((m, o, end))
        return takes

    def _hits(self, request: GenerationRequest, onsets: list[float], start: float, end: float,
              matches: list[Match], rng: np.random.Generator, query: str) -> tuple[np.ndarray, int, Plan]:
        sr = request.sample_rate
        takes = self._takes(matches, sr)
        whole = not onsets  # no visual onsets: the best file's first take plays from the event's start
        times = onsets or [start]
        order: list[int] = []
        while len(order) < len(times):  # round-robin: every take once per pass, a new order each pass
            perm = [int(i) for i in rng.permutation(len(takes))]
            if not order:  # the first hit is a take of the best-matching file (a lone slam is the best slam)
                best = next((j for j, i in enumerate(perm) if takes[i][0] is matches[0]), 0)
                perm[0], perm[best] = perm[best], perm[0]
            elif len(perm) > 1 and perm[0] == order[-1]:
                perm[0], perm[-1] = perm[-1], perm[0]
            order += perm
        plan = Plan(query, "hits")
        pieces = []
        for t, k in zip(times, order, strict=False):
            m, o, e = takes[0 if whole else k]
            if whole:
                e = min(m.recording.duration_s, o + max(end - start, TAKE_MAX_S))
            audio = _load(str(self.library.file(m.recording)), sr)
            a = max(0, int(round((o - ATTACK_PRE_S) * sr)))
            b = min(audio.shape[1], int(round(e * sr)))
            piece = audio[:, a:b].copy()
            fade = min(int(TAKE_FADE_S * sr), piece.shape[1] // 2)
            if b < audio.shape[1] and fade > 0:
                piece[:, -fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
            cents = 0.0 if whole else float(np.clip(rng.normal(0.0, PITCH_SD_CENTS), -60.0, 60.0))
            gain_db = 0.0 if whole else float(np.clip(rng.normal(0.0, LEVEL_SD_DB), -2.5, 2.5))
            piece = _repitch(piece, cents)
            peak = 10.0 ** (m.recording.peak_db / 20.0)
            gain = 10.0 ** ((HIT_LEVEL_DB - INTENSITY_RANGE_DB * (1.0 - request.event.intensity) + gain_db) / 20.0)
            lead = int(round((o * sr - a) * 2.0 ** (-cents / 1200.0)))  # samples from the take's start to its onset
            pieces.append((int(round(t * sr)) - lead, piece * np.float32(gain / max(peak, 1e-9))))
            plan.choices.append(Choice(m.recording.path, o, m.score, t, piece.shape[1] / sr, cents, gain_db))
        s0 = max(0, math.floor((min(times) - PRE_ROLL_S) * sr))
        last = max(p + x.shape[1] for p, x in pieces)
        s1 = min(request.n_samples, last + math.ceil((max(request.clues.depth_m) / SPEED_OF_SOUND + _TAIL_MARGIN_S) * sr))
        channels = max(x.shape[0] for _, x in pieces)
        src = np.zeros((channels, s1 - s0), np.float32)
        for pos, x in pieces:
            lo = max(pos, s0)
            hi = min(pos + x.shape[1], s1)
            if hi > lo:
                src[:, lo - s0:hi - s0] += x[:, lo - pos:hi - pos]  # a mono take broadcasts to both channels
        return src, s0, plan

    # ---- beds -----------------------------------------------------------------------------------------------

    def _bed(self, request: GenerationRequest, start: float, end: float, matches: list[Match],
             rng: np.random.Generator, query: str) -> tuple[np.ndarray, int, Plan]:
        from foleydesigner.generation.procedural import LOOP_XFADE_S, lay_texture

        sr = request.sample_rate
        m = matches[int(rng.integers(min(2, len(matches))))]  # one of the two best: a second run may differ
        tex = _load(str(self.library.file(m.recording)), sr)
        s0 = max(0, int(round(start * sr)))
        e = min(request.n_samples, int(round(end * sr)))
        n = max(1, e - s0)
        offset = 0
        if tex.shape[1] >= n:
            offset = int(rng.integers(tex.shape[1] - n + 1))
            span = tex[:, offset:offset + n].copy()
        else:
            # Joins as long as LOOP_XFADE_S where the texture allows, never more than a quarter of it.
            x = max(1, min(int(LOOP_XFADE_S * sr), tex.shape[1] // 4))
            d = min(int(0.025 * sr), tex.shape[1] // 8)
            span = np.zeros((tex.shape[0], n), np.float32)
            lay_texture(span, tex, tex.shape[1] - d - x, xfade=x, search=d)
        rms = 10.0 ** (m.recording.rms_db / 20.0)
        gain = 10.0 ** ((BED_LEVEL_DB - INTENSITY_RANGE_DB * (1.0 - request.event.intensity)) / 20.0) / max(rms, 1e-9)
        span *= np.float32(gain)
        # An ambience fades slowly; a source on screen (a car on its track) starts and stops with its event.
        f = max(1, min(int((BED_FADE_S if request.clues.source == "scene" else SOURCE_FADE_S) * sr), n // 3))
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(f) + 0.5) / f)).astype(np.float32)
        span[:, :f] *= ramp
        span[:, n - f:] *= ramp[::-1]
        s1 = min(request.n_samples, e + math.ceil((max(request.clues.depth_m) / SPEED_OF_SOUND + _TAIL_MARGIN_S) * sr))
        src = np.zeros((span.shape[0], s1 - s0), np.float32)
        src[:, :n] = span[:, : s1 - s0]
        plan = Plan(query, "bed", [Choice(m.recording.path, offset / sr, m.score, start, n / sr)])
        return src, s0, plan

    # ---- the protocol ---------------------------------------------------------------------------------------

    def source(self, request: GenerationRequest) -> tuple[np.ndarray, int, bool, dict[str, Any]] | None:
        """The dry source of a stem: (audio (channels, m), its clip offset, whether it is placed, info); None
        when the library has nothing for the event."""
        ev, dur = request.event, request.duration_s
        start, end, onsets = clip_times(ev, dur)
        rng = event_rng(request.seed, ev.id)
        impulsive = self._impulsive(ev, onsets)
        query, matches = self.search(ev, "oneshot" if impulsive else None)
        # A file too short to give a take (an empty or 1 ms WAV) is no match: the event falls back, with a warning.
        with_takes = {id(m) for m, _, _ in self._takes(matches)} if impulsive else set()
        matches = [m for m in matches if (id(m) in with_takes if impulsive else m.recording.duration_s >= BED_MIN_S)]
        if not matches:
            return None
        if impulsive:
            src, s0, plan = self._hits(request, onsets, start, end, matches, rng, query)
        else:
            src, s0, plan = self._bed(request, start, end, matches, rng, query)
        # A stereo bed of the scene is laid as recorded; everything else is a point source on its clues.
        placed = request.clues.source != "scene" or plan.mode == "hits" or src.shape[0] == 1
        info = {"sound_class": "library", "spatialised": placed,
                "library": {"root": str(self.library.root), "query": query, "mode": plan.mode,
                            "choices": [c.as_dict() for c in plan.choices]}}
        return src, s0, placed, info

    def generate(self, request: GenerationRequest) -> GenerationResult:
        got = self.source(request)
        if got is None:
            ev = request.event
            result = (self.second or self.fallback).generate(request)
            played = (result.info.get("library") or {}).get("source", "procedural")
            msg = (f"library {self.library.root}: nothing matches '{ev.label}' ({ev.id}); rendered by the "
                   + ("core library" if played == "core" else "procedural generator"))
            log.warning(msg)
            info = {**result.info, "library": {**(result.info.get("library") or {}), "root": str(self.library.root),
                                               "query": event_query(ev)[0], "fallback": played},
                    "warnings": [msg]}
            return GenerationResult(result.audio, result.sample_rate, info, result.offset, result.n_total)
        return placed_result(request, *got, binaural=self.binaural)


def placed_result(request: GenerationRequest, src: np.ndarray, s0: int, placed: bool, info: dict[str, Any], *,
                  binaural: bool = False) -> GenerationResult:
    """A recording's source signal as the stem: moved along the event's clues by the spatial renderer when it is
    placed, else played as recorded (a stereo bed, or a mono one on both sides)."""
    sr = request.sample_rate
    if placed:
        audio = place_source(src, request.clues, s0 / sr, sr, binaural=binaural)
    else:
        audio = src if src.shape[0] == 2 else np.repeat(src[:1], 2, axis=0)
    return GenerationResult(np.ascontiguousarray(audio, dtype=np.float32), sr, info, s0, request.n_samples)
