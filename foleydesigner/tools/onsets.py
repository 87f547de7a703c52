"""Visual onsets of a tracked object (footfalls, bounces, sudden stops) and its motion class.

Everything here reads only the track's boxes, so it works for any tracker (OpenCV, detector, VLM boxes).
Onsets are returned in seconds on the track's own frame times, i.e. to the nearest video frame.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.ndimage import binary_erosion, median_filter

from foleydesigner.schemas import Track

log = logging.getLogger(__name__)

Motion = Literal["walking", "bouncing", "moving", "static"]
#: Step-rate band searched for gait: adults walk at ~100–130 steps/min (1.6–2.2 /s); brisk up to 2.8.
GAIT_MIN_HZ, GAIT_MAX_HZ = 1.4, 2.8
#: Periodicity (normalised autocorrelation at the step period) below which the gait signal is not trusted.
GAIT_MIN_STRENGTH = 0.2
#: Step length ≈ 0.41 × body height (a 1.7 m adult steps ~0.7 m); gives cadence from speed in the fallback.
_STEP_PER_HEIGHT = 0.41
#: Heel strike opens double support (~10 % of a stride, i.e. 0.2 step periods); the box signals peak in
#: its middle, so heel strike is this many step periods before the peak.
_HS_LEAD_STEPS = 0.1


@dataclass(frozen=True)
class GaitEstimate:
    """Footfall analysis of one track: onsets, step rate, how periodic the signal was, and which method."""

    onsets_s: list[float]
    cadence_hz: float
    strength: float
    method: Literal["signal", "cadence", "none"]


@dataclass(frozen=True)
class _Series:
    """A track resampled on every frame of its span (gaps linearly interpolated)."""

    frames: np.ndarray
    t: np.ndarray
    seen: np.ndarray
    reliable: np.ndarray  # seen whole: not cut by the frame edge, not a sliver half behind an occluder
    cx: np.ndarray
    cy: np.ndarray
    w: np.ndarray
    h: np.ndarray

    @property
    def bottom(self) -> np.ndarray:
        return self.cy + self.h / 2


def _series(track: Track, fps: float) -> _Series:
    f = np.asarray(track.frames, float)
    b = np.asarray(track.boxes, float)
    grid = np.arange(int(f[0]), int(f[-1]) + 1)
    seen = np.isin(grid, f)
    t = np.interp(grid, f, np.asarray(track.t_s, float)) if len(f) > 1 else np.asarray(track.t_s, float)
    cx, cy, w, h = (np.interp(grid, f, v) for v in (b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2, b[:, 2], b[:, 3]))
    inside = (cx - w / 2 > 2) & (cy - h / 2 > 2) & (cx + w / 2 < track.frame_width - 2) & (cy + h / 2 < track.frame_height - 2)
    local_h = median_filter(h, size=max(3, int(fps)) | 1, mode="nearest")
    # Boxes next to a gap are already half merged or half hidden: widen every gap by ~0.08 s each side.
    ok = binary_erosion(seen & inside & (h >= 0.85 * local_h), np.ones(2 * max(1, round(0.08 * fps)) + 1), border_value=1)
    return _Series(grid, t, seen, ok, cx, cy, w, h)


def _moving_average(x: np.ndarray, n: int) -> np.ndarray:
    n = max(1, min(n, len(x)))
    pad = np.pad(x, (n // 2, n - 1 - n // 2), mode="edge")
    return np.convolve(pad, np.ones(n) / n, mode="valid")


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 1e-12 else 0.0


def _autocorr_peak(x: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """(period in frames, normalised autocorrelation) of the strongest lag in [lo, hi], sub-frame by parabola."""
    n = len(x)
    lags = np.arange(max(1, round(lo)), min(n - 2, round(hi)) + 1)
    if len(lags) == 0 or x.std() < 1e-9:
        return (lo + hi) / 2, 0.0
    ac = np.array([_corr(x[:-k], x[k:]) for k in lags])
    i = int(np.argmax(ac))
    period = float(lags[i])
    if 0 < i < len(ac) - 1:  # parabolic refinement of the peak lag
        den = ac[i - 1] - 2 * ac[i] + ac[i + 1]
        period += 0.5 * (ac[i - 1] - ac[i + 1]) / den if abs(den) > 1e-9 else 0.0
    return period, float(ac[i])


def _beats(signal: np.ndarray, period: float, tightness: float = 4.0) -> list[int]:
    """Dynamic-programming beat tracking (Ellis 2007): the frames maximising signal at the beats minus a
    penalty on log deviation of each interval from the period. Robust to missed peaks and tempo drift."""
    n = len(signal)
    score = signal.astype(float).copy()
    back = np.full(n, -1)
    for t in range(n):
        lo, hi = t - int(round(2.0 * period)), t - max(1, int(round(0.6 * period)))
        if hi < 0:
            continue
        taus = np.arange(max(0, lo), hi + 1)
        cand = score[taus] - tightness * np.log((t - taus) / period) ** 2
        k = int(np.argmax(cand))
        if cand[k] > 0:
            score[t] += cand[k]
            back[t] = taus[k]
    tail = max(1, int(round(period)))
    t = int(n - tail + np.argmax(score[-tail:]))
    out = [t]
    while back[t] >= 0:
        t = int(back[t])
        out.append(t)
    return out[::-1]


def _gait_signal(s: _Series, fps: float) -> tuple[np.ndarray, float, float]:
    """Gait signal peaking at heel strikes, with its step period (frames) and periodicity.

    Three box cues, each detrended by a ~1 s moving average (perspective and pose change slower than
    steps) and scaled by body height: leg spread (width) and body drop (height) peak mid double support,
    ~0.1 step after heel strike; the lowest point (feet) advances in steps towards the camera and stops
    as the front heel lands. Each is shifted onto heel strike and weighted by its own periodicity;
    unreliable frames (cut, half hidden, unseen) are neutral.
    """
    win = max(3, int(round(fps / GAIT_MIN_HZ)))
    scale = _moving_average(s.h, 2 * win)
    bottom = s.bottom
    towards = 1.0 if bottom[-1] >= bottom[0] else -1.0
    cues = (((s.w - _moving_average(s.w, win)) / scale, _HS_LEAD_STEPS),
            (-(s.h - _moving_average(s.h, win)) / scale, _HS_LEAD_STEPS),
            (towards * (bottom - _moving_average(bottom, win)) / scale, 0.0))
    lo, hi = fps / GAIT_MAX_HZ, fps / GAIT_MIN_HZ
    ok = s.reliable
    if ok.sum() < 4:
        return np.zeros(len(s.h)), (lo + hi) / 2, 0.0
    zs = []
    for x, lead in cues:
        z = _zscore(np.where(ok, x, np.median(x[ok])))
        zs.append((z, *_autocorr_peak(z, lo, hi), lead))
    _, period, best, _ = max(zs, key=lambda c: c[2])
    idx = np.arange(len(s.h), dtype=float)
    aligned = [(r, np.interp(idx + lead * period, idx, z)) for z, _, r, lead in zs]
    # Weight r²; a cue much less periodic than the best one (leg spread seen head-on) only adds noise.
    candidates = [sum(r * r * a for r, a in aligned if r >= 0.75 * best)] + [a for _, a in aligned]
    # Cue phases depend on the view (a receding walker's feet step up at toe-off): if the blend is less
    # periodic than one cue alone, that cue wins.
    scored = [(sig, *_autocorr_peak(sig, lo, hi)) for sig in (_zscore(np.where(ok, c, 0.0)) for c in candidates)]
    return max(scored, key=lambda c: c[2] + (0.05 if c is scored[0] else 0.0))


def gait_analysis(track: Track, fps: float) -> GaitEstimate:
    """Footfalls of a walking track: DP beat tracking on the gait signal when it is periodic, otherwise
    steps placed at the cadence implied by walking speed (method "cadence", logged)."""
    s = _series(track, fps)
    n = len(s.frames)
    if n < max(4, int(0.6 * fps)):
        return GaitEstimate([], 0.0, 0.0, "none")
    sig, period, strength = _gait_signal(s, fps)
    if strength >= GAIT_MIN_STRENGTH:
        # A beat counts unless the signal contradicts it, and always where the walker is hidden (the steps
        # go on behind a pillar, placed by the beat tracker's periodicity); end frames cannot show a peak.
        frames = [b for b in _beats(sig, period) if 0 < b < n - 1 and (sig[b] > -0.5 or not s.reliable[b])]
        method: Literal["signal", "cadence"] = "signal"
    else:
        h = float(np.median(s.h))
        speed_px = float(np.median(np.hypot(np.diff(s.cx), np.diff(s.cy)))) * fps if n > 1 else 0.0
        # Image speed understates walks towards or away from the camera: stay inside the normal 1.6–2.2 band.
        cadence = float(np.clip(speed_px / (_STEP_PER_HEIGHT * h), 1.6, 2.2)) if h > 0 else 1.9
        period = fps / cadence
        # Phase: the comb offset that collects the most gait signal, so even weak evidence sets the phase.
        offsets = np.arange(int(math.ceil(period)))
        phase = int(offsets[np.argmax([sig[np.arange(o, n, period).astype(int)].sum() for o in offsets])])
        frames = [int(round(x)) for x in np.arange(phase, n, period)]
        method = "cadence"
        log.info("track %d: gait signal too weak (periodicity %.2f); footsteps placed at %.2f steps/s",
                 track.id, strength, cadence)
    frames = [f for f in frames if 0 <= f < n]
    return GaitEstimate([float(s.t[f]) for f in frames], fps / period, strength, method)


def footstep_onsets(track: Track, fps: float) -> list[float]:
    """Heel-strike times (s) of a walking track: one per foot contact, to the nearest frame."""
    return gait_analysis(track, fps).onsets_s


def _noise(x: np.ndarray) -> float:
    """Frame-to-frame jitter of a smooth-ish signal: MAD of its second difference, as a sigma."""
    return float(1.4826 * np.median(np.abs(np.diff(x, 2))) / math.sqrt(6)) if len(x) > 3 else 0.0


def _bounce_frames(s: _Series, fps: float) -> list[int]:
    """Frames where the box centre reaches a local lowest point with a fall before and a rise after.

    The centre, not the bottom edge: it averages two edges, so for a rigid object it halves the jitter.
    """
    y, h = s.cy, float(np.median(s.h))
    m = max(2, int(round(0.3 * fps)))
    noise = _noise(y)
    out = []
    for k in range(1, len(y) - 1):
        if not (s.seen[k] and y[k] >= y[k - 1] and y[k] > y[k + 1]):
            continue
        fall = y[k] - y[max(0, k - m):k].min()
        rise = y[k] - y[k + 1:k + 1 + m].min()
        # A hop of ~0.4 ball heights is still audible; the rebound of a small one is shallower still.
        if fall >= max(4 * noise, 0.2 * h, 1.5) and rise >= max(3 * noise, 0.06 * h, 1.0):
            out.append(k)
    return out


def _stop_frames(s: _Series, fps: float) -> list[int]:
    """Frames where a fast mover halts and stays halted, or reverses horizontally (hits something).

    Vertical reversals are left to _bounce_frames: the top of a ballistic arc is no impact, and a halt
    must last 0.3 s so that the slow top of an arc is not one either.
    """
    h = float(np.median(s.h))
    v = np.stack([np.diff(s.cx), np.diff(s.cy)], axis=1) * fps
    fast = max(1.5 * h, 20.0)  # px/s: 1.5 body lengths per second is a lively motion
    hold = max(3, int(round(0.3 * fps)))
    out: list[int] = []
    for k in range(3, len(v) - hold + 1):
        before, after = v[k - 3:k].mean(axis=0), v[k:k + 2].mean(axis=0)
        vb = math.hypot(*before)
        halt = vb >= fast and float(np.hypot(v[k:k + hold, 0], v[k:k + hold, 1]).max()) <= 0.25 * vb
        bounce_x = abs(before[0]) >= fast and before[0] * after[0] < -0.25 * before[0] ** 2
        if (halt or bounce_x) and (not out or k - out[-1] > 2):
            out.append(k)
    return out


def impact_onsets(track: Track, fps: float) -> list[float]:
    """Impact times (s): bounces (downward motion reversing at a lowest point) and sudden stops/reversals."""
    s = _series(track, fps)
    if len(s.frames) < 3:
        return []
    bounces = _bounce_frames(s, fps)
    stops = [f for f in _stop_frames(s, fps) if all(abs(f - b) > 2 for b in bounces)]
    return [float(s.t[f]) for f in sorted(bounces + stops)]


#: An object at rest holds its place within this share of its size for REST_S seconds (box jitter is a few per cent).
REST_JITTER, REST_S = 0.15, 0.3
#: How far back (s) the rest a move started from is looked for; a displacement moves at least its own size.
MOVE_S = 1.5
#: A rigid thing keeps its size on the way, within this ratio (motion blur stretches it a little; a hand opening,
#: a head turning or two blobs merging change it more).
RIGID_RATIO = 1.5


def displacements(track: Track, fps: float, *, falls_only: bool = False) -> int:
    """How many of the track's onsets end a displacement: the thing rested (within REST_JITTER of its size for
    REST_S) at most MOVE_S before, or fell from its highest point there (_fell_from), moved at least its own
    size, and rests again for REST_S from the onset on, keeping its size on the way (RIGID_RATIO). A coin flicked
    across a table, a cup set down or dropped, a box shoved: something struck it, set it down or it landed. A swinging hand, a head turning or a branch swaying does not come to rest
    somewhere else with its shape unchanged. With falls_only, only falls count (a far walker who steps and
    stands still rests, moves and rests again too; nothing walks down the picture speeding up like a fall)."""
    s = _series(track, fps)
    if len(s.frames) < 3:
        return 0
    size = np.sqrt(np.maximum(s.w * s.h, 1.0))
    n = max(3, int(round(REST_S * fps)))

    def rests(a: int) -> bool:
        if a < 0 or a + n > len(s.cx):
            return False
        tol = REST_JITTER * float(np.median(size[a:a + n]))
        return bool(np.ptp(s.cx[a:a + n]) <= tol and np.ptp(s.cy[a:a + n]) <= tol)

    count, last = 0, 0
    for o in track.onsets_s:
        k = int(np.argmin(np.abs(s.t - o)))
        if not rests(k):
            continue
        # the rest it started from, after the previous displacement ended (one move is counted once), or else
        # the highest point it fell from
        start = None if falls_only else next(
            (a for a in range(k - n, max(last, k - n - int(round(MOVE_S * fps))) - 1, -1) if rests(a)), None)
        if start is None:
            start = _fell_from(s, k, max(last, k - int(round(MOVE_S * fps))), size)
        if start is None:
            continue
        way = size[start:k + n]
        moved = math.hypot(s.cx[k] - s.cx[start], s.cy[k] - s.cy[start]) / float(np.median(way))
        if moved >= 1.0 and float(way.max() / way.min()) <= RIGID_RATIO:
            count, last = count + 1, k
    return count


def _fell_from(s: _Series, k: int, lo: int, size: np.ndarray) -> int | None:
    """The frame a thing that comes to rest at k fell from: its highest point since lo, when it then dropped at
    least its own size, mostly downwards and speeding up (a parabola opening downwards on screen, R² ≥ 0.8, and
    at least twice as fast at the end as at the start: gravity). A thing carried, a body part stretching or a
    sliver of a blob slows down into its stop instead; a walker coming down the picture keeps its pace."""
    j = lo + int(np.argmin(s.cy[lo:k + 1]))
    top = s.cy[j] + REST_JITTER * size[j]
    while j < k and s.cy[j + 1] <= top:  # from where it leaves its highest point
        j += 1
    if k - j < 4:
        return None
    dy, dx = s.cy[k] - s.cy[j], abs(s.cx[k] - s.cx[j])
    if dy < float(np.median(size[j:k + 1])) or dy < 2 * dx:
        return None
    t, y = s.t[j:k + 1] - s.t[j], s.cy[j:k + 1]
    coef = np.polyfit(t, y, 2)
    ss = float(np.sum((y - y.mean()) ** 2)) or 1e-9
    r2 = 1 - float(np.sum((y - np.polyval(coef, t)) ** 2)) / ss
    speeds_up = coef[1] + 2 * coef[0] * t[-1] >= 2 * max(float(coef[1]), 0.0)
    return j if coef[0] > 0 and r2 >= 0.8 and speeds_up else None


def classify_motion(track: Track, fps: float) -> Motion:
    """static (barely moves), bouncing (repeated fall-and-rebound), walking (a person, or an upright blob
    with a periodic gait, moving at walking pace) or moving (anything else that moves)."""
    s = _series(track, fps)
    h = float(np.median(s.h))
    if len(s.frames) < 3 or h <= 0:
        return "static"
    extent = max(np.ptp(s.cx), np.ptp(s.cy)) / h
    grow = float(np.percentile(s.h, 90) / max(np.percentile(s.h, 10), 1.0))
    if extent < 0.3 and grow < 1.2:
        return "static"
    if track.label != "person" and len(_bounce_frames(s, fps)) >= 2 and np.ptp(s.cy) >= 0.5 * h:
        return "bouncing"  # people do not bounce: their box jitters when they walk towards the camera
    speed = float(np.median(np.hypot(np.diff(s.cx), np.diff(s.cy)))) * fps / h  # body heights per second
    upright = float(np.median(s.h / np.maximum(s.w, 1.0))) >= 1.4
    if track.label == "person" or upright:
        if 0.05 <= speed <= 3.0 or grow >= 1.2:
            if track.label == "person" or gait_analysis(track, fps).strength >= GAIT_MIN_STRENGTH:
                return "walking"
    return "moving"


@dataclass(frozen=True)
class TrackDescription:
    """What a track's boxes say: label, motion class, onsets and how the onsets were found."""

    label: str
    motion: Motion
    onsets_s: list[float]
    method: Literal["gait-signal", "gait-cadence", "impacts", "none"]


