"""FoleyScriptWriter (paper §1): screenplay F + scene script T -> layered Foley script S = {(e_i, l_i)}.

Visible physical events come from T (each fg event tied to the track that makes it, with its visual onsets);
narrative and off-screen sounds come from F; the scene heading's place and the space give the ambience beds.
The result is the root of the Tree-of-Thought search (agents/tot.py), which refines it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from foleydesigner.agents.evidence import sound_for_track, track_summary
from foleydesigner.agents.fusion import (  # noqa: F401  (COMPATIBLE, SAME_SOUND: read through this module too)
    COMPATIBLE,
    SAME_SOUND,
    Place,
    bind,
    cue_time,
    family,
    named_by,
    place_cue,
    source,
    track_azimuth,
    track_depth,
)
from foleydesigner.lexicon import BY_NAME, LexiconEntry, ambience_for_place
from foleydesigner.schemas import FoleyScript, SceneContext, SceneScript, SoundEvent, Track, VideoInfo
from foleydesigner.tools.screenplay import ScreenplayCue, parse_screenplay

#: Default levels: a CAPS cue is one the story points at; beds sit under the foreground (Foley practice).
FG_INTENSITY, CAPS_INTENSITY, BED_INTENSITY = 0.7, 0.8, 0.45
#: At most this many place beds from a scene heading: one character bed plus air/tone is what an editor lays.
MAX_PLACE_BEDS = 2
#: Screenplay sentences quoted in a visible event's description at most (it grows with each confirming cue).
MAX_CUE_NOTES = 8
_NIGHT_BEDS = {"birds": "crickets", "seagulls": None, "owl": "owl"}


def ambience_for(scene: SceneContext) -> tuple[str, str]:
    """The bed a sound editor lays first: room tone indoors (and as neutral presence when the place is
    unknown), air outdoors (crickets at night), road roar inside a vehicle."""
    if scene.location == "indoor":
        return "room_tone", "room tone"
    if scene.location == "vehicle":
        return "car_interior", "car interior"
    if scene.location == "outdoor":
        return ("crickets", "night ambience") if scene.time_of_day == "night" else ("wind", "outdoor air")
    return "room_tone", "ambience bed"


def scene_at(scene: SceneContext, t_s: float) -> SceneContext:
    """The place at t_s: the clip's, or, where its shots show different places (evidence "places", from
    tools/picture.shot_places), the one of the run of shots that holds t_s."""
    here = [p for p in scene.evidence.get("places") or [] if p["start_s"] - 1e-6 <= t_s]
    if not here:
        return scene
    return scene.model_copy(update={k: here[-1][k] for k in ("location", "description", "room_size", "time_of_day")})


def place_beds(names: tuple[str, ...], scene: SceneContext) -> list[str]:
    """The place's beds for this time of day: no birdsong at night (crickets instead), no seagulls."""
    out: list[str] = []
    for name in names:
        swapped = _NIGHT_BEDS.get(name, name) if scene.time_of_day == "night" else name
        if swapped and swapped not in out:
            out.append(swapped)
    return out[:MAX_PLACE_BEDS]


def bed_event(name: str, event_id: str, duration: float, description: str, origin: str = "scene",
              start_s: float = 0.0, intensity: float = BED_INTENSITY, end_s: float | None = None) -> SoundEvent:
    entry = BY_NAME.get(name)
    end = duration if end_s is None else min(end_s, duration)
    return SoundEvent(id=event_id, label=name, layer=entry.layer if entry else "bg", start_s=min(start_s, end),
                      end_s=end, intensity=intensity, description=description, origin=origin,  # type: ignore[arg-type]
                      params=dict(entry.params) if entry else {})


