"""Real providers: the FilmScribe and the ToT judge against OpenAI / Anthropic. Skipped without their keys.

Run with `pytest -m integration tests/test_integration_llm.py`; model names can be overridden with
FOLEY_TEST_OPENAI_MODEL / FOLEY_TEST_ANTHROPIC_MODEL.
"""

from __future__ import annotations

import json
import os

import pytest

from foleydesigner.agents.filmscribe import scribe, validate
from foleydesigner.schemas import SceneScript, ScribeFeedback
from tests.helpers import ball_track, context, linear_track, video_info

PROVIDERS = [
    ("OPENAI_API_KEY", "openai:" + os.environ.get("FOLEY_TEST_OPENAI_MODEL", "gpt-4o-mini")),
    ("ANTHROPIC_API_KEY", "anthropic:" + os.environ.get("FOLEY_TEST_ANTHROPIC_MODEL", "claude-haiku-4-5")),
]
SCREENPLAY = "EXT. PARK - DAY\n\nA man walks across the gravel path. A BALL bounces past him."


def _tracks():
    return [linear_track(0, t0=0.0, t1=3.5, x0=60, x1=560, onsets=[0.3, 0.8, 1.3, 1.8, 2.3, 2.8, 3.3]),
            ball_track(1, t0=0.5, t1=3.0, x0=500, x1=300, hits=[0.9, 1.6, 2.2])]


@pytest.mark.integration
@pytest.mark.enable_socket
@pytest.mark.parametrize(("env", "spec"), PROVIDERS, ids=[p[1] for p in PROVIDERS])
def test_filmscribe_round_trip_with_a_real_model(tmp_path, env, spec):
    if not os.environ.get(env):
        pytest.skip(f"{env} is not set")
    ctx = context(tmp_path, llm=spec)
    script, _ = scribe(ctx, video_info(), _tracks(), SCREENPLAY, None)
    assert isinstance(script, SceneScript) and script.entities
    assert {e.track_id for e in script.entities} & {0, 1}
    fb, _ = validate(ctx, script, _tracks(), video_info())
    assert isinstance(fb, ScribeFeedback)
    lines = [json.loads(s) for s in (tmp_path / "trace.jsonl").read_text().splitlines()]
    llm = [ln for ln in lines if ln["kind"] == "llm"]
    assert llm and all(ln["tokens"]["input"] > 0 for ln in llm if not ln.get("error"))
    assert os.environ[env] not in (tmp_path / "trace.jsonl").read_text()
