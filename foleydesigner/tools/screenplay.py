"""Screenplay reading: plain text and Fountain (https://fountain.io syntax) -> sound cues with layer and place.

By screenplay convention sounds are written in CAPS in action lines; lowercase action verbs ("walks", "rain")
still imply sounds. Scene headings (INT./EXT. ... - DAY/NIGHT) give the space and the ambience.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from foleydesigner.errors import InputError
from foleydesigner.lexicon import LexiconEntry, find_sounds, find_surface
from foleydesigner.schemas import SceneContext

_HEADING = re.compile(r"^(?:\.(?!\.)|(?:INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[\.\s])", re.IGNORECASE)
_TRANSITION = re.compile(r"^[A-Z\s]+TO:$|^>")
_CHARACTER = re.compile(r"^@?[A-Z][A-Z0-9 .'\-]*(\s*\((V\.O\.|O\.S\.|O\.C\.|CONT'D)\))?\s*\^?$")
_TIMECODE = re.compile(r"^\s*\[(?:(\d+):)?(\d+(?:\.\d+)?)\s*s?\]\s*")
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z'\-]+(?:\s+[A-Z][A-Z'\-]+)*\b")
_SENTENCE = re.compile(r"[^.!?]+[.!?]?")

# Where an off-screen sound sits (degrees, DESIGN convention: negative left); BEHIND goes to the surrounds.
_DIRECTIONS = (
    (re.compile(r"\bbehind\b", re.I), 180.0),
    (re.compile(r"\b(?:to|from|on|off)\s+(?:the\s+)?left\b|\bleft\b", re.I), -70.0),
    (re.compile(r"\b(?:to|from|on|off)\s+(?:the\s+)?right\b|\bright\b", re.I), 70.0),
)
_OFFSCREEN = re.compile(r"\b(?:O\.S\.|off[- ]?screen|somewhere|unseen|distant|in the distance|outside|next door|above|below)\b", re.I)


@dataclass(frozen=True)
class ScreenplayCue:
    """One sound the screenplay asks for."""

    text: str
    entry: LexiconEntry
    sentence: str
    position: float  # 0..1: where in the action text it is written, a proxy for when it happens
    time_s: float | None  # from an explicit [mm:ss] / [12.5s] marker on the line
    caps: bool
    offscreen: bool
    azimuth_deg: float | None
    surface: str | None


@dataclass
class Screenplay:
    scene: SceneContext
    cues: list[ScreenplayCue] = field(default_factory=list)
    unresolved_caps: list[str] = field(default_factory=list)
    title: str = ""


def read_screenplay(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"screenplay file not found: {p} — pass a plain-text or .fountain file with --script")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"screenplay {p} is not UTF-8 text ({exc}); save it as plain text or Fountain") from exc


def _scene_from_heading(heading: str, scene: SceneContext) -> SceneContext:
    h = heading.lstrip(".").upper()
    location = "outdoor" if h.startswith(("EXT", "EST")) else "indoor" if h.startswith(("INT", "I/E")) else scene.location
    tod = scene.time_of_day
    for word, value in (("NIGHT", "night"), ("DAY", "day"), ("MORNING", "day"), ("AFTERNOON", "day"),
                        ("DAWN", "dawn"), ("DUSK", "dusk"), ("EVENING", "dusk"), ("SUNSET", "dusk")):
        if re.search(rf"\b{word}\b", h):
            tod = value  # type: ignore[assignment]
            break
    place = re.sub(r"^(INT\.?/EXT\.?|INT/EXT|I/E|INT\.?|EXT\.?|EST\.?)\s*", "", h).split(" - ")[0].strip().lower()
    big = ("hall", "church", "warehouse", "cathedral", "gym", "station", "hangar", "arena", "cave")
    small = ("car", "closet", "bathroom", "cell", "booth", "elevator", "lift", "cab", "office", "bedroom")
    size = "open" if location == "outdoor" else "large" if any(w in place for w in big) else (
        "small" if any(w in place for w in small) else "medium")
    return SceneContext(description=place or scene.description, location=location, room_size=size,  # type: ignore[arg-type]
                        time_of_day=tod, mood=scene.mood, surfaces=scene.surfaces)


def _strip_markup(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # boneyard
    text = re.sub(r"\[\[.*?\]\]", "", text, flags=re.S)  # notes
    return text.replace("\r\n", "\n")


def _action_lines(text: str) -> tuple[list[tuple[str, str | None]], str]:
    """(action line, scene heading in force) pairs, dropping title page, dialogue, transitions; and the title."""
    lines = _strip_markup(text).split("\n")
    title, i = "", 0
    if lines and re.match(r"^\s*[A-Za-z ]+:\s*\S", lines[0]) and not _HEADING.match(lines[0]):
        while i < len(lines) and lines[i].strip():
            m = re.match(r"^\s*title:\s*(.+)$", lines[i], re.I)
            title = m.group(1).strip() if m else title
            i += 1
    out: list[tuple[str, str | None]] = []
    heading: str | None = None
    in_dialogue = False
    for j in range(i, len(lines)):
        raw = lines[j].strip()
        if not raw:
            in_dialogue = False
            continue
        if in_dialogue:
            continue
        prev_blank = j == 0 or not lines[j - 1].strip()
        next_text = j + 1 < len(lines) and bool(lines[j + 1].strip())
        if _HEADING.match(raw) and prev_blank:
            heading = raw
            continue
        if _TRANSITION.match(raw) or raw.startswith(("=", "#")):
            continue
        if prev_blank and next_text and _CHARACTER.match(raw) and not find_sounds(raw):
            in_dialogue = True  # a character cue: the dialogue that follows is not Foley
            continue
        out.append((raw.lstrip("!"), heading))
    return out, title


def parse_screenplay(text: str, *, default_scene: SceneContext | None = None) -> Screenplay:
    """Sound cues of a screenplay in reading order; works on Fountain and on plain prose."""
    scene = default_scene or SceneContext()
    actions, title = _action_lines(text)
    total = sum(len(a) + 1 for a, _ in actions) or 1
    cues: list[ScreenplayCue] = []
    unresolved: list[str] = []
    offset = 0
    seen_heading = False
    for line, heading in actions:
        if heading and not seen_heading:
            scene = _scene_from_heading(heading, scene)
            seen_heading = True
        time_s: float | None = None
        m = _TIMECODE.match(line)
        if m:
            time_s = float(m.group(1) or 0) * 60.0 + float(m.group(2))
            line = line[m.end():]
        for sm in _SENTENCE.finditer(line):
            sentence = sm.group(0).strip()
            if not sentence:
                continue
            caps_spans = [c.span() for c in _CAPS_RUN.finditer(sentence) if len(c.group(0)) >= 3]
            hits = find_sounds(sentence)
            for start, matched, entry in hits:
                caps = any(a < start + len(matched) and start < b for a, b in caps_spans)
                az = next((a for rx, a in _DIRECTIONS if rx.search(sentence)), None)
                off = bool(_OFFSCREEN.search(sentence)) or az is not None
                cues.append(ScreenplayCue(
                    text=matched, entry=entry, sentence=sentence,
                    position=(offset + sm.start() + start) / total, time_s=time_s, caps=caps,
                    offscreen=off, azimuth_deg=az if off else None, surface=find_surface(sentence),
                ))
            for a, b in caps_spans:
                word = sentence[a:b]
                if not any(a <= s < b or s <= a < s + len(t) for s, t, _ in hits) and word not in ("I", "OK"):
                    unresolved.append(word)
        offset += len(line) + 1
    surfaces = sorted({c.surface for c in cues if c.surface})
    scene = scene.model_copy(update={"surfaces": surfaces or scene.surfaces})
    return Screenplay(scene=scene, cues=cues, unresolved_caps=unresolved, title=title)