def track_event(track: Track, scene: SceneContext, *, start_s: float | None = None, end_s: float | None = None,
                description: str = "", origin: str = "video") -> SoundEvent | None:
    """The fg event a track makes under the motion rules, tied to it, with its per-step/bounce onsets."""
    sound = sound_for_track(track, scene)
    if sound is None:
        return None
    a = track.start_s if start_s is None else start_s
    b = track.end_s if end_s is None else end_s
    # A track-bound event lives inside its track's shot: it ends at the cut.
    a, b = max(a, track.start_s), min(b, track.end_s)
    entry = BY_NAME[sound.label]
    return SoundEvent(id=f"{sound.label}_t{track.id}", label=sound.label, layer="fg", start_s=round(a, 3),
                      end_s=round(max(a, b), 3), onsets_s=[o for o in sound.onsets_s if a - 1e-6 <= o <= b + 1e-6],
                      source_track=track.id, intensity=sound.intensity, params={**entry.params, **sound.params},
                      origin=origin, description=description or track_summary([track]).lstrip("- "),  # type: ignore[arg-type]
                      confidence=sound.confidence, evidence=list(sound.evidence))


def cue_event(cue: ScreenplayCue, event_id: str, duration: float, side: int, place: Place | None = None) -> SoundEvent:
    """A cue no track makes, at the time the screenplay puts it, where its words say (fusion.place_cue): a
    crossing moves across, "behind it" sits behind the thing named, a side is that side."""
    entry: LexiconEntry = cue.entry
    params = {**entry.params, **({"surface": cue.surface} if cue.surface and entry.generator == "footsteps" else {})}
    continuous = entry.layer == "bg" or entry.continuous
    start = (cue.time_s if cue.time_s is not None else 0.0) if entry.layer == "bg" else cue_time(cue, duration)
    start = min(start, duration)
    end = duration if continuous else min(duration, start + 1.5)
    place = place or place_cue(cue, start, end, None)
    if place.path:
        params["azimuth_path"] = [list(k) for k in place.path]  # read by tools/catalog.extract_event_clues
    if continuous:
        return SoundEvent(id=event_id, label=entry.name, layer=entry.layer, start_s=start, end_s=end,
                          intensity=BED_INTENSITY if entry.layer == "bg" else (CAPS_INTENSITY if cue.caps else 0.65),
                          description=cue.sentence, azimuth_deg=place.azimuth_deg, depth_m=place.depth_m, params=params,
                          origin="screenplay")
    az = place.azimuth_deg if place.azimuth_deg is not None else (-35.0 if side % 2 == 0 else 35.0)
    return SoundEvent(id=event_id, label=entry.name, layer="fg", start_s=start, end_s=end,
                      onsets_s=[round(start, 3)], intensity=CAPS_INTENSITY if cue.caps else 0.65, azimuth_deg=az,
                      depth_m=place.depth_m or (8.0 if cue.offscreen else 4.0), description=cue.sentence, params=params,
                      origin="screenplay")


#: Confidence of a bed laid from the place the picture showed (tools/picture.py), and of the neutral presence
#: laid when the place is unknown: both above the default threshold (a scene is never silent), below a heading's.
PICTURE_BED_CONFIDENCE, PRESENCE_CONFIDENCE = 0.8, 0.6


#: A vehicle at least this sure makes an unknown place a street (FilmScribe asks 0.8 of one it names alone).
STREET_CONFIDENCE = 0.6


def street_from_traffic(scene: SceneContext, events: list[SoundEvent], min_confidence: float) -> SceneContext:
    """A place the picture left unknown, where vehicles the gates pass drive through: a street (an outdoor
    bed, not room tone). FilmScribe decides a street on one sure vehicle; the writer on any it will render that
    the picture shows clearly (STREET_CONFIDENCE, whatever the run's threshold: the place is not a setting)."""
    cars = [e for e in events if e.layer == "fg" and family(e.label) == "engine_passby" and e.source_track is not None
            and e.confidence >= max(min_confidence, STREET_CONFIDENCE)]
    if scene.location != "unknown" or not cars:
        return scene
    reason = f"vehicles drive through the frame ({', '.join(e.id for e in cars[:3])})"
    return scene.model_copy(update={"description": "street", "location": "outdoor", "room_size": "open",
                                    "evidence": {**scene.evidence, "reason": reason}})


