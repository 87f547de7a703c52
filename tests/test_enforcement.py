"""Grounding enforced: models that hallucinate (scripted local OpenAI and Anthropic servers) cannot put a
contradicted or invented sound into script.json's events or stems/; each run exits 0 with short warnings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from foleydesigner import cli
from foleydesigner.agents.enforce import UNSUPPORTED_CONFIDENCE, enforce, nearest_class
from foleydesigner.agents.grounding import Ground
from foleydesigner.bench.synthetic import make_clip
from foleydesigner.schemas import FoleyScript, SceneContext, SoundEvent
from tests.helpers import linear_track, video_info
from tests.llm_server import FakeLLMServer

DAY_STREET = "EXT. CITY STREET - DAY\n\nA grey afternoon. A car drives past.\n"
READING_ROOM = ("INT. READING ROOM - NIGHT\n\nEveryone sits at the long tables, reading. Nobody gets up.\n\n"
                "A CLOCK TICKS on the far wall.\n")
OUTDOOR_DAY = {"description": "street", "location": "outdoor", "room_size": "open", "time_of_day": "day"}
MAX_WARNING_CHARS = 200


def _ev(id_: str, label: str, layer: str, a: float, b: float, **kw) -> dict:
    return SoundEvent(id=id_, label=label, layer=layer, start_s=a, end_s=b, **kw).model_dump(mode="json")


def hallucinated(duration: float) -> dict:
    """What a writer model did: a night bed and a storm in a DAY scene, footsteps nobody makes, an event far past
    the clip's end, a class that does not exist, around one honest bed."""
    return {"duration_s": duration, "scene": OUTDOOR_DAY, "events": [
        _ev("rain", "rain_heavy", "bg", 0.0, duration, intensity=0.9, description="heavy rain"),
        _ev("crickets", "crickets", "bg", 0.0, duration, intensity=0.9, description="crickets chirp"),
        _ev("steps", "footsteps", "fg", 0.2, duration, onsets_s=[0.4, 0.9], description="someone walks"),
        _ev("late", "door_slam", "fg", 42.0, 55.0, onsets_s=[42.5], description="a door far later"),
        _ev("zap", "laser_zap", "fg", 0.5, 1.0, onsets_s=[0.5], description="a sci-fi zap"),
        _ev("air", "wind", "bg", 0.0, duration, intensity=0.35, description="outdoor air")]}


def test_nearest_class_reads_close_names_and_refuses_inventions():
    assert nearest_class("footsteps") == "footsteps"
    assert nearest_class("heavy_rain") == "rain_heavy"  # a lexicon phrase
    assert nearest_class("rain_heavvy") == "rain_heavy"  # a misspelling (difflib ratio above CLOSE_MATCH)
    assert nearest_class("door_slamming") == "door_slam" and nearest_class("crickets_chirping") == "crickets"
    assert nearest_class("laser_zap") is None and nearest_class("spaceship_hum") is None and nearest_class("") is None


