"""A scripted chat model: replays AIMessages (with tool calls) so agents and graphs run offline.

`responses` replay in order (the last one repeats); an Exception in the script is raised instead, to stand for a
rate limit or a timeout. `by_tool` replays per bound schema name instead (the last tool bound to the model, i.e.
the structured-output schema), so one model can serve several agents whose call order is not fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field


class ScriptedChatModel(FakeMessagesListChatModel):
    responses: list[Any] = Field(default_factory=list)
    by_tool: dict[str, list[Any]] = Field(default_factory=dict)
    bound: tuple[str, ...] = ()
    calls: list[list[Any]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        names = tuple(convert_to_openai_tool(t)["function"]["name"] for t in tools)
        return self.model_copy(update={"bound": names})  # shallow: shares the scripts and the call log

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        self.calls.append(list(messages))
        queue = next((self.by_tool[n] for n in reversed(self.bound) if n in self.by_tool), self.responses)
        item = queue.pop(0) if len(queue) > 1 else queue[0]  # lists are shared by the bound copies
        if isinstance(item, BaseException):
            raise item
        return ChatResult(generations=[ChatGeneration(message=item)])


def call(name: str, args: dict[str, Any], call_id: str = "c1", **usage: int) -> AIMessage:
    """An AIMessage that calls one tool (a structured answer is a call of the schema's name)."""
    meta = {"input_tokens": usage.get("tin", 0), "output_tokens": usage.get("tout", 0),
            "total_tokens": usage.get("tin", 0) + usage.get("tout", 0)} if usage else None
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}], usage_metadata=meta)


@pytest.fixture(scope="session", name="synthetic_clip")
def synthetic_clip_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 s synthetic clip: one vehicle crossing left to right (made once per session, shared by modules)."""
    from foleydesigner.bench.synthetic import make_clip

    path = tmp_path_factory.getbasetemp() / "single_mover.mp4"
    if not path.exists():
        make_clip("single_mover", path, width=640, height=360, duration_s=4.0, seed=0)
    return path
