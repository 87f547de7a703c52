"""Heuristic decomposition: FilmScribe generate/validate loop and the FoleyScriptWriter's layered script."""

import json

from foleydesigner.agents.filmscribe import heuristic_scribe, heuristic_validate
from foleydesigner.agents.script_writer import heuristic_write
from foleydesigner.graphs.filmscribe import build_filmscribe_graph
from tests.fakes import synthetic_clip_fixture  # noqa: F401  (registers the `synthetic_clip` fixture)
from tests.helpers import ball_track, context, linear_track, video_info

SCREENPLAY = """EXT. PARK - DAY

A BALL bounces across the path. Joggers run on the gravel. Off to the right, a DOG BARKS.
Birds sing in the trees."""


def tracks():
    return [
        linear_track(0, t0=0.0, t1=3.5, x0=60, x1=560, onsets=[0.3, 0.8, 1.3, 1.8, 2.3, 2.8, 3.3]),
        ball_track(1, t0=0.5, t1=3.0, x0=500, x1=300, hits=[0.9, 1.6, 2.2]),
        linear_track(2, t0=2.0, t1=2.7, x0=100, x1=150, onsets=[2.2, 2.6]),  # short: the first draft skips it
    ]


def test_validator_finds_missing_track_and_second_draft_fixes_it():
    v = video_info()
    draft = heuristic_scribe(v, tracks(), SCREENPLAY, None)
    assert {e.track_id for e in draft.entities} == {0, 1}
    fb = heuristic_validate(draft, tracks(), v)
    assert not fb.valid and fb.missing_track_ids == [2]
    second = heuristic_scribe(v, tracks(), SCREENPLAY, fb)
    assert {e.track_id for e in second.entities} == {0, 1, 2}
    assert heuristic_validate(second, tracks(), v).valid


def test_validator_rejects_wrong_time_span():
    v = video_info()
    draft = heuristic_scribe(v, tracks(), SCREENPLAY, None)
    bad = draft.model_copy(update={"entities": [draft.entities[0].model_copy(update={"start_s": 3.0, "end_s": 3.4})]})
    fb = heuristic_validate(bad, tracks()[:1], v)
    assert not fb.valid and "does not match track 0" in fb.issues[0]


