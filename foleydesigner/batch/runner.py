"""Run a batch's jobs on Ray and keep batch.json.

Each job is one run_foley in a Ray task that declares the CPU and memory it needs, so Ray packs as many on
a node as fit. Ray schedules (a local cluster with one worker per core, or an existing cluster at
--ray-address whose nodes share the output storage), and Ray retries a task whose worker died (max_retries);
a retried job resumes its own run from the last finished graph node. A job whose folder holds a run.json with
the same run key (input and settings hashes) is skipped, so re-running a batch finishes only what is missing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foleydesigner.batch.record import BatchRecord, JobRecord, now_iso
from foleydesigner.batch.sources import REEL, Job, Timeline
from foleydesigner.errors import FoleyError, InputError
from foleydesigner.failed import failed_dir, is_failed_run
from foleydesigner.redaction import scrub

log = logging.getLogger(__name__)
SCRATCH = ".batch"  # DIR/.batch/<job>/: a timeline shot's extracted sub-clip, while its job runs
_MIB = 1 << 20


@dataclass(frozen=True)
class BatchSettings:
    workers: int | None = None  # local cluster: CPUs (one job each); default: every core
    address: str | None = None  # join this Ray cluster instead of starting one
    retries: int = 2  # Ray retries of a job whose worker died (a crash, the OOM killer, a lost node)
    memory_mb: int | None = None  # memory each job declares; default from its clip's length (job_memory_bytes)


def job_memory_bytes(duration_s: float) -> int:
    """What one job declares to Ray. A 2 s clip peaks at about 270 MB resident (measured, `/usr/bin/time -f %M`);
    mixing and delivery stream in windows, so only analysis and stems grow with length: 512 MiB + 8 MiB/s, ≤ 3 GiB."""
    return int(min(3072, 512 + 8 * max(duration_s, 0.0)) * _MIB)


def job_done(out: Path, key: dict[str, str]) -> bool:
    """True if out holds a finished run (run.json) made with this key."""
    try:
        info = json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("key") == key


class StageBoard:
    """A Ray actor that hears each job's finished pipeline stages (load_video, decompose, …, export) from the
    workers, on any node, so the driver can show where every running job is. Calls from one worker arrive in
    order (Ray's ordering of one caller's actor calls)."""

    def __init__(self) -> None:
        self.stages: dict[str, list[str]] = {}

    def finished(self, job: str, stage: str) -> None:
        self.stages.setdefault(job, []).append(stage)

    def since(self, seen: dict[str, int]) -> dict[str, list[str]]:
        """The stages each job finished after the first `seen[job]`."""
        return {j: st[seen.get(j, 0):] for j, st in self.stages.items() if len(st) > seen.get(j, 0)}


def execute_job(job: Job, out_root: str, key: dict[str, str], board: Any = None) -> dict[str, Any]:
    """One job, in a Ray worker: a normal `foley run` into out_root/<job>/, resuming a dead attempt if any.

    board: a StageBoard actor handle told each finished stage, or None."""
    from foleydesigner.pipeline import run_foley

    started, t0 = now_iso(), time.perf_counter()
    out = Path(out_root) / job.name
    result: dict[str, Any] = {"started": started, "host": socket.gethostname(), "node_id": _node_id()}
    scratch = Path(out_root) / SCRATCH / job.name
    told: list[Any] = []  # the board's replies: the last one is awaited, so the job's stages are in before its end
    on_stage = (lambda node: told.append(board.finished.remote(job.name, node))) if board is not None else None
    try:
        clip = job.clip
        if job.source_range is not None:  # a timeline shot: cut its source range out of the clip first
            from foleydesigner.batch.extract import extract_range

            scratch.mkdir(parents=True, exist_ok=True)  # MP4: exact 23.976/29.97 frame times (Matroska's are ms)
            clip = extract_range(job.clip, job.source_range[0], job.source_range[1], scratch / f"{job.name}.mp4")
        # force: a previous run in out was made with another key (job_done said so); resume: a worker that died
        # mid-run left its staging folder, and this attempt continues it
        run_foley(clip, out, screenplay_path=job.screenplay, force=True, resume=True, run_key=key, on_stage=on_stage,
                  **job.options)
        result["status"] = "done"
    except FoleyError as exc:
        result.update(status="failed", reason=scrub(str(exc)))
    except Exception as exc:  # a bug, not bad input: keep its class so the report says what broke
        log.exception("job %s failed", job.name)
        result.update(status="failed", reason=scrub(f"{exc.__class__.__name__}: {exc}"))
    finally:
        if told:
            import ray

            try:
                ray.get(told[-1])
            except Exception:  # the board is only for the progress display; a job never fails for it
                log.debug("stage board unreachable", exc_info=True)
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            scratch.parent.rmdir()  # DIR/.batch/, once no other job uses it
        except OSError:
            pass
    if result["status"] == "failed" and is_failed_run(failed_dir(out)):  # the failed run's kept evidence
        result["failed_trace"] = str(failed_dir(out))
    result.update(finished=now_iso(), elapsed_s=round(time.perf_counter() - t0, 3))
    return result


def _node_id() -> str | None:
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id()) if ray.is_initialized() else None
    except Exception:  # outside Ray (tests calling execute_job directly)
        return None


#: Ray's switch for its local-only mode (made for Windows and macOS): "0" before `import ray` makes it take the
#: loopback address as the node's, so gcs_server, raylet, workers and agents listen on 127.0.0.1 only.
#: `_node_ip_address="127.0.0.1"` alone does not: Ray swaps in the machine's address (measured with Ray 2.60).
LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
#: Where Ray's token authentication reads the cluster's token (`ray start --head` turns it on since Ray 2.5x).
TOKEN_ENVS = ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
TOKEN_FILE = Path("~/.ray/auth_token")


def _token_available() -> bool:
    return any(os.environ.get(n) for n in TOKEN_ENVS) or TOKEN_FILE.expanduser().is_file()


def _set_local_only(value: str | None) -> str | None:
    """Set Ray's local-only variable ("0": loopback only; None: unset); returns its previous value."""
    previous = os.environ.get(LOCAL_ONLY_ENV)
    if value is None:
        os.environ.pop(LOCAL_ONLY_ENV, None)
    else:
        os.environ[LOCAL_ONLY_ENV] = value
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:  # Ray was imported before (an earlier batch in this process): it read the variable then
        constants.ENABLE_RAY_CLUSTER = (value.strip().lower() in ("1", "true") if value is not None
                                        else not constants.IS_WINDOWS_OR_OSX)
    return previous


