"""Grounding enforced: what the checks reject never reaches a stem.

agents/grounding.py names what a script contradicts (and asks its model once more); this module acts on what is
still wrong, whoever wrote it (the writer model, the Tree-of-Thought's expander, a person editing the script in
review or in Studio):
  scene        the screenplay's heading (INT./EXT., DAY/NIGHT) replaces the place and time the model gave;
  sound class  a label outside the lexicon becomes the nearest class when the match is close, else it is dropped;
  time         an event is clamped to the clip only when it overlaps it; wholly outside, it is dropped;
  contradicted an event the heading or the action lines rule out moves to `candidates` (recorded, never rendered);
  support      an event neither the picture nor the screenplay asks for keeps a low confidence, so the run's
               --min-confidence holds it back in `candidates`;
  cues         a sound the screenplay names (A CLOCK TICKS) that no event plays is added as the writer would.
Every change is one short warning line for run.json: which event, what it contradicted, what was kept.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from foleydesigner.agents.grounding import Ground
from foleydesigner.agents.script_writer import cue_event, family, track_event
from foleydesigner.agents.tot_rules import is_supported
from foleydesigner.lexicon import BY_NAME, ENTRIES, find_sounds, lookup
from foleydesigner.models import HEURISTIC
from foleydesigner.schemas import FoleyScript, SoundEvent, Track, VideoInfo

#: Confidence of an event that neither picture nor screenplay supports: below any sensible --min-confidence (0.55 by
#: default), above zero so a user who lowers the bar to 0.2 or less on purpose hears them.
UNSUPPORTED_CONFIDENCE = 0.2
#: An event must overlap the clip by this much to be clamped into it (one frame at 20 fps): less is no overlap.
MIN_OVERLAP_S = 0.05
#: How close a misspelt class name must be to a lexicon class to be read as it (difflib ratio).
CLOSE_MATCH = 0.85
_NAMES = sorted(e.name for e in ENTRIES)
#: Lines per kind of change (one reason, one action) before the rest are counted in one line: a model that writes
#: 300 unsupported knocks gets three warnings and a count, not 300 lines on the console and in run.json.
LINES_PER_REASON = 3


class _Changes:
    """The warning lines of one enforce pass, each kind of change (what was done, and why) said in full at most
    LINES_PER_REASON times; past that, one line counts the rest of that kind, in the place of the first it left out."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.out: list[str | tuple[str, str]] = []  # a line, or the place of a kind's count
        self.seen: dict[tuple[str, str], int] = {}

    def add(self, line: str, kind: tuple[str, str] | None = None) -> None:
        if kind is not None:
            n = self.seen[kind] = self.seen.get(kind, 0) + 1
            if n == LINES_PER_REASON + 1:
                self.out.append(kind)
            if n > LINES_PER_REASON:
                return
        self.out.append(f"{self.node}: {line}")

    def lines(self) -> list[str]:
        return [w if isinstance(w, str) else
                f"{self.node}: {w[0]} {self.seen[w] - LINES_PER_REASON} more events the same way ({w[1]})"
                for w in self.out]


def nearest_class(label: str) -> str | None:
    """The lexicon class a label stands for: itself, a phrase of the lexicon ('heavy_rain'), a close spelling
    ('rain_heavvy'), or the first lexicon sound its words name ('crickets_chirping'); None when nothing is close."""
    if label in BY_NAME:
        return label
    phrase = label.replace("_", " ").replace("-", " ").strip()
    if not phrase:
        return None
    if (entry := lookup(phrase)) is not None:
        return entry.name
    close = difflib.get_close_matches(label.lower().replace(" ", "_"), _NAMES, n=1, cutoff=CLOSE_MATCH)
    if close:
        return close[0]
    found = find_sounds(phrase.lower())
    return found[0][2].name if found else None


