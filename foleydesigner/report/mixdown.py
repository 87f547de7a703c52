"""The stems as the mix plays them, for the report's Stems monitor.

A stem in stems/ is the generator's output, before the plan: a footstep there sits ~30 dB under where the
mix puts it. The monitor must play what the mix plays, so the report re-runs the mixer's own channel strips
(agents/mixing.render_mix: EQ → dynamics → reverb send, window by window, with the plan's parameters as they ran,
from mix_plan.json) on the run's stems, and scales them by the master's make-up gain. Nothing here re-implements
DSP: with nothing soloed, the processed stems plus the reverb returns sum to the stereo mix before its true-peak
limiter (which only touches the few peaks over the ceiling).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from foleydesigner.agents.experts import load_experts
from foleydesigner.agents.mixing import render_mix
from foleydesigner.agents.mixplan import analyse
from foleydesigner.schemas import EventClues, FoleyScript
from foleydesigner.tools.processing import db_to_gain
from foleydesigner.tools.stems import STEM_FORMATS, time_reference
from foleydesigner.tools.streams import WINDOW_S, SpillFile, WavAudio
from foleydesigner.trace import Tracer
from foleydesigner.units import SAMPLE_RATE

log = logging.getLogger(__name__)


@dataclass
class PostPlan:
    """Processed stems and bus returns (scratch spill files), the master gain to apply to all of them, and the
    fader each stem's plan set (dB), which the monitor's faders start from."""

    stems: dict[str, SpillFile]
    returns: dict[str, SpillFile]
    master_gain: float
    faders_db: dict[str, float] = field(default_factory=dict)
    source: str = "rendered"  # "mixer": the run's own strips; "rendered": the plan run again on the stems


def stem_path(run_dir: Path, sid: str) -> Path | None:
    """The stem file of an event as the run delivered it (`--stem-format wav` or `flac`), None when missing."""
    return next((p for ext in STEM_FORMATS if (p := run_dir / "stems" / f"{sid}.{ext}").is_file()), None)


class Placed:
    """A stem file read on the clip's clock: `--stems trimmed` cuts each stem to where it sounds, so its first
    sample sits `offset` samples into the clip; the reader gives zeros around it, n frames in all."""

    def __init__(self, src: WavAudio, offset: int, n: int) -> None:
        self.src, self.offset, self.n, self.channels, self.sr = src, offset, n, src.channels, src.sr

    def read(self, a: int, b: int) -> np.ndarray:
        return self.src.read(a - self.offset, b - self.offset)


def _otio_offset(run_dir: Path, rel: str, n: int) -> int | None:
    """First sample of a stem's media on the timeline, from session.otio (a FLAC stem has no bext chunk), when
    the media range written there is as long as the file (n frames): else session.otio describes another file."""
    try:
        doc = json.loads((run_dir / "session.otio").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    todo: list[Any] = [doc]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if node.get("target_url") == rel:
                rng = node.get("available_range") or {}
                start, length = rng.get("start_time") or {}, rng.get("duration") or {}
                if "value" in start and start.get("rate") and length.get("rate") and \
                        round(float(length.get("value", -1)) * SAMPLE_RATE / float(length["rate"])) == n:
                    return int(round(float(start["value"]) * SAMPLE_RATE / float(start["rate"])))
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return None


def on_clip_clock(run_dir: Path, path: Path, n: int | None) -> WavAudio | Placed | None:
    """A stem as a reader n frames long on the clip's clock (n None: the file as it is); None when the file is
    shorter than the clip and neither its bext TimeReference nor session.otio says where it starts."""
    src = WavAudio(path)
    if n is None or src.n == n:
        return src
    offset = time_reference(path) if path.suffix == ".wav" else None
    offset = offset if offset is not None else _otio_offset(run_dir, f"stems/{path.name}", src.n)
    if offset is None or offset < 0 or offset + src.n > n:
        return None
    return Placed(src, offset, n)


def plan_faders(plan: dict[str, Any]) -> dict[str, float]:
    """The fader move of each stem in mix_plan.json (the dynamics expert's `gain_db`), 0 dB where none."""
    out: dict[str, float] = {}
    for sid, ops in (plan.get("plan") or {}).items():
        out[sid] = round(sum(float((op.get("params") or {}).get("gain_db") or 0.0) for op in ops), 2)
    return out


#: Where a run's mixer leaves its processed strips (agents/mixing.render_mix) until the run ends.
MIXER_STRIPS = Path(".internal") / "render"


def mixer_strips(run_dir: Path, plan: dict[str, Any]) -> PostPlan | None:
    """The processed stems and reverb returns exactly as the run's mixer summed them, when the run is still in
    progress (`foley run` builds its report before removing its scratch folder): every plan stem's strip must be
    there, stereo and as long as the mix. None otherwise (`foley report` later: the strips are rendered again)."""
    folder, mix = run_dir / MIXER_STRIPS, run_dir / "mix_stereo.wav"
    ids = sorted(plan.get("plan") or {})
    if not ids or not folder.is_dir() or not mix.is_file():
        return None
    size = WavAudio(mix).n * 2 * 4  # float32 frames of a stereo strip the mix's length
    returns = sorted(folder.glob("return_*.f32"))
    strips = {p.stem: p for p in sorted(folder.glob("*.f32")) if p not in returns}  # a stem with no op passes too
    if not set(ids) <= set(strips) or any(p.stat().st_size != size for p in (*strips.values(), *returns)):
        return None
    master = (plan.get("verification") or {}).get("master") or {}
    return PostPlan(stems={sid: SpillFile.existing(p, 2) for sid, p in strips.items()},
                    returns={p.stem: SpillFile.existing(p, 2) for p in returns},
                    master_gain=db_to_gain(float(master.get("gain_db") or 0.0)), faders_db=plan_faders(plan),
                    source="mixer")


def render_post_plan(run_dir: Path, script: dict[str, Any], clues: dict[str, Any], plan: dict[str, Any],
                     scratch: Path) -> PostPlan | None:
    """Run the mix plan's channel strips on the run's stems into scratch/; None when the run has no plan or its
    stems are not the mixer's full-length 48 kHz stereo (then the monitor falls back to the raw stems). The
    mixer's own strips are taken instead when the run still has them (most of a report's build time otherwise)."""
    if (kept := mixer_strips(run_dir, plan)) is not None:
        return kept
    paths = {sid: p for sid in sorted(plan.get("plan") or {}) if (p := stem_path(run_dir, sid))}
    if not paths:
        return None
    mix = run_dir / "mix_stereo.wav"
    n = WavAudio(mix).n if mix.is_file() else None
    placed = {sid: on_clip_clock(run_dir, p, n) for sid, p in paths.items()}
    if any(s is None or s.sr != SAMPLE_RATE or s.channels != 2 for s in placed.values()):
        return None  # a stem whose place on the clip's clock is unknown: the mixer's strips cannot be re-run
    sources: dict[str, Any] = dict(placed)
    parsed = FoleyScript.model_validate(script)
    known = {e.id for e in parsed.events}
    sources = {sid: s for sid, s in sources.items() if sid in known}
    cl = {c["event_id"]: EventClues.model_validate(c) for c in clues.get("events", []) if c.get("event_id") in sources}
    scene = analyse(sources, parsed, cl, window_s=WINDOW_S)
    experts = load_experts()
    settings: dict[str, Any] = {}
    for sid, ops in plan["plan"].items():
        for op in ops if sid in sources else []:
            if op.get("expert") in experts:
                settings.setdefault(op["expert"], {"round": 0, "ops": {}})["ops"][sid] = dict(op.get("params") or {})
    state = {"round": 0, "scene": scene, "sources": sources, "experts": experts, "settings": settings}
    runtime = SimpleNamespace(context=SimpleNamespace(window_s=WINDOW_S, work_dir=scratch, tracer=Tracer(None)))
    out = render_mix(state, runtime)
    for w in out.get("warnings", []):
        log.warning("report stems: %s", w)
    master = (plan.get("verification") or {}).get("master") or {}
    return PostPlan(stems=out["processed"], returns=out["returns"], master_gain=db_to_gain(float(master.get("gain_db") or 0.0)),
                    faders_db=plan_faders(plan))
