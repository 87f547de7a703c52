"""The tools agents call (LangChain @tool: typed arguments, docstring = what the LLM reads).

LLM agents bind them for tool calling; the offline heuristic agents invoke the very same objects, so both paths
run one implementation. Arguments and results are JSON-able (pydantic dumps), audio goes to files.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.tools import tool

from foleydesigner.schemas import EventClues, SceneContext, SoundEvent, StemInfo, Track, VideoInfo

if TYPE_CHECKING:
    from foleydesigner.generation.base import GenerationResult

#: Frames per write when streaming a stem to disk: 64 Ki stereo float frames = 512 KiB.
_WRITE_BLOCK = 1 << 16


@tool
def track_video(video_path: str, analysis_width: int = 384, shots: list[dict[str, Any]] | None = None,
                camera_offsets: list[list[float]] | None = None) -> list[dict[str, Any]]:
    """Detect and track every moving object of a video clip, shot by shot (shots: from the picture analysis;
    only shots with a still camera are tracked). Returns tracks: id, label (person/object/vehicle), motion
    (walking/bouncing/moving/static), per-frame times and boxes (x, y, w, h pixels), visual onsets (footstep
    contacts, bounces, impacts) in seconds, the shot, and the evidence behind the label. camera_offsets: per
    frame, how far the camera has moved the picture since its shot began (x, y source pixels)."""
    from foleydesigner.schemas import Shot
    from foleydesigner.tools.tracking import track_objects
    from foleydesigner.tools.video import probe_video

    info = probe_video(video_path)
    cuts = [Shot.model_validate(s) for s in shots] if shots else None
    offsets = np.asarray(camera_offsets, float).reshape(-1, 2) if camera_offsets else None
    if offsets is not None and len(offsets) < info.n_frames:  # frames the picture pass did not decode: no move
        offsets = np.vstack([offsets, np.repeat(offsets[-1:], info.n_frames - len(offsets), axis=0)])
    return [t.model_dump() for t in track_objects(video_path, info, analysis_width=analysis_width, shots=cuts,
                                                  camera_offsets=offsets)]


@tool
def extract_event_clues(event: dict[str, Any], tracks: list[dict[str, Any]], video: dict[str, Any],
                        hfov_deg: float = 60.0) -> dict[str, Any]:
    """Spatio-temporal clues of one sound event on every video frame: depth (m), azimuth (degrees, negative
    left) and activation (0/1), from the track that makes the sound, or the event's fixed off-screen azimuth."""
    from foleydesigner.tools.clues import clues_for_event

    ev = SoundEvent.model_validate(event)
    clues = clues_for_event(ev, [Track.model_validate(t) for t in tracks], VideoInfo.model_validate(video), hfov_deg=hfov_deg)
    path = ev.params.get("azimuth_path")
    if path and clues.source == "script":  # a screenplay crossing ("from left to right") moves between keyframes
        keys = np.asarray(path, float).reshape(-1, 2)
        clues = clues.model_copy(update={"azimuth_deg": np.interp(clues.t_s, keys[:, 0], keys[:, 1]).round(3).tolist()})
    return clues.model_dump()


@lru_cache(maxsize=4)
def _generator(name: str, options: tuple[tuple[str, Any], ...]) -> Any:
    from foleydesigner.generation.registry import make_generator

    return make_generator(name, **dict(options))


@tool
def generate_stem(event: dict[str, Any], clues: dict[str, Any], duration_s: float, out_path: str,
                  scene: dict[str, Any] | None = None, generator: str = "procedural", seed: int = 0,
                  options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Generate one stereo 48 kHz stem for a sound event along its clues, covering the whole clip, and write it
    to out_path as WAV. Returns the stem's file, duration, peak and loudness."""
    from foleydesigner.generation.base import GenerationRequest

    gen = _generator(generator, tuple(sorted((options or {}).items())))
    req = GenerationRequest(event=SoundEvent.model_validate(event), clues=EventClues.model_validate(clues),
                            duration_s=duration_s, scene=SceneContext.model_validate(scene or {}), seed=seed)
    result = gen.generate(req)
    sr = result.sample_rate
    path = _write_stem(out_path, result)
    peak, lufs = _measure(result)
    info = StemInfo(event_id=req.event.id, path=str(Path(path).name), sample_rate=sr, channels=2,
                    duration_s=result.total_samples / sr,
                    peak_dbfs=round(20.0 * math.log10(peak), 2) if peak > 0 else -120.0, integrated_lufs=round(lufs, 2))
    return {**info.model_dump(), "generator_info": {**result.info, "offset_s": round(result.offset / sr, 6)}}


def _write_stem(path: str | Path, result: GenerationResult) -> Path:
    """Write the whole-clip stem (silence, the segment, silence) as stereo float WAV, block by block, atomically.

    Float, because pre-mix levels may exceed full scale and must not clip before the mixer sees them; streamed,
    so a long clip's stem never exists as one full-length array.
    """
    from foleydesigner.tools.export import WavWriter

    seg = result.audio
    with WavWriter(path, 2, result.sample_rate, subtype="FLOAT") as wav:
        _write_silence(wav, result.offset)
        for i in range(0, seg.shape[1], _WRITE_BLOCK):
            wav.write(seg[:, i:i + _WRITE_BLOCK])
        _write_silence(wav, result.total_samples - result.offset - seg.shape[1])
    return Path(path)


def _measure(result: GenerationResult) -> tuple[float, float]:
    """Sample peak (linear) and BS.1770 integrated loudness (LUFS) of the whole-clip stem, from its segment.

    Silence outside the segment changes neither: the −70 LUFS absolute gate drops silent blocks, and the meter
    starts on the clip's 100 ms block grid. Streamed block by block, so memory stays flat on a long segment.
    """
    from foleydesigner.tools.loudness import LoudnessMeter

    meter = LoudnessMeter(result.sample_rate)
    meter.push(np.zeros((2, result.offset % meter.sub), np.float32))
    peak = 0.0
    for i in range(0, result.audio.shape[1], _WRITE_BLOCK):
        block = result.audio[:, i:i + _WRITE_BLOCK]
        meter.push(block)
        peak = max(peak, float(block.max()), -float(block.min()))
    return peak, meter.profile().integrated()


def _write_silence(wav: Any, frames: int) -> None:
    zeros = np.zeros((2, min(_WRITE_BLOCK, frames)), np.float32)
    for i in range(0, frames, _WRITE_BLOCK):
        wav.write(zeros[:, :min(_WRITE_BLOCK, frames - i)])


TOOLS = [track_video, extract_event_clues, generate_stem]