def _clip(e: SoundEvent, duration: float) -> SoundEvent | None:
    """The event inside the clip, or None when it does not overlap it."""
    start, end = max(e.start_s, 0.0), min(e.end_s, duration)
    if end - start < MIN_OVERLAP_S and not (e.end_s == e.start_s and 0.0 <= e.start_s < duration):
        return None
    if (start, end) == (e.start_s, e.end_s):
        return e
    onsets = [o for o in e.onsets_s if start - 1e-3 <= o <= end + 1e-3]
    return e.model_copy(update={"start_s": round(start, 3), "end_s": round(end, 3), "onsets_s": onsets})


def not_finite(e: SoundEvent) -> list[str]:
    """The fields of an event that hold NaN or infinity (the schema lets them through; a renderer cannot place a
    sound at azimuth NaN)."""
    def bad(v: Any) -> bool:
        return isinstance(v, float) and not math.isfinite(v)
    return [k for k in ("azimuth_deg", "depth_m") if bad(getattr(e, k))] + [
        f"params.{k}" for k, v in e.params.items() if bad(v)]


def playable_params(e: SoundEvent) -> tuple[dict[str, Any], list[str]] | None:
    """The event's generator parameters its sound class can play (a choice it knows, a number clipped to its range),
    and which were changed; None when nothing was. The procedural generator refuses the others ('vehicle:
    spaceship'), which ended the run with a traceback."""
    from foleydesigner.generation.procedural import param_options

    entry = BY_NAME.get(e.label)
    try:
        options = param_options(entry.sound_class) if entry is not None else {}
    except ValueError:
        return None
    params, changed = dict(e.params), []
    for key, value in e.params.items():
        allowed = options.get(key)
        if allowed is None:
            continue  # a key this class does not take: the generator leaves it out
        if allowed and isinstance(allowed[0], str):
            if str(value) not in allowed:
                params.pop(key)
                changed.append(f"{key}={value!r}")
            continue
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            params.pop(key)
            changed.append(f"{key}={value!r}")
        elif not allowed[0] <= number <= allowed[1]:
            params[key] = min(max(number, float(allowed[0])), float(allowed[1]))
            changed.append(f"{key}={value!r}")
    return (params, changed) if changed else None


def _held(e: SoundEvent, why: str, confidence: float = 0.0) -> SoundEvent:
    return e.model_copy(update={"confidence": min(e.confidence, confidence), "evidence": [*e.evidence, f"held back: {why}"]})


def _on_track(cue: Any, ev: Any, voiced: set[int | None]) -> SoundEvent | None:
    """The screenplay's sound as the tracked mover that makes it, where one does and has no event yet ('A car
    drives past' with the car on screen): placed and panned by its track, not guessed off-screen."""
    for track in ev.sounding_tracks():
        if track.id not in voiced and (e := track_event(track, ev.scene)) is not None \
                and family(e.label) == family(cue.entry.name):
            return e.model_copy(update={"origin": "both", "description": cue.sentence})
    return None


