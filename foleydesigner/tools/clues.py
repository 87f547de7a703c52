"""Spatio-temporal clues (paper §2): per event, depth d_t, azimuth θ_t and activation c_t on every video frame.

Keyframe measurements (the track's boxes) are interpolated linearly to the frame grid — linear interpolation
never overshoots — then lightly smoothed; the activation mask is the event's time span where its source is seen.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from foleydesigner.schemas import EventClues, SoundEvent, Track, VideoInfo
from foleydesigner.tools.depth import geometric_depth_m
from foleydesigner.units import DEFAULT_HFOV_DEG, azimuth_from_x, focal_length_px

#: Default distances for sounds without a visible source: a bed is "around", an off-screen cue a few metres away.
BED_DEPTH_M = 10.0
OFFSCREEN_DEPTH_M = 6.0
#: Smoothing span over frames (~0.12 s at 25 fps): removes box jitter without lagging real motion.
SMOOTH_S = 0.12
#: A track gap shorter than this (an occlusion, a missed detection) keeps the event active.
GAP_BRIDGE_S = 0.5


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
    f = focal_length_px(track.frame_width, hfov_deg)
    el_k = np.degrees(np.arctan((track.frame_height / 2.0 - (boxes[:, 1] + boxes[:, 3] / 2)) / f))
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
