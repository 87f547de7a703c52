"""The `foley` commands around the pipeline rather than in it: what each backend seam offers, the procedural
sound classes, the benchmark, the sound-effects library, and the FoleyDiT's dataset and training.
`register(app)` adds them to the command line (cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from foleydesigner.cli_shared import check_seed, console, fail
from foleydesigner.demo import demo_library
from foleydesigner.errors import FoleyError


def backends(as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """What each seam (LLM, vision, generator) offers and what it needs."""
    from foleydesigner.generation.registry import available_generators

    seams = {
        "llm": {"heuristic": ("offline rules over tracks and screenplay (default)", "nothing"),
                "openai:MODEL": ("OpenAI chat models", "OPENAI_API_KEY"),
                "anthropic:MODEL": ("Anthropic chat models", "ANTHROPIC_API_KEY"),
                "ollama:MODEL": ("local models through Ollama", "langchain-ollama and a running Ollama server"),
                "openai:MODEL --llm-base-url URL": ("any OpenAI-compatible server (vLLM, llama.cpp, LM Studio)",
                                                    "the server URL, with /v1"),
                "ROLE=PROVIDER:MODEL@URL": ("one role on its own server (--llm-role, or [roles.ROLE] in foley.toml)",
                                            "the server URL")},
        "vision": {"opencv": ("MOG2 motion segmentation, BlazePose people and feet, tracking, geometric depth (default)", "nothing"),
                   "transformers": ("OpenCV tracks relabelled by a zero-shot detector, depths from a depth model",
                                    "--vision-model-dir with detector/ and depth/ (transformers + torch)"),
                   "vlm": ("OpenCV tracks labelled by a vision LLM looking at keyframes", "a vision-capable --llm")},
        "generator": available_generators(),
    }
    if as_json:
        typer.echo(json.dumps({s: {k: {"what": w, "needs": n} for k, (w, n) in v.items()} for s, v in seams.items()}, indent=2))
        return
    table = Table(title="backends")
    for col in ("seam", "backend", "what", "needs"):
        table.add_column(col)
    for seam, items in seams.items():
        for name, (what, needs) in items.items():
            table.add_row(seam, name, what, needs)
    Console().print(table)


def sounds(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
    render: Annotated[Path | None, typer.Option(help="render a 2 s example of every class into this folder")] = None,
    generator: Annotated[str, typer.Option(help="--render with this generator (as `foley run --generator`)")] = "hybrid",
    library: Annotated[Path | None, typer.Option(help="sound-effects folder for --generator library")] = None,
) -> None:
    """List the procedural sound classes; --render DIR writes one `<class>.wav` per class, rendered the way
    `foley run` renders an event (default generator: hybrid)."""
    from foleydesigner.generation import procedural

    classes = procedural.list_classes()
    if render:
        from foleydesigner.generation.examples import render_classes

        try:
            if render.exists() and not render.is_dir():
                raise FoleyError(f"--render {render} is a file; give a folder")
            with console.status(f"rendering {len(classes)} classes with --generator {generator}"):
                paths = render_classes(render, generator=generator, library=library)
        except FoleyError as exc:
            fail(exc)
            return
        console.print(f"rendered {len(paths)} classes into {render} (--generator {generator})")
        return
    if as_json:
        typer.echo(json.dumps([{"name": c.name, "description": c.description, "kind": c.kind, "layer": c.default_layer,
                                "diffuse": c.diffuse, "params": dict(c.params), "synonyms": list(c.synonyms)}
                               for c in classes], indent=2, default=str))
        return
    table = Table(title=f"{len(classes)} procedural sound classes")
    for col in ("class", "kind", "layer", "parameters", "description"):
        table.add_column(col)
    for c in classes:
        table.add_row(c.name, c.kind, c.default_layer, ", ".join(f"{k}={v}" for k, v in c.params.items()), c.description)
    Console().print(table)


def eval_(
    what: Annotated[str | None, typer.Argument(help="'realism': judge renders with the aiSFX judge instead")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="folder for report.json, report.md, plots/, clips/, runs/")] = None,
    quick: Annotated[bool, typer.Option(help="one 4 s clip per kind (a few minutes on 2 cores)")] = False,
    seed: Annotated[int, typer.Option(help="pipeline seed for every clip")] = 0,
    target_lufs: Annotated[float, typer.Option(help="loudness target the mixes are scored against")] = -24.0,
    library: Annotated[Path | None, typer.Option(help="sound library for the `library` system (default: a stand-in built from procedural takes)")] = None,
    renders: Annotated[Path | None, typer.Option(help="realism: judge these <class>.wav files (default: render them with --generator)")] = None,
    run: Annotated[Path | None, typer.Option(help="realism: judge the stems of this `foley run` folder")] = None,
    generator: Annotated[str, typer.Option(help="realism: the generator that renders the classes")] = "hybrid",
    references: Annotated[Path | None, typer.Option(help="realism: folder of the judge's real recordings (fetched with apt-get if missing)")] = None,
    judge_set: Annotated[int, typer.Option(help="realism: the judge's reference set: 2 (sturdier: thin groups widened; the default) or 1 (the original 163 recordings)")] = 2,
) -> None:
    """Benchmark the pipeline vs the w/o-STC and text-only placement baselines on synthetic clips with exact truth;
    `foley eval realism` judges renders against real recordings (aiSFX embedding)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if what is not None:
        eval_realism(what, out, renders, run, generator, references, library, seed, judge_set)
        return
    if out is None:
        fail(FoleyError("foley eval needs --out DIR (or `foley eval realism`)"))
        return

    from foleydesigner.eval.harness import run_benchmark
    from foleydesigner.eval.report import markdown_table

    try:
        check_seed(seed)
        if not -70.0 <= target_lufs <= -5.0:
            raise FoleyError(f"--target-lufs {target_lufs} is outside [-70, -5] LUFS; broadcast uses -24 (A/85) or -23 (R128)")
        if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "report.json").exists())):
            raise FoleyError(f"--out {out} holds files that are not a previous `foley eval`; choose a new folder")
        command = f"foley eval{' --quick' if quick else ''} --out {out}" + (f" --seed {seed}" if seed else "") + \
            (f" --target-lufs {target_lufs:g}" if target_lufs != -24.0 else "") + (f" --library {library}" if library else "")
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=True) as prog:
            task = prog.add_task("eval")

            def on_clip(name: str, i: int, n: int) -> None:
                prog.update(task, description=f"clip {i + 1}/{n}: {name}")

            report = run_benchmark(out, quick=quick, seed=seed, target_lufs=target_lufs, command=command, on_clip=on_clip,
                                   library=library)
    except FoleyError as exc:
        fail(exc)
        return
    typer.echo(markdown_table(report))
    for name, ok in report["checks"].items():
        console.print(f"{'[green]pass' if ok else '[red]FAIL'}[/] {name}")
    Console().print(f"wrote {out}/report.json, report.md, plots/ in {report['elapsed_s']:.0f} s")