def enforce(script: FoleyScript, ground: Ground, *, node: str = "grounding",
            add_cues: bool = True) -> tuple[FoleyScript, list[str]]:
    """The script with every rejected event removed or held in `candidates`, and (add_cues) every screenplay sound
    no event plays added; one warning line per change. The writer's script is enforced without adding cues: the
    search may still tie a cue to the track that makes it, where an added off-screen copy would double it."""
    ev, h = ground.evidence, ground.heading
    duration = ev.duration
    log = _Changes(node)
    scene = h.over(script.scene)
    if (scene.location, scene.time_of_day) != (script.scene.location, script.scene.time_of_day):
        log.add(f"scene {script.scene.location}/{script.scene.time_of_day} replaced by "
                        f"{scene.location}/{scene.time_of_day} from {h.text or 'the screenplay'}")
    kept: list[SoundEvent] = []
    held = list(script.candidates)
    tracks = {t.id: t for t in ev.tracks}
    for e in script.events:  # ids are unique: the schema refuses a script that repeats one
        label = nearest_class(e.label)
        if label is None:
            log.add(f"dropped {e.id}: '{e.label}' is no sound class and none is close",
                    ("dropped", "no sound class is close"))
            continue
        if label != e.label:
            log.add(f"{e.id}: unknown class '{e.label}' played as {label}", (f"played as {label}", f"unknown classes close to {label}"))
            e = e.model_copy(update={"label": label, "params": {**BY_NAME[label].params, **e.params}})
        inside = _clip(e, duration)
        if inside is None:
            log.add(f"dropped {e.id} ({e.label}): {e.start_s:g}-{e.end_s:g} s is outside the {duration:.2f} s clip",
                    ("dropped", f"outside the {duration:.2f} s clip"))
            continue
        e = inside
        if bad := not_finite(e):
            log.add(f"{e.id}: {', '.join(bad)} not a finite number; left out", ("left out numbers of", "not finite"))
            e = e.model_copy(update={k: None for k in bad if k in ("azimuth_deg", "depth_m")}
                             | {"params": {k: v for k, v in e.params.items() if f"params.{k}" not in bad}})
        if fixed := playable_params(e):
            params, changed = fixed
            log.add(f"{e.id}: params {', '.join(changed)} cannot be played; left out or clipped",
                    ("left out params of", "cannot be played"))
            e = e.model_copy(update={"params": params})
        if (onsets := [o for o in e.onsets_s if e.start_s - 1e-3 <= o <= e.end_s + 1e-3]) != e.onsets_s:
            log.add(f"{e.id}: left out {len(e.onsets_s) - len(onsets)} onsets outside its {e.start_s:g}-{e.end_s:g} s",
                    ("left out onsets of", "outside their event's span"))
            e = e.model_copy(update={"onsets_s": onsets})  # a hit outside its event would play outside its stem
        track = tracks.get(e.source_track) if e.source_track is not None else None
        if track is not None and min(e.end_s, track.end_s) - max(e.start_s, track.start_s) < MIN_OVERLAP_S and not any(
                track.start_s <= o <= track.end_s for o in e.onsets_s):
            why = f"tied to track {track.id}, on screen {track.start_s:.2f}-{track.end_s:.2f} s, not at {e.start_s:g} s"
            log.add(f"held back {e.id} ({e.label}): {why}", ("held back", f"tied to track {track.id} where it is not on screen"))
            held.append(_held(e, why))
            continue
        if problems := ground.event_violations(e):
            why = problems[0].split(": ", 1)[-1]
            log.add(f"held back {e.id}: {why}", ("held back", why))
            held.append(_held(e, why))
            continue
        if not is_supported(e, ev):
            e = _held(e, "no picture or screenplay support", UNSUPPORTED_CONFIDENCE)
            if e.confidence < ev.min_confidence:
                log.add(f"held back {e.id} ({e.label}): no tracked source, screenplay cue or place bed",
                        ("held back", "no tracked source, screenplay cue or place bed"))
                held.append(e)
                continue
        kept.append(e)
    lost = len(script.events) - len(kept)  # dropped or held back
    have = {family(e.label) for e in kept}
    ids = {e.id for e in kept}
    for i, cue in enumerate(ev.cues if add_cues else []):
        if family(cue.entry.name) in have:
            continue
        new = _on_track(cue, ev, {e.source_track for e in kept}) or cue_event(cue, cue.entry.name, duration, i)
        n = 2
        while new.id in ids:
            new = new.model_copy(update={"id": f"{cue.entry.name}_{n}"})
            n += 1
        new = new.model_copy(update={"evidence": [f"screenplay: {cue.sentence}", *new.evidence]})
        kept.append(new)
        have.add(family(new.label))
        ids.add(new.id)
        log.add(f"added {new.id}: the screenplay names it ('{' '.join(cue.sentence.split())[:60]}')")
    if lost:  # something went: say what stayed
        names = ", ".join(e.id for e in kept[:6]) + (f" and {len(kept) - 6} more" if len(kept) > 6 else "")
        log.add(f"kept {len(kept)} event{'' if len(kept) == 1 else 's'}: {names or 'none'}")
    out = script.model_copy(update={"scene": scene, "events": kept, "candidates": held})
    return FoleyScript.model_validate(out.model_dump()), log.lines()


