"""Drawing helpers of the synthetic clips (bench.synthetic): sub-pixel OpenCV primitives, their exact extent,
value-noise textures and a streaming H.264 writer."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

_SHIFT = 4  # OpenCV sub-pixel drawing: coordinates × 16
Prim = tuple[Any, ...]


def draw_prims(img: np.ndarray, prims: list[Prim], offset: tuple[float, float] = (0, 0), mask: bool = False) -> None:
    def p(pt: tuple[float, float]) -> tuple[int, int]:
        return int(round((pt[0] + offset[0]) * 16)), int(round((pt[1] + offset[1]) * 16))

    aa = cv2.LINE_8 if mask else cv2.LINE_AA
    for prim in prims:
        colour = 255 if mask else prim[-1]
        if prim[0] == "poly":
            cv2.fillPoly(img, [np.array([p(q) for q in prim[1]], np.int32)], colour, aa, _SHIFT)
        elif prim[0] == "circle":
            cv2.circle(img, p(prim[1]), int(round(prim[2] * 16)), colour, -1, aa, _SHIFT)
        else:
            cv2.line(img, p(prim[1]), p(prim[2]), colour, max(1, int(round(prim[3]))), aa, _SHIFT)


def prims_extent(prims: list[Prim]) -> list[float]:
    """Exact box (x, y, w, h) of the drawn primitives (thick lines have round caps), not pixel-rounded."""
    xs: list[float] = []
    ys: list[float] = []
    for prim in prims:
        if prim[0] == "poly":
            pts, r = prim[1], 0.0
        elif prim[0] == "circle":
            pts, r = [prim[1]], prim[2]
        else:
            pts, r = [prim[1], prim[2]], max(1, int(round(prim[3]))) / 2
        xs += [q[0] + d for q in pts for d in (-r, r)]
        ys += [q[1] + d for q in pts for d in (-r, r)]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def noise_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Multi-scale value noise in [-1, 1] (grass/asphalt-like texture at several grain sizes)."""
    out = np.zeros((h, w), np.float32)
    for cell, amp in ((2, 0.35), (8, 0.35), (32, 0.3)):
        small = rng.uniform(-1, 1, (max(2, h // cell), max(2, w // cell))).astype(np.float32)
        out += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return out


def write_mp4(frames: Iterator[np.ndarray], out_path: Path, fps: float) -> None:
    """Encode frames as they are rendered (H.264, yuv420p), so a long clip never sits in memory."""
    import av

    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(out_path), mode="w") as container:
        stream = None
        for img in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=rate)
                stream.width, stream.height, stream.pix_fmt = img.shape[1], img.shape[0], "yuv420p"
                stream.options = {"crf": "16", "preset": "veryfast"}  # low enough that sensor noise survives coding
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode() if stream is not None else []:
            container.mux(packet)