def test_enforce_holds_back_what_the_facts_reject_and_says_so():
    v = video_info(4.0)
    walker = linear_track(0, t0=0.2, t1=3.8, x0=60, x1=560, h=140, onsets=[0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    ground = Ground.of(v, [walker], DAY_STREET, SceneContext.model_validate(OUTDOOR_DAY), 0.5)
    script = FoleyScript.model_validate(hallucinated(4.0))
    out, warnings = enforce(script, ground)
    kept = {e.id: e for e in out.events}
    held = {e.id: e for e in out.candidates}
    assert "air" in kept and not {"rain", "crickets", "steps", "late", "zap"} & set(kept)
    assert held["crickets"].confidence == 0.0 and "belongs to night/dusk/dawn" in held["crickets"].evidence[-1]
    assert held["rain"].confidence == UNSUPPORTED_CONFIDENCE and held["steps"].confidence == UNSUPPORTED_CONFIDENCE
    assert "late" not in held and "zap" not in held  # outside the clip / no sound class: dropped outright
    # the screenplay's car is added: no event plays it
    assert [e.label for e in out.events if e.origin == "screenplay"] == ["engine_passby"]
    assert all(len(w) <= MAX_WARNING_CHARS and "\n" not in w for w in warnings)
    assert "grounding: held back crickets: crickets belongs to night/dusk/dawn, but the screenplay's heading says day" \
        " (EXT. CITY STREET - DAY)" in warnings
    assert "grounding: dropped late (door_slam): 42-55 s is outside the 4.00 s clip" in warnings
    assert "grounding: dropped zap: 'laser_zap' is no sound class and none is close" in warnings
    # enforced twice, nothing more changes: the script is a fixed point, so a later pass adds no warnings
    again, more = enforce(out, ground)
    assert more == [] and [e.id for e in again.events] == [e.id for e in out.events]
    # a lower --min-confidence lets the unsupported ones through, never the contradicted one
    low = Ground.of(v, [walker], DAY_STREET, SceneContext.model_validate(OUTDOOR_DAY), 0.1)
    lowered, _ = enforce(script, low)
    assert {"rain", "steps"} <= {e.id for e in lowered.events} and "crickets" not in {e.id for e in lowered.events}
    # an event tied to a walker where the walker is not
    late = FoleyScript.model_validate({**hallucinated(4.0), "events": [
        _ev("ghost", "footsteps", "fg", 3.9, 3.9, source_track=0)]})
    walker_short = linear_track(0, t0=0.2, t1=1.5, x0=60, x1=560, h=140, onsets=[0.5, 1.0])
    short = Ground.of(v, [walker_short], DAY_STREET, SceneContext.model_validate(OUTDOOR_DAY), 0.5)
    out_late, warned = enforce(late, short)
    assert "ghost" not in {e.id for e in out_late.events} and any("tied to track 0, on screen 0.20-1.52 s" in w
                                                                 for w in warned)
    # a clamp only where the overlap is real
    part = FoleyScript.model_validate({**hallucinated(4.0), "events": [_ev("air", "wind", "bg", 2.0, 9.0)]})
    air = next(e for e in enforce(part, ground)[0].events if e.id == "air")
    assert (air.start_s, air.end_s) == (2.0, 4.0)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "car.mp4"
    make_clip("single_mover", path, width=320, height=180, fps=25.0, duration_s=2.0, seed=0)
    return path


@pytest.fixture(autouse=True)
def no_provider_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_BASE_URL",
                 "ANTHROPIC_API_URL"):
        monkeypatch.delenv(name, raising=False)


def _outputs(out: Path) -> tuple[FoleyScript, set[str], list[str]]:
    script = FoleyScript.model_validate_json((out / "script.json").read_text())
    stems = {p.stem for p in (out / "stems").iterdir()}
    return script, stems, json.loads((out / "run.json").read_text())["warnings"]


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_hallucinating_openai_writer_renders_none_of_its_inventions(tmp_path, clip):
    play = tmp_path / "street.fountain"
    play.write_text(DAY_STREET)
    out = tmp_path / "run"
    with FakeLLMServer("openai", {"FoleyScript": hallucinated(2.0)}) as server:
        r = CliRunner().invoke(cli.app, ["run", str(clip), "--script", str(play), "--out", str(out),
                                         "--llm-role", f"writer=openai:halluc@{server.url}/v1",
                                         "--fallback", "heuristic", "--tot-depth", "1"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert {q["tool"] for q in server.requests} >= {"FoleyScript"}  # the model was asked (and re-asked)
    script, stems, warnings = _outputs(out)
    labels = {e.label for e in script.events}
    assert not {"rain_heavy", "crickets", "footsteps", "laser_zap", "door_slam"} & labels
    assert not {"rain", "crickets", "steps", "late", "zap"} & stems and stems == {e.id for e in script.events}
    assert script.scene.time_of_day == "day" and "engine_passby" in labels  # the car the picture and story show
    assert len(warnings) == len(set(warnings))  # a fallback warned once per ToT node is stored once
    mine = [w for w in warnings if w.startswith(("script_writer: held", "script_writer: dropped", "tot.select:"))]
    assert mine and all(len(w) <= MAX_WARNING_CHARS for w in mine)
    assert any("42-55 s lies outside the 2.00 s clip" in w for w in mine)
    assert any("'laser_zap' is no sound class" in w for w in mine)


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_screenplay_overrules_an_anthropic_writer_and_an_openai_scribe(tmp_path, clip):
    play = tmp_path / "reading.fountain"
    play.write_text(READING_ROOM)
    scene = {"summary": "people walk outside in the rain", "scene": OUTDOOR_DAY, "entities": []}
    storm = {"duration_s": 2.0, "scene": OUTDOOR_DAY, "events": [
        _ev("rain", "rain_heavy", "bg", 0.0, 2.0, intensity=0.9, description="rain"),
        _ev("thunder", "thunder", "bg", 0.5, 1.8, intensity=0.9, description="thunder"),
        _ev("crickets", "crickets", "bg", 0.0, 2.0, description="crickets"),
        _ev("steps", "footsteps", "fg", 0.1, 1.9, onsets_s=[0.3, 0.8, 1.3], description="people walk")]}
    out = tmp_path / "run"
    with FakeLLMServer("openai", {"SceneScript": scene}) as local, \
            FakeLLMServer("anthropic", {"FoleyScript": storm}) as cloud:
        r = CliRunner().invoke(cli.app, [
            "run", str(clip), "--script", str(play), "--out", str(out), "--max-scribe-iters", "1",
            "--llm-role", f"scribe=openai:scene@{local.url}/v1",
            "--llm-role", f"writer=anthropic:claude-halluc@{cloud.url}", "--fallback", "heuristic",
            "--tot-depth", "1"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert cloud.paths == {"/v1/messages"} and "/v1/chat/completions" in local.paths
    script, stems, warnings = _outputs(out)
    assert (script.scene.location, script.scene.time_of_day) == ("indoor", "night")
    labels = {e.label for e in script.events}
    assert not {"rain_heavy", "thunder", "crickets", "footsteps"} & labels
    assert "clock_tick" in labels  # the screenplay's CAPS cue is heard
    assert {e.id for e in script.events} == stems and not {"rain", "thunder", "crickets", "steps"} & stems
    assert any("replaced by indoor/night from INT. READING ROOM - NIGHT" in w for w in warnings)
    assert any(w.startswith("script_writer: held back steps: footsteps, but the screenplay says 'Everyone sits")
               for w in warnings)
    assert all(len(w) <= 300 and "\n" not in w for w in warnings), "\n".join(warnings)


def test_seated_people_make_no_steps_even_where_the_tracker_sees_walkers():
    """The demo's case: a picture whose tracker finds 'walkers', a screenplay where everyone sits and a clock
    ticks, a model that says outdoor/day with a storm. The story's place, time and stillness win; the clock plays."""
    from foleydesigner.agents.script_writer import track_event

    v = video_info(4.0)
    walkers = [linear_track(i, t0=0.2, t1=3.8, x0=60 + 40 * i, x1=560, h=140, onsets=[0.5, 1.0, 1.5, 2.0])
               for i in range(3)]
    day = SceneContext.model_validate(OUTDOOR_DAY)
    ground = Ground.of(v, walkers, READING_ROOM, day, 0.5)
    assert ground.still.startswith("Everyone sits at the long tables")
    storm = FoleyScript(duration_s=4.0, scene=day, events=[
        *(track_event(t, day) for t in walkers),
        SoundEvent(id="rain", label="rain_heavy", layer="bg", start_s=0.0, end_s=4.0),
        SoundEvent(id="thunder", label="thunder", layer="bg", start_s=1.0, end_s=3.0),
        SoundEvent(id="crickets", label="crickets", layer="bg", start_s=0.0, end_s=4.0)])
    assert not any("tracked movers" in p for p in ground.script_violations(storm))  # no demand to voice them
    out, warnings = enforce(storm, ground)
    assert (out.scene.location, out.scene.time_of_day) == ("indoor", "night")
    assert [e.label for e in out.events] == ["clock_tick"]
    assert {e.label for e in out.candidates} == {"footsteps", "rain_heavy", "thunder", "crickets"}
    assert all(len(w) <= MAX_WARNING_CHARS for w in warnings) and len(warnings) == 1 + 3 + 3 + 1 + 1
    assert warnings[-1] == "grounding: kept 1 event: clock_tick"


def test_three_hundred_invented_events_give_a_few_lines_and_a_count():
    """A model that writes 300 knocks nobody asked for: all are held back, and the warnings say so in a handful of
    lines (three in full, then a count), not one line per event on the console and in run.json."""
    v = video_info(2.0)
    ground = Ground.of(v, [], DAY_STREET, SceneContext.model_validate(OUTDOOR_DAY), 0.5)
    knocks = [_ev(f"k{i}", "door_knock", "fg", 0.005 * i, 0.005 * i + 0.1, onsets_s=[0.005 * i]) for i in range(300)]
    far = [_ev(f"late{i}", "door_slam", "fg", 40.0 + i, 41.0 + i) for i in range(5)]
    script = FoleyScript.model_validate({**hallucinated(2.0), "events": [*knocks, *far,
                                                                        _ev("air", "wind", "bg", 0.0, 2.0)]})
    out, warnings = enforce(script, ground)
    assert [e.id for e in out.events if e.origin != "screenplay"] == ["air"]
    assert len(out.candidates) == 300  # every knock is recorded, none rendered
    assert len(warnings) <= 12 and all(len(w) <= MAX_WARNING_CHARS for w in warnings), warnings
    assert "grounding: held back 297 more events the same way (no tracked source, screenplay cue or place bed)" \
        in warnings
    assert "grounding: dropped 2 more events the same way (outside the 2.00 s clip)" in warnings
    assert sum(w.startswith("grounding: held back k") for w in warnings) == 3


def test_two_scene_headings_rule_out_only_what_both_scenes_rule_out():
    """INT. KITCHEN then EXT. STREET, both DAY: which part of the clip is which scene is not known, so the street's
    traffic and the kitchen's room tone both stay; crickets, wrong for either DAY scene, are held back; the
    script's place is not forced to the first scene's."""
    v = video_info(4.0)
    play = "INT. KITCHEN - DAY\n\nA kettle sits on the stove.\n\nEXT. STREET - DAY\n\nA car drives past.\n"
    ground = Ground.of(v, [], play, SceneContext.model_validate(OUTDOOR_DAY), 0.5)
    script = FoleyScript.model_validate({"duration_s": 4.0, "scene": OUTDOOR_DAY, "events": [
        _ev("tone", "room_tone", "bg", 0.0, 2.0), _ev("cars", "traffic", "bg", 2.0, 4.0),
        _ev("crickets", "crickets", "bg", 0.0, 4.0)]})
    out, warnings = enforce(script, ground, add_cues=False)
    assert {e.id for e in out.events} == {"tone", "cars"} and [e.id for e in out.candidates] == ["crickets"]
    assert out.scene.location == "outdoor" and out.scene.time_of_day == "day"
    assert any("crickets belongs to night/dusk/dawn, but the screenplay's heading says day (INT. KITCHEN - DAY / "
               "EXT. STREET - DAY)" in w for w in warnings)
    # one INT. heading alone still rules the street out
    inside = Ground.of(v, [], "INT. KITCHEN - DAY\n\nA kettle sits on the stove.\n",
                       SceneContext.model_validate(OUTDOOR_DAY), 0.5)
    assert "cars" in {e.id for e in enforce(script, inside, add_cues=False)[0].candidates}


def test_a_sound_tied_to_a_track_that_cannot_make_it_is_held_back():
    """A writer ties a gunshot, an explosion and a dog bark to the passing car's track: a car passing makes an
    engine sound, so none of them has picture support; the car's own engine (passing or idling) does."""
    from foleydesigner.agents.evidence import sound_for_track

    v = video_info(4.0)
    car = linear_track(0, t0=0.0, t1=3.9, x0=0, x1=600, h=90, label="vehicle", motion="moving")
    car = car.model_copy(update={"evidence": {"area_frac": 0.08, "aspect_w_h": 2.2, "travel_widths": 0.9}})
    day = SceneContext.model_validate(OUTDOOR_DAY)
    assert sound_for_track(car, day).label == "engine_passby" and sound_for_track(car, day).confidence >= 0.5
    ground = Ground.of(v, [car], DAY_STREET, day, 0.5)
    script = FoleyScript.model_validate({"duration_s": 4.0, "scene": OUTDOOR_DAY, "events": [
        _ev("car", "engine_passby", "fg", 0.0, 3.9, source_track=0),
        _ev("idle", "engine_idle", "fg", 0.0, 3.9, source_track=0),
        _ev("bang", "gunshot", "fg", 0.5, 0.6, onsets_s=[0.5], source_track=0),
        _ev("boom", "explosion", "fg", 1.0, 1.5, onsets_s=[1.0], source_track=0),
        _ev("woof", "dog_bark", "fg", 1.2, 1.4, onsets_s=[1.2], source_track=0)]})
    out, warnings = enforce(script, ground, add_cues=False)
    assert {e.id for e in out.events} == {"car", "idle"}
    assert {e.id for e in out.candidates} == {"bang", "boom", "woof"}
    assert "grounding: held back bang (gunshot): no tracked source, screenplay cue or place bed" in warnings


@pytest.mark.allow_hosts(["127.0.0.1"])
@pytest.mark.parametrize("fallback", [True, False])
def test_a_key_from_a_custom_variable_echoed_by_a_401_is_never_written(tmp_path, clip, monkeypatch, fallback):
    """A role's key read from its own api_key_env (foley.toml), echoed back whole by the server's 401 (as the
    header and as the bare key): not on the console, not in run.json, trace.jsonl, report.html or OUT.failed."""
    key = "vllm-local-TOPSECRET-9f8e7d"
    monkeypatch.setenv("MY_VLLM_KEY", key)
    out = tmp_path / "run"
    with FakeLLMServer("openai", status=401, error="Incorrect API key provided: {auth} (key {key})") as server:
        config = tmp_path / "foley.toml"
        config.write_text(('fallback = "heuristic"\n' if fallback else "") + '[roles.writer]\nbackend = "openai:qwen"\n'
                          f'base_url = "{server.url}/v1"\napi_key_env = "MY_VLLM_KEY"\n')
        r = CliRunner().invoke(cli.app, ["run", str(clip), "--out", str(out), "--config", str(config),
                                         "--tot-depth", "1"])
    assert server.requests, r.output
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {key}"  # it was sent
    assert r.exit_code == (0 if fallback else 2), r.output
    assert "401" in r.output and key not in r.output and "TOPSECRET" not in r.output
    folder = out if fallback else tmp_path / "run.failed"
    written = [p for p in folder.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".html")]
    assert any(p.name == "trace.jsonl" for p in written)
    assert not [p.name for p in written if "TOPSECRET" in p.read_text(errors="replace")]


def test_a_screenplay_sound_no_event_plays_is_added_on_the_track_that_makes_it():
    """'A car drives past' with the car tracked on screen and no event for it: the added car is the track's
    (its span, tied to it), not an off-screen guess at the sentence's place in the text."""
    v = video_info(4.0)
    car = linear_track(0, t0=0.3, t1=3.6, x0=0, x1=600, h=90, label="vehicle", motion="moving")
    car = car.model_copy(update={"evidence": {"area_frac": 0.08, "aspect_w_h": 2.2, "travel_widths": 0.9}})
    ground = Ground.of(v, [car], DAY_STREET, SceneContext.model_validate(OUTDOOR_DAY), 0.5)
    script = FoleyScript.model_validate({"duration_s": 4.0, "scene": OUTDOOR_DAY,
                                         "events": [_ev("air", "wind", "bg", 0.0, 4.0)]})
    out, warnings = enforce(script, ground)
    (added,) = [e for e in out.events if e.id != "air"]
    assert (added.label, added.source_track, added.origin) == ("engine_passby", 0, "both")
    assert (added.start_s, added.end_s) == (round(car.start_s, 3), round(car.end_s, 3)) and added.evidence[0].startswith("screenplay: A car drives")
    assert warnings == [f"grounding: added {added.id}: the screenplay names it ('A car drives past.')"]


def test_onsets_outside_their_event_are_left_out():
    v = video_info(4.0)
    ground = Ground.of(v, [], None, SceneContext.model_validate(OUTDOOR_DAY), 0.1)
    script = FoleyScript.model_validate({"duration_s": 4.0, "scene": OUTDOOR_DAY, "events": [
        _ev("knock", "door_knock", "fg", 0.5, 1.0, onsets_s=[0.2, 0.5, 0.8, 1.5, 3.9])]})
    out, warnings = enforce(script, ground)
    assert out.events[0].onsets_s == [0.5, 0.8]
    assert warnings == ["grounding: knock: left out 3 onsets outside its 0.5-1 s"]


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_writer_model_past_max_events_is_cut_to_the_limit_not_a_failed_run(tmp_path, clip):
    """The screenplay names one knock; the model writes 60, each on the cue. The run does not stop blaming the
    screenplay: the model's script keeps its bed and the first knocks up to --max-events, the rest held back."""
    play = tmp_path / "knock.fountain"
    play.write_text(DAY_STREET + "\nSomeone KNOCKS on the door.\n")
    knocks = [_ev(f"k{i}", "door_knock", "fg", 0.03 * i, 0.03 * i + 0.1, onsets_s=[0.03 * i]) for i in range(60)]
    answer = {"duration_s": 2.0, "scene": OUTDOOR_DAY, "events": [*knocks, _ev("air", "wind", "bg", 0.0, 2.0)]}
    out = tmp_path / "run"
    with FakeLLMServer("openai", {"FoleyScript": answer}) as server:
        r = CliRunner().invoke(cli.app, ["run", str(clip), "--script", str(play), "--out", str(out), "--fallback",
                                         "heuristic", "--llm-role", f"writer=openai:many@{server.url}/v1",
                                         "--tot-depth", "1", "--max-events", "10"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    script, stems, warnings = _outputs(out)
    assert len(script.events) <= 10 and len(stems) == len(script.events) and "air" in stems
    assert sum(e.id.startswith("k") for e in script.candidates) >= 51
    assert "script_writer: held back 51 of the model's 61 events over --max-events 10 (a stem each): kept the beds " \
        "and the best-supported sounds" in warnings


def test_numbers_that_are_not_finite_never_reach_a_renderer():
    """A model (or an edit) that gives an azimuth of NaN, an infinite depth or a NaN generator parameter: the
    schema reads them, the renderer cannot place them. Enforcement leaves them out with a warning; a review edit
    with them is refused."""
    from foleydesigner.agents.review import validate_edit

    v = video_info(2.0)
    ground = Ground.of(v, [], None, SceneContext.model_validate(OUTDOOR_DAY), 0.5)
    raw = {"duration_s": 2.0, "scene": OUTDOOR_DAY, "events": [
        {**_ev("air", "wind", "bg", 0.0, 2.0), "azimuth_deg": float("nan"), "depth_m": float("inf"),
         "params": {"gain": float("nan"), "gust": 0.3}}]}
    out, warnings = enforce(FoleyScript.model_validate(raw), ground)
    (air,) = out.events
    assert air.azimuth_deg is None and air.depth_m is None and air.params == {"gust": 0.3}
    assert warnings == ["grounding: air: azimuth_deg, depth_m, params.gain not a finite number; left out"]
    _, errors = validate_edit(raw, raw, 2.0, set())
    assert errors == ["event air: azimuth_deg, depth_m, params.gain must be a finite number"]


def test_generator_parameters_a_class_cannot_play_are_left_out_or_clipped():
    """A model's params the procedural generator refuses ('vehicle': 'spaceship', a number far out of its range)
    ended the run with a traceback; enforcement leaves them out or clips them, a review edit with them is refused."""
    from foleydesigner.agents.review import validate_edit
    from foleydesigner.generation.procedural import param_options, synthesize

    options = param_options("engine_passby")
    lo, hi = next((k, v) for k, v in options.items() if not isinstance(v[0], str))[1]
    number = next(k for k, v in options.items() if not isinstance(v[0], str))
    v = video_info(2.0)
    ground = Ground.of(v, [], None, SceneContext.model_validate(OUTDOOR_DAY), 0.1)
    raw = {"duration_s": 2.0, "scene": OUTDOOR_DAY, "events": [
        _ev("car", "engine_passby", "fg", 0.1, 1.9, params={"vehicle": "spaceship", number: hi * 1e6, "x": 1})]}
    with pytest.raises(ValueError):
        synthesize("engine_passby", duration_s=2.0, sr=16000, params={"vehicle": "spaceship"},
                   rng=np.random.default_rng(0))
    out, warnings = enforce(FoleyScript.model_validate(raw), ground)
    (car,) = out.events
    assert "vehicle" not in car.params and car.params[number] == hi and car.params["x"] == 1
    assert warnings == [f"grounding: car: params vehicle='spaceship', {number}={hi * 1e6!r} cannot be played; "
                        "left out or clipped"]
    played = synthesize("engine_passby", duration_s=2.0, sr=16000, rng=np.random.default_rng(0),
                        params={k: p for k, p in car.params.items() if k in options})
    assert np.isfinite(played).all() and np.abs(played).max() > 0
    _, errors = validate_edit(raw, raw, 2.0, set())
    assert errors and errors[0].startswith("event car: params vehicle='spaceship'") and lo <= hi