def enforce_state(state: dict[str, Any], script: FoleyScript, min_confidence: float, node: str = "grounding",
                  add_cues: bool = True) -> tuple[FoleyScript, list[str]]:
    """enforce() with the facts of a graph state (video, tracks, screenplay)."""
    ground = Ground.of(VideoInfo.model_validate(state["video"]),
                       [Track.model_validate(t) for t in state.get("tracks", [])], state.get("screenplay"),
                       script.scene, min_confidence)
    return enforce(script, ground, node=node, add_cues=add_cues)


def _salvaged(notes: list[str]) -> list[str]:
    """The writer's salvage notes (agents/salvage.py) as warnings: LINES_PER_REASON in full, then a count."""
    said = [f"script_writer: {n}" for n in notes if n.startswith("salvaged:")]
    more = len(said) - LINES_PER_REASON
    return said[:LINES_PER_REASON] + ([f"script_writer: salvaged: {more} more events changed or dropped the same way"]
                                      if more > 0 else [])


def _model_wrote(ctx: Any, state: dict[str, Any]) -> bool:
    """The script came from the writer model (not the offline rules, nor their fallback): its length is the model's
    doing, not the screenplay's, so it is cut to --max-events rather than failing the run."""
    return ctx.llm_for("writer") != HEURISTIC and not any(
        w.startswith("script_writer: ") and "used the heuristic backend" in w for w in state.get("warnings", []))


def cap_events(script: FoleyScript, limit: int, node: str = "script_writer") -> tuple[FoleyScript, list[str]]:
    """The script with at most `limit` events (--max-events): beds first, then the best-supported sounds, the
    earliest on a tie; the rest held in `candidates`. For what models wrote: a screenplay's own excess fails the run
    (limits.check_event_count) with a message that names the screenplay."""
    if len(script.events) <= limit:
        return script, []
    ranked = sorted(range(len(script.events)), key=lambda i: (script.events[i].layer != "bg",
                                                              -script.events[i].confidence, script.events[i].start_s))
    keep = set(ranked[:limit])
    why = f"over --max-events {limit}"
    kept = [e for i, e in enumerate(script.events) if i in keep]
    held = [_held(e, why, e.confidence) for i, e in enumerate(script.events) if i not in keep]
    out = script.model_copy(update={"events": kept, "candidates": [*script.candidates, *held]})
    return out, [f"{node}: held back {len(held)} of the model's {len(script.events)} events {why} (a stem "
                 f"each): kept the beds and the best-supported sounds"]


def ground_script(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Graph node after the script writer: the writer's script, enforced, is what the search starts from."""
    ctx = runtime.context
    script = FoleyScript.model_validate(state["script"])
    with ctx.tracer.span("grounding.enforce", "agent", backend="computed", inputs=len(script.events)) as rec:
        out, warnings = enforce_state(state, script, ctx.min_confidence, node="script_writer", add_cues=False)
        # the writer's own clamp (fit_to_clip) dropped what lay wholly outside the clip: say so once, here
        warnings = [f"script_writer: dropped {n.removesuffix('; dropped')}" for n in script.notes
                    if n.endswith("clip; dropped")] + _salvaged(script.notes) + warnings
        if _model_wrote(ctx, state):
            out, cut = cap_events(out, ctx.max_events)
            warnings += cut
        rec["decision"] = {"kept": [e.id for e in out.events], "held": [e.id for e in out.candidates],
                           "changes": warnings}
    return {"script": out.model_dump(), "warnings": warnings}
