"""Records that match what ran: mix_plan.json names the planner that planned (after a fallback, the offline
rules), shows the parameters the experts ran (an LLM's refinement included), a range re-ask is attempt 0 then
attempt 1 of one call, and the planner and verify rows of `foley trace` say what they decided."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from foleydesigner.graphs.mixing import run_mixing
from foleydesigner.trace_view import report
from tests import test_mixing
from tests.fakes import ScriptedChatModel, call
from tests.helpers import context
from tests.test_mixing import overlap

scripted = test_mixing.scripted  # the fixture that serves `--llm scripted:x` (set .model)


def _trace(tmp_path):
    return [json.loads(s) for s in (tmp_path / "trace.jsonl").read_text().splitlines()]


def test_after_a_planner_fallback_the_plan_names_the_offline_rules(tmp_path, scripted):
    audio, script, clues = overlap()
    scripted.model = ScriptedChatModel(responses=[AIMessage("I would rather not plan this mix.")])
    out = run_mixing(context(tmp_path, llm_roles={"planner": "scripted:m"}, fallback="heuristic"), audio, script, clues)
    v = out["mix_plan"]["verification"]
    assert v["planner"] == "heuristic" and v["planner_fell_back"] is True
    assert v["planner_rounds"][0] == {"round": 0, "backend": "heuristic", "fell_back": True}
    (warning,) = [w for w in out["warnings"] if w.startswith("mixing.planner")]
    assert "scripted:m failed, used the heuristic backend instead (--fallback heuristic)" in warning
    assert "or pass --fallback heuristic" not in warning and "try another model" not in warning
    planner = [r for r in report(tmp_path)["timeline"] if r["node"] == "mixing.planner" and r["kind"] == "agent"]
    assert planner[0]["decision"] == "heuristic (fell back from scripted:m): bed eq+dyn; hit eq+dyn+reverb"


class ReverbRefiner(ScriptedChatModel):
    """The reverb expert's LLM keeps the keys drier; every other expert's LLM keeps its parameters (no stems)."""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        if "You are the reverb expert" in messages[0].content:
            reply = call("ExpertRefinement", {"params": {"hit": {"send_db": -30.0}}, "note": "keep the keys dry"})
        else:
            reply = call("ExpertRefinement", {"params": {}})
        return ChatResult(generations=[ChatGeneration(message=reply)])


def test_an_experts_refinement_is_what_mix_plan_shows(tmp_path, scripted):
    audio, script, clues = overlap()
    scripted.model = ReverbRefiner()
    out = run_mixing(context(tmp_path, llm_roles={"experts": "scripted:x"}), audio, script, clues)["mix_plan"]
    reverb = [op for op in out["plan"]["hit"] if op["expert"] == "reverb"]
    assert reverb and reverb[0]["params"]["send_db"] == -30.0  # the value the reverb ran with, not the planner's
    refined = out["verification"]["refined"]["hit"]["reverb"]
    assert refined["ran"]["send_db"] == -30.0 and refined["planned"].get("send_db") != -30.0 and refined["by"] == "scripted:x"
    assert out["verification"]["experts_backend"]["reverb"] == "scripted:x"


def test_a_range_reask_is_attempt_0_then_attempt_1(tmp_path, scripted):
    audio, script, clues = overlap()
    out_of_range = {"plan": {"hit": [{"expert": "eq", "params": {"highpass_hz": 9000}, "reason": "x"}]}}
    fixed = {"plan": {"hit": [{"expert": "dyn", "params": {"gain_db": 1.0}, "reason": "keys up"}]}}
    scripted.model = ScriptedChatModel(by_tool={"PlanProposal": [call("PlanProposal", out_of_range),
                                                                 call("PlanProposal", fixed)]})
    run_mixing(context(tmp_path, llm_roles={"planner": "scripted:m"}), audio, script, clues)
    first = [r for r in _trace(tmp_path) if r["node"] == "mixing.planner" and r["kind"] == "llm"][:2]
    assert [r["attempt"] for r in first] == [0, 1]
    assert "cannot run" in first[0]["parse_error"] and "highpass_hz" in first[0]["parse_error"]
    assert "parse_error" not in first[1]
    rows = [r for r in report(tmp_path)["timeline"] if r["node"] == "mixing.planner" and r["kind"] == "llm"][:2]
    assert rows[0]["decision"].startswith("re-ask: Your plan cannot run") and rows[1]["decision"].startswith("attempt 1")


def test_planner_and_verify_rows_carry_their_decision(tmp_path):
    audio, script, clues = overlap()
    run_mixing(context(tmp_path), audio, script, clues)
    rows = report(tmp_path)["timeline"]
    planner = next(r for r in rows if r["node"] == "mixing.planner")
    verify = [r for r in rows if r["node"] == "mixing.verify"]
    assert planner["decision"].startswith("heuristic: ") and "bed " in planner["decision"] and "hit " in planner["decision"]
    assert verify and all(r["decision"].startswith(("passed", "missed: ")) and "LUFS" in r["decision"] for r in verify)
