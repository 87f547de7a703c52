"""What the whole picture shows before any object is tracked: its shots, the camera in each, and the place.

One decode pass at a small size (FFmpeg scales while decoding) feeds the shot detector (tools/shots.py), the
camera-motion estimator (tools/camera.py) and the scene statistics below. The place is read from image
statistics with the models OpenCV ships, and only when the evidence is clear; otherwise it stays "unknown":

- **sky**: the top of the frame holds a bright, smooth region (blue, or white when over-exposed), clearly
  brighter than the bottom of the frame — a white wall is as bright at the bottom as at the top;
- **open sky**: a smooth, bright region of sky blue (pale to mid saturation: a blue screen is far more
  saturated) touching the top of the frame is sky even with no ground under it (a low angle on the sky); so is a
  smooth region of bright, saturated orange touching the top and brighter than the rest of the frame (a sunset:
  a lamp-lit wall is neither that bright and saturated at once nor the light source of its frame);
- **night sky**: the top of the frame holds a smooth, dark, saturated blue region over a detailed, lit world (a
  city's windows, street lights); a dark room is dark all over, with no lights far brighter than its top;
- **vegetation**: saturated yellow-greens (grass, leaves) over a fair share of the frame; cyan and teal (lit
  office windows, glass, signage) are not leaves, nor is a flat green (a chroma-key screen, a painted wall):
  leaves and grass have detail;
- **faces**: OpenCV's Haar frontal-face cascade; a face filling the frame is dialogue coverage;
- **vehicle**: close-up faces before a bright window whose scenery streams steadily one way while the cabin holds
  still (tools/window_motion.py): a moving car's cabin;
- any other close-up face against sky is left unknown: a car window and a street behind an interview look alike;
- **light**: mean luma for day/night outdoors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from foleydesigner.errors import InputError
from foleydesigner.schemas import SceneContext, Shot, Track, VideoInfo
from foleydesigner.tools.camera import FrameMotion, MotionEstimator, classify_camera
from foleydesigner.tools.machines import cell_means, machine_tracks
from foleydesigner.tools.shots import ShotDetector
from foleydesigner.tools.sweeps import SweepMeter
from foleydesigner.tools.video import iter_frames
from foleydesigner.tools.window_motion import CABIN_FACES, WindowDrift, WindowMeter

log = logging.getLogger(__name__)
#: Analysis width of this pass: shots and camera motion are whole-frame properties.
PICTURE_WIDTH = 192
#: Scene statistics every this many seconds (and the first frame of every shot).
SAMPLE_EVERY_S = 0.5
#: A frame "shows sky" when this share of its top third is sky-like; a clip does when this share of samples do.
SKY_FRAC, SKY_SAMPLES = 0.1, 0.3
#: Mean Laplacian energy of the lower two thirds (0–255 grey at PICTURE_WIDTH) a sky must stand over.
SKY_GROUND_DETAIL = 20.0
#: Vegetation share of the frame (mean over samples) that makes an exterior.
GREEN_FRAC = 0.12
#: Vegetation hues, OpenCV's 0-180 scale: 60-150 degrees. Foliage and grass sit at 60-110 degrees (30-55 here on
#: the project's real clips); lit office windows and glass sit at 170-180 degrees (84-90), and are not leaves.
GREEN_HUE = (30, 75)
#: Median Laplacian energy (0-255 grey at PICTURE_WIDTH) of a frame's green pixels below which the green is a flat
#: surface, not leaves: a chroma-key screen measures 0 in every frame; foliage and grass on the project's real clips
#: measure 10-42 per clip (median over frames), 4 in the dimmest frame of a fade.
GREEN_DETAIL = 3.0
#: An open sky: the top region's pixels at least this share sky-blue (OpenCV hue 95-130), its median saturation
#: within BLUE_SKY_SAT (0-255): a pale or mid blue sky, not a saturated blue screen behind an interview.
BLUE_SKY_SHARE, BLUE_SKY_HUE, BLUE_SKY_SAT = 0.8, (95, 130), (20, 150)
#: A sunset sky: smooth pixels of OpenCV hue 5-25 (10-50 degrees, orange), saturation 70+ and value 170+ (0-255)
#: touching the top edge, their median value at least WARM_SKY_LIFT above the rest of the frame's (the sky lights the
#: scene). On the project's 44 real clips only the sunset shots pass (12 of 24 samples, lifts 21-201); lamp-lit
#: interiors (webcam rooms, a tabletop, a living-room wall) measure hue 17-24 but saturation 16-49 and no sample passes.
WARM_SKY_HUE, WARM_SKY_SAT, WARM_SKY_V, WARM_SKY_LIFT = (5, 25), 70, 170, 15.0
#: A night sky: value at most NIGHT_SKY_V (0-255) and blue hue (OpenCV 95-140, 190-280 degrees); the world below
#: must hold lights at least NIGHT_LIGHTS brighter than the sky (90th percentile of the rest of the frame).
NIGHT_SKY_V, NIGHT_SKY_HUE, NIGHT_LIGHTS = 90, (95, 140), 60.0
#: A face at least this share of the frame area is a close-up (dialogue coverage).
CLOSEUP_FACE = 0.02
#: Surf: below the top quarter, at least SURF_WATER of the pixels water-blue (OpenCV hue 80-115, saturation 40+) and
#: SURF_FOAM foam (saturation under 60, value 170+), the foam in horizontal lines (vertical over horizontal gradient
#: along it at least SURF_LINES). On the project's real clips the beach measures 0.32 / 0.10 / 7.6 on average and
#: every frame of it passes; no frame of the other 29 does (foam edges elsewhere, clouds, walls, cartoon voids:
#: 0.3-5.6, without the water).
SURF_WATER, SURF_FOAM, SURF_LINES = 0.15, 0.03, 3.0
#: Exterior mean luma (0–255) below which it is night (a dusk street sits around 60–80).
NIGHT_LUMA = 45.0


@dataclass
class _Stats:
    sky: list[float] = field(default_factory=list)
    night_sky: list[float] = field(default_factory=list)
    blue_sky: list[float] = field(default_factory=list)
    green: list[float] = field(default_factory=list)
    luma: list[float] = field(default_factory=list)
    face: list[float] = field(default_factory=list)  # largest face area / frame area, 0 when none
    surf: list[float] = field(default_factory=list)  # 1.0 where breaking waves are seen
    t: list[float] = field(default_factory=list)  # when each of the place samples above was taken (s)
    luma_t: list[float] = field(default_factory=list)  # when each luma sample was taken (black frames included)

    def within(self, a: float, b: float) -> _Stats:
        """The samples taken in [a, b)."""
        keep = [i for i, t in enumerate(self.t) if a <= t < b]
        lum = [i for i, t in enumerate(self.luma_t) if a <= t < b]

        def pick(xs: list[float], idx: list[int]) -> list[float]:
            return [xs[i] for i in idx]

        return _Stats(pick(self.sky, keep), pick(self.night_sky, keep), pick(self.blue_sky, keep), pick(self.green, keep),
                      pick(self.luma, lum), pick(self.face, keep), pick(self.surf, keep), pick(self.t, keep),
                      pick(self.luma_t, lum))


@dataclass(frozen=True)
class PictureAnalysis:
    shots: list[Shot]
    scene: SceneContext
    motions: list[FrameMotion]
    width: int  # source frame width: the motions' unit
    machines: list[Track] = field(default_factory=list)  # patches of still shots beating in rhythm (tools/machines.py)
    sweeps: list[Track] = field(default_factory=list)  # big things crossing held shots fast (tools/sweeps.py)

    def camera_offsets(self) -> np.ndarray:
        """(frames, 2): where the camera has moved the picture since its shot began, in source pixels."""
        step = np.array([[m.dx, m.dy] for m in self.motions]) * self.width
        out = np.zeros_like(step)
        for shot in self.shots:  # the motion across a cut is no camera move: each shot starts at zero
            a, b = shot.start_frame, min(shot.end_frame + 1, len(step))
            if b > a:
                out[a:b] = np.cumsum(np.r_[[[0.0, 0.0]], step[a + 1:b]], axis=0)
        return out


def _sky_fraction(hsv: np.ndarray, grey: np.ndarray) -> float:
    return _sky_fractions(hsv, grey)[0]


def _detail(grey: np.ndarray) -> np.ndarray:
    """Per-pixel |Laplacian| of the lightly blurred grey frame: the detail the sky, night-sky and vegetation tests read."""
    return np.abs(cv2.Laplacian(cv2.GaussianBlur(grey, (3, 3), 0), cv2.CV_32F, ksize=3))


def _sky_fractions(hsv: np.ndarray, grey: np.ndarray, lap: np.ndarray | None = None) -> tuple[float, float]:
    """(sky, open sky). Sky: the share of the top third covered by a smooth, bright region touching the top edge,
    over a detailed world. Open sky: that region's share when it is sky blue, whatever lies under it.

    A plain wall behind a close-up is as smooth and bright, but then the whole frame is smooth: an exterior
    below a sky is full of detail (Laplacian energy of buildings, foliage, ground).
    """
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    lap = _detail(grey) if lap is None else lap
    rows = grey.shape[0]
    sunset = _warm_sky_fraction(hsv, lap)
    mask = ((lap < 8.0) & (v >= max(110.0, float(np.median(v))))).astype(np.uint8)
    region = _touching_top(mask)
    if region is None:
        return 0.0, sunset
    share = float(region[: rows // 3].mean())
    hue, sat = h[region], s[region]
    blue = float(((hue >= BLUE_SKY_HUE[0]) & (hue <= BLUE_SKY_HUE[1])).mean())
    open_sky = share if blue >= BLUE_SKY_SHARE and BLUE_SKY_SAT[0] <= float(np.median(sat)) <= BLUE_SKY_SAT[1] else 0.0
    open_sky = max(open_sky, sunset)
    return (share if float(lap[rows // 3:].mean()) >= SKY_GROUND_DETAIL else 0.0), open_sky


def _touching_top(mask: np.ndarray) -> np.ndarray | None:
    """The pixels of mask's 4-connected regions that touch the frame's top edge; None when none does."""
    _n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    top_ids = [i for i in np.unique(labels[0]) if i != 0]
    return np.isin(labels, top_ids) if top_ids else None


def _warm_sky_fraction(hsv: np.ndarray, lap: np.ndarray) -> float:
    """Share of the top third under a sunset: a smooth, bright, saturated orange region touching the top edge that
    is brighter than the rest of the frame."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    region = _touching_top((lap < 8.0) & (h >= WARM_SKY_HUE[0]) & (h <= WARM_SKY_HUE[1]) & (s >= WARM_SKY_SAT)
                           & (v >= WARM_SKY_V))
    if region is None or region.all():
        return 0.0
    if float(np.median(v[region])) < float(np.median(v[~region])) + WARM_SKY_LIFT:
        return 0.0
    return float(region[: hsv.shape[0] // 3].mean())


def _night_sky_fraction(hsv: np.ndarray, grey: np.ndarray, lap: np.ndarray | None = None) -> float:
    """Share of the top third covered by a smooth, dark blue region touching the top edge, over a detailed world
    lit far brighter than it (windows, street lights). A dark interior fails: it is dark below as well."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    lap = _detail(grey) if lap is None else lap
    rows = grey.shape[0]
    if float(lap[rows // 3:].mean()) < SKY_GROUND_DETAIL:
        return 0.0
    region = _touching_top((lap < 8.0) & (v < NIGHT_SKY_V) & (v >= 8) & (h >= NIGHT_SKY_HUE[0])
                           & (h <= NIGHT_SKY_HUE[1]) & (s >= 40))
    if region is None:
        return 0.0
    rest = grey[~region]
    if rest.size == 0 or float(np.percentile(rest, 90)) < float(grey[region].mean()) + NIGHT_LIGHTS:
        return 0.0
    return float(region[: rows // 3].mean())


def _green_fraction(hsv: np.ndarray, grey: np.ndarray, lap: np.ndarray | None = None) -> float:
    """Share of the frame in vegetation greens; 0 when those greens are flat (a green screen behind an actor)."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    green = (h >= GREEN_HUE[0]) & (h <= GREEN_HUE[1]) & (s >= 60) & (v >= 40)
    if not green.any():
        return 0.0
    lap = _detail(grey) if lap is None else lap
    return float(green.mean()) if float(np.median(lap[green])) >= GREEN_DETAIL else 0.0


def _surf(hsv: np.ndarray, grey: np.ndarray) -> float:
    """1.0 when the frame shows breaking waves: water-blue below the horizon with white foam lying in horizontal
    lines (a sky's clouds are blobs, a wall's highlights have no water around them)."""
    low = slice(hsv.shape[0] // 4, hsv.shape[0])
    h, s, v = hsv[low, :, 0], hsv[low, :, 1], hsv[low, :, 2]
    water = float(((h >= 80) & (h <= 115) & (s >= 40) & (v >= 60)).mean())
    foam = (s < 60) & (v >= 170)
    if water < SURF_WATER or float(foam.mean()) < SURF_FOAM:
        return 0.0
    g = grey[low].astype(np.float32)
    near = cv2.dilate(foam.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    across = float(np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3))[near].sum())
    down = float(np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))[near].sum())
    return float(down >= SURF_LINES * max(across, 1e-6))