def confirm(event: SoundEvent, cue: ScreenplayCue) -> SoundEvent:
    """A visible event the screenplay names: story and picture agree (gate lifts it); the line is quoted."""
    if event.description.count(" | screenplay: ") >= MAX_CUE_NOTES:
        return event  # confirmed enough; a screenplay repeating the sound adds nothing the event lacks
    upd: dict[str, Any] = {"origin": "both", "description": event.description + f" | screenplay: {cue.sentence}"}
    if cue.surface and family(cue.entry.name) == "footsteps":
        upd["params"] = {**event.params, "surface": cue.surface}
    return event.model_copy(update=upd)


def heuristic_write(video: VideoInfo, scene_script: SceneScript, tracks: list[Track], screenplay: str | None,
                    min_confidence: float = 0.5) -> FoleyScript:
    duration = video.duration_s
    scene = scene_script.scene
    sp = parse_screenplay(screenplay, default_scene=scene) if screenplay else None
    by_id = {t.id: t for t in tracks}
    events: list[SoundEvent] = []
    counts: Counter[str] = Counter()

    def new_id(cls: str) -> str:
        counts[cls] += 1
        return f"{cls}_{counts[cls]}"

    # 1. Visible entities -> fg events tied to their tracks.
    tied: dict[int, SoundEvent] = {}
    for ent in scene_script.entities:
        track = by_id.get(ent.track_id) if ent.track_id is not None else None
        ev = track and track_event(track, scene, start_s=ent.start_s, end_s=ent.end_s,
                                   description=f"{ent.name} {ent.action} ({track_summary([track]).lstrip('- ')})")
        if ev is None or track is None:
            continue
        if ent.surface and ev.label in ("footsteps", "running_footsteps"):
            ev = ev.model_copy(update={"params": {**ev.params, "surface": ent.surface}})
        events.append(ev)
        tied[track.id] = ev

    # 2. Screenplay cues bind to the picture candidates that make their sound (fusion.bind: family, time,
    #    direction words; low-confidence tracks included) and are rendered on them: one sound per tracked source.
    #    A cue that binds nothing is placed by its words; "behind it" is behind what the last cue placed.
    bg_seen: set[str] = set()
    tied_at = {tid: events.index(ev) for tid, ev in tied.items()}
    anchor: tuple[float, float] | None = None
    for cue in sp.cues if sp else []:
        cls = cue.entry.name
        bound = bind(cue, tracks, scene, duration)
        for track in bound:
            named = named_by(track, cls)
            if track.id in tied_at and (named is track or family(events[tied_at[track.id]].label) == family(cls)):
                i = tied_at[track.id]
                events[i] = confirm(events[i], cue)
                continue
            ev = track_event(named, scene, description=cue.sentence, origin="both")
            if ev is None:
                continue
            keep = family(ev.label) != family(cls) and source(ev.label) == source(cls)  # the picture knows idle/moving
            label = ev.label if keep else cls
            ev = ev.model_copy(update={"label": label, "id": f"{label}_t{track.id}", "intensity": 0.75,
                                       "params": {**ev.params, **(BY_NAME[label].params if not keep else {})}})
            if track.id in tied_at:  # the story names what the picture could not: its sound replaces the guess
                events[tied_at[track.id]] = ev
            else:
                tied_at[track.id] = len(events)
                events.append(ev)
            tied[track.id] = ev
        if bound:
            anchor = (track_azimuth(bound[0]), track_depth(bound[0]))
            continue
        if cue.entry.layer == "bg" or cue.entry.continuous:
            if cls in bg_seen:
                continue
            bg_seen.add(cls)
        start = cue_time(cue, duration)
        ev = cue_event(cue, new_id(cls), duration, counts[cls],
                       place_cue(cue, start, duration if cue.entry.continuous else min(duration, start + 1.5), anchor))
        events.append(ev)
        if ev.layer == "fg" and ev.azimuth_deg is not None:
            anchor = (ev.azimuth_deg, ev.depth_m or 4.0)

    # 3. The ambience beds: the scene heading's place, else the place the picture showed, else the space's
    #    default, unless the screenplay laid some. A bed's confidence is how the place was known.
    if not any(e.layer == "bg" for e in events):
        scene = street_from_traffic(scene, events, min_confidence)
        from_heading = bool(sp and sp.ambience)
        names = place_beds(sp.ambience if sp and sp.ambience else ambience_for_place(scene.description), scene)
        known = from_heading or (sp is not None and scene.location != "unknown")
        conf = 1.0 if known else PICTURE_BED_CONFIDENCE if scene.location != "unknown" else PRESENCE_CONFIDENCE
        why = ["screenplay scene heading" if known else
               f"picture: {scene.evidence.get('reason', scene.location)}" if scene.location != "unknown" else
               "place unknown: neutral presence only"]
        def lay(names: list[str], here: SceneContext, conf: float, intensity: float, why: list[str],
                start: float = 0.0, end: float | None = None, where: str = "") -> None:
            for name in names or [ambience_for(here)[0]]:
                what = f"{name.replace('_', ' ')} for a {here.location} {here.description or 'scene'}{where}"
                bed = bed_event(name, new_id(name), duration, what, start_s=start, end_s=end, intensity=intensity)
                events.append(bed.model_copy(update={"confidence": conf, "evidence": why}))

        places = [] if from_heading else scene.evidence.get("places") or []
        if not places:
            lay(names, scene, conf, 0.35 if known or scene.location != "unknown" else 0.25, why)
        for place in places:  # shots in different places: each run of shots its own beds (tools/picture.shot_places)
            here = scene_at(scene, place["start_s"])
            lay(place_beds(ambience_for_place(here.description), here), here,
                PICTURE_BED_CONFIDENCE if here.location != "unknown" else PRESENCE_CONFIDENCE,
                0.35 if here.location != "unknown" else 0.25, [f"picture, these shots: {place['reason']}"],
                place["start_s"], place["end_s"], f", {place['start_s']:g}-{place['end_s']:g} s")
    notes = [f"unresolved CAPS in screenplay: {', '.join(sorted(set(sp.unresolved_caps)))}"] if sp and sp.unresolved_caps else []
    script = FoleyScript(duration_s=duration, scene=scene, events=events, notes=notes)
    return gate(script, tracks, min_confidence)