@contextmanager
def _stderr_kept() -> Iterator[Callable[[], str]]:
    """Hold what this process (and Ray's C++ core in it) writes to stderr; yields a function returning it so far."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)

        def said() -> str:
            held.seek(0)
            return held.read().decode("utf-8", "replace")

        try:
            yield said
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def prepare_ray_env(settings: BatchSettings) -> None:
    """What Ray reads from the environment, set before `import ray` (it reads most of it then): no usage
    statistics, loopback only for a local cluster, the user's token for a cluster at an address."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    if not settings.address:
        _set_local_only("0")
    elif "RAY_AUTH_MODE" not in os.environ and _token_available() and "ray" not in sys.modules:
        # Ray turns token authentication on for an explicit address only when told to; a cluster without it
        # accepts a client that sends a token (measured with Ray 2.60), so a token the user has is always sent.
        # Only before Ray is imported: it reads the mode then (a process that imported it sets RAY_AUTH_MODE itself)
        os.environ["RAY_AUTH_MODE"] = "token"


def start_ray(settings: BatchSettings) -> dict[str, Any]:
    """Start a local Ray cluster (on 127.0.0.1 only, no dashboard) or join settings.address; returns what batch.json
    records about it."""
    import signal
    import threading

    prepare_ray_env(settings)
    terminate = signal.getsignal(signal.SIGTERM)
    import ray

    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    if settings.address:
        with _stderr_kept() as said:  # Ray's C++ client prints each refused attempt: a failure is one line instead
            try:
                ray.init(address=settings.address, **quiet)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                first = (str(exc).strip().splitlines() or [""])[0]
                refused = "InvalidAuthToken" in said() or "Unauthenticated" in said()
                why = ("it uses token authentication and did not accept this machine's token" if refused else first)
                raise InputError(f"--ray-address {settings.address}: cannot join the cluster ({why}); start it with "
                                 "`ray start --head` and give the address it prints; a cluster with token "
                                 "authentication needs its token (`ray get-auth-token` on the head) in RAY_AUTH_TOKEN, "
                                 f"RAY_AUTH_TOKEN_PATH or {TOKEN_FILE}") from None
    else:
        # a small object store: jobs exchange only small dicts, their audio goes to disk
        ray.init(num_cpus=settings.workers or os.cpu_count() or 1, include_dashboard=False,
                 _node_ip_address="127.0.0.1", object_store_memory=128 * _MIB,
                 **{**quiet, "logging_level": logging.ERROR})  # a private cluster: its start-up notices are noise
    if callable(terminate) and threading.current_thread() is threading.main_thread():
        # Ray's core worker installs its own SIGTERM handler (a C++ stack dump, then exit 1): put ours back, so
        # SIGTERM stops the batch like Ctrl-C (one line, exit 130, its jobs recorded as interrupted)
        signal.signal(signal.SIGTERM, terminate)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {"address": settings.address or "local", "nodes": len(nodes),
            "cpus": int(sum(n.get("Resources", {}).get("CPU", 0) for n in nodes))}


