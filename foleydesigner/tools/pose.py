"""Learned people perception, offline: BlazePose detection and landmarks run with LiteRT (no mediapipe).

Two models from the mediapipe 0.10.14 wheel (Apache-2.0, committed under data/models/ with their notice):

- `pose_detection.tflite`: a 224×224 SSD. 2254 anchors × 12 values (box centre and size, then four keypoints:
  hip centre, a point on the circle around the whole body, shoulder centre, a point on the upper-body circle).
- `pose_landmark_full.tflite`: 39 landmarks × (x, y, z, visibility, presence) on a 256×256 crop of a rotated
  square region of interest (ROI) around one person; 33 body landmarks and 2 auxiliary ones (hip centre and
  whole-body scale point) from which the next frame's ROI is built, as mediapipe's own graph does.

Everything here works in source-frame pixels. The ROI is a rotated square: centre, side and angle (radians,
clockwise on screen, y down); an upright person has angle 0.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from foleydesigner.errors import BackendError
from foleydesigner.tools.cpus import usable_cores

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parents[1] / "data" / "models"
DETECTOR_FILE, LANDMARK_FILE = "pose_detection.tflite", "pose_landmark_full.tflite"
DET_SIZE, LMK_SIZE = 224, 256
#: mediapipe's pose detector settings (pose_detection_cpu graph): score threshold, NMS overlap, ROI growth.
MIN_DET_SCORE, NMS_IOU, ROI_SCALE = 0.5, 0.3, 1.25
#: Below this pose-presence score the landmark model has lost the person (mediapipe uses 0.5).
MIN_PRESENCE = 0.5

# BlazePose landmark indices (33 body points; 33 and 34 are the auxiliary ROI points).
NOSE, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST = 0, 11, 12, 15, 16
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 23, 24, 25, 26, 27, 28
L_HEEL, R_HEEL, L_FOOT, R_FOOT = 29, 30, 31, 32
FEET = ((L_HEEL, L_ANKLE, L_FOOT), (R_HEEL, R_ANKLE, R_FOOT))


@dataclass(frozen=True)
class Roi:
    cx: float
    cy: float
    size: float  # side of the square, pixels
    angle: float  # radians, clockwise on screen

    def matrix(self, out: int) -> np.ndarray:
        """2×3 affine map from the out×out crop to source pixels."""
        c, s, k = math.cos(self.angle), math.sin(self.angle), self.size / out
        return np.array([[c * k, -s * k, self.cx - (c - s) * self.size / 2],
                         [s * k, c * k, self.cy - (s + c) * self.size / 2]])

    def box(self) -> tuple[float, float, float, float]:
        half = self.size / 2 * (abs(math.cos(self.angle)) + abs(math.sin(self.angle)))
        return (self.cx - half, self.cy - half, 2 * half, 2 * half)


@dataclass(frozen=True)
class PoseDetection:
    box: tuple[float, float, float, float]  # x, y, w, h (source pixels)
    score: float
    keypoints: np.ndarray  # (4, 2) source pixels

    def roi(self) -> Roi:
        return roi_from_points(self.keypoints[0], self.keypoints[1])


@dataclass(frozen=True)
class Pose:
    """One person in one frame: 33 landmarks (x, y source pixels, z, visibility, presence in 0..1)."""

    landmarks: np.ndarray  # (33, 5)
    score: float  # pose presence
    roi: Roi
    next_roi: Roi  # where to look in the next frame

    def box(self, min_visibility: float = 0.3) -> tuple[float, float, float, float]:
        """Tight box around the landmarks seen, widened a little (landmarks are joints, not the body's edge)."""
        pts = self.landmarks[self.landmarks[:, 3] >= min_visibility, :2]
        pts = pts if len(pts) >= 4 else self.landmarks[:, :2]
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        pad_x, pad_y = 0.15 * (x1 - x0) + 2, 0.08 * (y1 - y0) + 2
        return (float(x0 - pad_x), float(y0 - 1.5 * pad_y), float(x1 - x0 + 2 * pad_x), float(y1 - y0 + 2.5 * pad_y))

    def height_px(self) -> float:
        """Body scale: shoulder centre to ankle centre along the body, which holds whether seated, tilted or not."""
        lm = self.landmarks[:, :2]
        sh, hip = lm[[L_SHOULDER, R_SHOULDER]].mean(axis=0), lm[[L_HIP, R_HIP]].mean(axis=0)
        torso = float(np.hypot(*(sh - hip)))
        legs = float(np.mean([np.hypot(*(lm[h] - lm[k])) + np.hypot(*(lm[k] - lm[a]))
                              for h, k, a in ((L_HIP, L_KNEE, L_ANKLE), (R_HIP, R_KNEE, R_ANKLE))]))
        return max(1.0, 1.9 * torso, torso + legs) / 0.8  # shoulders to ankles ≈ 0.8 of standing height


def roi_from_points(centre: np.ndarray, scale_pt: np.ndarray) -> Roi:
    """The ROI mediapipe builds from two alignment points: centred on the first, twice their distance across,
    grown ×1.25, turned so the second point (above the head for an upright person) is straight up."""
    dx, dy = float(scale_pt[0] - centre[0]), float(scale_pt[1] - centre[1])
    angle = math.pi / 2 - math.atan2(-dy, dx)
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    return Roi(float(centre[0]), float(centre[1]), 2 * math.hypot(dx, dy) * ROI_SCALE, angle)


@functools.cache
def _anchors() -> np.ndarray:
    """SSD anchor centres (2254, 2), in the order the detector emits them: strides 8 and 16 give 2 anchors per
    cell, the three stride-32 layers share their cells and give 6 (mediapipe's SsdAnchorsCalculator with
    fixed anchor size, so every anchor is 1×1 and only the centre matters)."""
    out = []
    for stride, per_cell in ((8, 2), (16, 2), (32, 6)):
        n = int(math.ceil(DET_SIZE / stride))
        ys, xs = np.mgrid[0:n, 0:n]
        centres = np.stack([(xs.ravel() + 0.5) / n, (ys.ravel() + 0.5) / n], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(out)


def decode_detections(raw: np.ndarray, logits: np.ndarray, min_score: float = MIN_DET_SCORE) -> list[tuple[np.ndarray, float]]:
    """Detector output (2254, 12) + (2254,) scores → [(values in 0..1 of the input: cx, cy, w, h, 4×(x, y)), score]
    after weighted non-maximum suppression (overlapping detections averaged by score, as mediapipe does)."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1), -60, 60)))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    a = _anchors()[keep]
    v = raw.reshape(-1, 12)[keep] / DET_SIZE
    v[:, 0::2] += a[:, :1]  # x values are offsets from the anchor centre (w too, but it is re-set just below)
    v[:, 1::2] += a[:, 1:]
    v[:, 2:4] = raw.reshape(-1, 12)[keep, 2:4] / DET_SIZE
    s = scores[keep]
    order = list(np.argsort(-s))
    boxes = np.column_stack([v[:, 0] - v[:, 2] / 2, v[:, 1] - v[:, 3] / 2, v[:, 2], v[:, 3]])
    out = []
    while order:
        top = order[0]
        ious = _iou(boxes[top], boxes[order])
        group = [order[i] for i in np.flatnonzero(ious > NMS_IOU)] or [top]
        w = s[group][:, None]
        out.append(((v[group] * w).sum(axis=0) / w.sum(), float(s[top])))
        order = [o for o in order if o not in set(group)]
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(a[0] + a[2], b[:, 0] + b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[1] + a[3], b[:, 1] + b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    return inter / (a[2] * a[3] + b[:, 2] * b[:, 3] - inter + 1e-12)


@contextlib.contextmanager
def _native_stderr_quiet() -> Iterator[None]:
    """Point the process's fd 2 at /dev/null for a moment: native libraries log there past Python's logging, and
    a user's console should carry the run's own lines only. Python-level errors still raise as usual."""
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (a daemon): nothing to quiet
        yield
        return
    try:
        sys.stderr.flush()
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


#: CPU threads per inference. Two: the pipeline's budget is 2 cores, and while pose runs (the picture pass) the
#: second core is otherwise idle; XNNPACK splits each layer across them (a landmark inference 15 → 9 ms on an
#: idle 2-core machine) and gives the same numbers as one thread (tests/test_pose.py).
POSE_THREADS = 2


def default_threads() -> int:
    """POSE_THREADS, or fewer when this process may use fewer cores: pinned to them, or given a thread budget the
    usual way (OMP_NUM_THREADS: Ray sets it to a task's CPUs, so `foley batch` workers run pose on one each)."""
    return min(POSE_THREADS, usable_cores())


class PoseModel:
    """The two BlazePose networks, loaded once per process; `threads` CPU threads each (default_threads())."""

    def __init__(self, model_dir: str | Path | None = None, *, threads: int | None = None) -> None:
        threads = threads or default_threads()
        root = Path(model_dir) if model_dir else MODEL_DIR
        missing = [f for f in (DETECTOR_FILE, LANDMARK_FILE) if not (root / f).is_file()]
        if missing:
            raise BackendError(f"pose models missing from {root}: {', '.join(missing)} (they ship with the package; "
                               "reinstall foleydesigner)")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise BackendError("people perception needs ai-edge-litert: pip install 'ai-edge-litert==2.3.0'") from exc
        with _native_stderr_quiet():  # TFLite's C++ logger prints "INFO: Created … XNNPACK delegate" on fd 2
            self._det = Interpreter(model_path=str(root / DETECTOR_FILE), num_threads=threads)
            self._lmk = Interpreter(model_path=str(root / LANDMARK_FILE), num_threads=threads)
            for it in (self._det, self._lmk):
                it.allocate_tensors()
        outs = {tuple(d["shape"]): d["index"] for d in self._det.get_output_details()}
        self._det_io = (self._det.get_input_details()[0]["index"], outs[(1, 2254, 12)], outs[(1, 2254, 1)])
        outs = {tuple(d["shape"]): d["index"] for d in self._lmk.get_output_details()}
        self._lmk_io = (self._lmk.get_input_details()[0]["index"], outs[(1, 195)], outs[(1, 1)])
        self.calls = 0  # inferences run, for speed accounting (benchmarks/pipeline_speed.py)
        self.seconds = 0.0

    def detect(self, image_bgr: np.ndarray, region: tuple[float, float, float, float] | None = None,
               min_score: float = MIN_DET_SCORE) -> list[PoseDetection]:
        """People in the image (or in the square around `region`, x y w h, upscaled to the detector's input),
        letterboxed to 224×224 as mediapipe does, in source pixels."""
        h, w = image_bgr.shape[:2]
        if region is None:
            side = float(max(w, h))
            ox, oy = (w - side) / 2, (h - side) / 2
        else:
            rx, ry, rw, rh = region
            side = float(max(rw, rh, 8.0))
            ox, oy = rx + rw / 2 - side / 2, ry + rh / 2 - side / 2
        k = DET_SIZE / side
        m = np.array([[k, 0, -ox * k], [0, k, -oy * k]])
        crop = cv2.warpAffine(image_bgr, m, (DET_SIZE, DET_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        x = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)[None] / 127.5 - 1.0
        inp, out_box, out_score = self._det_io
        t0 = time.perf_counter()
        self._det.set_tensor(inp, x)
        self._det.invoke()
        self.calls, self.seconds = self.calls + 1, self.seconds + time.perf_counter() - t0
        found = decode_detections(self._det.get_tensor(out_box)[0], self._det.get_tensor(out_score)[0], min_score)
        dets = []
        for v, score in found:
            px = v * side
            px[[0, 4, 6, 8, 10]] += ox  # centres and keypoints move with the crop; sizes do not
            px[[1, 5, 7, 9, 11]] += oy
            cx, cy, bw, bh = px[:4]
            dets.append(PoseDetection((float(cx - bw / 2), float(cy - bh / 2), float(bw), float(bh)), score,
                                      px[4:].reshape(4, 2)))
        return dets

    def landmarks(self, image_bgr: np.ndarray, roi: Roi, min_presence: float = MIN_PRESENCE) -> Pose | None:
        """The 33 landmarks of the person in the ROI, or None when the model says nobody is there (presence below
        min_presence)."""
        m = roi.matrix(LMK_SIZE)
        crop = cv2.warpAffine(image_bgr, m, (LMK_SIZE, LMK_SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT)
        x = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)[None] / 255.0
        inp, out_lmk, out_flag = self._lmk_io
        t0 = time.perf_counter()
        self._lmk.set_tensor(inp, x)
        self._lmk.invoke()
        self.calls, self.seconds = self.calls + 1, self.seconds + time.perf_counter() - t0
        flag = float(self._lmk.get_tensor(out_flag).reshape(-1)[0])
        score = flag if 0.0 <= flag <= 1.0 else 1.0 / (1.0 + math.exp(-flag))
        if score < min_presence:
            return None
        raw = self._lmk.get_tensor(out_lmk).reshape(39, 5).astype(np.float64)
        xy = np.column_stack([raw[:, :2], np.ones(39)]) @ m.T  # crop pixels → source pixels
        lm = np.column_stack([xy, raw[:, 2] * roi.size / LMK_SIZE,
                              1.0 / (1.0 + np.exp(-raw[:, 3])), 1.0 / (1.0 + np.exp(-raw[:, 4]))])
        return Pose(lm[:33], score, roi, roi_from_points(lm[33, :2], lm[34, :2]))

    def landmarks_for(self, image_bgr: np.ndarray, det: PoseDetection) -> Pose | None:
        """Landmarks of a fresh detection. A body cut by the frame edge (legs only, the head out of shot) puts
        the detector's scale point off the picture and its ROI too tight for the landmark model: a wider one
        (×1.6) is tried before giving up."""
        roi = det.roi()
        pose = self.landmarks(image_bgr, roi)
        if pose is None:
            pose = self.landmarks(image_bgr, Roi(roi.cx, roi.cy, roi.size * 1.6, roi.angle))
        return pose


@functools.cache
def shared_model() -> PoseModel:
    """One PoseModel per process (loading both networks takes ~50 ms); not for two threads at once."""
    return PoseModel()


def pose_available() -> bool:
    """Whether the pose models and their runtime are here (they are, in any normal install)."""
    try:
        shared_model()
    except BackendError as exc:
        log.warning("people perception off: %s", exc)
        return False
    return True
