"""The `hybrid` generator (the default): recorded sound where the core library has the class, synthesis elsewhere.

Per event the sound class is the procedural generator's (label, then the lexicon). If the core library
(`generation.library.core`: committed CC0 recordings plus the parts `foley library fetch` brought into the cache)
holds that class, the event is cut from those recordings by the library generator's machinery: one take per
onset, round-robin, small pitch and level changes, the attack on the onset; beds looped. Footsteps play the
surface the scene asks for (the event's `surface` parameter, from the screenplay's materials, else the scene's
surfaces, else concrete outdoors and wood indoors). Otherwise the procedural model renders it. Either way the
stem's info says what played (files with their package, licence and attribution, or the model), which the
pipeline writes into script.json and run.json.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.errors import BackendError
from foleydesigner.generation.backends import clip_times, event_rng
from foleydesigner.generation.base import GenerationRequest, GenerationResult
from foleydesigner.generation.library import core
from foleydesigner.generation.library.backend import INTENSITY_RANGE_DB, LibraryGenerator, placed_result
from foleydesigner.generation.library.index import Match

log = logging.getLogger(__name__)

#: a surface without recordings plays the nearest one that has them (by how a step on it sounds)
SURFACE_FALLBACK = {"concrete": ("concrete", "wood", "metal"), "wood": ("wood", "concrete"),
                    "gravel": ("gravel", "grass", "snow"), "grass": ("grass", "gravel"), "snow": ("snow", "gravel"),
                    "metal": ("metal", "concrete")}
#: the names a surface's takes go by, most literal first: a set so named walks that surface (concrete: UFO:AI's
#: paving "stone" steps, clean heel and ball of the foot, before Minetest's gritty generic "hard" ones)
SURFACE_NAMES = {"concrete": ("concrete", "pavement", "asphalt", "stone", "tile", "hard"), "wood": ("wood",),
                 "gravel": ("gravel",), "grass": ("grass",), "snow": ("snow",), "metal": ("metal",)}
_noticed: set[str] = set()
#: A step is one take: the core's footstep takes are whole steps, their spectrograms show the heel and the ball of
#: the foot 60–90 ms apart inside each take (ufoai stone/tile/wood, minetest hard/wood); laying a second take as the
#: toe gave four contacts a step, a gait no walker has.
#: A bed longer than its take loops the take; a take shorter than this repeats audibly (a gust every 3.5 s), so a
#: longer bed is synthesised instead (an ambience editor loops tens of seconds, never a few).
MIN_LOOP_S = 8.0


def one_walker(recordings: list[Any]) -> list[Any]:
    """A walk is one shoe on one floor through one microphone: a surface's steps come from one recording set, never
    two alternating step by step. A set is a package's takes of one name (linked names are
    `<class>/<surface>/<package>__<name><n>.<ext>`: ufoai's stone1–4 and tile1–4 are two floors). The set whose name
    is the most literal for the surface plays (SURFACE_NAMES; grass: the grass takes, not the dirt ones filed with
    them), then the one with the most takes; ties: the first by name."""
    sets: dict[str, list[Any]] = {}
    for r in recordings:
        pkg, _, name = Path(r.path).name.partition("__")
        stem = re.sub(r"[\d._-]+$", "", Path(name).stem)
        sets.setdefault(f"{pkg}__{stem}", []).append(r)
    if not sets:
        return recordings

    def rank(item: tuple[str, list[Any]]) -> tuple[int, int]:
        parts = item[1][0].path.split("/")
        names = SURFACE_NAMES.get(parts[1], (parts[1],)) if len(parts) > 2 else ()
        stem = item[0].split("__", 1)[1].lower()
        literal = next((len(names) - i for i, n in enumerate(names) if n in stem), 0)
        return literal, len(item[1])

    return max(sorted(sets.items()), key=rank)[1]


#: a walker's step interval varies by a few per cent from step to step (Hausdorff et al. 1995: stride-time CV of
#: 2–4 %); visual onsets are picture frames apart, so a 10 fps track's steps wander by ±50 ms (0.4 s then 0.7 s:
#: a limp, or a trot). A step is laid on the walker's local cadence, never further than a frame from its onset.
GAIT_WINDOW = 3  # steps either side of a step that set its local cadence


def steady_gait(onsets: list[float], frame_s: float) -> list[float]:
    """Visual step onsets moved onto the walker's local cadence: each step goes where a straight line through its
    neighbours' onsets (±GAIT_WINDOW steps, least squares over step number) puts it, but at most one frame
    (`frame_s`) from where the picture put it, never before the first. The line is local (seven steps, ~3.5 s), so
    a walk that speeds up or slows down keeps doing so. Fewer than four steps are left as they are."""
    t = np.asarray(sorted(onsets), np.float64)
    if t.size < 4 or frame_s <= 0:
        return t.tolist()
    k = np.arange(t.size, dtype=np.float64)
    out = t.copy()
    for i in range(t.size):
        lo, hi = max(0, i - GAIT_WINDOW), min(t.size, i + GAIT_WINDOW + 1)
        fit = np.polyfit(k[lo:hi] - i, t[lo:hi], 1)
        out[i] = np.clip(fit[-1], t[i] - frame_s, t[i] + frame_s)
    return np.round(np.maximum.accumulate(np.maximum(out, t[0])), 4).tolist()


def scene_surface(request: GenerationRequest) -> str:
    """The walking surface of a footsteps event: its own parameter, the scene's, or by the scene's place."""
    surface = request.event.params.get("surface")
    if isinstance(surface, str) and surface:
        return surface
    if request.scene.surfaces:
        return request.scene.surfaces[0]
    return "wood" if request.scene.location == "indoor" else "concrete"


class HybridGenerator(LibraryGenerator):
    """Core-library recordings first, procedural synthesis otherwise (see the module doc)."""

    name = "hybrid"

    def __init__(self, *, binaural: bool = False, cache: Path | None = None) -> None:
        self.entries = core.by_key(cache)
        self.missing = core.missing_fetched(cache)
        super().__init__(core.linked_root(cache), binaural=binaural)
        self.procedural = self.fallback
        if self.missing and "notice" not in _noticed:  # offline first: one line, once, never a failure
            _noticed.add("notice")
            classes = sorted({e.cls for e in self.missing})
            log.warning("core library: %d recordings (%s) are not fetched; those sounds are synthesised until you run "
                        "`%s`", len(self.missing), ", ".join(classes), core.FETCH_HINT)

    def core_matches(self, cls: str, surface: str | None) -> list[Match]:
        mine = [r for r in self.library.recordings if r.path.split("/", 1)[0] == cls]
        if surface is not None:
            for s in SURFACE_FALLBACK.get(surface, (surface,)) + tuple(SURFACE_FALLBACK):
                on = [r for r in mine if r.path.split("/")[1] == s]
                if on:
                    mine = on
                    break
            mine = one_walker(mine)
        return [Match(r, 1.0) for r in mine]

    def _pattern(self, request: GenerationRequest, cls: str) -> list[tuple[float, float]]:
        """(time, accent) of each hit: the visual onsets (accent 1); without them the class's natural pattern as the
        procedural model lays it (a dropped ball's ever shorter, softer bounces, a walking pace, a single slam),
        accent = the hit's speed over the first's; else the class's rate over the span, else one hit at its start."""
        from foleydesigner.generation.procedural import CLASSES

        start, end, onsets = clip_times(request.event, request.duration_s)
        if onsets and cls == "footsteps":
            fps = float(getattr(request.clues, "fps", 0.0) or 0.0)
            onsets = steady_gait(onsets, 1.0 / fps if fps > 0 else 0.04)
        if onsets:
            return [(t, 1.0) for t in onsets]
        try:
            from foleydesigner.generation.procedural.registry import MODELS, Ctx

            model = MODELS[cls]
            if model.pattern is not None:
                params = {**model.sound.params, **request.event.params}
                ctx = Ctx(request.sample_rate, request.n_samples, request.event.intensity, params,
                          event_rng(request.seed, request.event.id + "/pattern"), 1)
                hits = [(float(t), float(a)) for t, a in model.pattern(ctx, start, end)
                        if 0.0 <= t < request.duration_s]
                if hits:
                    return hits
        except (KeyError, AttributeError, TypeError, ValueError) as e:  # a model without a usable pattern
            log.debug("core library: no natural pattern for %s (%s)", cls, e)
        rate = request.event.params.get("rate_hz", CLASSES[cls].params.get("rate_hz"))
        if isinstance(rate, (int, float)) and rate > 0 and end - start > 1.0 / rate:
            return [(float(t), 1.0) for t in np.arange(start + 0.05, end, 1.0 / float(rate))]
        return [(start, 1.0)]

    def _accented(self, request: GenerationRequest, hits: list[tuple[float, float]], start: float, end: float,
                  matches: list[Match], rng: np.random.Generator, query: str) -> tuple[np.ndarray, int, Any]:
        """The takes laid on the hits, each at its accent's level (20·log10 of its speed ratio; one take per hit,
        round-robin over the matches)."""
        if all(abs(a - 1.0) < 1e-6 for _, a in hits):
            return self._hits(request, [t for t, _ in hits], start, end, matches, rng, query)
        parts, plan = [], None
        for k, (t, accent) in enumerate(hits):
            db = 20.0 * np.log10(max(accent, 0.03))
            ev = request.event.model_copy(
                update={"intensity": max(0.0, request.event.intensity + db / INTENSITY_RANGE_DB)})
            turn = matches[k % len(matches):] + matches[:k % len(matches)]
            src, s0, p = self._hits(replace(request, event=ev), [t], start, end, turn, rng, query)
            parts.append((src, s0))
            if plan is None:
                plan = p
            else:
                plan.choices += p.choices
        a = min(s0 for _, s0 in parts)
        b = max(s0 + src.shape[1] for src, s0 in parts)
        out = np.zeros((max(src.shape[0] for src, _ in parts), b - a), np.float32)
        for src, s0 in parts:
            out[:, s0 - a: s0 - a + src.shape[1]] += src
        return out, a, plan

    @staticmethod
    def _with_air(src: np.ndarray, s0: int, onsets: list[float], end: float, request: GenerationRequest,
                  rng: np.random.Generator) -> np.ndarray:
        """The takes over a quiet room floor from the first hit to the event's end, as the procedural hits have
        (`procedural.realism.add_air`): takes cut from recordings end in digital silence otherwise."""
        from foleydesigner.generation.procedural.realism import add_air

        sr = request.sample_rate
        b = min(request.n_samples, max(s0 + src.shape[1], int(round(end * sr))))
        if b > s0 + src.shape[1]:
            src = np.concatenate([src, np.zeros((src.shape[0], b - s0 - src.shape[1]), np.float32)], axis=1)
        add_air(src, max(0, int(round(min(onsets) * sr)) - s0), src.shape[1], sr, rng)
        return src

    def source(self, request: GenerationRequest) -> tuple[np.ndarray, int, bool, dict[str, Any]] | None:
        from foleydesigner.generation.procedural import CLASSES

        ev = request.event
        try:
            cls = self.procedural.sound_class(ev.label, ev.description)
        except BackendError:
            return None
        surface = scene_surface(request) if cls == "footsteps" else None
        matches = self.core_matches(cls, surface)
        start, end, _ = clip_times(ev, request.duration_s)
        if CLASSES[cls].kind != "impulsive":
            matches = [m for m in matches if m.recording.duration_s >= min(end - start, MIN_LOOP_S)]
        if not matches:
            return None
        rng = event_rng(request.seed, ev.id)
        query = f"core library: {cls}" + (f" on {surface}" if surface else "")
        if CLASSES[cls].kind == "impulsive":
            hits = self._pattern(request, cls)
            onsets = [t for t, _ in hits]
            src, s0, plan = self._accented(request, hits, start, end, matches, rng, query)
            src = self._with_air(src, s0, onsets, end, request, rng)
        else:
            src, s0, plan = self._bed(request, start, end, matches, rng, query)
        placed = request.clues.source != "scene" or plan.mode == "hits" or src.shape[0] == 1
        choices = []
        for c in plan.choices:
            e = self.entries.get(c.file)
            extra = {"package": e.package, "version": e.version, "path": e.path, "licence": e.licence,
                     "attribution": e.attribution} if e else {}
            choices.append({**c.as_dict(), **extra})
        info = {"sound_class": cls, "spatialised": placed,
                "library": {"source": "core", "mode": plan.mode, "surface": surface, "choices": choices}}
        return src, s0, placed, info

    def generate(self, request: GenerationRequest) -> GenerationResult:
        got = self.source(request)
        if got is None:
            result = self.procedural.generate(request)
            cls = result.info.get("sound_class", "")
            info: dict[str, Any] = {**result.info, "library": {"source": "procedural", "model": cls}}
            waiting = sorted({e.package for e in self.missing if e.cls == cls})
            if waiting:
                info["library"]["not_fetched"] = waiting
            return GenerationResult(result.audio, result.sample_rate, info, result.offset, result.n_total)
        return placed_result(request, *got, binaural=self.binaural)


def hybrid_factory(**options: Any) -> HybridGenerator:
    return HybridGenerator(binaural=bool(options.get("binaural", False)))


def library_factory(**options: Any) -> LibraryGenerator:
    root = options.get("library")
    if not root:
        raise BackendError("--generator library needs --library DIR (a folder of WAV/FLAC/OGG/MP3 recordings)")
    gen = LibraryGenerator(str(root), binaural=bool(options.get("binaural", False)))
    gen.second = HybridGenerator(binaural=gen.binaural)  # the core library's recordings second, synthesis third
    return gen
