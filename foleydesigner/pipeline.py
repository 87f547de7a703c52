"""Run the whole pipeline for one clip into an output folder, atomically.

Everything is written into a hidden staging folder beside --out and moved into place only when the run has
succeeded, so an interrupted or failed run never leaves files that look complete.
"""

from __future__ import annotations

import atexit
import logging
import os
import platform
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from foleydesigner import limits
from foleydesigner.checks import check_run_options
from foleydesigner.context import RunContext
from foleydesigner.errors import FoleyError, InputError
from foleydesigner.failed import (
    failed_dir,
    failed_node,
    failed_stage,
    is_failed_run,
    keep_evidence,
    remove_failed,
)
from foleydesigner.publish import (
    FILES_KEY,
    RESUME_DIR,
    OutLock,
    adopt_resumable,
    make_staging,
    not_the_runs,
    publish,
    remove_stale,
    run_files,
    snapshot,
)
from foleydesigner.redaction import scrub
from foleydesigner.report import write_report_safe
from foleydesigner.runkey import run_key as make_run_key
from foleydesigner.schemas import RunInfo, VideoInfo
from foleydesigner.tools.export import atomic_write_json
from foleydesigner.tools.screenplay import read_screenplay
from foleydesigner.tools.video import probe_video
from foleydesigner.trace import warning_lines

