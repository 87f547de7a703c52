"""Pipeline stages that are tools rather than agents: watch the video, place the clues, generate, upmix, export.

Each is a node `verb_noun(state, runtime) -> partial update`; the LangGraph wiring is in graphs/foley.py.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner import limits
from foleydesigner.agents.mixing import BUSES
from foleydesigner.context import RunContext
from foleydesigner.schemas import FoleyScript, MixPlan, StemInfo, Track, VideoInfo
from foleydesigner.tools import catalog, earlytrack
from foleydesigner.tools.cpus import usable_cores
from foleydesigner.tools.export import WavWriter, atomic_write_json, deliver_video
from foleydesigner.tools.otio import build_session, write_session
from foleydesigner.tools.picture import analyse_picture
from foleydesigner.tools.processing import master_source
from foleydesigner.tools.shots import split_at_cuts
from foleydesigner.tools.stems import deliver_stem
from foleydesigner.tools.streams import PREROLL_S, SpillFile, WavAudio, aligned, spans
from foleydesigner.tools.sweeps import not_vehicles
from foleydesigner.tools.tracking import still_pass
from foleydesigner.tools.upmix import downmix_bs775, upmix_51
from foleydesigner.tools.video import damage_warning, probe_video
from foleydesigner.units import SAMPLE_RATE

log = logging.getLogger(__name__)
INTERNAL = ".internal"
#: What the zero-shot detector / VLM is asked to find before the script exists: the usual Foley sources.
VISION_LABELS = ("person", "car", "ball", "dog", "bicycle", "horse", "door")  # scratch inside the run's staging folder; removed before the outputs are published


def _ctx(runtime: Any) -> RunContext:
    return runtime.context  # type: ignore[no-any-return]


def load_video(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Probe the clip and gather the visual evidence V: tracked objects with their visual onsets."""
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    info = probe_video(state["video_path"])
    warnings = []
    if info.has_audio:
        warnings.append("the clip already has an audio track: it is replaced in the output video"
                        + (" (kept as an extra track: --keep-original-audio)" if ctx.keep_original_audio
                           else "; pass --keep-original-audio to keep it as an extra track"))
    if damaged := damage_warning(info):
        warnings.append(damaged)
    elif info.variable_frame_rate:
        warnings.append(f"variable frame rate: clues use the decoded frame timestamps at nominal {info.fps:.3f} fps")
    if ctx.vision == "opencv" and usable_cores() >= 2:  # the tracking pass beside the picture pass (earlytrack.py)
        path, width = state["video_path"], ctx.analysis_width
        earlytrack.start(path, width, lambda go_on: still_pass(path, info, width, go_on))
    try:
        with ctx.tracer.span("analyse_picture", "tool", backend="opencv", inputs=state["video_path"], tool="picture") as rec:
            picture = analyse_picture(state["video_path"], info)
            rec["parsed"] = {"shots": [{"start_s": s.start_s, "transition": s.transition, "camera": s.camera}
                                       for s in picture.shots], "scene": picture.scene.model_dump()}
        shots = [s.model_dump() for s in picture.shots]
        if ctx.vision == "opencv":
            tracks = ctx.tracer.call_tool("load_video", catalog.track_video,
                                          {"video_path": state["video_path"], "analysis_width": ctx.analysis_width,
                                           "shots": shots, "camera_offsets": picture.camera_offsets().round(2).tolist()})
    finally:
        earlytrack.cancel(state["video_path"], ctx.analysis_width)  # not taken: the picture failed, or tracking did
    if ctx.vision != "opencv":
        from foleydesigner.tools.vision import make_vision_backend

        backend = make_vision_backend(ctx.vision, model_dir=ctx.vision_model_dir, ctx=ctx)
        with ctx.tracer.span("load_video", "tool", backend=ctx.vision, inputs=state["video_path"], tool="track") as rec:
            found = backend.track(state["video_path"], info, labels=VISION_LABELS)
            warnings += list(getattr(backend, "warnings", []))  # a VLM that failed under --fallback heuristic
            measured = getattr(backend, "depths", {}) or {}  # {track id: [(t_s, metres)]} from a depth model
            found = [t.model_copy(update={"depth_samples": list(measured.get(t.id, []))}) for t in found]
            found = split_at_cuts(found, picture.shots)  # a detector's track never runs through a cut either
            tracks = [t.model_dump() for t in found]
            rec["parsed"] = [{"id": t.id, "label": t.label, "motion": t.motion} for t in found]
    # A running machine and a big thing sweeping past are seen by the picture pass, whatever tracked the objects
    # (tools/machines.py, tools/sweeps.py): neither has a blob of its own.
    cars = [Track.model_validate(t) for t in tracks if t["label"] == "vehicle"] if picture.sweeps else []
    sweeps = not_vehicles(picture.sweeps, cars)  # a car rushing past passes by
    seen = picture.machines + sweeps
    tracks = tracks + [t.model_copy(update={"id": len(tracks) + i}).model_dump() for i, t in enumerate(seen)]
    return {"video": info.model_dump(), "tracks": tracks, "shots": shots, "picture": picture.scene.model_dump(),
            "warnings": warnings,
            "timings": {"load_video": time.perf_counter() - t0}}


