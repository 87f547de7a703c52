"""Review before rendering: the graph pauses with interrupt() after the script is written; a person accepts or
edits it; an edit is checked like an LLM's answer and rendered; the same pause works in Studio (a checkpointer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foleydesigner import cli
from foleydesigner.agents.review import validate_edit
from foleydesigner.bench.synthetic import make_clip
from foleydesigner.schemas import FoleyScript

EDIT = {"events": [
    {"id": "knock", "label": "door_knock", "layer": "fg", "start_s": 0.5, "end_s": 1.0, "onsets_s": [0.5, 0.7],
     "azimuth_deg": 30.0},
    {"id": "air", "label": "wind", "layer": "bg", "start_s": 0.0, "end_s": 2.0, "intensity": 0.3}]}
BAD = {"events": [
    {"id": "zap", "label": "laser_zap", "layer": "fg", "start_s": 0.5, "end_s": 1.0},
    {"id": "late", "label": "door_knock", "layer": "fg", "start_s": 1.0, "end_s": 9.0},
    {"id": "mid", "label": "wind", "layer": "middle", "start_s": 0.0, "end_s": 2.0}]}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "car.mp4"
    make_clip("single_mover", path, width=320, height=180, fps=25.0, duration_s=2.0, seed=0)
    return path


def test_an_edit_is_checked_like_an_llm_answer():
    original = {"duration_s": 2.0, "scene": {"location": "outdoor"}, "events": []}
    script, errors = validate_edit(EDIT, original, 2.0, {0})
    assert errors == [] and [e.id for e in script.events] == ["knock", "air"] and script.scene.location == "outdoor"
    assert validate_edit(None, original, 2.0, set())[0] == FoleyScript.model_validate(original)
    assert validate_edit("accept", original, 2.0, set())[1] == []
    _, errors = validate_edit(BAD, original, 2.0, {0})
    assert errors == ["event mid layer: Input should be 'fg' or 'bg'"]  # the schema first, as with a model's answer
    _, errors = validate_edit({"events": BAD["events"][:2] + [{**EDIT["events"][0], "source_track": 7}]}, original, 2.0, {0})
    assert errors == ["event zap: 'laser_zap' is not a sound class (foley sounds lists them)",
                      "event late: 1-9 s does not fit the 2.00 s clip",
                      "event knock: source_track 7 is no track of this clip (0)"]
    _, errors = validate_edit({"events": [{**EDIT["events"][0], "label": "rain_heavvy"}]}, original, 2.0, set())
    assert errors == ["event knock: 'rain_heavvy' is not a sound class (did you mean rain_heavy?)"]
    assert validate_edit("{not json", original, 2.0, set())[1][0].startswith("the edited script is not JSON")


def test_studio_pauses_and_resumes_with_the_edit(tmp_path, clip):
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from foleydesigner.context import RunContext
    from foleydesigner.graphs.foley import build_foley_graph

    graph = build_foley_graph(checkpointer=InMemorySaver())
    ctx = RunContext(work_dir=tmp_path / "w", review=True, tot_depth=1)
    config = {"configurable": {"thread_id": "studio"}}
    first = graph.invoke({"video_path": str(clip)}, config=config, context=ctx)
    (pause,) = first["__interrupt__"]
    assert pause.value["errors"] == [] and pause.value["duration_s"] == 2.0
    assert json.loads(Path(pause.value["path"]).read_text()) == pause.value["script"]  # what the person edits
    assert not first.get("stems") and graph.get_state(config).next == ("review",)  # nothing rendered yet
    again = graph.invoke(Command(resume=BAD), config=config, context=ctx)  # a bad edit: paused again, no crash
    assert again["__interrupt__"][0].value["errors"] == ["event mid layer: Input should be 'fg' or 'bg'"]
    done = graph.invoke(Command(resume=EDIT), config=config, context=ctx)
    assert "__interrupt__" not in done
    assert [(e["id"], e["label"]) for e in done["script"]["events"]] == [("knock", "door_knock"), ("air", "wind")]
    assert sorted(s["event_id"] for s in done["stems"]) == ["air", "knock"]
    assert sorted(p.name for p in (tmp_path / "w" / "stems").iterdir()) == ["air.wav", "knock.wav"]
    assert "review: the script was edited (2 events)" in done["warnings"]


def test_studio_state_edit_with_an_unknown_class_is_grounded_not_a_crash(tmp_path, clip):
    from langgraph.checkpoint.memory import InMemorySaver

    from foleydesigner.context import RunContext
    from foleydesigner.graphs.foley import build_foley_graph

    graph = build_foley_graph(checkpointer=InMemorySaver())
    ctx = RunContext(work_dir=tmp_path / "w", tot_depth=1)
    config = {"configurable": {"thread_id": "edit"}}
    graph.invoke({"video_path": str(clip)}, config=config, context=ctx, interrupt_before=["review"])
    script = graph.get_state(config).values["script"]
    zap = {**EDIT["events"][0], "id": "zap", "label": "laser_zap"}
    heavy = {**EDIT["events"][1], "id": "storm", "label": "heavy_rain"}
    graph.update_state(config, {"script": {**script, "events": [*script["events"], zap, heavy]}})
    done = graph.invoke(None, config=config, context=ctx)
    labels = {e["id"]: e["label"] for e in done["script"]["events"]}
    assert "zap" not in labels and "review: dropped zap: 'laser_zap' is no sound class and none is close" in done["warnings"]
    assert "review: storm: unknown class 'heavy_rain' played as rain_heavy" in done["warnings"]


def _run(clip: Path, out: Path, text: str):
    return CliRunner().invoke(cli.app, ["run", str(clip), "--out", str(out), "--review", "--tot-depth", "1"],
                              input=text, catch_exceptions=False)


def test_cli_review_renders_the_edited_script(tmp_path, clip):
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(EDIT))
    out = tmp_path / "out"
    r = _run(clip, out, f"{edited}\n")
    assert r.exit_code == 0, r.output
    assert "Foley script for review" in r.output and "Enter accepts it" in r.output
    script = FoleyScript.model_validate_json((out / "script.json").read_text())
    assert [e.id for e in script.events] == ["knock", "air"]
    assert sorted(p.name for p in (out / "stems").iterdir()) == ["air.wav", "knock.wav"]
    assert any(r["node"] == "review" and r.get("decision") == "edited"
               for r in map(json.loads, (out / "trace.jsonl").read_text().splitlines()))


def test_cli_review_accepts_on_enter_and_refuses_a_bad_edit(tmp_path, clip):
    accepted = tmp_path / "accepted"
    assert _run(clip, accepted, "\n").exit_code == 0
    assert (accepted / "mix_stereo.wav").is_file()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"events": BAD["events"][:2]}))
    out = tmp_path / "out"
    r = _run(clip, out, f"{bad}\n")
    assert r.exit_code == 2
    error = next(line for line in r.output.splitlines() if line.startswith("error:"))
    assert "'laser_zap' is not a sound class" in r.output and "1-9 s does not fit the 2.00 s clip" in r.output
    assert error.startswith("error: --review:") and not out.exists()


def test_cli_review_edits_in_the_editor(tmp_path, clip, monkeypatch):
    import sys

    editor = tmp_path / "editor.py"  # stands for a person: keeps the scene, replaces the events
    editor.write_text("import json, sys\np = sys.argv[1]\ns = json.load(open(p))\n"
                      f"s['events'] = {EDIT['events']!r}\njson.dump(s, open(p, 'w'))\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    out = tmp_path / "out"
    r = _run(clip, out, "e\n")
    assert r.exit_code == 0, r.output
    assert [e.id for e in FoleyScript.model_validate_json((out / "script.json").read_text()).events] == ["knock", "air"]


def test_cli_review_in_a_terminal_asks_again_after_a_bad_edit(tmp_path, clip, monkeypatch):
    """At a terminal a typo in the edit does not end the run (and lose the edit): the errors are shown and the
    question asked again; the next answer, a good edit, is rendered."""
    from foleydesigner import cli_review

    monkeypatch.setattr(cli_review, "_interactive", lambda: True)
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(json.dumps({"events": [{**EDIT["events"][1], "label": "Wind"}]}))
    good.write_text(json.dumps(EDIT))
    out = tmp_path / "out"
    r = _run(clip, out, f"{bad}\n{good}\n")
    assert r.exit_code == 0, r.output
    assert "'Wind' is not a sound class (did you mean wind?)" in r.output and "press Enter to accept" in r.output
    assert [e.id for e in FoleyScript.model_validate_json((out / "script.json").read_text()).events] == ["knock", "air"]


def test_cli_review_without_a_terminal_keeps_a_bad_in_place_edit(tmp_path, clip, monkeypatch):
    """Without a terminal a bad edit stops the run (exit 2); an edit made in the run's folder ('e'), which the
    failed run removes, is kept in a file the error names."""
    import sys

    editor = tmp_path / "editor.py"
    editor.write_text("import json, sys\np = sys.argv[1]\ns = json.load(open(p))\n"
                      "s['events'] = [dict(e, label='Wind') for e in s['events']][:1]\njson.dump(s, open(p, 'w'))\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    r = _run(clip, tmp_path / "out", "e\n")
    assert r.exit_code == 2
    error = next(line for line in r.output.splitlines() if line.startswith("error:"))
    assert "'Wind' is not a sound class" in r.output and "your edit is kept in" in r.output
    (kept,) = tmp_path.glob("foley-review-*.json")
    assert json.loads(kept.read_text())["events"][0]["label"] == "Wind" and error.startswith("error: --review:")
