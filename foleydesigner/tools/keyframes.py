"""Keyframes K = {I_1..I_N} of a clip (paper §2) as small JPEGs, for vision LLMs and for cheap picture facts.

One decode of the clip at a reduced width gives every keyframe; results are cached per clip, so the FilmScribe
loop does not decode the video again on each iteration.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: 512 px wide is enough for a model to see who does what, and keeps a 4-frame prompt around 1k image tokens.
KEYFRAME_WIDTH = 512
JPEG_QUALITY = 80


@dataclass(frozen=True)
class Keyframe:
    t_s: float
    jpeg_b64: str
    width: int
    height: int
    mean_luma: float  # 0..255 (BT.601 luma), a night/day hint


def keyframe_times(duration_s: float, n: int = 4) -> list[float]:
    """n times spread over the clip, at the middle of n equal parts (never the black first/last frame)."""
    n = max(1, n)
    return [round((i + 0.5) * duration_s / n, 3) for i in range(n)]


@lru_cache(maxsize=8)
def _decode(path: str, times: tuple[float, ...], max_width: int) -> tuple[Keyframe, ...]:
    import cv2

    from foleydesigner.tools.video import iter_frames

    best: dict[int, tuple[float, np.ndarray]] = {}
    for frame in iter_frames(path, max_width=max_width):
        for i, t in enumerate(times):
            d = abs(frame.t_s - t)
            if i not in best or d < best[i][0]:
                best[i] = (d, frame.image)
    out = []
    for i, t in enumerate(times):
        if i not in best:
            continue
        image = best[i][1]
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            continue
        luma = float(np.mean(image[..., 0] * 0.114 + image[..., 1] * 0.587 + image[..., 2] * 0.299))
        out.append(Keyframe(t, base64.b64encode(buf.tobytes()).decode("ascii"), image.shape[1], image.shape[0], luma))
    return tuple(out)


def keyframes(video_path: str | Path, times_s: list[float], *, max_width: int = KEYFRAME_WIDTH) -> list[Keyframe]:
    """The frames nearest to times_s, as base64 JPEG; [] when the clip cannot be read (the caller goes on)."""
    try:
        return list(_decode(str(video_path), tuple(times_s), max_width))
    except Exception as exc:  # keyframes are an aid, never a reason to stop a run
        log.warning("no keyframes from %s: %s", video_path, exc)
        return []
