"""What `foley batch` shows while it runs. In a terminal: one rich progress bar over the jobs (done, failed,
ETA) and, under it, one row per running job with the pipeline stage it has reached and its time so far. In a
log, a CI job or a pipe: one plain line per finished job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from foleydesigner.batch.record import BatchRecord, JobRecord


def _is_job_row(task: Task) -> bool:
    return task.fields.get("stage") is not None


class _Counts(ProgressColumn):
    """The totals on the batch row; the stage a job has reached on its own row."""

    def render(self, task: Task) -> Text:
        if _is_job_row(task):
            return Text(f"after {task.fields['stage']}", style="cyan")
        return Text.from_markup(f"[green]{task.fields['done']} done[/] · [red]{task.fields['failed']} failed[/]")


class _BatchOnly(ProgressColumn):
    """A column shown on the batch row only (a job row has no count or ETA of its own)."""

    def __init__(self, inner: ProgressColumn) -> None:
        super().__init__()
        self.inner = inner

    def render(self, task: Task) -> Any:
        return Text("") if _is_job_row(task) else self.inner.render(task)


@dataclass
class BatchView:
    """run_batch's callbacks: update(record, job) as jobs are queued and finish, stage(job, stage) as they run."""

    console: Console
    plain: bool
    progress: Progress
    batch_row: TaskID
    job_rows: dict[str, TaskID] = field(default_factory=dict)

    def stage(self, job: str, stage: str) -> None:
        if self.plain:
            return
        if job not in self.job_rows:
            self.job_rows[job] = self.progress.add_task(f"  {job}", total=None, stage=stage)
        self.progress.update(self.job_rows[job], stage=stage)

    def update(self, record: BatchRecord, job: JobRecord | None) -> None:
        c = record.counts
        finished = c.get("done", 0) + c.get("skipped", 0) + c.get("failed", 0)
        self.progress.update(self.batch_row, total=len(record.jobs), completed=finished,
                             done=c.get("done", 0) + c.get("skipped", 0), failed=c.get("failed", 0))
        if job is not None and job.name in self.job_rows:
            self.progress.remove_task(self.job_rows.pop(job.name))
        if not self.plain:
            if job is not None and job.status == "failed":
                self.progress.console.print(f"[red]failed:[/] {job.name}: {job.reason}", soft_wrap=True, highlight=False)
            return
        if job is None:
            self.console.print(f"{len(record.jobs)} jobs: {c.get('skipped', 0)} already done, "
                               f"{c.get('queued', 0)} to run", highlight=False)
            return
        where = f" on {job.host}" if job.host else ""
        took = f" in {job.elapsed_s:.1f} s" if job.elapsed_s is not None else ""
        why = f": {job.reason}" if job.status == "failed" else ""
        self.console.print(f"[{finished}/{len(record.jobs)}] {job.name} {job.status}{took}{where}{why}",
                           highlight=False, soft_wrap=True)


@contextmanager
def batch_progress(console: Console, *, plain: bool) -> Iterator[BatchView]:
    """The view for one batch: pass view.update and view.stage to run_batch."""
    columns = (TextColumn("{task.description}"), BarColumn(), _BatchOnly(MofNCompleteColumn()), _Counts(),
               TimeElapsedColumn(), _BatchOnly(TextColumn("ETA")), _BatchOnly(TimeRemainingColumn()))
    with Progress(*columns, console=console, disable=plain) as prog:
        yield BatchView(console, plain, prog, prog.add_task("jobs", total=None, done=0, failed=0))
