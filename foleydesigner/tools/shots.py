"""Shot boundaries: hard cuts, fades through black and dissolves, from small colour thumbnails.

PySceneDetect is the well-kept library for this, but no release of it installs beside this project: 0.7 requires
the `opencv-python` wheel (a second cv2, which would shadow the contrib build that has HOG, Haar and CSRT) and
0.6.7 pins click < 8.3, which huggingface-hub (through transformers and diffusers) refuses. So this is a small
detector of the same kind, fed from the one decode pass the picture analysis already makes:

- **cut**: the HSV content change between two frames (mean absolute difference of hue, saturation and value,
  0–255, as PySceneDetect's content detector measures it) stands out against its neighbourhood, the way its
  adaptive detector decides: a pan or hand-held shake raises every frame's change, a cut raises one. And a cut
  changes the whole picture: most cells of a 4×4 grid change (CUT_SPREAD). Someone leaping close to the lens
  changes a large part of one frame, but only where the body is; the rest of the shot holds still. Inside fast
  action a cut stands out less, and is told by its two frames sharing nothing (CUT_FAST_*).
- **fade**: a run of (near) black frames between two pictures; or of frames of one flat colour (a dip to white).
- **dissolve**: over about half a second the picture changes as much as at a cut, with no cut inside, and the
  middle frame is close to the average of the two ends (a cross-fade is a blend; a pan is not), and the two ends are
  different pictures (an exposure ramp is a blend too, of one picture at two brightnesses).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from foleydesigner.schemas import Shot, Track

#: Thumbnail width for the content measures: cuts are whole-picture changes, 96 px sees them.
THUMB_WIDTH = 96
#: A cut's content change must be at least this (0–255 HSV mean) and this many times its neighbours' median.
CUT_MIN, CUT_RATIO = 18.0, 3.0
#: A cut changes at least CUT_SPREAD of the cells of a CELLS×CELLS grid by at least CELL_CHANGE each (0–255 HSV
#: mean): local motion, however fast, leaves most of the frame as it was.
CELLS, CELL_CHANGE, CUT_SPREAD = 4, 12.0, 0.6
#: A cut's frame correlates with the one before (grey thumbnails, normalised cross-correlation: gain and offset
#: taken out) below this. The real clips' 40 hard cuts measure -0.33 to 0.34; two frames of one shot that every cell
#: of changed measure 0.94 (a park whose exposure jumps as a jumper passes before the sun) and 0.63 (foliage
#: sweeping past the lens as the camera pans after a toppling log).
CUT_SAME = 0.5
#: In a burst of action (a fight, a tackle in a blizzard) every frame changes a lot, and a cut stands out less than
#: CUT_RATIO over its neighbours: a cut between two unrelated pictures still correlates near zero. So a change of
#: CUT_FAST_RATIO over the neighbourhood is a cut when the two frames correlate under CUT_FAST_SAME. Measured: a
#: cut inside a fight, 2.55× and -0.02; the most alike two frames of one shot that change as much (a glide past the
#: lens, a dragon's wing across it), 2.7× at 0.26 and 2.2× at 0.36.
CUT_FAST_RATIO, CUT_FAST_SAME = 2.0, 0.1
#: Neighbourhood (seconds each side) whose median change is the adaptive baseline.
BASELINE_S = 0.5
#: Mean luma below which a frame is black (fades go through black; 16 is video black in studio range).
BLACK_LUMA = 20.0
#: Grey standard deviation (0-255, at THUMB_WIDTH) under which a frame is one flat colour, whatever its brightness: a
#: dip to white (the blizzard's measures 0.4 at its whitest, 1.7 two frames later, 2.5 as the picture returns). The
#: flattest frames of the project's real shots, a sky or a wall filling the frame, keep more texture than that.
FLAT_STD = 2.0
#: Dissolve: grey change over the window at least this (0–255 mean), and the middle frame's distance from the
#: blend of the ends at most this fraction of it (a pan moves the picture, it does not blend it: ~0.5 and up).
DISSOLVE_MIN, DISSOLVE_BLEND = 20.0, 0.25
DISSOLVE_S = 0.5
#: A dissolve's two ends correlate (as CUT_SAME measures) below this. The ends of a cross-fade twice the window long
#: are 25 % and 75 % blends, about 0.6 for unrelated pictures; the real clips' dissolve measures -0.22, and the park
#: shot's exposure ramping over half a second as the jumper passes before the sun 0.91.
DISSOLVE_SAME = 0.8
#: Shots shorter than this are flashes or detector noise, not shots.
MIN_SHOT_S = 0.4


def thumbnails(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(HSV, grey) thumbnails (float32) of a BGR frame, THUMB_WIDTH wide. A cross-fade blends the pixel values,
    so whether a frame is a blend is judged on grey, which mixes linearly; hue does not."""
    h, w = bgr.shape[:2]
    small = cv2.resize(bgr, (THUMB_WIDTH, max(2, round(h * THUMB_WIDTH / w))), interpolation=cv2.INTER_AREA)
    return (cv2.cvtColor(small, cv2.COLOR_BGR2HSV).astype(np.float32),
            cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32))


