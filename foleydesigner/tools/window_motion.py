"""Inside a moving vehicle: scenery streaming past a window behind a cabin that holds still.

A Foley editor knows a moving car's cabin without seeing the car: behind the people talking, the window's scenery
slides steadily one way while the roof, the seats and the people stay put or only shake with the camera. The
picture pass (tools/picture.py) feeds every decoded frame here; every SAMPLE_EVERY_S one optical flow (Farneback on
the small grey frame, a few milliseconds) is taken across BASELINE_S, the frame's median motion (the camera's
shake, carried by the cabin that fills most of the frame) is taken out, and the window's drift is read: the median
horizontal flow of the textured pixels of the bright regions touching the top or a side of the frame (a window is
lit by the day outside, the cabin around it is in its shade). The clip's reading says how often the window drifts
one way and how often the other.

That reading alone cannot tell a car from a camera panning with a subject (the background streams behind a still
horse just the same: on the project's real clips the horse on the beach and a title over a sliding picture drift
steadily in 100 % of their samples). So tools/picture.py reads a vehicle only where close-up faces are seen as
well (CABIN_FACES): a person sitting still before the window, which a pan over a landscape never shows.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

#: One flow sample every this many seconds, across this baseline (s). A distant landscape through a side window
#: crosses slowly (carphone's: about 1 % of the frame width a second), so the flow is taken over four frames at
#: 30 fps rather than one: the drift grows with the baseline, the flow's noise does not.
SAMPLE_EVERY_S, BASELINE_S = 0.25, 0.133
#: The window: pixels at least this bright (0-255 grey) and in the frame's brightest quarter, in 4-connected regions
#: touching the top, left or right edge, eroded by WINDOW_ERODE px so the pillars' edges (cabin) do not vote.
WINDOW_GREY, WINDOW_PERCENTILE, WINDOW_ERODE = 130.0, 75.0, 5
#: Textured pixels (Sobel gradient magnitude at the analysis width) are the only ones whose flow is read; a frame
#: whose window holds fewer than MIN_WINDOW_TEXTURE of the frame's pixels has no window to read.
TEXTURE, MIN_WINDOW_TEXTURE = 16.0, 0.01
#: A window whose textured pixels changed by less than this (mean absolute grey difference across the baseline) has
#: not streamed: its drift is 0 and no flow is run (the flow is most of the cost, about 5 ms a sample). On the real
#: clips carphone's window changes by 5.8 or more in 90 % of its samples; the still walls behind webcam_room and
#: cap12_talk by 0.4 or less in 90 % of theirs.
STILL_WINDOW = 2.0
#: A sample drifts when the window's median residual flow is at least DRIFT_PCT_S of the frame width a second.
DRIFT_PCT_S = 0.5
#: The window streams when at least STEADY of the clip's samples drift one way, at most AGAINST the other way, over
#: at least MIN_SAMPLES samples (2 s). Measured through the picture pass on the project's 44 real clips: carphone (a
#: car's cabin, countryside through the side window) drifts left in 0.71 of its 17 samples, right in none (median
#: drift -1.15 %/s); the close-up faces against walls, doors and blue screens drift in 0.00-0.02 of theirs
#: (webcam_room, cap12_talk, franck_laughs, title_to_webcam 0.00, megamind 0.02: their bright backgrounds hold
#: still, or show no texture); streets with traffic stay low (bikes 0.15 one way / 0.12 the other, vtest* 0.00-0.02,
#: city_night and traffic_overhead* 0.00) and so do hand-held shots (bikes; handheld_wall_drift 0.00). Without a
#: person before it the reading does not separate: a still subject before a panning background streams as steadily
#: (horses_beach and bbb_title_burrow 1.00; then bbb_gliding 0.45, greenscreen_axe_swing 0.41 / 0.35), hence
#: CABIN_FACES.
STEADY, AGAINST, MIN_SAMPLES = 0.6, 0.15, 8
#: Close-up faces (tools/picture.CLOSEUP_FACE) in at least this share of the place samples: someone sits before
#: the window (carphone 0.5; horses_beach and bbb_title_burrow, which stream as steadily, 0.0; bbb_gliding 0.13).
CABIN_FACES = 0.3


@dataclass(frozen=True)
class WindowDrift:
    """How a clip's window moved: over `samples` flow samples, the share drifting one way (`steady`) and the
    other (`against`), and the median drift (% of the frame width a second, + rightwards) of those with a window."""

    samples: int = 0
    steady: float = 0.0
    against: float = 0.0
    drift_pct_s: float = 0.0

    @property
    def streaming(self) -> bool:
        """Scenery streams past the window one way, steadily, through most of the clip."""
        return self.samples >= MIN_SAMPLES and self.steady >= STEADY and self.against <= AGAINST

    def evidence(self) -> dict[str, Any]:
        return {"window_samples": self.samples, "window_steady": round(self.steady, 3),
                "window_against": round(self.against, 3), "window_drift_pct_s": round(self.drift_pct_s, 2)}


def window_mask(grey: np.ndarray) -> np.ndarray:
    """The bright regions touching the top, left or right edge of the frame (a window lit by the day), eroded."""
    bright = (grey >= max(WINDOW_GREY, float(np.percentile(grey, WINDOW_PERCENTILE)))).astype(np.uint8)
    _n, labels = cv2.connectedComponents(bright, connectivity=4)
    edge = set(np.unique(labels[0])) | set(np.unique(labels[:, 0])) | set(np.unique(labels[:, -1]))
    edge.discard(0)
    if not edge:
        return np.zeros(grey.shape, bool)
    region = np.isin(labels, sorted(edge)).astype(np.uint8)
    return cv2.erode(region, np.ones((WINDOW_ERODE, WINDOW_ERODE), np.uint8)) > 0


def window_drift(prev: np.ndarray, grey: np.ndarray, seconds: float) -> float | None:
    """The window's horizontal motion against the rest of the frame from prev to grey (% of the width a second);
    None when the frame shows no textured window."""
    window = window_mask(grey)
    texture = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)) > TEXTURE
    seen = window & texture
    if float(seen.mean()) < MIN_WINDOW_TEXTURE:
        return None
    if float(np.mean(cv2.absdiff(prev, grey)[seen])) < STILL_WINDOW:
        return 0.0
    flow = cv2.calcOpticalFlowFarneback(prev, grey, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    flow -= np.median(flow.reshape(-1, 2), axis=0)  # the camera's shake, carried by the cabin
    return float(np.median(flow[..., 0][seen])) / seconds / grey.shape[1] * 100.0


class WindowMeter:
    """Fed every decoded grey frame; measures the window's drift every SAMPLE_EVERY_S."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.every = max(1, int(round(SAMPLE_EVERY_S * fps)))
        self.lag = max(1, int(round(BASELINE_S * fps)))
        self.recent: deque[np.ndarray] = deque(maxlen=self.lag + 1)
        self.drifts: list[float | None] = []

    def add(self, index: int, grey: np.ndarray) -> None:
        self.recent.append(grey)
        if index % self.every == 0 and len(self.recent) > self.lag:
            self.drifts.append(window_drift(self.recent[0], grey, self.lag / self.fps))

    def reading(self) -> WindowDrift:
        n = len(self.drifts)
        seen = np.array([d for d in self.drifts if d is not None], float)
        if not n or not seen.size:
            return WindowDrift(samples=n)
        left, right = int(np.sum(seen <= -DRIFT_PCT_S)), int(np.sum(seen >= DRIFT_PCT_S))
        return WindowDrift(samples=n, steady=max(left, right) / n, against=min(left, right) / n,
                           drift_pct_s=float(np.median(seen)))
