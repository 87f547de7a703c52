"""batch.json: what a `foley batch` did with every job, rewritten atomically each time a job finishes, so a
batch killed at any moment leaves a record that is whole (and true up to its last finished job)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from foleydesigner.redaction import scrub
from foleydesigner.tools.export import atomic_write_json

BATCH_FILE = "batch.json"
#: interrupted: the batch was stopped (SIGTERM, Ctrl-C) while the job was queued or running; a re-run finishes it
Status = Literal["queued", "done", "skipped", "failed", "interrupted"]


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class JobRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the job's folder in the batch's --out")
    origin: str = Field(description="the source it came from: a folder, a manifest row, a timeline shot")
    clip: str
    status: Status = "queued"
    reason: str | None = Field(default=None, description="skipped: why; failed: the error, one line")
    failed_trace: str | None = Field(default=None, description="the failed run's kept evidence (<job>.failed/), if any")
    key: dict[str, str] = Field(default_factory=dict, description="input and settings hashes (see run.json)")
    started: str | None = None
    finished: str | None = None
    elapsed_s: float | None = None
    host: str | None = Field(default=None, description="the machine the job ran on")
    node_id: str | None = Field(default=None, description="the Ray node it ran on")


class BatchRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str
    started: str = Field(default_factory=now_iso)
    finished: str | None = None
    cluster: dict[str, Any] = Field(default_factory=dict, description="Ray address, nodes and CPUs used")
    counts: dict[str, int] = Field(default_factory=dict)
    jobs: list[JobRecord] = Field(default_factory=list)
    reels: dict[str, Any] = Field(default_factory=dict, description="timeline -> what conform_reel wrote (or why not)")

    def job(self, name: str) -> JobRecord:
        return next(j for j in self.jobs if j.name == name)

    def save(self, out_dir: Path) -> Path:
        self.counts = {s: sum(j.status == s for j in self.jobs) for s in ("done", "skipped", "failed", "queued", "interrupted")}
        for j in self.jobs:  # an error a worker or Ray reported may quote a credential
            j.reason = scrub(j.reason) if j.reason else j.reason
        path = atomic_write_json(out_dir / BATCH_FILE, self)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(path, 0o666 & ~mask)  # the temp file it was renamed from was private (0600)
        return path
