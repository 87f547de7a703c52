"""FilmScribe (paper §1): a generator writes the scene script T, a validator checks it against the evidence.

T(k+1) = Generator(V, Feedback(T(k), V)) until the validator accepts or the iteration budget is spent.
The heuristic backend reads the motion tracks (and the keyframes' brightness); an LLM backend gets the same
evidence as text, can call describe_track, and a vision model also sees keyframes as images.
"""

from __future__ import annotations

from typing import Any

from foleydesigner.agents.evidence import (
    describe_track_tool,
    lasts,
    sound_for_track,
    track_path,
    track_summary,
)
from foleydesigner.agents.grounding import Ground, grounded_ask, grounding_warning
from foleydesigner.context import RunContext
from foleydesigner.lexicon import find_surface
from foleydesigner.llm import ask, image_block, wants_images, with_fallback
from foleydesigner.prompts import filmscribe as P
from foleydesigner.schemas import (
    SceneContext,
    SceneEntity,
    SceneScript,
    ScribeFeedback,
    Shot,
    Track,
    VideoInfo,
)
from foleydesigner.tools.keyframes import keyframe_times, keyframes
from foleydesigner.tools.screenplay import parse_screenplay

#: The first draft describes the main action: tracks at least this long. The validator then asks for the rest.
SALIENT_TRACK_S = 1.0
#: Tracks the validator insists on: anything moving for at least this long could make a sound.
REQUIRED_TRACK_S = 0.5
N_KEYFRAMES = 4

_ACTIONS = {"walking": "walks", "bouncing": "bounces", "moving": "moves", "static": "stands"}
_MATERIALS = {"vehicle": "metal", "ball": "rubber"}


#: A vehicle that drives through a still shot with this confidence makes an unknown place a street.
STREET_VEHICLE_CONFIDENCE = 0.8


def _scene_from(screenplay: str | None, picture: SceneContext | None, tracks: list[Track] = ()) -> SceneContext:  # type: ignore[assignment]
    """The screenplay's heading is a hard fact; what it leaves open (no INT./EXT., no DAY/NIGHT) the picture
    fills when it was clear (tools/picture.py). A track decides only an unknown place, and only a vehicle whose
    evidence is beyond doubt (size, shape, crossing the frame in a still shot): then it is a street."""
    seen = picture or SceneContext()
    if seen.location == "unknown":
        cars = [t for t in tracks if t.label == "vehicle" and t.motion == "moving"
                and (snd := sound_for_track(t, SceneContext(location="outdoor"))) is not None
                and snd.confidence >= STREET_VEHICLE_CONFIDENCE]
        if cars:
            reason = f"a vehicle drives through the frame (track {cars[0].id}, {cars[0].start_s:.1f} s)"
            seen = SceneContext(description="street", location="outdoor", room_size="open",
                                evidence={**seen.evidence, "reason": reason})
    if not screenplay:
        return seen
    scene = parse_screenplay(screenplay).scene
    upd: dict[str, Any] = {}
    if scene.location == "unknown" and seen.location != "unknown":
        upd.update(location=seen.location, room_size=seen.room_size)
    if scene.time_of_day == "unknown" and seen.time_of_day != "unknown":
        upd["time_of_day"] = seen.time_of_day
    if upd:
        upd["evidence"] = {**seen.evidence, "filled_from_picture": sorted(upd)}
    return scene.model_copy(update=upd)


def picture_summary(picture: SceneContext | None, shots: list[Shot]) -> str:
    """The picture facts as prompt text: shots with their camera, and the place the image statistics show."""
    lines = [f"shot {s.index}: {s.start_s:.2f}-{s.end_s:.2f} s, begins with a {s.transition}, camera {s.camera}"
             for s in shots]
    if picture is not None:
        lines.append(f"place from the picture: {picture.location}, {picture.time_of_day} "
                     f"({picture.evidence.get('reason', 'no reason')})")
    return "\n".join(lines)


def _entity(track: Track, scene: SceneContext) -> SceneEntity:
    side = track_path(track)
    surface = scene.surfaces[0] if scene.surfaces else ("concrete" if scene.location == "outdoor" else "wood")
    sound = sound_for_track(track, scene)
    return SceneEntity(
        name=f"{track.label} {track.id}", action=_ACTIONS[track.motion], start_s=round(track.start_s, 3),
        end_s=round(track.end_s, 3), track_id=track.id, screen_side="moves" if "->" in side else side,  # type: ignore[arg-type]
        surface=surface if track.motion == "walking" or track.label == "person" else None,
        material=_MATERIALS.get(track.label), action_times_s=list(sound.onsets_s) if sound else list(track.onsets_s),
    )


