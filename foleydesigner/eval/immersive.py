"""Direction scores of the immersive mixes: where the FOA and 7.1.4 renders put each foreground event.

Per 0.24 s window (SpatialSonic's), the direction is decoded from the *mix*, not from a solo render: the
active intensity vector of mix_foa.wav (W with X, Y) and the energy vector of mix_7_1_4.wav. A mix has one
direction per window, so an event is scored on the windows where it dominates: its object (objects/<id>.wav,
times the FOA master gain) at least DOMINANCE_DB above everything else in the mix's W (other objects, beds,
reverb), and within ACTIVE_RANGE_DB of its own loudest window. Beds and reverb are diffuse (no net direction)
and stay in the mix: they are part of what is scored.
The error is against the event's clue azimuth at the window centre (what the renderer was asked to do).

Footsteps and hits rarely carry half of a 0.24 s window over continuous beds, so every event is also scored
*solo*: its exported object rendered alone by the same renderer along its clues (`solo_*` keys), on the
windows within ACTIVE_RANGE_DB of its loudest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.schemas import EventClues
from foleydesigner.tools.ambisonics import intensity_direction
from foleydesigner.tools.vbap import energy_direction
from foleydesigner.units import SAMPLE_RATE

WINDOW_S = 0.24
DOMINANCE_DB = 0.0  # the event carries at least half of the window's W power
ACTIVE_RANGE_DB = 30.0
WITHIN_DEG = 5.0


def _read(path: Path) -> np.ndarray:
    import soundfile as sf

    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T)


def _window_power(x: np.ndarray, hop: int, m: int) -> np.ndarray:
    x = np.pad(x[: m * hop], (0, max(0, m * hop - x.size)))
    return np.mean(x.astype(np.float64).reshape(m, hop) ** 2, axis=1)


def direction_scores(run_dir: Path, clues: dict[str, EventClues], event_ids: list[str],
                     sr: int = SAMPLE_RATE) -> dict[str, dict[str, Any]]:
    """Per scored event: mean abs and max error (°) of the FOA and 7.1.4 directions, the fraction of windows
    within WITHIN_DEG, and the windows scored. Events with no dominant window get None."""
    foa, bed = _read(run_dir / "mix_foa.wav"), _read(run_dir / "mix_7_1_4.wav")
    times, foa_az, _, foa_ok = intensity_direction(foa, sr, window_s=WINDOW_S)
    _, bed_az, bed_ok = energy_direction(bed, sr, window_s=WINDOW_S)
    hop, m = int(round(WINDOW_S * sr)), times.size
    objects = {p.stem: _window_power(_read(p)[0], hop, m) for p in sorted((run_dir / "objects").glob("*.wav"))}
    plan = json.loads((run_dir / "mix_plan.json").read_text())
    gain = 10 ** (float(plan["verification"]["delivery"]["foa"].get("gain_db", 0.0)) / 10)
    total = _window_power(foa[0], hop, m)  # W: the pressure of everything
    out: dict[str, dict[str, Any]] = {}
    for eid in event_ids:
        if eid not in objects:
            continue
        out[eid] = _solo(run_dir / "objects" / f"{eid}.wav", clues[eid], sr)
        own = objects[eid]
        others = np.maximum(total - gain * own, 0.0) / gain
        mask = (own >= others * 10 ** (DOMINANCE_DB / 10)) & (own >= own.max() * 10 ** (-ACTIVE_RANGE_DB / 10)) & (own > 0)
        c = clues[eid]
        truth = np.interp(times, c.t_s, np.unwrap(np.asarray(c.azimuth_deg), period=360.0))
        entry: dict[str, Any] = {**out[eid], "windows": int(mask.sum())}
        for name, est, ok in (("foa", foa_az, foa_ok), ("7_1_4", bed_az, bed_ok)):
            sel = mask & ok
            err = np.abs((est[sel] - truth[sel] + 180.0) % 360.0 - 180.0)
            entry[f"{name}_dir_err_deg"] = round(float(err.mean()), 2) if err.size else None
            entry[f"{name}_dir_max_err_deg"] = round(float(err.max()), 2) if err.size else None
            entry[f"{name}_within_5deg"] = round(float(np.mean(err <= WITHIN_DEG)), 3) if err.size else None
        out[eid] = entry
    return out


def _errors(prefix: str, est: np.ndarray, truth: np.ndarray, sel: np.ndarray) -> dict[str, Any]:
    err = np.abs((est[sel] - truth[sel] + 180.0) % 360.0 - 180.0)
    if not err.size:
        return {f"{prefix}_dir_err_deg": None, f"{prefix}_dir_max_err_deg": None}
    return {f"{prefix}_dir_err_deg": round(float(err.mean()), 2), f"{prefix}_dir_max_err_deg": round(float(err.max()), 2)}


def _solo(path: Path, clues: EventClues, sr: int) -> dict[str, Any]:
    """The event's object alone through the delivery renderer (FOA and 7.1.4), scored like the mix."""
    from foleydesigner.delivery import Renderer, trajectory

    o = _read(path)[0]
    az, el = trajectory(clues, np.arange(o.size) / sr)
    renderer = Renderer(("foa", "7.1.4"), sr=sr)
    acc = renderer.empty(o.size)
    renderer.add_object(acc, o, az, el, 0)
    times, foa_az, _, foa_ok = intensity_direction(acc["foa"], sr, window_s=WINDOW_S)
    _, bed_az, bed_ok = energy_direction(acc["7.1.4"], sr, window_s=WINDOW_S)
    hop = int(round(WINDOW_S * sr))
    own = _window_power(o, hop, times.size)
    active = own >= own.max() * 10 ** (-ACTIVE_RANGE_DB / 10) if own.max() > 0 else np.zeros(times.size, bool)
    truth = np.interp(times, clues.t_s, np.unwrap(np.asarray(clues.azimuth_deg), period=360.0))
    return {"solo_windows": int(active.sum()), **_errors("solo_foa", foa_az, truth, active & foa_ok),
            **_errors("solo_7_1_4", bed_az, truth, active & bed_ok)}
