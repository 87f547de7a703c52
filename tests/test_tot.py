"""Tree-of-Thought decomposition: scores computed from facts, real edits, top-b pruning, τ stop, the saved tree."""

from __future__ import annotations

import json

import pytest

from foleydesigner.agents.filmscribe import heuristic_scribe
from foleydesigner.agents.script_writer import heuristic_write, track_event
from foleydesigner.agents.tot import tot_settings
from foleydesigner.agents.tot_operators import propose
from foleydesigner.agents.tot_rules import Evidence, apply_edits, computed_scores, facts
from foleydesigner.errors import FoleyError
from foleydesigner.graphs.decomposition import build_decomposition_graph
from foleydesigner.llm import register_chat_model_factory, unregister_chat_model_factory
from foleydesigner.schemas import FoleyScript, SceneContext, ScriptEdit, SoundEvent, TotTree
from tests.fakes import ScriptedChatModel, call
from tests.helpers import ball_track, context, linear_track, video_info

SCREENPLAY = """EXT. CITY PARK - NIGHT

Eerie silence. Two men walk across the gravel. A DOG BARKS off to the left. Wind in the trees."""


def tracks():
    return [linear_track(0, t0=0.0, t1=3.5, x0=60, x1=560, onsets=[0.3, 0.8, 1.3, 1.8, 2.3, 2.8, 3.3]),
            ball_track(1, t0=0.5, t1=3.0, x0=500, x1=300, hits=[0.9, 1.6, 2.2])]


def base(screenplay=SCREENPLAY):
    v = video_info()
    script = heuristic_write(v, heuristic_scribe(v, tracks(), screenplay, None), tracks(), screenplay)
    from foleydesigner.tools.screenplay import parse_screenplay

    sp = parse_screenplay(screenplay, default_scene=script.scene) if screenplay else None
    return script, Evidence(v, tracks(), script.scene, sp.cues if sp else [], sp.ambience if sp else ())


def run_tot(tmp_path, **kw):
    ctx = context(tmp_path, **kw)
    out = build_decomposition_graph().invoke({"video_path": "clip.mp4", "video": video_info().model_dump(),
                                              "tracks": [t.model_dump() for t in tracks()], "screenplay": SCREENPLAY},
                                             context=ctx)
    return out, TotTree.model_validate_json((tmp_path / "tot_tree.json").read_text())


def test_ignoring_a_track_scores_lower_alignment():
    script, ev = base()
    covered = computed_scores(facts(script, ev))
    without = script.model_copy(update={"events": [e for e in script.events if e.source_track != 0]})
    f = facts(without, ev)
    assert f["track_coverage"] < 0.5 and computed_scores(f)["align"] < covered["align"] - 0.1
    drift = apply_edits(script, [ScriptEdit(op="update", event_id="footsteps_t0",
                                            changes={"start_s": 2.0, "onsets_s": [2.05, 2.6]})], ev)
    fd = facts(drift, ev)
    assert fd["tied_iou"] < 1.0 and fd["onset_f1"] < 0.8 and computed_scores(fd)["align"] < covered["align"]


def test_layer_and_emotion_scores_read_the_mix():
    script, ev = base()
    no_bed = script.model_copy(update={"events": [e for e in script.events if e.layer == "fg"]})
    assert facts(no_bed, ev)["bed_coverage"] == 0.0
    assert computed_scores(facts(no_bed, ev))["layer"] < computed_scores(facts(script, ev))["layer"]
    crowd = [track_event(linear_track(10 + i, t0=0.0, t1=3.0, x0=50 + 40 * i, x1=90 + 40 * i), ev.scene) for i in range(6)]
    ev6 = Evidence(ev.video, ev.tracks + [linear_track(10 + i, t0=0.0, t1=3.0, x0=50 + 40 * i, x1=90 + 40 * i)
                                          for i in range(6)], ev.scene, ev.cues)
    dense = script.model_copy(update={"events": script.events + crowd})
    assert facts(script, ev)["clarity"] == 1.0
    assert facts(dense, ev6)["clarity"] < 0.6  # 7 concurrent footsteps for 3 of 4 s: Murch's limit is about 3
    assert ev.scene.mood == "tense"  # "Eerie silence."
    loud = script.model_copy(update={"events": [e.model_copy(update={"intensity": 1.0}) for e in script.events]})
    assert computed_scores(facts(loud, ev))["emotion"] < computed_scores(facts(script, ev))["emotion"]
    birds = SoundEvent(id="birds_1", label="birds", layer="bg", start_s=0, end_s=4.0, intensity=0.25)
    assert facts(script.model_copy(update={"events": script.events + [birds]}), ev)["tone"] < 1.0  # no birdsong at night


