"""Backends per role against scripted local servers (127.0.0.1, in-process, the real OpenAI and Anthropic SDKs):
a local OpenAI-compatible scribe beside an Anthropic planner, each on its own path; a failed run that keeps its
trace in OUT.failed/; the endpoints run.json records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foleydesigner import cli
from foleydesigner.bench.synthetic import make_clip
from foleydesigner.errors import BackendError
from foleydesigner.llm import check_backends, endpoint_for, provider_url
from tests.helpers import context
from tests.llm_server import FakeLLMServer

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])  # the scripted servers; nothing else is reachable

SCENE = {"summary": "a person walks along a street", "scene": {"location": "outdoor", "room_size": "open",
                                                              "time_of_day": "day"}, "entities": []}
FINISHED = ("*.wav", "*.flac", "*.mp4", "*.mkv", "*.mov", "*.otio", "report.html")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "walker.mp4"
    make_clip("single_mover", path, width=320, height=180, fps=25.0, duration_s=2.0, seed=0)
    return path


@pytest.fixture(autouse=True)
def no_provider_env(monkeypatch):
    """Nothing from the developer's shell: keys and base URLs come from the test alone."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_BASE_URL",
                 "ANTHROPIC_API_URL"):
        monkeypatch.delenv(name, raising=False)


def _run(*args: str):
    return CliRunner().invoke(cli.app, ["run", *args], catch_exceptions=False)


def test_a_local_openai_scribe_and_an_anthropic_planner_each_get_their_own_path(tmp_path, clip):
    with FakeLLMServer("openai", {"SceneScript": SCENE}) as local, \
            FakeLLMServer("anthropic", {"PlanProposal": {"plan": {}}}) as cloud:
        config = tmp_path / "foley.toml"
        config.write_text(f'max_scribe_iters = 1\n\n[roles.scribe]\nbackend = "openai:qwen-local"\n'
                          f'base_url = "{local.url}/v1"\ntimeout_s = 45\n')
        out = tmp_path / "out"
        # the planner's URL given with /v1, as for an OpenAI server: its SDK must not be sent to /v1/v1/messages
        r = _run(str(clip), "--out", str(out), "--config", str(config), "--llm-timeout", "30",
                 "--llm-role", f"planner=anthropic:claude-test@{cloud.url}/v1")
        assert r.exit_code == 0, r.output
    assert local.paths == {"/v1/chat/completions"} and {q["model"] for q in local.requests} == {"qwen-local"}
    assert cloud.paths == {"/v1/messages"} and {q["model"] for q in cloud.requests} == {"claude-test"}
    assert {q["tool"] for q in local.requests} == {"SceneScript"} and {q["tool"] for q in cloud.requests} == {"PlanProposal"}
    run = json.loads((out / "run.json").read_text())
    scribe, planner = run["endpoints"]["scribe"], run["endpoints"]["planner"]
    assert scribe["base_url"] == f"{local.url}/v1" and scribe["chat_url"] == f"{local.url}/v1/chat/completions"
    assert scribe["source"] == f"roles.scribe.base_url in {config}" and scribe["timeout_s"] == 45.0
    assert planner["base_url"] == cloud.url and planner["chat_url"] == f"{cloud.url}/v1/messages"
    assert planner["source"] == "--llm-role planner=" and planner["timeout_s"] == 30.0
    assert {run["endpoints"][r]["backend"] for r in ("validator", "writer", "scorer", "experts")} == {"heuristic"}
    plan = json.loads((out / "mix_plan.json").read_text())["verification"]
    # the server's plan is empty: the rule-based plan mixes instead, and says so (agents/mixing.py)
    assert plan["planner"] == "heuristic" and plan["planner_fell_back"]
    assert any(w.startswith("mixing.planner: the LLM plan was empty") for w in run["warnings"])
    calls = [json.loads(s) for s in (out / "trace.jsonl").read_text().splitlines()]
    llm = {(c["node"], c["backend"]) for c in calls if c["kind"] == "llm"}
    assert ("filmscribe.generate", "openai:qwen-local") in llm and ("mixing.planner", "anthropic:claude-test") in llm
    assert run["llm_usage"]["anthropic:claude-test"]["input_tokens"] == 120 * len(cloud.requests)


def test_a_run_that_fails_keeps_its_trace_in_out_failed(tmp_path, clip, monkeypatch):
    out = tmp_path / "shot_12"
    with FakeLLMServer("anthropic", status=429) as busy:
        r = _run(str(clip), "--out", str(out), "--llm-planner", f"anthropic:claude-test@{busy.url}")
    assert r.exit_code == 2 and "RateLimit" in r.output and "after 4 retries" in r.output
    assert len(busy.requests) == 5 and busy.paths == {"/v1/messages"}  # one call, four retries, all to the API path
    failed = tmp_path / "shot_12.failed"
    assert not out.exists() and failed.is_dir() and str(failed) in r.output.replace("\n", "")
    assert sorted(p.name for p in failed.iterdir()) == ["run.json", "state.json", "tot_tree.json", "trace.jsonl"]
    assert not [p for pattern in FINISHED for p in failed.rglob(pattern)] and not (failed / "stems").exists()
    run = json.loads((failed / "run.json").read_text())
    assert run["failed_stage"] == "mix" and run["failed_node"] == "mixing.planner" and "429" in run["error"]
    assert run["endpoints"]["planner"]["chat_url"] == f"{busy.url}/v1/messages"
    state = json.loads((failed / "state.json").read_text())
    assert state["script"]["events"] and "mix_plan" not in state  # what was decided before the failure
    shown = CliRunner().invoke(cli.app, ["trace", str(failed)])
    assert shown.exit_code == 0 and "FAILED in mix" in shown.output
    assert "mixing.planner" in shown.output and "ERROR" in shown.output
    rows = json.loads(CliRunner().invoke(cli.app, ["trace", str(failed), "--json"]).output)["timeline"]
    assert any(row["node"] == "mixing.planner" and "4 retries" in row["decision"] for row in rows)
    # the next run on this --out without --force keeps the evidence and says so; with --force it goes
    assert _run(str(clip), "--out", str(out), "--max-scribe-iters", "1").exit_code == 0
    assert failed.is_dir() and any("shot_12.failed" in w for w in json.loads((out / "run.json").read_text())["warnings"])
    assert _run(str(clip), "--out", str(out), "--max-scribe-iters", "1", "--force").exit_code == 0
    assert not failed.exists() and (out / "mix_stereo.wav").is_file()


