"""What a batch runs: one job per clip found in folders and globs, per row of a JSONL/CSV manifest, and per
video clip of an edit timeline (.otio, .edl). Every job becomes one `foley run` into DIR/<job name>/.

A manifest row names its clip (paths relative to the manifest), optionally a screenplay, a job name and any
`foley run` options; an option this module does not know is an error, never silently ignored.
"""

from __future__ import annotations

import csv
import glob
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foleydesigner.checks import check_run_options
from foleydesigner.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".m4v", ".webm", ".mxf")
MANIFEST_SUFFIXES = (".jsonl", ".csv")
TIMELINE_SUFFIXES = (".otio", ".edl")
REEL = "reel"  # DIR/reel/ holds a timeline's conformed reel, so no job may take that name
_ROW_CLIP, _ROW_SCRIPT, _ROW_NAME = ("clip", "video"), ("script", "screenplay"), ("name", "job")


@dataclass(frozen=True)
class Job:
    """One `foley run`. options are run_foley keyword arguments (RunContext fields), the batch's then the row's."""

    name: str
    clip: Path
    origin: str  # where it came from, for messages: "shots/", "cues.csv row 3", "cut.otio shot sh010"
    screenplay: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    source_range: tuple[float, float] | None = None  # timeline shots: the seconds of `clip` this shot uses
    timeline: Path | None = None


@dataclass(frozen=True)
class Timeline:
    """An edit timeline source: its shots (record order), its duration and which job renders each shot."""

    path: Path
    shots: tuple[Any, ...]  # batch.timeline.TimelineShot
    duration_s: float
    job_of_shot: Mapping[str, str]


# --- per-job options: a manifest's columns and `foley batch`'s own flags go through the same converters -------

def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if str(v).strip().lower() in ("1", "true", "yes", "on"):
        return True
    if str(v).strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("give true or false")


def _seed(v: Any) -> int:
    if not 0 <= int(v) < 2**32:  # numpy's and torch's generators take unsigned 32-bit seeds
        raise ValueError(f"must be between 0 and {2**32 - 1}")
    return int(v)


def _int(v: Any) -> int:
    if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
        raise ValueError("give a whole number")
    return int(v.strip()) if isinstance(v, str) else int(v)


def _lufs(v: Any) -> float:
    if not -70.0 <= float(v) <= -5.0:
        raise ValueError("must be in [-70, -5] LUFS; broadcast uses -24 (A/85) or -23 (R128)")
    return float(v)


def _preset(v: Any) -> float:
    from foleydesigner.context import LOUDNESS_PRESETS

    if v not in LOUDNESS_PRESETS:
        raise ValueError(f"choose one of {', '.join(LOUDNESS_PRESETS)}")
    return LOUDNESS_PRESETS[v]


def _deliver(v: Any) -> tuple[str, ...]:
    from foleydesigner.delivery import parse_deliver

    return parse_deliver(str(v))


def _llm(v: Any) -> str:
    from foleydesigner.llm import parse_backend

    parse_backend(str(v))
    return str(v)


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if str(v) not in allowed:
            raise ValueError(f"choose one of {', '.join(allowed)}")
        return str(v)

    return check


#: option (as spelled on `foley run`, dashes or underscores) -> (run_foley keyword, converter)
OPTIONS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "llm": ("llm", _llm), "vision": ("vision", str), "generator": ("generator", str), "seed": ("seed", _seed),
    "target_lufs": ("target_lufs", _lufs), "loudness_preset": ("target_lufs", _preset), "hfov": ("hfov_deg", float),
    "min_confidence": ("min_confidence", float), "stems": ("stems", _choice("full", "trimmed")),
    "stem_format": ("stem_format", _choice("wav", "flac")), "language": ("language", str),
    "window_s": ("window_s", float), "max_events": ("max_events", _int), "max_scribe_iters": ("max_scribe_iters", _int),
    "keep_original_audio": ("keep_original_audio", _bool), "deliver": ("deliver", _deliver),
    "tot_k": ("tot_k", _int), "tot_beam": ("tot_beam", _int), "tot_depth": ("tot_depth", _int), "tot_tau": ("tot_tau", float),
}
PATH_OPTIONS = ("library", "dit_checkpoint")  # generator options: folders, relative to the manifest


def parse_options(raw: Mapping[str, Any], where: str, base: Path = Path(".")) -> dict[str, Any]:
    """Manifest columns or batch flags -> run_foley keyword arguments; unknown or bad values raise InputError."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).strip().replace("-", "_")
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # an empty CSV cell: not set
        if name in PATH_OPTIONS:
            out.setdefault("generator_options", {})[name] = str((base / str(value)).resolve())
            continue
        if name not in OPTIONS:
            raise InputError(f"{where}: unknown option '{key}'; options are {', '.join(sorted([*OPTIONS, *PATH_OPTIONS]))}")
        target, convert = OPTIONS[name]
        try:
            out[target] = convert(value)
            check_run_options({target: out[target]}, lambda _k, _v: "")  # the checks `foley run` gives its flags
        except (ValueError, TypeError, InputError) as exc:
            raise InputError(f"{where}: {key}={value!r}: {str(exc).strip()}") from None
    return out


# --- job names ----------------------------------------------------------------------------------------------

def safe_name(text: str) -> str:
    """A job's folder name: letters, digits, '.', '_' and '-' only, never hidden, at most 80 characters."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:80]
    return name or "job"