def _along_travel(b: np.ndarray) -> float:
    """How elongated the box is along the way it travels: length ÷ width for a thing driving up or down the
    frame (0 when it travels mostly sideways: that case is `wide`)."""
    d = b[-1, :2] + b[-1, 2:] / 2 - b[0, :2] - b[0, 2:] / 2
    if abs(d[1]) <= 2 * abs(d[0]):
        return 0.0
    return float(np.median(b[:, 3] / np.maximum(b[:, 2], 1.0)))


def describe_track(track: Track, fps: float) -> TrackDescription:
    """Motion class, onsets and a label refined by motion: an "object" that walks is a person, one that
    bounces and is about as wide as tall is a ball, one wide and covering a body height per second or more
    is a vehicle (labels as tools/depth.py knows them)."""
    motion = classify_motion(track, fps)
    b = np.asarray(track.boxes, float)
    wide = float(np.median(b[:, 2] / np.maximum(b[:, 3], 1.0)))
    span = max(track.t_s[-1] - track.t_s[0], 1e-3)
    speed = float(np.hypot(*(b[-1, :2] + b[-1, 2:] / 2 - b[0, :2] - b[0, 2:] / 2))) / span / float(np.median(b[:, 3]))
    label = track.label
    if label == "object":
        if motion == "walking":
            label = "person"  # upright blob with a periodic gait
        elif motion == "bouncing" and 0.6 < wide < 1.6:
            label = "ball"
        elif wide >= 1.5 and speed >= 1.0:
            label = "vehicle"
        elif _along_travel(b) >= 1.5 and speed >= 1.5 and np.ptp(b[:, 3]) <= 0.3 * float(np.median(b[:, 3])):
            label = "vehicle"  # seen from above, a car is long in the way it drives (up or down the frame)
    if motion == "walking":
        gait = gait_analysis(track, fps)
        method = {"signal": "gait-signal", "cadence": "gait-cadence"}.get(gait.method, "none")
        return TrackDescription(label, motion, gait.onsets_s, method)  # type: ignore[arg-type]
    if motion == "static":
        return TrackDescription(label, motion, [], "none")
    return TrackDescription(label, motion, impact_onsets(track, fps), "impacts")