def test_a_refusing_scribe_fails_in_decompose_and_never_touches_a_users_folder(tmp_path, clip):
    out = tmp_path / "take"
    mine = tmp_path / "take.failed"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")  # a user's folder that happens to have the name
    with FakeLLMServer("openai", {}) as refuses:
        r = _run(str(clip), "--out", str(out), "--llm-scribe", f"openai:qwen@{refuses.url}")
    assert r.exit_code == 2 and "no valid SceneScript after a re-ask" in r.output
    assert len(refuses.requests) == 2 and refuses.paths == {"/v1/chat/completions"}  # the answer and one re-ask
    assert (mine / "notes.txt").read_text() == "mine" and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    (kept,) = tmp_path.glob("take.failed-*")
    run = json.loads((kept / "run.json").read_text())
    assert run["failed_stage"] == "decompose" and run["failed_node"] == "filmscribe.generate"
    attempts = [json.loads(s).get("attempt") for s in (kept / "trace.jsonl").read_text().splitlines()
                if '"kind": "llm"' in s]
    assert attempts == [0, 1]


def test_provider_decides_how_a_base_url_is_used(monkeypatch, tmp_path):
    assert provider_url("anthropic", "http://h:9/v1/") == "http://h:9"
    assert provider_url("anthropic", "https://proxy.example/llm/v1") == "https://proxy.example/llm"
    assert provider_url("openai", "http://h:8000") == "http://h:8000/v1"
    assert provider_url("openai", "http://h:8000/api/v1") == "http://h:8000/api/v1"
    assert provider_url("ollama", "http://h:11434/v1") == "http://h:11434"
    # --llm-base-url is an OpenAI-compatible server: the Anthropic role keeps its own (here from its SDK's variable)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://gateway.example/v1")
    ctx = context(tmp_path, llm="openai:qwen", llm_base_url="http://bob:pw@127.0.0.1:8000/v1?key=QSECRET",
                  llm_roles={"planner": "anthropic:claude-x"})
    scribe, planner = endpoint_for(ctx, "scribe").record(), endpoint_for(ctx, "planner").record()
    assert scribe["base_url"] == "http://127.0.0.1:8000/v1" and scribe["source"] == "--llm-base-url"
    assert "QSECRET" not in json.dumps(scribe) and "pw" not in scribe["base_url"]
    assert planner["chat_url"] == "https://gateway.example/v1/messages" and planner["source"] == "env:ANTHROPIC_BASE_URL"


MISSING = [({"planner": "ollama:llama3.1"}, "--llm-planner ollama:llama3.1 needs langchain-ollama"),
           ({"experts": "google_genai:gemini-2.0-flash"}, "--llm-role experts=google_genai:gemini-2.0-flash needs langchain-google-genai"),
           ({"scorer": "deepseek:deepseek-chat"}, "pip install langchain-deepseek"),
           ({"writer": "bedrock:anthropic.claude-3"}, "pip install langchain-aws")]


@pytest.mark.parametrize(("roles", "says"), MISSING, ids=[s.split()[1] for _, s in MISSING])
def test_a_missing_integration_is_named_before_any_key_by_its_own_flag(tmp_path, monkeypatch, roles, says):
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setitem(sys.modules, "langchain_ollama", None)  # absent even where a developer installed it
    with pytest.raises(BackendError) as err:
        check_backends(context(tmp_path, llm_roles=roles))
    assert says in str(err.value) and "API key" not in str(err.value)


def test_backends_lists_what_ollama_needs():
    table = json.loads(CliRunner().invoke(cli.app, ["backends", "--json"]).output)
    assert "langchain-ollama" in table["llm"]["ollama:MODEL"]["needs"]


# Building a client probes socket options (a socket is created, never connected); pytest-socket may see the probe.
@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_timeouts_and_temperatures_reach_the_clients(tmp_path):
    ctx = context(tmp_path, llm="openai:qwen", llm_timeout_s=7.0, llm_roles={"planner": "anthropic:claude-x"},
                  llm_endpoints={"scribe": {"base_url": "http://127.0.0.1:8000/v1", "source": "test"},
                                 "planner": {"base_url": "http://127.0.0.1:9000", "source": "test", "timeout_s": 9.0,
                                             "temperature": 0.0}})
    scribe, planner = endpoint_for(ctx, "scribe").model(), endpoint_for(ctx, "planner").model()
    assert scribe.request_timeout == 7.0 and scribe.temperature == 0.2  # the run's --llm-timeout, the default temperature
    assert planner.default_request_timeout == 9.0 and planner.temperature == 0.0  # the role's own
    assert planner.anthropic_api_url == "http://127.0.0.1:9000"
