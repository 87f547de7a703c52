"""session.otio: the Foley as an editorial timeline (OpenTimelineIO), so an editor or re-recording mixer can
open it in any OTIO-aware NLE/DAW and carry on: the picture, one audio track per sound event with its clip at
the event's time (cut from the full-length stem), and the delivered mixes as muted reference tracks.

Audio times are on a 48 kHz rate (sample-exact), the picture on the clip's frame rate. Paths are relative to
the run folder, so the folder can move as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from foleydesigner.schemas import SoundEvent, VideoInfo
from foleydesigner.tools.export import atomic_write_text
from foleydesigner.units import SAMPLE_RATE

METADATA_KEY = "foleydesigner"


def build_session(*, name: str, video_file: str, video: VideoInfo, events: Sequence[SoundEvent],
                  stems: Mapping[str, str], plan: Mapping[str, list[Any]] | None = None,
                  mixes: Mapping[str, str] | None = None, objects: Mapping[str, Mapping[str, str]] | None = None,
                  sr: int = SAMPLE_RATE, stem_ranges: Mapping[str, tuple[int, int]] | None = None) -> Any:
    """An `otio.schema.Timeline`: picture track, then foreground events, then beds (each by start time).

    `stem_ranges` gives (first sample on the timeline, length) of stems that do not span the whole clip
    (`--stems trimmed`): their media then starts at that time, as their BWF time reference says."""
    import opentimelineio as otio

    rt, tr_ = otio.opentime.RationalTime, otio.opentime.TimeRange
    # audio never reaches past the picture's last frame: an OTIO stack takes its length and rate from its
    # longest track, and timecode tools (otiotool --stats) cannot count a 48 kHz rate
    fps = video.fps
    total = min(int(round(video.duration_s * sr)), int(video.n_frames * sr / fps + 1e-6))

    def samples(t_s: float) -> int:
        return min(max(int(round(t_s * sr)), 0), total)

    timeline = otio.schema.Timeline(name=name, global_start_time=rt(0, fps))
    picture = otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video)
    frames = tr_(rt(0, fps), rt(video.n_frames, fps))
    picture.append(otio.schema.Clip(name=Path(video_file).name, source_range=frames,
                                    media_reference=otio.schema.ExternalReference(target_url=video_file, available_range=frames)))
    timeline.tracks.append(picture)
    whole = tr_(rt(0, sr), rt(total, sr))
    min_len = max(1, int(round(sr / fps)))  # an instant event still gets one frame, or an NLE drops the clip
    for ev in sorted(events, key=lambda e: (e.layer != "fg", e.start_s, e.id)):
        if ev.id not in stems:
            continue
        start = samples(ev.start_s)
        length = max(samples(ev.end_s) - start, min(min_len, total - start))
        media = whole
        if stem_ranges and ev.id in stem_ranges:
            s0, n = stem_ranges[ev.id]
            media = tr_(rt(s0, sr), rt(n, sr))
            start, end = max(start, s0), min(start + length, s0 + n)  # the clip cannot reach outside its file
            length = max(end - start, 1) if s0 <= start < s0 + n else 0
        if length <= 0:
            continue
        meta = {"event_id": ev.id, "label": ev.label, "layer": ev.layer, "description": ev.description,
                "start_s": ev.start_s, "end_s": ev.end_s, "onsets_s": list(ev.onsets_s),
                "stem_start_s": round(media.start_time.value / sr, 6),
                "operations": [o.model_dump(mode="json") if hasattr(o, "model_dump") else dict(o)
                               for o in (plan or {}).get(ev.id, [])]}
        if objects and ev.id in objects:  # immersive delivery: the mono object and its panner automation lane
            meta["object"] = dict(objects[ev.id])
        track = otio.schema.Track(name=f"{ev.layer.upper()} {ev.id}", kind=otio.schema.TrackKind.Audio,
                                  metadata={METADATA_KEY: {"event_id": ev.id, "layer": ev.layer}})
        if start > 0:
            track.append(otio.schema.Gap(source_range=tr_(rt(0, sr), rt(start, sr))))
        track.append(otio.schema.Clip(name=ev.id, source_range=tr_(rt(start, sr), rt(length, sr)), metadata={METADATA_KEY: meta},
                                      media_reference=otio.schema.ExternalReference(target_url=stems[ev.id],
                                                                                   available_range=media)))
        timeline.tracks.append(track)
    for label, path in (mixes or {}).items():
        track = otio.schema.Track(name=f"MIX {label}", kind=otio.schema.TrackKind.Audio,
                                  metadata={METADATA_KEY: {"mix": label}})
        track.enabled = False  # a reference: playing it with the event tracks would double every sound
        track.append(otio.schema.Clip(name=Path(path).name, source_range=whole,
                                      media_reference=otio.schema.ExternalReference(target_url=path, available_range=whole)))
        timeline.tracks.append(track)
    return timeline


def write_session(path: str | Path, timeline: Any) -> Path:
    """Write the timeline as OTIO JSON, atomically."""
    import opentimelineio as otio

    return atomic_write_text(path, otio.adapters.write_to_string(timeline, "otio_json"))
