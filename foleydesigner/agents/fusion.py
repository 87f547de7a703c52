"""Screenplay–picture fusion: a cue binds to the picture candidate that makes its sound, instead of doubling it.

A screenplay line ("a red BALL BOUNCES across the room") and a track (a compact thing with hits at its lowest
points) are two views of one sound. The cue binds to the best-matching track by sound family, time and the
direction words of its sentence, among every track, low-confidence candidates included; bound, it is rendered
on that track (its onsets, its path) and its agreement lifts the track's confidence (script_writer.gate). A cue
that binds nothing is placed by its words: a crossing moves, "behind it" sits behind the thing it names.
"""

from __future__ import annotations

from dataclasses import dataclass

from foleydesigner.agents.evidence import clearly_a_person, sound_for_track
from foleydesigner.schemas import SceneContext, Track
from foleydesigner.tools.depth import geometric_depth_m
from foleydesigner.tools.screenplay import ScreenplayCue
from foleydesigner.units import azimuth_from_x

#: Which screenplay classes a tracked motion can stand for (used to tie a cue to a track instead of doubling it).
COMPATIBLE = {"footsteps": {"walking", "moving"}, "running_footsteps": {"walking", "moving"}, "heel_steps": {"walking"},
              "ball_bounce": {"bouncing"}, "engine_passby": {"moving"}, "truck_passby": {"moving"},
              "motorcycle_passby": {"moving"}, "engine_idle": {"moving", "static"}, "horse_hooves": {"walking", "moving"},
              "whoosh": {"moving"}, "cloth_rustle": {"moving", "walking"}, "dog_bark": {"walking", "moving"}}
#: Families: a cue of one class confirms a visible event of another ('kids run' confirms tracked footsteps).
SAME_SOUND = {"running_footsteps": "footsteps", "heel_steps": "footsteps", "truck_passby": "engine_passby",
              "motorcycle_passby": "engine_passby"}
#: Sources: sounds one tracked thing can make. A car that idles and then drives is one car, not two.
SOURCE = {"footsteps": "walker", "ball_bounce": "ball", "engine_passby": "vehicle", "engine_idle": "vehicle",
          "car_horn": "vehicle", "impact_wood": "impact", "impact_metal": "impact"}
#: How a cue and a track agree on the sound: the same family, the same source, or only a compatible motion.
FAMILY_MATCH, SOURCE_MATCH, MOTION_MATCH = 1.0, 0.8, 0.5
#: An unnamed track the story names must fit the name this well under the motion rules (shape, size, travel).
NAMED_FIT = 0.3
#: A cue binds when its best score reaches this: a motion-only match needs time or direction to agree too.
BIND_MIN = 0.4
#: A screenplay time that misses a track by this many seconds halves the match (explicit [mm:ss] markers).
TIME_HALF_S = 1.0
#: "Behind it" is this many times the named thing's distance; "far behind" this many.
BEHIND_FACTOR, FAR_BEHIND_FACTOR = 2.0, 4.0
#: The distance of the people or things "behind them" refers to when no earlier cue placed them.
UNANCHORED_DEPTH_M = 4.0


def family(label: str) -> str:
    return SAME_SOUND.get(label, label)


def source(label: str) -> str | None:
    return SOURCE.get(family(label))


def track_azimuth(track: Track, at: float = 0.5) -> float:
    """The track's azimuth at a fraction `at` of its boxes (0 first, 1 last)."""
    x, _y, w, _h = track.boxes[min(len(track.boxes) - 1, int(at * (len(track.boxes) - 1) + 0.5))]
    return azimuth_from_x(x + w / 2, track.frame_width)


