"""The LLM seam: factory, structured output with one re-ask, refusals, retries with backoff, tools, fallback, cost."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import BaseModel

from foleydesigner.agents.filmscribe import scribe, validate
from foleydesigner.errors import BackendError
from foleydesigner.llm import (
    RetryPolicy,
    is_transient,
    is_vision_model,
    make_chat_model,
    parse_backend,
    redact_url,
    structured_call,
    unregister_chat_model_factory,
    usage_for,
    with_fallback,
)
from foleydesigner.schemas import SceneContext, SceneEntity, SceneScript
from foleydesigner.trace import Tracer
from tests.fakes import (
    ScriptedChatModel,
    call,
    synthetic_clip_fixture,  # noqa: F401  (registers the `synthetic_clip` fixture)
)
from tests.helpers import context, linear_track, video_info


class Answer(BaseModel):
    n: int


class RateLimitError(Exception):
    status_code = 429


class InternalServerError(Exception):
    status_code = 503


def _lines(tmp_path):
    return [json.loads(s) for s in (tmp_path / "trace.jsonl").read_text().splitlines()]


def test_backend_strings_and_vision_flags():
    assert parse_backend("heuristic") == ("heuristic", "")
    assert parse_backend("openai:gpt-4o-mini") == ("openai", "gpt-4o-mini")
    with pytest.raises(BackendError, match="provider:model"):
        parse_backend("gpt4")
    assert is_vision_model("openai:gpt-4o") and is_vision_model("anthropic:claude-sonnet-4-5")
    assert is_vision_model("ollama:llava:13b") and not is_vision_model("ollama:llama3.1")
    assert not is_vision_model("openai:gpt-3.5-turbo")


# Building a client probes socket options (a socket is created, never connected); pytest-socket blocks the probe.
@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_factory_builds_real_providers_without_network(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    openai = make_chat_model("openai:gpt-4o-mini")
    anthropic = make_chat_model("anthropic:claude-sonnet-4-5")
    local = make_chat_model("openai:qwen2.5", base_url="http://localhost:8000/v1")
    assert type(openai).__name__ == "ChatOpenAI" and openai.max_retries == 0  # our RetryPolicy is the only retry layer
    assert type(anthropic).__name__ == "ChatAnthropic" and anthropic.max_retries == 0
    assert local.openai_api_base == "http://localhost:8000/v1"
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(BackendError, match="OPENAI_API_KEY"):
        make_chat_model("openai:gpt-4o-mini")
    with pytest.raises(BackendError, match="langchain-ollama|OpenAI-compatible"):
        make_chat_model("ollama:llama3.1")


def test_registered_factory_is_a_test_hook_only(scripted):
    model = scripted(ScriptedChatModel(responses=[AIMessage("hi")]))
    assert make_chat_model("scripted:demo") is model
    unregister_chat_model_factory("scripted")
    with pytest.raises(BackendError):
        make_chat_model("scripted:demo")  # not a provider init_chat_model knows


def test_valid_reply_is_traced_with_tokens_and_cost(tmp_path):
    tracer = Tracer(tmp_path / "trace.jsonl")
    model = ScriptedChatModel(responses=[call("Answer", {"n": 3}, tin=1000, tout=200)])
    out = structured_call(model, [HumanMessage("count")], Answer, tracer=tracer, node="t", backend="openai:gpt-4o-mini")
    assert out == Answer(n=3)
    (rec,) = _lines(tmp_path)
    assert rec["kind"] == "llm" and rec["prompt"][0]["content"] == "count" and rec["parsed"] == {"n": 3}
    assert rec["raw"]["tool_calls"][0]["args"] == {"n": 3} and rec["tokens"] == {"input": 1000, "output": 200}
    assert rec["cost_usd"] == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    usage = usage_for(tracer)
    assert usage.per_backend["openai:gpt-4o-mini"]["calls"] == 1 and usage.cost_usd == pytest.approx(2.7e-4)
    structured_call(ScriptedChatModel(responses=[call("Answer", {"n": 1}, tin=5, tout=5)]), [HumanMessage("x")], Answer,
                    tracer=tracer, node="t", backend="ollama:some-local-model")
    structured_call(ScriptedChatModel(responses=[call("Answer", {"n": 1}, tin=5, tout=5)]), [HumanMessage("x")], Answer,
                    tracer=tracer, node="t", backend="openai:unknown-model-x")
    assert usage.per_backend["ollama:some-local-model"]["cost_usd"] == 0.0
    assert usage.cost_usd is None  # one model without a price: no total pretends to be exact


def test_malformed_json_is_reasked_once_with_the_error(tmp_path):
    tracer = Tracer(tmp_path / "trace.jsonl")
    bad = AIMessage("", invalid_tool_calls=[{"name": "Answer", "args": "{n: 3", "id": "1", "error": "Expecting property name"}])
    model = ScriptedChatModel(responses=[bad, call("Answer", {"n": 4})])
    assert structured_call(model, [HumanMessage("count")], Answer, tracer=tracer, node="t", backend="scripted:x").n == 4
    reask = model.calls[1][-1].content
    assert "not a valid Answer" in reask and "malformed JSON" in reask and "Expecting property name" in reask
    assert [r.get("parse_error") is not None for r in _lines(tmp_path)] == [True, False]


def test_malformed_twice_fails_the_node_clearly(tmp_path):
    tracer = Tracer(tmp_path / "trace.jsonl")
    model = ScriptedChatModel(responses=[call("Answer", {"n": "three"})])
    with pytest.raises(BackendError, match=r"t: scripted:x gave no valid Answer after a re-ask .*--fallback heuristic"):
        structured_call(model, [HumanMessage("count")], Answer, tracer=tracer, node="t", backend="scripted:x")
    assert len(model.calls) == 2 and all("valid integer" in r["parse_error"] for r in _lines(tmp_path))


def test_refusal_is_reasked_then_reported(tmp_path):
    tracer = Tracer(tmp_path / "trace.jsonl")
    refusal = AIMessage("", additional_kwargs={"refusal": "I can't help with that."})
    with pytest.raises(BackendError, match="refused"):
        structured_call(ScriptedChatModel(responses=[refusal]), [HumanMessage("x")], Answer, tracer=tracer, node="t",
                        backend="scripted:x")
    prose = ScriptedChatModel(responses=[AIMessage("Sorry, I cannot do that."), call("Answer", {"n": 1})])
    assert structured_call(prose, [HumanMessage("x")], Answer, tracer=tracer, node="t", backend="scripted:x").n == 1
    assert "Sorry, I cannot do that." in prose.calls[1][-1].content


def test_rate_limits_and_timeouts_retry_with_backoff(tmp_path):
    tracer = Tracer(tmp_path / "trace.jsonl")
    waits: list[float] = []
    policy = RetryPolicy(max_retries=3, base_s=0.5, factor=2.0, sleep=waits.append)
    model = ScriptedChatModel(responses=[RateLimitError("429 slow down"), TimeoutError("read timed out"),
                                         InternalServerError("503"), call("Answer", {"n": 7})])
    assert structured_call(model, [HumanMessage("x")], Answer, tracer=tracer, node="t", backend="scripted:x",
                           retry=policy).n == 7
    assert waits == [0.5, 1.0, 2.0]
    (rec,) = _lines(tmp_path)
    assert [r["wait_s"] for r in rec["retries"]] == [0.5, 1.0, 2.0] and "RateLimitError" in rec["retries"][0]["error"]
    exhausted = ScriptedChatModel(responses=[RateLimitError("429")])
    with pytest.raises(BackendError, match="after 3 retries"):
        structured_call(exhausted, [HumanMessage("x")], Answer, tracer=tracer, node="t", backend="scripted:x", retry=policy)
    waits.clear()
    with pytest.raises(BackendError, match="ValueError"):  # a bug is not retried
        structured_call(ScriptedChatModel(responses=[ValueError("bad request")]), [HumanMessage("x")], Answer,
                        tracer=tracer, node="t", backend="scripted:x", retry=policy)
    assert waits == [] and is_transient(TimeoutError()) and not is_transient(ValueError())


def test_tool_calls_run_locally_and_feed_back(tmp_path, scripted):
    tracks = [linear_track(0, t0=0.0, t1=3.0, x0=60, x1=560, onsets=[0.5, 1.0, 1.5])]
    answer = SceneScript(summary="one walker", scene=SceneContext(location="outdoor"),
                         entities=[SceneEntity(name="man", action="walks", start_s=0.0, end_s=3.0, track_id=0)])
    model = scripted(ScriptedChatModel(responses=[call("describe_track", {"track_id": 0}, "t1"),
                                                  call("SceneScript", answer.model_dump(), "t2")]))
    ctx = context(tmp_path, llm="scripted:text-model")
    script, warnings = scribe(ctx, video_info(), tracks, None, None)
    assert script == answer and warnings == []
    tool_reply = model.calls[1][-1]
    assert tool_reply.type == "tool" and '"onsets_s": [0.5, 1.0, 1.5]' in tool_reply.content
    kinds = [(r["node"], r["kind"]) for r in _lines(tmp_path)]
    assert kinds == [("filmscribe.generate", "tool"), ("filmscribe.generate", "llm"), ("filmscribe.generate", "llm")]


def test_llm_validator_cannot_wave_through_a_missing_track(tmp_path, scripted):
    tracks = [linear_track(0, t0=0.0, t1=3.0, x0=60, x1=560), linear_track(1, t0=1.0, t1=2.0, x0=500, x1=400)]
    scripted(ScriptedChatModel(responses=[call("ScribeFeedback", {"valid": True})]))
    draft = SceneScript(summary="x", scene=SceneContext(),
                        entities=[SceneEntity(name="a", action="walks", start_s=0.0, end_s=3.0, track_id=0)])
    fb, _ = validate(context(tmp_path, llm="scripted:v"), draft, tracks, video_info())
    assert not fb.valid and fb.missing_track_ids == [1]


def test_fallback_only_when_asked_and_always_warned(tmp_path, scripted):
    scripted(ScriptedChatModel(responses=[AIMessage("no idea")]))
    ctx = context(tmp_path, llm="scripted:bad")
    tracks = [linear_track(0, t0=0.0, t1=3.0, x0=60, x1=560)]
    with pytest.raises(BackendError, match="filmscribe.generate"):
        scribe(ctx, video_info(), tracks, None, None)
    ctx = context(tmp_path, llm="scripted:bad", fallback="heuristic")
    script, warnings = scribe(ctx, video_info(), tracks, None, None)
    assert [e.track_id for e in script.entities] == [0]
    assert len(warnings) == 1 and "--fallback heuristic" in warnings[0]
    assert any(r["kind"] == "fallback" and r["node"] == "filmscribe.generate" for r in _lines(tmp_path))
    assert with_fallback(ctx, "scorer", "n", lambda: 1, lambda: 2) == (1, [])


def test_vision_models_get_keyframes_and_the_trace_keeps_digests(tmp_path, scripted, synthetic_clip):
    from foleydesigner.tools.video import probe_video

    video = probe_video(synthetic_clip)
    answer = SceneScript(summary="a car", scene=SceneContext(location="outdoor"))
    for spec, flag, images in (("scripted:gpt-4o", False, 4), ("scripted:my-local-model", False, 0),
                               ("scripted:my-local-model", True, 4)):
        model = scripted(ScriptedChatModel(responses=[call("SceneScript", answer.model_dump())]))
        scribe(context(tmp_path, llm=spec, llm_vision=flag), video, [], None, None)
        content = model.calls[0][1].content
        blocks = [b for b in content if isinstance(b, dict) and b.get("type") == "image"] if isinstance(content, list) else []
        assert len(blocks) == images, spec
        assert all(b["mime_type"] == "image/jpeg" and len(b["base64"]) > 1000 for b in blocks)
    trace = (tmp_path / "trace.jsonl").read_text()
    assert blocks[0]["base64"][:200] not in trace and '"digest"' in trace


def test_redact_url_drops_credentials():
    assert redact_url("https://bob:s3cret@llm.example.com:8443/v1?api_key=XYZ#x") == "https://llm.example.com:8443/v1"


class Hanging(ScriptedChatModel):
    """A server that holds every request until its timeout: each call costs `timeout_s` of (fake) time."""

    now: Any = None  # the test's clock (a list, shared: Any is not copied by validation)
    timeout_s: float = 120.0

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls.append(list(messages))
        self.now[0] += self.timeout_s
        raise TimeoutError("read timed out")


def test_a_hanging_server_costs_a_step_its_deadline_not_ten_minutes(tmp_path):
    from foleydesigner.llm import STEP_TIMEOUTS

    now = [0.0]
    policy = RetryPolicy(max_retries=4, base_s=1.0, sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    model = Hanging(now=now)
    with pytest.raises(BackendError) as err:
        structured_call(model, [HumanMessage("x")], Answer, tracer=Tracer(None), node="script_writer",
                        backend="openai:slow", retry=policy, step_timeout_s=STEP_TIMEOUTS * 120.0,
                        server="http://10.0.0.5:8000/v1/chat/completions")
    # without the deadline: 5 requests × 120 s + 1+2+4+8 s of backoff = 615 s; with it, no retry starts past 360 s
    assert len(model.calls) == 3 and now[0] <= STEP_TIMEOUTS * 120.0 + 120.0
    message = str(err.value)
    assert "the openai:slow call to http://10.0.0.5:8000/v1/chat/completions failed (TimeoutError" in message
    assert "no time left before the step's deadline" in message


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_connection_error_names_the_server(tmp_path):
    import socket

    from foleydesigner.llm import ask

    with socket.socket() as s:  # a port nothing listens on: the server is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = context(tmp_path, llm_roles={"writer": "openai:local"}, llm_base_url=f"http://127.0.0.1:{port}/v1",
                  llm_retry=RetryPolicy(max_retries=1, sleep=lambda s: None))
    with pytest.raises(BackendError) as err:
        ask(ctx, "writer", "script_writer", [HumanMessage("x")], Answer)
    assert f"call to http://127.0.0.1:{port}/v1/chat/completions failed (OpenAIConnectionError" in str(err.value)


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_vlm_vision_with_its_server_down_falls_back_to_opencv_when_asked(tmp_path, synthetic_clip):
    import socket

    from foleydesigner.tools.video import probe_video
    from foleydesigner.tools.vision import make_vision_backend

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    info = probe_video(synthetic_clip)
    down = {"llm": "openai:gpt-4o", "llm_base_url": f"http://127.0.0.1:{port}/v1",
            "llm_retry": RetryPolicy(max_retries=0)}
    with pytest.raises(BackendError, match=f"127.0.0.1:{port}"):
        make_vision_backend("vlm", ctx=context(tmp_path, **down)).track(synthetic_clip, info)
    backend = make_vision_backend("vlm", ctx=context(tmp_path, fallback="heuristic", **down))
    tracks = backend.track(synthetic_clip, info)
    assert [t.label for t in tracks] == ["vehicle"]  # OpenCV's own track and label stand
    (warning,) = backend.warnings
    assert warning.startswith("vision.vlm: openai:gpt-4o failed, kept the OpenCV tracks and labels (--fallback heuristic)")
    assert len(warning) < 300
    assert any(r["kind"] == "fallback" and r["node"] == "vision.vlm" for r in _lines(tmp_path))


def test_a_missing_key_for_a_role_of_foley_toml_names_the_table_not_a_flag(tmp_path, monkeypatch, capsys):
    from tests.helpers import run_cli

    monkeypatch.delenv("MY_VLLM_KEY", raising=False)
    config = tmp_path / "foley.toml"
    config.write_text('[roles.scribe]\nbackend = "openai:qwen"\nbase_url = "http://127.0.0.1:8000/v1"\n'
                      'api_key_env = "MY_VLLM_KEY"\n')
    monkeypatch.chdir(tmp_path)
    from foleydesigner.bench.synthetic import make_clip

    make_clip("single_mover", tmp_path / "c.mp4", width=160, height=96, fps=10.0, duration_s=1.0, seed=0)
    code, out, err = run_cli(monkeypatch, capsys, ["run", "c.mp4", "--out", "o"])
    text = " ".join((out + err).split())
    assert code == 2 and "--llm-scribe" not in text
    assert f"openai:qwen ([roles.scribe] in {config}) needs an API key: set MY_VLLM_KEY (named by [roles.scribe] " \
           f"api_key_env in {config})" in text