log = logging.getLogger(__name__)
_VERSIONED = ("foleydesigner", "langgraph", "langchain-core", "numpy", "scipy", "opencv-contrib-python-headless",
              "pedalboard", "av", "soundfile", "pyloudnorm", "pydantic")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def check_out_dir(out_dir: Path, *, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file; give a folder")
    if out_dir.is_dir() and any(not p.name.startswith(f".{out_dir.name}.") for p in out_dir.iterdir()):
        if not force:
            raise InputError(f"--out {out_dir} is not empty; choose a new folder or pass --force to replace a previous run")
        if not (out_dir / "run.json").exists():
            raise InputError(f"--out {out_dir} holds files that are not a FoleyDesigner run; --force only replaces previous runs")
        foreign = not_the_runs(out_dir)
        if foreign is None:
            raise InputError(f"--out {out_dir}: its run.json does not list the files a run wrote (not a run, or one made "
                             "by an older FoleyDesigner); --force replaces only a listed run: move the folder away yourself")
        if foreign:
            raise InputError(f"--out {out_dir} holds {len(foreign)} entr{'y' if len(foreign) == 1 else 'ies'} no run wrote "
                             f"({', '.join(foreign[:3])}{' …' if len(foreign) > 3 else ''}); --force never deletes them: "
                             "move them out or choose another --out")
    parent = out_dir if out_dir.is_dir() else out_dir.parent
    while not parent.exists() and not parent.is_symlink():
        parent = parent.parent
    if not parent.is_dir():  # --out afile/sub: a file where a folder must be
        raise InputError(f"--out {out_dir}: {parent} is a file, not a folder; give a folder path")
    if not os.access(parent, os.W_OK):
        raise InputError(f"--out {out_dir}: {parent} is not writable; choose a folder you can write to")


def run_foley(video_path: str | Path, out_dir: str | Path, *, screenplay_path: str | Path | None = None,
              force: bool = False, on_stage: Callable[[str], None] | None = None, resume: bool = False,
              run_key: dict[str, str] | None = None, on_review: Callable[[dict[str, Any]], Any] | None = None,
              **options: Any) -> dict[str, Any]:
    """Run FoleyDesigner on one clip; returns the final graph state (with 'run' = RunInfo dump).

    options are RunContext fields (llm, vision, generator, seed, target_lufs, hfov_deg, ...). resume: continue an
    interrupted run on this --out (killed, crashed) from its last finished graph node, if it had the same clip,
    screenplay and settings; else start afresh. run_key: the run's key when the caller knows it better (a batch's
    timeline shot: its source clip and range); else it is computed from the clip, screenplay and options.
    on_review: with review=True, called with the paused script (agents/review.py's payload) and returns the answer
    the run resumes with (None accepts; an edited script replaces it); without one the script is accepted.
    """
    t_start = time.perf_counter()
    # the checks `foley run` gives its flags and `foley batch` its rows, for any caller; window_s aside: the window
    # tests and benchmarks cut short clips into windows below the flag's 5 s floor
    check_run_options({k: v for k, v in options.items() if k != "window_s"})
    out = Path(out_dir).resolve()
    video: VideoInfo = probe_video(video_path)  # fail fast on a bad clip, before any folder is made
    if screenplay_path:
        limits.check_screenplay_size(screenplay_path, int(options.get("max_screenplay_bytes", limits.MAX_SCREENPLAY_BYTES)))
    screenplay = read_screenplay(screenplay_path) if screenplay_path else None
    check_out_dir(out, force=force)
    key = run_key or make_run_key(video_path, screenplay_path, options)
    # the smallest run (one stem) must fit before anything is written; the real count is checked before generation
    limits.check_disk(out.parent, limits.estimate_bytes(1, video.duration_s, video_bytes=Path(video_path).stat().st_size))
    out.parent.mkdir(parents=True, exist_ok=True)
    with OutLock(out):
        check_out_dir(out, force=force)  # again: another run may have published here while we waited to start
        adopted = adopt_resumable(out, key) if resume else None
        if resume and adopted is None:
            log.warning("--resume: no interrupted run with this clip, screenplay and settings on %s; starting afresh", out)
        remove_stale(out)
        before = snapshot(out)
        state = _run_locked(video_path, video, screenplay, out, before, t_start, on_stage, options, key, adopted,
                            force=force, on_review=on_review)
        if force and remove_failed(out):  # the evidence of an earlier failure on this --out is stale now
            log.info("removed %s: this run replaced the failed one", failed_dir(out))
        return state


def _played(state: dict[str, Any]) -> dict[str, str]:
    """`sound.<event id>` → what played it: the recordings (package:file, licence) or the procedural model."""
    out = {}
    for s in state.get("stems", []):
        info = s.get("generator_info", {})
        lib = info.get("library") or {}
        files = sorted({f"{c.get('package', 'library')}:{str(c.get('path') or c.get('file', '')).rsplit('/', 1)[-1]}"
                        + (f" ({c['licence']})" if c.get("licence") else "") for c in lib.get("choices", [])})
        out[f"sound.{s.get('event_id')}"] = ("recording " + ", ".join(files)) if files else \
            f"procedural {info.get('sound_class', '')}".strip()
    return out


def run_info(ctx: RunContext, state: dict[str, Any], video: VideoInfo, t_start: float) -> RunInfo:
    """run.json: versions, every role's backend and endpoint, timings, warnings, tokens and cost."""
    from foleydesigner.llm import endpoints, redact_url, usage_for

    backends = {"llm": ctx.llm, **{f"llm.{r}": m for r, m in ctx.llm_roles.items()}, "vision": ctx.vision,
                "generator": ctx.generator}
    if ctx.llm_base_url:
        backends["llm_base_url"] = str(redact_url(ctx.llm_base_url))  # never user:key@ or ?key=
    if ctx.fallback:
        backends["fallback"] = ctx.fallback
    backends.update(_played(state))
    backends["tot"] = (f"k={ctx.tot_k} beam={ctx.tot_beam} tau={ctx.tot_tau} depth={ctx.tot_depth} "
                       f"weights={','.join(f'{w:g}' for w in ctx.tot_weights)}")
    timings = {k: round(v, 4) for k, v in state.get("timings", {}).items()}
    timings["total"] = round(time.perf_counter() - t_start, 4)
    info = RunInfo(versions=versions(), backends=backends, seed=ctx.seed, video=video, timings_s=timings,
                   warnings=warning_lines([scrub(str(w)) for w in state.get("warnings", [])], ctx.tracer), outputs=dict(state.get("outputs", {})),
                   endpoints=endpoints(ctx))
    info.outputs["trace"] = "trace.jsonl"
    info.outputs["run"] = "run.json"
    info.hfov_deg = ctx.hfov_deg  # the report places untracked sources on the picture with it
    info.tokens = {"input": ctx.tracer.tokens_in, "output": ctx.tracer.tokens_out}
    usage = usage_for(ctx.tracer)
    info.cost_usd, info.llm_usage = usage.cost_usd, usage.per_backend
    return info


def _keep_failed(exc: BaseException, ctx: RunContext, state: dict[str, Any], video: VideoInfo, t_start: float,
                 staging: Path, out: Path, done: set[str], order: list[str]) -> None:
    """OUT.failed/ for a run that failed after its graph started; the error message then says where it is."""
    error = scrub(f"{exc.__class__.__name__}: {exc}")  # as the trace recorded it
    info = run_info(ctx, state, video, t_start)
    info.outputs = {"trace": "trace.jsonl", "run": "run.json", "state": "state.json",
                    **({"tot_tree": "tot_tree.json"} if (staging / "tot_tree.json").is_file() else {})}
    info.error, info.failed_stage = scrub(str(exc)), failed_stage(done, order)
    info.failed_node = failed_node(staging / "trace.jsonl", error)
    kept = keep_evidence(staging, out, info, state)
    if kept is None:
        return
    if isinstance(exc, FoleyError) and exc.args:
        exc.args = (f"{exc.args[0]} (the failed run's trace is in {kept}: foley trace {kept})", *exc.args[1:])
    else:
        log.warning("the failed run's trace and run.json are in %s (foley trace %s)", kept, kept)


def _run_locked(video_path: str | Path, video: VideoInfo, screenplay: str | None, out: Path,
                before: dict[str, tuple[int, int]], t_start: float, on_stage: Callable[[str], None] | None,
                options: dict[str, Any], key: dict[str, str], adopted: Path | None, *,
                force: bool = False, on_review: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    from foleydesigner.graphs.foley import build_foley_graph

    staging = adopted or make_staging(out)
    state: dict[str, Any] = {}
    started, done, order = False, set(), []  # the graph's stages, and those finished: a failure names the next
    resumed_after: list[str] = []
    try:
        (staging / RESUME_DIR).mkdir(exist_ok=True)
        atomic_write_json(staging / RESUME_DIR / "key.json", key)
        # its tracer writes staging/trace.jsonl; a resumed run keeps the lines of the nodes it does not rerun
        ctx = RunContext(work_dir=staging, trace_append=adopted is not None, **options)
        from foleydesigner.tools.vision import make_vision_backend

        make_vision_backend(ctx.vision, model_dir=ctx.vision_model_dir, ctx=ctx)  # fails before work
        from foleydesigner.generation.registry import make_generator

        make_generator(ctx.generator, **dict(ctx.generator_options))  # fail before the long work, not after it
        from foleydesigner.llm import check_backends

        check_backends(ctx)  # a missing package or key fails here, before anything is kept
        inputs = {"video_path": str(Path(video_path).resolve()), "screenplay": screenplay}

        def on_node(node: str) -> None:
            done.add(node)
            if on_stage and node not in QUIET_NODES:
                on_stage(node)

        with _sqlite_saver(staging / RESUME_DIR / "graph.sqlite") as saver:
            graph = build_foley_graph(checkpointer=saver)
            order = [n for n in graph.nodes if not n.startswith("__")]
            started = True
            resumed_after = _stream_checkpointed(graph, inputs, ctx, on_node, state, on_review)
        shutil.rmtree(staging / RESUME_DIR, ignore_errors=True)
        info = run_info(ctx, state, video, t_start)
        info.key = dict(key)
        if is_failed_run(failed_dir(out)) and not force:
            info.warnings.append(f"{failed_dir(out)} holds an earlier failed run's trace; --force removes it")
        atomic_write_json(staging / "run.json", info)
        write_report_safe(staging)  # report.html from the files just written; a failure only warns
        shutil.rmtree(staging / ".internal", ignore_errors=True)  # after the report: it reuses the mixer's strips
        setattr(info, FILES_KEY, run_files(staging))  # what a later --force may replace, and nothing else
        atomic_write_json(staging / "run.json", info)
        publish(staging, out, before)
    except BaseException as exc:
        disk_full = isinstance(exc, Exception) and limits.is_disk_full(exc, staging)
        if started and isinstance(exc, Exception) and staging.is_dir():  # Ctrl-C is no failure: nothing is kept
            _keep_failed(exc, ctx, state, video, t_start, staging, out, done, order)
        shutil.rmtree(staging, ignore_errors=True)
        # a generation thread still running when SIGTERM/Ctrl-C arrived may write once more: sweep again at exit,
        # after the interpreter has joined those threads
        atexit.register(shutil.rmtree, staging, ignore_errors=True)
        if disk_full:
            n = len((state.get("script") or {}).get("events", [])) or 1
            need = limits.estimate_bytes(n, video.duration_s, video_bytes=Path(video_path).stat().st_size)
            raise limits.disk_full_error(out.parent, need) from exc
        raise
    state["run"] = info.model_dump(mode="json")
    state["out_dir"] = str(out)
    state["resumed_after"] = resumed_after
    return state


#: Graph nodes no progress display shows: the review gate (it speaks for itself when it pauses), the tidy-up and
#: the report's early stem and mix monitors (parts of the report, which has no stage line either).
QUIET_NODES = frozenset({"review", "tidy", "preview", "preview_mixes"})
#: Test hook: a run kills itself (SIGKILL, as the OOM killer or a lost node would) right after this graph node.
KILL_AFTER_ENV = "FOLEY_TEST_KILL_AFTER_NODE"


@contextmanager
def _sqlite_saver(db: Path) -> Iterator[Any]:
    """A LangGraph checkpointer writing into the SQLite file db (created if need be)."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(db), check_same_thread=False)  # the Send branches run in threads
    try:
        saver = SqliteSaver(conn)
        saver.setup()  # WAL journal; then no fsync per commit: a killed process loses nothing committed (SQLite's
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL guarantee), only a power cut could cost the last steps
        yield saver
    finally:
        conn.close()


def _stream_checkpointed(graph: Any, inputs: dict[str, Any], ctx: RunContext, on_node: Callable[[str], None],
                         state: dict[str, Any], on_review: Callable[[dict[str, Any]], Any] | None = None) -> list[str]:
    """Run the graph (compiled with a checkpointer) from its last checkpoint if it has one, else from inputs.

    on_node is called for every finished top-level node (those finished before a resume first); state is kept
    up to date with the graph's values, so a failure can still show what was reached. Returns the nodes that
    had finished before this call (empty for a fresh run).
    Checkpoints are saved in the background while the next step runs (LangGraph's default "async" durability;
    "sync" fails inside the mixing subgraph, which has no checkpointer), so a kill -9 loses at most the
    steps still being saved; those rerun.
    """
    kill_after = os.environ.get(KILL_AFTER_ENV)
    config = {"configurable": {"thread_id": "foley"}}
    previous = graph.get_state(config)
    done = _finished_nodes(graph, config) if previous.values else []
    if done:
        log.info("resuming after %s", ", ".join(done))
    for node in done:
        on_node(node)
    state.update(previous.values or {})
    start: Any = None if previous.values else inputs
    while True:  # once, or once more per review pause (the graph's interrupt): resumed with the reviewer's answer
        paused = None
        for mode, chunk in graph.stream(start, config=config, context=ctx, stream_mode=["updates", "values"]):
            if mode == "values":
                state.clear()
                state.update(chunk)
                continue
            for node in chunk:
                if node == "__interrupt__":
                    paused = chunk[node][0].value
                    continue
                on_node(node)
                if node == kill_after:
                    _kill_when_saved(graph, config, node)
        if paused is None:
            return done
        from langgraph.types import Command

        answer = on_review(paused) if on_review else None
        start = Command(resume="accept" if answer is None else answer)  # LangGraph takes resume=None for "none given"


def _kill_when_saved(graph: Any, config: dict[str, Any], node: str) -> None:
    """The test hook: wait (5 s at most) until the checkpoint after `node` is on disk, then die as kill -9 does."""
    deadline = time.monotonic() + 5.0
    while node in graph.get_state(config).next and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(os.getpid(), signal.SIGKILL)


def _finished_nodes(graph: Any, config: dict[str, Any]) -> list[str]:
    """Top-level nodes that finished before: those some checkpoint had next and the live state no longer waits for.

    The live state (get_state) leaves out of `next` a task whose writes were saved even when the checkpoint after
    its step was not (a kill between the two): LangGraph applies those writes on resume and does not rerun it. The
    history's snapshots list every task of their step.
    """
    pending = set(graph.get_state(config).next)
    seen: list[str] = []
    for snap in reversed(list(graph.get_state_history(config))):  # oldest first
        seen += [n for n in snap.next if n not in seen and n not in pending and not n.startswith("__")]
    return seen



__all__ = ["run_foley", "check_out_dir", "versions", "FoleyError"]
