"""The still shot's foreground (tools/tracking.py): MOG2 background subtraction, primed with a median of the opening
seconds, and the blobs of its mask; a camera's re-exposure taken out before the model sees the frame.

A consumer or phone camera sets its exposure itself. When something passes before a low sun, the gain steps by
10–20 % for a frame or a few, and the veiling glare over half the picture vanishes and returns: to a background
model most pixels of those frames changed, and the glare's edge becomes a wide, fast blob (the real park clip,
benchmarks/annotations/real_clips.json, where one was labelled a vehicle). So:

- a frame whose gain (median ratio of its grey levels to the primed background's) stepped by more than GAIN_STEP
  from a steady frame before (a fade changes every frame) opens a re-exposure. From there each frame's gain against the model's own background (as
  it stood at the step) is divided out while it is more than GAIN_OFF off (the exposure ramping back after the
  steps is then no motion), until it has held within GAIN_OFF for HOLD_S after the last step, or EPISODE_S passed;
- a step's frame, and those after it, whose foreground covers HOLD_EXCESS more of the picture than the frame
  before the steps did (the glare gone or half back) are re-exposed: the model does not learn them and the tracker
  is given no blobs for them; its tracks coast through (tools/tracking.py _COAST_S). At most HOLD_S of frames in a
  row are set aside, so a light switched on for good is seen again as before.

Nothing here depends on the tracker: `foreground` runs ahead of it on a thread of its own (tools/cpus.read_ahead).

A clip whose exposure never steps (the demo clip's gain moves by under 1 % a frame; a webcam's slow drift) is
subtracted exactly as without this, frame for frame.
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
#: A frame-to-frame gain step larger than this opens a re-exposure. The park clip's steps: 6–15 %; sensor noise
#: and people walking move the gain by under 1 % a frame (demo clip, vtest), a 2 fps time-lapse of a garden in
#: drifting light (opencv-doc tree.avi) by up to 3.4 %.
GAIN_STEP = 0.05
#: Inside a re-exposure, a gain this far off the model's background is divided out (the park clip's exposure sits
#: 5–8 % off for 0.3 s after its steps, ramping back); at most EPISODE_S after the step.
GAIN_OFF, EPISODE_S = 0.025, 2.0
#: Gains an exposure step goes between and that are divided out (the park clip: 0.86–1.09). Beyond, the picture
#: fades, goes black or flashes white (a shot opening on black, a fade-in inside a shot): as before, not a re-exposure.
EXPOSURE_RANGE = (0.75, 1.33)
#: A step's frame, and those after it, are re-exposed while their foreground share exceeds the one before the step
#: by this much: the park clip's glare frames 0.34–0.62 against 0.02 (divided gain); a walker adds a few hundredths,
#: and a webcam's step as a box is turned before it (opencv-doc box.mp4) none.
HOLD_EXCESS = 0.1
#: Longest run of re-exposed frames set aside (seconds): as long as a track coasts unseen (tools/tracking.py).
HOLD_S = 0.4


def prime_background(frames: list[np.ndarray]) -> tuple[cv2.BackgroundSubtractorMOG2, np.ndarray]:
    """MOG2 whose model starts as the median of frames spread over the buffer (a mover vanishes from it if
    it is elsewhere in most samples), with the per-pixel spread learnt from copies at the sensor noise; and that
    median, in BGR."""
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
    return mog, median


def blobs(fg: np.ndarray, min_area: float) -> tuple[list[np.ndarray], np.ndarray]:
    """(x, y, w, h) boxes of the foreground mask's objects of at least min_area pixels, and the cleaned mask."""
    mask = (fg > 200).astype(np.uint8)  # 127 = MOG2 shadow: cast shadows are not objects
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    # A tall closing kernel joins legs, torso and head of one person without merging side-by-side people.
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 7)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    # Edge pixels count as foreground when partly covered (half, on average): the continuous extent is half
    # a pixel inside the pixel extent on each side.
    return [stats[i, :4] + np.array([0.5, 0.5, -1.0, -1.0]) for i in range(1, n) if stats[i, 4] >= min_area], mask