def eval_realism(what: str, out: Path | None, renders: Path | None, run: Path | None, generator: str,
                 references: Path | None, library: Path | None, seed: int, judge_set: int = 2) -> None:
    """`foley eval realism`: the judge's table for renders (or a run's stems); --out also writes realism.json."""
    import tempfile

    from foleydesigner.eval.realism import judge, renders_in, stems_in, table
    from foleydesigner.eval.realism_judge import check_judge_set, missing

    try:
        if what != "realism":
            raise FoleyError(f"foley eval {what}: unknown; the one named evaluation is `foley eval realism`")
        check_judge_set(judge_set, "--judge-set")  # before anything renders
        if why := missing():
            raise FoleyError(why)
        if out is not None and out.exists() and not out.is_dir():
            raise FoleyError(f"--out {out} is a file; give a folder")
        with tempfile.TemporaryDirectory() as tmp:
            if run is not None:
                items = stems_in(run)
            else:
                if renders is None:
                    from foleydesigner.generation.examples import render_classes

                    renders = Path(tmp)
                    with console.status(f"rendering every class with --generator {generator}"):
                        render_classes(renders, generator=generator, library=library, seed=seed)
                items = renders_in(renders)
            with console.status("judging (the first run fetches and embeds the real recordings)"):
                report = judge(items, references=references, judge_set=judge_set)
    except FoleyError as exc:
        fail(exc)
        return
    typer.echo(table(report))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "realism.json").write_text(json.dumps(report.as_dict(), indent=2))
        console.print(f"wrote {out}/realism.json")


def library_index(folder: Annotated[Path, typer.Argument(help="folder of WAV/FLAC/OGG/MP3 recordings")]) -> None:
    """Index (or re-index what changed in) a library folder: length, rate, level, onsets, one-shot or texture."""
    from foleydesigner.generation.library.index import SoundLibrary

    try:
        with console.status("indexing") as status:
            lib = SoundLibrary(folder, on_file=lambda rel, i, n: status.update(f"{i + 1}/{n} {rel}"))
    except FoleyError as exc:
        fail(exc)
        return
    kinds = {k: sum(r.kind == k for r in lib.recordings) for k in ("oneshot", "texture")}
    Console().print(f"{len(lib.recordings)} recordings ({kinds['oneshot']} one-shots, {kinds['texture']} textures); "
                    + ", ".join(f"{k} {v}" for k, v in lib.stats.items()) + f"; index {lib.db_path}")


