"""Grounding: what an LLM wrote about the scene, checked against what was measured before anyone trusts it.

Three kinds of hard fact, each measured, never asked of a model:
  the scene heading  INT./EXT. and DAY/NIGHT (tools/screenplay.py): a script that puts night beds, "night rain" or
                     an indoor room tone into "EXT. ... - DAY" contradicts the author;
  sounding tracks    a tracked mover whose motion makes a sound above the run's threshold (agents/evidence.py) gets
                     an event tied to it, or the mix leaves a visible walker silent;
  evidence           every event stands on a track, a screenplay cue, or a bed the place calls for (the ToT's
                     `support` fact, agents/tot_rules.py); an event on none of them was invented.
An LLM answer that breaks one goes back to its agent once with the facts listed (`grounded_ask`). What still breaks
one after that becomes a warning in run.json and a flag on the Tree-of-Thought node, and a flagged node never
outranks a clean one, whatever the judge thinks (agents/tot.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from foleydesigner.agents.script_writer import family
from foleydesigner.agents.tot_rules import BED_CONTEXT, Evidence, is_supported
from foleydesigner.lexicon import ambience_for_place
from foleydesigner.llm import ask
from foleydesigner.prompts import grounding as P
from foleydesigner.schemas import FoleyScript, SceneContext, SceneScript, SoundEvent, Track, VideoInfo
from foleydesigner.tools.screenplay import Screenplay, parse_screenplay

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)

_HEADING_LINE = re.compile(r"^\s*\.?(?:INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[.\s].*$", re.I | re.M)
#: Words that name the other time of day; a description that uses them contradicts a DAY or NIGHT heading.
_OPPOSITE_WORDS = {"day": re.compile(r"\b(?:night|nighttime|midnight|moonlight|moonlit|starlit)\b", re.I),
                   "night": re.compile(r"\b(?:daylight|sunlight|sunlit|sunny|sunshine|midday|noon|afternoon)\b", re.I)}
#: Beds that only exist indoors or in a car: an EXT. heading rules them out (BED_CONTEXT says where each bed lives).
_INDOOR_BEDS = frozenset(k for k, (where, _) in BED_CONTEXT.items() if where in ("indoor", "vehicle"))
#: Beds that only exist outdoors: an INT. heading rules them out unless the screenplay names them (a window open).
_OUTDOOR_BEDS = frozenset(k for k, (where, _) in BED_CONTEXT.items() if where == "outdoor")
#: Action lines that keep everyone in place ("Everyone sits... Nobody gets up."): footsteps then need a walker the
#: picture tracks; the story rules out the others.
_STILL = re.compile(r"[^.!?\n]*\b(?:nobody|no one|no-one|none of them)\s+(?:gets? up|moves?|stirs?|stands? up|walks?|leaves?)"
                    r"[^.!?\n]*[.!?]?|[^.!?\n]*\b(?:everyone|everybody|all of them|they all)\s+(?:sits?|is seated|are seated|"
                    r"sit still|stays? seated|remains? seated)\b[^.!?\n]*[.!?]?", re.I)
_STEP_FAMILY = "footsteps"


def scene_parts(screenplay: str) -> list[Screenplay]:
    """Each scene of a screenplay (a heading and the action under it) parsed on its own; [] with under two
    headings (the whole screenplay is then one scene)."""
    starts = [m.start() for m in _HEADING_LINE.finditer(screenplay)]
    if len(starts) < 2:
        return []
    return [parse_screenplay(screenplay[a:b]) for a, b in zip(starts, [*starts[1:], len(screenplay)], strict=True)]


@dataclass(frozen=True)
class Heading:
    """Where and when the screenplay puts the scene (None where it does not say)."""

    location: str | None = None
    time_of_day: str | None = None
    text: str = ""

    @classmethod
    def of(cls, screenplay: str | None, parsed: Screenplay | None = None) -> Heading:
        """From the screenplay alone (`parsed` without a default scene, to save parsing it again). With several
        scene headings (INT. KITCHEN then EXT. STREET), a place or time holds only where every scene agrees on
        it: which part of the clip is which scene is not known, so neither scene's sounds are ruled out."""
        if not screenplay:
            return cls()
        scenes = [p.scene for p in scene_parts(screenplay)] or [(parsed or parse_screenplay(screenplay)).scene]
        places = {s.location for s in scenes} - {"unknown"}
        times = {s.time_of_day for s in scenes} - {"unknown"}
        lines = [m.group(0).strip() for m in _HEADING_LINE.finditer(screenplay)]
        text = " / ".join(lines) if len(lines) <= 3 else f"{lines[0]} and {len(lines) - 1} more headings"
        return cls(places.pop() if len(places) == 1 else None, times.pop() if len(times) == 1 else None, text)

    def says(self, value: str) -> str:
        return f"the screenplay's heading says {value} ({self.text})" if self.text else f"the screenplay says {value}"

    def over(self, scene: SceneContext) -> SceneContext:
        """The scene with the heading's place and time in force (what the agents' scene should have said)."""
        upd = {k: v for k, v in (("location", self.location), ("time_of_day", self.time_of_day)) if v}
        return scene.model_copy(update=upd) if upd else scene


