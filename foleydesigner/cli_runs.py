"""The `foley` commands over many runs and finished ones: batch (many clips on Ray), trace (a run's agent timeline),
conform (finished shots onto an edit), report (rebuild report.html) and graph (the graphs as Mermaid).
`register(app, run)` adds them to the command line (cli.py); `run` is the `foley run` command, whose options a
batch's config file is read against."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from foleydesigner.cli_shared import console, fail
from foleydesigner.errors import FoleyError

_commands: dict[str, Callable[..., Any]] = {}


def batch(
    sources: Annotated[list[str], typer.Argument(help="folders or globs of clips, .jsonl/.csv manifests (one row per "
                                                 "clip), .otio/.edl edit timelines")],
    out: Annotated[Path, typer.Option("--out", "-o", help="batch folder: one `foley run` folder per job, batch.json, "
                                      "reel/ for a timeline (a path every Ray node mounts)")],
    workers: Annotated[int | None, typer.Option(help="local Ray cluster: jobs at once (default: one per core)")] = None,
    ray_address: Annotated[str | None, typer.Option(help="join this Ray cluster (e.g. 10.0.0.5:6379) instead of "
                                                    "starting one; --out must be on storage its nodes share")] = None,
    retries: Annotated[int, typer.Option(help="Ray retries of a job whose worker died")] = 2,
    job_memory_mb: Annotated[int | None, typer.Option(help="memory each job declares to Ray, MB (default: from its length)")] = None,
    llm: Annotated[str | None, typer.Option(help="as `foley run --llm`, for every job")] = None,
    vision: Annotated[str | None, typer.Option(help="as `foley run --vision`")] = None,
    generator: Annotated[str | None, typer.Option(help="as `foley run --generator`")] = None,
    library: Annotated[Path | None, typer.Option(help="as `foley run --library`")] = None,
    seed: Annotated[int | None, typer.Option(help="as `foley run --seed`")] = None,
    target_lufs: Annotated[float | None, typer.Option(help="as `foley run --target-lufs`")] = None,
    loudness_preset: Annotated[str | None, typer.Option(help="as `foley run --loudness-preset`")] = None,
    stems: Annotated[str | None, typer.Option(help="as `foley run --stems`")] = None,
    stem_format: Annotated[str | None, typer.Option(help="as `foley run --stem-format`")] = None,
    deliver: Annotated[str | None, typer.Option(help="as `foley run --deliver`")] = None,
    min_confidence: Annotated[float | None, typer.Option(help="as `foley run --min-confidence`")] = None,
    config: Annotated[Path | None, typer.Option(help="run settings file (default: ./foley.toml if present); the "
                                                "flags above win over it, a manifest row over both")] = None,
) -> None:
    """Run many clips (folders, manifests, edit timelines) on Ray; re-running finishes only what is missing."""
    import time

    from foleydesigner import config as C
    from foleydesigner.batch.progress import batch_progress
    from foleydesigner.batch.runner import BatchSettings, run_batch
    from foleydesigner.batch.sources import collect_jobs, parse_options

    t0 = time.perf_counter()
    try:
        if "://" in str(out):
            raise FoleyError(f"--out {out}: give a folder path (on a cluster: a path every node mounts, e.g. NFS)")
        if out.exists() and not out.is_dir():
            raise FoleyError(f"--out {out} is a file; give a folder")
        parent = out.absolute()
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():  # --out afile/sub
            raise FoleyError(f"--out {out}: {parent} is a file, not a folder; give a folder path")
        if workers is not None and not 1 <= workers <= 4096:
            raise FoleyError(f"--workers {workers} must be between 1 and 4096")
        if not 0 <= retries <= 100:
            raise FoleyError(f"--retries {retries} must be between 0 and 100")
        flags = {"llm": llm, "vision": vision, "generator": generator, "library": library, "seed": seed,
                 "loudness_preset": loudness_preset, "target_lufs": target_lufs, "stems": stems,
                 "stem_format": stem_format, "deliver": deliver, "min_confidence": min_confidence}
        loaded = C.load_config(C.find_config(config), _commands['run'])
        columns, llm_kw, ignored = C.batch_options(loaded, llm)
        if ignored:
            console.print(f"{loaded.path}: foley batch does not take {', '.join(ignored)} from a file (per-job "
                          "settings go in a manifest)", highlight=False, soft_wrap=True)
        given = {k: v for k, v in flags.items() if v is not None}
        if "target_lufs" in given or "loudness_preset" in given:  # a typed loudness wins over either key in the file
            columns = {k: v for k, v in columns.items() if k not in ("target_lufs", "loudness_preset")}
        base = {**llm_kw, **parse_options({**columns, **given}, f"{loaded.path or 'foley batch'}")}
        jobs, timelines = collect_jobs(sources, base)
        settings = BatchSettings(workers=workers, address=ray_address, retries=retries, memory_mb=job_memory_mb)
        plain = not (console.is_terminal and sys.stdout.isatty())
        with batch_progress(console, plain=plain) as view:
            record = run_batch(jobs, timelines, out, settings, command=" ".join(sys.argv), on_update=view.update,
                               on_stage=None if plain else view.stage)
    except FoleyError as exc:
        fail(exc)
        return
    except KeyboardInterrupt:  # SIGTERM (see main) or Ctrl-C: run_batch recorded the unfinished jobs
        console.print(f"[bold red]interrupted:[/] unfinished jobs are recorded as interrupted in {out / 'batch.json'}; "
                      "the same command finishes them", soft_wrap=True, highlight=False)
        raise typer.Exit(code=130) from None
    c = record.counts
    console.print(f"{len(record.jobs)} jobs: {c['done']} done, {c['skipped']} skipped (already done), {c['failed']} "
                  f"failed in {time.perf_counter() - t0:.0f} s; see {out / 'batch.json'}", highlight=False, soft_wrap=True)
    for name, reel in record.reels.items():
        console.print(f"reel of {name}: {reel.get('out') or reel.get('reason')}", highlight=False, soft_wrap=True)
    if c["failed"] or any(r.get("status") == "failed" for r in record.reels.values()):
        raise typer.Exit(code=1)


def trace(
    run_dir: Annotated[Path, typer.Argument(help="the --out folder of a `foley run`")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """A run's per-agent timeline: node, kind, backend, latency, tokens and what each call decided."""
    from foleydesigner.trace_view import render, report

    try:
        rep = report(run_dir)
    except FoleyError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(rep, indent=2, default=str))
    else:
        render(rep, Console(width=max(Console().width, 160)))


