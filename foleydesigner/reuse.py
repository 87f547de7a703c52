"""An edits run's first stage: the source run's stems that an edit did not change are copied, not rendered.

A stem is reused only when it is the source's full-length float WAV (what the generator wrote; `--stems trimmed`
or `--stem-format flac` deliveries are re-rendered). Copied, not hard-linked: a link shares the inode, so the
publish step's chmod (or any later write) would touch the source run's file.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from foleydesigner.context import RunContext
from foleydesigner.schemas import FoleyScript, StemInfo
from foleydesigner.tools import catalog
from foleydesigner.units import SAMPLE_RATE


def reusable_stem(source_dir: Path, event_id: str, duration_s: float) -> Path | None:
    """The source run's stem of this event if it is a full-length 48 kHz stereo float WAV, else None."""
    import soundfile as sf

    path = source_dir / "stems" / f"{event_id}.wav"
    try:
        info = sf.info(str(path))
    except (OSError, RuntimeError):
        return None
    full = abs(info.frames - round(duration_s * SAMPLE_RATE)) <= 1
    ok = info.samplerate == SAMPLE_RATE and info.channels == 2 and info.subtype == "FLOAT" and full
    return path if ok else None


def _levels(source_dir: Path) -> dict[str, tuple[float, float | None]]:
    """(peak dBFS, integrated LUFS) per stem as the source run's mixer measured them (the same bytes)."""
    try:
        plan = json.loads((source_dir / "mix_plan.json").read_text(encoding="utf-8"))
        return {f["event_id"]: (float(f["peak_dbfs"]), f.get("integrated_lufs")) for f in plan.get("features", [])}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def reuse_stems(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Lay out the clues of restored candidates, and copy every stem no edit changed from the source run."""
    ctx: RunContext = runtime.context
    t0 = time.perf_counter()
    script = FoleyScript.model_validate(state["script"])
    source = Path(state["source_dir"])
    clues = dict(state.get("clues") or {})
    missing = [e for e in script.events if e.id not in clues]
    tracks: list[dict[str, Any]] = []
    if any(e.source_track is not None for e in missing):  # a restored track-bound candidate: watch the clip again
        from foleydesigner import stages

        tracks = stages.load_video({"video_path": state["video_path"]}, runtime)["tracks"]
        known = {t["id"] for t in tracks}
        for e in missing:
            if e.source_track is not None and e.source_track not in known:
                from foleydesigner.errors import InputError

                raise InputError(f"restore {e.id}: its track {e.source_track} was not found when the clip was watched "
                                 f"again with --vision {ctx.vision}; use the source run's vision backend")
    for e in missing:
        clues[e.id] = ctx.tracer.call_tool("extract_clues", catalog.extract_event_clues,
                                           {"event": e.model_dump(mode="json"), "tracks": tracks,
                                            "video": state["video"], "hfov_deg": ctx.hfov_deg})
    levels = _levels(source)
    stems = []
    (ctx.work_dir / "stems").mkdir(parents=True, exist_ok=True)
    with ctx.tracer.span("reuse_stems", "tool", backend="copy", inputs=str(source)) as rec:
        for e in script.events:
            if e.id in state.get("rerender", {}):
                continue
            src = source / "stems" / f"{e.id}.wav"
            dst = ctx.work_dir / "stems" / f"{e.id}.wav"
            shutil.copyfile(src, dst)
            peak, lufs = levels.get(e.id, (0.0, None))
            info = StemInfo(event_id=e.id, path=f"stems/{e.id}.wav", sample_rate=SAMPLE_RATE, channels=2,
                            duration_s=script.duration_s, peak_dbfs=peak, integrated_lufs=lufs)
            stems.append({**info.model_dump(), "generator_info": {"reused_from": str(src)}})
        rec["parsed"] = {"reused": [s["event_id"] for s in stems], "rerendered": dict(state.get("rerender", {}))}
        rec["decision"] = f"reused {len(stems)} stems, rendering {len(state.get('rerender', {}))} again"
    return {"clues": clues, "stems": stems, "timings": {"reuse_stems": time.perf_counter() - t0}}