@dataclass(frozen=True)
class Ground:
    """The measured facts one decomposition answer is checked against."""

    heading: Heading
    evidence: Evidence  # its scene has the heading's place and time in force
    still: str = ""  # the screenplay's sentence that keeps everyone in place ("Nobody gets up."), if any

    @classmethod
    def of(cls, video: VideoInfo, tracks: list[Track], screenplay: str | None, scene: SceneContext,
           min_confidence: float) -> Ground:
        sp = parse_screenplay(screenplay) if screenplay else None  # its cues do not depend on a default scene
        heading = Heading.of(screenplay, sp)
        scene = heading.over(scene)
        beds = sp.ambience if sp and sp.ambience else ambience_for_place(scene.description)
        beds = tuple(dict.fromkeys([*beds, *(b for part in scene_parts(screenplay or "") for b in part.ambience)]))
        still = _STILL.search(screenplay or "")
        return cls(heading, Evidence(video, tracks, scene, sp.cues if sp else [], beds, min_confidence),
                   " ".join(still.group(0).split())[:80] if still else "")

    def event_violations(self, e: SoundEvent) -> list[str]:
        """What one event contradicts: the heading's time or place, or a screenplay that keeps everyone seated.
        A sound the screenplay itself names is the story's choice and contradicts nothing."""
        ev, h = self.evidence, self.heading
        if family(e.label) in ev.cue_families():
            return []
        out = []
        _, when = BED_CONTEXT.get(e.label, (None, None))
        if h.time_of_day and when is not None and h.time_of_day not in when:
            out.append(f"{e.id}: {e.label} belongs to {'/'.join(when)}, but {h.says(h.time_of_day)}")
        if h.location == "outdoor" and e.label in _INDOOR_BEDS:
            out.append(f"{e.id}: {e.label} is an indoor sound, but {h.says('outdoor')}")
        if h.location == "indoor" and e.label in _OUTDOOR_BEDS:
            out.append(f"{e.id}: {e.label} is an outdoor sound, but {h.says('indoor')}")
        if self.still and family(e.label) == _STEP_FAMILY:  # the story rules steps out; a "walker" the tracker
            out.append(f"{e.id}: {e.label}, but the screenplay says '{self.still}'")  # sees is people shifting
        return out

    # --- checks: each returns one line per broken fact, naming it ----------------------------------------

    def scene_violations(self, scene: SceneContext, texts: Sequence[str] = ()) -> list[str]:
        h, out = self.heading, []
        if h.location and scene.location not in ("unknown", h.location):
            out.append(f"the scene is {scene.location}, but {h.says(h.location)}")
        if h.time_of_day and scene.time_of_day not in ("unknown", h.time_of_day):
            out.append(f"the scene is at {scene.time_of_day}, but {h.says(h.time_of_day)}")
        words = _OPPOSITE_WORDS.get(h.time_of_day or "")
        for text in texts:
            if words is not None and h.time_of_day and (m := words.search(text)):
                out.append(f"'{text[:80]}' says {m.group(0).lower()}, but {h.says(h.time_of_day)}")
        return out

    def scene_script_violations(self, script: SceneScript) -> list[str]:
        """FilmScribe's scene script: its place and time against the heading."""
        texts = [script.summary, script.scene.description, *(f"{e.name} {e.action}" for e in script.entities)]
        return self.scene_violations(script.scene, texts)

    def script_violations(self, script: FoleyScript) -> list[str]:
        """A Foley script (the writer's, or a ToT candidate) against the heading, the sounding tracks, the evidence."""
        ev = self.evidence
        cued = set(ev.cue_families())
        out = self.scene_violations(script.scene, [e.description for e in script.events if family(e.label) not in cued])
        for e in script.events:
            out += self.event_violations(e)  # the author asked for it: a storm in a DAY scene is the story's choice
        voiced = {e.source_track for e in script.events if e.source_track is not None}
        sounding = ev.sounding_tracks()
        silent = [t for t in sounding if t.id not in voiced and not (self.still and t.motion == "walking")]
        if silent:
            ids = ", ".join(f"{t.id} ({t.label} {t.motion} {t.start_s:.1f}-{t.end_s:.1f} s)" for t in silent)
            out.append(f"{len(silent)} of {len(sounding)} tracked movers that make a sound have no event tied to them "
                       f"(source_track): {ids}")
        for e in script.events:
            if not is_supported(e, ev):
                out.append(f"{e.id}: {e.label} has no evidence: no sounding track, no screenplay cue, not a bed the "
                           "place calls for")
        return out

    # --- the facts as prompt text ---------------------------------------------------------------------------

    def describe(self) -> str:
        ev, h = self.evidence, self.heading
        lines = []
        if h.location or h.time_of_day:
            lines.append(f"- scene heading: {h.text or '(from the action lines)'}: {h.location or 'place not said'}, "
                         f"{h.time_of_day or 'time not said'}")
        sounding = ev.sounding_tracks()
        lines.append("- tracks whose motion makes a sound (each needs an event with source_track = its id): "
                     + (", ".join(f"{t.id} ({t.label} {t.motion} {t.start_s:.2f}-{t.end_s:.2f} s)" for t in sounding)
                        or "none"))
        cues = sorted(ev.cue_families())
        lines.append("- sounds the screenplay names: " + (", ".join(cues) or "none"))
        lines.append("- beds the place calls for: " + (", ".join(ev.place_beds) or "none named; one neutral bed"))
        if self.still:
            lines.append(f"- the screenplay keeps everyone in place ('{self.still}'): no footsteps")
        return "\n".join(lines)


