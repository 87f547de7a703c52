"""`foley` command line: run, config and demo here; batch, trace, conform, report and graph in cli_runs.py; backends,
sounds, eval, library, dataset and train in cli_lab.py; the console and the error line in cli_shared.py."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperCommand

from foleydesigner import cli_lab, cli_runs
from foleydesigner.cli_shared import console, fail
from foleydesigner.demo import demo_clip, demo_library, demo_screenplay
from foleydesigner.errors import FoleyError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="FoleyDesigner: layered, placed, mixed Foley for video clips.")
STAGES = ("load_video", "decompose", "extract_clues", "generate_stem", "mix", "upmix", "export")


class _ConfiguredCommand(TyperCommand):
    """`foley run` reads foley.toml (or --config FILE) before its body: flags typed win, then the file, then defaults."""

    def invoke(self, ctx: typer.Context) -> object:
        from foleydesigner.config import apply_config

        try:
            apply_config(ctx, run)
        except FoleyError as exc:
            fail(exc)
        return super().invoke(ctx)


def _run(clip: Path, script: Path | None, out: Path, **kw: object) -> None:
    import time

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from foleydesigner.pipeline import run_foley

    seen: set[str] = set()
    t0 = time.perf_counter()
    # In a terminal a spinner; in a log, a CI job or a pipe, a plain line per stage as it finishes (a spinner
    # there prints nothing until the end).
    plain = not (console.is_terminal and sys.stdout.isatty())
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True,
                  disable=plain) as prog:
        task = prog.add_task("load_video", total=len(STAGES))

        def on_stage(node: str) -> None:
            if node not in seen and node in STAGES:
                seen.add(node)
                i = STAGES.index(node)
                prog.update(task, completed=i + 1, description=STAGES[i + 1] if i + 1 < len(STAGES) else "done")
                if plain:
                    console.print(f"{node} done ({time.perf_counter() - t0:.1f} s)", highlight=False, soft_wrap=True)

        if kw.get("review"):
            from foleydesigner.cli_review import reviewer

            kw["on_review"] = reviewer(console, prog.stop, prog.start)
        try:
            edits = kw.pop("edits", None)
            if edits is not None:  # a reviewer's edits of a finished run: nothing is decomposed again
                from foleydesigner.edit_run import run_edits

                state = run_edits(clip, out, edits, on_stage=on_stage, **kw)  # type: ignore[arg-type]
            else:
                state = run_foley(clip, out, screenplay_path=script, on_stage=on_stage, **kw)  # type: ignore[arg-type]
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (see main): the run has already removed its staging folder
            console.print(f"[bold red]interrupted:[/] nothing was written to {out}", soft_wrap=True, highlight=False)
            raise typer.Exit(code=130) from None
    _summary(state)


def _level(m: dict[str, float] | None) -> str:
    return f"{m['integrated_lufs']:.1f} LUFS, {m['true_peak_dbtp']:.1f} dBTP" if m else "not measured"


def _summary(state: dict) -> None:  # type: ignore[type-arg]
    run = state["run"]
    if state.get("resumed_after"):
        console.print(f"resumed an interrupted run: {', '.join(state['resumed_after'])} were not run again",
                      soft_wrap=True, highlight=False)
    for w in run["warnings"]:
        console.print(f"[yellow]warning:[/] {w}", soft_wrap=True, highlight=False)
    events = state["script"]["events"]
    table = Table(title=f"{len(events)} sound events", show_lines=False)
    table.add_column("id", no_wrap=True)  # ids name the stem files: never cut
    for col in ("layer", "start-end s", "hits", "track", "placement"):
        table.add_column(col, overflow="fold")
    for e in events:
        c = state["clues"][e["id"]]
        az = c["azimuth_deg"]
        table.add_row(e["id"], e["layer"], f"{e['start_s']:.2f}-{e['end_s']:.2f}", str(len(e["onsets_s"]) or ""),
                      "" if e["source_track"] is None else str(e["source_track"]),
                      f"{c['source']}: {az[0]:+.0f}° → {az[-1]:+.0f}°")
    out = Console(width=max(Console().width, 100))
    out.print(table)
    d = state["mix_plan"]["verification"].get("delivery", {})
    out.print(f"stereo: {_level(d.get('stereo'))} · 5.1: {_level(d.get('surround_5_1'))} · "
              f"in {run['timings_s']['total']:.1f} s", highlight=False)
    out.print(f"wrote {state['out_dir']}/ ({run['outputs']['video']}, mix_5_1.wav, mix_stereo.wav, stems/, …)",
              highlight=False, soft_wrap=True)
    if (Path(state["out_dir"]) / "report.html").is_file():
        out.print(f"see and hear it: {Path(state['out_dir']) / 'report.html'}", highlight=False, soft_wrap=True)


@app.command(cls=_ConfiguredCommand)
def run(
    ctx: typer.Context,
    clip: Annotated[Path, typer.Argument(help="video clip (mp4, mkv, mov, avi); its own audio, if any, is replaced "
                                         "unless --keep-original-audio")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output folder (must be new or empty)")] = None,
    script: Annotated[Path | None, typer.Option("--script", help="screenplay: plain text or Fountain")] = None,
    llm: Annotated[str, typer.Option(help="'heuristic' (offline) or provider:model, e.g. openai:gpt-4o-mini")] = "heuristic",
    llm_role: Annotated[list[str], typer.Option(help="per-role backend ROLE=provider:model[@URL] (scribe, validator, writer, scorer, planner, experts)")] = [],  # noqa: B006
    llm_base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL (vLLM, llama.cpp, LM Studio…), "
                                                     "for the roles on openai:MODEL; other providers take a URL per role")] = None,
    vision: Annotated[str, typer.Option(help="vision backend: opencv, transformers, vlm")] = "opencv",
    vision_model_dir: Annotated[Path | None, typer.Option(help="local folder with detector/ and depth/ models for --vision transformers")] = None,
    generator: Annotated[str, typer.Option(help="generator backend: hybrid (recordings, then synthesis), procedural, library, dit")] = "hybrid",
    dit_checkpoint: Annotated[Path | None, typer.Option(help="FoleyDiT checkpoint folder for --generator dit")] = None,
    library: Annotated[Path | None, typer.Option(help="sound-effects folder for --generator library (UCS names welcome)")] = None,
    binaural: Annotated[bool, typer.Option(help="render stems for headphones (spherical-head HRTF model)")] = False,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same sound")] = 0,
    target_lufs: Annotated[float | None, typer.Option(help="integrated loudness of the mixes, LUFS (overrides --loudness-preset)")] = None,
    loudness_preset: Annotated[str, typer.Option(help="atsc: ATSC A/85, -24 LUFS; ebu: EBU R128, -23 LUFS (true peak <= -2 dBTP either way)")] = "atsc",
    hfov: Annotated[float, typer.Option(help="camera horizontal field of view, degrees")] = 60.0,
    max_scribe_iters: Annotated[int, typer.Option(help="FilmScribe generate/validate rounds at most")] = 3,
    keep_original_audio: Annotated[bool, typer.Option(help="keep the clip's own audio as an extra track")] = False,
    stems: Annotated[str, typer.Option(help="full: every stem as long as the clip; trimmed: cut to where it sounds "
                                       "(its start in session.otio and the WAV's BWF time reference)")] = "full",
    stem_format: Annotated[str, typer.Option(help="wav (24-bit) or flac (lossless, about half the size)")] = "wav",
    language: Annotated[str, typer.Option(help="ISO 639-2 language of the delivered audio tracks, e.g. eng, fra")] = "und",
    window_s: Annotated[float, typer.Option(help="mix and deliver long clips in windows of this many seconds "
                                            "(memory grows with it, not with the clip)")] = 30.0,
    deliver: Annotated[str, typer.Option(help="formats: stereo,5.1 (always) plus foa (AmbiX), 7.1.4, binaural")] = "stereo,5.1",
    hrtf: Annotated[Path | None, typer.Option(help="AES69 .sofa HRIR set for --deliver binaural (default: the "
                                              "system's KEMAR if installed, else a spherical-head model)")] = None,
    force: Annotated[bool, typer.Option(help="replace a previous run in --out")] = False,
    resume: Annotated[bool, typer.Option(help="continue a run on --out that was killed (same clip, screenplay and "
                                         "options) from its last finished graph node")] = False,
    max_events: Annotated[int, typer.Option(help="most sound events (one stem each) a run may make")] = 256,
    min_confidence: Annotated[float, typer.Option(help="render only sounds whose visual evidence scores at least "
                                                       "this (0-1); weaker ones are kept in script.json's candidates")] = 0.55,
    max_screenplay_mb: Annotated[float, typer.Option(help="largest screenplay read, MB")] = 1.0,
    llm_scribe: Annotated[str | None, typer.Option(help="backend of the FilmScribe generator (default: --llm)")] = None,
    llm_validator: Annotated[str | None, typer.Option(help="backend of the FilmScribe validator")] = None,
    llm_writer: Annotated[str | None, typer.Option(help="backend of the FoleyScriptWriter and the ToT expansions")] = None,
    llm_scorer: Annotated[str | None, typer.Option(help="ToT judge, on top of the computed scores (heuristic: none)")] = None,
    llm_planner: Annotated[str | None, typer.Option(help="backend of the mixing planner")] = None,
    llm_vision: Annotated[bool, typer.Option(help="send keyframes as images even to models not known to see")] = False,
    fallback: Annotated[str | None, typer.Option(help="'heuristic': a failed LLM step uses the offline rules (warned)")] = None,
    tot_k: Annotated[int, typer.Option(help="ToT: candidate scripts per node")] = 3,
    tot_beam: Annotated[int, typer.Option(help="ToT: nodes kept per level (top-b)")] = 2,
    tot_tau: Annotated[float, typer.Option(help="ToT: stop when a script scores above this")] = 0.85,
    tot_depth: Annotated[int, typer.Option(help="ToT: levels of candidate scripts at most")] = 3,
    tot_weights: Annotated[str, typer.Option(help="ToT: w1,w2,w3 of w1·s_align + w2·s_layer + w3·s_emotion")] = "0.5,0.3,0.2",
    llm_timeout: Annotated[float | None, typer.Option(help="seconds an LLM request may take before it is retried "
                                                      "(default 120; a role's timeout_s in foley.toml wins)")] = None,
    config: Annotated[Path | None, typer.Option(help="run settings file (default: ./foley.toml when present; "
                                                "`foley config --init` writes one)")] = None,
    edits: Annotated[Path | None, typer.Option(help="apply a reviewer's edits.json (or an edited script.json) to a "
                                               "finished run: only changed stems are rendered again")] = None,
    from_run: Annotated[Path | None, typer.Option("--from", help="with --edits: the finished run they apply to "
                                                  "(default: the edits file's \"run\"; --resume: --out itself)")] = None,
    review: Annotated[bool, typer.Option(help="pause after the Foley script is written: accept it, or edit it "
                                         "(its script.json, $EDITOR) before anything is rendered")] = False,
) -> None:
    """Turn a clip into stems, a stereo and a 5.1 mix, and a video with both mixes."""
    try:
        if out is None:
            raise FoleyError("--out is required: give --out DIR (or out = \"DIR\" in foley.toml)")
        from foleydesigner.checks import check_run_options
        from foleydesigner.context import LOUDNESS_PRESETS

        if loudness_preset not in LOUDNESS_PRESETS:
            raise FoleyError(f"--loudness-preset {loudness_preset}: choose one of {', '.join(LOUDNESS_PRESETS)}")
        target_lufs = LOUDNESS_PRESETS[loudness_preset] if target_lufs is None else target_lufs
        # the same checks a `foley batch` manifest row gets (checks.py)
        check_run_options({"llm_timeout_s": llm_timeout, "seed": seed, "stems": stems, "stem_format": stem_format,
                           "language": language, "target_lufs": target_lufs, "hfov_deg": hfov,
                           "max_scribe_iters": max_scribe_iters, "window_s": window_s, "max_events": max_events,
                           "min_confidence": min_confidence, "max_screenplay_mb": max_screenplay_mb, "tot_k": tot_k,
                           "tot_beam": tot_beam, "tot_tau": tot_tau, "tot_depth": tot_depth, "tot_weights": tot_weights})
        from foleydesigner.agents.tot import tot_settings
        from foleydesigner.delivery import parse_deliver
        from foleydesigner.llm import parse_backend

        formats = parse_deliver(deliver)
        if hrtf is not None:
            if "binaural" not in formats:
                raise FoleyError(f"--hrtf {hrtf} is only used by the binaural format; add --deliver ...,binaural")
            from foleydesigner.tools.hrtf import load_sofa

            load_sofa(hrtf)  # a bad file fails here, before the long work

        from foleydesigner.config import run_roles

        parse_backend(llm)
        roles, endpoints = run_roles(ctx, llm, llm_role, {"scribe": llm_scribe, "validator": llm_validator,
                                                          "writer": llm_writer, "scorer": llm_scorer,
                                                          "planner": llm_planner}, llm_base_url)
        if fallback not in (None, "heuristic"):
            raise FoleyError(f"--fallback {fallback}: the only fallback is 'heuristic'")
        decomposition = {"llm_vision": llm_vision, "fallback": fallback,
                         **tot_settings(tot_k, tot_beam, tot_tau, tot_depth, tot_weights)}
        options = {k: str(v) for k, v in (("dit_checkpoint", dit_checkpoint), ("library", library)) if v}
        if binaural:
            options["binaural"] = True  # type: ignore[assignment]
        if from_run is not None and edits is None:
            raise FoleyError("--from names the run that --edits apply to; give --edits FILE too")
        if review and edits is not None:
            raise FoleyError("--review pauses before a script is rendered; --edits renders a finished run's edited "
                             "script: give one of them")
        extra: dict[str, object] = {}
        if edits is not None:  # a seed or generator neither typed nor in foley.toml: the source run's
            from foleydesigner.config import given

            loaded = ctx.meta.get("foley.config")
            inherit = tuple(k for k in ("seed", "generator") if not given(ctx, k) and k not in getattr(loaded, "values", {}))
            extra = {"edits": edits, "from_dir": from_run, "inherit": inherit}
        _run(clip, script, out, force=force, resume=resume, **extra, llm=llm, llm_roles=roles, llm_base_url=llm_base_url,
             llm_endpoints=endpoints, **({"llm_timeout_s": llm_timeout} if llm_timeout else {}),
             vision=vision, vision_model_dir=str(vision_model_dir) if vision_model_dir else None, generator=generator, generator_options=options, seed=seed, target_lufs=target_lufs,
             hfov_deg=hfov, max_scribe_iters=max_scribe_iters, keep_original_audio=keep_original_audio, language=language,
             stems=stems, stem_format=stem_format, window_s=window_s, max_events=max_events,
             max_screenplay_bytes=int(max_screenplay_mb * 1e6), min_confidence=min_confidence,
             deliver=formats, hrtf=str(hrtf) if hrtf else None, **decomposition, **({"review": True} if review else {}))
    except FoleyError as exc:
        from foleydesigner.config import blame

        fail(blame(exc, ctx))


@app.command("config")
def config_(
    show: Annotated[bool, typer.Option("--show", help="print the settings a `foley run` here would use")] = False,
    init: Annotated[bool, typer.Option("--init", help="write a commented foley.toml (never over an existing file)")] = False,
    file: Annotated[Path | None, typer.Option("--config", help="the settings file (default: ./foley.toml)")] = None,
) -> None:
    """The run settings file: `--init` writes a commented one, `--show` prints the effective settings."""
    from foleydesigner import config as C

    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    defaults = {p.name: p.default for p in command.params}
    try:
        if init == show:
            raise FoleyError("give one of --init (write a commented foley.toml) or --show (print the effective settings)")
        if init:
            target = file or Path(C.CONFIG_NAME)
            if target.exists():
                raise FoleyError(f"{target} exists; it is never overwritten (edit it, or give --config NEW_FILE)")
            helps = {p.name: getattr(p, "help", "") or "" for p in command.params}
            target.write_text(C.template(run, helps, defaults), encoding="utf-8")
            console.print(f"wrote {target}: uncomment what you change; `foley config --show` prints the result")
            return
        typer.echo(C.show(run, defaults, C.load_config(C.find_config(file), run)), nl=False)
    except FoleyError as exc:
        fail(exc)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")] = Path("foley_demo"),
    force: Annotated[bool, typer.Option(help="replace a previous demo run in --out")] = True,
    generator: Annotated[str, typer.Option(help="hybrid (default), procedural, or library (the bundled CC0 demo library unless --library)")] = "hybrid",
    library: Annotated[Path | None, typer.Option(help="sound-effects folder for --generator library")] = None,
) -> None:
    """Run the offline pipeline on the bundled 10 s pedestrian clip and its screenplay."""
    try:
        options = {"library": str(library or demo_library())} if generator == "library" else {}
        _run(demo_clip(), demo_screenplay(), out, force=force, generator=generator, generator_options=options)
    except FoleyError as exc:
        fail(exc)


cli_runs.register(app, run)
cli_lab.register(app)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (kill, `timeout`, a job scheduler) cleans up exactly like Ctrl-C


def main() -> None:
    try:  # typer ≥ 0.2x carries its own copy of click
        from typer._click.exceptions import ClickException, NoArgsIsHelpError
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click.exceptions import ClickException, NoArgsIsHelpError  # type: ignore[assignment]

    signal.signal(signal.SIGTERM, _terminate)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from foleydesigner.redaction import ScrubFilter

    for handler in logging.getLogger().handlers:
        handler.addFilter(ScrubFilter())  # a log line is scrubbed like a file
    # a grounding problem becomes a run warning, which the run's summary prints (short; in full in the trace):
    # its log line would print it a second time, at full length
    logging.getLogger("foleydesigner.agents.grounding").setLevel(logging.ERROR)
    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:  # bare `foley`: the help, as before
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        code = 0
    except ClickException as exc:  # a flag's value has the wrong type, a missing argument: one line too
        hint = f" (see `{exc.ctx.command_path} --help`)" if getattr(exc, "ctx", None) else ""
        console.print(f"[bold red]error:[/] {exc.format_message()}{hint}", soft_wrap=True, highlight=False)
        code = 2
    except (typer.Abort, KeyboardInterrupt):
        console.print("[bold red]interrupted[/]", highlight=False)
        code = 130
    except FoleyError as exc:  # pragma: no cover - commands catch their own
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        code = 2
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
