"""What a person's landmarks say: foot contacts (footsteps, landings), seated / standing / walking, hand moves.

Landmarks are per frame (tools/pose.py), so none of this depends on the camera holding still: a foot in stance
is still against the ground, so the camera's own motion (tools/camera.py offsets, source pixels) is taken out
and a contact is a foot that stops. Speeds are in body heights per second, so near and far people behave alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.ndimage import median_filter

from foleydesigner.tools.pose import (
    FEET,
    L_ANKLE,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    L_WRIST,
    R_ANKLE,
    R_HIP,
    R_KNEE,
    R_SHOULDER,
    R_WRIST,
)

log = logging.getLogger(__name__)

State = Literal["walking", "standing", "seated"]
#: A foot in stance moves less than this (body heights per second, after the camera is taken out); a swinging
#: foot more than SWING. Walking at 1.4 m/s swings each foot at ~2× body speed ≈ 1.6 heights/s; landmark jitter
#: on a 100 px person is ~0.2 heights/s.
STANCE, SWING = 0.35, 0.8
#: One foot cannot strike twice within this (a step cycle is ≥ 0.5 s even sprinting).
SAME_FOOT_GAP_S = 0.3
#: A planted foot stays still at least this long (stance is ≥ 0.3 s of a stride even sprinting).
MIN_STANCE_S = 0.15
#: Both feet striking within this is one landing (after a jump), not two steps.
LANDING_GAP_S = 0.1
#: Two strikes closer than this are one (sprinting cadence tops out near 3.5 steps/s): the landmark model swaps
#: left and right now and then, which would otherwise read one strike as two.
MIN_STEP_GAP_S = 0.25
#: Wrist speed relative to the hips (heights/s) at which a hand is moving against something.
HAND_MOVE = 1.5


@dataclass(frozen=True)
class Contact:
    t_s: float
    foot: int  # 0 left, 1 right, 2 both (a landing)


@dataclass
class Gait:
    contacts: list[Contact] = field(default_factory=list)
    state: State = "standing"
    alternation: float = 0.0  # share of consecutive steps that change foot
    hand_moves_s: list[float] = field(default_factory=list)
    feet_xy: np.ndarray | None = None  # (n, 2) sole position per landmark frame, source pixels

    @property
    def onsets_s(self) -> list[float]:
        return [c.t_s for c in self.contacts]


def body_height(lm: np.ndarray) -> np.ndarray:
    """Per frame body scale in pixels: shoulders to ankles along the limbs, ÷ 0.8 (their share of standing height)."""
    sh = lm[:, [L_SHOULDER, R_SHOULDER], :2].mean(axis=1)
    hip = lm[:, [L_HIP, R_HIP], :2].mean(axis=1)
    torso = np.hypot(*(sh - hip).T)
    legs = np.mean([np.hypot(*(lm[:, h, :2] - lm[:, k, :2]).T) + np.hypot(*(lm[:, k, :2] - lm[:, a, :2]).T)
                    for h, k, a in ((L_HIP, L_KNEE, L_ANKLE), (R_HIP, R_KNEE, R_ANKLE))], axis=0)
    return np.maximum.reduce([np.ones(len(lm)), 1.9 * torso, torso + legs]) / 0.8


def _speed(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Speed of a 2-D path at each sample (pixels/s), central differences on uneven times."""
    if len(t) < 2:
        return np.zeros(len(t))
    return np.hypot(np.gradient(p[:, 0], t), np.gradient(p[:, 1], t))