def _largest_face(grey: np.ndarray, cascade: cv2.CascadeClassifier) -> float:
    faces = cascade.detectMultiScale(grey, scaleFactor=1.15, minNeighbors=5, minSize=(16, 16))
    area = grey.shape[0] * grey.shape[1]
    return max((w * h / area for (_x, _y, w, h) in faces), default=0.0)


def _scene(st: _Stats, shots: list[Shot], window: WindowDrift | None = None) -> SceneContext:
    n = max(1, len(st.sky))
    sky = float(np.mean(np.asarray(st.sky) >= SKY_FRAC)) if st.sky else 0.0
    night_sky = float(np.mean(np.asarray(st.night_sky) >= SKY_FRAC)) if st.night_sky else 0.0
    open_sky = float(np.mean(np.asarray(st.blue_sky) >= SKY_FRAC)) if st.blue_sky else 0.0
    green = float(np.mean(st.green)) if st.green else 0.0
    luma = float(np.mean(st.luma)) if st.luma else 128.0
    faces = float(np.mean(np.asarray(st.face) > 0)) if st.face else 0.0
    closeup = float(np.mean(np.asarray(st.face) >= CLOSEUP_FACE)) if st.face else 0.0
    ev: dict[str, Any] = {"sky_samples": round(sky, 3), "open_sky_samples": round(open_sky, 3),
                          "night_sky_samples": round(night_sky, 3), "vegetation": round(green, 3), "mean_luma": round(luma, 1),
                          "face_samples": round(faces, 3), "closeup_samples": round(closeup, 3),
                          "samples": n, "source": "picture"}
    if window is not None and closeup >= CABIN_FACES and window.streaming:
        ev.update(window.evidence())
        ev["reason"] = "close-up faces before a window whose scenery streams steadily one way: inside a moving vehicle"
        return SceneContext(description="car interior", location="vehicle", room_size="small",
                            time_of_day="night" if luma < NIGHT_LUMA else "day", evidence=ev)
    # Sky seen only behind a close-up face (a window, or a pale door or wall the face hides the top of) says no more
    # than the face does, however few of the clip's samples the close-ups are (a title card before a webcam).
    skyish = [max(a, b) for a, b in zip_longest(st.sky, st.blue_sky, fillvalue=0.0)]
    behind_faces = bool(st.face) and len(skyish) == len(st.face) and all(
        f >= CLOSEUP_FACE for f, k in zip(st.face, skyish, strict=True) if k >= SKY_FRAC)
    if (closeup >= 0.5 or behind_faces) and max(sky, open_sky) >= SKY_SAMPLES:
        # A face in front of bright sky: a car window, or a street behind an interview; the picture cannot say.
        ev["reason"] = "close-up faces against sky or a window: a vehicle, or an exterior; left unknown"
        return SceneContext(evidence=ev)
    surf = float(np.mean(st.surf)) if st.surf else 0.0
    ev["surf_samples"] = round(surf, 3)
    if surf >= SKY_SAMPLES:
        ev["reason"] = "breaking waves seen; a beach"
        return SceneContext(description="beach", location="outdoor", room_size="open",
                            time_of_day="night" if luma < NIGHT_LUMA else "day", evidence=ev)
    if sky >= SKY_SAMPLES or green >= GREEN_FRAC or night_sky >= SKY_SAMPLES:
        # Lit windows lift a night street's mean luma to a day's: a night sky over them says night all the same.
        night = luma < NIGHT_LUMA or (night_sky >= SKY_SAMPLES and sky < SKY_SAMPLES)
        urban = green < 0.05
        place = "street" if urban else "park"
        seen = "sky" if sky >= SKY_SAMPLES else "night sky" if night_sky >= SKY_SAMPLES else "vegetation"
        ev["reason"] = f"{seen} seen; {place}"
        return SceneContext(description=place, location="outdoor", room_size="open",
                            time_of_day="night" if night else "day", evidence=ev)
    if open_sky >= SKY_SAMPLES:
        # A low angle on the sky: open air, no ground to say street or park (the bed is air alone).
        ev["reason"] = "an open sky (blue, or a sunset's orange) fills the top of the frame; no ground seen"
        return SceneContext(description="open sky", location="outdoor", room_size="open",
                            time_of_day="night" if luma < NIGHT_LUMA else "day", evidence=ev)
    if luma < NIGHT_LUMA or closeup >= 0.5 or faces >= 0.5:
        ev["reason"] = "no sky or vegetation; " + ("dark and lit by lamps" if luma < NIGHT_LUMA else "faces at close range")
        return SceneContext(description="interior", location="indoor", room_size="medium", evidence=ev)
    ev["reason"] = "too little evidence either way"
    return SceneContext(evidence=ev)


