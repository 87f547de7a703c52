"""What a subgraph needs to run on its own (LangGraph's dev server and Studio, scripts, tests).

In the pipeline every subgraph gets its inputs from the stage before it. Started on its own, FilmScribe and the
decomposition get only a clip path, and the mixer only a script: these nodes supply the rest the way the pipeline
would (watch the clip; lay out each event's clues and render its stem). In the pipeline they are never reached.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from foleydesigner import stages
from foleydesigner.context import RunContext
from foleydesigner.demo import demo_clip
from foleydesigner.schemas import FoleyScript, VideoInfo
from foleydesigner.tools import catalog

#: The frame grid clues are laid on when the mixer runs from a script alone (no clip): 25 fps, HD width.
SCRIPT_FPS, SCRIPT_WIDTH, SCRIPT_HEIGHT = 25.0, 1920, 1080


#: The mixer's smallest useful input: three seconds of footsteps off to the left over an air bed.
DEMO_MIX_SCRIPT: dict[str, Any] = {
    "duration_s": 3.0, "scene": {"location": "outdoor", "time_of_day": "day", "description": "campus"},
    "events": [{"id": "steps", "label": "footsteps", "layer": "fg", "start_s": 0.2, "end_s": 2.8,
                "onsets_s": [0.3, 0.8, 1.3, 1.8, 2.3], "azimuth_deg": -20.0, "depth_m": 3.0},
               {"id": "air", "label": "wind", "layer": "bg", "start_s": 0.0, "end_s": 3.0, "intensity": 0.4}]}


def example_inputs(clip: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The documented minimal input of every graph in langgraph.json (README, "LangGraph Studio"), as JSON."""
    path = str(Path(clip).resolve()) if clip else str(demo_clip())
    return {"foley": {"video_path": path}, "decomposition": {"video_path": path}, "filmscribe": {"video_path": path},
            "mixing": {"script": DEMO_MIX_SCRIPT}}


def route_watch(state: dict[str, Any]) -> Literal["watch", "generate"]:
    """FilmScribe starts writing when the clip was watched before it (the pipeline), else watches it first."""
    return "generate" if state.get("video") else "watch"


def route_render(state: dict[str, Any]) -> Literal["render", "load"]:
    """The mixer mixes the stems it was given, else renders the script's first."""
    return "load" if state.get("stems") or state.get("audio") else "render"


def watch_clip(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """The pipeline's first stage (probe, shots, tracks), plus the folder this run writes into."""
    return {**stages.load_video(state, runtime), "work_dir": str(runtime.context.work_dir)}


def _grid(duration_s: float) -> VideoInfo:
    """A picture-less frame grid for a script's clues: what the clip's VideoInfo gives in the pipeline."""
    n = max(1, round(duration_s * SCRIPT_FPS))
    return VideoInfo(path="", width=SCRIPT_WIDTH, height=SCRIPT_HEIGHT, fps=SCRIPT_FPS, n_frames=n,
                     duration_s=duration_s, codec="none", container="none")


def render_script(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """The mixer on its own: each event of the script gets its clues (its track's, given ones, or the fixed
    azimuth/depth the event carries) and its stem from the run's generator, into work_dir/stems/, as stage ②."""
    ctx: RunContext = runtime.context
    t0 = time.perf_counter()
    script = FoleyScript.model_validate(state["script"])
    video = state.get("video") or _grid(script.duration_s).model_dump()
    clues = dict(state.get("clues") or {})
    for ev in script.events:
        if ev.id not in clues:
            clues[ev.id] = ctx.tracer.call_tool("render_script", catalog.extract_event_clues,
                                                {"event": ev.model_dump(mode="json"), "tracks": state.get("tracks", []),
                                                 "video": video, "hfov_deg": ctx.hfov_deg})
    stems, warnings = [], []
    for ev in script.events:
        task = {"event": ev.model_dump(mode="json"), "clues": clues[ev.id], "duration_s": script.duration_s,
                "scene": script.scene.model_dump(mode="json")}
        out = stages.generate_stem(task, runtime)
        stems += out["stems"]
        warnings += out["warnings"]
    return {"script": script.model_dump(mode="json"), "clues": clues, "stems": stems, "work_dir": str(ctx.work_dir),
            "warnings": warnings, "timings": {"render_script": time.perf_counter() - t0}}
