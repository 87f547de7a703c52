"""The `library` system of the benchmark: the pipeline's own script and clues, stems from the library generator.

It answers "does a library-built stem sit where the procedural one does?": the same events, onsets and clues as
``full``, only the source is cut from recordings (hits at their onsets, beds looped) instead of synthesised. Its
reference for GCC-MSE/FSAD is that same library source rendered along the truth, as ``full``'s is its own.

Without ``--library DIR`` the benchmark builds a stand-in library: multi-hit takes and textures rendered by the
procedural models under UCS names, one file per sound the synthetic clips call for. It tests the library
machinery (search, onset cutting, round-robin, placement), not realism; `benchmarks/realism.py` measures that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from foleydesigner.generation.base import GenerationRequest
from foleydesigner.schemas import EventClues, FoleyScript

#: (UCS name, procedural class, seconds, hit times or None for a texture)
STAND_IN = (
    ("FEETCnst_FootstepsWalkConcrete_FDBENCH_Procedural", "footsteps", 3.2, (0.1, 0.62, 1.15, 1.66, 2.2, 2.71)),
    ("IMPTBall_BallBounceRubber_FDBENCH_Procedural", "ball_bounce", 3.0, (0.1, 0.7, 1.2, 1.65, 2.05, 2.4)),
    ("ANMLDog_DogBarkMedium_FDBENCH_Procedural", "dog_bark", 3.0, (0.1, 1.0, 1.9)),
    ("VEHCar_CarEnginePassBy_FDBENCH_Procedural", "engine_idle", 8.0, None),
    ("WINDGen_WindSteady_FDBENCH_Procedural", "wind", 8.0, None),
    ("AMBTraf_TrafficDistant_FDBENCH_Procedural", "traffic", 8.0, None),
    ("AMBRoom_RoomTone_FDBENCH_Procedural", "room_tone", 8.0, None),
    ("CROWDWalla_CrowdMurmur_FDBENCH_Procedural", "crowd_murmur", 8.0, None),
)


def stand_in_library(folder: Path, sr: int = 48_000) -> Path:
    """Write the stand-in library (see the module doc) into `folder` once; returns it."""
    from foleydesigner.generation import procedural

    folder.mkdir(parents=True, exist_ok=True)
    for name, cls, dur, hits in STAND_IN:
        path = folder / f"{name}.wav"
        if path.exists():
            continue
        rng = np.random.default_rng(len(name))
        if hits is None:
            audio = procedural.synthesize(cls, duration_s=dur, sr=sr, rng=rng, intensity=1.0)
        else:
            audio = procedural.synthesize(cls, duration_s=dur, sr=sr, onsets_s=list(hits), rng=rng, intensity=1.0)
        sf.write(str(path), audio.mean(axis=0), sr, subtype="PCM_24")
    return folder


def library_stems(library: Path, script: FoleyScript, clues: dict[str, EventClues], *, seed: int, sr: int = 48_000
                  ) -> tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, bool]], dict[str, bool]]:
    """Per event: the library generator's whole-clip stem, its dry source over the whole clip with whether it is
    placed, and whether it came from a recording (False: the procedural fallback)."""
    from foleydesigner.generation.library.backend import LibraryGenerator

    gen = LibraryGenerator(library)
    stems, sources, recorded = {}, {}, {}
    for ev in script.events:
        req = GenerationRequest(event=ev, clues=clues[ev.id], duration_s=script.duration_s, sample_rate=sr, seed=seed)
        result = gen.generate(req)
        stems[ev.id] = result.full()
        recorded[ev.id] = "fallback" not in result.info.get("library", {})
        got = gen.source(req) if recorded[ev.id] else None
        if got is not None:
            src, s0, placed, _ = got
            full = np.zeros((src.shape[0], result.total_samples), np.float32)
            m = min(src.shape[1], full.shape[1] - s0)
            full[:, s0:s0 + m] = src[:, :m]
            sources[ev.id] = (full, placed)
    return stems, sources, recorded