def foot_contacts(t: np.ndarray, lm: np.ndarray, camera: np.ndarray | None = None) -> list[Contact]:
    """Foot strikes from heel, ankle and foot-index landmarks: for each foot, the moments it goes from swinging
    to still against the ground (hysteresis between SWING and STANCE); both feet together are one landing.

    t: (n,) seconds; lm: (n, 33, ≥2) landmarks in source pixels; camera: (n, 2) the camera's offset at each
    sample (tools/picture.py), taken out so a panned or hand-held shot reads the feet against the ground."""
    t, lm = np.asarray(t, float), np.asarray(lm, float)
    if len(t) < 4:
        return []
    h = float(np.median(body_height(lm)))
    cam = np.zeros((len(t), 2)) if camera is None else np.asarray(camera, float)
    k = 3 if len(t) >= 6 else 1
    found: list[Contact] = []
    for foot, (heel, ankle, toe) in enumerate(FEET):
        sole = lm[:, [heel, ankle, toe], :2].mean(axis=1) - cam
        if k > 1:
            sole = median_filter(sole, size=(k, 1), mode="nearest")
        v = _speed(sole, t) / h
        swinging = False
        for i in range(len(t)):
            if v[i] >= SWING:
                swinging = True
            elif swinging and v[i] <= STANCE and not (v[(t > t[i]) & (t <= t[i] + MIN_STANCE_S)] >= SWING).any():
                # A foot planted stays planted for a while; one that only pauses (the top of a jump, a knee
                # raised) moves on at once.
                # The strike falls between the last swinging sample and this still one: where speed crosses
                # halfway, linearly.
                mid = (SWING + STANCE) / 2
                a, b = t[i - 1], t[i]
                va, vb = v[i - 1], v[i]
                frac = 0.0 if va <= mid else float(np.clip((va - mid) / max(va - vb, 1e-9), 0.0, 1.0))
                found.append(Contact(float(a + frac * (b - a)), foot))
                swinging = False
    return _merge(found)


def _merge(found: list[Contact]) -> list[Contact]:
    out: list[Contact] = []
    for c in sorted(found, key=lambda c: c.t_s):
        same = [o for o in out if o.foot in (c.foot, 2) and c.t_s - o.t_s < SAME_FOOT_GAP_S]
        if same:
            continue  # a jittery second strike of a foot already down
        if out and out[-1].foot not in (c.foot, 2) and c.t_s - out[-1].t_s <= LANDING_GAP_S:
            out[-1] = Contact(round((out[-1].t_s + c.t_s) / 2, 3), 2)  # both feet at once: a landing
            continue
        if out and c.t_s - out[-1].t_s < MIN_STEP_GAP_S:
            continue
        out.append(Contact(round(c.t_s, 3), c.foot))
    return out


def alternation(contacts: list[Contact]) -> float:
    steps = [c.foot for c in contacts if c.foot != 2]
    if len(steps) < 2:
        return 0.0
    return float(np.mean([a != b for a, b in zip(steps[:-1], steps[1:], strict=True)]))


def body_state(lm: np.ndarray, contacts: list[Contact], travel_heights: float) -> State:
    """Seated when the ankles sit well under a torso's length below the hips (knees bent at a chair's height)
    most of the time; walking when the feet strike in turn or the body travels; else standing."""
    lm = np.asarray(lm, float)
    sh = lm[:, [L_SHOULDER, R_SHOULDER], 1].mean(axis=1)
    hip = lm[:, [L_HIP, R_HIP], 1].mean(axis=1)
    ankle = lm[:, [L_ANKLE, R_ANKLE], 1].mean(axis=1)
    torso = np.maximum(hip - sh, 1.0)
    drop = (ankle - hip) / torso  # standing: legs ≈ 1.1–1.3 torsos below the hips; seated: ≈ 0.3–0.6
    # Only frames where the model sees shoulders, hips and ankles: a body cut by the frame edge has the missing
    # part guessed, and a guessed torso makes any leg look folded.
    joints = [L_SHOULDER, R_SHOULDER, L_HIP, R_HIP, L_ANKLE, R_ANKLE]
    visible = lm[:, joints, 3].min(axis=1) >= 0.5 if lm.shape[2] > 3 else np.ones(len(lm), bool)
    if visible.sum() >= 3 and float(np.median(drop[visible])) < 0.65:
        return "seated"
    steps = [c for c in contacts if c.foot != 2]
    if (len(steps) >= 3 and alternation(contacts) >= 0.6) or travel_heights >= 1.0:
        return "walking"
    return "standing"


