"""Screenplay reading: plain text and Fountain (https://fountain.io syntax) -> sound cues with layer and place.

By screenplay convention sounds are written in CAPS in action lines; lowercase action verbs ("walks", "rain")
still imply sounds. Scene headings (INT./EXT. ... - DAY/NIGHT) give the space and the ambience.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.tools import tool

from foleydesigner.errors import InputError
from foleydesigner.lexicon import LexiconEntry, ambience_for_place, find_sounds, find_surface, is_caps
from foleydesigner.schemas import SceneContext

_HEADING = re.compile(r"^(?:\.(?!\.)|(?:INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[\.\s])", re.IGNORECASE)
_TRANSITION = re.compile(r"^[A-Z\s]+TO:$|^>")
_CHARACTER = re.compile(r"^@?[A-Z][A-Z0-9 .'\-]*(\s*\((V\.O\.|O\.S\.|O\.C\.|CONT'D)\))?\s*\^?$")
_TIMECODE = re.compile(r"^\s*\[(?:(\d+):)?(\d+(?:\.\d+)?)\s*s?\]\s*")
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z'\-]+(?:\s+[A-Z][A-Z'\-]+)*\b")
_SENTENCE = re.compile(r"[^.!?]+[.!?]?")

# Where an off-screen sound sits (degrees, DESIGN convention: negative left); BEHIND goes to the surrounds.
# "Behind it" / "far behind the ball" is behind the named thing, further from the camera on its side: that is a
# place relative to another sound (_RELATIVE), not behind the listener.
_RELATIVE = re.compile(r"\b(far\s+|way\s+|some\s+way\s+)?behind\s+(?!the\s+(?:camera|listener|audience)\b)(?:it|him|her|them|that|this|the\s+\w+|a\s+\w+)\b", re.I)
_DIRECTIONS = (
    (re.compile(r"\bbehind\b", re.I), 180.0),
    (re.compile(r"\b(?:to|from|on|off)\s+(?:the\s+)?left\b|\bleft\b", re.I), -70.0),
    (re.compile(r"\b(?:to|from|on|off)\s+(?:the\s+)?right\b|\bright\b", re.I), 70.0),
)
# Direction words alone place a sound on screen too ("rolls in from the left"); only these make it off-screen.
_OFF_SIDE = re.compile(r"\boff\s+(?:to\s+)?(?:the\s+)?(?:left|right)\b|\bbehind\s+(?:us|me|the\s+camera|the\s+listener)\b|"
                       r"\bbehind\b(?!\s+\w)", re.I)
# A crossing: the sound travels between the two sides ("from left to right", "right to left").
_CROSSING = re.compile(r"\b(?:from\s+(?:the\s+)?)?(left|right)\s+to\s+(?:the\s+)?(left|right)\b", re.I)
#: A crossing named by the screenplay spans most of the picture (hfov 60°): ±27° keeps it inside the frame.
CROSSING_DEG = 27.0
_OFFSCREEN = re.compile(r"\b(?:O\.S\.|off[- ]?screen|somewhere|unseen|distant|in the distance|outside|next door|above|below|"
                        r"upstairs|downstairs|down the hall|far off|far away)\b|\(O\.S\.\)", re.I)
_SFX = re.compile(r"^(?:SFX|SOUND|FX)\s*[:\-]\s*", re.I)
#: Words that set a scene's mood (the ToT's emotional-modulation score reads it); most hits wins, ties go first.
_MOODS = (
    ("tense", r"tense|tension|suspense|dread|eerie|ominous|menacing|sinister|creeps|holds? (?:his|her|their) breath|"
              r"afraid|fear|terrified|nervous|uneasy|whispers?|darkness|freezes|heart pounds|trembl\w*|shadows?|screams?"),
    ("action", r"chaos|chaotic|frantic|panic|chase|fight|battle|riot|explodes|explosion|gunfire|sprints|scrambles"),
    ("calm", r"calm|peaceful|serene|tranquil|gentle|lazy|sleepy|quiet|idyllic|still"),
    ("sad", r"sad|grief|mourn|mourning|melancholy|lonely|tears|weeps|sobs|funeral|desolate"),
    ("joyful", r"happy|joyful|laughter|laughs|celebrat\w*|party|cheerful|festive|wedding|dancing"),
    ("romantic", r"romantic|tender|candlelit|kiss(?:es)?|embrace"),
)
_INDOOR = re.compile(r"\b(room|kitchen|office|hall|hallway|corridor|inside|indoors|bedroom|bathroom|apartment|house|"
                     r"warehouse|basement|church|bar|restaurant|cafe|shop|store|classroom|lab)\b", re.I)
_OUTDOOR = re.compile(r"\b(street|park|forest|woods|beach|shore|outside|outdoors|field|road|garden|yard|sky|"
                      r"mountain|river|city|square|alley|lawn|desert|sea|ocean)\b", re.I)
_TIMES = (("night", r"night|midnight|moonlight|moonlit|nighttime"), ("dawn", r"dawn|sunrise|daybreak"),
          ("dusk", r"dusk|sunset|twilight|evening"), ("day", r"morning|noon|afternoon|sunlight|sunny|daylight|midday|sunshine"))


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
    #: (from, to) azimuth of a sound the screenplay moves across ("from left to right"), else None.
    path_deg: tuple[float, float] | None = None
    #: "behind" / "far behind": placed relative to the thing the sentence names before it, not to the listener.
    relative: str | None = None


@dataclass
class Screenplay:
    scene: SceneContext
    cues: list[ScreenplayCue] = field(default_factory=list)
    unresolved_caps: list[str] = field(default_factory=list)
    title: str = ""
    #: Beds the place of the scene heading calls for (lexicon names), e.g. EXT. BEACH -> waves, seagulls, wind.
    ambience: tuple[str, ...] = ()


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


def detect_mood(text: str) -> str:
    """The mood the words of a text set ('tense', 'calm', 'action', 'sad', 'joyful', 'romantic'), else 'neutral'."""
    counts = [(len(re.findall(rf"\b(?:{rx})\b", text, re.I)), i, mood) for i, (mood, rx) in enumerate(_MOODS)]
    n, _, mood = max(counts, key=lambda c: (c[0], -c[1]))
    return mood if n else "neutral"


def _scene_from_prose(text: str, scene: SceneContext) -> SceneContext:
    """No scene heading: read indoor/outdoor and day/night from the words, when the prose says so unambiguously."""
    indoor, outdoor = len(_INDOOR.findall(text)), len(_OUTDOOR.findall(text))
    location = scene.location if indoor == outdoor else "indoor" if indoor > outdoor else "outdoor"
    said = [tod for tod, rx in _TIMES if re.search(rf"\b(?:{rx})\b", text, re.I)]
    tod = said[0] if len(said) == 1 else scene.time_of_day  # "from dawn to night" is not one time of day
    size = "open" if location == "outdoor" else scene.room_size
    return scene.model_copy(update={"location": location, "time_of_day": tod, "room_size": size})


def parse_screenplay(text: str, *, default_scene: SceneContext | None = None) -> Screenplay:
    """Sound cues of a screenplay in reading order; works on Fountain and on plain prose.

    CAPS words, SFX: lines and lowercase action verbs become cues; the first scene heading sets the space,
    the time of day and the place's ambience; the words of the action lines set the mood."""
    scene = default_scene or SceneContext()
    actions, title = _action_lines(text)
    total = sum(len(a) + 1 for a, _ in actions) or 1
    cues: list[ScreenplayCue] = []
    unresolved: list[str] = []
    offset = 0
    heading_seen: str | None = None
    for line, heading in actions:
        if heading and heading_seen is None:
            scene = _scene_from_heading(heading, scene)
            heading_seen = heading
        time_s: float | None = None
        m = _TIMECODE.match(line)
        if m:
            time_s = float(m.group(1) or 0) * 60.0 + float(m.group(2))
            line = line[m.end():]
        sfx = _SFX.match(line)
        if sfx:  # "SFX: distant thunder" - everything on the line is a sound cue
            line = line[sfx.end():]
        for sm in _SENTENCE.finditer(line):
            sentence = sm.group(0).strip()
            if not sentence:
                continue
            caps_spans = [c.span() for c in _CAPS_RUN.finditer(sentence) if len(c.group(0)) >= 3]
            hits = find_sounds(sentence)
            rel = _RELATIVE.search(sentence)
            bare = _RELATIVE.sub(" ", sentence)  # "far behind it" says where, relative to it; not behind us
            cross = _CROSSING.search(bare)
            path = None
            if cross and cross.group(1).lower() != cross.group(2).lower():
                sign = -1.0 if cross.group(1).lower() == "left" else 1.0
                path = (sign * CROSSING_DEG, -sign * CROSSING_DEG)
            az = path[0] if path else next((a for rx, a in _DIRECTIONS if rx.search(bare)), None)
            off = bool(_OFFSCREEN.search(bare)) or bool(_OFF_SIDE.search(bare)) or (az is not None and abs(az) > 90)
            relative = None if rel is None else ("far behind" if rel.group(1) else "behind")
            written_caps = [bool(sfx) or is_caps(m) or any(a < st + len(m) and st < b for a, b in caps_spans)
                            for st, m, _ in hits]
            for n, (start, matched, entry) in enumerate(hits):
                if any(entry is e for _, _, e in hits[:n]):
                    continue  # one sound per entry per sentence: "A HORSE trots past" is one horse, not two
                # ...and it is a CAPS cue if any of its mentions is ("walk ... their FOOTSTEPS crisp").
                caps = any(c for c, (_, _, e) in zip(written_caps, hits, strict=True) if e is entry)
                cues.append(ScreenplayCue(
                    text=matched, entry=entry, sentence=sentence,
                    position=(offset + sm.start() + start) / total, time_s=time_s, caps=caps,
                    offscreen=off, azimuth_deg=az, surface=find_surface(sentence), path_deg=path, relative=relative,
                ))
            for a, b in caps_spans:
                word = sentence[a:b]
                if not any(a <= s < b or s <= a < s + len(t) for s, t, _ in hits) and word not in ("I", "OK"):
                    unresolved.append(word)
        offset += len(line) + 1
    prose = " ".join(a for a, _ in actions)
    if heading_seen is None:
        scene = _scene_from_prose(prose, scene)
    place = scene.description if heading_seen else prose
    surfaces = sorted({c.surface for c in cues if c.surface})
    mood = detect_mood(prose)
    scene = scene.model_copy(update={"surfaces": surfaces or scene.surfaces,
                                     "mood": mood if mood != "neutral" else scene.mood})
    return Screenplay(scene=scene, cues=cues, unresolved_caps=unresolved, title=title,
                      ambience=ambience_for_place(place) if place else ())


@tool
def spot_screenplay(text: str) -> dict[str, Any]:
    """Spot the sounds a screenplay asks for with the Foley lexicon: for each cue its sound class, layer
    (fg/bg), whether it is written in CAPS, off-screen, its azimuth (negative left) and time if marked; plus the
    scene (indoor/outdoor, time of day, mood) and the ambience beds its scene heading implies."""
    sp = parse_screenplay(text)
    cues = [{"text": c.text, "class": c.entry.name, "layer": c.entry.layer, "caps": c.caps, "offscreen": c.offscreen,
             "azimuth_deg": c.azimuth_deg, "path_deg": c.path_deg, "relative": c.relative, "time_s": c.time_s, "position": round(c.position, 3), "sentence": c.sentence}
            for c in sp.cues]
    return {"scene": sp.scene.model_dump(), "cues": cues, "ambience": list(sp.ambience),
            "unresolved_caps": sorted(set(sp.unresolved_caps))}