def _duration(clip: Path) -> float:
    try:
        from foleydesigner.tools.video import probe_video

        return probe_video(clip).duration_s
    except Exception:  # the job itself reports a bad clip, with the real error
        return 0.0


OnStage = Callable[[str, str], None]  # (job, the pipeline stage it just finished)


def run_batch(jobs: Sequence[Job], timelines: Sequence[Timeline], out_dir: Path, settings: BatchSettings, *,
              command: str, on_update: Callable[[BatchRecord, JobRecord | None], None] | None = None,
              on_stage: OnStage | None = None) -> BatchRecord:
    """Run every job not already done into out_dir/<job>/, then conform each timeline's reel; returns the record.

    on_update is called as jobs are queued and finish; on_stage as running jobs finish pipeline stages."""
    from foleydesigner.runkey import run_key

    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    record = BatchRecord(command=command, jobs=[JobRecord(name=j.name, origin=j.origin, clip=str(j.clip)) for j in jobs])
    pending: list[tuple[Job, dict[str, str]]] = []
    for job in jobs:
        rec = record.job(job.name)
        try:
            rec.key = run_key(job.clip, job.screenplay, job.options, source_range=job.source_range)
        except OSError as exc:
            rec.status, rec.reason = "failed", f"cannot read {exc.filename}: {exc.strerror}"
            continue
        if job_done(out_dir / job.name, rec.key):
            rec.status, rec.reason = "skipped", "run.json has the same input and settings"
        else:
            pending.append((job, rec.key))
    record.save(out_dir)
    if on_update:
        on_update(record, None)
    if pending:
        _run_on_ray(pending, out_dir, settings, record, on_update, on_stage)
    from foleydesigner.batch.reel import reel_folders

    folders = reel_folders([t.path for t in timelines]) if len(timelines) > 1 else {}
    for timeline in timelines:
        shot_job = next(j for j in jobs if j.timeline == timeline.path)
        record.reels[str(timeline.path)] = _conform(timeline, out_dir, record, folders.get(timeline.path), shot_job.options)
    record.finished = now_iso()
    record.save(out_dir)
    return record


