"""What a run's options may be: ONE check for `foley run`'s flags and `foley batch`'s manifest rows (and its flags),
so a row can never carry a value a flag would refuse (`min_confidence 2`, `hfov 0`, `tot_tau nan`, ...).

Keys are run_foley keywords (RunContext fields); each rule returns what is wrong with a value, or None. Every
range is written so that NaN fails it (a comparison with NaN is false).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from foleydesigner.errors import InputError

#: run_foley keyword -> the `foley run` flag that sets it, where the two differ
FLAG_OF = {"hfov_deg": "hfov", "llm_timeout_s": "llm_timeout"}
_LANGUAGE = re.compile(r"[a-z]{3}")


def _between(lo: float, hi: float, what: str, *, lo_open: bool = False, hi_open: bool = False) -> Callable[[Any], str | None]:
    def rule(v: Any) -> str | None:
        x = float(v)
        ok = (lo < x if lo_open else lo <= x) and (x < hi if hi_open else x <= hi)
        return None if ok else what

    return rule


def _weights(v: Any) -> str | None:
    try:
        w = [float(x) for x in (v.split(",") if isinstance(v, str) else v)]
    except (TypeError, ValueError):
        w = []
    # relative weights (normalised to sum to 1): 1000 is far past any useful ratio, and keeps the sum finite
    if len(w) != 3 or not all(math.isfinite(x) and 0 <= x <= 1000 for x in w) or sum(w) <= 0:
        return ("must be three non-negative numbers w1,w2,w3 (align, layer, emotion) up to 1000, e.g. 0.5,0.3,0.2; "
                "they are normalised to sum to 1")
    return None


def _choice(*allowed: str) -> Callable[[Any], str | None]:
    return lambda v: None if v in allowed else f"must be one of {', '.join(allowed)}"


RULES: dict[str, Callable[[Any], str | None]] = {
    "seed": _between(0, 2**32, f"must be between 0 and {2**32 - 1}", hi_open=True),
    "target_lufs": _between(-70.0, -5.0, "is outside [-70, -5] LUFS; broadcast uses -24 (A/85) or -23 (R128)"),
    "hfov_deg": _between(1.0, 180.0, "must be in [1, 180) degrees; a normal lens is about 60", hi_open=True),
    "max_scribe_iters": _between(1, 20, "must be between 1 and 20"),
    "window_s": _between(5.0, 600.0, "must be in [5, 600] seconds; 30 keeps a 300 s mix under 2 GB"),
    "max_events": _between(1, 100_000, "must be between 1 and 100000"),
    "min_confidence": _between(0.0, 1.0, "must be in [0, 1]; 0.55 renders what the picture clearly shows"),
    "max_screenplay_mb": _between(0.0, 1000.0, "must be in (0, 1000]", lo_open=True),
    "llm_timeout_s": _between(0.0, 3600.0, "must be in (0, 3600] seconds", lo_open=True),
    "language": lambda v: None if isinstance(v, str) and _LANGUAGE.fullmatch(v) else
    "must be an ISO 639-2 code of three lower-case letters (eng, fra, deu), or und",
    "stems": _choice("full", "trimmed"),
    "stem_format": _choice("wav", "flac"),
    "tot_k": _between(1, 10, "must be between 1 and 10 candidates per node"),
    "tot_beam": _between(1, 10, "must be between 1 and 10 nodes kept per level"),
    "tot_tau": _between(0.0, 1.0, "must be in [0, 1] (scores are in [0, 1])"),
    "tot_depth": _between(1, 8, "must be between 1 and 8 levels"),
    "tot_weights": _weights,
}


def flag_label(key: str, value: Any) -> str:
    """How `foley run` names an option and its value in an error: `--hfov 0`."""
    shown = ",".join(f"{x:g}" for x in value) if isinstance(value, tuple) else (
        f"{value:g}" if isinstance(value, float) else str(value))
    return f"--{FLAG_OF.get(key, key).replace('_', '-')} {shown}"


def check_run_options(options: Mapping[str, Any], label: Callable[[str, Any], str] = flag_label) -> None:
    """Raise InputError naming the first option whose value a run cannot take; keys without a rule pass.

    label(key, value) names the option in the message: a flag (`--hfov 0`), or a manifest cell (`hfov=0`)."""
    for key, value in options.items():
        rule = RULES.get(key)
        if rule is None or value is None:
            continue
        try:
            problem = rule(value)
        except (TypeError, ValueError, OverflowError):
            problem = "is not a number"
        if problem:
            raise InputError(f"{label(key, value)} {problem}")
