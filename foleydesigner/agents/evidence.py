"""What the agents know about the visual evidence: track text for prompts, a track-detail tool, motion rules.

Shared by FilmScribe, its validator, the script writer and the Tree-of-Thought search, so every agent reads
the same facts the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langchain_core.tools import StructuredTool

from foleydesigner.schemas import SceneContext, Track
from foleydesigner.tools.machines import RHYTHM_SHARE
from foleydesigner.tools.onsets import displacements
from foleydesigner.tools.sweeps import SWEEP_S

#: Normal walking is 1.6–2.2 steps/s (Ji 2005); used when the tracker found no footfalls in a walker's boxes.
DEFAULT_CADENCE_HZ = 1.8
#: Step length ≈ 0.41 × body height, so cadence ≈ speed in body heights per second / 0.41 (tools/onsets.py).
STEP_PER_HEIGHT = 0.41
#: A sliding or thrown object faster than this (frame widths per second) swishes; slower ones are silent.
WHOOSH_SPEED = 0.35


def side_of(x_center: float, width: float) -> str:
    third = width / 3.0
    return "left" if x_center < third else "right" if x_center > 2 * third else "centre"


def track_path(track: Track) -> str:
    x0 = track.boxes[0][0] + track.boxes[0][2] / 2
    x1 = track.boxes[-1][0] + track.boxes[-1][2] / 2
    a, b = side_of(x0, track.frame_width), side_of(x1, track.frame_width)
    return a if a == b else f"{a}->{b}"


def track_speed(track: Track) -> float:
    """Mean horizontal speed in frame widths per second."""
    span = track.end_s - track.start_s
    if span <= 0:
        return 0.0
    x0 = track.boxes[0][0] + track.boxes[0][2] / 2
    x1 = track.boxes[-1][0] + track.boxes[-1][2] / 2
    return abs(x1 - x0) / track.frame_width / span


def track_summary(tracks: list[Track]) -> str:
    if not tracks:
        return "(no moving objects found)"
    lines = []
    for t in tracks:
        onsets = ", ".join(f"{o:.2f}" for o in t.onsets_s[:12]) + (" …" if len(t.onsets_s) > 12 else "")
        lines.append(f"- track {t.id}: {t.label}, {t.motion}, {t.start_s:.2f}-{t.end_s:.2f} s, {track_path(t)}, "
                     f"onsets [{onsets}]")
    return "\n".join(lines)


def track_details(track: Track) -> dict[str, Any]:
    """Where a track is every half second (x centre as a fraction of the width, box height in pixels)."""
    path = []
    next_t = track.start_s
    for t, (x, _y, w, h) in zip(track.t_s, track.boxes, strict=True):
        if t + 1e-9 >= next_t:
            path.append({"t_s": round(t, 2), "x": round((x + w / 2) / track.frame_width, 3), "h_px": round(h)})
            next_t = t + 0.5
    return {"id": track.id, "label": track.label, "motion": track.motion, "start_s": track.start_s,
            "end_s": track.end_s, "speed_widths_per_s": round(track_speed(track), 3), "onsets_s": track.onsets_s,
            "path": path}


def describe_track_tool(tracks: list[Track]) -> StructuredTool:
    """A LangChain tool over this clip's tracks, for LLM agents that want more than the summary."""
    by_id = {t.id: t for t in tracks}

    def describe_track(track_id: int) -> dict[str, Any]:
        """Details of one motion track: label, motion class, time span, speed, visual onsets (footfalls,
        bounces, impacts) and its position every half second (x as a fraction of the frame width)."""
        if track_id not in by_id:
            raise ValueError(f"no track {track_id}; tracks are {sorted(by_id)}")
        return track_details(by_id[track_id])

    return StructuredTool.from_function(describe_track)


# --- motion-track rules: what a tracked thing sounds like --------------------------------------------------

@dataclass(frozen=True)
class TrackSound:
    label: str  # lexicon class
    onsets_s: list[float]
    params: dict[str, Any] = field(default_factory=dict)
    intensity: float = 0.7
    confidence: float = 1.0  # how strongly the picture supports this sound (0–1)
    evidence: tuple[str, ...] = ()  # the facts behind it, readable


