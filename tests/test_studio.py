"""The graphs of langgraph.json as LangGraph's dev server and Studio use them: JSON Schemas for input, output and
context, a context built from JSON, and each graph run from its documented minimal input with a trace in its work
folder. (The server itself is exercised by benchmarks/studio_server.py: it is not a test dependency.)"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import soundfile as sf

from foleydesigner.context import TEMP_ROOT, RunContext
from foleydesigner.llm import RetryPolicy
from foleydesigner.standalone import DEMO_MIX_SCRIPT, demo_clip, example_inputs
from tests.fakes import synthetic_clip_fixture  # noqa: F401  (registers the `synthetic_clip` fixture)

ROOT = Path(__file__).resolve().parents[1]
SPEC = json.loads((ROOT / "langgraph.json").read_text())


def load_graph(graph_id: str):
    """The compiled graph the way the dev server finds it: by the file path and attribute in langgraph.json."""
    path, attr = SPEC["graphs"][graph_id].split(":")
    spec = importlib.util.spec_from_file_location(f"studio_{graph_id}", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attr)


def trace_rows(work: Path) -> list[dict]:
    return [json.loads(s) for s in (work / "trace.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("graph_id", sorted(SPEC["graphs"]))
def test_every_graph_has_json_schemas_for_input_output_and_context(graph_id):
    graph = load_graph(graph_id)
    schemas = {k: getattr(graph, f"get_{k}_jsonschema")() for k in ("input", "output", "context")}
    json.dumps(schemas)  # what the server sends Studio
    documented = set(example_inputs()[graph_id])
    assert documented <= set(schemas["input"]["properties"])  # the minimal input is part of the input schema
    ctx = schemas["context"]["properties"]
    assert ctx["work_dir"]["type"] == "string" and ctx["trace"]["default"] == "trace.jsonl"
    assert "tracer" not in ctx and set(ctx["llm_retry"]["properties"]) == {"max_retries", "base_s", "factor", "max_s"}
    assert "work_dir" in schemas["output"]["properties"]  # Studio shows where the run wrote its trace


def test_context_from_json_makes_paths_tuples_and_a_traced_work_folder(tmp_path):
    ctx = RunContext(**json.loads(json.dumps({"work_dir": str(tmp_path / "w"), "tot_weights": [0.6, 0.2, 0.2],
                                              "llm_retry": {"max_retries": 1}, "deliver": ["stereo"]})))
    assert ctx.work_dir == tmp_path / "w" and ctx.tot_weights == (0.6, 0.2, 0.2) and ctx.deliver == ("stereo",)
    assert isinstance(ctx.llm_retry, RetryPolicy) and ctx.llm_retry.max_retries == 1
    assert ctx.tracer is ctx.tracer and ctx.tracer.path == tmp_path / "w" / "trace.jsonl"
    ctx.tracer.write({"node": "x", "kind": "node"})
    assert trace_rows(tmp_path / "w")[0]["node"] == "x"
    again = RunContext(**ctx.as_json())
    assert again.work_dir == ctx.work_dir and again.tot_weights == ctx.tot_weights
    a, b = RunContext(), RunContext()  # no work_dir: each run its own folder, made only when written into
    assert a.work_dir.parent == TEMP_ROOT and a.work_dir != b.work_dir and not a.work_dir.exists()
    assert RunContext(work_dir=tmp_path, trace="").tracer.path is None


def test_filmscribe_runs_from_the_bundled_clip_path(tmp_path):
    inputs = json.loads(json.dumps(example_inputs()["filmscribe"]))
    assert inputs == {"video_path": str(demo_clip())} and demo_clip().is_file()
    out = load_graph("filmscribe").invoke(inputs, context={"work_dir": str(tmp_path)})
    assert out["work_dir"] == str(tmp_path) and out["video"]["n_frames"] > 0
    assert len(out["scene_script"]["entities"]) >= 1 and out["scribe_feedback"]["valid"] in (True, False)
    nodes = [r["node"] for r in trace_rows(tmp_path)]
    assert nodes[:2] == ["analyse_picture", "load_video"] and "filmscribe.generate" in nodes


def test_decomposition_and_foley_run_from_a_clip_path(tmp_path, synthetic_clip):
    inputs = json.loads(json.dumps(example_inputs(synthetic_clip)))
    work = tmp_path / "decomposition"
    out = load_graph("decomposition").invoke(inputs["decomposition"], context={"work_dir": str(work)})
    assert out["script"]["events"] and (work / "tot_tree.json").is_file()
    assert {"script_writer", "tot.select"} <= {r["node"] for r in trace_rows(work)}
    work = tmp_path / "foley"
    out = load_graph("foley").invoke(inputs["foley"], context={"work_dir": str(work), "deliver": ["stereo", "5.1"]})
    assert (work / out["outputs"]["video"]).is_file() and sf.info(str(work / "mix_5_1.wav")).channels == 6
    assert len(out["stems"]) == len(out["script"]["events"]) >= 1
    assert {"load_video", "script_writer", "mixing.master"} <= {r["node"] for r in trace_rows(work)}


def test_mixing_runs_from_a_script_alone(tmp_path):
    inputs = json.loads(json.dumps(example_inputs()["mixing"]))
    out = load_graph("mixing").invoke(inputs, context={"work_dir": str(tmp_path)})
    stems = sorted(p.stem for p in (tmp_path / "stems").glob("*.wav"))
    assert stems == sorted(e["id"] for e in DEMO_MIX_SCRIPT["events"])
    mix, sr = sf.read(str(tmp_path / out["mix"]["stereo"]))
    assert sr == 48000 and mix.shape == (3 * 48000, 2)
    left, right = (float((mix[:, c] ** 2).mean()) for c in (0, 1))
    assert left > right  # the footsteps sit 20° left of centre
    master = out["mix_plan"]["verification"]["master"]
    assert master["integrated_lufs"] == pytest.approx(master["target_lufs"], abs=1.0)
    assert "render_script" in {r["node"] for r in trace_rows(tmp_path)}


def test_a_temp_run_folder_keeps_its_outputs_and_only_the_newest_few_stay(tmp_path):
    import os

    from foleydesigner.tidy import KEEP_RUNS, STALE_S, tidy_temp_runs

    runs = []
    for i in range(6):
        run = tmp_path / f"foley-run-{i:012x}"
        (run / ".internal").mkdir(parents=True)
        (run / ".internal" / "bus_front.f32").write_bytes(b"\0" * 4096)
        (run / "mix_stereo.wav").write_bytes(b"RIFF")
        os.utime(run, (1000.0 + i, 1000.0 + i))
        runs.append(run)
    (tmp_path / "foley-run-recent").mkdir()  # a run still going: touched just now, never removed
    done = runs[0]
    gone = tidy_temp_runs(done, tmp_path, now=1000.0 + STALE_S + 10)
    assert not (done / ".internal").exists() and (done / "mix_stereo.wav").is_file()
    left = sorted(p.name for p in tmp_path.iterdir())
    # the one just finished, and the newest KEEP_RUNS others (the recent one among them); the stale rest went
    assert left == sorted([done.name, "foley-run-recent", runs[5].name, runs[4].name]) and KEEP_RUNS == 3
    assert sorted(gone) == runs[1:4]
    staging = tmp_path / ".out.abc"  # a CLI run's staging folder is not a temp run: untouched
    (staging / ".internal").mkdir(parents=True)
    assert tidy_temp_runs(staging, tmp_path) == [] and (staging / ".internal").is_dir()


def test_a_studio_run_in_a_temp_folder_ends_without_its_scratch(tmp_path, monkeypatch):
    """The mixing graph on its own clears its temp folder's .internal; inside a foley run the same node leaves the
    buses to the upmix (the run would fail without them)."""
    import numpy as np

    from foleydesigner import context as C
    from foleydesigner.graphs.mixing import run_mixing
    from foleydesigner.schemas import EventClues, FoleyScript
    from foleydesigner.standalone import DEMO_MIX_SCRIPT
    from tests.helpers import context

    monkeypatch.setattr(C, "TEMP_ROOT", tmp_path)
    script = FoleyScript.model_validate(DEMO_MIX_SCRIPT)
    n = int(script.duration_s * 48000)
    rng = np.random.default_rng(0)
    audio = {e.id: (0.05 * rng.standard_normal((2, n))).astype(np.float32) for e in script.events}
    frames = int(script.duration_s * 25)
    clues = {e.id: EventClues(event_id=e.id, fps=25.0, t_s=list(np.arange(frames) / 25.0), depth_m=[2.0] * frames,
                              azimuth_deg=[0.0] * frames, activation=[1] * frames, source="scene") for e in script.events}
    run = tmp_path / "foley-run-0123456789ab"
    run_mixing(context(run), audio, script, clues)
    assert (run / "mix_stereo.wav").is_file() and not (run / ".internal").exists()
    from foleydesigner.bench.synthetic import make_clip
    from foleydesigner.graphs.foley import build_foley_graph

    clip = tmp_path / "car.mp4"
    make_clip("single_mover", clip, width=160, height=96, fps=10.0, duration_s=1.0, seed=0)
    whole = tmp_path / "foley-run-ba9876543210"
    out = build_foley_graph().invoke({"video_path": str(clip)}, context=context(whole, tot_depth=1))
    assert out["outputs"]["mix_5_1"] == "mix_5_1.wav" and (whole / "mix_5_1.wav").is_file()  # the upmix had its buses
    assert not (whole / ".internal").exists()
