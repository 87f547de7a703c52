"""The tools agents call (LangChain @tool: typed arguments, docstring = what the LLM reads).

LLM agents bind them for tool calling; the offline heuristic agents invoke the very same objects, so both paths
run one implementation. Arguments and results are JSON-able (pydantic dumps), audio goes to files.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.tools import tool

from foleydesigner.schemas import EventClues, SceneContext, SoundEvent, StemInfo, Track, VideoInfo


@tool
def track_video(video_path: str, analysis_width: int = 384) -> list[dict[str, Any]]:
    """Detect and track every moving object of a video clip. Returns tracks: id, label (person/object/vehicle),
    motion (walking/bouncing/moving/static), per-frame times and boxes (x, y, w, h pixels) and visual onsets
    (footstep contacts, bounces, impacts) in seconds."""
    from foleydesigner.tools.tracking import track_objects
    from foleydesigner.tools.video import probe_video

    info = probe_video(video_path)
    return [t.model_dump() for t in track_objects(video_path, info, analysis_width=analysis_width)]


@tool
def extract_event_clues(event: dict[str, Any], tracks: list[dict[str, Any]], video: dict[str, Any],
                        hfov_deg: float = 60.0) -> dict[str, Any]:
    """Spatio-temporal clues of one sound event on every video frame: depth (m), azimuth (degrees, negative
    left) and activation (0/1), from the track that makes the sound, or the event's fixed off-screen azimuth."""
    from foleydesigner.tools.clues import clues_for_event

    clues = clues_for_event(SoundEvent.model_validate(event), [Track.model_validate(t) for t in tracks],
                            VideoInfo.model_validate(video), hfov_deg=hfov_deg)
    return clues.model_dump()


@lru_cache(maxsize=4)
def _generator(name: str, options: tuple[tuple[str, Any], ...]) -> Any:
    from foleydesigner.generation.base import make_generator

    return make_generator(name, **dict(options))


@tool
def generate_stem(event: dict[str, Any], clues: dict[str, Any], duration_s: float, out_path: str,
                  scene: dict[str, Any] | None = None, generator: str = "procedural", seed: int = 0,
                  options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Generate one stereo 48 kHz stem for a sound event along its clues, covering the whole clip, and write it
    to out_path as WAV. Returns the stem's file, duration, peak and loudness."""
    from foleydesigner.generation.base import GenerationRequest
    from foleydesigner.tools.export import atomic_write_wav
    from foleydesigner.tools.loudness import integrated_lufs, sample_peak_dbfs

    gen = _generator(generator, tuple(sorted((options or {}).items())))
    req = GenerationRequest(event=SoundEvent.model_validate(event), clues=EventClues.model_validate(clues),
                            duration_s=duration_s, scene=SceneContext.model_validate(scene or {}), seed=seed)
    result = gen.generate(req)
    # Stems are float WAV: pre-mix levels may exceed full scale and must not clip before the mixer sees them.
    path = atomic_write_wav(out_path, result.audio, result.sample_rate, subtype="FLOAT")
    peak = sample_peak_dbfs(result.audio)
    info = StemInfo(event_id=req.event.id, path=str(Path(path).name), sample_rate=result.sample_rate, channels=2,
                    duration_s=result.audio.shape[1] / result.sample_rate,
                    peak_dbfs=round(peak, 2) if peak > -1e9 else -120.0,
                    integrated_lufs=round(integrated_lufs(result.audio, result.sample_rate), 2))
    return {**info.model_dump(), "generator_info": result.info}


TOOLS = [track_video, extract_event_clues, generate_stem]
