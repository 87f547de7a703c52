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

import shutil
import tempfile
from pathlib import Path
from typing import Any

from foleydesigner.report.early_store import (  # noqa: F401  (EARLY_DIR re-exported for the stages and tests)
    EARLY_DIR,
    EARLY_MIXES_DIR,
    mixes_key,
    put_in_place,
    stems_key,
)


def envelope_bins(duration_s: float) -> int:
    from foleydesigner.report.monitors import ENVELOPE_MAX, ENVELOPE_RATE_HZ

    return int(min(ENVELOPE_MAX, max(50, max(duration_s, 1e-3) * ENVELOPE_RATE_HZ)))


def render_early_mixes(run_dir: Path, duration_s: float) -> bool:
    """The mixes' monitors of a run in progress into run_dir/.internal/report_mixes/ (written whole, then moved
    into place). False, and nothing written, when this PyAV has no Opus."""
    from foleydesigner.report import media
    from foleydesigner.report.monitors import audio_adder, mix_media, preview_workers
    from foleydesigner.tools.cpus import TaskPool

    if not media.opus_available():
        return False
    bins = envelope_bins(duration_s)
    key = mixes_key(run_dir, bins)
    final = run_dir / EARLY_MIXES_DIR
    final.parent.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report_mixes-", dir=final.parent))
    try:
        out: dict[str, Any] = {"envelopes": {}, "audio": {}, "loudness": {}, "spectrogram": None}
        (tmp / "audio").mkdir()
        with TaskPool(preview_workers()) as pool:
            mix_media(run_dir, tmp, out, bins, audio_adder(tmp, out, pool))
        put_in_place(tmp, final, out, key)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True


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
        put_in_place(tmp, final, out, stems_key(ids, bins, post.master_gain))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True