def test_heuristic_expansions_are_real_edits_that_fix_what_they_say():
    script, ev = base()
    broken = script.model_copy(update={"events": [e for e in script.events if e.source_track != 1 and e.layer == "fg"]})
    props = propose(broken, ev, facts(broken, ev))
    ops = [p.operator for p in props]
    assert {"cover_track", "add_bed", "modulate_mood"} <= set(ops)
    assert {p.principle for p in props[:3]} == {"visual_alignment", "narrative_separation", "emotional_modulation"}
    for p in props:
        child = apply_edits(broken, p.edits, ev)
        before, after = facts(broken, ev), facts(child, ev)
        if p.operator == "cover_track":
            assert after["track_coverage"] > before["track_coverage"]
            assert next(e for e in child.events if e.source_track == 1).onsets_s == [0.9, 1.6, 2.2]
        if p.operator == "add_bed":
            assert after["bed_coverage"] > before["bed_coverage"]
        if p.operator == "modulate_mood":
            assert after["level_fit"] > before["level_fit"]
    with pytest.raises(ValueError, match="no such event"):
        apply_edits(broken, [ScriptEdit(op="remove", event_id="nope")], ev)


def test_tree_is_saved_with_scores_and_why(tmp_path):
    out, tree = run_tot(tmp_path, tot_tau=1.0, tot_depth=2)
    nodes = {n.id: n for n in tree.nodes}
    assert nodes["n0"].status == "root" and nodes["n0"].script is None
    assert nodes["n1"].expansion["operator"] == "script_writer"
    for n in tree.nodes[1:]:
        assert n.scores and n.script and n.parent in nodes and (n.parent, n.id) in tree.edges
        assert abs(n.scores.total - (0.5 * n.scores.align + 0.3 * n.scores.layer + 0.2 * n.scores.emotion)) < 1e-3
        assert n.expansion["operator"] and ("edits" in n.expansion or n.id == "n1")
        assert set(n.scores.facts) >= {"track_coverage", "bed_coverage", "level_fit"}
    winner = nodes[tree.winner]
    assert winner.status == "winner" and winner.scores.total == max(n.scores.total for n in tree.nodes[1:])
    assert out["script"] == winner.script.model_dump()
    assert tree.stop_reason == "depth" and max(n.depth for n in tree.nodes) == 2
    lines = [json.loads(s) for s in (tmp_path / "trace.jsonl").read_text().splitlines()]
    scored = {ln["tot_node"] for ln in lines if ln["node"] == "tot.score"}
    assert scored == set(nodes) - {"n0"}  # every node's score is in the trace


def test_top_b_pruning_per_level(tmp_path):
    _, tree = run_tot(tmp_path, tot_tau=1.0, tot_depth=3, tot_k=3, tot_beam=2)
    for depth in (1, 2, 3):
        level = [n for n in tree.nodes if n.depth == depth]
        kept = [n for n in level if n.status in ("kept", "winner")]
        assert len(kept) <= 2 and len(level) <= (3 if depth == 1 else 6)
        best = sorted(level, key=lambda n: -n.scores.total)[: len(kept)]
        assert {n.id for n in best} == {n.id for n in kept} or tree.winner in {n.id for n in level}
        if depth > 1:
            parents = {n.parent for n in level}
            assert all(next(p for p in tree.nodes if p.id == pid).status in ("kept", "winner") for pid in parents)


def test_tau_stops_the_search(tmp_path):
    _, tree = run_tot(tmp_path, tot_tau=0.0)
    assert tree.stop_reason == "tau" and max(n.depth for n in tree.nodes) == 1
    _, tree = run_tot(tmp_path, tot_tau=1.0, tot_depth=1)
    assert tree.stop_reason == "depth"


def test_llm_expander_and_judge(tmp_path):
    script, _ = base()
    new_bed = SoundEvent(id="wind_extra", label="wind", layer="bg", start_s=0.0, end_s=4.0, intensity=0.3)
    candidates = {"candidates": [
        {"principle": "narrative_separation", "rationale": "more air", "edits": [{"op": "add", "event_id": "wind_extra",
                                                                                 "event": new_bed.model_dump()}]},
        {"principle": "emotional_modulation", "rationale": "quieter", "edits": [
            {"op": "update", "event_id": script.events[0].id, "changes": {"intensity": 0.6}}]},
        {"principle": "visual_alignment", "rationale": "bad id", "edits": [{"op": "remove", "event_id": "ghost"}]},
    ]}
    model = ScriptedChatModel(by_tool={"FoleyScript": [call("FoleyScript", script.model_dump(mode="json"))],
                                       "ScriptCandidates": [call("ScriptCandidates", candidates)],
                                       "ScriptJudgement": [call("ScriptJudgement", {"align": 0.2, "layer": 0.9,
                                                                                    "emotion": 0.5, "rationale": "ok"})]})
    register_chat_model_factory("scripted", lambda name, **kw: model)
    try:
        _, tree = run_tot(tmp_path, llm_roles={"writer": "scripted:w", "scorer": "scripted:j"}, tot_tau=1.0, tot_depth=2)
    finally:
        unregister_chat_model_factory("scripted")
    n = next(n for n in tree.nodes if n.expansion.get("rationale") == "quieter")
    assert n.expansion["backend"] == "scripted:w" and n.expansion["operator"] == "llm:emotional_modulation"
    s = n.scores
    assert s.judge and s.align == pytest.approx(0.7 * s.computed["align"] + 0.3 * 0.2, abs=1e-3)
    lines = [json.loads(x) for x in (tmp_path / "trace.jsonl").read_text().splitlines()]
    expand = [ln for ln in lines if ln["node"] == "tot.expand" and ln["kind"] == "agent"]
    assert any("ghost" in str(ln["decision"]["dropped"]) for ln in expand)  # the bad edit is reported, not applied
    assert {ln["node"] for ln in lines if ln["kind"] == "llm"} == {"script_writer", "tot.expand", "tot.judge"}


