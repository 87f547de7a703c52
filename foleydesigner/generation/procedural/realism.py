"""What makes a synthesised hit pass for a recorded one, applied to every impulsive class after its model.

Measured against real recordings (benchmarks/realism.py), synthetic hits gave themselves away by:
- digital silence around them: a recording always carries its room's air and the chain's noise, where the
  renders spent half their frames 90 dB under their peak. `add_air` lays a quiet room floor (−75 dB re the
  event's peak, quieter than most recordings keep, so it never masks another stem) under an event from its first hit to its
  end or the last hit's ring, with 50 ms fades so the floor itself never starts or stops audibly.
- pure partials where struck wood, metal, glass and doors sound noisy: their modes are rattled by the contact
  and by the parts around them. `shape_hit` modulates such bodies' ring with band-limited noise (each partial
  becomes a narrow noise band, ≈ ±150 Hz) and adds a broadband contact click (the first milliseconds of a real
  impact reach far above the modes).
- rings cut off mid-decay: a hit whose buffer ends above −80 dB re its peak fades out over its last 30 %.
- no space around them: `reverb` lays the late field of the place a class is heard in (a hall, a street, open
  terrain) under the models that name one.
Where a real contact recording ships (`recorded`), the contact click is a real attack instead of a noise burst.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import oaconvolve

from foleydesigner.generation.procedural.dsp import F32, burst, fade_in, filt, white
from foleydesigner.generation.procedural.recorded import transient

AIR_DB = -75.0
AIR_FADE_S = 0.05
#: Classes whose body is a struck resonator that real recordings show as noisy bands, not lines.
NOISY_BODIES = frozenset({"impact_wood", "impact_metal", "impact_glass", "glass_clink", "door_knock", "door_slam",
                          "door_close", "door_open", "car_door", "punch", "footsteps"})
_BRIGHT = frozenset({"impact_metal", "impact_glass", "glass_clink"})
_RATTLE_DEPTH = 0.5  # modulation depth of a body's ring: half its amplitude, randomly, at ≈ 150 Hz bandwidth
_RATTLE_HZ = 150.0
_CLICK_DB = -15.0  # the contact click's peak re the hit's peak (at full force; softer blows click less)
_CLICK_TAU_S = 0.0006
_TAIL_END_DB = -80.0
_TAIL_FADE = 0.3


def shape_hit(hit: np.ndarray, name: str, v: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One hit (channels, m) as a recording would have it (see the module doc)."""
    m = hit.shape[1]
    peak = float(np.max(np.abs(hit))) if m else 0.0
    if peak <= 0.0:
        return hit
    if name in NOISY_BODIES:
        noise = filt(white(rng, m).astype(np.float64), sr, ("lp", _RATTLE_HZ, 4)).astype(np.float64)
        noise *= _RATTLE_DEPTH / (float(np.std(noise)) + 1e-12)
        hit = (hit * (1.0 + noise)).astype(F32)
        # A real contact's attack where one ships (`recorded`): steel ticks for metal and glass, wood cracks else.
        real = transient(rng, sr, "tick" if name in _BRIGHT else "crack", 0.01)
        click = (burst(rng, min(m, int(0.01 * sr)), sr, _CLICK_TAU_S, ("bp", 800.0, 6000.0, 2)) if real is None
                 else real[: min(m, real.size)].copy())
        click *= peak * 10.0 ** (_CLICK_DB / 20.0) * (0.3 + 0.7 * v) / (float(np.max(np.abs(click))) + 1e-12)
        hit = hit.copy()
        hit[:, :click.size] += click
    tail = hit[:, -max(1, int(0.01 * sr)):]
    if 20.0 * np.log10(float(np.sqrt(np.mean(tail * tail))) / peak + 1e-20) > _TAIL_END_DB:
        f = max(1, int(_TAIL_FADE * m))
        hit = hit.copy()
        hit[:, m - f:] *= fade_in(f)[::-1]
    return hit


def reverb(rng: np.random.Generator, sr: int, dry: np.ndarray, t60_s: float, wet: float, *,
           lp_hz: float = 4000.0, hp_hz: float = 80.0, predelay_s: float = 0.01) -> np.ndarray:
    """dry (…, m) plus a diffuse tail: exponentially decaying noise (T60 t60_s) band-limited to [hp_hz, lp_hz]
    as air and surfaces absorb, after predelay_s, at `wet` times the dry energy. Length m + T60 + predelay.

    The space a recording is made in is part of what is recorded: a hall under a bouncing ball, a street's
    facades under a siren, the terrain under thunder. Statistical room acoustics (Schroeder) models the late
    field as exactly this: Gaussian noise under an exponential envelope."""
    m = int(t60_s * sr)
    d = int(predelay_s * sr)
    # Each channel its own tail (a diffuse field is decorrelated between microphones).
    env = np.exp(-6.9078 * np.arange(m) / max(m, 1)).astype(F32)
    ir = filt(white(rng, (*dry.shape[:-1], m)) * env, sr, ("hp", hp_hz, 2), ("lp", min(lp_hz, 0.45 * sr), 2))
    tail = oaconvolve(dry, ir, axes=-1)
    tail *= wet * float(np.sqrt(np.sum(np.square(dry, dtype=np.float64)) / (np.sum(np.square(tail, dtype=np.float64)) + 1e-20)))
    out = np.zeros((*dry.shape[:-1], dry.shape[-1] + m + d), F32)
    out[..., : dry.shape[-1]] += dry
    out[..., d:d + tail.shape[-1]] += tail.astype(F32, copy=False)
    return out


def add_air(out: np.ndarray, a: int, b: int, sr: int, rng: np.random.Generator) -> None:
    """Add a room floor to out[:, a:b] in place, AIR_DB under that span's peak (nothing under silence)."""
    n = b - a
    if n <= 0:
        return
    span = out[:, a:b]
    peak = max(float(span.max()), -float(span.min()))
    if peak <= 0.0:
        return
    # Room air: its energy low (HVAC, traffic through walls), falling steeply above a few hundred hertz.
    air = filt(white(rng, (out.shape[0], n)), sr, ("hp", 30.0, 2), ("lp", 500.0, 2))
    air *= peak * 10.0 ** (AIR_DB / 20.0) / (float(np.sqrt(np.mean(air * air))) + 1e-12)
    f = max(1, min(int(AIR_FADE_S * sr), n // 2))
    ramp = fade_in(f)
    air[:, :f] *= ramp
    air[:, n - f:] *= ramp[::-1]
    span += air.astype(F32, copy=False)
