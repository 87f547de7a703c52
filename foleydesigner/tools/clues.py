"""Spatio-temporal clues (paper §2): per event, depth d_t, azimuth θ_t and activation c_t on every video frame.

Keyframe measurements (the track's boxes) are interpolated linearly to the frame grid — linear interpolation
never overshoots — then lightly smoothed; the activation mask is the event's time span where its source is seen.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter, uniform_filter1d

from foleydesigner.schemas import EventClues, SoundEvent, Track, VideoInfo
from foleydesigner.tools.depth import _GROUNDED, geometric_depth_m, real_height_m
from foleydesigner.units import DEFAULT_HFOV_DEG, azimuth_from_x, focal_length_px

#: Default distances for sounds without a visible source: a bed is "around", an off-screen cue a few metres away.
BED_DEPTH_M = 10.0
OFFSCREEN_DEPTH_M = 6.0
#: Smoothing span over frames (~0.12 s at 25 fps): removes box jitter without lagging real motion.
SMOOTH_S = 0.12
#: A track gap shorter than this (an occlusion, a missed detection) keeps the event active.
GAP_BRIDGE_S = 0.5
#: How fast a grounded source's distance can change, m/s: a sprinter reaches ~10 m/s, a walker 1.5; a box that
#: shrinks by half in a frame (an occlusion, a merge) is not a person stepping back 20 m.
MAX_DEPTH_RATE_M_S = {"person": 6.0}
#: Depth is read from a grounded track's smoothed log-size over this span: box heights swing with every step.
DEPTH_MEDIAN_S = 0.5
#: A person shorter than this on screen is past where the tracker or the pose model could see one.
MIN_PERSON_PX = 12.0


def underfoot(label: str) -> bool:
    """Sounds made where a body meets the ground: footsteps of every kind, landings."""
    return label.endswith("steps") or label in ("landing", "jump_landing", "footstep")


def _limit_rate(log_d: np.ndarray, t: np.ndarray, rate_m_s: float) -> np.ndarray:
    """Depth no faster than rate_m_s: clamp each step forwards and backwards, and average the two passes
    (one pass alone lags one way)."""
    d = np.exp(log_d)
    fwd, bwd = d.copy(), d.copy()
    for i in range(1, len(d)):
        step = rate_m_s * (t[i] - t[i - 1])
        fwd[i] = np.clip(fwd[i], fwd[i - 1] - step, fwd[i - 1] + step)
    for i in range(len(d) - 2, -1, -1):
        step = rate_m_s * (t[i + 1] - t[i])
        bwd[i] = np.clip(bwd[i], bwd[i + 1] - step, bwd[i + 1] + step)
    return np.log(np.maximum((fwd + bwd) / 2, 1e-3))


def _ground_depths(boxes: np.ndarray, frame_height: int, f: float, body_m: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Depth from the feet on a ground plane, and where it holds (feet in frame). A body of height H standing at
    depth d has its feet y_h + f·C/d down the picture and is f·H/d tall (C: the camera's height, y_h: the
    horizon), so over a track the feet's row is a line in the box height, y = y_h + (C/H)·h: fitted over the
    frames whose feet are in frame, it gives the horizon and the camera's height, and each frame's depth is then
    read from its feet's row, f·C/(y − y_h), which an occlusion that shortens the box for a frame does not move.
    None when the fit does not hold: too little spread in depth (a walker crossing at one distance), a camera
    lower than 0.3 or higher than 30 body heights, a horizon below the feet, or a poor line."""
    y, h = boxes[:, 1] + boxes[:, 3], boxes[:, 3]
    seen = (y < 0.99 * frame_height) & (boxes[:, 1] > 0.01 * frame_height)
    if seen.sum() < 8 or np.ptp(y[seen]) < 0.08 * frame_height:
        return None
    k, y_h = np.polyfit(h[seen], y[seen], 1)
    res = np.abs(y[seen] - y_h - k * h[seen])
    good = res <= max(3.0 * float(np.median(res)), 1.0)  # frames whose box was cut short (an occlusion) fit badly
    if good.sum() >= 8:
        k, y_h = np.polyfit(h[seen][good], y[seen][good], 1)
    yy = y[seen][good] if good.sum() >= 8 else y[seen]
    fit = y_h + k * (h[seen][good] if good.sum() >= 8 else h[seen])
    r2 = 1.0 - float(np.sum((yy - fit) ** 2)) / max(float(np.sum((yy - yy.mean()) ** 2)), 1e-9)
    if not (0.3 <= k <= 30.0) or r2 < 0.6 or y_h >= float(y[seen].min()):
        return None
    return f * k * body_m / np.maximum(y - y_h, 1.0), seen