def library_search(
    query: Annotated[str, typer.Argument(help="what to find, e.g. 'door creak'")],
    folder: Annotated[Path | None, typer.Option("--library", help="library folder (default: the bundled demo library)")] = None,
    limit: Annotated[int, typer.Option(help="results at most")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Rank a library's recordings against a text (BM25 over UCS names, folders, BWF descriptions, tags)."""
    from foleydesigner.generation.library.index import SoundLibrary

    try:
        lib = SoundLibrary(folder or demo_library())
    except FoleyError as exc:
        fail(exc)
        return
    hits = lib.search(query, k=limit)
    if as_json:
        typer.echo(json.dumps([{"file": m.recording.path, "score": m.score, "kind": m.recording.kind,
                                "duration_s": round(m.recording.duration_s, 3), "onsets_s": list(m.recording.onsets_s),
                                "cat_id": m.recording.cat_id} for m in hits], indent=2))
        return
    table = Table(title=f"{len(hits)} matches for '{query}' in {lib.root}")
    for col in ("score", "file", "kind", "length s", "hits"):
        table.add_column(col)
    for m in hits:
        table.add_row(f"{m.score:.2f}", m.recording.path, m.recording.kind, f"{m.recording.duration_s:.2f}",
                      str(len(m.recording.onsets_s)))
    Console().print(table)


def library_fetch(
    deb_dir: Annotated[Path | None, typer.Option(help="use the pinned .deb files in this folder instead of apt-get download")] = None,
) -> None:
    """Fetch the core library's free-licensed recordings (CC BY, CC BY-SA: not shipped) into the user cache:
    pinned Debian packages, checked by sha256; only the listed files are kept."""
    from foleydesigner.generation.library import core

    try:
        before = len(core.missing_fetched())
        if before == 0:
            Console().print(f"the core library is complete ({len(core.manifest())} recordings); nothing to fetch")
            return
        with console.status(f"fetching {before} recordings"):
            done = core.fetch(deb_dir=deb_dir)
    except FoleyError as exc:
        fail(exc)
        return
    left = core.missing_fetched()
    Console().print(", ".join(f"{pkg}: {n} files" for pkg, n in done.items()) + f" into {core.cache_dir()}"
                    + (f"; {len(left)} still missing" if left else "; the core library is complete"))


def dataset(
    out: Annotated[Path, typer.Option("--out", "-o", help="dataset folder (shards + manifest.json)")],
    items: Annotated[int, typer.Option(help="number of training items")] = 512,
    duration: Annotated[float, typer.Option(help="seconds per item")] = 3.0,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Make a FilmStereo-like synthetic set: procedural sources rendered along random trajectories, with captions."""
    from foleydesigner.generation.dit.data import make_dataset

    if not 1 <= items <= 1_000_000 or not 0 < duration <= 60:
        fail(FoleyError("--items must be between 1 and 1000000 and --duration in (0, 60] seconds"))
    try:
        check_seed(seed)
    except FoleyError as exc:
        fail(exc)
    console.print(f"wrote {make_dataset(out, n_items=items, duration_s=duration, seed=seed)}")


def train(
    data: Annotated[Path, typer.Option(help="dataset folder from `foley dataset`")],
    out: Annotated[Path, typer.Option("--out", "-o", help="checkpoint folder")],
    config: Annotated[str, typer.Option(help="model size: tiny, small or full")] = "small",
    steps: Annotated[int, typer.Option(help="optimiser steps")] = 2000,
    batch_size: Annotated[int, typer.Option(help="batch size (paper: 8)")] = 8,
    lr: Annotated[float, typer.Option(help="learning rate (paper: 3e-5)")] = 3e-5,
    no_clues: Annotated[bool, typer.Option("--no-clues", help="train the w/o-STC ablation")] = False,
    resume: Annotated[bool, typer.Option(help="continue from the checkpoint in --out")] = False,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available)")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Train the FoleyDiT (paper §3) with EMA, checkpoints and a loss log; bf16 on CUDA."""
    from foleydesigner.generation.dit.train import train as run_train

    if not (data / "manifest.json").is_file():
        fail(FoleyError(f"--data {data} has no manifest.json; make one with `foley dataset --out {data}`"))
    if steps < 1 or batch_size < 1 or not 0 < lr < 1:
        fail(FoleyError("--steps and --batch-size must be >= 1 and --lr in (0, 1)"))
    try:
        check_seed(seed)
        ckpt = run_train(config, data, out, steps=steps, batch_size=batch_size, lr=lr, resume=resume, device=device,
                         use_clues=not no_clues, seed=seed)
    except FoleyError as exc:
        fail(exc)
    except (ValueError, FileNotFoundError) as exc:
        fail(FoleyError(str(exc)))
    console.print(f"checkpoint: {ckpt}  (use: foley run CLIP --generator dit --dit-checkpoint {ckpt})")


def register(app: typer.Typer) -> None:
    """Add these commands to `app`, after the pipeline's own (the order `foley --help` lists them in)."""
    app.command()(backends)
    app.command()(sounds)
    app.command("eval")(eval_)
    library_app = typer.Typer(no_args_is_help=True, help="Index and search a sound-effects library (for --generator library); fetch the core library's free-licensed recordings.")
    library_app.command("index")(library_index)
    library_app.command("search")(library_search)
    library_app.command("fetch")(library_fetch)
    app.add_typer(library_app, name="library")
    app.command()(dataset)
    app.command()(train)
