"""What moves in a still shot: MOG2 background subtraction primed with a median of the opening seconds (objects
present from frame 0 are foreground at once), and the foreground's blobs (tools/tracking.py tracks them).

Nothing here depends on the tracker: `foreground` runs ahead of it on a thread of its own (tools/cpus.read_ahead).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from foleydesigner.tools.video import Frame

_BG_SAMPLES = 15  # frames whose median primes the background (odd: a true median)
_PRIME_S = 8.0  # ... spread over the opening seconds (one decode pass; a few tens of MB at 384 px)
_BG_MEMORY_S = 20.0  # MOG2 forgets at this time scale: a person pausing a few seconds stays foreground


def _prime_background(frames: list[np.ndarray]) -> cv2.BackgroundSubtractorMOG2:
    """MOG2 whose model starts as the median of frames spread over the buffer (a mover vanishes from it if
    it is elsewhere in most samples), with the per-pixel spread learnt from copies at the sensor noise."""
    stack = np.stack([frames[i] for i in np.unique(np.linspace(0, len(frames) - 1, _BG_SAMPLES).round().astype(int))])
    median = np.median(stack, axis=0).astype(np.uint8)
    # Robust noise: per-pixel MAD on a pixel grid (noise is a frame-wide statistic), then its median.
    mad = np.median(np.abs(stack[:, ::4, ::4].astype(np.int16) - median[::4, ::4]), axis=0)
    sigma = float(max(1.5, 1.4826 * np.median(mad)))
    mog = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=16, detectShadows=True)
    mog.setVarMin(max(4.0, (1.5 * sigma) ** 2))  # never trust the model tighter than the sensor noise
    rng = np.random.default_rng(0)
    for k in range(8):
        mog.apply(np.clip(median + rng.normal(0, sigma, median.shape), 0, 255).astype(np.uint8), learningRate=1 / (k + 1))
    return mog


def _blobs(fg: np.ndarray, min_area: float) -> tuple[list[np.ndarray], np.ndarray]:
    mask = (fg > 200).astype(np.uint8)  # 127 = MOG2 shadow: cast shadows are not objects
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    # A tall closing kernel joins legs, torso and head of one person without merging side-by-side people.
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 7)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    # Edge pixels count as foreground when partly covered (half, on average): the continuous extent is half
    # a pixel inside the pixel extent on each side.
    return [stats[i, :4] + np.array([0.5, 0.5, -1.0, -1.0]) for i in range(1, n) if stats[i, 4] >= min_area], mask


def foreground(frames: Iterable[Frame], fps: float, min_area: float) -> Iterator[tuple[Frame, list[np.ndarray], np.ndarray]]:
    """(frame, blobs of at least min_area px as x y w h, foreground mask) for every frame of one still shot; the
    model is primed on the shot's own opening _PRIME_S seconds (buffered at analysis size, the rest streams)."""
    frames = iter(frames)
    buffered = list(itertools.islice(frames, max(1, int(_PRIME_S * fps))))
    mog = _prime_background([f.image for f in buffered])
    for fr in itertools.chain(buffered, frames):
        yield (fr, *_blobs(mog.apply(fr.image, learningRate=1.0 / (_BG_MEMORY_S * fps)), min_area))
