"""Something big sweeping fast across a held shot: an axe swung down, a blade or a wing past the lens.

A Foley editor lays a whoosh where a large thing cuts through the picture in a flash, whatever the thing is:
close to the lens even a prop fills a good part of the frame and crosses it in a fraction of a second. Nothing
here names it; the motion alone is the evidence. Dense optical flow (Farneback, about 2 ms a frame at 160 px; DIS
is 20 times faster but loses a big textureless wing: it saw 0 % of the frame sweep where Farneback saw 4-9 %) runs
on small grey frames as the picture pass decodes them, only where enough of the picture changed. In the shots
whose camera is held (static, or zooming smoothly), with the camera's own motion (the median flow) taken out, a
sweep is a run of frames where at least SWEEP_AREA of the picture moves at SWEEP_SPEED or faster, lasting SWEEP_S
or longer. Each sweep is a Track labelled "sweep" (the fast region's box per frame) that the
motion rules (agents/evidence.py) turn into a whoosh at its time.

Why a share of the frame and not a tracked object: the swung thing sits inside a bigger blob (an axe in the
hands of the man holding it) or fills the frame (a wing), so background subtraction gives no box of its own.
Why not the wrists' landmarks: measured on the benchmark's people (tools/pose.py, 8 landmark frames a second,
wrist against the hips over 0.25 s, in body heights per second), the man swinging the prop axe peaks at 1.35
(his hands pivot at his hips; the axe head does the travelling), under walkers (vtest 1.47, the Sports2D lawn
walker 1.38-2.16), a running minion 3.79 and the Sintel fighters 2.13: no threshold on the wrists separates a
swing from a walk there.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from foleydesigner.schemas import Shot, Track, VideoInfo
from foleydesigner.tools.video import iter_frames

log = logging.getLogger(__name__)

#: Flow runs on grey frames this wide: a sweep is a whole-picture property (as the camera's motion is,
#: tools/camera.py).
SWEEP_WIDTH = 160
#: A pixel sweeps when it moves at least this many frame widths per second against the camera's motion: a walker
#: crossing the frame in 3-10 s moves at 0.1-0.3, a thrown thing or a swung tool near the lens at 2 or more.
SWEEP_SPEED = 2.0
#: Share of the picture that must sweep on every frame of the run. On the 44 real clips (benchmarks/annotations):
#: the prop axe's downswing 3.3-7.2 % of the frame, the dragon's wing across the lens 3.1-8.5 %.
SWEEP_AREA = 0.03
#: The shortest run that is a sweep, seconds. With SWEEP_AREA and SWEEP_SPEED, on the 44 real clips' held shots:
#: the axe's downswing lasts 0.20 s, the dragon's wing 0.33 s; everything else at most 0.125 s (a rabbit springing up
#: out of the grass, an apple landing, 3 frames at 24 fps; a pen flicking a coin on a table 0.10 s, 3 frames at
#: 30 fps). Hand-held and panned shots are left out: their shake and parallax leave fast flow everywhere once a
#: single median is taken out (the bikes clip's hand-held street: 0.28 s of it, and no whoosh to hear).
SWEEP_S = 0.16
#: The longest run that is one sweep, seconds: a swing or a wing passes in a fraction of a second (0.20 s and 0.33 s
#: on the real clips); fast motion that goes on is a stream (a waterfall, rain close to the lens, traffic rushing past
#: a roadside camera), not one thing swishing by.
SWEEP_MAX_S = 0.6
#: Flow runs only between frames where at least CHANGED[1] of the pixels changed by more than CHANGED[0] grey levels
#: (of 255): a sweep changes the pixels it crosses. On the 44 real clips every frame pair with SWEEP_AREA sweeping
#: had 2.6 % or more so changed (a rabbit springing up; the axe 6.5 %, the wing 14 %), and 0-99 % of a clip's
#: frame pairs (a still talking head: all) fall under the bar and cost no flow.
CHANGED = (16, 0.015)
#: Cameras whose motion a median takes out: locked off, or zooming (slowly: a zoom's edges move < 0.1 widths/s).
HELD = ("static", "zoom")
#: Frames this close after a shot starts (or before it ends) are left out: a cut's or a fade's first frames differ
#: from the last shot's everywhere, and flow across a cut is the picture changing, not something moving.
CUT_GUARD_S = (0.15, 0.1)


def sweep_mask(prev: np.ndarray, grey: np.ndarray, fps: float) -> np.ndarray:
    """Pixels moving at SWEEP_SPEED or faster (frame widths per second) between two small grey frames, the
    camera's motion (the median flow) taken out; none when too little of the picture changed (CHANGED)."""
    if float(np.mean(cv2.absdiff(prev, grey) > CHANGED[0])) < CHANGED[1]:
        return np.zeros(grey.shape, bool)
    flow = cv2.calcOpticalFlowFarneback(prev, grey, None, 0.5, 3, 9, 3, 5, 1.1, 0)
    flow -= np.median(flow.reshape(-1, 2), axis=0)
    return np.hypot(flow[..., 0], flow[..., 1]) * fps / grey.shape[1] >= SWEEP_SPEED


