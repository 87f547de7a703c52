"""A run's key: what went in (the clip's and screenplay's bytes) and how it was asked to run (its settings).

run.json records it, so `foley batch` can tell a finished job from one to redo, and `foley run --resume` can
tell an interrupted run it may continue from one made with other inputs or settings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from foleydesigner.context import RunContext

#: RunContext fields that are plumbing, not settings: they never change what a run makes.
_NOT_SETTINGS = {"work_dir", "trace", "trace_append", "llm_retry"}
_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def settings_of(options: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting a run would use with these options, defaults filled in, so `seed=0` and no seed match."""
    ctx = RunContext(work_dir=Path("."), **options)
    return {f.name: getattr(ctx, f.name) for f in fields(RunContext) if f.name not in _NOT_SETTINGS}


def run_key(video_path: str | Path, screenplay_path: str | Path | None, options: Mapping[str, Any], *,
            source_range: tuple[float, float] | None = None) -> dict[str, str]:
    """{'input_hash', 'settings_hash'} of one run. source_range: the seconds of the clip a timeline shot uses."""
    h = hashlib.sha256(file_sha256(video_path).encode())
    if screenplay_path:
        h.update(b"\0screenplay\0" + file_sha256(screenplay_path).encode())
    if source_range is not None:
        h.update(f"\0range\0{source_range[0]:.6f}-{source_range[1]:.6f}".encode())
    blob = json.dumps(settings_of(options), sort_keys=True, default=str).encode()
    return {"input_hash": h.hexdigest()[:32], "settings_hash": hashlib.sha256(blob).hexdigest()[:32]}
