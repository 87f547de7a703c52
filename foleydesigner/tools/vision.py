"""The vision seam: who is on screen, where, and how far away.

`opencv` is the embedded default (tools.tracking + geometric depth). `transformers` keeps the OpenCV tracker for
identities and motion, and relabels tracks with a local open-vocabulary detector and measures depth with a local
depth model (both loaded from --vision-model-dir, never downloaded). `vlm` asks a vision chat model for labelled
boxes on keyframes and relabels the OpenCV tracks that overlap them.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, Field

from foleydesigner.errors import BackendError, InputError
from foleydesigner.schemas import Track, VideoInfo

log = logging.getLogger(__name__)

VISION_BACKENDS = ("opencv", "transformers", "vlm")
DEFAULT_LABELS = ("person", "vehicle", "ball", "object")
#: Detector / VLM boxes must overlap a track's box this much (IoU) to relabel it.
MIN_IOU = 0.3
KEYFRAME_EVERY_S = 0.5

Box = Sequence[float]


class VisionBackend(Protocol):
    name: str

    def track(self, video_path: str | Path, info: VideoInfo, *, labels: Sequence[str] = ()) -> list[Track]: ...

    def depth_m(self, frame_bgr: np.ndarray, box: Box) -> float | None: ...


def iou(a: Box, b: Box) -> float:
    """IoU of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


def _relabel(tracks: list[Track], votes: dict[int, dict[str, float]]) -> list[Track]:
    out = []
    for t in tracks:
        v = votes.get(t.id)
        out.append(t.model_copy(update={"label": max(v, key=v.__getitem__)}) if v else t)
    return out


def _vote(tracks: list[Track], frame_index: int, dets: list[tuple[Box, str, float]],
          votes: dict[int, dict[str, float]]) -> None:
    """Each track seen at frame_index votes for the label of its best-overlapping detection (score × IoU)."""
    for t in tracks:
        if frame_index not in t.frames:
            continue
        box = t.boxes[t.frames.index(frame_index)]
        best = max(((iou(box, d), lab, s) for d, lab, s in dets), default=(0.0, "", 0.0))
        if best[0] >= MIN_IOU and best[1]:
            votes.setdefault(t.id, defaultdict(float))[best[1]] += best[0] * max(best[2], 1e-6)