def find_sweeps(t_s: np.ndarray, share: np.ndarray, fps: float) -> list[tuple[int, int]]:
    """(first, last) sample of each run where at least SWEEP_AREA of the picture sweeps on every frame, lasting
    SWEEP_S to SWEEP_MAX_S (a run's span counts its last frame's duration)."""
    t_s, share = np.asarray(t_s, float), np.asarray(share, float)
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    hit = np.r_[False, share >= SWEEP_AREA, False]
    starts = np.flatnonzero(hit[1:] & ~hit[:-1])
    ends = np.flatnonzero(~hit[1:] & hit[:-1]) - 1
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)
            if SWEEP_S - 1e-9 <= t_s[b] - t_s[a] + 1.0 / fps <= SWEEP_MAX_S + 1e-9]


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Share of box a (x, y, w, h) that box b covers."""
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / max(a[2] * a[3], 1e-6)


#: A sweep whose box lies at least this much inside a tracked vehicle's box on most of its frames is that vehicle
#: passing close: its pass-by is the sound, not a whoosh laid on top.
VEHICLE_COVER = 0.5


def not_vehicles(sweeps: list[Track], tracks: list[Track]) -> list[Track]:
    """The sweeps that are not a tracked vehicle passing (VEHICLE_COVER on at least half of the sweep's frames)."""
    cars = [dict(zip(t.frames, t.boxes, strict=True)) for t in tracks if t.label == "vehicle"]
    out = []
    for sw in sweeps:
        covered = sum(any(f in car and _overlap(box, car[f]) >= VEHICLE_COVER for car in cars)
                      for f, box in zip(sw.frames, sw.boxes, strict=True))
        if covered < 0.5 * len(sw.frames):
            out.append(sw)
    return out


def _box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """The sweeping region's box (5-95 % of its pixels each way, so stray pixels do not stretch it)."""
    ys, xs = np.nonzero(mask)
    x0, x1 = np.percentile(xs, [5, 95])
    y0, y1 = np.percentile(ys, [5, 95])
    return float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)


class SweepMeter:
    """The sweeping share of the picture frame by frame, fed by a decode pass that already runs (the picture pass,
    tools/picture.py): no second decode. `tracks` keeps the held shots once the shots are known."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.rows: list[tuple[int, float, float, tuple[float, float, float, float] | None]] = []
        self._prev: np.ndarray | None = None
        self._prev_index = -2
        self._scale = 1.0

    def add(self, index: int, t_s: float, grey: np.ndarray, source_width: int) -> None:
        """One decoded grey frame (any width: it is brought to SWEEP_WIDTH) of a source source_width px wide."""
        h, w = grey.shape[:2]
        small = grey if w == SWEEP_WIDTH else cv2.resize(grey, (SWEEP_WIDTH, max(2, round(h * SWEEP_WIDTH / w))),
                                                         interpolation=cv2.INTER_AREA)
        if self._prev is not None and index == self._prev_index + 1:
            mask = sweep_mask(self._prev, small, self.fps)
            share = float(mask.mean())
            self.rows.append((index, t_s, share, _box(mask) if share > 0 else None))
        self._prev, self._prev_index, self._scale = small, index, source_width / SWEEP_WIDTH

    def tracks(self, info: VideoInfo, shots: list[Shot], *, start_id: int = 0) -> list[Track]:
        """One "sweep" Track per sweep in the held shots: its frames, the sweeping region's box on each (source
        pixels), its start as the onset, and the evidence (peak share of the frame, duration, the shot)."""
        held = [s for s in shots if s.camera in HELD]
        if not held or info.fps <= 0:
            return []

        last = max((r[0] for r in self.rows), default=0)
        owner: list[Shot | None] = [None] * (last + 1)  # the held shot each frame belongs to, cut guards left out
        for s in held:
            for i in range(max(0, s.start_frame), min(s.end_frame, last) + 1):
                if s.start_s + CUT_GUARD_S[0] <= i / info.fps <= s.end_s - CUT_GUARD_S[1]:
                    owner[i] = s

        def usable(i: int) -> Shot | None:
            return owner[i] if 0 <= i <= last else None

        samples: dict[int, list[tuple[int, float, float, tuple[float, float, float, float] | None]]] = {}
        for row in self.rows:
            # the frame before must lie in the same usable stretch: flow across a cut is no motion
            if (shot := usable(row[0])) is not None and usable(row[0] - 1) is shot:
                samples.setdefault(shot.index, []).append(row)
        out: list[Track] = []
        for shot_index, rows in sorted(samples.items()):
            t = np.array([r[1] for r in rows])
            share = np.array([r[2] for r in rows])
            for a, b in find_sweeps(t, share, info.fps):
                part = rows[a:b + 1]
                boxes = [tuple(v * self._scale for v in r[3]) for r in part if r[3] is not None]
                evidence = {"sweep_share": round(float(share[a:b + 1].max()), 4),
                            "sweep_s": round(float(t[b] - t[a]) + 1.0 / info.fps, 3), "shot": float(shot_index)}
                out.append(Track(id=start_id + len(out), label="sweep", motion="moving", frames=[r[0] for r in part],
                                 t_s=[float(r[1]) for r in part], boxes=boxes,  # type: ignore[arg-type]
                                 onsets_s=[float(t[a])], frame_width=info.width, frame_height=info.height,
                                 shot=shot_index, evidence=evidence))
        if out:
            log.info("%d sweeps (whooshes) in held shots", len(out))
        return out


def sweep_tracks(video_path: str | Path, info: VideoInfo, shots: list[Shot], *, start_id: int) -> list[Track]:
    """The sweeps of a clip read on their own (the pipeline measures them in its picture pass instead)."""
    meter = SweepMeter(info.fps)
    for fr in iter_frames(video_path, max_width=SWEEP_WIDTH):
        meter.add(fr.index, fr.t_s, cv2.cvtColor(fr.image, cv2.COLOR_BGR2GRAY), info.width)
    return meter.tracks(info, shots, start_id=start_id)
