"""A writer model whose script the schema refuses over some events (a negative start, a layer 'middle', an id
used twice, NaN times, an end before its start), even after the re-ask: the readable events are kept, the rest
dropped, each with a warning; the run goes on without --fallback and exits 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foleydesigner import cli
from foleydesigner.agents.salvage import salvage_script
from foleydesigner.bench.synthetic import make_clip
from tests.llm_server import FakeLLMServer

SCENE = {"description": "street", "location": "outdoor", "room_size": "open", "time_of_day": "day"}


def _e(id_: str, label: str, layer: str, a: float, b: float, **kw) -> dict:
    return {"id": id_, "label": label, "layer": layer, "start_s": a, "end_s": b, **kw}


BROKEN = {"duration_s": 2.0, "scene": SCENE, "events": [
    _e("air", "wind", "bg", 0.0, 2.0, intensity=1.7),
    _e("car", "engine_passby", "middle", -0.5, 1.9, source_track=0, onsets_s=[-0.2, 0.4]),
    _e("car", "engine_passby", "fg", 0.2, 1.8, source_track=0, mood="loud"),
    _e("back", "door_slam", "fg", 1.5, 0.5),
    _e("gone", "door_slam", "fg", -3.0, -1.0),
    _e("odd", "laser_zap", "sideways", 0.0, 1.0)]}


def test_salvage_keeps_the_readable_events_and_says_what_it_did():
    script, notes = salvage_script(BROKEN)
    got = {e.id: e for e in script.events}
    assert list(got) == ["air", "car", "car_2"]
    assert got["air"].intensity == 1.0
    assert (got["car"].layer, got["car"].start_s, got["car"].onsets_s) == ("fg", 0.0, [0.4])  # lexicon layer, clamped
    assert notes == ["salvaged: car: start -0.5 s clamped to 0, layer 'middle' read as fg, onsets before 0 or not "
                     "times left out",
                     "salvaged: car: left out mood",
                     "salvaged: car: the id is used twice; this one is car_2",
                     "salvaged: back: ends (0.5 s) before it starts (1.5 s); dropped",
                     "salvaged: gone: -3--1 s is before the clip; dropped",
                     "salvaged: odd: layer 'sideways' is neither fg nor bg; dropped"], notes
    nan = salvage_script({"events": [_e("n", "wind", "bg", float("nan"), 1.0), "junk"], "scene": {"location": "moon"}})
    assert nan is not None and nan[0].events == [] and nan[0].scene.location == "unknown"
    assert salvage_script([1, 2]) is None and salvage_script({"events": "none"}) is None


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "car.mp4"
    make_clip("single_mover", path, width=320, height=180, fps=25.0, duration_s=2.0, seed=0)
    return path


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_writer_that_breaks_the_schema_twice_is_salvaged_not_lost(tmp_path, clip, monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    play = tmp_path / "street.fountain"
    play.write_text("EXT. CITY STREET - DAY\n\nA grey afternoon. A car drives past.\n")
    out = tmp_path / "run"
    keep = {"candidates": [{"principle": "emotional_modulation", "rationale": "a softer bed", "edits": [
        {"op": "update", "event_id": "air", "changes": {"intensity": 0.3}}]}]}
    with FakeLLMServer("openai", {"FoleyScript": BROKEN, "ScriptCandidates": keep}) as server:
        r = CliRunner().invoke(cli.app, ["run", str(clip), "--script", str(play), "--out", str(out),
                                         "--llm-role", f"writer=openai:broken@{server.url}/v1", "--tot-depth", "1"],
                               catch_exceptions=False)  # no --fallback: the answer is read, not replaced
    assert r.exit_code == 0, r.output
    assert sum(q["tool"] == "FoleyScript" for q in server.requests) >= 2  # asked, and re-asked with the error
    script = json.loads((out / "script.json").read_text())
    warnings = json.loads((out / "run.json").read_text())["warnings"]
    by_id = {e["id"]: e for e in script["events"]}
    assert by_id["car"]["layer"] == "fg" and by_id["car"]["start_s"] == 0.0 and "air" in by_id
    assert not {"back", "gone", "odd"} & set(by_id) and not any(e["id"] in ("back", "gone", "odd")
                                                               for e in script["candidates"])
    assert {p.stem for p in (out / "stems").iterdir()} == set(by_id)
    said = [w for w in warnings if w.startswith("script_writer: salvaged:")]
    assert len(said) == 4 and said[-1] == "script_writer: salvaged: 3 more events changed or dropped the same way"
    trace = [json.loads(line) for line in (out / "trace.jsonl").read_text().splitlines()]
    assert any(t.get("kind") == "salvage" and t["node"] == "script_writer" for t in trace)
