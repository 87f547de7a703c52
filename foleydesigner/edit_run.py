"""`foley run CLIP --out DIR2 --edits edits.json`: apply a reviewer's edits to a finished run.

The source run is `--from DIR`, else the edits file's "run", else (with `--resume`) --out itself, edited in place.
Nothing is decomposed again: the source's script and clues are edited, only the stems whose sound changed are
rendered, the rest are copied; then the run is mixed, upmixed and delivered as usual and published atomically
(publish.py), so a bad edit or a failure leaves --out as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foleydesigner import limits
from foleydesigner.context import RunContext
from foleydesigner.edits import apply_edits, read_edits, render_changed
from foleydesigner.errors import InputError
from foleydesigner.publish import FILES_KEY, OutLock, make_staging, publish, remove_stale, run_files, snapshot
from foleydesigner.reuse import reusable_stem
from foleydesigner.schemas import CluesFile, EventClues, FoleyScript, VideoInfo
from foleydesigner.script_diff import normalised
from foleydesigner.tools.export import atomic_write_json
from foleydesigner.tools.video import probe_video

log = logging.getLogger(__name__)


def find_source(edits_path: Path, named: str | None, from_dir: str | Path | None, out: Path, resume: bool) -> Path:
    """The run the edits apply to: --from, else the file's "run" (a path or a file:// URL; relative: to the
    current folder, then to the edits file's), else --out itself with --resume."""
    if from_dir is not None:
        return Path(from_dir).resolve()
    if named:
        if named.startswith("file://"):  # a page's own location, as a browser gives it
            from urllib.parse import unquote, urlparse

            named = unquote(urlparse(named).path)
        p = Path(named).expanduser()
        if p.is_absolute():
            return p.resolve()
        for base in (Path.cwd(), edits_path.resolve().parent):
            if (base / p / "run.json").is_file():
                return (base / p).resolve()
        return (Path.cwd() / p).resolve()
    if resume:
        return out
    raise InputError("--edits: name the run they apply to: --from DIR, \"run\" in the edits file, or --resume to "
                     "edit --out in place")


def load_source(source: Path) -> tuple[dict[str, Any], FoleyScript, dict[str, EventClues], list[dict[str, Any]]]:
    """A finished run's run.json, script and clues (one InputError naming the file when one is missing or bad)."""
    if not (source / "run.json").is_file():
        raise InputError(f"source run {source} is not a FoleyDesigner run (no run.json); give the --out folder of "
                         "a finished `foley run`")
    try:
        run = json.loads((source / "run.json").read_text(encoding="utf-8"))
        script = FoleyScript.model_validate_json((source / "script.json").read_bytes())
        clues_file = CluesFile.model_validate_json((source / "clues.json").read_bytes())
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"source run {source}: cannot read its run.json, script.json and clues.json ({first})") from None
    clues = {c.event_id: c for c in clues_file.events}
    if any(e.id not in clues for e in script.events):
        raise InputError(f"source run {source}: clues.json lacks events of script.json; the run is damaged")
    return run, script, clues, [s.model_dump(mode="json") for s in clues_file.shots]


def _same_clip(video: VideoInfo, run: dict[str, Any], source: Path) -> None:
    was = run.get("video") or {}
    if was.get("n_frames") != video.n_frames or abs(float(was.get("fps", 0)) - video.fps) > 1e-3:
        raise InputError(f"the clip ({video.n_frames} frames at {video.fps:g} fps) is not the one source run {source} "
                         f"was made from ({was.get('n_frames')} frames at {was.get('fps')} fps)")