def heuristic_scribe(video: VideoInfo, tracks: list[Track], screenplay: str | None,
                     feedback: ScribeFeedback | None, picture: SceneContext | None = None) -> SceneScript:
    scene = _scene_from(screenplay, picture, tracks)
    wanted = {t.id for t in tracks if lasts(t, SALIENT_TRACK_S)}
    if feedback is not None:
        wanted |= set(feedback.missing_track_ids)
    entities = [_entity(t, scene) for t in tracks if t.id in wanted]
    walkers = sum(e.action == "walks" for e in entities)
    summary = (f"{len(entities)} moving entities ({walkers} walking) in a {scene.location} "
               f"{scene.description or 'scene'}, {scene.time_of_day}, {video.duration_s:.1f} s.")
    if screenplay and (surface := find_surface(screenplay)):
        summary += f" Ground: {surface}."
    return SceneScript(summary=summary, scene=scene, entities=entities)


def heuristic_validate(script: SceneScript, tracks: list[Track], video: VideoInfo) -> ScribeFeedback:
    issues: list[str] = []
    by_track = {e.track_id: e for e in script.entities if e.track_id is not None}
    missing = [t.id for t in tracks if t.end_s - t.start_s >= REQUIRED_TRACK_S and t.id not in by_track]
    for tid in missing:
        issues.append(f"track {tid} moves for at least {REQUIRED_TRACK_S} s but is not described")
    spans = {t.id: (t.start_s, t.end_s) for t in tracks}
    for e in script.entities:
        if e.end_s > video.duration_s + 1e-3 or e.start_s > e.end_s:
            issues.append(f"{e.name}: time span {e.start_s}-{e.end_s} s is outside the {video.duration_s:.2f} s clip")
        if e.track_id is not None:
            if e.track_id not in spans:
                issues.append(f"{e.name}: track {e.track_id} does not exist")
                continue
            a, b = spans[e.track_id]
            inter = max(0.0, min(b, e.end_s) - max(a, e.start_s))
            union = max(b, e.end_s) - min(a, e.start_s)
            if union > 0 and inter / union < 0.5:
                issues.append(f"{e.name}: {e.start_s}-{e.end_s} s does not match track {e.track_id} ({a:.2f}-{b:.2f} s)")
    return ScribeFeedback(valid=not issues, issues=issues, missing_track_ids=missing)


def _human(ctx: RunContext, role: str, video: VideoInfo, text_template: str, **fields: Any) -> Any:
    """The user message: text, plus keyframes as images when the role's model can see (or --llm-vision)."""
    from langchain_core.messages import HumanMessage

    frames = keyframes(video.path, keyframe_times(video.duration_s, N_KEYFRAMES)) if wants_images(ctx, role) else []
    note = P.KEYFRAME_NOTE.format(times=", ".join(f"{k.t_s:.2f}" for k in frames)) if frames else ""
    text = text_template.format(keyframe_note=note, **fields)
    if not frames:
        return HumanMessage(text)
    return HumanMessage([{"type": "text", "text": text}, *(image_block(k.jpeg_b64) for k in frames)])


def _llm_scribe(ctx: RunContext, video: VideoInfo, tracks: list[Track], screenplay: str | None,
                feedback: ScribeFeedback | None, picture: SceneContext | None, shots: list[Shot]) -> tuple[SceneScript, list[str]]:
    """The scribe model's scene script, checked against the screenplay's heading (one re-ask with the facts)."""
    from langchain_core.messages import SystemMessage

    evidence = track_summary(tracks) + "\n" + picture_summary(picture, shots)
    user = _human(ctx, "scribe", video, P.SCRIBE_USER, duration_s=video.duration_s, width=video.width,
                  height=video.height, fps=video.fps, track_summary=evidence, screenplay=screenplay or "",
                  feedback="\n".join(feedback.issues) if feedback else "")
    ground = Ground.of(video, tracks, screenplay, picture or SceneContext(), ctx.min_confidence)
    script, problems = grounded_ask(ctx, "scribe", "filmscribe.generate", [SystemMessage(P.SCRIBE_SYSTEM), user],
                                    SceneScript, ground.scene_script_violations, ground, tools=[describe_track_tool(tracks)])
    return script, [grounding_warning("filmscribe.generate", ctx.llm_for("scribe"), problems)] if problems else []


