"""The report's stem monitors rendered during the run, beside the 5.1 upmix, and its mix monitors beside the
export, instead of both after the run.

The stems' envelopes, spectrograms and Opus previews (most of a report's build) need only the mixer's strips and
its master gain, both final once the mix is mastered; the upmix, the export and the run's other files change
none of them. stages.preview_stems renders them into the run's scratch folder (.internal/report_stems/) while
the upmix runs on the other core, and the report takes them when they are for the same stems, envelope
resolution and master gain, else renders them itself (as `foley report DIR` always does: the scratch folder is
gone by then). The mixes' monitors (spectrogram, loudness curves, previews) need only the mix files, final once
the immersive formats are delivered: stages.preview_mixes renders them while the video is muxed, and the report
takes them when the mix files are the ones they were rendered from (size and modification time) at the same
envelope resolution. The page is the same either way.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
EARLY_DIR = Path(".internal") / "report_stems"
EARLY_MIXES_DIR = Path(".internal") / "report_mixes"
_MIXES = ("mix_stereo.wav", "mix_5_1.wav", "mix_binaural.wav")
_MANIFEST = "manifest.json"


def envelope_bins(duration_s: float) -> int:
    from foleydesigner.report.monitors import ENVELOPE_MAX, ENVELOPE_RATE_HZ

    return int(min(ENVELOPE_MAX, max(50, max(duration_s, 1e-3) * ENVELOPE_RATE_HZ)))


def _key(ids: list[str], bins: int, gain: float) -> dict[str, Any]:
    return {"ids": list(ids), "bins": int(bins), "gain": float(gain)}


def _in_place(tmp: Path, final: Path, out: dict[str, Any], key: dict[str, Any]) -> None:
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


def _mixes_key(run_dir: Path, bins: int) -> dict[str, Any]:
    files = {}
    for name in _MIXES:
        if (p := run_dir / name).is_file():
            st = p.stat()
            files[name] = [st.st_size, st.st_mtime_ns]
    return {"files": files, "bins": int(bins)}


def render_early_mixes(run_dir: Path, duration_s: float) -> bool:
    """The mixes' monitors of a run in progress into run_dir/.internal/report_mixes/ (written whole, then moved
    into place). False, and nothing written, when this PyAV has no Opus."""
    from foleydesigner.report import media
    from foleydesigner.report.monitors import audio_adder, mix_media, preview_workers
    from foleydesigner.tools.cpus import TaskPool

    if not media.opus_available():
        return False
    bins = envelope_bins(duration_s)
    key = _mixes_key(run_dir, bins)
    final = run_dir / EARLY_MIXES_DIR
    final.parent.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report_mixes-", dir=final.parent))
    try:
        out: dict[str, Any] = {"envelopes": {}, "audio": {}, "loudness": {}, "spectrogram": None}
        (tmp / "audio").mkdir()
        with TaskPool(preview_workers()) as pool:
            mix_media(run_dir, tmp, out, bins, audio_adder(tmp, out, pool))
        _in_place(tmp, final, out, key)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True


def take_early_mixes(run_dir: Path, dest: Path, out: dict[str, Any], bins: int) -> bool:
    """The early mix monitors into the report, when rendered from these mix files at this resolution."""
    return _taken(run_dir / EARLY_MIXES_DIR, dest, out, _mixes_key(run_dir, bins))


def render_early(run_dir: Path, script: dict[str, Any], plan: dict[str, Any]) -> bool:
    """The stem monitors of a run in progress into run_dir/.internal/report_stems/ (written whole, then moved into
    place). False, and nothing written, when the mixer's strips are not there or this PyAV has no Opus."""
    from foleydesigner.report import media
    from foleydesigner.report.mixdown import mixer_strips, stem_path
    from foleydesigner.report.monitors import (
        audio_adder,
        in_memory,
        preview_workers,
        returns_media,
        stem_media,
    )
    from foleydesigner.tools.cpus import TaskPool

    post = mixer_strips(run_dir, plan)
    ids = [e["id"] for e in script.get("events", []) if stem_path(run_dir, e["id"])]
    if post is None or not media.opus_available() or any(sid not in post.stems for sid in ids):
        return False
    bins = envelope_bins(float(script.get("duration_s") or 0.0))
    final = run_dir / EARLY_DIR
    tmp = Path(tempfile.mkdtemp(prefix=".report_stems-", dir=final.parent))
    try:
        out: dict[str, Any] = {"envelopes": {}, "audio": {}, "spectra": {}}
        (tmp / "audio").mkdir()
        with TaskPool(preview_workers()) as pool:
            add_audio = audio_adder(tmp, out, pool)
            for sid in ids:
                stem_media(sid, in_memory(post.stems[sid]), post.master_gain, tmp, out, bins, add_audio)
            if post.returns:
                returns_media(post, out, bins, add_audio)
        _in_place(tmp, final, out, _key(ids, bins, post.master_gain))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True


def take_early(run_dir: Path, dest: Path, out: dict[str, Any], ids: list[str], bins: int, gain: float) -> bool:
    """Move the early stem monitors into the report's media folder and out, when they are for these stems, this
    envelope resolution and this master gain; False (nothing taken) otherwise."""
    return _taken(run_dir / EARLY_DIR, dest, out, _key(ids, bins, gain))