#: What a screenplay line naming the sound adds to a picture candidate's confidence (a noisy-or: the story is one
#: more, independent witness). A picture this far under the threshold is no candidate for the story to lift.
STORY_WEIGHT, LIFT_FLOOR = 0.5, 1.0 / 3.0


def agreed(picture: float, min_confidence: float) -> float:
    """Confidence when story and picture agree: gates weigh, the story lifts; it never vetoes what both show.
    A picture candidate at a third of the threshold or more reaches the threshold at least."""
    if picture < LIFT_FLOOR * min_confidence:
        return picture
    return min(1.0, max(picture, min_confidence, 1.0 - (1.0 - picture) * (1.0 - STORY_WEIGHT)))


def gate(script: FoleyScript, tracks: list[Track], min_confidence: float) -> FoleyScript:
    """Precision first: every event tied to a track takes its confidence from the track's evidence (a screenplay
    cue naming the same sound lifts it, see `agreed`), and ends where
    the track's shot ends; events below `min_confidence` move to `candidates`, recorded but not rendered."""
    by_id = {t.id: t for t in tracks}
    kept, held = [], list(script.candidates)
    for e in script.events:
        track = by_id.get(e.source_track) if e.source_track is not None else None
        if track is not None:
            track = named_by(track, e.label) if e.origin == "both" else track  # the story names an unnamed mover
            sound = sound_for_track(track, script.scene)
            conf = 0.0 if sound is None else sound.confidence
            if sound is not None and family(sound.label) != family(e.label):
                conf *= 0.5  # the track makes some sound, not obviously this one
            if e.origin == "both":
                conf = agreed(conf, min_confidence)
            start, end = max(e.start_s, track.start_s), min(e.end_s, track.end_s)
            e = e.model_copy(update={"confidence": round(conf, 3), "evidence": list(sound.evidence) if sound else e.evidence,
                                     "start_s": round(start, 3), "end_s": round(max(start, end), 3),
                                     "onsets_s": [o for o in e.onsets_s if start - 1e-6 <= o <= end + 1e-6]})
        (kept if e.confidence >= min_confidence else held).append(e)
    return script.model_copy(update={"events": kept, "candidates": held + handling_candidates(tracks, kept + held)})


