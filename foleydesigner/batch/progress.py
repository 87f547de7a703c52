"""What `foley batch` shows while it runs: one rich progress bar over the jobs (done, failed, ETA) in a
terminal; one plain line per finished job in a log, a CI job or a pipe."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from foleydesigner.batch.record import BatchRecord, JobRecord


@contextmanager
def batch_progress(console: Console, *, plain: bool) -> Iterator[Any]:
    """Yields on_update(record, job) for run_batch."""
    columns = (TextColumn("jobs"), BarColumn(), MofNCompleteColumn(),
               TextColumn("[green]{task.fields[done]} done[/] · [red]{task.fields[failed]} failed[/]"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=plain) as prog:
        task = prog.add_task("jobs", total=None, done=0, failed=0)

        def on_update(record: BatchRecord, job: JobRecord | None) -> None:
            c = record.counts
            finished = c.get("done", 0) + c.get("skipped", 0) + c.get("failed", 0)
            prog.update(task, total=len(record.jobs), completed=finished, done=c.get("done", 0) + c.get("skipped", 0),
                        failed=c.get("failed", 0))
            if not plain:
                if job is not None and job.status == "failed":
                    prog.console.print(f"[red]failed:[/] {job.name}: {job.reason}", soft_wrap=True, highlight=False)
                return
            if job is None:
                console.print(f"{len(record.jobs)} jobs: {c.get('skipped', 0)} already done, "
                              f"{c.get('queued', 0)} to run", highlight=False)
                return
            where = f" on {job.host}" if job.host else ""
            took = f" in {job.elapsed_s:.1f} s" if job.elapsed_s is not None else ""
            why = f": {job.reason}" if job.status == "failed" else ""
            console.print(f"[{finished}/{len(record.jobs)}] {job.name} {job.status}{took}{where}{why}",
                          highlight=False, soft_wrap=True)

        yield on_update
