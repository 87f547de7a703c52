"""Edit timelines → shots: which part of which source clip plays when in the cut.

An editor hands the sound team a locked cut as an OpenTimelineIO file (`.otio`, read natively) or a CMX 3600
EDL (`.edl`, through OpenTimelineIO's `cmx_3600` adapter, the `otio-cmx3600-adapter` plugin since OTIO 0.17).
Every video clip of the picture track becomes one shot: its source range (what to cut from the clip) and its
record range (where it sits in the reel). Times are seconds in both; OTIO's rational times are converted here.

Source times. An OTIO clip's source range is in its media's own time, whose origin is the media reference's
`available_range` start (a file with start timecode 01:00:00:00 has media time 3600 s at its first frame).
An EDL carries only timecodes and no available range: its source times are then taken relative to the media
file's own start timecode (`timecode` tag of the container or stream, as cameras and NLE exports write it),
or as seconds from the file's first frame when it has none.

Scenes. Beds continue across the cuts of one scene (batch/reel.py), so a shot's scene id is read from what an
editor's timeline can carry, first found wins: clip metadata `scene` (top level or under any namespace, e.g.
`{"foleydesigner": {"scene": "12"}}`), a clip marker named `scene 12` / `SC12` (an EDL `* LOC:` locator
becomes one), or a clip name with a scene prefix (`sc12_…`, `scene_12-…`, `12A_3` is not guessed).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from foleydesigner.errors import InputError

log = logging.getLogger(__name__)

SUFFIXES = {".otio": "otio_json", ".edl": "cmx_3600"}
_SCENE_TEXT = re.compile(r"^\s*(?:scene|sc)[\s_:#.-]*([0-9]+[a-z]?|[a-z][\w-]*)", re.IGNORECASE)
_SCENE_NAME = re.compile(r"^(?:scene|sc)[\s_-]*([0-9]+[a-z]?)(?:[\s_.-]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class TimelineShot:
    """One video clip of the cut: a job's source range and its place in the reel."""

    name: str  # unique, filesystem-safe job name in record order, e.g. "003_bikes"
    clip: Path  # source media (resolved relative to the timeline file)
    source_start_s: float
    source_end_s: float
    record_start_s: float
    record_end_s: float
    scene: str | None  # scene id if the timeline says so, else None
    rate: float | None = None  # the timeline's edit rate (frames per second) at this clip, when it has one

    @property
    def duration_s(self) -> float:
        return self.record_end_s - self.record_start_s


def is_timeline(path: Path) -> bool:
    """Whether `path` is an edit timeline this module reads (by suffix: .otio, .edl)."""
    return Path(path).suffix.lower() in SUFFIXES


def _adapter_for(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{path}: not an edit timeline; give an OpenTimelineIO .otio or a CMX 3600 .edl file")
    adapter = SUFFIXES[suffix]
    if adapter == "cmx_3600":
        import opentimelineio as otio

        if "cmx_3600" not in {a.name for a in otio.plugins.ActiveManifest().adapters}:
            raise InputError(f"{path}: reading EDLs needs OpenTimelineIO's CMX 3600 adapter; "
                             "pip install otio-cmx3600-adapter (or export the cut as .otio)")
    return adapter


def _load(path: Path, rate: float | None = None, *, lenient: bool = False) -> Any:
    import opentimelineio as otio

    adapter = _adapter_for(path)
    try:
        extra: dict[str, Any] = {"rate": rate} if rate else {}
        if lenient:  # only to find the media: at the adapter's default 24 fps, 25 fps durations do not add up
            extra["ignore_timecode_mismatch"] = True
        timeline = otio.adapters.read_from_file(str(path), adapter_name=adapter, **extra)
    except Exception as exc:  # the adapters raise their own exception types for malformed files
        if rate and "does not support this rate" in str(exc):
            raise InputError(f"{path}: its media runs at {rate:g} fps, which SMPTE timecode (and so an EDL) cannot "
                             "count; export the cut as .otio") from exc
        raise InputError(f"{path}: cannot read it as {adapter}: {exc.__class__.__name__}: {exc}") from exc
    if not isinstance(timeline, otio.schema.Timeline):
        raise InputError(f"{path}: holds a {type(timeline).__name__}, not one timeline; export a single sequence")
    return timeline


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "_", Path(text).stem if "." in text else text).strip("_").lower()
    return s[:40] or "shot"


def _media_path(clip: Any, base: Path) -> Path:
    """The clip's source file: the reference's target URL, else a file named like the clip beside the timeline
    (an EDL without `* SOURCE FILE:` comments names its media only by `* FROM CLIP NAME:`)."""
    ref = clip.media_reference
    url = getattr(ref, "target_url", None)
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in ("", "file") and len(parsed.scheme) > 1:
            raise InputError(f"clip '{clip.name}': media {url} is not a local file; relink it to a file path")
        p = Path(unquote(parsed.path if parsed.scheme == "file" else url))
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            raise InputError(f"clip '{clip.name}': media {p} does not exist; relink the timeline or put the file there")
        return p.resolve()
    for name in (clip.name, getattr(ref, "name", "")):
        if name and (base / name).is_file():
            return (base / name).resolve()
    raise InputError(f"clip '{clip.name}' has no media file; put {clip.name or 'it'} beside the timeline "
                     "or give the EDL a '* SOURCE FILE:' comment")


#: NTSC rates: containers store them as 30000/1001 or rounded (29.97); timecode maths needs the exact ratio
_NTSC = (24000 / 1001, 30000 / 1001, 60000 / 1001)