def _change(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(mean HSV change, share of grid cells that changed by CELL_CHANGE or more)."""
    d = np.abs(a - b)
    d[..., 0] = np.minimum(d[..., 0], 180.0 - d[..., 0]) * (255.0 / 90.0)  # hue is circular (OpenCV: 0–180)
    per_px = d.mean(axis=2)
    h, w = per_px.shape
    cells = per_px[:h - h % CELLS, :w - w % CELLS].reshape(CELLS, h // CELLS, CELLS, w // CELLS).mean(axis=(1, 3))
    return float(d.mean()), float((cells >= CELL_CHANGE).mean())


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two grey thumbnails (1: the same pattern at any brightness and contrast)."""
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / den if den > 1e-6 else 0.0


@dataclass
class _Measures:
    change: list[float]
    spread: list[float]  # share of the picture's cells that changed (a cut changes them all)
    same: list[float]  # grey correlation with the frame before, gain and offset taken out (a cut replaces the picture)
    luma: list[float]
    flat: list[bool]  # one flat colour (a frame of a dip to white, or black)
    span_change: list[float]  # grey change from the frame DISSOLVE_S earlier
    blend_error: list[float]  # the middle frame's distance from the blend of the two ends, over span_change
    span_same: list[float]  # the two ends' correlation (a dissolve joins two pictures)


class ShotDetector:
    """Feed every frame (`add`), then `shots()` returns the clip's shots."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.k = max(2, int(round(DISSOLVE_S * fps)))
        self._ring: deque[np.ndarray] = deque(maxlen=self.k + 1)  # grey thumbnails of the last k + 1 frames
        self._prev: np.ndarray | None = None
        self._t: list[float] = []
        self.m = _Measures([], [], [], [], [], [], [], [])

    def add(self, t_s: float, bgr: np.ndarray) -> None:
        hsv, grey = thumbnails(bgr)
        prev, self._prev = self._prev, hsv
        self._ring.append(grey)
        self._t.append(t_s)
        change, spread = (0.0, 0.0) if prev is None else _change(prev, hsv)
        self.m.change.append(change)
        self.m.spread.append(spread)
        self.m.same.append(_correlation(self._ring[-2], grey) if len(self._ring) > 1 else 1.0)
        self.m.luma.append(float(hsv[..., 2].mean()))
        self.m.flat.append(float(grey.std()) < FLAT_STD)
        if len(self._ring) == self.k + 1:
            a, mid, b = self._ring[0], self._ring[self.k // 2], self._ring[-1]
            span = float(np.abs(a - b).mean())
            self.m.span_change.append(span)
            self.m.blend_error.append(float(np.abs(mid - (a + b) / 2).mean()) / max(span, 1e-6))
            self.m.span_same.append(_correlation(a, b))
        else:
            self.m.span_change.append(0.0)
            self.m.blend_error.append(1.0)
            self.m.span_same.append(1.0)

    def boundaries(self) -> list[tuple[int, str]]:
        """(first frame of the new shot, transition) for every boundary found."""
        c = np.asarray(self.m.change)
        n = len(c)
        if n < 2:
            return []
        w = max(2, int(round(BASELINE_S * self.fps)))
        black = (np.asarray(self.m.luma) < BLACK_LUMA) | np.asarray(self.m.flat)  # blank: black or one flat colour
        found: list[tuple[int, str]] = []
        for t in range(1, n):
            if black[t] or black[t - 1]:
                continue  # changes into or out of black belong to a fade
            around = np.r_[c[max(1, t - w):max(1, t - 1)], c[t + 2:t + 1 + w]]
            base = float(np.median(around)) if around.size else 0.0
            ratio = c[t] / max(base, 2.0)
            if c[t] >= CUT_MIN and self.m.spread[t] >= CUT_SPREAD and (
                    (ratio >= CUT_RATIO and self.m.same[t] < CUT_SAME)
                    or (ratio >= CUT_FAST_RATIO and self.m.same[t] < CUT_FAST_SAME)):
                found.append((t, "cut"))
        # Fades: a blank run (black, or a dip to one colour) with picture on both sides; the new shot starts where
        # the picture returns.
        t = 0
        while t < n:
            if black[t]:
                end = t
                while end + 1 < n and black[end + 1]:
                    end += 1
                if t > 0 and end + 1 < n:
                    found.append((end + 1, "fade"))
                t = end + 1
            else:
                t += 1
        # Dissolves: local maxima of the windowed change that look like a blend and hold no cut.
        span, blend, ends_same = (np.asarray(v) for v in (self.m.span_change, self.m.blend_error, self.m.span_same))
        cuts = [f for f, _ in found]
        for t in range(self.k, n):
            lo = t - self.k
            if span[t] < DISSOLVE_MIN or blend[t] > DISSOLVE_BLEND or span[t] < span[max(lo, 0):t + self.k + 1].max() \
                    or ends_same[t] >= DISSOLVE_SAME:
                continue
            if black[lo:t + self.k + 1].any() or any(lo - 2 <= f <= t + 2 for f in cuts):
                continue  # a blend into black that follows is a fade out, found as a fade
            found.append((lo + self.k // 2, "dissolve"))
        found.sort()
        min_gap = max(1, int(round(MIN_SHOT_S * self.fps)))
        kept: list[tuple[int, str]] = []
        for f, kind in found:
            if f < min_gap and kind != "cut":
                continue  # a fade or dissolve needs frames before it; a hard cut does not (an excerpt can open on one)
            if kept and f - kept[-1][0] < min_gap:
                # Two boundaries closer than a shot can be: the larger whole-picture change is the cut, the other
                # a flash of motion beside it (a tail whipped past the lens just before the real cut).
                if kind == kept[-1][1] == "cut" and c[f] > c[kept[-1][0]]:
                    kept[-1] = (f, kind)
                continue
            kept.append((f, kind))
        return kept

    def shots(self) -> list[Shot]:
        n = len(self._t)
        if n == 0:
            return []
        bounds = self.boundaries()
        starts = [(0, "start")] + bounds
        out = []
        for i, (f, kind) in enumerate(starts):
            last = (starts[i + 1][0] - 1) if i + 1 < len(starts) else n - 1
            end_s = self._t[last + 1] if last + 1 < n else self._t[last] + 1.0 / self.fps
            out.append(Shot(index=i, start_frame=f, end_frame=last, start_s=round(self._t[f], 4), end_s=round(end_s, 4),
                            transition=kind))  # type: ignore[arg-type]
        return out


def split_at_cuts(tracks: list[Track], shots: list[Shot]) -> list[Track]:
    """Cut every track at the shot boundaries: one piece per shot it spans (pieces shorter than 3 frames go),
    numbered afresh. The same object seen again after a cut is new evidence, not a continuation."""
    if len(shots) < 2:
        return [t.model_copy(update={"shot": 0}) for t in tracks] if shots else tracks
    out: list[Track] = []
    for t in tracks:
        for shot in shots:
            keep = [i for i, f in enumerate(t.frames) if shot.start_frame <= f <= shot.end_frame]
            if len(keep) < 3:
                continue
            out.append(t.model_copy(update={
                "id": len(out), "shot": shot.index, "frames": [t.frames[i] for i in keep], "t_s": [t.t_s[i] for i in keep],
                "boxes": [t.boxes[i] for i in keep], "onsets_s": [o for o in t.onsets_s if shot.start_s <= o < shot.end_s],
                "depth_samples": [d for d in t.depth_samples if shot.start_s <= d[0] < shot.end_s]}))
    return out