def check_script(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Stop a script with more events than --max-events before the Tree-of-Thought search scores its candidates
    (each a copy of the script: a 5 MB screenplay's 120,000 events ran for many minutes there)."""
    limits.check_event_count(len(state["script"]["events"]), _ctx(runtime).max_events)
    return {}


def extract_clues(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    n_events = len(state["script"]["events"])  # the last moment before stems are written: check what they need
    limits.check_event_count(n_events, ctx.max_events)
    limits.check_disk(ctx.work_dir, limits.estimate_bytes(n_events, state["video"]["duration_s"],
                                                          video_bytes=Path(state["video_path"]).stat().st_size))
    clues = {}
    for ev in state["script"]["events"]:
        clues[ev["id"]] = ctx.tracer.call_tool("extract_clues", catalog.extract_event_clues,
                                               {"event": ev, "tracks": state.get("tracks", []), "video": state["video"],
                                                "hfov_deg": ctx.hfov_deg})
    return {"clues": clues, "timings": {"extract_clues": time.perf_counter() - t0}}


def generate_stem(task: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """One generation branch (LangGraph Send): one event -> stems/<id>.wav."""
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    event_id = task["event"]["id"]
    out_path = ctx.work_dir / "stems" / f"{event_id}.wav"
    info = ctx.tracer.call_tool(f"generate_stem[{event_id}]", catalog.generate_stem, {
        "event": task["event"], "clues": task["clues"], "duration_s": task["duration_s"], "out_path": str(out_path),
        "scene": task["scene"], "generator": ctx.generator, "seed": ctx.seed, "options": dict(ctx.generator_options)})
    info["path"] = f"stems/{event_id}.wav"
    return {"stems": [info], "timings": {f"generate_stem[{event_id}]": time.perf_counter() - t0},
            "warnings": list(info.get("generator_info", {}).get("warnings", []))}


def _with_choices(script: dict[str, Any], stems: list[dict[str, Any]]) -> FoleyScript:
    """The script with what a library generator chose per event (files, offsets, scores) in its params."""
    chosen = {s["event_id"]: s["generator_info"]["library"] for s in stems if "library" in s.get("generator_info", {})}
    events = [{**e, "params": {**e.get("params", {}), "library": chosen[e["id"]]}} if e["id"] in chosen else e
              for e in script["events"]]
    return FoleyScript.model_validate({**script, "events": events})


def upmix_surround(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """5.1 per ITU-R BS.775 from the mix buses, window by window; mastered to the same loudness target; the
    BS.775 downmix is checked against the stereo mix as it is written."""
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    scratch = ctx.work_dir / INTERNAL
    buses = {k: SpillFile.existing(scratch / f"bus_{k}.f32", 2) for k in BUSES}
    n = buses["front"].n
    window, pad = aligned(ctx.window_s), aligned(PREROLL_S)
    pre51 = SpillFile(scratch / "premaster_5_1.f32", 6, n)
    for a, b in spans(n, window):
        # read around the window: the LFE's zero-phase low-pass looks both ways, the surrounds' delay looks back
        lo, hi = max(0, a - pad), min(n, b + pad)
        pre51.write(a, upmix_51(*(buses[k].read(lo, hi) for k in BUSES))[:, a - lo: b - lo])
    # the buses stay until the run's .internal is cleared at the end: a run resumed after a kill during this step
    # (`foley run --resume`) runs it again from the same buses
    stereo = WavAudio(ctx.work_dir / "mix_stereo.wav")
    dot = np.zeros((2, 3))  # per side: Σ down·stereo, Σ down², Σ stereo²

    def write(a: int, y: np.ndarray) -> None:
        wav.write(y)
        down = downmix_bs775(y).astype(np.float64)
        ref = stereo.read(a, a + y.shape[1]).astype(np.float64)
        dot[:] += np.stack([np.sum(down * ref, axis=1), np.sum(down * down, axis=1), np.sum(ref * ref, axis=1)], axis=1)

    master = state["mix_plan"]["verification"]["master"]  # the mixer measured the stereo master it wrote
    with WavWriter(ctx.work_dir / "mix_5_1.wav", 6) as wav:
        measured = master_source(pre51, write, target_lufs=master.get("target_lufs", ctx.target_lufs),
                                 ceiling_dbtp=ctx.true_peak_dbtp, window=window, scratch=scratch)
    pre51.remove()
    corr = [float(d[0] / np.sqrt(d[1] * d[2])) if d[1] * d[2] > 0 else 1.0 for d in dot]
    delivery = {
        "stereo": {k: master[k] for k in ("integrated_lufs", "true_peak_dbtp")},
        "surround_5_1": {"integrated_lufs": measured["integrated_lufs"], "true_peak_dbtp": measured["true_peak_dbtp"]},
        "downmix_correlation": [round(c, 4) for c in corr],
    }
    plan = {**state["mix_plan"], "verification": {**state["mix_plan"]["verification"], "delivery": delivery}}
    return {"mix_plan": plan, "mix": {**state["mix"], "surround": "mix_5_1.wav"}, "timings": {"upmix": time.perf_counter() - t0}}


def preview_stems(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """The report's stem monitors (envelopes, spectrograms, Opus previews: most of its build) rendered from the
    mixer's strips while the 5.1 is upmixed beside this node (graphs/foley.py): both run mostly outside the GIL,
    so on 2 cores the report's largest part costs the run no wall time (on one core, as `foley batch` gives a
    worker, it is left to the report). report/early.py says when the report takes them; a failure here only
    means the report renders them itself."""
    from foleydesigner.report.early import render_early

    return _early_monitors("stem", "report_stems",
                           lambda: render_early(_ctx(runtime).work_dir, state["script"], state["mix_plan"]))


def preview_mixes(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """The report's mix monitors (spectrogram, loudness curves, previews) rendered while the video is muxed beside
    this node (graphs/foley.py); report/early.py says when the report takes them."""
    from foleydesigner.report.early import render_early_mixes

    return _early_monitors("mix", "report_mixes", lambda: render_early_mixes(
        _ctx(runtime).work_dir, float(state["script"].get("duration_s") or 0.0)))


def _early_monitors(what: str, timing: str, render: Any) -> dict[str, Any]:
    """render() on 2 cores or more (on one, nothing is read: the report renders them), a failure only logged."""
    t0 = time.perf_counter()
    if usable_cores() < 2:  # one core (a `foley batch` worker): nothing to overlap; the report renders them
        return {}
    try:
        render()
    except Exception as exc:  # noqa: BLE001 - the report is a view: it renders them again at the end
        log.warning("%s monitors not rendered early (%s: %s); the report renders them", what, exc.__class__.__name__,
                    exc)
    return {"timings": {timing: time.perf_counter() - t0}}


def export_outputs(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    """Write the script, clues and plan, and mux both mixes into the untouched video stream."""
    ctx = _ctx(runtime)
    t0 = time.perf_counter()
    video = VideoInfo.model_validate(state["video"])
    atomic_write_json(ctx.work_dir / "script.json", _with_choices(state["script"], state["stems"]))
    ordered = [state["clues"][e["id"]] for e in state["script"]["events"]]
    atomic_write_json(ctx.work_dir / "clues.json", {"events": ordered, "shots": state.get("shots", [])})
    atomic_write_json(ctx.work_dir / "mix_plan.json", MixPlan.model_validate(state["mix_plan"]))
    name, warnings = deliver_video(state["video_path"], ctx.work_dir, video.codec, mix_51=ctx.work_dir / "mix_5_1.wav",
                                   mix_stereo=ctx.work_dir / "mix_stereo.wav", sr=SAMPLE_RATE,
                                   keep_original_audio=ctx.keep_original_audio, language=ctx.language)
    stems = {s["event_id"]: s["path"] for s in state["stems"]}
    ranges: dict[str, tuple[int, int]] = {}
    if (ctx.stems, ctx.stem_format) != ("full", "wav"):  # after the mix, which reads the full-length WAVs
        for sid, rel in stems.items():
            path, first, n = deliver_stem(ctx.work_dir / rel, mode=ctx.stems, fmt=ctx.stem_format, description=sid)
            stems[sid], ranges[sid] = str(path.relative_to(ctx.work_dir)), (first, n)
    for s in state["stems"]:
        StemInfo.model_validate({k: v for k, v in s.items() if k != "generator_info"})
    script = FoleyScript.model_validate(state["script"])
    timeline = build_session(name=Path(state["video_path"]).stem, video_file=name, video=video, events=script.events,
                             stems=stems, plan=state["mix_plan"]["plan"],
                             mixes={"stereo": "mix_stereo.wav", "5.1": "mix_5_1.wav", **state["mix"].get("immersive", {})},
                             objects=state["mix"].get("objects"), stem_ranges=ranges)
    write_session(ctx.work_dir / "session.otio", timeline)
    return {"outputs": {"video": name, "script": "script.json", "clues": "clues.json", "mix_plan": "mix_plan.json",
                        "mix_stereo": "mix_stereo.wav", "mix_5_1": "mix_5_1.wav", "timeline": "session.otio",
                        **{f"stem:{k}": v for k, v in stems.items()}},
            "warnings": warnings, "timings": {"export": time.perf_counter() - t0}}