def conform(
    timeline: Annotated[Path, typer.Argument(help="the edit: an OpenTimelineIO .otio or a CMX 3600 .edl")],
    runs: Annotated[Path, typer.Option("--runs", help="folder holding one finished run per shot, RUNS/<shot>/")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="the reel goes to OUT/reel/ (default: --runs)")] = None,
    target_lufs: Annotated[float, typer.Option(help="reel loudness target, LUFS (BS.1770)")] = -24.0,
) -> None:
    """Conform finished per-shot runs onto the edit: a reel session.otio and reel-length stereo and 5.1 mixes."""
    from foleydesigner.batch.reel import conform_reel
    from foleydesigner.batch.timeline import read_timeline

    try:
        if not -70.0 <= target_lufs <= -5.0:
            raise FoleyError(f"--target-lufs {target_lufs} is outside [-70, -5] LUFS; broadcast uses -24 (A/85) or -23 (R128)")
        if not runs.is_dir():
            raise FoleyError(f"--runs {runs}: no such folder; give the --out folder of `foley batch`")
        shots, duration = read_timeline(timeline)
        summary = conform_reel(shots, {s.name: runs / s.name for s in shots}, out or runs, duration, target_lufs)
    except FoleyError as exc:
        fail(exc)
    typer.echo(f"{summary['shots_placed']} shots, {summary['duration_s']:.3f} s, "
               f"{summary['stereo']['integrated_lufs']:.1f} LUFS → {summary['folder']}")


def report_(
    folder: Annotated[Path, typer.Argument(help="a `foley run --out` folder, or a folder of them")],
) -> None:
    """Rebuild report.html for a run (open it in a browser); for a folder of runs, also index.html."""
    from foleydesigner.report import write_index, write_report

    try:
        if (folder / "run.json").is_file():
            console.print(f"wrote {write_report(folder)}")
        else:
            console.print(f"wrote {write_index(folder)}")
    except FoleyError as exc:
        fail(exc)


def graph() -> None:
    """Print every graph as Mermaid text (paste into any Mermaid viewer)."""
    from foleydesigner.graphs.decomposition import build_decomposition_graph
    from foleydesigner.graphs.filmscribe import build_filmscribe_graph
    from foleydesigner.graphs.foley import build_foley_graph
    from foleydesigner.graphs.mixing import build_mixing_graph

    for name, g in (("foley", build_foley_graph()), ("decomposition", build_decomposition_graph()),
                    ("filmscribe", build_filmscribe_graph()), ("mixing", build_mixing_graph())):
        typer.echo(f"%% graph: {name}")
        typer.echo(g.get_graph(xray=True).draw_mermaid())


def register(app: typer.Typer, run: Callable[..., Any]) -> None:
    """Add these commands to `app`, after run, config and demo (the order `foley --help` lists them in)."""
    _commands["run"] = run
    app.command()(batch)
    app.command()(trace)
    app.command()(conform)
    app.command("report")(report_)
    app.command()(graph)
