"""FoleyScriptWriter node: the writer model's layered script, grounded against the measured facts, or the offline
rules' (`script_writer.heuristic_write`) when the writer is `heuristic` or fails under `--fallback heuristic`.

This module sits above both `script_writer` (the rules and the script vocabulary) and `grounding` (which checks a
model's answer against them), so neither has to import the other.
"""

from __future__ import annotations

from typing import Any

from foleydesigner.agents import grounding
from foleydesigner.agents.evidence import describe_track_tool, track_summary
from foleydesigner.agents.script_writer import fit_to_clip, gate, heuristic_write
from foleydesigner.context import RunContext
from foleydesigner.lexicon import ENTRIES
from foleydesigner.llm import with_fallback
from foleydesigner.prompts import script_writer as P
from foleydesigner.schemas import FoleyScript, SceneScript, Track, VideoInfo
from foleydesigner.tools.screenplay import spot_screenplay


def _llm_write(ctx: RunContext, video: VideoInfo, scene_script: SceneScript, tracks: list[Track],
               screenplay: str | None) -> tuple[FoleyScript, list[str]]:
    """The writer model's script, made playable and gated, and checked against the measured facts (one re-ask
    with them); what still contradicts them comes back as a warning."""
    from langchain_core.messages import HumanMessage, SystemMessage

    classes = ", ".join(sorted(e.name for e in ENTRIES))
    user = P.WRITER_USER.format(duration_s=video.duration_s, scene_script=scene_script.model_dump_json(indent=1),
                                track_summary=track_summary(tracks), screenplay=screenplay or "")
    tools = [spot_screenplay, describe_track_tool(tracks)]

    def playable(script: FoleyScript) -> FoleyScript:
        return gate(fit_to_clip(script, video.duration_s, {t.id for t in tracks})[0], tracks, ctx.min_confidence)

    ground = grounding.Ground.of(video, tracks, screenplay, scene_script.scene, ctx.min_confidence)
    script, problems = grounding.grounded_ask(ctx, "writer", "script_writer",
                                    [SystemMessage(P.WRITER_SYSTEM.format(classes=classes)), HumanMessage(user)],
                                    FoleyScript, lambda s: ground.script_violations(playable(s)), ground, tools=tools)
    return playable(script), [grounding.grounding_warning("script_writer", ctx.llm_for("writer"), problems)] if problems else []


def write_script(ctx: RunContext, video: VideoInfo, scene_script: SceneScript, tracks: list[Track],
                 screenplay: str | None) -> tuple[FoleyScript, list[str]]:
    (script, grounding), warnings = with_fallback(
        ctx, "writer", "script_writer", lambda: _llm_write(ctx, video, scene_script, tracks, screenplay),
        lambda: (heuristic_write(video, scene_script, tracks, screenplay, ctx.min_confidence), []))
    return script, warnings + grounding


def write_foley_script(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """FoleyScriptWriter node: merge the screenplay and the validated scene script into the layered script."""
    ctx: RunContext = runtime.context
    video = VideoInfo.model_validate(state["video"])
    tracks = [Track.model_validate(t) for t in state.get("tracks", [])]
    scene_script = SceneScript.model_validate(state["scene_script"])
    with ctx.tracer.span("script_writer", "agent", backend=ctx.llm_for("writer"), inputs=state["scene_script"]) as rec:
        script, warnings = write_script(ctx, video, scene_script, tracks, state.get("screenplay"))
        rec["parsed"] = script
        rec["decision"] = {"fg": sum(e.layer == "fg" for e in script.events), "bg": sum(e.layer == "bg" for e in script.events),
                           "held_below_confidence": [f"{e.id} ({e.confidence:.2f})" for e in script.candidates]}
    return {"script": script.model_dump(), "warnings": warnings}
