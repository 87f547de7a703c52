"""Ground-truth benchmarks for the clue extractors: synthetic clips (synthetic.py) and scoring tracks
against their truth (here), shared by benchmarks/clues_accuracy.py and the tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foleydesigner.bench.synthetic import KINDS, SyntheticObject, TruthManifest, make_clip
from foleydesigner.schemas import Track
from foleydesigner.tools.depth import geometric_depth_m
from foleydesigner.units import azimuth_from_x

__all__ = ["KINDS", "ObjectScore", "SyntheticObject", "TruthManifest", "make_clip", "match_onsets", "score_object"]


@dataclass(frozen=True)
class ObjectScore:
    """How well one truth object is recovered by its best-matching track (None: no track matched)."""

    track_id: int | None
    azimuth_mae_deg: float  # frames where the truth is visible and the track present
    depth_rel_err: float  # median |d − d_true| / d_true, size cue only (no camera height)
    depth_rel_err_ground: float  # with camera height and horizon known (size + ground contact)
    activation_iou: float  # frame-level: track present vs truth visible
    coverage: float  # share of visible frames covered by the best track (identity kept)
    n_ids: int  # distinct tracks covering the object (1 = no fragmentation or swap)
    onset_tp: int
    onset_fp: int
    onset_fn: int
    onset_errors_ms: tuple[float, ...]
    label: str = ""
    motion: str = ""

    @property
    def onset_f1(self) -> float:
        den = 2 * self.onset_tp + self.onset_fp + self.onset_fn
        return 1.0 if den == 0 else 2 * self.onset_tp / den


def _iou(a: list[float] | tuple[float, ...], b: list[float] | tuple[float, ...]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy + 1e-9)


def match_onsets(truth_frames: list[int], pred_frames: list[int], tol: int = 1) -> tuple[int, int, int, list[int]]:
    """Greedy one-to-one matching within ±tol frames, closest pairs first: (tp, fp, fn, signed errors)."""
    pairs = sorted((abs(p - t), i, j) for i, t in enumerate(truth_frames) for j, p in enumerate(pred_frames)
                   if abs(p - t) <= tol)
    used_t: set[int] = set()
    used_p: set[int] = set()
    errors = []
    for _, i, j in pairs:
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
            errors.append(pred_frames[j] - truth_frames[i])
    tp = len(errors)
    return tp, len(pred_frames) - tp, len(truth_frames) - tp, errors


def _overlap_frames(obj: SyntheticObject, track: Track) -> int:
    return sum(1 for f, b in zip(track.frames, track.boxes, strict=True)
               if f < len(obj.visible) and obj.visible[f] and _iou(b, obj.boxes[f]) > 0.2)


def score_object(obj: SyntheticObject, tracks: list[Track], truth: TruthManifest) -> ObjectScore:
    """Score a truth object against the track that overlaps it on the most visible frames."""
    fps, visible = truth.fps, {i for i, v in enumerate(obj.visible) if v}
    counts = {tr.id: _overlap_frames(obj, tr) for tr in tracks}
    best = max(tracks, key=lambda tr: counts[tr.id], default=None)
    if best is None or counts[best.id] == 0:
        return ObjectScore(None, float("nan"), float("nan"), float("nan"), 0.0, 0.0, 0, 0, 0,
                           len(obj.onset_frames), ())
    present = set(best.frames)
    az_err, d_err, dg_err = [], [], []
    for f, b in zip(best.frames, best.boxes, strict=True):
        if f in visible:
            az_err.append(abs(azimuth_from_x(b[0] + b[2] / 2, truth.width, truth.hfov_deg) - obj.azimuth_deg[f]))
            kw = {"label": best.label, "frame_width": truth.width, "frame_height": truth.height, "hfov_deg": truth.hfov_deg}
            d_err.append(abs(geometric_depth_m(b, **kw) - obj.depth_m[f]) / obj.depth_m[f])
            dg = geometric_depth_m(b, camera_height_m=truth.camera_height_m, horizon_y=truth.horizon_y, **kw)
            dg_err.append(abs(dg - obj.depth_m[f]) / obj.depth_m[f])
    pred = [int(round(t * fps)) for t in best.onsets_s]
    tp, fp, fn, errors = match_onsets(obj.onset_frames, pred)
    # Identity: which track overlaps the object best on each visible frame; more than one such track
    # (for ≥ 10 % of the frames each) means fragmentation or a swap.
    owner: dict[int, int] = {}
    for f in visible:
        ious = [(_iou(b, obj.boxes[f]), tr.id) for tr in tracks for g, b in zip(tr.frames, tr.boxes, strict=True) if g == f]
        best_iou, best_id = max(ious, default=(0.0, -1))
        if best_iou > 0.2:
            owner[best_id] = owner.get(best_id, 0) + 1
    n_ids = sum(1 for c in owner.values() if c >= 0.1 * len(visible))
    return ObjectScore(
        track_id=best.id,
        azimuth_mae_deg=float(np.mean(az_err)) if az_err else float("nan"),
        depth_rel_err=float(np.median(d_err)) if d_err else float("nan"),
        depth_rel_err_ground=float(np.median(dg_err)) if dg_err else float("nan"),
        activation_iou=len(present & visible) / max(1, len(present | visible)),
        coverage=counts[best.id] / max(1, len(visible)),
        n_ids=n_ids,
        onset_tp=tp, onset_fp=fp, onset_fn=fn,
        onset_errors_ms=tuple(1000.0 * e / fps for e in errors),
        label=best.label, motion=best.motion,
    )