def hand_moves(t: np.ndarray, lm: np.ndarray) -> list[float]:
    """Times a wrist starts moving fast relative to the hips: handling an object, cloth, a gesture (candidates)."""
    t, lm = np.asarray(t, float), np.asarray(lm, float)
    if len(t) < 4:
        return []
    h = float(np.median(body_height(lm)))
    hip = lm[:, [L_HIP, R_HIP], :2].mean(axis=1)
    out: list[float] = []
    for w in (L_WRIST, R_WRIST):
        v = _speed(median_filter(lm[:, w, :2] - hip, size=(3, 1), mode="nearest"), t) / h
        fast = v >= HAND_MOVE
        for i in np.flatnonzero(fast[1:] & ~fast[:-1]) + 1:
            if not out or t[i] - out[-1] > 0.3:
                out.append(round(float(t[i]), 3))
    return sorted(out)


def analyse_gait(t: np.ndarray, lm: np.ndarray, camera: np.ndarray | None = None) -> Gait:
    """Everything above for one person's landmark sequence."""
    t, lm = np.asarray(t, float), np.asarray(lm, float)
    contacts = foot_contacts(t, lm, camera)
    h = float(np.median(body_height(lm))) if len(lm) else 1.0
    hip = lm[:, [L_HIP, R_HIP], :2].mean(axis=1) - (0.0 if camera is None else np.asarray(camera, float))
    travel = float(np.hypot(*(hip[-1] - hip[0]))) / h if len(lm) >= 2 else 0.0
    state = body_state(lm, contacts, travel)
    if state == "seated":
        contacts = []  # a seated person's feet shuffle; they do not walk
    ff = [lm[:, list(f), :2].mean(axis=1) for f in FEET]
    feet = np.maximum(ff[0], ff[1])  # the lower foot (larger y) is the one on the ground
    feet[:, 0] = (ff[0][:, 0] + ff[1][:, 0]) / 2
    return Gait(contacts, state, alternation(contacts), hand_moves(t, lm), feet)


def gait_evidence(gait: Gait, n_poses: int) -> dict[str, float]:
    """What the landmarks say, for the spotting rules (agents/evidence.py): floats, as Track.evidence holds."""
    return {"pose_frames": float(n_poses), "pose_steps": float(sum(c.foot != 2 for c in gait.contacts)),
            "pose_landings": float(sum(c.foot == 2 for c in gait.contacts)),
            "pose_alternation": round(gait.alternation, 3), "pose_seated": float(gait.state == "seated"),
            "pose_walking": float(gait.state == "walking"), "hand_moves": float(len(gait.hand_moves_s))}


def gait_motion(gait: Gait, motion: str, onsets_s: list[float]) -> tuple[str, list[float]]:
    """A person's motion class and footfalls once the landmarks are read: a seated person is static and silent
    underfoot; feet striking in turn are footsteps at the strikes, whatever the box did."""
    if gait.state == "seated":
        return "static", []
    if len(gait.contacts) >= 2:
        return ("walking" if gait.state == "walking" else motion if motion != "static" else "moving"), gait.onsets_s
    if gait.state == "standing" and motion == "walking":
        return "moving", onsets_s
    return motion, onsets_s


def fill_gaps(steps_s: list[float], pose_t: np.ndarray, start_s: float, end_s: float,
              box_onsets_s: list[float]) -> list[float]:
    """Landmark strikes, with the stretches of the track where no landmarks were read (the person merged with
    another, hidden, lost by the model) filled: the box's onsets there, else steps at the landmarks' own cadence."""
    if len(steps_s) < 2:
        return steps_s
    period = float(np.median(np.diff(steps_s)))
    edges = np.r_[start_s, np.asarray(pose_t, float), end_s]
    out = list(steps_s)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b - a < 2 * period:
            continue
        box = [o for o in box_onsets_s if a + 0.5 * period <= o <= b - 0.5 * period]
        out += box or list(np.arange(a + period, b - 0.5 * period, period).round(3))
    return sorted(float(o) for o in out)
