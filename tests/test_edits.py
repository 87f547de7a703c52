"""Edits that go back into a run (`foley run CLIP --edits edits.json`): checked like an LLM answer, applied to the
source run's script and clues, and only the stems whose sound changed are rendered again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleydesigner.bench.synthetic import make_clip
from foleydesigner.edits import (
    EditsFile,
    apply_edits,
    parse_edits,
    read_edits,
    render_changed,
    shift_clues,
)
from foleydesigner.errors import InputError
from foleydesigner.pipeline import run_foley
from foleydesigner.schemas import EventClues, FoleyScript
from foleydesigner.script_diff import ops_from_script
from tests.helpers import run_cli, video_info

SCREENPLAY = "EXT. PARK - DAY\n\nA ball BOUNCES on the path. A DOOR SLAMS somewhere.\n"


# ---- the schema and the checks (no run) ---------------------------------------------------------------------

def _script() -> tuple[FoleyScript, dict[str, EventClues]]:
    video = video_info(duration_s=4.0, fps=25.0)
    script = FoleyScript.model_validate({"duration_s": 4.0, "events": [
        {"id": "steps", "label": "footsteps", "layer": "fg", "start_s": 0.5, "end_s": 3.0, "onsets_s": [0.6, 1.2, 1.8],
         "source_track": 1, "params": {"surface": "concrete"}},
        {"id": "slam", "label": "door_slam", "layer": "fg", "start_s": 2.0, "end_s": 3.0, "onsets_s": [2.0],
         "azimuth_deg": 30.0},
        {"id": "air", "label": "wind", "layer": "bg", "start_s": 0.0, "end_s": 4.0}],
        "candidates": [{"id": "dog", "label": "dog_bark", "layer": "fg", "start_s": 1.0, "end_s": 1.5, "onsets_s": [1.0],
                        "confidence": 0.3}]})
    t = (np.arange(video.n_frames) / video.fps).round(4).tolist()
    act = [1 if 0.5 <= x <= 3.0 else 0 for x in t]
    clues = {"steps": EventClues(event_id="steps", fps=25.0, t_s=t, depth_m=[2.0 + x for x in t],
                                 azimuth_deg=[-30.0 + 15.0 * x for x in t], activation=act, source="track"),
             "slam": EventClues(event_id="slam", fps=25.0, t_s=t, depth_m=[6.0] * len(t), azimuth_deg=[30.0] * len(t),
                                activation=[1 if 2.0 <= x <= 3.0 else 0 for x in t], source="script"),
             "air": EventClues(event_id="air", fps=25.0, t_s=t, depth_m=[10.0] * len(t), azimuth_deg=[0.0] * len(t),
                               activation=[1] * len(t), source="scene")}
    return script, clues


def _apply(*ops: dict) -> tuple[FoleyScript, dict[str, EventClues], list[dict]]:
    script, clues = _script()
    return apply_edits(script, clues, parse_edits({"edits": list(ops)}).edits, video_info(duration_s=4.0, fps=25.0))


@pytest.mark.parametrize(("data", "expected"), [
    ({"edits": [{"op": "delete", "id": "x"}]}, "edits[0]: unknown op 'delete'"),
    ({"edits": [{"op": "remove", "id": "a"}, {"op": "move", "id": "a"}]}, "edits[1] (move): give one of by_s"),
    ({"edits": [{"op": "move", "id": "a", "by_s": 1, "to_s": 2}]}, "edits[0] (move): give one of by_s"),
    ({"edits": [{"op": "set", "id": "a", "layer": "mid"}]}, "edits[0] (set): layer"),
    ({"edits": [{"op": "set", "id": "a"}]}, "set needs at least one of"),
    ({"edits": [{"op": "move", "id": "a", "by_s": "soon"}]}, "edits[0] (move): by_s"),
    ({"edits": [{"op": "remove", "id": "a", "why": "x"}]}, "edits[0] (remove): why"),
    ({"edits": ["remove a"]}, "edits[0]: not an object"),
    ({"format": "other/2", "edits": []}, "format 'other/2'"),
    ({"edits": [], "note": 1}, "unknown field 'note'"),
    ([1, 2], "give a JSON object"),
])
def test_a_malformed_edits_file_is_one_line_naming_the_op(data, expected):
    with pytest.raises(InputError) as err:
        parse_edits(data)
    assert expected in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("op", "expected"), [
    ({"op": "move", "id": "slam", "by_s": 2.5}, "edits[0] (move slam): the new start 4.500 s is outside the clip"),
    ({"op": "move", "id": "steps", "to_s": -0.1}, "outside the clip"),
    ({"op": "move_onset", "id": "steps", "index": 3, "by_s": 0.1}, "index 3: steps has 3 onsets"),
    ({"op": "move_onset", "id": "steps", "index": 0, "to_s": 4.2}, "outside the clip"),
    ({"op": "set", "id": "slam", "label": "kazoo solo"}, "unknown sound class 'kazoo solo'"),
    ({"op": "set", "id": "slam", "surface": "gravel"}, "class door_slam has no such walking surface"),
    ({"op": "set", "id": "steps", "surface": "lava"}, "surface 'lava'"),
    ({"op": "set", "id": "slam", "gain_db": 45}, "gain_db 45 is outside [-40, 20] dB"),
    ({"op": "remove", "id": "nobody"}, "unknown event 'nobody' (events: steps, slam, air)"),
    ({"op": "move", "id": "dog", "by_s": 0.1}, "'dog' (a candidate: restore it first)"),
    ({"op": "restore", "id": "cat"}, "unknown candidate 'cat' (candidates: dog)"),
])
def test_an_edit_that_cannot_apply_names_its_index_and_the_problem(op, expected):
    with pytest.raises(InputError) as err:
        _apply(op)
    assert expected in str(err.value), str(err.value)


def test_a_later_op_sees_the_earlier_ones():
    with pytest.raises(InputError, match=r"edits\[1\] \(set slam\): unknown event 'slam' \(a candidate: restore it"):
        _apply({"op": "remove", "id": "slam"}, {"op": "set", "id": "slam", "layer": "bg"})
    script, clues, log = _apply({"op": "remove", "id": "slam"}, {"op": "restore", "id": "slam"})
    assert [e.id for e in script.events] == ["steps", "slam", "air"] and "slam" in clues  # its clues came back too
    assert [r["index"] for r in log] == [0, 1]


def test_remove_and_restore_swap_an_event_and_a_candidate():
    script, clues, _ = _apply({"op": "remove", "id": "air"}, {"op": "restore", "id": "dog"})
    assert [e.id for e in script.events] == ["steps", "slam", "dog"]
    assert [e.id for e in script.candidates] == ["air"] and "removed in review (edits)" in script.candidates[0].evidence
    assert set(clues) == {"steps", "slam"}  # the restored candidate's clues are laid out by the run (reuse.py)


def test_a_move_shifts_times_and_a_tracked_source_moves_with_it():
    script, clues, log = _apply({"op": "move", "id": "steps", "by_s": 0.5})
    steps = script.events[0]
    assert steps.start_s == pytest.approx(1.0) and steps.end_s == pytest.approx(3.5)
    assert steps.onsets_s == pytest.approx([1.1, 1.7, 2.3])
    _, before = _script()
    t = np.asarray(before["steps"].t_s)
    first = lambda c: float(t[np.argmax(np.asarray(c.activation) > 0)])  # noqa: E731
    # activation is per frame: 0.5 s is 12.5 frames at 25 fps, so half a frame either way
    assert first(clues["steps"]) - first(before["steps"]) == pytest.approx(0.5, abs=0.5 / 25 + 1e-6)
    # the source's azimuth at frame k is what it was 0.5 s (12.5 frames) earlier: -30 + 15·(t - 0.5)
    k = 60  # t = 2.4 s
    assert clues["steps"].azimuth_deg[k] == pytest.approx(-30.0 + 15.0 * (2.4 - 0.5), abs=0.01)
    assert log[0]["done"] == "moved steps by +0.500 s"


def test_to_s_and_a_move_past_the_end_clamp_the_tail_to_the_clip():
    script, clues, _ = _apply({"op": "move", "id": "slam", "to_s": 3.5})
    slam = next(e for e in script.events if e.id == "slam")
    assert (slam.start_s, slam.end_s, slam.onsets_s) == (3.5, 4.0, [3.5])
    act = np.asarray(clues["slam"].activation)
    assert act[:86].sum() == 0 and act[88:].all()  # a script cue's span is laid out again at its new times


def test_move_onset_reorders_and_keeps_a_moved_hit_heard():
    script, clues, _ = _apply({"op": "move_onset", "id": "steps", "index": 0, "to_s": 3.4})
    steps = script.events[0]
    assert steps.onsets_s == pytest.approx([1.2, 1.8, 3.4]) and steps.end_s == pytest.approx(4.0)
    assert clues["steps"].activation[86] == 1  # 3.44 s: the hit moved outside the old span is not masked


def test_set_changes_class_surface_layer_and_gain():
    script, _, log = _apply({"op": "set", "id": "steps", "label": "heel steps", "layer": "bg", "gain_db": -6},
                            {"op": "set", "id": "steps", "surface": "Wooden"})
    steps = script.events[0]
    assert steps.label == "heel_steps" and steps.layer == "bg"
    assert steps.params == {"surface": "wood", "shoe": "hard", "gain_db": -6.0}  # the new class's recipe
    assert log[1]["done"] == "set steps: surface wood"
    # the same model keeps what was set on it; another model takes its own recipe only
    script, _, _ = _apply({"op": "set", "id": "steps", "label": "running"})
    assert script.events[0].params == {"surface": "concrete", "rate_hz": 2.8}
    script, _, _ = _apply({"op": "set", "id": "steps", "label": "hooves", "gain_db": 2})
    assert script.events[0].label == "horse_hooves" and script.events[0].params == {"gain_db": 2.0}  # its lexicon name


def test_only_a_change_the_generator_hears_renders_the_stem_again():
    script, clues = _script()
    ev, c = script.events[0], clues["steps"]
    assert render_changed(ev, ev.model_copy(update={"layer": "bg", "params": {**ev.params, "gain_db": 3.0}}), c, c) is None
    assert render_changed(ev, ev.model_copy(update={"label": "hooves"}), c, c) == "changed label"
    assert render_changed(ev, ev, c, shift_clues(c, 0.5)) == "clues moved"
    assert render_changed(None, ev, None, c) == "restored"


def test_an_edited_script_json_becomes_the_same_ops():
    source, _ = _script()
    data = source.model_dump(mode="json")
    data["events"] = [e for e in data["events"] if e["id"] != "air"]
    slam = data["events"][1]
    slam.update(start_s=2.5, end_s=3.5, onsets_s=[2.5], layer="bg")
    data["events"][0]["onsets_s"] = [0.6, 1.3, 1.8]
    ops = ops_from_script(source, FoleyScript.model_validate(data))
    assert [o.model_dump(exclude_none=True) for o in ops] == [
        {"op": "remove", "id": "air"},
        {"op": "move_onset", "id": "steps", "index": 1, "to_s": 1.3},
        {"op": "move", "id": "slam", "by_s": pytest.approx(0.5)},
        {"op": "set", "id": "slam", "layer": "bg"}]
    data["events"][0]["intensity"] = 0.2
    with pytest.raises(InputError, match="event 'steps' changes intensity"):
        ops_from_script(source, FoleyScript.model_validate(data))


def test_read_edits_tells_the_two_shapes_and_bad_files(tmp_path):
    source, _ = _script()
    (tmp_path / "s.json").write_text(source.model_dump_json())
    (tmp_path / "e.json").write_text(json.dumps({"run": "r", "edits": [{"op": "remove", "id": "air"}]}))
    (tmp_path / "bad.json").write_text('{"edits": [')
    assert isinstance(read_edits(tmp_path / "s.json"), FoleyScript)
    assert isinstance(read_edits(tmp_path / "e.json"), EditsFile)
    with pytest.raises(InputError, match="is not JSON"):
        read_edits(tmp_path / "bad.json")
    with pytest.raises(InputError, match="no such file"):
        read_edits(tmp_path / "none.json")


# ---- a real run, edited ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("edits")
    clip, screenplay = root / "clip.mp4", root / "scene.txt"
    make_clip("bouncing_ball", clip, width=160, height=96, fps=12.0, duration_s=3.0, seed=0)
    screenplay.write_text(SCREENPLAY)
    state = run_foley(clip, root / "run", screenplay_path=screenplay, seed=3)
    events = state["script"]["events"]
    ids = {"ball": next(e["id"] for e in events if e["source_track"] is not None),
           "door": next(e["id"] for e in events if e["label"] == "door_slam"),
           "bed": next(e["id"] for e in events if e["layer"] == "bg")}
    return root, clip, root / "run", ids


def _onsets(path: Path) -> list[float]:
    """Hit times (s) measured from a stem: its 5 ms envelope rising through a fifth of its peak."""
    x, sr = sf.read(str(path), dtype="float32")
    env = np.abs(x).max(axis=1)
    hop = sr // 200
    env = env[: len(env) // hop * hop].reshape(-1, hop).max(axis=1)
    up = np.flatnonzero((env[1:] > 0.2 * env.max()) & (env[:-1] <= 0.2 * env.max())) + 1
    return (up * hop / sr).tolist()


def _trace(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]


def test_remove_one_and_move_another_renders_only_the_moved_stem(source, tmp_path, monkeypatch, capsys):
    root, clip, run, ids = source
    edits = tmp_path / "edits.json"
    edits.write_text(json.dumps({"format": "foleydesigner.edits/1", "run": str(run), "edits": [
        {"op": "remove", "id": ids["bed"]}, {"op": "move", "id": ids["ball"], "by_s": 0.5}]}))
    out = tmp_path / "edited"
    code, _, err = run_cli(monkeypatch, capsys, ["run", str(clip), "--out", str(out), "--edits", str(edits)])
    assert code == 0, err
    before = json.loads((run / "script.json").read_text())
    after = json.loads((out / "script.json").read_text())
    assert ids["bed"] not in [e["id"] for e in after["events"]] and not (out / "stems" / f"{ids['bed']}.wav").exists()
    assert ids["bed"] in [e["id"] for e in after["candidates"]]
    old_ball = next(e for e in before["events"] if e["id"] == ids["ball"])
    new_ball = next(e for e in after["events"] if e["id"] == ids["ball"])
    assert new_ball["onsets_s"] == pytest.approx([o + 0.5 for o in old_ball["onsets_s"]])
    # measured from the audio: every hit of the moved stem sounds 0.5 s later (within one 5 ms envelope hop)
    was, now = _onsets(run / "stems" / f"{ids['ball']}.wav"), _onsets(out / "stems" / f"{ids['ball']}.wav")
    assert len(now) == len(was) >= 2 and np.allclose(np.subtract(now, was), 0.5, atol=0.006), (was, now)
    # only the moved stem was rendered: one generate_stem call in the trace, the others are the source's bytes
    calls = [r["node"] for r in _trace(out) if r["node"].startswith("generate_stem[")]
    assert calls == [f"generate_stem[{ids['ball']}]"]
    unchanged = [e["id"] for e in after["events"] if e["id"] != ids["ball"]]
    assert unchanged and all((out / "stems" / f"{i}.wav").read_bytes() == (run / "stems" / f"{i}.wav").read_bytes()
                             for i in unchanged)
    info = json.loads((out / "run.json").read_text())
    assert set(info["edits"]["rerendered"]) == {ids["ball"]} and info["edits"]["reused"] == sorted(unchanged)
    assert info["edits"]["removed"] == [ids["bed"]] and info["edits"]["source_run"] == str(run)
    assert info["seed"] == 3  # the source run's seed: the re-rendered stem sounds like its neighbours
    assert [r["node"] for r in _trace(out) if r["kind"] == "edit"] == ["edits[0]", "edits[1]"]
    assert [e["op"] for e in after["edits"]] == ["remove", "move"]
    assert not [r for r in _trace(out) if r["node"] in ("load_video", "filmscribe.generate", "tot.select")]
    # the mix changed: the removed bed is gone from it
    assert not np.array_equal(sf.read(str(out / "mix_stereo.wav"))[0], sf.read(str(run / "mix_stereo.wav"))[0])
    # an edits run lists what it wrote, like any run, so a later --force may replace it (and nothing else)
    assert set(info["files"]) == {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert "stems/" + f"{ids['ball']}.wav" in info["files"]
    code, _, err = run_cli(monkeypatch, capsys, ["run", str(clip), "--out", str(out), "--edits", str(edits), "--force"])
    assert code == 0, err


def test_an_edited_script_json_in_place_with_resume(source, tmp_path, monkeypatch, capsys):
    root, clip, run, ids = source
    out = tmp_path / "copy"
    shutil.copytree(run, out)
    script = json.loads((out / "script.json").read_text())
    door = next(e for e in script["events"] if e["id"] == ids["door"])
    door.update(start_s=door["start_s"] + 0.5, end_s=min(3.0, door["end_s"] + 0.5),
                onsets_s=[o + 0.5 for o in door["onsets_s"]])
    next(e for e in script["events"] if e["id"] == ids["ball"])["params"]["gain_db"] = 6.0
    edits = tmp_path / "script.json"
    edits.write_text(json.dumps(script))
    code, _, err = run_cli(monkeypatch, capsys, ["run", str(clip), "--out", str(out), "--resume", "--edits", str(edits)])
    assert code == 0, err
    info = json.loads((out / "run.json").read_text())
    assert set(info["edits"]["rerendered"]) == {ids["door"]}  # a gain is the mixer's: that stem is reused
    assert sorted((op["op"], op["id"]) for op in info["edits"]["ops"]) == [("move", ids["door"]), ("set", ids["ball"])]
    was, now = _onsets(run / "stems" / f"{ids['door']}.wav"), _onsets(out / "stems" / f"{ids['door']}.wav")
    assert now[0] - was[0] == pytest.approx(0.5, abs=0.006)
    gains = json.loads((out / "mix_plan.json").read_text())["analysis"]["level_gains_db"]
    old = json.loads((run / "mix_plan.json").read_text())["analysis"]["level_gains_db"]
    # the ball's fader is 6 dB up on the door's, both foreground (the layer's level moves both alike)
    rel = lambda g: g[ids["ball"]] - g[ids["door"]]  # noqa: E731
    assert rel(gains) - rel(old) == pytest.approx(6.0, abs=0.01)
    assert not list(tmp_path.glob(".copy.*"))


@pytest.mark.parametrize(("content", "args", "expected"), [
    (None, [], "no such file"),
    ('{"edits": [', [], "is not JSON"),
    ('{"edits": [{"op": "split", "id": "a"}]}', [], "unknown op 'split'"),
    ('{"edits": [{"op": "move", "id": "ID", "by_s": 9}]}', [], "edits[0] (move ID): the new start"),
    ('{"edits": []}', ["--from", "NOTARUN"], "is not a FoleyDesigner run"),
    ('{"edits": []}', ["--from", ""], "name the run they apply to"),
])
def test_bad_edits_input_is_one_line_exit_2_and_writes_nothing(source, tmp_path, monkeypatch, capsys, content, args,
                                                               expected):
    root, clip, run, ids = source
    edits = tmp_path / "edits.json"
    if content is not None:
        edits.write_text(content.replace("ID", ids["door"]))
    (tmp_path / "NOTARUN").mkdir()
    args = [a.replace("NOTARUN", str(tmp_path / "NOTARUN")) for a in args] or ["--from", str(run)]
    if args == ["--from", ""]:
        args = []
    out = tmp_path / "out"
    code, _, err = run_cli(monkeypatch, capsys, ["run", str(clip), "--out", str(out), "--edits", str(edits), *args])
    assert code == 2 and expected.replace("ID", ids["door"]) in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_restoring_a_tracked_candidate_watches_the_clip_again(source, tmp_path):
    from foleydesigner.edit_run import run_edits

    root, clip, run, ids = source
    src = tmp_path / "src"
    shutil.copytree(run, src)  # the ball made a candidate: out of the events and the clues
    script = json.loads((src / "script.json").read_text())
    ball = next(e for e in script["events"] if e["id"] == ids["ball"])
    script["events"].remove(ball)
    script["candidates"].append(ball)
    (src / "script.json").write_text(json.dumps(script))
    clues = json.loads((src / "clues.json").read_text())
    clues["events"] = [c for c in clues["events"] if c["event_id"] != ids["ball"]]
    (src / "clues.json").write_text(json.dumps(clues))
    edits = tmp_path / "e.json"
    edits.write_text(json.dumps({"run": str(src), "edits": [{"op": "restore", "id": ids["ball"]}]}))
    state = run_edits(clip, tmp_path / "out", edits, inherit=("seed", "generator"))  # the source used --seed 3
    assert state["run"]["edits"]["rerendered"] == {ids["ball"]: "restored"}
    nodes = [r["node"] for r in _trace(tmp_path / "out")]
    assert "load_video" in nodes and "filmscribe.generate" not in nodes
    # the same clip watched with the same vision backend finds the same track: the clues and the sound are the run's
    again = next(c for c in json.loads((tmp_path / "out" / "clues.json").read_text())["events"] if c["event_id"] == ids["ball"])
    first = next(c for c in json.loads((run / "clues.json").read_text())["events"] if c["event_id"] == ids["ball"])
    assert again == first
    was = sf.read(str(run / "stems" / f"{ids['ball']}.wav"))[0]
    assert np.array_equal(sf.read(str(tmp_path / "out" / "stems" / f"{ids['ball']}.wav"))[0], was)


def test_an_edit_in_place_never_replaces_the_edits_file_it_reads(source, tmp_path, monkeypatch, capsys):
    root, clip, run, ids = source
    out = tmp_path / "copy"
    shutil.copytree(run, out)
    edits = out / "edits.json"
    edits.write_text(json.dumps({"run": f"file://{out}", "edits": [{"op": "remove", "id": ids["bed"]}]}))
    code, _, err = run_cli(monkeypatch, capsys, ["run", str(clip), "--out", str(out), "--edits", str(edits)])
    assert code == 2 and "is inside --out" in err and edits.is_file()
    assert (out / "script.json").read_bytes() == (run / "script.json").read_bytes()


def test_moving_an_event_cuts_the_hits_that_pass_the_clips_end():
    """A walker's steps run to the last frame, so a +0.5 s move (the review desk's default use) must slide the
    event and drop only the steps past the end, as a DAW cuts a clip slid past the timeline's end."""
    script, _, _ = _apply({"op": "move", "id": "steps", "by_s": 2.3})
    steps = next(e for e in script.events if e.id == "steps")
    assert steps.start_s == pytest.approx(2.8) and steps.onsets_s == pytest.approx([2.9, 3.5])
    with pytest.raises(InputError, match="every onset of steps would be outside the clip"):
        _apply({"op": "move", "id": "steps", "by_s": 3.45})  # starts at 3.95 s, its first hit at 4.05 s