def _grey(image: np.ndarray) -> np.ndarray:
    """Grey at half size: brightness and where it changed need no more."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[::2, ::2].astype(np.float32)


def _near(gain: float) -> bool:
    """A gain a camera's exposure gives (EXPOSURE_RANGE), not a fade's or a flash's."""
    return EXPOSURE_RANGE[0] <= gain <= EXPOSURE_RANGE[1]


def _gain(grey: np.ndarray, ref: np.ndarray) -> float:
    """Median ratio of grey levels to ref's, clipped pixels left out (1: as bright as ref)."""
    ok = (ref > 10) & (ref < 245)
    return float(np.median((grey[ok] + 1.0) / (ref[ok] + 1.0))) if ok.sum() >= 100 else 1.0


class Foreground:
    """A still shot's background model, fed frame by frame; see the module's docstring for re-exposures."""

    def __init__(self, frames: list[np.ndarray], fps: float, memory_s: float) -> None:
        self.mog, median = prime_background(frames)
        self._primed = _grey(median)
        self.rate, self.hold, self.episode = 1.0 / (memory_s * fps), max(1, int(round(HOLD_S * fps))), EPISODE_S * fps
        self._last_gain: float | None = None  # the frame before's gain (none before the shot's first frame)
        self._steady = True  # whether the frame before's gain held (within GAIN_STEP / 2 of the one before it)
        self._run, self._before = 0, 0.0  # re-exposed frames in a row; the foreground share before the step
        self._model: np.ndarray | None = None  # the model's background (grey) while a re-exposure is open
        self._since, self._since_step = 0, 0  # frames since it opened, since its last step

    def apply(self, image: np.ndarray, min_area: float) -> tuple[list[np.ndarray], np.ndarray, bool]:
        """The frame's blobs and foreground mask, and whether it is re-exposed (then it has no blobs, and the model
        does not learn it)."""
        grey = _grey(image)
        gain, last, steady = _gain(grey, self._primed), self._last_gain, self._steady
        change = 0.0 if last is None else abs(gain / last - 1.0)
        # An exposure step, between two exposures near the background's (not a black frame or a white flash); one
        # opens a re-exposure only after a steady frame (a fade changes every frame: it is no re-exposure).
        step = change > GAIN_STEP and _near(gain) and last is not None and _near(last)
        self._last_gain, self._steady = gain, change <= GAIN_STEP / 2
        if step and self._model is None:
            step = steady
            if step:
                self._model, self._since = _grey(self.mog.getBackgroundImage()), 0
        if self._model is None:
            dets, mask = blobs(self.mog.apply(image, learningRate=self.rate), min_area)
            self._before = float(mask.mean())
            return dets, mask, False
        self._since, self._since_step = self._since + 1, 0 if step else self._since_step + 1
        off = _gain(grey, self._model)
        if abs(off - 1.0) > GAIN_OFF and _near(off):
            image = np.clip(image.astype(np.float32) / off, 0, 255).astype(np.uint8)
        if step or self._run:
            # A step, or after a re-exposed frame: looked at without learning first (the model then gives the same
            # mask again when it learns the frame).
            dets, mask = blobs(self.mog.apply(image, learningRate=0.0), min_area)
            if float(mask.mean()) > self._before + HOLD_EXCESS and self._run < self.hold:
                self._run += 1
                return [], mask, True
        if (abs(off - 1.0) <= GAIN_OFF and self._since_step >= self.hold) or self._since > self.episode \
                or self._run >= self.hold:
            self._model = None  # over, or a lasting change: the model learns it as before
        self._run = 0
        return (*blobs(self.mog.apply(image, learningRate=self.rate), min_area), False)


def foreground(frames: Iterable[Frame], fps: float, min_area: float) -> Iterator[tuple[Frame, list[np.ndarray], np.ndarray]]:
    """(frame, blobs of at least min_area px as x y w h, foreground mask) for every frame of one still shot; the
    model is primed on the shot's own opening _PRIME_S seconds (buffered at analysis size, the rest streams). A
    re-exposed frame (the camera's gain stepping, a glare vanishing) gives no blobs: the tracks coast."""
    frames = iter(frames)
    buffered = list(itertools.islice(frames, max(1, int(_PRIME_S * fps))))
    background = Foreground([f.image for f in buffered], fps, _BG_MEMORY_S)
    for fr in itertools.chain(buffered, frames):
        dets, mask, _ = background.apply(fr.image, min_area)
        yield fr, dets, mask