def _llm_validate(ctx: RunContext, script: SceneScript, tracks: list[Track], video: VideoInfo) -> ScribeFeedback:
    from langchain_core.messages import SystemMessage

    user = _human(ctx, "validator", video, P.VALIDATOR_USER, track_summary=track_summary(tracks),
                  scene_script=script.model_dump_json(indent=1))
    return ask(ctx, "validator", "filmscribe.validate", [SystemMessage(P.VALIDATOR_SYSTEM), user], ScribeFeedback)


def scribe(ctx: RunContext, video: VideoInfo, tracks: list[Track], screenplay: str | None,
           feedback: ScribeFeedback | None, picture: SceneContext | None = None,
           shots: list[Shot] | None = None) -> tuple[SceneScript, list[str]]:
    (script, grounding), warnings = with_fallback(
        ctx, "scribe", "filmscribe.generate",
        lambda: _llm_scribe(ctx, video, tracks, screenplay, feedback, picture, shots or []),
        lambda: (heuristic_scribe(video, tracks, screenplay, feedback, picture), []))
    return script, warnings + grounding


def validate(ctx: RunContext, script: SceneScript, tracks: list[Track], video: VideoInfo) -> tuple[ScribeFeedback, list[str]]:
    # The measurable checks always run: an LLM validator may add issues but cannot wave through a missing track.
    measured = heuristic_validate(script, tracks, video)
    opinion, warnings = with_fallback(ctx, "validator", "filmscribe.validate",
                                      lambda: _llm_validate(ctx, script, tracks, video), lambda: measured)
    missing = sorted(set(measured.missing_track_ids) | set(opinion.missing_track_ids))
    issues = measured.issues + [i for i in opinion.issues if i not in measured.issues]
    return ScribeFeedback(valid=measured.valid and opinion.valid, issues=issues, missing_track_ids=missing), warnings


def decision(script: SceneScript) -> dict[str, Any]:
    return {"entities": len(script.entities), "location": script.scene.location,
            "time_of_day": script.scene.time_of_day, "mood": script.scene.mood}


# --- graph nodes -------------------------------------------------------------------------------------------

def generate_scene_script(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """FilmScribe generator node: T(k+1) = Generator(V, Feedback(T(k), V))."""
    ctx: RunContext = runtime.context
    video = VideoInfo.model_validate(state["video"])
    tracks = [Track.model_validate(t) for t in state.get("tracks", [])]
    fb = ScribeFeedback.model_validate(state["scribe_feedback"]) if state.get("scribe_feedback") else None
    k = int(state.get("scribe_iterations", 0))
    with ctx.tracer.span("filmscribe.generate", "agent", backend=ctx.llm_for("scribe"), inputs=[k, fb], iteration=k) as rec:
        picture = SceneContext.model_validate(state["picture"]) if state.get("picture") else None
        shots = [Shot.model_validate(s) for s in state.get("shots", [])]
        script, warnings = scribe(ctx, video, tracks, state.get("screenplay"), fb, picture, shots)
        rec["parsed"] = script
        rec["decision"] = decision(script)
    return {"scene_script": script.model_dump(), "scribe_iterations": k + 1, "warnings": warnings}


def validate_scene_script(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    ctx: RunContext = runtime.context
    video = VideoInfo.model_validate(state["video"])
    tracks = [Track.model_validate(t) for t in state.get("tracks", [])]
    script = SceneScript.model_validate(state["scene_script"])
    k = int(state.get("scribe_iterations", 0))
    with ctx.tracer.span("filmscribe.validate", "agent", backend=ctx.llm_for("validator"), inputs=state["scene_script"],
                         iteration=k - 1) as rec:
        fb, warnings = validate(ctx, script, tracks, video)
        rec["parsed"] = fb
        rec["decision"] = "valid" if fb.valid else f"{len(fb.issues)} issues"
    out: dict[str, Any] = {"scribe_feedback": fb.model_dump(), "warnings": warnings}
    if not fb.valid and k >= ctx.max_scribe_iters:
        out["warnings"] = warnings + [f"FilmScribe stopped after {k} iterations with open issues: {'; '.join(fb.issues[:3])}"]
    return out
