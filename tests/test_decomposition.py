"""Heuristic decomposition: FilmScribe generate/validate loop and the FoleyScriptWriter's layered script."""

import json

from foleydesigner.agents.filmscribe import heuristic_scribe, heuristic_validate
from foleydesigner.agents.script_writer import heuristic_write
from foleydesigner.graphs.filmscribe import build_filmscribe_graph
from tests.helpers import context, linear_track, video_info

SCREENPLAY = """EXT. PARK - DAY

A BALL bounces across the path. Joggers run on the gravel. Off to the right, a DOG BARKS.
Birds sing in the trees."""


def tracks():
    return [
        linear_track(0, t0=0.0, t1=3.5, x0=60, x1=560, onsets=[0.3, 0.8, 1.3, 1.8, 2.3, 2.8, 3.3]),
        linear_track(1, t0=0.5, t1=3.0, x0=500, x1=300, label="object", motion="bouncing", h=30, onsets=[0.9, 1.6, 2.2]),
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