#: Shots whose places disagree (an exterior and an interior, a title over a sky and a webcam) each keep their own
#: place when every such run of shots lasts this long and holds this many samples: a shorter one says too little.
PLACE_MIN_S, PLACE_MIN_SAMPLES = 1.5, 3


def shot_places(st: _Stats, shots: list[Shot]) -> list[dict[str, Any]]:
    """Where the clip is, run of shots by run of shots, when its shots show different places (a title card over a
    sky cut to a webcam, a lecture's slides and its room, an interview outside and in): [{start_s, end_s, location,
    description, room_size, time_of_day, reason}], in time order. Empty when the shots agree, or when any run is
    too short or too thinly sampled to say: then the clip's one place stands. A shot that cannot tell joins the run
    before it."""
    if len(shots) < 2:
        return []
    runs: list[dict[str, Any]] = []
    for shot in shots:
        sub = st.within(shot.start_s, shot.end_s + 1e-6 if shot is shots[-1] else shot.end_s)
        sc = _scene(sub, [shot]) if len(sub.t) >= 2 else SceneContext()
        if runs and (sc.location == "unknown" or sc.location == runs[-1]["location"]):
            runs[-1]["end_s"], runs[-1]["samples"] = shot.end_s, runs[-1]["samples"] + len(sub.t)
            continue
        runs.append({"start_s": shot.start_s, "end_s": shot.end_s, "location": sc.location, "description": sc.description,
                     "room_size": sc.room_size, "time_of_day": sc.time_of_day, "samples": len(sub.t),
                     "reason": sc.evidence.get("reason", "")})
    known = {r["location"] for r in runs if r["location"] != "unknown"}
    if len(known) < 2 or any(r["end_s"] - r["start_s"] < PLACE_MIN_S or r["samples"] < PLACE_MIN_SAMPLES for r in runs):
        return []
    return [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "samples"} for r in runs]


