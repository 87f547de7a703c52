"""Video I/O: probe a clip and decode its frames with PyAV (FFmpeg libraries bundled, no system ffmpeg)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from foleydesigner.errors import InputError
from foleydesigner.schemas import VideoInfo

log = logging.getLogger(__name__)
#: Demuxers that read single images (image2 for files, <codec>_pipe for a still piped or named .png/.jpg).
_IMAGE_FORMATS = ("image2", "image2pipe")
#: A file is called damaged when its readable frames end this much before its declared duration (frames, fraction):
#: container durations are rounded and can count one frame more than the timestamps do.
_TRUNCATION_FRAMES, _TRUNCATION_FRACTION = 2, 0.02
#: Picture sizes worth analysing: a side under 16 px holds no object to track (a 1×1000 strip divides by zero
#: downstream and costs seconds per frame for nothing), a side ratio past 16:1 is no camera's, and more than
#: 8K's 36 Mpx a frame would take minutes per second of picture.
MIN_SIDE_PX, MAX_ASPECT, MAX_PIXELS = 16, 16.0, 36_000_000
#: cv2.rotate codes for a display matrix that turns the picture counter-clockwise by this many degrees.
_ROTATE = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


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


#: What probe_video measured, per file (resolved path, inode, size, mtime): a run probes its clip three times
#: (run_foley, load_video, track_video), each a demux of every packet and a decode of the first frame, on the
#: critical path before and after the picture pass. A file changed since is probed again. The last few only.
_probed: dict[tuple[str, int, int, int], VideoInfo] = {}
_PROBED_KEEP = 8


def probe_video(path: str | Path) -> VideoInfo:
    """Measure a clip: size, frame rate, frame count, duration, codec, audio presence, variable frame rate.

    Frame count and timestamps come from demuxing every packet (cheap, no decoding), because container
    metadata is often missing or wrong (AVI, VFR phone video). A file probed before, unchanged since, is not read
    again (its info comes back with `path` as given here).
    """
    try:
        st = Path(path).stat()
        key = (str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        key = None  # missing or unreadable: _open says so
    if key is not None and (known := _probed.get(key)) is not None:
        return known.model_copy(update={"path": str(path)})
    info = _probe(path)
    if key is not None:
        if len(_probed) >= _PROBED_KEEP:
            _probed.pop(next(iter(_probed)), None)
        _probed[key] = info
    return info.model_copy()


def _probe(path: str | Path) -> VideoInfo:
    with _open(path) as container:
        if not container.streams.video:
            raise InputError(f"{path} has no video stream; give a video clip")
        vs = container.streams.video[0]
        tb = float(vs.time_base) if vs.time_base else 0.0
        pts: list[float] = []
        try:
            for packet in container.demux(vs):
                if packet.size and packet.pts is not None:
                    pts.append(packet.pts * tb)
        except av_errors() as exc:  # a damaged file: keep what was readable, the duration check below says so
            log.warning("%s: stopped reading at a damaged packet (%s)", path, exc)
        has_audio = bool(container.streams.audio)
        width, height = vs.codec_context.width, vs.codec_context.height
        codec = vs.codec_context.name
        rate = float(vs.average_rate or vs.guessed_rate or 0) or 0.0
        fmt = container.format.name
        declared = (vs.duration * tb if vs.duration and tb else 0.0) or (container.duration or 0) / 1e6
    if fmt in _IMAGE_FORMATS or fmt.endswith("_pipe") or len(pts) == 1:
        raise InputError(f"{path} is a still image ({codec}, one frame), not a video; give a clip with moving "
                         "pictures (mp4, mkv, mov, avi)")
    if not pts or width <= 0:
        raise InputError(f"{path} has a video stream with zero frames; give a clip with at least one frame")
    check_picture_size(path, width, height)
    if display_rotation(path) in (90, 270):  # a portrait phone clip stored landscape: analyse it as shown
        width, height = height, width
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
        declared_duration_s=round(declared, 4) if declared > 0 else None,
    )


def check_picture_size(path: str | Path, width: int, height: int) -> None:
    """InputError for a picture no analysis can use (MIN_SIDE_PX, MAX_ASPECT, MAX_PIXELS)."""
    if min(width, height) < MIN_SIDE_PX or max(width, height) > MAX_ASPECT * min(width, height) \
            or width * height > MAX_PIXELS:
        raise InputError(f"{path} is {width}x{height} pixels: the picture must be at least {MIN_SIDE_PX} px on each "
                         f"side, at most {MAX_ASPECT:.0f}:1 and at most {MAX_PIXELS // 1_000_000} Mpx; give a normal "
                         "video clip")


def display_rotation(path: str | Path) -> int:
    """How far the player turns the picture counter-clockwise (0, 90, 180 or 270 degrees), from the stream's
    display matrix (the side data a phone writes for a portrait clip), read off the first decoded frame."""
    with _open(path) as container:
        vs = container.streams.video[0]
        try:
            for frame in _decoded(container, vs, path):
                return _rotation(frame)
        except Exception as exc:  # unreadable first frame: the probe's own checks say so
            log.debug("%s: no rotation read (%s)", path, exc)
    return 0


def _rotation(frame) -> int:  # type: ignore[no-untyped-def]
    """The frame's display rotation snapped to a quarter turn, counter-clockwise degrees in [0, 360)."""
    rot = getattr(frame, "rotation", 0) or 0
    return int(round(float(rot) / 90.0)) % 4 * 90


