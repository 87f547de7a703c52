"""What a failed run leaves behind: `OUT.failed/` beside --out, holding the evidence and nothing that looks finished.

A run that fails once its graph has started (a provider answering 429 every time, a model that refuses, a plan
that cannot run with no fallback) would otherwise take its trace away with its staging folder, exactly when
`foley trace` is needed. Kept: trace.jsonl, run.json (with the error, the stage and the call that failed),
tot_tree.json when the search got that far, and state.json (the JSON part of the last pipeline state: scene
script, draft script, warnings, timings). Never kept: audio, video, stems, a timeline or a report, anything a
user could take for a delivery.

An earlier failed run's folder is replaced; a folder of that name that is not one (no run.json with an error) is
never touched: the evidence goes to `OUT.failed-<time>` instead. A successful run with --force removes it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from foleydesigner.publish import apply_umask
from foleydesigner.redaction import scrub_data
from foleydesigner.schemas import RunInfo
from foleydesigner.tools.export import atomic_write_json

log = logging.getLogger(__name__)
KEPT_FILES = ("trace.jsonl", "tot_tree.json")
#: The JSON-able part of the pipeline state worth reading after a failure (tracks, clues and stems are left out:
#: large, and the trace already says what the tools found).
STATE_KEYS = ("video", "shots", "picture", "scene_script", "scribe_feedback", "scribe_iterations", "script",
              "tot_stop", "mix_plan", "warnings", "timings")


def failed_dir(out: Path) -> Path:
    return out.parent / f"{out.name}.failed"


def is_failed_run(folder: Path) -> bool:
    """Whether a folder is one this module wrote: its run.json carries an error."""
    try:
        data = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data.get("error"))


def failed_stage(done: set[str], order: list[str]) -> str:
    """The first pipeline stage (in graph order) that did not finish."""
    return next((n for n in order if n not in done), "publish")


def failed_node(trace: Path, error: str) -> str | None:
    """The innermost traced call that raised `error` ("Type: message"): spans close inner first, so it is the
    first line carrying it; else the last line with any error."""
    try:
        lines = [json.loads(s) for s in trace.read_text(encoding="utf-8").splitlines() if s.strip()]
    except (OSError, ValueError):
        return None
    failed = [r for r in lines if r.get("error")]
    same = [r for r in failed if r["error"] == error]
    rec = same[0] if same else (failed[-1] if failed else None)
    return str(rec.get("node")) if rec else None


def keep_evidence(staging: Path, out: Path, info: RunInfo, state: dict[str, Any]) -> Path | None:
    """Move a failed run's evidence from its staging folder into OUT.failed/; returns where it went. Never raises:
    the run's own error is what the user must see."""
    target = failed_dir(out)
    if target.exists() and not is_failed_run(target):
        target = out.parent / f"{out.name}.failed-{time.strftime('%Y%m%d-%H%M%S')}"
    # named like a staging folder, so a later run on this --out sweeps it if this process dies right here
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-failed-", dir=out.parent))
    try:
        for name in KEPT_FILES:
            if (staging / name).is_file():
                os.replace(staging / name, tmp / name)
        atomic_write_json(tmp / "run.json", scrub_data(info.model_dump(mode="json")))
        atomic_write_json(tmp / "state.json", scrub_data({k: state[k] for k in STATE_KEYS if k in state}))
        apply_umask(tmp)
        if target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(target, trash / "failed")
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, target)
    except (OSError, TypeError, ValueError) as exc:
        log.warning("could not keep the failed run's evidence in %s: %s", target, exc)
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    return target


def remove_failed(out: Path) -> bool:
    """Remove an earlier failed run's OUT.failed/ (only one this module wrote)."""
    target = failed_dir(out)
    if target.is_dir() and is_failed_run(target):
        shutil.rmtree(target, ignore_errors=True)
        return True
    return False
