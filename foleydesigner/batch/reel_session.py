"""The reel's session.otio: the conformed reel as an editorial timeline (batch/reel.py places the shots), and the
reel folders of a batch of several timelines."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from foleydesigner.batch.movie import reel_rate, source_clock
from foleydesigner.batch.sources import safe_name
from foleydesigner.tools.otio import METADATA_KEY
from foleydesigner.tools.streams import WavAudio
from foleydesigner.units import SAMPLE_RATE


def relative_url(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), folder.resolve())).as_posix()


def build_reel_session(placed: Sequence[Any], folder: Path, duration_s: float) -> Any:
    """The reel's OTIO timeline: picture, FG/BG lanes of stems at record times, the bed, the mixes (muted).
    `placed`: reel._Placed, each shot with its run folder, stems and record start and length in samples.

    The picture and the timeline are on the edit's frame rate (so timecode tools read it), each picture clip
    with its source's available range; the audio is on 48 kHz, sample-exact, and never reaches past the
    picture's last frame (an OTIO stack takes its length and rate from its longest track)."""
    import opentimelineio as otio

    sr, rt, tr_ = SAMPLE_RATE, otio.opentime.RationalTime, otio.opentime.TimeRange
    rate = reel_rate([p.shot for p in placed])
    fps = float(rate)
    frames = round(duration_s * rate)
    n = min(int(round(duration_s * sr)), int(frames * sr / rate))
    timeline = otio.schema.Timeline(name="reel", global_start_time=rt(0, fps))

    def track(name: str, kind: str, items: list[tuple[int, int, otio.schema.Clip]], meta: dict[str, Any],
              unit: float = sr) -> Any:
        t = otio.schema.Track(name=name, kind=kind, metadata={METADATA_KEY: meta})
        pos = 0
        for start, length, clip in sorted(items, key=lambda i: i[0]):
            if start > pos:
                t.append(otio.schema.Gap(source_range=tr_(rt(0, unit), rt(start - pos, unit))))
            t.append(clip)
            pos = start + length
        return t

    pictures = []
    for p in placed:
        src_rate, src_frames, _, _ = source_clock(p.shot.clip)
        j0, j1 = round(p.shot.record_start_s * rate), min(round(p.shot.record_end_s * rate), frames)
        src = float(src_rate)
        rng = tr_(rt(round(p.shot.source_start_s * src_rate), src), rt(j1 - j0, fps))
        pictures.append((j0, j1 - j0, otio.schema.Clip(name=p.shot.name, source_range=rng, metadata={
            METADATA_KEY: {"shot": p.shot.name, "scene": p.shot.scene, "run": relative_url(p.folder, folder)}},
            media_reference=otio.schema.ExternalReference(target_url=relative_url(p.shot.clip, folder),
                                                          available_range=tr_(rt(0, src), rt(src_frames, src))))))
    picture = track("Picture", otio.schema.TrackKind.Video, pictures, {"fps": fps}, unit=fps)
    if picture.duration().to_frames(fps) < frames:  # a trailing gap: the picture lasts the timeline
        picture.append(otio.schema.Gap(source_range=tr_(rt(0, fps), rt(frames - picture.duration().to_frames(fps), fps))))
    timeline.tracks.append(picture)
    lanes: dict[tuple[str, int], list[tuple[int, int, Any]]] = {}
    for p in placed:
        count = {"fg": 0, "bg": 0}
        for st in sorted(p.stems, key=lambda s: (s["layer"] != "fg", s["id"])):
            layer = "bg" if st["bed"] or st["layer"] == "bg" else "fg"
            count[layer] += 1
            media = WavAudio(st["path"])
            # a trimmed stem's first sample is `offset` into the shot; a stem never plays past its file (a run's
            # clip can be a fraction of a frame shorter than the shot), nor past the reel
            start = p.r0 + st["offset"]
            length = min(p.n - st["offset"], media.n, n - start)
            if length <= 0:
                continue
            clip = otio.schema.Clip(name=f"{p.shot.name}/{st['id']}", source_range=tr_(rt(st["offset"], sr), rt(length, sr)),
                                    metadata={METADATA_KEY: {"shot": p.shot.name, "event_id": st["id"], "layer": layer,
                                                             "scene": p.shot.scene, "bed": st["bed"]}},
                                    media_reference=otio.schema.ExternalReference(
                                        target_url=relative_url(st["path"], folder),
                                        available_range=tr_(rt(st["offset"], sr), rt(media.n, sr))))
            lanes.setdefault((layer, count[layer]), []).append((start, length, clip))
    for (layer, k), items in sorted(lanes.items(), key=lambda kv: (kv[0][0] != "fg", kv[0][1])):
        timeline.tracks.append(track(f"{layer.upper()} {k}", otio.schema.TrackKind.Audio, items, {"layer": layer}))
    whole = tr_(rt(0, sr), rt(n, sr))  # the WAVs: the session's reference is ≤ 1 sample short at 29.97 fps
    for name, file in (("BED conformed", "bed_stereo.wav"), ("MIX stereo", "mix_stereo.wav"), ("MIX 5.1", "mix_5_1.wav")):
        t = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio, metadata={METADATA_KEY: {"file": file}})
        t.enabled = False  # references: the lanes already play every stem, the bed included
        t.append(otio.schema.Clip(name=file, source_range=whole,
                                  media_reference=otio.schema.ExternalReference(target_url=file, available_range=whole)))
        timeline.tracks.append(t)
    return timeline


def reel_folders(timelines: list[Path]) -> dict[Path, str]:
    """Each timeline's reel folder name (under DIR/reel/ when a batch conforms several), never shared: its stem;
    where stems collide (case-insensitively: some filesystems fold case), the stem and suffix (`cut_edl`,
    `cut_otio`); where those collide too (`a/cut.otio`, `b/cut.otio`), plus 8 hex digits of the SHA-1 of the
    absolute path. The same timelines always get the same folders, so a batch run again replaces its own reels."""
    def groups(name: Callable[[Path], str], paths: list[Path]) -> dict[str, list[Path]]:
        out: dict[str, list[Path]] = {}
        for p in paths:
            out.setdefault(name(p).lower(), []).append(p)
        return out

    def stem(p: Path) -> str:
        return safe_name(p.stem)

    def typed(p: Path) -> str:
        return safe_name(f"{p.stem}_{p.suffix.lstrip('.')}")

    def hashed(p: Path) -> str:
        return f"{typed(p)}-{hashlib.sha1(str(Path(p).resolve()).encode()).hexdigest()[:8]}"

    paths = list(dict.fromkeys(Path(p) for p in timelines))
    names: dict[Path, str] = {}
    for same_stem in groups(stem, paths).values():
        for same_type in groups(typed, same_stem).values():
            for p in same_type:
                names[p] = stem(p) if len(same_stem) == 1 else typed(p) if len(same_type) == 1 else hashed(p)
    taken = groups(lambda p: names[p], paths)  # `cut_edl.otio` beside `cut.edl` and `cut.otio`
    return {p: hashed(p) if len(taken[n.lower()]) > 1 else n for p, n in names.items()}


__all__ = ["build_reel_session", "reel_folders", "relative_url"]