def damage_warning(info: VideoInfo) -> str | None:
    """'damaged: decoded X of Y s' when the readable frames end well before the container's declared duration."""
    declared = info.declared_duration_s
    slack = max(_TRUNCATION_FRAMES / info.fps, _TRUNCATION_FRACTION * (declared or 0.0))
    if declared and info.duration_s < declared - slack:
        return (f"damaged: decoded {info.duration_s:.2f} of {declared:.2f} s (the file is truncated or corrupt); "
                "the Foley covers the readable part")
    return None


def av_errors() -> tuple[type[BaseException], ...]:
    """FFmpeg's errors for unreadable data (PyAV raises them from demux and decode)."""
    import av

    return (av.error.InvalidDataError, av.error.EOFError)


def iter_frames(path: str | Path, *, max_width: int | None = None, full_every: int = 0,
                keep: Callable[[int], bool] | None = None) -> Iterator[Frame]:
    """Decode every frame as BGR, optionally downscaled so width ≤ max_width (analysis resolution).

    FFmpeg scales while converting, so a small analysis frame never exists at full size in Python; with
    full_every=k, every k-th frame also carries its source-size image (for detectors that need detail). Frames
    for which keep(index) is false are decoded (the stream is read in order) but neither converted nor yielded.

    t_s is measured from the first frame's timestamp, so clips whose stream starts late still begin at 0.
    Frames are turned as the display matrix says (a portrait phone clip comes out portrait, as probe_video
    reports its size).
    """
    with _open(path) as container:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        tb = float(vs.time_base) if vs.time_base else 0.0
        t0: float | None = None
        index = 0
        for frame in _decoded(container, vs, path):
            t = (frame.pts * tb) if frame.pts is not None else index / float(vs.average_rate or 25)
            t0 = t if t0 is None else t0
            if keep is not None and not keep(index):
                index += 1
                continue
            bgr = _bgr(frame)
            rot = _rotation(frame)
            if rot:
                bgr = cv2.rotate(bgr, _ROTATE[rot])
            h, w = bgr.shape[:2]
            if max_width and w > max_width:
                size = (max_width, max(2, int(round(h * max_width / w / 2)) * 2))
                image = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
            else:
                image = bgr
            full = bgr if full_every and index % full_every == 0 else None
            yield Frame(index=index, t_s=t - t0, image=image, full=full)
            index += 1


def _bgr(frame) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A decoded frame as BGR. Most video is 4:2:0 YUV: OpenCV converts it four times faster than swscale does
    (its BT.601 conversion is what analysis needs); other pixel formats go through FFmpeg."""
    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        return cv2.cvtColor(frame.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2BGR_I420)
    return frame.to_ndarray(format="bgr24")  # type: ignore[no-any-return]


def _decoded(container, vs, path: str | Path) -> Iterator:  # type: ignore[no-untyped-def]
    """The stream's frames, skipping packets that cannot be decoded (as ffmpeg does) and stopping where the data
    ends: a truncated file gives its readable frames, not a traceback."""
    packets = container.demux(vs)
    bad = 0
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av_errors() as exc:  # the file ends mid-packet: flush the frames the decoder still holds
            log.warning("%s: stopped reading at damaged data (%s)", path, exc)
            yield from _flush(vs)
            break
        try:
            yield from packet.decode()
        except av_errors() as exc:
            bad += 1
            if bad == 1:
                log.warning("%s: skipped an undecodable packet (%s)", path, exc)
    if bad > 1:
        log.warning("%s: skipped %d undecodable packets", path, bad)


def _flush(vs):  # type: ignore[no-untyped-def]
    try:
        yield from vs.codec_context.decode(None)
    except av_errors():
        return