def plan_edits(video_path: str | Path, edits_path: str | Path, out: Path, *, from_dir: str | Path | None,
               resume: bool, options: dict[str, Any], inherit: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read and check everything before a folder is made: the edits, the source run, the clip; the edited
    script and clues; which stems are rendered again and why. `inherit`: settings (seed, generator) the user
    left unset, taken from the source run so a re-rendered stem sounds like its neighbours."""
    edits_path = Path(edits_path)
    edits = read_edits(edits_path)
    named = getattr(edits, "run", None)
    source = find_source(edits_path, named, from_dir, out, resume)
    run, script, clues, shots = load_source(source)
    video = probe_video(video_path)
    _same_clip(video, run, source)
    try:
        ops = normalised(edits, script)
        new_script, new_clues, applied = apply_edits(script, clues, ops, video)
    except InputError as exc:
        raise InputError(f"--edits {edits_path}: {exc}") from None
    was = {"generator": (run.get("backends") or {}).get("generator"), "seed": run.get("seed")}
    options = {**options, **{k: was[k] for k in inherit if was.get(k) is not None}}
    limits.check_event_count(len(new_script.events), int(options.get("max_events", limits.MAX_EVENTS)))
    old = {e.id: e for e in script.events}
    rerender: dict[str, str] = {}
    for ev in new_script.events:
        why = render_changed(old.get(ev.id), ev, clues.get(ev.id), new_clues.get(ev.id))
        if why is None and reusable_stem(source, ev.id, script.duration_s) is None:
            why = "the source's stem is not a full-length WAV (--stems trimmed or --stem-format flac)"
        if why:
            rerender[ev.id] = why
    warnings = []
    ctx = RunContext(work_dir=out, trace="", **options)
    now = {"generator": ctx.generator, "seed": ctx.seed}
    if rerender and was != now:
        warnings.append(f"the stems rendered again used --generator {now['generator']} --seed {now['seed']}; the source "
                        f"run used --generator {was['generator']} --seed {was['seed']}")
    history = [*script.edits, *applied]
    return {"source": source, "video": video, "script": new_script.model_copy(update={"edits": history}),
            "clues": new_clues, "shots": shots, "applied": applied, "rerender": rerender, "warnings": warnings,
            "options": options,
            "removed": [e.id for e in script.events if e.id not in {x.id for x in new_script.events}],
            "restored": [e.id for e in new_script.events if e.id not in old]}


def run_edits(video_path: str | Path, out_dir: str | Path, edits_path: str | Path, *, from_dir: str | Path | None = None,
              force: bool = False, resume: bool = False, on_stage: Callable[[str], None] | None = None,
              inherit: tuple[str, ...] = (), **options: Any) -> dict[str, Any]:
    """Apply an edits file to a finished run into --out; returns the final state (with 'run' = RunInfo dump).

    inherit: the settings to take from the source run rather than from options (the CLI: seed and generator
    when neither the command line nor foley.toml sets them)."""
    from foleydesigner.pipeline import check_out_dir

    t_start = time.perf_counter()
    out = Path(out_dir).resolve()
    plan = plan_edits(video_path, edits_path, out, from_dir=from_dir, resume=resume, options=options, inherit=inherit)
    in_place = plan["source"] == out
    if not in_place:
        check_out_dir(out, force=force)
    elif out in Path(edits_path).resolve().parents:
        raise InputError(f"--edits {edits_path} is inside --out {out}, which an edit in place replaces; move it out first")
    n = len(plan["rerender"]) + len(plan["script"].events)
    limits.check_disk(out.parent, limits.estimate_bytes(n, plan["video"].duration_s,
                                                        video_bytes=Path(video_path).stat().st_size))
    out.parent.mkdir(parents=True, exist_ok=True)
    with OutLock(out):
        if not in_place:
            check_out_dir(out, force=force)
        remove_stale(out)
        before = snapshot(out)
        staging = make_staging(out)
        try:
            state = _run_in(staging, video_path, plan, plan["options"], on_stage, t_start)
            publish(staging, out, before)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    state["out_dir"] = str(out)
    return state


def _run_in(staging: Path, video_path: str | Path, plan: dict[str, Any], options: dict[str, Any],
            on_stage: Callable[[str], None] | None, t_start: float) -> dict[str, Any]:
    from foleydesigner.graphs.edits import build_edits_graph
    from foleydesigner.pipeline import run_info
    from foleydesigner.report import write_report_safe
    from foleydesigner.runkey import run_key

    ctx = RunContext(work_dir=staging, **options)
    if plan["rerender"]:
        from foleydesigner.generation.registry import make_generator

        make_generator(ctx.generator, **dict(ctx.generator_options))  # fails before any work
    for rec in plan["applied"]:  # one trace row per op: what the reviewer asked, what it did
        ctx.tracer.write({"node": f"edits[{rec['index']}]", "kind": "edit", "backend": "review", "parsed": rec,
                          "decision": rec["done"]})
    inputs = {"video_path": str(Path(video_path).resolve()), "work_dir": str(staging),
              "video": plan["video"].model_dump(), "script": plan["script"].model_dump(mode="json"),
              "clues": {k: v.model_dump() for k, v in plan["clues"].items()}, "shots": plan["shots"],
              "source_dir": str(plan["source"]), "rerender": plan["rerender"], "warnings": list(plan["warnings"])}
    state: dict[str, Any] = {}
    for mode, chunk in build_edits_graph().stream(inputs, context=ctx, stream_mode=["updates", "values"]):
        if mode == "values":
            state = dict(chunk)
        elif on_stage:
            for node in chunk:
                on_stage(node)
    info = run_info(ctx, state, plan["video"], t_start)
    blob = json.dumps([r for r in plan["applied"]], sort_keys=True).encode()
    info.key = {**run_key(video_path, None, options), "edits_hash": hashlib.sha256(blob).hexdigest()[:32]}
    info.edits = {"source_run": str(plan["source"]), "ops": plan["applied"], "rerendered": plan["rerender"],
                  "reused": sorted(e.id for e in plan["script"].events if e.id not in plan["rerender"]),
                  "removed": plan["removed"], "restored": plan["restored"]}
    atomic_write_json(staging / "run.json", info)
    write_report_safe(staging)  # before the scratch folder goes: the report reuses the mixer's strips
    shutil.rmtree(staging / ".internal", ignore_errors=True)
    setattr(info, FILES_KEY, run_files(staging))  # what a later --force may replace, as for any run
    atomic_write_json(staging / "run.json", info)
    state["run"] = info.model_dump(mode="json")
    return state
