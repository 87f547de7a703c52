"""The stems as the mix plays them, for the report's Stems monitor.

A stem in stems/ is the generator's output, before the plan: a footstep there sits ~30 dB under where the
mix puts it. The monitor must play what the mix plays, so the report re-runs the mixer's own channel strips
(agents/mixing.render_mix: EQ → dynamics → reverb send, window by window, with the plan's parameters as they ran,
from mix_plan.json) on the run's stems, and scales them by the master's make-up gain. Nothing here re-implements
DSP: with nothing soloed, the processed stems plus the reverb returns sum to the stereo mix before its true-peak
limiter (which only touches the few peaks over the ceiling).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from foleydesigner.agents.experts import load_experts
from foleydesigner.agents.mixing import analyse, render_mix
from foleydesigner.schemas import EventClues, FoleyScript
from foleydesigner.tools.processing import db_to_gain
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


def plan_faders(plan: dict[str, Any]) -> dict[str, float]:
    """The fader move of each stem in mix_plan.json (the dynamics expert's `gain_db`), 0 dB where none."""
    out: dict[str, float] = {}
    for sid, ops in (plan.get("plan") or {}).items():
        out[sid] = round(sum(float((op.get("params") or {}).get("gain_db") or 0.0) for op in ops), 2)
    return out


def render_post_plan(run_dir: Path, script: dict[str, Any], clues: dict[str, Any], plan: dict[str, Any],
                     scratch: Path) -> PostPlan | None:
    """Run the mix plan's channel strips on the run's stems into scratch/; None when the run has no plan or its
    stems are not the mixer's full-length 48 kHz stereo (then the monitor falls back to the raw stems)."""
    ids = [sid for sid in (plan.get("plan") or {}) if (run_dir / "stems" / f"{sid}.wav").is_file()]
    if not ids:
        return None
    sources = {sid: WavAudio(run_dir / "stems" / f"{sid}.wav") for sid in sorted(ids)}
    if any(s.sr != SAMPLE_RATE or s.channels != 2 for s in sources.values()):
        return None
    mix = run_dir / "mix_stereo.wav"
    if mix.is_file() and any(s.n != WavAudio(mix).n for s in sources.values()):  # `--stems trimmed`: not on the clip's clock
        return None
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
