"""A scripted LLM server on 127.0.0.1, in-process: just enough of the OpenAI chat-completions and Anthropic messages
APIs for the real SDKs to call it, so a test sees which path each role's client requested and what it sent.

`answers` maps a tool (structured-output schema) name to the arguments the model "calls" it with; a request for
any other tool gets a plain-text refusal. `status` other than 200 answers every request with that error (and
`retry-after: 0`, which our RetryPolicy honours, so retries cost no time); a list of statuses is played in order, one
per request (the last repeats), so `[500, 200]` is a server that fails once. An answer given as a string is sent as the
raw tool-call arguments (a model that writes malformed JSON).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _tool_name(kind: str, body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = choice.get("name") or (choice.get("function") or {}).get("name")
        if name:
            return str(name)
    tools = body.get("tools") or []
    if not tools:
        return None
    last = tools[-1]  # bind_tools([*tools, schema]): the answer schema comes last
    return str(last.get("name") if kind == "anthropic" else last["function"]["name"])


def _reply(kind: str, model: str, name: str | None, args: dict[str, Any] | str | None) -> dict[str, Any]:
    if kind == "anthropic":
        content: list[dict[str, Any]] = ([{"type": "tool_use", "id": "toolu_1", "name": name, "input": args}]
                                         if args is not None else [{"type": "text", "text": "I cannot help with that."}])
        return {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": "tool_use" if args is not None else "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 120, "output_tokens": 30}}
    message: dict[str, Any] = {"role": "assistant", "content": None if args is not None else "I cannot help with that."}
    if args is not None:
        message["tool_calls"] = [{"id": "call_1", "type": "function",
                                  "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}]
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if args is not None else "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}}


class FakeLLMServer:
    def __init__(self, kind: str, answers: dict[str, Any] | None = None, *, status: int | list[int] = 200,
                 error: str = "slow down") -> None:
        assert kind in ("openai", "anthropic")
        self.kind, self.answers, self.error = kind, answers or {}, error  # error: "{auth}" echoes the request's key
        self.statuses = list(status) if isinstance(status, list) else [status]
        self.requests: list[dict[str, Any]] = []  # path, model, tool, headers of every request
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                tool = _tool_name(server.kind, body)
                server.requests.append({"path": self.path, "model": body.get("model"), "tool": tool,
                                        "headers": {k.lower(): v for k, v in self.headers.items()}})
                status = server.statuses.pop(0) if len(server.statuses) > 1 else server.statuses[0]
                if status != 200:
                    auth = self.headers.get("authorization") or self.headers.get("x-api-key") or ""
                    message = server.error.format(auth=auth, key=auth.split()[-1] if auth else "")
                    payload: dict[str, Any] = {"type": "error", "error": {"type": "rate_limit_error", "message": message}}
                    self._send(status, payload, {"retry-after": "0"})
                    return
                self._send(200, _reply(server.kind, str(body.get("model")), tool, server.answers.get(tool or "")))

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeLLMServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def paths(self) -> set[str]:
        return {r["path"] for r in self.requests}
