"""EQ expert: high-pass rumble, tonal balance, and carve the bands where a bed masks a foreground sound.

The carve is designed from measurement, not guessed: in each ERB band, the bed's excess over the foreground
(where the foreground is audible, weighted by its energy — the same weighting as analysis.masking_db), plus a
margin, becomes the cut; adjacent bands merge into one peaking filter. By default the carve is keyed: it opens
only while the foreground sounds (a dynamic EQ, as a mixer rides a bed under a line), so the bed stays whole
between events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from foleydesigner.agents.experts.base import BaseExpert, ExpertOutput, ExpertSpec, MixScene, Plan, planned
from foleydesigner.schemas import MixOperation
from foleydesigner.tools import processing as proc
from foleydesigner.tools.analysis import (
    ACTIVE_RANGE_DB,
    HOP_S,
    activity,
    erb_band_edges,
    masking_report,
    ride_lu,
)

MAX_FILTERS = 6
_USEFUL_RANGE_DB = 30.0  # bands this far under the stem's strongest band are below its useful range


class EqBand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    freq_hz: float = Field(ge=20.0, le=20_000.0)
    gain_db: float = Field(ge=-18.0, le=12.0)
    q: float = Field(default=1.0, ge=0.3, le=10.0)


class EqParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    highpass_hz: float | None = Field(default=None, ge=10.0, le=1000.0, description="12 dB/oct high-pass: rumble")
    lowpass_hz: float | None = Field(default=None, ge=1000.0, le=22_000.0, description="low-pass: hiss, harshness")
    low_shelf_db: float = Field(default=0.0, ge=-12.0, le=6.0, description="tonal balance below low_shelf_hz")
    low_shelf_hz: float = Field(default=150.0, ge=40.0, le=500.0)
    high_shelf_db: float = Field(default=0.0, ge=-12.0, le=6.0, description="tonal balance above high_shelf_hz")
    high_shelf_hz: float = Field(default=6000.0, ge=2000.0, le=16_000.0)
    bands: list[EqBand] = Field(default_factory=list, max_length=8, description="static peaking cuts/boosts")
    carve_for: list[str] = Field(default_factory=list, description="foreground stem ids this bed makes room for; "
                                 "the expert designs the cuts from the masking it measures")
    carve_margin_db: float = Field(default=3.0, ge=0.0, le=12.0, description="how far under the foreground the bed goes")
    max_cut_db: float = Field(default=12.0, ge=0.0, le=18.0)
    dynamic: bool = Field(default=True, description="carve only while the foreground sounds (keyed dynamic EQ)")
    carve_bands: list[EqBand] = Field(default_factory=list, max_length=MAX_FILTERS,
                                      description="the designed carve (filled in by the expert when empty)")


def _levelled(scene: MixScene, plan: Plan | None) -> dict[str, np.ndarray]:
    """Band energies after the planned fader moves (a gain shifts every band by the same dB)."""
    gains = {s: float(planned(plan or {}, s, "dyn", "gain_db", scene.level_gains.get(s, 0.0))) for s in scene.bands}
    return {s: b + gains[s] for s, b in scene.bands.items()}


def predicted_masking(scene: MixScene, plan: Plan | None = None) -> dict[str, float]:
    """Masking of each stem by the beds (dB) once the planned fader moves are made."""
    layers = {s: scene.layer(s) for s in scene.bands}
    return {s: m[1] for s, m in masking_report(_levelled(scene, plan), layers).items()}


def design_carve(scene: MixScene, bed_id: str, targets: list[str], *, margin_db: float, max_cut_db: float,
                 plan: Plan | None = None) -> list[EqBand]:
    """Peaking cuts for one bed so that, in the bands where it buries `targets`, it sits `margin_db` under them."""
    lev = _levelled(scene, plan)
    beds = [s for s in lev if scene.layer(s) == "bg"]
    if not targets or not beds:
        return []
    bed_p = sum(10 ** (lev[s] / 10) for s in beds)
    bed_db = 10 * np.log10(bed_p + 1e-12)
    share = 10 ** (lev[bed_id] / 10) / (bed_p + 1e-12)
    num = np.zeros(lev[bed_id].shape[0])
    den = np.zeros_like(num)
    share_w = np.zeros_like(num)
    for t in targets:
        tgt = lev[t]
        w = np.where(tgt > tgt.max() - ACTIVE_RANGE_DB, 10 ** (tgt / 10), 0.0)
        num += np.sum(w * np.clip(bed_db - tgt + margin_db, 0.0, None), axis=1)
        den += w.sum(axis=1)
        share_w += np.sum(w * share, axis=1)
    need = num / np.maximum(den, 1e-30)
    share_k = share_w / np.maximum(den, 1e-30)
    importance = np.where(share_k >= 0.1, num, 0.0)  # a bed that is not what buries the target there is left alone
    if importance.sum() <= 0:
        return []
    order = np.argsort(importance)[::-1]
    # The fewest bands that hold 90 % of the masking: the skirts of the foreground's spectrum are left alone.
    before = np.cumsum(importance[order]) - importance[order]
    chosen = order[(before < 0.9 * importance.sum()) & (importance[order] > 0)]
    edges = erb_band_edges()
    groups: list[list[int]] = []
    for k in sorted(int(i) for i in chosen):
        if groups and k == groups[-1][-1] + 1:
            groups[-1].append(k)
        else:
            groups.append([k])
    groups = sorted(groups, key=lambda g: -sum(importance[g]))[:MAX_FILTERS]
    out = []
    for g in sorted(groups):
        lo, hi = edges[g[0]], edges[g[-1] + 1]
        fc = float(np.sqrt(lo * hi))
        # A bell's half-gain bandwidth is ≈ fc/Q; 0.7× that Q widens it so the group's edge bands get the cut too.
        q = float(np.clip(0.7 * fc / (hi - lo), 0.5, 6.0))
        gain = -float(min(max_cut_db, need[g].max()))
        if gain < -0.5:
            out.append(EqBand(freq_hz=round(fc, 1), gain_db=round(gain, 1), q=round(q, 2)))
    return out


def _useful_low_hz(band_energy_db: list[float]) -> float:
    e = np.asarray(band_energy_db)
    first = int(np.argmax(e > e.max() - _USEFUL_RANGE_DB))
    return float(erb_band_edges()[first])


def _key_envelope(scene: MixScene, targets: list[str]) -> np.ndarray:
    """When the foregrounds sound, per analysis frame; opened 60 ms early and held, so hits land in the carve."""
    env = np.max([activity(scene.bands[t], ACTIVE_RANGE_DB) for t in targets], axis=0)
    return uniform_filter1d(maximum_filter1d(env, 7), 3)


class EqExpert(BaseExpert):
    spec = ExpertSpec(
        name="eq",
        description="Equaliser (pedalboard filters). High-pass below a stem's useful range (rumble), shelves for "
                    "tonal balance, static peaking bands, and carving: give a background stem `carve_for` = the "
                    "foreground stem ids it buries and the expert cuts exactly the ERB bands where it masks them, "
                    "`carve_margin_db` under them, keyed to when they sound (`dynamic`).",
        params=EqParams, order=10)

    def propose(self, scene: MixScene, plan: Plan) -> dict[str, MixOperation]:
        masked = predicted_masking(scene, plan)
        limit = scene.targets.masking_limit_db
        buried = [s for s in scene.ids("fg") if masked[s] > limit]
        still = [s for s, m in scene.feedback.get("fg_masked_by_bg_db", {}).items() if m > limit]
        buried += [s for s in still if s not in buried]
        # Verification found them still buried: each re-plan cuts 4 dB deeper (bounded by max_cut_db).
        margin = 3.0 + 4.0 * (int(scene.feedback.get("round", -1)) + 1) if still else 3.0
        ops = {}
        for sid, f in scene.features.items():
            hp = float(np.clip(0.5 * _useful_low_hz(f.band_energy_db), 20.0, 80.0))
            params: dict[str, Any] = {"highpass_hz": round(hp, 1)}
            reason = f"high-pass {hp:.0f} Hz, an octave under where the stem's content starts: rumble only"
            if scene.layer(sid) == "bg" and buried:
                params.update(carve_for=buried, carve_margin_db=margin)
                worst = max(buried, key=lambda s: masked[s])
                reason += (f"; carve for {len(buried)} foreground stem(s) it buries (worst {worst}: "
                           f"{masked[worst]:.1f} dB > {limit:.0f} dB limit), "
                           f"{margin:.0f} dB under them, only while they sound")
            ops[sid] = MixOperation(expert="eq", params=params, reason=reason)
        return ops

    def configure(self, ops: Mapping[str, dict[str, Any]], scene: MixScene, plan: Plan) -> dict[str, dict[str, Any]]:
        out = {}
        for sid, params in ops.items():
            p = EqParams.model_validate(params)
            targets = [t for t in p.carve_for if t in scene.bands and t != sid]
            if targets and not p.carve_bands:
                p.carve_bands = design_carve(scene, sid, targets, margin_db=p.carve_margin_db,
                                             max_cut_db=p.max_cut_db, plan=plan)
            out[sid] = p.model_dump(exclude_defaults=True)
        return out

    def process(self, stems: Mapping[str, np.ndarray], ops: Mapping[str, dict[str, Any]], scene: MixScene) -> ExpertOutput:
        out = ExpertOutput()
        hop = int(HOP_S * scene.sr)
        for sid, params in ops.items():
            p = EqParams.model_validate(params)
            static = p.model_dump(include={"highpass_hz", "lowpass_hz", "low_shelf_db", "low_shelf_hz", "high_shelf_db",
                                           "high_shelf_hz", "bands"})
            y = proc.apply_eq(stems[sid], static, scene.sr)
            if p.carve_bands:
                carved = proc.apply_eq(y, {"bands": [b.model_dump() for b in p.carve_bands]}, scene.sr)
                targets = [t for t in p.carve_for if t in scene.bands]
                note: dict[str, Any] = {"carve": [f"{b.gain_db:+.1f} dB @ {b.freq_hz:.0f} Hz (Q {b.q:.2f})" for b in p.carve_bands]}
                if p.dynamic and targets:
                    key = scene.frames(_key_envelope(scene, targets), hop, y.shape[-1])  # whole-clip key, this window
                    keyed = proc.blend_by_envelope(y, carved, key, hop)
                    # a keyed ride, on purpose: verification must not push the fader up to undo it
                    note["ride_lu"] = round(ride_lu(y, keyed, scene.sr), 2)
                    y = keyed
                else:
                    y = carved
                out.notes[sid] = note
            out.stems[sid] = y
        return out