def analyse_picture(video_path: str | Path, info: VideoInfo) -> PictureAnalysis:
    """Shots (with their camera) and the scene context the picture supports, from one small decode pass."""
    detector = ShotDetector(info.fps)
    estimator = MotionEstimator()
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    motions: list[FrameMotion] = []
    cells: list[np.ndarray] = []
    sweeps = SweepMeter(info.fps)
    window = WindowMeter(info.fps)
    st = _Stats()
    every = max(1, int(round(SAMPLE_EVERY_S * info.fps)))
    for fr in iter_frames(video_path, max_width=PICTURE_WIDTH):
        grey = cv2.cvtColor(fr.image, cv2.COLOR_BGR2GRAY)
        detector.add(fr.t_s, fr.image)
        m = estimator.update(grey)
        motions.append(m)
        cells.append(cell_means(grey))
        sweeps.add(fr.index, fr.t_s, grey, info.width)
        window.add(fr.index, grey)
        if fr.index % every == 0:
            hsv = cv2.cvtColor(fr.image, cv2.COLOR_BGR2HSV)
            st.luma.append(float(grey.mean()))
            st.luma_t.append(fr.t_s)
            if grey.mean() >= 20.0:  # black frames (fades) say nothing about the place
                lap = _detail(grey)  # one detail map for the three tests below
                sky, open_sky = _sky_fractions(hsv, grey, lap)
                st.sky.append(sky)
                st.blue_sky.append(open_sky)
                st.night_sky.append(_night_sky_fraction(hsv, grey, lap))
                st.green.append(_green_fraction(hsv, grey, lap))
                st.face.append(_largest_face(grey, cascade))
                st.surf.append(_surf(hsv, grey))
                st.t.append(fr.t_s)
    if not motions:
        raise InputError(f"{video_path}: no frames could be decoded; the file may be damaged — re-export the clip")
    shots = []
    for shot in detector.shots():
        # classify_camera skips the shot's first motion: it is measured across the cut
        kind, facts = classify_camera(motions[shot.start_frame: shot.end_frame + 1])
        shots.append(shot.model_copy(update={"camera": kind, "camera_facts": facts}))
    scene = _scene(st, shots, window.reading())
    if places := shot_places(st, shots):
        scene = scene.model_copy(update={"evidence": {**scene.evidence, "places": places}})
    log.info("%d shots (%s); scene %s/%s", len(shots), ", ".join(s.camera for s in shots), scene.location,
             scene.time_of_day)
    machines = machine_tracks(np.stack(cells), shots, info)
    return PictureAnalysis(shots=shots, scene=scene, motions=motions, width=info.width, machines=machines,
                           sweeps=sweeps.tracks(info, shots))
