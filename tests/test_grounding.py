"""Grounding: an LLM's decomposition held to measured facts (scene heading, sounding tracks, evidence), with one
re-ask that lists them; what stays wrong is a run.json warning and a ToT flag; the judge cannot lift it."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from foleydesigner.agents.filmscribe import heuristic_scribe, scribe
from foleydesigner.agents.grounding import Ground, Heading
from foleydesigner.agents.script_writer import heuristic_write, track_event
from foleydesigner.agents.tot import _llm_candidates, rank, score_script
from foleydesigner.agents.tot_rules import Evidence
from foleydesigner.agents.writer import write_script
from foleydesigner.schemas import FoleyScript, SceneContext, SceneScript, SoundEvent, TotTree
from tests.fakes import (
    ScriptedChatModel,
    call,
    synthetic_clip_fixture,  # noqa: F401  (registers the `synthetic_clip` fixture)
)
from tests.helpers import context, linear_track, video_info

SCREENPLAY = """EXT. UNIVERSITY CAMPUS - DAY

A grey afternoon. Students walk across the paved square, their FOOTSTEPS crisp on the concrete."""
DAY = SceneContext(description="university campus", location="outdoor", room_size="open", time_of_day="day",
                   surfaces=["concrete"])
NIGHT = DAY.model_copy(update={"time_of_day": "night"})


def walkers(n: int = 8) -> list:
    return [linear_track(i, t0=0.1 * i, t1=3.5, x0=40 + 60 * i, x1=100 + 60 * i, h=60 + 10 * i,
                         onsets=[round(0.3 + 0.5 * k + 0.05 * i, 2) for k in range(6)]) for i in range(n)]


def night_storm(tracks: list, voiced: int = 3) -> FoleyScript:
    """What an LLM writer did to the demo: night rain and thunder in a DAY scene, 5 of 8 walkers silent."""
    steps = [track_event(t, DAY) for t in tracks[:voiced]]
    return FoleyScript(duration_s=4.0, scene=NIGHT, events=[
        *steps, SoundEvent(id="rain", label="rain_heavy", layer="bg", start_s=0.0, end_s=4.0, description="night rain"),
        SoundEvent(id="thunder", label="thunder", layer="bg", start_s=1.0, end_s=3.0, description="thunder rolls")])


def daylight(tracks: list) -> FoleyScript:
    return FoleyScript(duration_s=4.0, scene=DAY, events=[
        *(track_event(t, DAY) for t in tracks),
        SoundEvent(id="air", label="wind", layer="bg", start_s=0.0, end_s=4.0, intensity=0.35, description="outdoor air")])


def _lines(path):
    return [json.loads(s) for s in (path / "trace.jsonl").read_text().splitlines()]


def test_the_checks_name_each_broken_fact():
    tracks = walkers()
    ground = Ground.of(video_info(), tracks, SCREENPLAY, DAY, 0.5)
    assert ground.heading == Heading("outdoor", "day", "EXT. UNIVERSITY CAMPUS - DAY")
    problems = ground.script_violations(night_storm(tracks))
    assert any("at night, but the screenplay's heading says day (EXT. UNIVERSITY CAMPUS - DAY)" in p for p in problems)
    assert any("'night rain' says night" in p for p in problems)
    silent = next(p for p in problems if "tracked movers" in p)
    assert silent.startswith("5 of 8 tracked movers") and all(f"{i} (person walking" in silent for i in range(3, 8))
    assert {"rain: rain_heavy has no evidence", "thunder: thunder has no evidence"} <= {p.split(":")[0] + ":" + p.split(":")[1]
                                                                                        for p in problems if ":" in p}
    # the offline writer's script holds up: the checks do not fire on what the rules themselves write
    v = video_info()
    honest = heuristic_write(v, heuristic_scribe(v, tracks, SCREENPLAY, None), tracks, SCREENPLAY)
    assert ground.script_violations(honest) == [] and ground.script_violations(daylight(tracks)) == []
    # a storm the screenplay asks for is the story's choice, not a violation
    stormy = SCREENPLAY + "\n\nThunder rolls. Heavy rain starts to fall."
    storm_ground = Ground.of(v, tracks, stormy, DAY, 0.5)
    assert not [p for p in storm_ground.script_violations(night_storm(tracks, voiced=8)) if "thunder:" in p or "rain:" in p]
    # no heading: the action lines' unambiguous time is the fact, and the message does not invent a heading
    prose = Ground.of(v, [], "A moonlit street. Two men walk.", SceneContext(), 0.5)
    assert prose.heading == Heading("outdoor", "night", "")
    assert prose.scene_script_violations(SceneScript(summary="a sunny afternoon", scene=DAY)) == [
        "the scene is at day, but the screenplay says night", "'a sunny afternoon' says sunny, but the screenplay says night"]
    # a night-only bed in a DAY scene, an indoor bed outdoors
    crickets = SoundEvent(id="c", label="crickets", layer="bg", start_s=0, end_s=4)
    hum = SoundEvent(id="h", label="fridge_hum", layer="bg", start_s=0, end_s=4)
    problems = ground.script_violations(daylight(tracks).model_copy(update={"events": [*daylight(tracks).events, crickets, hum]}))
    assert any(p.startswith("c: crickets belongs to night") for p in problems)
    assert any(p.startswith("h: fridge_hum is an indoor sound") for p in problems)


def test_writer_is_reasked_with_the_facts_and_corrects(tmp_path, scripted):
    tracks, v = walkers(), video_info()
    model = scripted(ScriptedChatModel(by_tool={"FoleyScript": [
        call("FoleyScript", night_storm(tracks).model_dump(mode="json")),
        call("FoleyScript", daylight(tracks).model_dump(mode="json"))]}))
    ctx = context(tmp_path, llm_roles={"writer": "scripted:w"})
    script, warnings = write_script(ctx, v, heuristic_scribe(v, tracks, SCREENPLAY, None), tracks, SCREENPLAY)
    assert warnings == [] and script.scene.time_of_day == "day"
    assert sorted(e.source_track for e in script.events if e.source_track is not None) == list(range(8))
    assert not {"rain_heavy", "thunder"} & {e.label for e in script.events}
    assert len(model.calls) == 2
    reask = model.calls[1][-1].content  # the second call ends with the re-ask
    assert "contradicts what was measured" in reask and "EXT. UNIVERSITY CAMPUS - DAY" in reask
    assert "5 of 8 tracked movers" in reask and "rain: rain_heavy has no evidence" in reask
    assert "at night, but the screenplay's heading says day" in reask
    assert "tracks whose motion makes a sound" in reask and "7 (person walking" in reask
    assert model.calls[1][-2].content.startswith('{"duration_s":4.0')  # its own first answer comes back with it
    rows = [r for r in _lines(tmp_path) if r["kind"] == "grounding"]
    assert rows[0]["decision"].startswith("re-ask with the facts: the scene is at night") and len(rows[0]["violations"]) >= 5
    assert rows[1]["decision"] == "corrected" and rows[1]["violations"] == []
    from foleydesigner.trace_view import decision_of

    assert "re-ask with the facts" in decision_of(rows[0])  # `foley trace` shows it


def test_scribe_is_held_to_the_heading(tmp_path, scripted):
    tracks, v = walkers(2), video_info()
    night = SceneScript(summary="two students cross the square at midnight", scene=NIGHT)
    model = scripted(ScriptedChatModel(by_tool={"SceneScript": [call("SceneScript", night.model_dump())]}))
    ctx = context(tmp_path, llm_roles={"scribe": "scripted:s"})
    out, warnings = scribe(ctx, v, tracks, SCREENPLAY, None, DAY)
    assert len(model.calls) == 2 and "says midnight" in model.calls[1][-1].content
    assert out.scene.time_of_day == "night" and len(warnings) == 1  # it stayed: a warning, not a silent fix
    assert warnings[0].startswith("filmscribe.generate: scripted:s still contradicts the measured facts")


def test_uncorrected_writer_warns_in_run_json_and_flags_its_tot_node(tmp_path, synthetic_clip, scripted):
    from typer.testing import CliRunner

    from foleydesigner.cli import app
    from foleydesigner.tools import catalog

    (car,) = catalog.track_video.invoke({"video_path": str(synthetic_clip)})
    street = SceneContext(description="street", location="outdoor", room_size="open", time_of_day="day")
    storm = FoleyScript(duration_s=4.0, scene=street, events=[
        SoundEvent(id="rain", label="rain_heavy", layer="bg", start_s=0.0, end_s=4.0, description="night rain"),
        SoundEvent(id="thunder", label="thunder", layer="bg", start_s=1.0, end_s=2.5, description="thunder")])
    passby = SoundEvent(id="car", label="engine_passby", layer="fg", start_s=car["t_s"][0], end_s=car["t_s"][-1],
                        source_track=car["id"])
    candidates = {"candidates": [  # the expander (same writer model) fixes it: the search may, the writer did not
        {"principle": "visual_alignment", "rationale": "the car, not a storm", "edits": [
            {"op": "remove", "event_id": "rain"}, {"op": "remove", "event_id": "thunder"},
            {"op": "add", "event_id": "car", "event": passby.model_dump(mode="json")}]},
        {"principle": "emotional_modulation", "rationale": "louder thunder", "edits": [
            {"op": "update", "event_id": "thunder", "changes": {"intensity": 0.9}}]}]}
    model = scripted(ScriptedChatModel(by_tool={"FoleyScript": [call("FoleyScript", storm.model_dump(mode="json"))],
                                                "ScriptCandidates": [call("ScriptCandidates", candidates)]}))
    play = tmp_path / "scene.fountain"
    play.write_text("EXT. CITY STREET - DAY\n\nA grey afternoon. A car drives past.\n")
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", str(synthetic_clip), "--script", str(play), "--out", str(out),
                                 "--llm-role", "writer=scripted:w", "--tot-depth", "1"])
    assert r.exit_code == 0, r.output
    writer_calls = [c for c in model.calls if str(c[0].content).startswith("You are the FoleyScriptWriter")]
    assert len(writer_calls) == 2  # the first answer and the re-ask; it answered the same
    run = json.loads((out / "run.json").read_text())
    (warning,) = [w for w in run["warnings"] if "contradicts the measured facts" in w]
    assert warning.startswith("script_writer: scripted:w still contradicts") and f"track {car['id']}" not in warning
    assert "heading says day" in warning and warning.endswith("3 more in the trace") and len(warning) < 220
    tree = TotTree.model_validate_json((out / "tot_tree.json").read_text())
    n1 = next(n for n in tree.nodes if n.id == "n1")
    assert n1.expansion["operator"] == "script_writer" and any("tracked movers" in f for f in n1.flags)
    scored = {r["tot_node"]: r["decision"] for r in _lines(out) if r["node"] == "tot.score"}
    assert scored["n1"]["flags"] == n1.flags  # the flag is in the trace too
    shown = CliRunner().invoke(app, ["trace", str(out), "--json"])
    rows = [r for r in json.loads(shown.output)["timeline"] if r["kind"] == "grounding"] if shown.exit_code == 0 else []
    assert [r["decision"].split(":")[0] for r in rows] == ["re-ask with the facts", "still contradicts the facts"]
    winner = next(n for n in tree.nodes if n.id == tree.winner)
    assert winner.expansion["rationale"] == "the car, not a storm" and winner.flags == []
    # the storm was held back before the search began: a candidate that turns the thunder up has nothing to edit
    assert not any(n.expansion.get("rationale") == "louder thunder" for n in tree.nodes)
    dropped = [r["decision"]["dropped"] for r in _lines(out) if r["node"] == "tot.expand" and "decision" in r]
    assert any("update thunder: no such event" in d for ds in dropped for d in ds)
    final = FoleyScript.model_validate_json((out / "script.json").read_text())
    assert [e.source_track for e in final.events if e.label == "engine_passby"] == [car["id"]]
    assert not {"rain_heavy", "thunder"} & {e.label for e in final.events}
    assert {"rain_heavy", "thunder"} <= {e.label for e in final.candidates}
    assert [w for w in run["warnings"] if w.startswith("script_writer: held back rain")] == [
        "script_writer: held back rain (rain_heavy): no tracked source, screenplay cue or place bed"]


def test_expander_candidate_that_breaks_a_fact_is_reasked(tmp_path, scripted):
    tracks, v = walkers(), video_info()
    script = daylight(tracks)
    ev = Evidence(v, tracks, DAY, [], ("wind",), 0.5)
    crickets = SoundEvent(id="cr", label="crickets", layer="bg", start_s=0.0, end_s=4.0).model_dump(mode="json")
    night = {"candidates": [{"principle": "emotional_modulation", "rationale": "a night mood", "edits": [
        {"op": "add", "event_id": "cr", "event": crickets}]}]}
    softer = {"candidates": [{"principle": "emotional_modulation", "rationale": "softer steps", "edits": [
        {"op": "update", "event_id": script.events[0].id, "changes": {"intensity": 0.5}}]}]}
    model = scripted(ScriptedChatModel(by_tool={"ScriptCandidates": [call("ScriptCandidates", night),
                                                                      call("ScriptCandidates", softer)]}))
    ctx = context(tmp_path, llm_roles={"writer": "scripted:w"})
    candidates, problems = _llm_candidates(ctx, script, ev, {}, Ground.of(v, tracks, SCREENPLAY, DAY, 0.5))
    assert problems == [] and [c.rationale for c in candidates] == ["softer steps"]
    assert "candidate 1 (emotional_modulation): cr: crickets belongs to night" in model.calls[1][-1].content


def _tree(scores: dict[str, tuple[float, list[str]]]) -> nx.DiGraph:
    g = nx.DiGraph()
    for n, (total, flags) in scores.items():
        g.add_node(n, id=n, depth=1, scores={"total": total}, flags=flags)
    return g


def test_the_judge_cannot_overturn_a_hard_fact(tmp_path, scripted):
    tracks, v = walkers(), video_info()
    ev = Evidence(v, tracks, DAY, [], ("wind",), 0.5)
    ground = Ground.of(v, tracks, SCREENPLAY, DAY, 0.5)
    bad, good = night_storm(tracks), daylight(tracks)
    flags = ground.script_violations(bad)
    scripted(ScriptedChatModel(by_tool={"ScriptJudgement": [call("ScriptJudgement", {
        "align": 1.0, "layer": 1.0, "emotion": 1.0, "rationale": "moody and cinematic"})]}))
    ctx = context(tmp_path, llm_roles={"scorer": "scripted:j"})
    judged_bad, _ = score_script(ctx, bad, ev, flags)
    judged_good, _ = score_script(ctx, good, ev, [])
    comp = judged_bad.computed
    assert judged_bad.judge.align == 1.0  # the judge loved it ...
    assert all(getattr(judged_bad, k) <= comp[k] + 1e-9 for k in ("align", "layer", "emotion"))  # ... and lifted nothing
    assert judged_good.align > judged_good.computed["align"]  # a clean script it may lift
    # ranking: a flagged node stays below every clean one, even one scored far lower
    g = _tree({"n1": (0.95, flags), "n2": (0.30, []), "n3": (0.60, [])})
    assert rank(g, ["n1", "n2", "n3"]) == ["n3", "n2", "n1"]
    assert rank(_tree({"n1": (0.9, ["x"]), "n2": (0.4, ["y"])}), ["n2", "n1"]) == ["n1", "n2"]  # all flagged: by score


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_grounding_reask_through_a_local_openai_compatible_server(tmp_path, monkeypatch):
    """The same re-ask over HTTP: a scripted OpenAI-compatible server on 127.0.0.1 answers the writer through the
    real SDK, first with the night storm, then with the daylight script; the second request carries the facts."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    tracks, v = walkers(), video_info()
    answers = [night_storm(tracks), daylight(tracks)]
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            script = answers[min(len(requests), len(answers)) - 1]
            body = json.dumps({"id": f"r{len(requests)}", "object": "chat.completion", "created": 0, "model": "local",
                               "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                                   "role": "assistant", "content": None, "tool_calls": [{
                                       "id": f"c{len(requests)}", "type": "function", "function": {
                                           "name": "FoleyScript", "arguments": script.model_dump_json()}}]}}],
                               "usage": {"prompt_tokens": 900, "completion_tokens": 300, "total_tokens": 1200}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-test-000000000")
    try:
        ctx = context(tmp_path, llm_roles={"writer": "openai:local-writer"},
                      llm_base_url=f"http://127.0.0.1:{server.server_address[1]}/v1")
        script, warnings = write_script(ctx, v, heuristic_scribe(v, tracks, SCREENPLAY, None), tracks, SCREENPLAY)
    finally:
        server.shutdown()
        server.server_close()
    assert len(requests) == 2 and warnings == []
    assert sorted(e.source_track for e in script.events if e.source_track is not None) == list(range(8))
    first, second = (r["messages"] for r in requests)
    assert len(second) == len(first) + 2 and second[-2]["role"] == "assistant" and second[-1]["role"] == "user"
    assert "5 of 8 tracked movers" in second[-1]["content"] and "EXT. UNIVERSITY CAMPUS - DAY" in second[-1]["content"]
    assert requests[1]["model"] == "local-writer" and "FoleyScript" in {t["function"]["name"] for t in requests[1]["tools"]}
    rows = _lines(tmp_path)
    assert [r["decision"].split(":")[0] for r in rows if r["kind"] == "grounding"] == ["re-ask with the facts", "corrected"]
    assert sum(r.get("tokens", {}).get("input", 0) for r in rows if r["kind"] == "llm") == 1800