def test_tot_flags_are_checked():
    assert tot_settings(3, 2, 0.85, 3, "5,3,2")["tot_weights"] == (5.0, 3.0, 2.0)
    for args, flag in (((0, 2, 0.8, 3, "1,1,1"), "--tot-k"), ((3, 0, 0.8, 3, "1,1,1"), "--tot-beam"),
                       ((3, 2, 1.5, 3, "1,1,1"), "--tot-tau"), ((3, 2, 0.8, 0, "1,1,1"), "--tot-depth"),
                       ((3, 2, 0.8, 3, "1,1"), "--tot-weights"), ((3, 2, 0.8, 3, "a,b,c"), "--tot-weights")):
        with pytest.raises(FoleyError, match=flag):
            tot_settings(*args)


def test_scores_without_screenplay_or_tracks_stay_defined():
    v = video_info()
    script = FoleyScript(duration_s=4.0, scene=SceneContext(), events=[])
    f = facts(script, Evidence(v, [], SceneContext(), []))
    assert f["track_coverage"] is None and f["cue_coverage"] is None
    assert all(0.0 <= x <= 1.0 for x in computed_scores(f).values())


def test_split_merge_and_cue_reassignment_edits():
    script, ev = base()
    steps = next(e for e in script.events if e.source_track == 0)
    paused = script.model_copy(update={"events": [steps.model_copy(update={"onsets_s": [0.3, 0.8, 1.3, 3.0, 3.4]})]
                                       + [e for e in script.events if e is not steps]})
    split = next(p for p in propose(paused, ev, facts(paused, ev)) if p.operator == "split_event")
    halves = [e for e in apply_edits(paused, split.edits, ev).events if e.source_track == 0]
    assert [e.onsets_s for e in halves] == [[0.3, 0.8, 1.3], [3.0, 3.4]]
    double = steps.model_copy(update={"id": "steps_again", "start_s": 1.0, "onsets_s": [1.3, 1.8]})
    doubled = script.model_copy(update={"events": script.events + [double]})
    assert facts(doubled, ev)["no_duplicates"] < 1.0
    merge = next(p for p in propose(doubled, ev, facts(doubled, ev)) if p.operator == "merge_events")
    merged = apply_edits(doubled, merge.edits, ev)
    assert facts(merged, ev)["no_duplicates"] == 1.0 and len(merged.events) == len(script.events)
    ball_off = script.model_copy(update={"events": [
        e.model_copy(update={"source_track": None, "origin": "screenplay", "azimuth_deg": 30.0, "depth_m": 4.0})
        if e.source_track == 1 else e for e in script.events]})
    retie = next(p for p in propose(ball_off, ev, facts(ball_off, ev)) if p.operator == "retie_cue")
    tied = apply_edits(ball_off, retie.edits, ev)
    assert any(e.source_track == 1 for e in tied.events)
    assert facts(tied, ev)["track_coverage"] > facts(ball_off, ev)["track_coverage"]


def test_cli_checks_the_decomposition_flags(tmp_path):
    from typer.testing import CliRunner

    from foleydesigner.cli import app

    for args, message in ((["--tot-k", "0"], "--tot-k"), (["--tot-weights", "1,2"], "--tot-weights"),
                          (["--fallback", "random"], "--fallback"), (["--llm-scorer", "gpt4"], "provider:model")):
        r = CliRunner().invoke(app, ["run", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "o"), *args])
        assert r.exit_code == 2 and message in r.output, (args, r.output)


def test_fallback_warnings_reach_the_graph_state(tmp_path):
    from langchain_core.messages import AIMessage

    model = ScriptedChatModel(responses=[AIMessage("I would rather not.")])
    register_chat_model_factory("scripted", lambda name, **kw: model)
    try:
        out, tree = run_tot(tmp_path, llm="scripted:x", fallback="heuristic", tot_depth=1)
    finally:
        unregister_chat_model_factory("scripted")
    nodes = [w.split(":")[0] for w in out["warnings"] if "--fallback heuristic" in w]
    assert {"filmscribe.generate", "filmscribe.validate", "script_writer", "tot.expand", "tot.judge"} <= set(nodes)
    assert tree.nodes[1].expansion["operator"] == "script_writer" and tree.winner
    lines = [json.loads(s) for s in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert sum(ln["kind"] == "fallback" for ln in lines) == len(nodes)