def grounded_ask(ctx: Any, role: str, node: str, messages: list[Any], schema: type[T], check: Callable[[T], list[str]],
                 ground: Ground, *, tools: Sequence[Any] = ()) -> tuple[T, list[str]]:
    """One structured call whose answer must hold up against the facts: a violation is sent back once as a re-ask
    that lists the violations and the facts. Returns the answer and the violations that remain (for the caller
    to warn about and flag). Both checks are trace lines of kind 'grounding'."""
    from langchain_core.messages import AIMessage, HumanMessage

    backend = ctx.llm_for(role)
    keep = _salvager(schema)
    answer = ask(ctx, role, node, messages, schema, tools=tools, salvage=keep)
    problems = check(answer)
    if not problems:
        return answer, []
    ctx.tracer.write({"node": node, "kind": "grounding", "backend": backend, "violations": problems,
                      "decision": f"re-ask with the facts: {'; '.join(problems)}"})  # what `foley trace` shows
    reask = P.REASK.format(schema=schema.__name__, violations="\n".join(f"- {p}" for p in problems),
                           facts=ground.describe())
    answer = ask(ctx, role, node, [*messages, AIMessage(answer.model_dump_json()), HumanMessage(reask)], schema,
                 tools=tools, salvage=keep)
    problems = check(answer)
    ctx.tracer.write({"node": node, "kind": "grounding", "backend": backend, "violations": problems,
                      "decision": f"still contradicts the facts: {'; '.join(problems)}" if problems else "corrected"})
    if problems:
        log.warning("%s: %s still contradicts the measured facts: %s", node, backend, "; ".join(problems))
    return answer, problems


def _salvager(schema: type[T]) -> Callable[[Any], T | None] | None:
    """For a Foley script, what salvage.py can read of an answer the schema refused twice; None for other schemas."""
    if schema is not FoleyScript:
        return None
    from foleydesigner.agents.salvage import salvage_script

    def keep(args: Any) -> T | None:
        got = salvage_script(args)
        return got[0] if got is not None else None  # type: ignore[return-value]
    return keep


def grounding_warning(node: str, backend: str, problems: list[str]) -> str:
    """One short line: the first fact broken and how many more (the trace lists them all; what is done about each
    event is a warning of its own, agents/enforce.py)."""
    first = problems[0] if len(problems[0]) <= 110 else problems[0][:107] + "..."
    more = f"; {len(problems) - 1} more in the trace" if len(problems) > 1 else ""
    return f"{node}: {backend} still contradicts the measured facts after a re-ask: {first}{more}"
