"""The systems the benchmark compares, all on the same Foley script and the same synthesised sources.

- ``full``: the pipeline as ``foley run`` does it; its stems are read from the run folder.
- ``no_stc``: the paper's "w/o STC" ablation: every source rendered static in the centre (azimuth 0°, a fixed
  depth), active over its whole event span, i.e. without the spatio-temporal clues.
- ``coarse_text``: placement from the text alone, like text-conditioned spatial generators: a static left,
  centre or right position read from the event description.

A baseline must differ from ``full`` only in where the sound is placed, so each event is re-synthesised with the
procedural generator's class, parameters and per-event random stream (``event_rng``) and rendered with
``render_spatial`` under the baseline's clues, over the generator's segment of the clip and with the renderer
settings the generator uses.
"""

from __future__ import annotations

import re

import numpy as np

from foleydesigner.generation.backends import ProceduralGenerator, clip_times, event_rng
from foleydesigner.generation.spatial import SpatialConfig, render_spatial
from foleydesigner.schemas import EventClues, SoundEvent
from foleydesigner.tools.clues import OFFSCREEN_DEPTH_M
from foleydesigner.units import SAMPLE_RATE

SYSTEMS = ("full", "no_stc", "coarse_text")
#: A text-only placer puts "left" in the left loudspeaker: ±30° is the stereo speaker angle (ITU-R BS.775).
COARSE_AZIMUTH_DEG = 30.0
#: Without clues there is no distance either: the pipeline's own default for a source it cannot see.
FIXED_DEPTH_M = OFFSCREEN_DEPTH_M
_LEFT = re.compile(r"\bleft\b", re.I)
_RIGHT = re.compile(r"\bright\b", re.I)


def coarse_azimuth_deg(text: str) -> float:
    """Static azimuth from words: more 'left' than 'right' → −30°, more 'right' → +30°, else centre (0°).

    A move between the sides ('left->right', 'from left to right') names both and so lands in the centre, the
    best static stand-in for it; 'left->centre' names only the left and goes there.
    """
    net = len(_RIGHT.findall(text)) - len(_LEFT.findall(text))
    return float(np.sign(net) * COARSE_AZIMUTH_DEG)


def span_mask(t_s: np.ndarray, start_s: float, end_s: float, fps: float) -> np.ndarray:
    """Frames the event covers any part of (the same rule as the clue extractor's event span)."""
    half = 0.5 / fps
    return ((t_s + half) > start_s) & ((t_s - half) <= end_s)


def baseline_clues(system: str, event: SoundEvent, clues: EventClues) -> EventClues:
    """The clues a baseline renders ``event`` with, on the same frame grid as the pipeline's ``clues``."""
    if system == "full":
        return clues
    if system == "no_stc":
        az = 0.0
    elif system == "coarse_text":
        az = coarse_azimuth_deg(f"{event.description} {event.label}")
    else:
        raise ValueError(f"system must be one of {SYSTEMS}, got {system!r}")
    t = np.asarray(clues.t_s, np.float64)
    act = span_mask(t, event.start_s, event.end_s, clues.fps).astype(int).tolist()
    return EventClues(event_id=clues.event_id, fps=clues.fps, t_s=clues.t_s, depth_m=[FIXED_DEPTH_M] * t.size,
                      azimuth_deg=[az] * t.size, activation=act, source=clues.source)


def synthesize_source(event: SoundEvent, duration_s: float, *, seed: int, sr: int = SAMPLE_RATE
                      ) -> tuple[np.ndarray, bool]:
    """The procedural generator's dry source for ``event`` and whether its class is diffuse (a bed).

    Mirrors ``ProceduralGenerator.generate`` up to the renderer (same class, parameters and ``event_rng``), so
    the result is the very source of the pipeline's stem; the harness checks that by re-rendering it.
    """
    from foleydesigner.generation import procedural

    cls = ProceduralGenerator().sound_class(event.label, event.description)
    info = procedural.CLASSES[cls]
    params = {k: v for k, v in event.params.items() if k in info.params}
    start, end, onsets = clip_times(event, duration_s)
    # Synthesis is shift-invariant: the whole clip holds the generator's segment source at its offset.
    src = procedural.synthesize(cls, duration_s=duration_s, sr=sr, onsets_s=onsets, start_s=start, end_s=end,
                                intensity=event.intensity, params=params, rng=event_rng(seed, event.id))
    return src, info.diffuse


def place(source: np.ndarray, *, t_s: np.ndarray | list[float], azimuth_deg: np.ndarray | list[float],
          depth_m: np.ndarray | list[float], activation: np.ndarray | list[float] | None, sr: int = SAMPLE_RATE
          ) -> np.ndarray:
    """Render a mono source along a trajectory with the generator's stereo settings (no room tail: the mixer
    adds the room); ``activation`` None leaves it ungated, otherwise a hard gate as for tracked sources."""
    cfg = SpatialConfig(mode="stereo", hard_mask=activation is not None, distance_reverb=False)
    return render_spatial(source, t_s=t_s, azimuth_deg=azimuth_deg, depth_m=depth_m, activation=activation,
                          sr=sr, config=cfg)


def render_event(system: str, event: SoundEvent, clues: EventClues, source: np.ndarray, diffuse: bool,
                 sr: int = SAMPLE_RATE) -> np.ndarray:
    """One system's stem for ``event``: the shared ``source`` under that system's clues; (2, n) float32.

    Unplaced (diffuse scene) beds are the same for every system. Tracked sources are gated by their activation
    as in the generator; baselines are gated by their event span ("activation all ones over the event"). Every
    system renders the generator's segment of the clip (its propagation delay is referenced within it), so
    ``full`` is the pipeline's stem itself.
    """
    if diffuse and clues.source == "scene":  # the generator's rule: a diffuse bed is not placed
        return source if source.shape[0] == 2 else np.repeat(source, 2, axis=0)
    c = baseline_clues(system, event, clues)
    gate = c.activation if (system != "full" or c.source == "track") else None
    n = source.shape[-1]
    s0, s1 = ProceduralGenerator().span(event, clues, n / sr, sr)
    out = np.zeros((2, n), np.float32)
    out[:, s0:s1] = place(source[..., s0:s1], t_s=np.asarray(c.t_s, np.float64) - s0 / sr, azimuth_deg=c.azimuth_deg,
                          depth_m=c.depth_m, activation=gate, sr=sr)
    return out
