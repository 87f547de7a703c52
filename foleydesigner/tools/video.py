"""Video I/O: probe a clip and decode its frames with PyAV (FFmpeg libraries bundled, no system ffmpeg)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foleydesigner.errors import InputError
from foleydesigner.schemas import VideoInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    index: int
    t_s: float
    image: np.ndarray  # H x W x 3, uint8, BGR (OpenCV order)
    full: np.ndarray | None = None  # the frame at source size too, where asked for (iter_frames(full_every=...))


def _open(path: str | Path):  # type: ignore[no-untyped-def]
    import av

    p = Path(path)
    if not p.exists():
        raise InputError(f"video file not found: {p} — check the path")
    if p.is_dir():
        raise InputError(f"{p} is a folder, not a video file")
    try:
        return av.open(str(p))
    except Exception as exc:  # PyAV raises several error types for unreadable input
        raise InputError(f"cannot read {p} as a video ({exc.__class__.__name__}: {exc}); give an MP4/MKV/AVI/MOV clip") from exc


def probe_video(path: str | Path) -> VideoInfo:
    """Measure a clip: size, frame rate, frame count, duration, codec, audio presence, variable frame rate.

    Frame count and timestamps come from demuxing every packet (cheap, no decoding), because container
    metadata is often missing or wrong (AVI, VFR phone video).
    """
    with _open(path) as container:
        if not container.streams.video:
            raise InputError(f"{path} has no video stream; give a video clip")
        vs = container.streams.video[0]
        tb = float(vs.time_base) if vs.time_base else 0.0
        pts: list[float] = []
        for packet in container.demux(vs):
            if packet.size and packet.pts is not None:
                pts.append(packet.pts * tb)
        has_audio = bool(container.streams.audio)
        width, height = vs.codec_context.width, vs.codec_context.height
        codec = vs.codec_context.name
        rate = float(vs.average_rate or vs.guessed_rate or 0) or 0.0
        fmt = container.format.name
    if not pts or width <= 0:
        raise InputError(f"{path} has a video stream with zero frames; give a clip with at least one frame")
    pts.sort()
    n = len(pts)
    diffs = np.diff(pts) if n > 1 else np.array([])
    if rate <= 0:
        rate = 1.0 / float(np.median(diffs)) if diffs.size else 25.0
    vfr = bool(diffs.size and (diffs.max() - diffs.min()) > 0.5 / rate)
    duration = max(pts[-1] - pts[0] + 1.0 / rate, 1.0 / rate)
    return VideoInfo(
        path=str(path), width=width, height=height, fps=rate, n_frames=n, duration_s=duration,
        codec=codec, container=fmt, has_audio=has_audio, variable_frame_rate=vfr,
    )


def iter_frames(path: str | Path, *, max_width: int | None = None, full_every: int = 0) -> Iterator[Frame]:
    """Decode every frame as BGR, optionally downscaled so width ≤ max_width (analysis resolution).

    FFmpeg scales while converting, so a small analysis frame never exists at full size in Python; with
    full_every=k, every k-th frame also carries its source-size image (for detectors that need detail).

    t_s is measured from the first frame's timestamp, so clips whose stream starts late still begin at 0.
    """
    with _open(path) as container:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        tb = float(vs.time_base) if vs.time_base else 0.0
        t0: float | None = None
        index = 0
        for frame in container.decode(vs):
            t = (frame.pts * tb) if frame.pts is not None else index / float(vs.average_rate or 25)
            t0 = t if t0 is None else t0
            w, h = frame.width, frame.height
            if max_width and w > max_width:
                scale = max_width / w
                image = frame.to_ndarray(format="bgr24", width=max_width, height=max(2, int(round(h * scale / 2)) * 2))
            else:
                image = frame.to_ndarray(format="bgr24")
            full = None
            if full_every and index % full_every == 0:
                full = image if image.shape[1] == w else frame.to_ndarray(format="bgr24")
            yield Frame(index=index, t_s=t - t0, image=image, full=full)
            index += 1
