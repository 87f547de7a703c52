"""Where the report's monitors rendered during the run are kept, and when the report takes them (report/early.py
renders them; report/monitors.py takes them): a folder under the run's .internal/ with a manifest of the inputs it
was rendered for, moved into place whole; the report copies it in only when its inputs are the report's own."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
EARLY_DIR = Path(".internal") / "report_stems"
EARLY_MIXES_DIR = Path(".internal") / "report_mixes"
_MIXES = ("mix_stereo.wav", "mix_5_1.wav", "mix_binaural.wav")
_MANIFEST = "manifest.json"


def stems_key(ids: list[str], bins: int, gain: float) -> dict[str, Any]:
    return {"ids": list(ids), "bins": int(bins), "gain": float(gain)}


def put_in_place(tmp: Path, final: Path, out: dict[str, Any], key: dict[str, Any]) -> None:
    (tmp / _MANIFEST).write_text(json.dumps({"key": key, "out": out}), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)


def _taken(folder: Path, dest: Path, out: dict[str, Any], key: dict[str, Any]) -> bool:
    """Copy a folder rendered early into the report's media folder and its entries into out, when its key is this."""
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest.get("key") != key:
        log.info("report: %s was rendered for other inputs; rendering it again", folder.name)
        return False
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.name != _MANIFEST:
            (dest / f.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest / f.relative_to(folder))
    for k, v in manifest["out"].items():
        if isinstance(out.get(k), dict):
            out[k].update(v)
        else:
            out[k] = v
    return True


def mixes_key(run_dir: Path, bins: int) -> dict[str, Any]:
    files = {}
    for name in _MIXES:
        if (p := run_dir / name).is_file():
            st = p.stat()
            files[name] = [st.st_size, st.st_mtime_ns]
    return {"files": files, "bins": int(bins)}


def take_early_mixes(run_dir: Path, dest: Path, out: dict[str, Any], bins: int) -> bool:
    """The early mix monitors into the report, when rendered from these mix files at this resolution."""
    return _taken(run_dir / EARLY_MIXES_DIR, dest, out, mixes_key(run_dir, bins))


def take_early(run_dir: Path, dest: Path, out: dict[str, Any], ids: list[str], bins: int, gain: float) -> bool:
    """Move the early stem monitors into the report's media folder and out, when they are for these stems, this
    envelope resolution and this master gain; False (nothing taken) otherwise."""
    return _taken(run_dir / EARLY_DIR, dest, out, stems_key(ids, bins, gain))
