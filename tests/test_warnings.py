"""A warning is stored once in run.json and printed once, as a short line; its full text goes in the trace."""

from __future__ import annotations

import json

from foleydesigner.schemas import FoleyScript, SceneContext, SoundEvent
from foleydesigner.trace import SHORT_WARNING, Tracer, warning_lines
from tests.fakes import (
    ScriptedChatModel,
    call,
    synthetic_clip_fixture,  # noqa: F401  (registers the `synthetic_clip` fixture)
)
from tests.helpers import run_cli


def test_the_warning_sink_keeps_one_short_copy_and_traces_the_full_text(tmp_path):
    tracer = Tracer(tmp_path / "trace.jsonl")
    long = "tot.expand: scripted:w still contradicts the measured facts after a re-ask: " + "; ".join(
        f"event rain_{i} is night rain in a scene the heading says is day" for i in range(12))
    assert len(long) > 700
    lines = warning_lines([long, "mix: verification failed", long, long, "mix: verification failed"], tracer)
    assert len(lines) == 2 and lines[1] == "mix: verification failed"
    assert lines[0].startswith(long[:100]) and len(lines[0]) <= SHORT_WARNING and "foley trace" in lines[0]
    traced = [json.loads(s) for s in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert [r["text"] for r in traced if r["kind"] == "warning"] == [long]  # once, whole


def test_a_grounding_warning_is_printed_once_and_stored_once(tmp_path, synthetic_clip, scripted, monkeypatch, capsys):
    street = SceneContext(description="street", location="outdoor", room_size="open", time_of_day="day")
    storm = FoleyScript(duration_s=4.0, scene=street, events=[
        SoundEvent(id="rain", label="rain_heavy", layer="bg", start_s=0.0, end_s=4.0, description="night rain"),
        SoundEvent(id="thunder", label="thunder", layer="bg", start_s=1.0, end_s=2.5, description="thunder")])
    louder = {"candidates": [{"principle": "emotional_modulation", "rationale": "louder thunder", "edits": [
        {"op": "update", "event_id": "thunder", "changes": {"intensity": 0.9}}]}]}
    scripted(ScriptedChatModel(by_tool={"FoleyScript": [call("FoleyScript", storm.model_dump(mode="json"))],
                                        "ScriptCandidates": [call("ScriptCandidates", louder)]}))
    play = tmp_path / "scene.fountain"
    play.write_text("EXT. CITY STREET - DAY\n\nA grey afternoon. A car drives past.\n")
    out = tmp_path / "run"
    code, stdout, err = run_cli(monkeypatch, capsys, ["run", str(synthetic_clip), "--script", str(play), "--out",
                                                      str(out), "--llm-role", "writer=scripted:w", "--tot-depth", "2"])
    assert code == 0, err
    warnings = json.loads((out / "run.json").read_text())["warnings"]
    assert len(warnings) == len(set(warnings)) and all(len(w) <= SHORT_WARNING for w in warnings), warnings
    printed = [line for line in (stdout + err).splitlines() if "still contradicts" in line]
    assert len(printed) == len({w for w in warnings if "still contradicts" in w}) >= 1, printed
    assert all(len(line) <= SHORT_WARNING + 20 for line in printed)
