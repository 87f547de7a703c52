"""Dynamics expert: the fader (layer balance), transient control on foreground hits, ducking beds under them.

Channel-strip order: compressor (threshold relative to the stem's own pre-fader level; lookahead, as transient
control of a click shorter than any attack needs), then fader, then the sidechain duck keyed by the processed
foreground bus. Transient control keeps each stem's integrated loudness
(make-up gain measured with BS.1770), so taming hits never moves the balance the planner set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from foleydesigner.agents.experts.base import BaseExpert, ExpertOutput, ExpertSpec, MixScene, Plan
from foleydesigner.schemas import MixOperation
from foleydesigner.tools import processing as proc
from foleydesigner.tools.analysis import CTRL_HOP, LoudnessProfile, ride_lu
from foleydesigner.tools.loudness import SILENCE_LUFS

#: Crest factor (peak over RMS, dB) above which a foreground stem's hits are tamed: dense Foley sits at 12–15 dB.
HIT_CREST_DB = 18.0
HIT_HEADROOM_DB = 10.0  # threshold under the stem's peak: pulls in the spikes, leaves the body
DUCK_DB, MAX_DUCK_DB = 3.0, 9.0


class DynParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gain_db: float = Field(default=0.0, ge=-40.0, le=60.0, description="fader move in dB (stems arrive at physical "
                           "level, often far below mix level)")
    threshold_db: float | None = Field(default=None, ge=-90.0, le=0.0, description="compressor threshold, dBFS "
                                       "before the fader; none = no compression")
    ratio: float = Field(default=4.0, ge=1.0, le=20.0)
    attack_ms: float = Field(default=1.0, ge=0.1, le=200.0)
    release_ms: float = Field(default=25.0, ge=5.0, le=2000.0, description="short: shape the transient, not the body")
    keep_loudness: bool = Field(default=True, description="make-up gain restores integrated loudness (transient "
                                "control, not a level change)")
    duck_db: float = Field(default=0.0, ge=0.0, le=24.0, description="ride this stem down by up to this much while "
                           "the foreground bus sounds (sidechain ducking)")


class DynamicsExpert(BaseExpert):
    spec = ExpertSpec(
        name="dyn",
        description="Dynamics and level (lookahead compressor + gain). `gain_db` is the fader: it sets the "
                    "foreground/background balance. `threshold_db`/`ratio`/`attack_ms`/`release_ms` tame the "
                    "transients of hits (loudness kept by make-up gain). `duck_db` ducks a background stem under "
                    "the foreground events.",
        params=DynParams, order=20)

    def __init__(self) -> None:
        self._gains: dict[tuple[Any, ...], tuple[np.ndarray, float | None, Any]] = {}
        self._refs: dict[tuple[Any, ...], tuple[float | None, list[Any]]] = {}

    def propose(self, scene: MixScene, plan: Plan) -> dict[str, MixOperation]:
        fb = scene.feedback
        trims = {layer: float(fb.get("applied_trim_db", {}).get(layer, 0.0)) + float(fb.get("level_error_lu", {}).get(layer, 0.0))
                 for layer in ("fg", "bg")}
        still = [s for s, m in fb.get("fg_masked_by_bg_db", {}).items() if m > scene.targets.masking_limit_db]
        duck = min(MAX_DUCK_DB, DUCK_DB + 3.0 * (int(fb.get("round", -1)) + 1)) if still else DUCK_DB
        has_fg = bool(scene.ids("fg"))
        ops = {}
        for sid, f in scene.features.items():
            layer = scene.layer(sid)
            target = scene.targets.fg_lufs if layer == "fg" else scene.targets.bg_lufs
            if sid not in scene.level_gains:
                continue  # silent stem: nothing to level
            gain = scene.level_gains[sid] + trims[layer]
            params: dict[str, Any] = {"gain_db": round(float(np.clip(gain, -40.0, 60.0)), 2)}
            why = [f"fader {gain:+.1f} dB: {layer} layer to {target:.0f} LUFS as a group (keeps the distance cues "
                   f"between near and far), intensity {scene.events[sid].intensity:.2f}"
                   + (f", trimmed {trims[layer]:+.1f} dB by verification" if abs(trims[layer]) > 0.05 else "")]
            if layer == "fg" and f.crest_db > HIT_CREST_DB:
                thr = round(max(-90.0, f.peak_dbfs - HIT_HEADROOM_DB), 1)
                params.update(threshold_db=thr, ratio=4.0, attack_ms=1.0, release_ms=25.0)
                why.append(f"crest {f.crest_db:.0f} dB: 4:1 above {thr:.0f} dBFS pulls the spikes in, loudness kept")
            if layer == "bg" and has_fg:
                params["duck_db"] = duck
                why.append(f"duck {duck:.0f} dB under the foreground events")
            ops[sid] = MixOperation(expert="dyn", params=params, reason="; ".join(why))
        return ops

    def process(self, stems: Mapping[str, np.ndarray], ops: Mapping[str, dict[str, Any]], scene: MixScene) -> ExpertOutput:
        out = ExpertOutput()
        ducks: dict[str, float] = {}
        for sid, params in ops.items():
            p = DynParams.model_validate(params)
            y = np.asarray(stems[sid], dtype=np.float32)
            if p.threshold_db is not None and p.ratio > 1.0:
                # Gain curve and make-up from the whole clip's detector (scene.stats), so that every window of a
                # long clip is compressed alike; a stem the analysis never saw is measured as given.
                st = scene.stats.get(sid)
                whole = st is not None and st.hop_peak is not None and st.hop_energy is not None
                g, makeup = self._compressor(st if whole else None, y, p, scene.sr)
                y = proc.apply_control_gain(y, g, hop=CTRL_HOP, start=scene.start if whole else 0)
                if makeup is not None:
                    y = proc.apply_gain_db(y, makeup)
                    out.notes[sid] = {"makeup_db": round(makeup, 2)}
            out.stems[sid] = proc.apply_gain_db(y, p.gain_db)
            if p.duck_db > 0 and scene.layer(sid) == "bg":
                ducks[sid] = p.duck_db
        fg_ids = [s for s in stems if s in scene.events and scene.layer(s) == "fg"]
        fg = [out.stems.get(s, stems[s]) for s in fg_ids]
        if ducks and fg:
            key = np.sum(fg, axis=0)
            ref_key = (tuple(id(scene.stats.get(s)) for s in fg_ids), tuple(float(ops.get(s, {}).get("gain_db", 0.0)) for s in fg_ids))
            if ref_key not in self._refs:  # once per clip and plan, not once per window
                self._refs[ref_key] = (_key_reference_db(scene, fg_ids, ops), [scene.stats.get(s) for s in fg_ids])
            ref = self._refs[ref_key][0]
            for sid, depth in ducks.items():
                before = out.stems[sid]
                out.stems[sid] = proc.duck_under(out.stems[sid], key, depth_db=depth, sr=scene.sr, ref_db=ref)
                # what the duck took off, so verification judges the fader on the bed as set (see base.ExpertOutput)
                ride = ride_lu(before, out.stems[sid], scene.sr, k_weighted=False)
                out.notes.setdefault(sid, {})["ride_lu"] = round(ride, 2)
        return out


    def _compressor(self, st: Any, y: np.ndarray, p: DynParams, sr: int) -> tuple[np.ndarray, float | None]:
        """(gain per control step in dB, make-up dB or None) from the whole clip's detector when `st` (the stem's
        StemStats) is given — computed once per stem and setting, not once per window — else from `y` itself."""
        key = (id(st), p.threshold_db, p.ratio, p.attack_ms, p.release_ms, p.keep_loudness)
        if st is not None and key in self._gains:
            return self._gains[key][0], self._gains[key][1]
        peaks = st.hop_peak if st is not None else proc.hop_peaks(y, CTRL_HOP)
        energy = st.hop_energy if st is not None else _hop_energy(y)
        g = proc.compressor_gain_db(peaks, threshold_db=p.threshold_db, ratio=p.ratio, attack_ms=p.attack_ms,  # type: ignore[arg-type]
                                    release_ms=p.release_ms, sr=sr, hop=CTRL_HOP)
        before = _hop_level(energy, sr) if p.keep_loudness else SILENCE_LUFS
        makeup = float(np.clip(before - _hop_level(energy * 10 ** (g / 10), sr), 0.0, 24.0)) if before > SILENCE_LUFS else None
        if st is not None:
            self._gains[key] = (g, makeup, st)  # st held so its id is not reused while cached
        return g, makeup


def _hop_energy(audio: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    m = -(-x.shape[-1] // CTRL_HOP)
    return np.pad(np.sum(x * x, axis=0), (0, m * CTRL_HOP - x.shape[-1])).reshape(m, CTRL_HOP).sum(axis=1)


def _hop_level(energy: np.ndarray, sr: int) -> float:
    """Gated level (BS.1770 gating, no K-weighting) from per-CTRL_HOP energies: 400 ms blocks every 100 ms."""
    sub = int(round(0.1 * sr)) // CTRL_HOP
    m = energy.size // sub
    if m == 0:
        return LoudnessProfile(blocks=np.array([energy.sum() / (4 * sub * CTRL_HOP)]), short_term=np.zeros(0)).integrated()
    subs = np.r_[energy[: m * sub].reshape(m, sub).sum(axis=1), energy[m * sub:].sum()]
    cum = np.r_[0.0, np.cumsum(subs)]
    n_blocks = max(1, subs.size - 3)
    blocks = (cum[np.minimum(np.arange(n_blocks) + 4, cum.size - 1)] - cum[:n_blocks]) / (4 * sub * CTRL_HOP)
    return LoudnessProfile(blocks=blocks, short_term=np.zeros(0)).integrated()


def _key_reference_db(scene: MixScene, fg_ids: list[str], ops: Mapping[str, dict[str, Any]]) -> float | None:
    """The foreground bus's loudest 50 ms over the whole clip (mono mean square, dB, after the faders), from the
    analysis's 5 ms envelopes: the level the ducks are keyed against, the same in every window. The stems are
    summed in power (different sources are uncorrelated); None if the analysis has no envelope for one."""
    envs = []
    for s in fg_ids:
        st = scene.stats.get(s)
        if st is None or st.env_db is None or st.env_db.size == 0:
            return None
        gain = float(ops.get(s, {}).get("gain_db", 0.0))
        m = st.env_db.size // 10
        envs.append(10 ** ((st.env_db[: m * 10] + gain) / 10).reshape(m, 10).mean(axis=1) if m else np.zeros(1))
    if not envs:
        return None
    n = min(e.size for e in envs)
    return float(10 * np.log10(np.sum([e[:n] for e in envs], axis=0).max() + 1e-12))
