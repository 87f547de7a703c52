"""Mixer plug-ins: an expert registered in code or through an entry point is offered to the planner, run in its
channel-strip place, and a broken one is skipped with a log line."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from foleydesigner.agents import experts as registry
from foleydesigner.agents import mixing as M
from foleydesigner.agents.experts import BaseExpert, ExpertSpec, load_experts, register_expert
from foleydesigner.graphs.mixing import run_mixing
from foleydesigner.schemas import MixOperation
from foleydesigner.tools.streams import SpillFile
from tests.fakes import ScriptedChatModel, call
from tests.helpers import context
from tests.test_mixing import overlap


class WidthParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: float = Field(default=1.0, ge=0.0, le=2.0, description="0 mono, 1 as is, 2 twice the side signal")


class StereoWidth(BaseExpert):
    """The README's worked example: a mid/side width expert in a few lines."""

    spec = ExpertSpec(name="width", description="Mid/side stereo width: widen beds, narrow busy foregrounds.",
                      params=WidthParams, order=60)

    def propose(self, scene, plan):
        return {s: MixOperation(expert="width", params={"width": 1.5}, reason="open the bed around the picture")
                for s in scene.ids("bg")}

    def process_stem(self, audio, params, scene):
        mid, side = (audio[0] + audio[1]) / 2, (audio[0] - audio[1]) / 2 * params.width
        return np.stack([mid + side, mid - side])


def test_a_registered_expert_is_offered_to_the_planner_and_executed(tmp_path, scripted, monkeypatch):
    register_expert(StereoWidth)
    try:
        assert list(load_experts()) == ["eq", "dyn", "width", "reverb"]  # channel-strip order
        audio, script, clues = overlap()
        out = run_mixing(context(tmp_path), audio, script, clues)["mix_plan"]
        assert any(c["name"] == "width" and c["params"]["width"]["maximum"] == 2.0 for c in out["experts"])
        assert [op["params"] for op in out["plan"]["bed"] if op["expert"] == "width"] == [{"width": 1.5}]
        assert "width" in out["verification"]["rounds"][0]["experts"]
        model = scripted(ScriptedChatModel(responses=[call("PlanProposal", {"plan": {"bed": [
            {"expert": "width", "params": {"width": 0.0}, "reason": "mono bed"}]}})]))
        monkeypatch.setattr(M, "MAX_ROUNDS", 1)  # this plan's bed misses its level: one round keeps it the bus's
        run_mixing(context(tmp_path, llm_roles={"planner": "scripted:m"}), audio, script, clues)
        assert '"name": "width"' in model.calls[0][0].content
        bed = SpillFile.existing(tmp_path / ".internal" / "bus_ambience.f32", 2)
        bed = bed.read(0, bed.n)
        assert bed.shape[1] == audio["bed"].shape[1] and np.abs(bed).max() > 0
        assert np.allclose(bed[0], bed[1], atol=1e-6)  # width 0 ran: the bed is mono
    finally:
        registry.unregister_expert("width")


def test_entry_point_experts_load_and_a_broken_one_is_skipped(monkeypatch, caplog):
    class EP:
        def __init__(self, name, obj):
            self.name, self._obj = name, obj

        def load(self):
            if isinstance(self._obj, Exception):
                raise self._obj
            return self._obj

    monkeypatch.setattr(registry, "entry_points", lambda group: [EP("width", StereoWidth), EP("bad", ImportError("x"))])
    experts = load_experts()
    assert "width" in experts and "bad" not in experts
    assert "could not be loaded" in caplog.text
