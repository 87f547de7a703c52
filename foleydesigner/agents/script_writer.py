"""FoleyScriptWriter (paper §1): screenplay F + scene script T -> layered Foley script S = {(e_i, l_i)}.

Visible physical events come from T (each fg event tied to the track that makes it, with its visual onsets);
narrative and off-screen sounds come from F; the scene's space gives the ambience bed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from foleydesigner.agents.evidence import track_summary
from foleydesigner.context import RunContext
from foleydesigner.lexicon import ENTRIES
from foleydesigner.llm import HEURISTIC, make_chat_model, structured_call
from foleydesigner.prompts import script_writer as P
from foleydesigner.schemas import FoleyScript, SceneContext, SceneScript, SoundEvent, Track, VideoInfo
from foleydesigner.tools.screenplay import ScreenplayCue, parse_screenplay

#: Sound a tracked entity makes, by its motion and label (Foley practice: people walk, balls bounce, cars pass).
_TRACK_SOUND = {("walking", "person"): "footsteps", ("walking", "object"): "footsteps", ("bouncing", "object"): "ball_bounce",
                ("bouncing", "person"): "footsteps", ("moving", "vehicle"): "engine_passby", ("moving", "object"): "whoosh",
                ("moving", "person"): "cloth_rustle"}
#: Which screenplay classes a tracked motion can stand for (used to tie a cue to a track instead of doubling it).
_COMPATIBLE = {"footsteps": {"walking"}, "ball_bounce": {"bouncing"}, "engine_passby": {"moving"},
               "engine_idle": {"moving", "static"}, "rolling": {"moving"}, "horse_hooves": {"walking", "moving"},
               "whoosh": {"moving"}, "cloth_rustle": {"moving", "walking"}}


def ambience_for(scene: SceneContext) -> tuple[str, str]:
    """The bed a sound editor lays first: room tone indoors, air outdoors (crickets at night)."""
    if scene.location == "indoor":
        return "room_tone", "room tone"
    if scene.location == "outdoor":
        return ("crickets", "night ambience") if scene.time_of_day == "night" else ("wind", "outdoor air")
    return "room_tone", "ambience bed"


def _cue_time(cue: ScreenplayCue, duration: float) -> float:
    t = cue.time_s if cue.time_s is not None else cue.position * duration
    return float(min(max(t, 0.0), max(duration - 0.25, 0.0)))


def heuristic_write(video: VideoInfo, scene_script: SceneScript, tracks: list[Track], screenplay: str | None) -> FoleyScript:
    duration = video.duration_s
    scene = scene_script.scene
    sp = parse_screenplay(screenplay, default_scene=scene) if screenplay else None
    by_id = {t.id: t for t in tracks}
    events: list[SoundEvent] = []
    counts: Counter[str] = Counter()

    def new_id(cls: str) -> str:
        counts[cls] += 1
        return f"{cls}_{counts[cls]}"

    # 1. Visible entities -> fg events tied to their tracks.
    tied: dict[int, SoundEvent] = {}
    for ent in scene_script.entities:
        track = by_id.get(ent.track_id) if ent.track_id is not None else None
        if track is None:
            continue
        cls = _TRACK_SOUND.get((track.motion, track.label))
        if cls is None:
            continue
        onsets = [o for o in track.onsets_s if ent.start_s - 1e-6 <= o <= ent.end_s + 1e-6]
        params = {"surface": ent.surface} if cls == "footsteps" and ent.surface else {}
        ev = SoundEvent(id=f"{cls}_t{track.id}", label=cls, layer="fg", start_s=ent.start_s, end_s=ent.end_s,
                        onsets_s=onsets, source_track=track.id, intensity=0.7, params=params, origin="video",
                        description=f"{ent.name} {ent.action} ({track_summary([track]).lstrip('- ')})")
        events.append(ev)
        tied[track.id] = ev

    # 2. Screenplay cues: tie to a compatible visible event, else add (bg beds, off-screen fg sounds).
    if sp:
        bg_seen: set[str] = set()
        for cue in sp.cues:
            cls, layer = cue.entry.sound_class, cue.entry.layer
            matches = [e for e in events if e.origin in ("video", "both") and e.label == cls]
            if matches and not cue.offscreen:
                for e in matches:
                    idx = events.index(e)
                    upd = {"origin": "both", "description": e.description + f" | screenplay: {cue.sentence}"}
                    if cue.surface and cls == "footsteps":
                        upd["params"] = {**e.params, "surface": cue.surface}
                    events[idx] = e.model_copy(update=upd)
                continue
            untied = [t for t in tracks if t.id not in tied and t.motion in _COMPATIBLE.get(cls, set())]
            if layer == "fg" and untied and not cue.offscreen:
                track = max(untied, key=lambda t: t.end_s - t.start_s)
                ev = SoundEvent(id=f"{cls}_t{track.id}", label=cls, layer="fg", start_s=track.start_s, end_s=track.end_s,
                                onsets_s=list(track.onsets_s), source_track=track.id, intensity=0.75,
                                description=cue.sentence, origin="both")
                events.append(ev)
                tied[track.id] = ev
                continue
            if layer == "bg" or cue.entry.continuous:
                if cls in bg_seen:
                    continue
                bg_seen.add(cls)
                start = cue.time_s if cue.time_s is not None else 0.0
                events.append(SoundEvent(id=new_id(cls), label=cls, layer=layer, start_s=min(start, duration), end_s=duration,
                                         intensity=0.45 if layer == "bg" else 0.65, description=cue.sentence,
                                         azimuth_deg=cue.azimuth_deg, origin="screenplay"))
                continue
            t = _cue_time(cue, duration)
            az = cue.azimuth_deg if cue.azimuth_deg is not None else (-35.0 if counts[cls] % 2 == 0 else 35.0)
            events.append(SoundEvent(id=new_id(cls), label=cls, layer="fg", start_s=t, end_s=min(duration, t + 1.5),
                                     onsets_s=[round(t, 3)], intensity=0.8 if cue.caps else 0.65, azimuth_deg=az,
                                     depth_m=8.0 if cue.offscreen else 4.0, description=cue.sentence, origin="screenplay"))

    # 3. The ambience bed, unless the screenplay already laid one.
    if not any(e.layer == "bg" for e in events):
        cls, what = ambience_for(scene)
        events.append(SoundEvent(id=new_id(cls), label=cls, layer="bg", start_s=0.0, end_s=duration, intensity=0.35,
                                 description=f"{what} for a {scene.location} {scene.description or 'scene'}", origin="scene"))
    notes = [f"unresolved CAPS in screenplay: {', '.join(sorted(set(sp.unresolved_caps)))}"] if sp and sp.unresolved_caps else []
    return FoleyScript(duration_s=duration, scene=scene, events=events, notes=notes)


def write_script(ctx: RunContext, video: VideoInfo, scene_script: SceneScript, tracks: list[Track],
                 screenplay: str | None) -> FoleyScript:
    backend = ctx.llm_for("writer")
    if backend == HEURISTIC:
        return heuristic_write(video, scene_script, tracks, screenplay)
    from langchain_core.messages import HumanMessage, SystemMessage

    classes = ", ".join(sorted({e.sound_class for e in ENTRIES}))
    user = P.WRITER_USER.format(duration_s=video.duration_s, scene_script=scene_script.model_dump_json(indent=1),
                                track_summary=track_summary(tracks), screenplay=screenplay or "")
    model = make_chat_model(backend, base_url=ctx.llm_base_url)
    script = structured_call(model, [SystemMessage(P.WRITER_SYSTEM.format(classes=classes)), HumanMessage(user)],
                             FoleyScript, tracer=ctx.tracer, node="script_writer", backend=backend)
    return script.model_copy(update={"duration_s": video.duration_s})


def write_foley_script(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """FoleyScriptWriter node: merge the screenplay and the validated scene script into the layered script."""
    ctx: RunContext = runtime.context
    video = VideoInfo.model_validate(state["video"])
    tracks = [Track.model_validate(t) for t in state.get("tracks", [])]
    scene_script = SceneScript.model_validate(state["scene_script"])
    with ctx.tracer.span("script_writer", "agent", backend=ctx.llm_for("writer"), inputs=state["scene_script"]) as rec:
        script = write_script(ctx, video, scene_script, tracks, state.get("screenplay"))
        rec["parsed"] = script
        rec["decision"] = {"fg": sum(e.layer == "fg" for e in script.events), "bg": sum(e.layer == "bg" for e in script.events)}
    return {"script": script.model_dump()}