def pose_gait(track: Track) -> float:
    """Gait strength from the feet's landmarks (0–1, GAIT_CLEAR when certain): steps that strike in turn, three
    or more of them. 0 without landmark steps."""
    ev = track.evidence
    steps, alt = ev.get("pose_steps", 0.0), ev.get("pose_alternation", 0.0)
    if steps < 2:
        return 0.0
    return GAIT_CLEAR * _ramp(alt, POSE_ALTERNATION) * _ramp(steps, 3.0)


def cadence_onsets(track: Track) -> list[float]:
    """Footfalls for a walker whose boxes gave none: a regular gait at the cadence its speed implies."""
    heights = sorted(b[3] for b in track.boxes)
    height_px = heights[len(heights) // 2] or 1.0
    speed_heights = track_speed(track) * track.frame_width / height_px
    cadence = min(2.8, max(1.4, speed_heights / STEP_PER_HEIGHT)) if speed_heights > 0.05 else DEFAULT_CADENCE_HZ
    out, t = [], track.start_s + 0.5 / cadence
    while t <= track.end_s:
        out.append(round(t, 3))
        t += 1.0 / cadence
    return out


# --- evidence: each rule needs positive evidence, and weak evidence gives a low confidence ---------------------
#: Travel (body heights over the track) at which a walker's translation is beyond doubt; seated people and
#: talking heads sway far less than one body height.
WALK_TRAVEL = 1.0
#: Gait periodicity (tools/onsets.GaitEstimate.strength) at which the step signal is beyond doubt.
GAIT_CLEAR = 0.45
#: A walker's box is at most this many times as wide as tall (walkers on the real clips: 0.3-2.0, cartoon runners
#: with limbs flung out included); from this plus one on, no walker (the overhead street's "person" on a car: 4.2).
WALKER_WIDEST = 2.5
#: A vehicle: wider than tall by this, at least this share of the frame, crossing this share of the width.
VEHICLE_ASPECT, VEHICLE_AREA, VEHICLE_TRAVEL = 1.4, 0.004, 0.3
#: A moving thing at the frame edge more than this share of the time, crossing little of it, reaches into the frame
#: (the coin clip's pen: 85 % at the edge, 17 % of the width; the overhead street's cars in the edge lanes: 100 %,
#: 110-120 % of the width).
REACH_EDGE = 0.5
#: A vehicle's side is at most about this many times as long as tall (a car 2.8, a bus 3.5); twice that, no vehicle.
VEHICLE_LONGEST = 4.0
#: How fast (ln of the box-size ratio per second) a walker can grow by walking at the camera: 1.4 m/s is 0.4/s
#: at 3.5 m; from GROWTH_RATE[1] on (2 m away) the growth is no evidence of walking.
GROWTH_RATE = (0.4, 0.7)
#: An object whose stop can be heard as a hit is compact: at most this share of the frame.
IMPACT_AREA = 0.03
#: Displacements (agents/evidence._displaced) at which an unnamed thing's stops are hits beyond doubt, and the
#: ceiling on an impact's confidence from none (the unnamed ceiling, _named) to that many.
DISPLACED_CLEAR, DISPLACED_CEILING = 2, (0.45, 0.8)
#: Confidence of a sweep (tools/sweeps.py) at SWEEP_S, and at twice that or longer: a run that long of a big share
#: of the picture moving at two frame widths a second is clear (nothing else on the 44 real clips lasts 0.13 s).
SWEEP_CONFIDENCE = (0.6, 0.8)
#: A bouncing thing is compact: at most this share of the frame, about as wide as tall, 4–50 cm across.
BALL_AREA, BALL_ASPECT, BALL_SIZE_M = 0.02, (0.6, 1.7), (0.04, 0.5)


def _ramp(x: float, full: float) -> float:
    return float(min(1.0, max(0.0, x / full)))


#: Frames of body landmarks (tools/pose.py) at which a person is beyond doubt: a second of them at ~8 per second.
POSE_CLEAR_FRAMES = 8
#: Foot strikes that alternate feet at least this often are a gait (tools/people.py).
POSE_ALTERNATION = 0.6


#: A person the detectors keep finding (landmarks on POSE_CLEAR_FRAMES, or the body detector on at least half
#: its tries) who travels this many body heights is walking whatever the box's bob says; the weight the weak
#: periodicity then keeps at least (the feet still weigh).
SURE_WALK_TRAVEL, SURE_WALK_STRIDE = 1.5, 0.8


def clearly_a_person(ev: dict[str, float]) -> bool:
    hits, tries = ev.get("person_hits", 0.0), ev.get("person_tries", 0.0)
    return ev.get("pose_frames", 0.0) >= POSE_CLEAR_FRAMES or (hits >= 2 and hits >= 0.5 * tries)


def person_evidence(track: Track) -> tuple[float, list[str]]:
    """How sure we are it is a person: a pose model's landmarks followed frame after frame, and the pose
    detector's votes (or a detector backend's label)."""
    ev = track.evidence
    hits, tries = ev.get("person_hits"), ev.get("person_tries")
    frames = ev.get("pose_frames", 0.0)
    if frames >= 4:
        return (round(max(0.6, _ramp(frames, POSE_CLEAR_FRAMES)), 3),
                [f"body landmarks on {frames:.0f} frames, person detected {hits or 0:.0f} of {tries or 0:.0f} times"])
    if hits is None:  # a detector backend (transformers, VLM) labelled it itself
        return (0.9, ["labelled person by the detector"]) if track.label == "person" else (0.0, [])
    if hits >= 2:
        return 1.0, [f"body detector found a person {hits:.0f} of {tries:.0f} times"]
    if hits >= 1:
        return 0.6, ["body detector found a person once"]
    return 0.0, ["no body detection"]


#: Confidence of a running machine at the least steady beat the picture pass keeps, and at a pure tone of motion:
#: the beat's gates (tools/machines.py) are what no still shot of the 44 real clips passes.
MACHINE_CONF = (0.6, 0.9)
#: Weight of a flight that is a clean parabola at a scale gravity does not give (slow motion, animation, toy
#: physics): under the threshold alone (a candidate), lifted when the screenplay names the bounce (gate).
STYLISED_FLIGHT = 0.45
#: Weight of a flight that rises and falls but is a poor parabola (R² 0.5–0.8): a wobbly or occluded bounce.
ROUGH_FLIGHT = 0.3


def _ballistic(track: Track) -> tuple[int, int, float]:
    """(flights, of them at a ball's gravity scale, score 0–1) of the flights between bounces: each parabola opening downwards on screen counts 1
    when its size under real gravity is a ball's, STYLISED_FLIGHT when the scale is off, ROUGH_FLIGHT when the
    arc is rough. The shape is the evidence; the gravity scale only weighs it (stylised motion still bounces)."""
    t = np.asarray(track.t_s)
    y = np.asarray([b[1] + b[3] / 2 for b in track.boxes])
    cuts = [0] + [int(np.argmin(np.abs(t - o))) for o in track.onsets_s] + [len(t) - 1]
    good, real_scale, score, total = 0, 0, 0.0, 0
    for k, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        if b - a < 4:
            continue
        size = float(np.median([bx[3] for bx in track.boxes[a:b + 1]]))
        rise = float(np.ptp(y[a:b + 1]))
        if rise < 0.5 * size and k == len(cuts) - 2:
            continue  # after the last hit it rolls or lies still: that says nothing against a ball
        total += 1
        if rise < 0.5 * size:
            continue  # no flight: it slid or rolled between the "hits"
        coef = np.polyfit(t[a:b + 1] - t[a], y[a:b + 1], 2)
        fit = np.polyval(coef, t[a:b + 1] - t[a])
        ss = float(np.sum((y[a:b + 1] - y[a:b + 1].mean()) ** 2)) or 1e-9
        r2 = 1 - float(np.sum((y[a:b + 1] - fit) ** 2)) / ss
        if coef[0] <= 0 or r2 < 0.5:  # y grows downwards: gravity opens the parabola upwards in pixels
            continue
        # Gravity sets the scale: the arc's curvature is g/2 in pixels per s², so the thing's size in metres
        # follows from its size in pixels (for a whole flight of T s this is g·T²/8 over its rise; the curvature
        # holds for the drop before the first hit too). A ball is 4–50 cm; a leaf drifting would be metres wide.
        size_m = 9.81 * size / (2.0 * coef[0])
        real = BALL_SIZE_M[0] <= size_m <= BALL_SIZE_M[1]
        weight = (1.0 if real else STYLISED_FLIGHT) if r2 >= 0.8 else ROUGH_FLIGHT
        good += int(weight >= STYLISED_FLIGHT)
        real_scale += int(weight == 1.0)
        score += weight
    return good, real_scale, (score / total if total else 0.0)


def _named(track: Track) -> float:
    """Ceiling on an impact's or a swish's confidence. Background subtraction knows that something moved, not
    what: a blob that halts may be a cup set down or a hand, a highlight, a head turning. Unnamed, the rule
    stays under the default threshold (a candidate, rendered only if the screenplay names it); an object a
    detector named (transformers, VLM backends) may pass."""
    return 0.45 if track.label in ("object", "person") or "person_hits" in track.evidence else 0.8


def _falling_stops(track: Track) -> float:
    """Share of a track's stops it runs into moving downwards: a contact with the ground or a table. A hand
    or a head that swings and halts mid-air stops sideways or upwards."""
    t = np.asarray(track.t_s)
    c = np.asarray([(b[0] + b[2] / 2, b[1] + b[3] / 2) for b in track.boxes])
    ok = 0
    for o in track.onsets_s:
        k = int(np.argmin(np.abs(t - o)))
        if k < 3:
            continue
        v = c[k] - c[k - 3]
        ok += int(v[1] > 0 and v[1] >= 0.7 * float(np.hypot(*v)))
    return ok / len(track.onsets_s) if track.onsets_s else 0.0


def _displaced(track: Track, falls_only: bool = False) -> int:
    """Onsets that end a displacement (tools/onsets.displacements): the thing rested, moved at least its own size
    keeping its shape, and rests again. What background subtraction cannot name, this motion does: an object
    struck or set down, seen from any side (a table from above has no "falling")."""
    f, t = track.frames, track.t_s
    if len(f) < 3 or t[-1] <= t[0]:
        return 0
    return displacements(track, (f[-1] - f[0]) / (t[-1] - t[0]), falls_only=falls_only)


def _vertical_travel(track: Track) -> tuple[float, float]:
    """(vertical travel in frame heights, horizontal travel in frame widths) from the first box to the last."""
    (x0, y0, w0, h0), (x1, y1, w1, h1) = track.boxes[0], track.boxes[-1]
    return (abs(y1 + h1 / 2 - y0 - h0 / 2) / track.frame_height, abs(x1 + w1 / 2 - x0 - w0 / 2) / track.frame_width)


def lasts(track: Track, min_s: float) -> bool:
    """The track lasts min_s or longer, or is a sweep (tools/sweeps.py): brief by nature, its own rule has already
    asked it to last SWEEP_S."""
    return track.end_s - track.start_s >= min_s or track.label == "sweep"


def sound_for_track(track: Track, scene: SceneContext) -> TrackSound | None:
    """Foley practice as rules, each gated by positive evidence: people walk (footsteps on the scene's surface,
    one onset per step), balls bounce, vehicles pass or idle, objects that stop hard hit something, fast objects
    swish. None: it makes no sound. The confidence says how well the evidence holds; the script writer renders
    only sounds above the run's threshold and records the rest as candidates."""
    onsets = list(track.onsets_s)
    ev = track.evidence
    if track.label == "sweep":  # a big region crossing a held shot fast (tools/sweeps.py): clear from SWEEP_S on
        span = ev.get("sweep_s", 0.0)
        conf = SWEEP_CONFIDENCE[0] + (SWEEP_CONFIDENCE[1] - SWEEP_CONFIDENCE[0]) * _ramp(span - SWEEP_S, SWEEP_S)
        return TrackSound("whoosh", onsets[:1] or [track.start_s], {}, 0.6, round(conf * float(span >= SWEEP_S), 3),
                          (f"{ev.get('sweep_share', 0.0):.0%} of the picture sweeps past for {span:.2f} s",))
    surface = next((s for s in scene.surfaces), None) or ("concrete" if scene.location == "outdoor" else "wood")
    travel = ev.get("travel_heights", 1.0)
    edge = ev.get("at_edge", 0.0)
    if track.motion == "walking" or (track.label == "person" and track.motion in ("moving", "bouncing")):
        person, why = person_evidence(track)
        steps = onsets or cadence_onsets(track)
        gait = max(ev.get("gait_strength", GAIT_CLEAR if onsets else 0.0), pose_gait(track))
        if ev.get("pose_steps", 0.0) >= 2:
            why.append(f"{ev['pose_steps']:.0f} foot strikes from the landmarks, {ev.get('pose_alternation', 0.0):.0%} "
                       "alternating")
        feet = ev.get("bottom_seen", 1.0)
        # Travel counts towards or away from the camera too: a walker approaching grows instead of crossing, but
        # only as fast as a walk allows (a thing falling at the lens grows threefold in a second; see GROWTH_RATE).
        duration = max(track.end_s - track.start_s, 1e-3)
        grow = abs(math.log(max(ev.get("growth", 1.0), 1e-3)))
        moved = max(travel, 2.0 * grow * (1.0 - _ramp(grow / duration - GROWTH_RATE[0], GROWTH_RATE[1] - GROWTH_RATE[0])))
        stride = _ramp(gait, GAIT_CLEAR)
        if clearly_a_person(ev) and moved >= SURE_WALK_TRAVEL:
            # A body the detectors keep finding, crossing ground with its feet in frame, walks: a small or
            # half-hidden walker's box bobs too little for a clear periodicity, and that weighs less here.
            stride = max(stride, SURE_WALK_STRIDE)
        conf = max(person, 0.3) * _ramp(moved, WALK_TRAVEL) * stride * (0.4 + 0.6 * feet)
        # A walker's box is upright, or about square seen from overhead; far wider than tall it is a body lying
        # down or none at all (a car from above that the body detector took for a person).
        wide = ev.get("aspect_w_h", 0.5)
        if wide > WALKER_WIDEST:
            conf *= 1.0 - _ramp(wide - WALKER_WIDEST, 1.0)
            why.append(f"box {wide:.1f}× as wide as tall")
        why += [f"travels {travel:.2f} body heights, grows ×{ev.get('growth', 1.0):.2f}", f"gait periodicity {gait:.2f}", f"feet in frame {feet:.0%}"]
        label = "running_footsteps" if len(steps) / duration > 2.5 else "footsteps"
        return TrackSound(label, steps, {"surface": surface}, confidence=round(conf, 3), evidence=tuple(why))
    if track.label == "machine":  # a patch of a still shot beating steadily (tools/machines.py): a motor runs
        share = ev.get("rhythm_share", 0.0)
        conf = MACHINE_CONF[0] + (MACHINE_CONF[1] - MACHINE_CONF[0]) * _ramp(share - RHYTHM_SHARE, 1.0 - RHYTHM_SHARE)
        why = (f"{ev.get('area_frac', 0.0):.0%} of the frame beats at {ev.get('rhythm_hz', 0.0):.1f} Hz, "
               f"{share:.0%} of its motion in that one rate, both halves of the shot",)
        return TrackSound("engine_idle", [], {}, 0.7, round(conf, 3), why)
    if track.label == "vehicle":
        area, aspect, across = ev.get("area_frac", VEHICLE_AREA), ev.get("aspect_w_h", VEHICLE_ASPECT), ev.get("travel_widths", 0.0)
        up, side = _vertical_travel(track)
        if up > 2 * side:  # seen from above, driving up or down the frame: long that way, crossing the height
            aspect, across = 1.0 / max(aspect, 1e-3), max(across, up)
        inside = scene.location in ("indoor", "vehicle")
        conf = (0.0 if inside else 1.0) * _ramp(area, VEHICLE_AREA) * _ramp(aspect, VEHICLE_ASPECT) * (
            1.0 - _ramp(aspect - VEHICLE_LONGEST, VEHICLE_LONGEST))  # longer than a bus: a horizon band, a kerb
        why = [f"box {aspect:.2f}× as wide as tall", f"{area:.2%} of the frame", f"crosses {across:.0%} of the width"]
        if track.motion == "static":
            return TrackSound("engine_idle", [], {}, 0.7, round(conf * 0.8, 3), tuple(why))
        conf *= _ramp(across, VEHICLE_TRAVEL)
        # Held at the frame's edge most of the time without crossing the frame, it reaches in from outside it
        # (a pen or a hand pushing something, a branch): a car at the edge of the picture drives across it.
        reach = _ramp(edge - REACH_EDGE, 1.0 - REACH_EDGE) * (1.0 - _ramp(across, 2 * VEHICLE_TRAVEL))
        if reach > 0:
            conf *= 1.0 - reach
            why.append(f"at the frame edge {edge:.0%} of the time")
        return TrackSound("engine_passby", [], {}, 0.7, round(conf, 3), tuple(why))
    if track.motion == "bouncing" or (track.label == "ball" and onsets):
        area, aspect = ev.get("area_frac", 0.0), ev.get("aspect_w_h", 1.0)
        # Compactness weighs, it does not veto: a ball close to the lens fills more of the frame.
        compact = (1.0 if area <= BALL_AREA else max(0.3, 1.0 - math.log2(area / BALL_AREA) / 3)) * (
            1.0 if BALL_ASPECT[0] <= aspect <= BALL_ASPECT[1] else 0.5)
        flights, real, ballistic = _ballistic(track)
        conf = compact * ballistic * _ramp(real + 0.5 * (flights - real), 3) * (1.0 - edge)
        why = [f"{area:.2%} of the frame, {aspect:.2f}× as wide as tall", f"{flights} ballistic flights (score {ballistic:.0%})",
               f"{len(onsets)} hits at lowest points"]
        return TrackSound("ball_bounce", onsets, {}, 0.7, round(conf, 3), tuple(why))
    if track.motion == "moving" and onsets:
        # A hand entering from the frame edge, a head turning, an arm swinging: all move and stop without
        # hitting anything. A contact is a compact object falling onto something and staying there.
        area = ev.get("area_frac", 0.0)
        falling = _falling_stops(track)
        # Displacements are the motion's own name for the thing: a hand or a blob does not come to rest elsewhere
        # with its shape kept, again and again. Two lift the unnamed ceiling (one fall or landing, half of the way).
        landed = int(ev.get("landings", 0.0))  # landing where it then lies (tools/tracklets.py)
        displaced = _displaced(track) + landed
        if displaced < DISPLACED_CLEAR:  # one move alone could be a far walker's few steps: only a fall or a landing counts
            displaced = _displaced(track, falls_only=True) + landed
        moved = _ramp(displaced, DISPLACED_CLEAR)
        conf = (max(_named(track), DISPLACED_CEILING[0] + (DISPLACED_CEILING[1] - DISPLACED_CEILING[0]) * moved)
                * (1.0 - edge) * _ramp(travel, 1.5) * max(falling, moved)
                * float(area <= IMPACT_AREA and track.label != "person"))
        metal = "metal" in scene.surfaces
        why = [f"stops hard {len(onsets)} times, {falling:.0%} of them falling", f"{area:.2%} of the frame",
               f"at the frame edge {edge:.0%} of the time", f"travels {travel:.2f} sizes"]
        if displaced:
            why.append(f"{displaced} times at rest, moved its own size or more keeping its shape, and at rest again")
        return TrackSound("impact_metal" if metal else "impact_wood", onsets, {}, 0.65, round(conf, 3), tuple(why))
    if track.motion == "moving" and track_speed(track) >= WHOOSH_SPEED:
        speed = track_speed(track)
        compact = float(ev.get("area_frac", 0.0) <= IMPACT_AREA and track.label != "person")
        conf = _named(track) * (1.0 - edge) * compact * _ramp(speed, 2 * WHOOSH_SPEED)
        return TrackSound("whoosh", [], {}, 0.4, round(conf, 3), (f"moves {speed:.2f} frame widths/s",))
    return None


def sounding(track: Track, scene: SceneContext, min_confidence: float = 0.0) -> bool:
    sound = sound_for_track(track, scene)
    return sound is not None and sound.confidence >= min_confidence