def _keyframe_indices(info: VideoInfo, every_s: float = KEYFRAME_EVERY_S) -> set[int]:
    step = max(1, int(round(every_s * info.fps)))
    return set(range(step // 2, info.n_frames, step))


# --- opencv ----------------------------------------------------------------------------------------------------

class OpenCVBackend:
    name = "opencv"

    def __init__(self, analysis_width: int = 384) -> None:
        self.analysis_width = analysis_width

    def track(self, video_path: str | Path, info: VideoInfo, *, labels: Sequence[str] = ()) -> list[Track]:
        from foleydesigner.tools.tracking import track_objects

        return track_objects(video_path, info, analysis_width=self.analysis_width)

    def depth_m(self, frame_bgr: np.ndarray, box: Box) -> float | None:
        return None  # no learned depth: callers use tools.depth.geometric_depth_m


# --- transformers ----------------------------------------------------------------------------------------------

class TransformersBackend(OpenCVBackend):
    """OpenCV tracks, relabelled by a zero-shot detector (OWL-ViT/OWLv2 style) and given depths by a depth model.

    Relative-depth models (DPT, Depth Anything "relative") predict inverse depth up to scale: depth is taken as
    1 / (mean of the map inside the box) and scaled to metres by the median ratio to the geometric estimate of
    the same boxes. Metric models (config depth_estimation_type == "metric") give metres directly."""

    name = "transformers"

    def __init__(self, model_dir: str | Path | None, *, hfov_deg: float = 60.0, threshold: float = 0.1) -> None:
        super().__init__()
        if not model_dir:
            raise BackendError("--vision transformers needs --vision-model-dir PATH: a folder with detector/ (a "
                               "zero-shot object detector) and depth/ (a depth-estimation model), saved locally")
        root = Path(model_dir)
        missing = [s for s in ("detector", "depth") if not (root / s).is_dir()]
        if missing:
            raise BackendError(f"--vision-model-dir {root} lacks {' and '.join(m + '/' for m in missing)}; it must hold "
                               "detector/ and depth/ model folders (from_pretrained, local files only)")
        self.root, self.hfov_deg, self.threshold = root, hfov_deg, threshold
        self._models: tuple[Any, ...] | None = None
        self.scale: float | None = None  # metres per relative-depth unit, learned in track()
        self.depths: dict[int, list[tuple[float, float]]] = {}  # track id -> [(t_s, depth_m)] of the last track()

    def _load(self) -> tuple[Any, ...]:
        if self._models is None:
            from transformers import (
                AutoImageProcessor,
                AutoModelForDepthEstimation,
                AutoModelForZeroShotObjectDetection,
                AutoProcessor,
            )

            try:
                det_p = AutoProcessor.from_pretrained(self.root / "detector", local_files_only=True)
                det = AutoModelForZeroShotObjectDetection.from_pretrained(self.root / "detector", local_files_only=True)
                dep_p = AutoImageProcessor.from_pretrained(self.root / "depth", local_files_only=True)
                dep = AutoModelForDepthEstimation.from_pretrained(self.root / "depth", local_files_only=True)
            except Exception as exc:
                raise BackendError(f"cannot load the vision models from --vision-model-dir {self.root}: "
                                   f"{exc.__class__.__name__}: {exc}") from exc
            self._models = (det_p, det.eval(), dep_p, dep.eval())
        return self._models

    def detect(self, frame_bgr: np.ndarray, labels: Sequence[str]) -> list[tuple[Box, str, float]]:
        """(x, y, w, h) boxes in frame pixels with their label and score."""
        import torch

        det_p, det, _, _ = self._load()
        rgb = np.ascontiguousarray(frame_bgr[..., ::-1])
        h, w = rgb.shape[:2]
        inputs = det_p(text=[list(labels)], images=rgb, return_tensors="pt", padding=True)
        with torch.no_grad():
            out = det(**inputs)
        side = max(h, w) if "owlv2" in str(getattr(det.config, "model_type", "")) else None  # OWLv2 pads to square
        size = torch.tensor([[side or h, side or w]])
        post = getattr(det_p, "post_process_grounded_object_detection", None)
        res = (post(out, threshold=self.threshold, target_sizes=size, text_labels=[list(labels)]) if post
               else det_p.image_processor.post_process_object_detection(out, threshold=self.threshold, target_sizes=size))[0]
        dets = []
        for (x0, y0, x1, y1), s, li in zip(res["boxes"].tolist(), res["scores"].tolist(), res["labels"].tolist(), strict=False):
            x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
            if x1 > x0 and y1 > y0:
                dets.append(((x0, y0, x1 - x0, y1 - y0), labels[int(li)], float(s)))
        return dets

    def _depth_map(self, frame_bgr: np.ndarray) -> np.ndarray:
        import torch

        _, _, dep_p, dep = self._load()
        rgb = np.ascontiguousarray(frame_bgr[..., ::-1])
        inputs = dep_p(images=rgb, return_tensors="pt")
        with torch.no_grad():
            pred = dep(**inputs).predicted_depth
        pred = torch.nn.functional.interpolate(pred.reshape(1, 1, *pred.shape[-2:]), size=rgb.shape[:2],
                                               mode="bilinear", align_corners=False)
        return pred[0, 0].float().numpy()

    @property
    def metric(self) -> bool:
        return str(getattr(self._load()[3].config, "depth_estimation_type", "relative")) == "metric"

    def _raw_depth(self, dmap: np.ndarray, box: Box) -> float | None:
        x, y, w, h = (int(round(v)) for v in box)
        patch = dmap[max(0, y):max(0, y) + max(1, h), max(0, x):max(0, x) + max(1, w)]
        if patch.size == 0 or not np.isfinite(patch).all():
            return None
        m = float(patch.mean())
        if self.metric:
            return m if m > 0 else None
        return 1.0 / m if m > 1e-6 else None  # relative models predict inverse depth

    def depth_m(self, frame_bgr: np.ndarray, box: Box) -> float | None:
        raw = self._raw_depth(self._depth_map(frame_bgr), box)
        if raw is None:
            return None
        if self.metric:
            return raw
        return raw * self.scale if self.scale else None  # unscaled relative depth is no use to callers

    def track(self, video_path: str | Path, info: VideoInfo, *, labels: Sequence[str] = ()) -> list[Track]:
        from foleydesigner.tools.depth import MAX_DEPTH_M, MIN_DEPTH_M, geometric_depth_m
        from foleydesigner.tools.video import iter_frames

        tracks = super().track(video_path, info)
        if not tracks:
            return tracks
        labels = list(dict.fromkeys([*(labels or DEFAULT_LABELS)]))
        keys = _keyframe_indices(info)
        votes: dict[int, dict[str, float]] = {}
        raws: list[tuple[int, float, float, float]] = []  # track id, t_s, raw depth, geometric depth
        for fr in iter_frames(video_path):
            if fr.index not in keys or not any(fr.index in t.frames for t in tracks):
                continue
            _vote(tracks, fr.index, self.detect(fr.image, labels), votes)
            dmap = self._depth_map(fr.image)
            for t in tracks:
                if fr.index in t.frames:
                    box = t.boxes[t.frames.index(fr.index)]
                    raw = self._raw_depth(dmap, box)
                    if raw is not None:
                        geo = geometric_depth_m(box, label=t.label, frame_width=info.width, frame_height=info.height,
                                                hfov_deg=self.hfov_deg)
                        raws.append((t.id, fr.t_s, raw, geo))
        if raws and not self.metric:
            self.scale = float(np.median([g / r for _, _, r, g in raws]))
        self.depths = {}
        for tid, t_s, raw, _ in raws:
            d = raw if self.metric else raw * (self.scale or 1.0)
            if math.isfinite(d):
                self.depths.setdefault(tid, []).append((t_s, float(min(MAX_DEPTH_M, max(MIN_DEPTH_M, d)))))
        return _relabel(tracks, votes)


# --- vlm -------------------------------------------------------------------------------------------------------

class KeyframeBox(BaseModel):
    label: str = Field(description="what the object is, one or two words (e.g. person, car, ball)")
    x: float = Field(ge=0, le=1, description="left edge, fraction of the image width")
    y: float = Field(ge=0, le=1, description="top edge, fraction of the image height")
    w: float = Field(gt=0, le=1, description="width, fraction of the image width")
    h: float = Field(gt=0, le=1, description="height, fraction of the image height")


class KeyframeBoxes(BaseModel):
    """Every sound-making object visible in the image, with a box."""

    boxes: list[KeyframeBox] = Field(default_factory=list)


class VLMBackend(OpenCVBackend):
    name = "vlm"

    def __init__(self, llm: Any = None, *, ctx: Any = None, n_keyframes: int = 4) -> None:
        super().__init__()
        from foleydesigner.llm import HEURISTIC, STEP_TIMEOUTS, endpoint_for, make_chat_model
        from foleydesigner.trace import Tracer

        spec = llm if isinstance(llm, str) or llm is None else getattr(llm, "model_name", "chat-model")
        if llm is None and ctx is not None:
            spec = llm = ctx.llm_for("scribe") if hasattr(ctx, "llm_for") else getattr(ctx, "llm", None)
        if llm is None or llm == HEURISTIC:
            raise BackendError("--vision vlm needs a vision chat model (--llm provider:model), not the heuristic backend")
        self.spec = str(spec)
        self.server, self.step_timeout_s = None, None
        if isinstance(llm, str) and hasattr(ctx, "llm_for") and llm == ctx.llm_for("scribe"):
            endpoint = endpoint_for(ctx, "scribe")
            self.model, self.server = endpoint.model(), endpoint.server()  # the scribe's own server, key, timeout
            self.step_timeout_s = STEP_TIMEOUTS * endpoint.timeout_s  # a hanging server costs a step its deadline
        else:
            self.model = make_chat_model(llm, base_url=getattr(ctx, "llm_base_url", None)) if isinstance(llm, str) else llm
        self.tracer = getattr(ctx, "tracer", None) or Tracer(None)
        self.retry = getattr(ctx, "llm_retry", None)
        self.n_keyframes = n_keyframes
        self.fallback = getattr(ctx, "fallback", None) == "heuristic"  # --fallback heuristic: OpenCV's tracks stand
        self.warnings: list[str] = []  # read by the pipeline into run.json

    def track(self, video_path: str | Path, info: VideoInfo, *, labels: Sequence[str] = ()) -> list[Track]:
        tracks = super().track(video_path, info)
        if not tracks:
            return tracks
        try:
            return self._label(video_path, info, tracks, labels)
        except BackendError as exc:
            if not self.fallback:
                raise
            reason = getattr(exc, "reason", str(exc)).removeprefix("vision.vlm: ")
            warning = (f"vision.vlm: {self.spec} failed, kept the OpenCV tracks and labels (--fallback heuristic): "
                       f"{reason if len(reason) <= 160 else reason[:157] + '...'}")
            self.tracer.write({"node": "vision.vlm", "kind": "fallback", "backend": "opencv", "warning": warning})
            log.warning("%s", warning)
            self.warnings.append(warning)
            return tracks

    def _label(self, video_path: str | Path, info: VideoInfo, tracks: list[Track], labels: Sequence[str]) -> list[Track]:
        from langchain_core.messages import HumanMessage

        from foleydesigner.llm import image_block, structured_call
        from foleydesigner.tools.keyframes import keyframe_times, keyframes

        hint = f" Prefer these labels: {', '.join(labels)}." if labels else ""
        votes: dict[int, dict[str, float]] = {}
        for kf in keyframes(video_path, keyframe_times(info.duration_s, self.n_keyframes)):
            msg = HumanMessage(content=[
                {"type": "text", "text": "Box every object in this video frame that moves or makes a sound. Give "
                                         "boxes as fractions (0..1) of the image width and height." + hint},
                image_block(kf.jpeg_b64)])
            reply = structured_call(self.model, [msg], KeyframeBoxes, tracer=self.tracer, node="vision.vlm",
                                    backend=self.spec, retry=self.retry, server=self.server,
                                    step_timeout_s=self.step_timeout_s)
            frame = min(info.n_frames - 1, int(round(kf.t_s * info.fps)))
            dets = [((b.x * info.width, b.y * info.height, b.w * info.width, b.h * info.height), b.label.strip().lower(), 1.0)
                    for b in reply.boxes]
            near = [t.model_copy(update={"frames": [frame], "t_s": [kf.t_s], "boxes": [_box_at(t, kf.t_s)]})
                    for t in tracks if _box_at(t, kf.t_s) is not None]
            _vote(near, frame, dets, votes)
        return _relabel(tracks, votes)


def _box_at(t: Track, t_s: float, tol_s: float = 0.25) -> tuple[float, float, float, float] | None:
    i = int(np.argmin([abs(v - t_s) for v in t.t_s]))
    return t.boxes[i] if abs(t.t_s[i] - t_s) <= tol_s else None


def make_vision_backend(name: str, *, model_dir: str | Path | None = None, llm: Any = None, ctx: Any = None) -> VisionBackend:
    """The vision backend called `name`; raises InputError for an unknown name, BackendError when it cannot run."""
    hfov = float(getattr(ctx, "hfov_deg", 60.0) or 60.0)
    if name == "opencv":
        return OpenCVBackend()
    if name == "transformers":
        return TransformersBackend(model_dir, hfov_deg=hfov)
    if name == "vlm":
        spec = llm if llm is not None else ctx.llm_for("scribe") if hasattr(ctx, "llm_for") else getattr(ctx, "llm", None)
        if spec in (None, "heuristic"):
            return VLMBackend(llm, ctx=ctx)  # a setup mistake (no model chosen), not a model failing: it says so
        try:
            return VLMBackend(llm, ctx=ctx)
        except BackendError as exc:
            if getattr(ctx, "fallback", None) != "heuristic":
                raise
            backend = OpenCVBackend()  # --fallback heuristic: the offline eyes, said once in run.json
            backend.warnings = [f"vision.vlm: cannot start ({str(exc)[:160]}); used OpenCV (--fallback heuristic)"]  # type: ignore[attr-defined]
            log.warning("%s", backend.warnings[0])  # type: ignore[attr-defined]
            return backend
    raise InputError(f"unknown vision backend '{name}'; available: {', '.join(VISION_BACKENDS)}")
