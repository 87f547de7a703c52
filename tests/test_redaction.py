"""Credentials never reach a file or the console: every Authorization scheme (Basic, Bearer, Digest, …), user:password@
in a URL, and the value of every key variable a run uses (a role's own api_key_env included) are redacted in
run.json, trace.jsonl, OUT.failed/, the report's inputs and the error line."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from foleydesigner.bench.synthetic import make_clip
from foleydesigner.redaction import scrub
from tests.helpers import run_cli

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


@pytest.mark.parametrize("text", [
    "Authorization: Basic dXNlcjpwYTU1d29yZA==",
    '{"authorization": "Digest username=\\"u\\", response=\\"6629fae49393a05397450978507c4ef1\\""}',
    "authorization=Token 9f8e7d6c5b4a39281706",
    "'Proxy-Authorization': 'Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnag'",
    "header was Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
    "echo: Basic dXNlcjpwYTU1d29yZA== was refused",
])
def test_every_authorization_scheme_is_redacted(text):
    out = scrub(text)
    for secret in ("dXNlcjpwYTU1d29yZA", "6629fae49393a05397450978507c4ef1", "9f8e7d6c5b4a39281706",
                   "YIIGhgYGKwYBBQUCoIIGejCCBnag", "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in out, out
    assert "***" in out


def test_ordinary_text_is_left_alone():
    text = "Basic footsteps on gravel; Bearer of news walks in; authorization scene at the bank"
    assert scrub(text) == text


def test_urls_lose_their_credentials_and_key_parameters():
    out = scrub("GET http://alice:pa55word@10.0.0.5:8000/v1/chat?api_key=abc123def&x=1 failed")
    assert "pa55word" not in out and "alice" not in out and "abc123def" not in out and "x=1" in out


class _Echo(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that refuses every request with 401 and echoes what it was sent (some do)."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        sent = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "x-api-key")}
        data = json.dumps({"error": {"message": f"invalid credentials: {sent}", "type": "invalid_request_error",
                                     "code": "invalid_api_key"}}).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def echo():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_a_server_echoing_credentials_leaks_them_nowhere(tmp_path, echo, monkeypatch, capsys):
    clip = tmp_path / "c.mp4"
    make_clip("single_mover", clip, width=160, height=96, fps=12.0, duration_s=1.0, seed=0)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    role_key = "rk-9b1d2e3f4a5b6c7d8e9f"
    monkeypatch.setenv("MY_SCRIBE_KEY", role_key)
    (tmp_path / "foley.toml").write_text(f'[roles.scribe]\nbackend = "openai:local-model"\n'
                                         f'base_url = "http://bob:s3cretpw@127.0.0.1:{echo}/v1"\n'
                                         'api_key_env = "MY_SCRIBE_KEY"\n')
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run_cli(monkeypatch, capsys, ["run", str(clip), "--out", str(tmp_path / "o")])
    assert code == 2 and "401" in err, err
    failed = tmp_path / "o.failed"
    texts = {"console": stdout + err, **{p.name: p.read_text() for p in failed.iterdir()}}
    assert {"run.json", "trace.jsonl", "state.json"} <= set(texts)
    assert "invalid credentials" in texts["trace.jsonl"]  # the server's answer is kept, its echo redacted
    basic = base64.b64encode(b"bob:s3cretpw").decode()
    for where, text in texts.items():
        for secret in (role_key, "s3cretpw", basic, basic.rstrip("=")):
            assert secret not in text, (where, secret)