class _Names:
    """Hands out unique job names (case-insensitively: some filesystems fold case)."""

    def __init__(self) -> None:
        self.taken: dict[str, str] = {REEL: "the conformed reel"}

    def claim(self, wanted: str, origin: str, *, explicit: bool) -> str:
        name = safe_name(wanted)
        if name.lower() in self.taken:
            if explicit:
                raise InputError(f"{origin}: job name '{wanted}' is already used by {self.taken[name.lower()]}; "
                                 "give each row its own name")
            i = 2
            while f"{name}-{i}".lower() in self.taken:
                i += 1
            name = f"{name}-{i}"
        self.taken[name.lower()] = origin
        return name


# --- sources ------------------------------------------------------------------------------------------------

def _is_video(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES


def _clips(source: str) -> list[Path]:
    p = Path(source)
    if p.is_dir():
        found = sorted(c for c in p.iterdir() if _is_video(c))
    elif _is_video(p):
        found = [p]
    elif glob.has_magic(source):
        found = sorted(c for c in map(Path, glob.glob(source, recursive=True)) if _is_video(c))
    else:
        raise InputError(f"{source}: no such clip, folder, manifest or timeline")
    if not found:
        raise InputError(f"{source}: no clips found (looked for {', '.join(VIDEO_SUFFIXES)}); "
                         "give a folder of clips, a glob in quotes, a .jsonl/.csv manifest or an .otio/.edl timeline")
    return [c.resolve() for c in found]


def _manifest_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"manifest {path}: cannot read it ({exc})") from None
    if path.suffix.lower() == ".csv":
        for i, row in enumerate(csv.DictReader(text.splitlines()), start=2):  # row 1 is the header
            if None in row:
                raise InputError(f"{path} row {i}: more cells than header columns")
            yield f"{path.name} row {i}", dict(row)
        return
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} line {i}: not JSON ({exc.msg}); each line is one object like "
                             '{"clip": "shot1.mp4", "script": "shot1.fountain", "seed": 3}') from None
        if not isinstance(row, dict):
            raise InputError(f"{path} line {i}: expected a JSON object, got {type(row).__name__}")
        yield f"{path.name} line {i}", row


def _pick(row: dict[str, Any], keys: tuple[str, ...]) -> Any:
    values = [row.pop(k) for k in keys if k in row]
    return next((v for v in values if v not in (None, "")), None)


def _manifest_jobs(path: Path, base_options: Mapping[str, Any], names: _Names) -> list[Job]:
    jobs = []
    for where, row in _manifest_rows(path):
        clip, script, name = _pick(row, _ROW_CLIP), _pick(row, _ROW_SCRIPT), _pick(row, _ROW_NAME)
        nested = row.pop("options", None) or {}
        if not isinstance(nested, dict):
            raise InputError(f"{where}: 'options' must be an object of `foley run` options")
        if not clip:
            raise InputError(f"{where}: no 'clip'; every row names the clip it runs on")
        clip_path = (path.parent / str(clip)).resolve()
        if not _is_video(clip_path):
            raise InputError(f"{where}: clip {clip_path} is not a video file ({', '.join(VIDEO_SUFFIXES)})")
        script_path = (path.parent / str(script)).resolve() if script else None
        if script_path and not script_path.is_file():
            raise InputError(f"{where}: screenplay {script_path} does not exist")
        options = {**base_options, **parse_options({**row, **nested}, where, path.parent)}
        if "generator_options" in base_options and "generator_options" in options:
            options["generator_options"] = {**base_options["generator_options"], **options["generator_options"]}
        jobs.append(Job(names.claim(str(name or clip_path.stem), where, explicit=bool(name)), clip_path, where,
                        script_path, options))
    if not jobs:
        raise InputError(f"manifest {path}: no rows; give one row per clip")
    return jobs


def _timeline_jobs(path: Path, base_options: Mapping[str, Any], names: _Names) -> tuple[list[Job], Timeline]:
    from foleydesigner.batch.timeline import (
        read_timeline,  # OpenTimelineIO: imported only when a timeline is given
    )

    shots, duration_s = read_timeline(path)
    if not shots:
        raise InputError(f"{path}: the timeline has no video clips")
    jobs, job_of_shot = [], {}
    for shot in shots:
        where = f"{path.name} shot {shot.name}"
        if shot.name in job_of_shot:  # conform_reel finds each shot's job folder by the shot's name
            raise InputError(f"{where}: two shots of the timeline are named '{shot.name}'; name each clip once")
        job = Job(names.claim(shot.name, where, explicit=False), Path(shot.clip).resolve(), where,
                  options=dict(base_options), source_range=(shot.source_start_s, shot.source_end_s), timeline=path)
        jobs.append(job)
        job_of_shot[shot.name] = job.name
    return jobs, Timeline(path, tuple(shots), float(duration_s), job_of_shot)


def collect_jobs(sources: Sequence[str], base_options: Mapping[str, Any] | None = None
                 ) -> tuple[list[Job], list[Timeline]]:
    """All jobs of the given sources, in order, with unique filesystem-safe names; InputError on bad input."""
    base = dict(base_options or {})
    names = _Names()
    jobs: list[Job] = []
    timelines: list[Timeline] = []
    for source in sources:
        p = Path(source)
        suffix = p.suffix.lower()
        if p.is_file() and suffix in MANIFEST_SUFFIXES:
            jobs += _manifest_jobs(p.resolve(), base, names)
        elif p.is_file() and suffix in TIMELINE_SUFFIXES:
            shot_jobs, timeline = _timeline_jobs(p.resolve(), base, names)
            jobs += shot_jobs
            timelines.append(timeline)
        else:
            for clip in _clips(source):
                jobs.append(Job(names.claim(clip.stem, f"{source} ({clip.name})", explicit=False), clip, source,
                                options=dict(base)))
    if not jobs:
        raise InputError("no clips found in " + ", ".join(sources))
    return jobs, timelines