def test_filmscribe_subgraph_loops_until_valid(tmp_path):
    ctx = context(tmp_path)
    g = build_filmscribe_graph()
    out = g.invoke({"video": video_info().model_dump(), "tracks": [t.model_dump() for t in tracks()], "screenplay": SCREENPLAY},
                   context=ctx)
    assert out["scribe_iterations"] == 2 and out["scribe_feedback"]["valid"]
    lines = [json.loads(s) for s in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert [ln["node"] for ln in lines] == ["filmscribe.generate", "filmscribe.validate"] * 2
    assert lines[1]["decision"] == "1 issues" and lines[3]["decision"] == "valid"


def test_writer_layers_events_and_ties_tracks():
    v = video_info()
    scene_script = heuristic_scribe(v, tracks(), SCREENPLAY, heuristic_validate(heuristic_scribe(v, tracks(), SCREENPLAY, None), tracks(), v))
    script = heuristic_write(v, scene_script, tracks(), SCREENPLAY)
    by = {e.id: e for e in script.events}
    steps = by["footsteps_t0"]
    assert steps.layer == "fg" and steps.source_track == 0 and steps.onsets_s == [0.3, 0.8, 1.3, 1.8, 2.3, 2.8, 3.3]
    assert steps.params["surface"] == "gravel" and steps.origin == "both"
    ball = by["ball_bounce_t1"]
    assert ball.source_track == 1 and ball.onsets_s == [0.9, 1.6, 2.2] and ball.layer == "fg"
    dog = next(e for e in script.events if e.label == "dog_bark")
    assert dog.layer == "fg" and dog.source_track is None and dog.azimuth_deg and dog.azimuth_deg > 0
    birds = next(e for e in script.events if e.label == "birds")
    assert birds.layer == "bg" and birds.start_s == 0 and birds.end_s == v.duration_s
    assert len({e.id for e in script.events}) == len(script.events)


def test_writer_lays_an_ambience_bed_without_screenplay():
    v = video_info()
    scene_script = heuristic_scribe(v, tracks()[:1], None, None)
    script = heuristic_write(v, scene_script, tracks()[:1], None)
    beds = [e for e in script.events if e.layer == "bg"]
    assert len(beds) == 1 and beds[0].end_s == v.duration_s
    assert [e.label for e in script.events if e.layer == "fg"] == ["footsteps"]


# --- the whole run with a scripted model: FilmScribe loop, writer, ToT search, trace, tree, no secrets -----------

def test_scripted_run_exercises_filmscribe_loop_and_tot(tmp_path, synthetic_clip, monkeypatch):
    from typer.testing import CliRunner

    from foleydesigner.cli import app
    from foleydesigner.llm import register_chat_model_factory, unregister_chat_model_factory
    from foleydesigner.schemas import FoleyScript, SceneContext, SceneEntity, SceneScript, SoundEvent, TotTree
    from foleydesigner.tools import catalog
    from tests.fakes import ScriptedChatModel, call

    key, password, query = "sk-fake-KEYSECRET-1234567890", "PWSECRET-abcdef", "QSECRET-987654"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    (track,) = catalog.track_video.invoke({"video_path": str(synthetic_clip)})
    t0, t1 = track["t_s"][0], track["t_s"][-1]
    scene = SceneContext(description="street", location="outdoor", room_size="open", time_of_day="day")
    draft = SceneScript(summary="an empty street", scene=scene)
    full = SceneScript(summary="a car drives past", scene=scene, entities=[
        SceneEntity(name="car", action="drives past", start_s=t0, end_s=t1, track_id=track["id"], screen_side="moves")])
    car = SoundEvent(id="car", label="engine_passby", layer="fg", start_s=t0, end_s=t1, source_track=track["id"])
    script = FoleyScript(duration_s=4.0, scene=scene, events=[car])
    wind = SoundEvent(id="air", label="wind", layer="bg", start_s=0.0, end_s=4.0, intensity=0.35)
    candidates = {"candidates": [
        {"principle": "narrative_separation", "rationale": "lay an air bed", "edits": [
            {"op": "add", "event_id": "air", "event": wind.model_dump(mode="json")}]},
        {"principle": "emotional_modulation", "rationale": "car a little softer", "edits": [
            {"op": "update", "event_id": "car", "changes": {"intensity": 0.6}}]}]}
    model = ScriptedChatModel(by_tool={
        "SceneScript": [call("describe_track", {"track_id": track["id"]}, "d1"), call("SceneScript", draft.model_dump()),
                        call("SceneScript", full.model_dump(), tin=900, tout=150)],
        "ScribeFeedback": [call("ScribeFeedback", {"valid": False, "issues": ["the car is not described"],
                                                   "missing_track_ids": [track["id"]]}),
                           call("ScribeFeedback", {"valid": True})],
        "FoleyScript": [call("FoleyScript", script.model_dump(mode="json"), tin=1200, tout=300)],
        "ScriptCandidates": [call("ScriptCandidates", candidates)],
        "ScriptJudgement": [call("ScriptJudgement", {"align": 0.8, "layer": 0.7, "emotion": 0.6, "rationale": "fine"})],
    })
    register_chat_model_factory("scripted", lambda name, **kw: model)
    out = tmp_path / "run"
    try:
        r = CliRunner().invoke(app, ["run", str(synthetic_clip), "--out", str(out), "--llm", "scripted:demo",
                                     "--llm-planner", "heuristic", "--llm-role", "experts=heuristic",
                                     "--llm-base-url", f"https://bob:{password}@llm.example.com/v1?api_key={query}",
                                     "--tot-tau", "0.99", "--tot-depth", "2", "--tot-k", "2", "--tot-beam", "1"])
    finally:
        unregister_chat_model_factory("scripted")
    assert r.exit_code == 0, r.output
    lines = [json.loads(s) for s in (out / "trace.jsonl").read_text().splitlines()]
    gen = [ln for ln in lines if ln["node"] == "filmscribe.generate" and ln["kind"] == "agent"]
    val = [ln for ln in lines if ln["node"] == "filmscribe.validate" and ln["kind"] == "agent"]
    assert [ln["iteration"] for ln in gen] == [0, 1] and [ln["decision"] for ln in val][-1] == "valid"
    assert any(ln["kind"] == "tool" and ln.get("tool") == "describe_track" for ln in lines)
    tree = TotTree.model_validate_json((out / "tot_tree.json").read_text())
    scored = {ln["tot_node"] for ln in lines if ln["node"] == "tot.score"}
    assert scored == {n.id for n in tree.nodes if n.depth > 0} and len(scored) >= 3
    assert any(n.expansion.get("operator") == "llm:narrative_separation" for n in tree.nodes)
    assert all(n.scores.judge is not None for n in tree.nodes if n.depth > 0)
    final = FoleyScript.model_validate_json((out / "script.json").read_text())
    # the delivered script is the winner's, plus the record of what played each event (params.library)
    played = {e.id: e.params.pop("library") for e in final.events}
    # offline (an empty cache): both synthesised; the committed wind take (3.5 s) is shorter than this bed, and a
    # short take is not looped under a longer bed (generation/library/hybrid.MIN_LOOP_S)
    assert {k: (v["source"], v["model"]) for k, v in played.items()} == {"car": ("procedural", "engine_passby"),
                                                                         "air": ("procedural", "wind")}
    assert final.model_dump() == next(n.script for n in tree.nodes if n.id == tree.winner).model_dump()
    run = json.loads((out / "run.json").read_text())
    assert run["tokens"]["input"] >= 2100 and run["llm_usage"]["scripted:demo"]["calls"] >= 8
    assert run["cost_usd"] is None and run["backends"]["llm_base_url"] == "https://llm.example.com/v1"
    assert run["outputs"]["tot_tree"] == "tot_tree.json"
    for path in out.rglob("*"):  # no secret anywhere: not the env key, not the URL's password or query key
        if path.is_file():
            data = path.read_bytes()
            for secret in (key, password, query):
                assert secret.encode() not in data, (path.name, secret)
    shown = CliRunner().invoke(app, ["trace", str(out)])
    assert shown.exit_code == 0 and "tot.score" in shown.output and "filmscribe.generate" in shown.output
    as_json = json.loads(CliRunner().invoke(app, ["trace", str(out), "--json"]).output)
    assert as_json["tot"]["winner"] == tree.winner and any(r["kind"] == "llm" for r in as_json["timeline"])