def snap_rate(rate: float) -> float:
    """A frame rate as timecode counts it: 29.97 → 30000/1001 (and 23.976, 59.94); others as they are."""
    return next((r for r in _NTSC if abs(rate - r) < 2e-3), float(rate))


def _media_clock(path: Path) -> tuple[float, float]:
    """The media file's frame rate and start timecode in seconds (0 when it carries none). A drop-frame tag
    (`01:00:00;00`) is counted as drop-frame at 29.97, as an EDL's source timecodes are."""
    import av
    import opentimelineio as otio

    try:
        with av.open(str(path)) as f:
            stream = f.streams.video[0]
            tc = stream.metadata.get("timecode") or f.metadata.get("timecode")
            rate = snap_rate(float(stream.average_rate or stream.guessed_rate or 25))
    except Exception as exc:
        raise InputError(f"{path}: cannot read it as video ({exc.__class__.__name__}: {exc}); relink the timeline") from exc
    try:
        return rate, float(otio.opentime.from_timecode(tc, rate).to_seconds()) if tc else 0.0
    except Exception:  # noqa: BLE001 - a malformed tag means no usable start: count from the first frame
        return rate, 0.0


def _scene(clip: Any) -> str | None:
    stack = [clip.metadata]
    while stack:  # metadata "scene" at the top level or under any namespace
        meta = stack.pop(0)
        if "scene" in meta and str(meta["scene"]).strip():
            return str(meta["scene"]).strip()
        stack += [v for v in meta.values() if hasattr(v, "keys")]
    for marker in clip.markers:  # an EDL locator ("* LOC: 01:00:05:00 RED SC12") arrives as a marker
        for text in (marker.name, getattr(marker, "comment", "")):
            if m := _SCENE_TEXT.match(text or ""):
                return m.group(1)
    m = _SCENE_NAME.match(clip.name or "")
    return m.group(1) if m else None


def read_timeline(path: Path) -> tuple[list[TimelineShot], float]:
    """The picture track's clips as shots in record order, and the timeline's duration in seconds.

    The first video track with clips is the cut (V1); clips on higher video tracks are titles and inserts
    over it and are logged and left out. Gaps and transitions keep their record time."""
    import opentimelineio as otio

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such timeline file")
    edl = path.suffix.lower() == ".edl"
    # only to find the media: drop-frame timecode (`;`) exists at 29.97 only, the adapter's default 24 refuses it
    drop = edl and ";" in path.read_text(encoding="utf-8", errors="replace")
    timeline = _load(path, _NTSC[1] if drop else None, lenient=edl)
    clocks: dict[Path, tuple[float, float]] = {}
    if edl:  # an EDL has timecodes but no frame rate: count them at the media's rate
        first = next(iter(timeline.find_clips()), None)
        rate = None
        if first is not None:
            media = _media_path(first, path.parent)
            clocks[media] = _media_clock(media)
            rate = clocks[media][0]
        timeline = _load(path, rate)
    tracks = [t for t in timeline.video_tracks() if any(isinstance(c, otio.schema.Clip) for c in t)]
    if not tracks:
        raise InputError(f"{path}: the timeline has no video track with clips; export the cut with its picture")
    if len(tracks) > 1:
        log.info("%s: %d video tracks; the cut is read from '%s'", path.name, len(tracks), tracks[0].name)
    base, shots = path.parent, []
    if nested := [c.name for c in tracks[0] if isinstance(c, (otio.schema.Stack, otio.schema.Track))]:
        raise InputError(f"{path}: the picture track holds nested sequences ({', '.join(nested[:3])}); "
                         "flatten them in the editor before exporting the cut")
    clips = [c for c in tracks[0] if isinstance(c, otio.schema.Clip)]
    for clip in clips:  # a retimed shot's picture no longer runs at its source's rate: its Foley would drift
        for fx in clip.effects:
            if isinstance(fx, otio.schema.TimeEffect) and getattr(fx, "time_scalar", 0.0) != 1.0:
                raise InputError(f"clip '{clip.name}' is retimed ({fx.effect_name or type(fx).__name__}); "
                                 "render the speed change into a new clip and relink it")
    for i, clip in enumerate(clips, start=1):
        rec = tracks[0].range_of_child(clip)
        src = clip.trimmed_range()
        media = _media_path(clip, base)
        avail = getattr(clip.media_reference, "available_range", None)
        if avail is not None:
            origin = avail.start_time.to_seconds()
        else:
            origin = clocks.setdefault(media, _media_clock(media))[1]
        s0 = src.start_time.to_seconds() - origin
        if s0 < -1e-6:
            raise InputError(f"clip '{clip.name}' starts at {s0:.3f} s, before its media {media.name} begins; "
                             "check the source timecodes")
        r0 = rec.start_time.to_seconds()
        d = rec.duration.to_seconds()
        shots.append(TimelineShot(name=f"{i:03d}_{_slug(clip.name or media.name)}", clip=media,
                                  source_start_s=max(s0, 0.0), source_end_s=max(s0, 0.0) + src.duration.to_seconds(),
                                  record_start_s=r0, record_end_s=r0 + d, scene=_scene(clip),
                                  rate=snap_rate(rec.duration.rate) if rec.duration.rate > 0 else None))
    if not shots:
        raise InputError(f"{path}: the picture track has no clips")
    return shots, float(timeline.duration().to_seconds())


__all__ = ["TimelineShot", "is_timeline", "read_timeline", "snap_rate"]