def track_depth(track: Track) -> float:
    """The track's median geometric depth in metres (its middle box)."""
    box = track.boxes[len(track.boxes) // 2]
    return geometric_depth_m(tuple(box), label=track.label, frame_width=track.frame_width,
                             frame_height=track.frame_height)


def cue_time(cue: ScreenplayCue, duration: float) -> float:
    t = cue.time_s if cue.time_s is not None else cue.position * duration
    return float(min(max(t, 0.0), max(duration - 0.25, 0.0)))


def named_by(track: Track, cls: str) -> Track:
    """The track as the screenplay names it. Background subtraction knows that something moved, not what
    ("object"); when a cue names a vehicle or a ball, the unnamed track is weighed as one (its shape and motion
    still have to fit: the gates measure them). A track a detector named keeps its name, except a "person" that
    only some of the body detector's votes found and the pose model never did, which the story may call a vehicle
    (a car's side fools the body detector now and then; a body the landmarks follow is a body)."""
    label = {"vehicle": "vehicle", "ball": "ball"}.get(source(cls) or "")
    doubtful = track.label == "person" and label == "vehicle" and not clearly_a_person(track.evidence)
    return track.model_copy(update={"label": label}) if label and (track.label == "object" or doubtful) else track


def sound_match(cls: str, track: Track, scene: SceneContext) -> float:
    """How well a track can make the cue's sound, whatever its confidence: the gates weigh that later."""
    sound = sound_for_track(track, scene)
    renamed = named_by(track, cls)
    if renamed is not track and (named := sound_for_track(renamed, scene)) is not None \
            and family(named.label) == family(cls) and named.confidence >= NAMED_FIT:
        return SOURCE_MATCH  # the story names what the picture could not
    if sound is None:
        return 0.0
    if family(sound.label) == family(cls):
        return FAMILY_MATCH
    if source(sound.label) is not None and source(sound.label) == source(cls):
        return SOURCE_MATCH
    if source(sound.label) is not None and source(cls) is not None:
        return 0.0  # the picture says it is another kind of thing (a falling object is not a car)
    return MOTION_MATCH if track.motion in COMPATIBLE.get(cls, set()) else 0.0


def time_match(cue: ScreenplayCue, track: Track, duration: float) -> float:
    """1 inside the track's span; an explicit time marker that misses decays, a reading-order guess barely."""
    t = cue_time(cue, duration)
    gap = max(0.0, track.start_s - t, t - track.end_s)
    if cue.time_s is not None:
        return 0.5 ** (gap / TIME_HALF_S)
    return 1.0 - 0.3 * min(1.0, gap / max(duration, 1e-3))


def direction_match(cue: ScreenplayCue, track: Track) -> float:
    """Direction words against where the track is: a crossing's sense, or the side it is on."""
    if cue.path_deg is not None:
        moved = track_azimuth(track, 1.0) - track_azimuth(track, 0.0)
        want = cue.path_deg[1] - cue.path_deg[0]
        return 0.8 if abs(moved) < 2.0 else 1.0 if moved * want > 0 else 0.6
    if cue.azimuth_deg is not None and abs(cue.azimuth_deg) <= 90:
        az = track_azimuth(track)
        return 0.8 if abs(az) < 5.0 else 1.0 if az * cue.azimuth_deg > 0 else 0.6
    return 1.0


def bind_score(cue: ScreenplayCue, track: Track, scene: SceneContext, duration: float) -> float:
    if cue.offscreen or cue.entry.layer != "fg":
        return 0.0  # an off-screen sound is not the thing in the picture
    fam = sound_match(cue.entry.name, track, scene)
    return fam and fam * time_match(cue, track, duration) * direction_match(cue, track)


def bind(cue: ScreenplayCue, tracks: list[Track], scene: SceneContext, duration: float) -> list[Track]:
    """The tracks a cue is about, best first. A cue with no direction or time that names a family several tracks
    make (three walkers, 'people walk') confirms them all; otherwise it binds the best one."""
    scored = sorted(((bind_score(cue, t, scene, duration), t) for t in tracks), key=lambda p: -p[0])
    scored = [(s, t) for s, t in scored if s >= BIND_MIN]
    if not scored:
        return []
    specific = cue.time_s is not None or cue.path_deg is not None or cue.azimuth_deg is not None
    if specific:
        return [scored[0][1]]
    return [t for s, t in scored if s >= scored[0][0] - 1e-6 and sound_match(cue.entry.name, t, scene) == FAMILY_MATCH] \
        or [scored[0][1]]


@dataclass(frozen=True)
class Place:
    """Where an unbound cue sits: an azimuth (or a path from → to over its span) and a depth."""

    azimuth_deg: float | None
    depth_m: float | None
    path: list[tuple[float, float]] | None = None  # (t_s, azimuth) keyframes, for a moving cue


def place_cue(cue: ScreenplayCue, start_s: float, end_s: float, anchor: tuple[float, float] | None) -> Place:
    """A crossing moves from one side to the other over the event; "behind it" sits on the side of the thing it
    names (`anchor`: its azimuth and depth), further away, not behind the listener."""
    if cue.relative:  # nothing named before it: behind the characters, in the middle of the picture
        factor = FAR_BEHIND_FACTOR if cue.relative == "far behind" else BEHIND_FACTOR
        az, depth = anchor if anchor is not None else (0.0, UNANCHORED_DEPTH_M)
        return Place(az, round(max(1.0, depth) * factor, 2))
    if cue.path_deg is not None:
        end = max(end_s, start_s + 0.5)
        return Place(cue.path_deg[0], None, [(round(start_s, 3), cue.path_deg[0]), (round(end, 3), cue.path_deg[1])])
    return Place(cue.azimuth_deg, None)