def _run_on_ray(pending: list[tuple[Job, dict[str, str]]], out_dir: Path, settings: BatchSettings,
                record: BatchRecord, on_update: Callable[[BatchRecord, JobRecord | None], None] | None,
                on_stage: OnStage | None = None) -> None:
    previous = os.environ.get(LOCAL_ONLY_ENV)
    prepare_ray_env(settings)  # before `import ray`
    import ray
    from ray.exceptions import RayError

    record.cluster = {}
    watchdog = None
    try:
        record.cluster = start_ray(settings)
        if not settings.address:  # our own cluster: its agents must not outlive a batch killed with -9
            from foleydesigner.batch import reaper

            watchdog = reaper.start()
        task = ray.remote(execute_job)
        # the board takes no CPU: it never holds back a job
        board = ray.remote(num_cpus=0)(StageBoard).remote() if on_stage else None
        seen: dict[str, int] = {}

        def report_stages() -> None:
            for name, stages in ray.get(board.since.remote(seen)).items():
                seen[name] = seen.get(name, 0) + len(stages)
                for stage in stages:
                    on_stage(name, stage)  # type: ignore[misc]

        refs = {}
        for job, key in pending:
            memory = settings.memory_mb * _MIB if settings.memory_mb else job_memory_bytes(_duration(job.clip))
            # retry_exceptions=False: Ray retries only a dead worker; a job that raised failed for a reason
            ref = task.options(num_cpus=1, memory=memory, max_retries=settings.retries, retry_exceptions=False,
                               name=f"foley:{job.name}").remote(job, str(out_dir.resolve()), key, board)
            refs[ref] = job
        while refs:
            # a bounded wait: the main thread returns to Python often enough to take SIGTERM and Ctrl-C at once
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
            if board is not None:
                report_stages()  # before a job's end, so its last stages come first
            for ref in ready:
                job = refs.pop(ref)
                try:
                    result = ray.get(ref)
                except RayError as exc:  # the worker died on every attempt, or the cluster lost it
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    result = {"status": "failed", "finished": now_iso(),
                              "reason": f"{exc.__class__.__name__} after {settings.retries + 1} attempt(s): {first}"}
                rec = record.job(job.name)
                for k, v in result.items():
                    setattr(rec, k, v)
                record.save(out_dir)
                if on_update:
                    on_update(record, rec)
    except KeyboardInterrupt:  # SIGTERM or Ctrl-C: what had not finished is recorded as interrupted, not queued
        for job, _ in pending:
            rec = record.job(job.name)
            if rec.status == "queued":
                rec.status, rec.finished = "interrupted", now_iso()
                rec.reason = "foley batch was stopped (SIGTERM or Ctrl-C) before the job finished; run it again"
        record.finished = now_iso()
        record.save(out_dir)
        raise
    finally:
        ray.shutdown()
        if watchdog is not None:
            reaper.stop(watchdog)
        if not settings.address:
            _set_local_only(previous)  # a later batch in this process may join a real cluster


def _conform(timeline: Timeline, out_dir: Path, record: BatchRecord, folder: str | None,
             options: Mapping[str, Any]) -> dict[str, Any]:
    """Place every shot's stems and mixes at their record times (batch/reel.py) into DIR/reel/."""
    names = [timeline.job_of_shot[s.name] for s in timeline.shots]
    missing = [n for n in names if record.job(n).status not in ("done", "skipped")]
    if missing:
        return {"status": "not conformed", "reason": f"{len(missing)} shot(s) did not finish: {', '.join(missing[:5])}"}
    from foleydesigner.batch.reel import conform_reel

    # DIR/reel/, or DIR/reel/<folder>/ for each of several timelines (reel.reel_folders: never shared)
    parent, name = (out_dir / REEL, folder) if folder else (out_dir, REEL)
    # every shot of a timeline gets the batch's options, so the reel is mastered to their target (A/85 by default)
    target = float(options.get("target_lufs", -24.0))
    job_dirs = {s.name: out_dir / timeline.job_of_shot[s.name] for s in timeline.shots}
    try:
        written = conform_reel(list(timeline.shots), job_dirs, parent, timeline.duration_s, target, folder_name=name)
    except FoleyError as exc:  # a full disk, a shot's run that is not whole: the batch says so and exits 1
        return {"status": "failed", "reason": str(exc)}
    return {"status": "done", "out": str(parent / name), **written}