#: Confidence of a hand moving fast against the body as a sound: a wrist's move alone does not show that a coat
#: rustled or an object was handled, so it is recorded (below any threshold the benchmark sweeps), never rendered.
HANDLING_CONFIDENCE = 0.15


def handling_candidates(tracks: list[Track], events: list[SoundEvent]) -> list[SoundEvent]:
    """A cloth/handling candidate for each person whose landmarks show hands moving against the body
    (`hand_moves`, tools/people.py), unless the script already has one on that track."""
    have = {(e.source_track, e.label) for e in events}
    out = []
    for t in tracks:
        moves = t.evidence.get("hand_moves", 0.0)
        if t.label != "person" or moves < 1 or (t.id, "cloth_rustle") in have:
            continue
        entry = BY_NAME["cloth_rustle"]
        out.append(SoundEvent(id=f"cloth_rustle_t{t.id}", label="cloth_rustle", layer="fg", start_s=round(t.start_s, 3),
                              end_s=round(t.end_s, 3), source_track=t.id, intensity=0.3, params=dict(entry.params),
                              origin="video", description=f"hands move against the body {moves:.0f} times (track {t.id})",
                              confidence=HANDLING_CONFIDENCE,
                              evidence=[f"{moves:.0f} fast wrist moves against the body from the landmarks",
                                        "no contact with an object seen: recorded, not rendered (a screenplay line naming it is)"]))
    return out


#: Times are written rounded to the millisecond; an onset that rounding moved just outside its span is still inside.
_ONSET_SLACK_S = 2e-3


def fit_to_clip(script: FoleyScript, duration: float, track_ids: set[int]) -> tuple[FoleyScript, list[str]]:
    """Make a model-written script playable: times inside the clip, onsets inside their event, real track ids."""
    notes, events = [], []
    for e in script.events:
        if min(e.end_s, duration) - max(e.start_s, 0.0) <= 0 and not 0.0 <= e.start_s == e.end_s < duration:
            notes.append(f"{e.id}: {e.start_s:g}-{e.end_s:g} s lies outside the {duration:.2f} s clip; dropped")
            continue  # clamping it would invent a sound at the clip's edge
        start = min(max(e.start_s, 0.0), max(duration - 0.05, 0.0))
        end = min(max(e.end_s, start), duration)
        upd: dict[str, Any] = {"start_s": round(start, 3), "end_s": round(end, 3),
                               "onsets_s": [o for o in e.onsets_s if start - _ONSET_SLACK_S <= o <= end + _ONSET_SLACK_S and o < duration]}
        if e.source_track is not None and e.source_track not in track_ids:
            notes.append(f"{e.id}: track {e.source_track} does not exist; treated as off-screen")
            upd["source_track"] = None
        if (start, end) != (e.start_s, e.end_s):
            notes.append(f"{e.id}: time span clipped to the {duration:.2f} s clip")
        events.append(e.model_copy(update=upd))
    return script.model_copy(update={"duration_s": duration, "events": events, "notes": script.notes + notes}), notes