def _grounded_depths(track: Track, boxes: np.ndarray, hfov_deg: float) -> np.ndarray:
    """Depth per keyframe for a grounded track (a person): the size cue from a running median of the box height
    (a walker's box swings with every step, a merge halves it for a frame), capped where a body would be too
    small to see, then limited to what a body can travel (MAX_DEPTH_RATE_M_S)."""
    tt = np.asarray(track.t_s, dtype=np.float64)
    dt = float(np.median(np.diff(tt))) if len(tt) > 1 else 1.0
    win = max(1, int(round(DEPTH_MEDIAN_S / max(dt, 1e-3))) | 1)
    h = median_filter(boxes[:, 3], size=win, mode="nearest") if len(boxes) > win else boxes[:, 3]
    d = np.array([geometric_depth_m((b[0], b[1], b[2], hh), label=track.label, frame_width=track.frame_width,
                                    frame_height=track.frame_height, hfov_deg=hfov_deg) for b, hh in zip(boxes, h, strict=True)])
    f = focal_length_px(track.frame_width, hfov_deg)
    ground = _ground_depths(boxes, track.frame_height, f, real_height_m(track.label))
    if ground is not None:  # where the feet stand on the ground, their image row gives the depth
        dg, seen = ground
        d = np.where(seen, dg, d)
    d = np.minimum(d, f * real_height_m(track.label) / MIN_PERSON_PX)
    rate = MAX_DEPTH_RATE_M_S.get(track.label)
    return np.exp(_limit_rate(np.log(d), tt, rate)) if rate else d


def frame_times(video: VideoInfo) -> np.ndarray:
    return np.arange(video.n_frames, dtype=np.float64) / video.fps


def _span_mask(t: np.ndarray, start_s: float, end_s: float, fps: float) -> np.ndarray:
    half = 0.5 / fps  # a frame is active if the event covers any part of it
    return ((t + half) > start_s) & ((t - half) <= end_s)


def clues_for_track(event: SoundEvent, track: Track, video: VideoInfo, *, hfov_deg: float = DEFAULT_HFOV_DEG) -> EventClues:
    t = frame_times(video)
    tt = np.asarray(track.t_s, dtype=np.float64)
    boxes = np.asarray(track.boxes, dtype=np.float64)
    az_k = np.array([azimuth_from_x(b[0] + b[2] / 2, track.frame_width, hfov_deg) for b in boxes])
    # Elevation: the box centre's height through the same focal length (square pixels), + above the centre line.
    # Sounds underfoot come from the feet (the box's bottom), which stand on the ground: never above the ears.
    f = focal_length_px(track.frame_width, hfov_deg)
    feet = underfoot(event.label)
    y_k = boxes[:, 1] + boxes[:, 3] if feet else boxes[:, 1] + boxes[:, 3] / 2
    el_k = np.degrees(np.arctan((track.frame_height / 2.0 - y_k) / f))
    if feet:
        el_k = np.minimum(el_k, 0.0)
    if track.label.strip().lower() in _GROUNDED and track.label in MAX_DEPTH_RATE_M_S:
        d_k = _grounded_depths(track, boxes, hfov_deg)
    else:
        d_k = np.array([geometric_depth_m(tuple(b), label=track.label, frame_width=track.frame_width,
                                          frame_height=track.frame_height, hfov_deg=hfov_deg) for b in boxes])
    # np.interp holds the end values outside the track: the source stays where it was last seen.
    az = np.interp(t, tt, az_k)
    el = np.interp(t, tt, el_k)
    if track.depth_samples:  # a depth model measured the box on keyframes: it wins over the geometric estimate
        tt_d, d_k = np.asarray(track.depth_samples, dtype=np.float64).T
        tt_d, d_k = tt_d[np.argsort(tt_d)], d_k[np.argsort(tt_d)]
    else:
        tt_d = tt
    log_d = np.interp(t, tt_d, np.log(np.maximum(d_k, 1e-3)))  # depth varies multiplicatively: interpolate in log
    win = max(1, int(round(SMOOTH_S * video.fps)) | 1)
    if win > 1 and len(t) > win:
        az = uniform_filter1d(az, win, mode="nearest")
        el = uniform_filter1d(el, win, mode="nearest")
        log_d = uniform_filter1d(log_d, win, mode="nearest")
    seen = np.zeros(len(t), dtype=bool)
    for a, b in zip(tt[:-1], tt[1:], strict=True):
        if b - a <= GAP_BRIDGE_S:
            seen |= (t >= a - 0.5 / video.fps) & (t <= b + 0.5 / video.fps)
    for a in tt:
        seen |= np.abs(t - a) <= 0.5 / video.fps
    act = seen & _span_mask(t, event.start_s, event.end_s, video.fps)
    return EventClues(event_id=event.id, fps=video.fps, t_s=t.round(4).tolist(), depth_m=np.exp(log_d).round(3).tolist(),
                      azimuth_deg=az.round(3).tolist(), activation=act.astype(int).tolist(), source="track",
                      elevation_deg=el.round(3).tolist())


def clues_for_event(event: SoundEvent, tracks: list[Track], video: VideoInfo, *, hfov_deg: float = DEFAULT_HFOV_DEG) -> EventClues:
    """Clues from the event's track; else the fixed azimuth the script gives (off-screen); else a centred bed."""
    track = next((tr for tr in tracks if tr.id == event.source_track), None) if event.source_track is not None else None
    if track is not None:
        return clues_for_track(event, track, video, hfov_deg=hfov_deg)
    t = frame_times(video)
    if event.azimuth_deg is not None:
        az, depth, source = event.azimuth_deg, event.depth_m or OFFSCREEN_DEPTH_M, "script"
    else:
        az, depth, source = 0.0, event.depth_m or BED_DEPTH_M, "scene"
    act = _span_mask(t, event.start_s, event.end_s, video.fps)
    return EventClues(event_id=event.id, fps=video.fps, t_s=t.round(4).tolist(), depth_m=[float(depth)] * len(t),
                      azimuth_deg=[float(az)] * len(t), activation=act.astype(int).tolist(), source=source)  # type: ignore[arg-type]
