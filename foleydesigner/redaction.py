"""The one scrubber: what a run writes (run.json, trace.jsonl, OUT.failed/, batch.json) and prints never holds a
credential.

Two nets. By value: the value of every key variable the run uses (each provider's, and any role's own
`api_key_env`), and the user:password of any URL a model was given together with its Basic-auth encoding, are
registered when a model is made and replaced wherever they appear, even echoed back inside a server's error.
By pattern: every Authorization value (Basic, Bearer, Digest, Negotiate, any scheme), `sk-…` keys, `user:pass@`
in a URL and key-like query parameters. Dependency-free, so every module may import it.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

MASK = "***"
#: Provider SDKs' key variables: their values are redacted whether or not this run used them.
KEY_ENVS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "MISTRAL_API_KEY", "GROQ_API_KEY",
            "DEEPSEEK_API_KEY", "AZURE_OPENAI_API_KEY", "HF_TOKEN", "RAY_AUTH_TOKEN")
_MIN_SECRET = 4  # shorter values would blank ordinary words; no real credential is that short

_lock = threading.Lock()
_envs: set[str] = set(KEY_ENVS)
_values: set[str] = set()

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # an Authorization (or Proxy-Authorization) field as a header, JSON or repr: its whole value, whatever the scheme
    (re.compile(r"(?i)(\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)(?:[A-Za-z][\w-]*\s+)?[^\s\"',;}\]]+"),
     rf"\1{MASK}"),
    # a scheme and its credentials anywhere else (an echoed header, a log line); a credential has a digit, a
    # base64 sign or an inner capital, so "Basic settings" in a description stays as it is
    (re.compile(r"\b(Basic|Bearer|Digest|Negotiate|NTLM|AWS4-HMAC-SHA256)\s+"
                r"(?=[A-Za-z0-9._~+/=:-]*(?:[0-9+/=]|[a-z][A-Z]))[A-Za-z0-9._~+/=:-]{6,}"), rf"\1 {MASK}"),
    # Digest's parameters (its response is a hash of the password, its nonces replayable)
    (re.compile(r"(?i)\b(response|cnonce|nonce|opaque)=(\\?[\"']?)[^\s\"',\\]+"), rf"\1=\2{MASK}"),
    (re.compile(r"\b(?:sk-ant-|sk-)[A-Za-z0-9_\-]{8,}"), MASK),
    # user:password@ (or a bare token@) in a URL
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@?#]+@"), rf"\1{MASK}@"),
    # key-like query parameters and key fields in text
    (re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access_token|auth|sig|signature|password|secret)=)[^&\s#\"']+"),
     rf"\1{MASK}"),
    (re.compile(r"(?i)(\b(?:x-api-key|api[_-]key|password|secret)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}\]]+"), rf"\1{MASK}"),
]


def add_secret(value: str | None) -> None:
    if value and len(value) >= _MIN_SECRET:
        with _lock:
            _values.add(value)


def add_secret_env(name: str | None) -> None:
    """A variable whose value is a credential (a role's api_key_env): its value is redacted from now on."""
    if name:
        with _lock:
            _envs.add(name)


def add_url_credentials(url: str | None) -> None:
    """user:password@ of a URL a client is given: both, and the Basic-auth header they become."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return
    for raw in (user, password):
        if raw:
            add_secret(raw)
            add_secret(unquote(raw))
    if user is not None and password is not None:
        pair = f"{unquote(user)}:{unquote(password)}".encode()
        add_secret(base64.b64encode(pair).decode().rstrip("="))


def _known() -> list[str]:
    with _lock:
        found = set(_values) | {v for n in _envs if len(v := os.environ.get(n, "")) >= _MIN_SECRET}
    return sorted(found, key=len, reverse=True)  # a longer secret first: one may contain another


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """text with every known credential and every credential-shaped value replaced by ***."""
    if not text:
        return text
    for secret in [*_known(), *(e for e in extra if e and len(e) >= _MIN_SECRET)]:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def scrub_data(value: Any) -> Any:
    """A JSON-able value with every string scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_data(v) for v in value]
    return value


class ScrubFilter(logging.Filter):
    """For the console's log handler: a log line is scrubbed like a file."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), None
        return True
