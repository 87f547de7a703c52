"""Conformed reel on hand-built runs: events land at record time, the mixes are as long as the timeline and
at the target, and a bed continues across a cut within a scene but changes quickly at a scene change."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleydesigner.batch.reel import BED_XFADE_CHANGE_S, BED_XFADE_SCENE_S, conform_reel
from foleydesigner.batch.timeline import TimelineShot
from foleydesigner.errors import FoleyError, InputError
from foleydesigner.schemas import SoundEvent, VideoInfo
from foleydesigner.tools.export import atomic_write_json, atomic_write_wav
from foleydesigner.tools.loudness import integrated_lufs
from foleydesigner.tools.otio import build_session, write_session
from tests.test_extract import make_indexed_clip

SR = 48_000
FPS = 25.0
SHOT_S = 3.0
BED_HZ = (220.0, 440.0, 880.0)  # one tone per shot's bed: each shot's share of the reel bed is measurable
CLICK_AT = (0.8, 1.3, 2.1)  # the foreground click of each shot, shot-local seconds


def _fake_run(folder: Path, bed_hz: float, click_s: float | None, *, bed_amp: float = 0.1) -> None:
    """The files of a finished run that the conform reads: a bed stem, a click stem (none when click_s is None:
    a beds-only run), their mix, script, clues."""
    n = int(SHOT_S * SR)
    t = np.arange(n) / SR
    bed = np.stack([bed_amp * np.sin(2 * np.pi * bed_hz * t)] * 2).astype(np.float32)
    click = np.zeros((2, n), np.float32)
    events = [SoundEvent(id="bed", label="room_tone", layer="bg", start_s=0, end_s=SHOT_S, origin="scene")]
    atomic_write_wav(folder / "stems" / "bed.wav", bed)
    if click_s is not None:
        k = int(round(click_s * SR))
        click[:, k: k + 480] = 0.8 * np.exp(-np.arange(480) / 60.0)
        atomic_write_wav(folder / "stems" / "hit.wav", click)
        events.append(SoundEvent(id="hit", label="impact", layer="fg", start_s=click_s, end_s=click_s + 0.1,
                                 onsets_s=[click_s]))
    atomic_write_wav(folder / "mix_stereo.wav", 0.5 * bed + click)
    frames = int(SHOT_S * FPS)
    clue = {"fps": FPS, "t_s": [i / FPS for i in range(frames)], "depth_m": [3.0] * frames,
            "azimuth_deg": [0.0] * frames, "activation": [1] * frames}
    atomic_write_json(folder / "script.json", {"events": [e.model_dump(mode="json") for e in events]})
    atomic_write_json(folder / "clues.json", {"events": [{"event_id": "bed", "source": "scene", **clue},
                                                         {"event_id": "hit", "source": "track", **clue}]})
    video = VideoInfo(path="shot.mp4", width=64, height=64, fps=FPS, n_frames=frames, duration_s=SHOT_S, codec="h264",
                      container="mp4")
    stems = {e.id: f"stems/{e.id}.wav" for e in events}
    write_session(folder / "session.otio", build_session(name=folder.name, video_file="shot.mp4", video=video, events=events,
                                                         stems=stems))
    atomic_write_json(folder / "run.json", {"outputs": {}})


@pytest.fixture()
def runs(tmp_path: Path) -> tuple[list[TimelineShot], dict[str, Path]]:
    scenes = ("1", "1", "2")  # a cut within scene 1 at 3 s, a scene change at 6 s
    make_indexed_clip(tmp_path / "src.mp4", Fraction(25), int(SHOT_S * FPS))
    shots, dirs = [], {}
    for i, (hz, click, scene) in enumerate(zip(BED_HZ, CLICK_AT, scenes, strict=True)):
        name = f"{i + 1:03d}_shot"
        shots.append(TimelineShot(name=name, clip=tmp_path / "src.mp4", source_start_s=0.0, source_end_s=SHOT_S,
                                  record_start_s=i * SHOT_S, record_end_s=(i + 1) * SHOT_S, scene=scene))
        dirs[name] = tmp_path / "runs" / name
        _fake_run(dirs[name], hz, click)
    return shots, dirs


def _tone_level(x: np.ndarray, hz: float, t0: float, length: float = 0.1) -> float:
    """Amplitude of the `hz` component of the left channel over [t0, t0 + length)."""
    a, b = int(t0 * SR), int((t0 + length) * SR)
    t = np.arange(a, b) / SR
    seg = x[0, a:b].astype(np.float64)
    return float(2 * np.hypot(np.mean(seg * np.sin(2 * np.pi * hz * t)), np.mean(seg * np.cos(2 * np.pi * hz * t))))


def test_reel_places_events_at_record_time_and_matches_the_timeline(tmp_path: Path, runs: tuple) -> None:
    shots, dirs = runs
    duration = 3 * SHOT_S
    summary = conform_reel(shots, dirs, tmp_path / "out", duration, -23.0)
    reel = tmp_path / "out" / "reel"
    stereo, sr = sf.read(reel / "mix_stereo.wav", always_2d=True)
    surround, sr6 = sf.read(reel / "mix_5_1.wav", always_2d=True)
    assert sr == sr6 == SR and stereo.shape == (int(duration * SR), 2) and surround.shape == (int(duration * SR), 6)
    assert summary["shots_placed"] == 3 and json.loads((reel / "reel.json").read_text())["samples"] == duration * SR
    assert abs(integrated_lufs(stereo.T) - -23.0) < 0.3 and abs(integrated_lufs(surround.T) - -23.0) < 0.3
    for i, click in enumerate(CLICK_AT):  # the click's attack: the first sample far above the bed
        lo = int((i * SHOT_S + 0.1) * SR)
        seg = np.abs(stereo[lo: int((i + 1) * SHOT_S * SR) - int(0.1 * SR), 0])
        found = (lo + int(np.argmax(seg > 0.5 * seg.max()))) / SR
        assert abs(found - (i * SHOT_S + click)) < 0.002
    # the reel session: the picture and one lane per layer, stems at record times, relative paths
    import opentimelineio as otio

    tl = otio.adapters.read_from_file(str(reel / "session.otio"))
    names = [t.name for t in tl.tracks]
    assert names[:3] == ["Picture", "FG 1", "BG 1"]
    fg = tl.tracks[1]
    starts = [fg.range_of_child(c).start_time.to_seconds() for c in fg.find_clips()]
    assert starts == pytest.approx([0.0, 3.0, 6.0])
    url = fg.find_clips()[1].media_reference.target_url
    assert not Path(url).is_absolute() and (reel / url).resolve() == (dirs["002_shot"] / "stems" / "hit.wav").resolve()


def test_inside_each_shot_the_reel_is_that_runs_mix(tmp_path: Path, runs: tuple) -> None:
    """Between its bed crossfades, each shot of the reel is its run's own mix (times the master gain): the
    stereo correlates ≥ 0.99 with it at zero lag, and zero is the best lag. The runs here are not mastered, so
    the reel is mastered 3 LU under their level (as a run's delivered mix would be: at its target, under the
    ceiling), where the limiter leaves their clicks alone."""
    shots, dirs = runs
    level = integrated_lufs(np.concatenate([sf.read(dirs[s.name] / "mix_stereo.wav", always_2d=True)[0] for s in shots]).T)
    summary = conform_reel(shots, dirs, tmp_path / "out", 3 * SHOT_S, level - 3.0)
    reel, _ = sf.read(tmp_path / "out" / "reel" / "mix_stereo.wav", always_2d=True)
    for s, info in zip(shots, summary["shots"], strict=True):
        mix, _ = sf.read(dirs[s.name] / "mix_stereo.wav", always_2d=True)
        a, b = (int(round(x / 2 * SR)) for x in info["bed_crossfade_s"])
        r0, n = int(round(s.record_start_s * SR)), mix.shape[0]
        assert n - a - b >= n // 2  # the middle half at least
        x, y = reel[r0 + a: r0 + n - b].ravel(), mix[a: n - b].ravel()
        assert float(np.dot(x, y) / np.sqrt(np.dot(x, x) * np.dot(y, y))) >= 0.99
        lags = range(-24, 25)
        seg = slice(a + 24, n - b - 24)
        score = [float(np.dot(reel[r0 + seg.start + k: r0 + seg.stop + k, 0], mix[seg, 0])) for k in lags]
        assert lags[int(np.argmax(score))] == 0


def test_bed_continues_within_a_scene_and_changes_at_a_scene_change(tmp_path: Path, runs: tuple) -> None:
    shots, dirs = runs
    conform_reel(shots, dirs, tmp_path / "out", 3 * SHOT_S, -23.0)
    bed, _ = sf.read(tmp_path / "out" / "reel" / "bed_stereo.wav", always_2d=True)
    bed = bed.T
    # level across the cut within scene 1 (3 s): an equal-power crossfade of uncorrelated beds keeps the power,
    # where a linear one would dip 3 dB at the cut
    rms = [float(np.sqrt(np.mean(bed[0, int(t * SR): int((t + 0.05) * SR)] ** 2)))
           for t in np.arange(SHOT_S - 1.2, SHOT_S + 1.2, 0.05)]
    assert 20 * np.log10(max(rms) / min(rms)) < 1.0
    full = _tone_level(bed, BED_HZ[0], 1.0)
    # shot 1's bed is still there into shot 2 (a long crossfade, reaching a quarter of a shot), gone after it
    half = min(BED_XFADE_SCENE_S / 2, SHOT_S / 4)
    assert _tone_level(bed, BED_HZ[0], SHOT_S + 0.1) > 0.5 * full
    assert _tone_level(bed, BED_HZ[0], SHOT_S + half + 0.05) < 0.01 * full
    # at the scene change (6 s) shot 2's bed is gone right after the short crossfade, shot 3's fully there
    after = 2 * SHOT_S + BED_XFADE_CHANGE_S / 2 + 0.02
    assert _tone_level(bed, BED_HZ[1], after) < 0.01 * full
    assert _tone_level(bed, BED_HZ[2], after) > 0.9 * full
    assert _tone_level(bed, BED_HZ[1], 2 * SHOT_S - BED_XFADE_CHANGE_S / 2 - 0.12) > 0.9 * full


def test_missing_run_is_one_clear_error(tmp_path: Path, runs: tuple) -> None:
    shots, dirs = runs
    dirs = {k: v for k, v in dirs.items() if k != "002_shot"}
    with pytest.raises(InputError, match="002_shot.*run them first"):
        conform_reel(shots, dirs, tmp_path / "out", 3 * SHOT_S, -23.0)
    assert not (tmp_path / "out" / "reel").exists()


def test_conform_again_replaces_its_reel_but_never_a_user_folder(tmp_path: Path, runs: tuple) -> None:
    shots, dirs = runs
    first = conform_reel(shots, dirs, tmp_path / "out", 3 * SHOT_S, -23.0)
    again = conform_reel(shots, dirs, tmp_path / "out", 3 * SHOT_S, -20.0)
    assert again["stereo"]["integrated_lufs"] == pytest.approx(-20.0, abs=0.3) != first["stereo"]["integrated_lufs"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["reel"]  # no stage or scratch left behind
    mine = tmp_path / "mine" / "reel"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(InputError, match="not a conformed reel"):
        conform_reel(shots, dirs, tmp_path / "mine", 3 * SHOT_S, -23.0)
    assert (mine / "notes.txt").read_text() == "keep"


def test_a_short_shot_between_two_keeps_the_bed_level(tmp_path: Path, runs: tuple) -> None:
    shots, dirs = runs
    spans = [(0.0, 3.0), (3.0, 4.0), (4.0, 7.0)]  # a 1 s insert: both its crossfades shrink to a quarter of it
    cut = [TimelineShot(s.name, s.clip, 0.0, b - a, a, b, "1") for s, (a, b) in zip(shots, spans, strict=True)]
    summary = conform_reel(cut, dirs, tmp_path / "out", 7.0, -23.0)
    assert summary["shots"][1]["bed_crossfade_s"] == [0.5, 0.5]
    bed, _ = sf.read(tmp_path / "out" / "reel" / "bed_stereo.wav", always_2d=True)
    rms = [float(np.sqrt(np.mean(bed[int(t * SR): int((t + 0.05) * SR), 0] ** 2))) for t in np.arange(1.5, 5.5, 0.05)]
    assert 20 * np.log10(max(rms) / min(rms)) < 1.0


def test_a_full_disk_is_one_line_and_leaves_no_half_reel(tmp_path: Path, runs: tuple) -> None:
    import subprocess

    shots, dirs = runs
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:  # a 9 s reel's masters alone are over 3 MB
        with pytest.raises(FoleyError, match=r"disk full while conforming the reel: needs ~[\d.]+ MB at .*MB free") as err:
            conform_reel(shots, dirs, disk, 3 * SHOT_S, -23.0)
        assert "\n" not in str(err.value)
        assert list(disk.iterdir()) == []  # the half-written stage is gone
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_reel_folders_never_share_a_name(tmp_path: Path) -> None:
    from foleydesigner.batch.reel import reel_folders

    a, b, edl, other = tmp_path / "a" / "cut.otio", tmp_path / "b" / "cut.otio", tmp_path / "cut.edl", tmp_path / "x.otio"
    names = reel_folders([a, b, edl, other])
    assert names[other] == "x" and names[edl] == "cut_edl"
    assert names[a].startswith("cut_otio-") and names[b].startswith("cut_otio-") and names[a] != names[b]
    assert reel_folders([a, b, edl, other]) == names  # deterministic: a batch run again replaces its own reels
    assert reel_folders([edl, tmp_path / "cut.otio"]) == {edl: "cut_edl", tmp_path / "cut.otio": "cut_otio"}
    trap = tmp_path / "cut_edl.otio"  # its stem is what cut.edl would get
    names = reel_folders([edl, tmp_path / "cut.otio", trap])
    assert len({n.lower() for n in names.values()}) == 3


def _shot_timeline(path: Path, media: Path, rate: int = 25) -> Path:
    """A one-track OTIO cut of two SHOT_S shots of `media`."""
    import opentimelineio as otio

    rt, tr_ = otio.opentime.RationalTime, otio.opentime.TimeRange
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for i, start in enumerate((0.0, 4.0)):
        ref = otio.schema.ExternalReference(target_url=str(media), available_range=tr_(rt(0, rate), rt(8 * rate, rate)))
        track.append(otio.schema.Clip(name=f"sh{i}", media_reference=ref,
                                      source_range=tr_(rt(start * rate, rate), rt(SHOT_S * rate, rate))))
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(otio.schema.Timeline(name=path.stem, tracks=[track]), str(path))
    return path


def test_two_timelines_of_one_name_give_two_reels(tmp_path: Path) -> None:
    """`foley batch a/cut.otio b/cut.otio`: both reels are made, each recorded in batch.json where it is. The
    shots' runs are already there (their run.json has the job's key), so no job runs and Ray is not started."""
    from foleydesigner.batch.runner import BatchSettings, run_batch
    from foleydesigner.batch.sources import collect_jobs
    from foleydesigner.runkey import run_key
    media = make_indexed_clip(tmp_path / "src.mp4", Fraction(25), 200)
    cuts = [_shot_timeline(tmp_path / d / "cut.otio", media) for d in ("a", "b")]
    jobs, timelines = collect_jobs([str(c) for c in cuts])
    out = tmp_path / "out"
    for i, job in enumerate(jobs):
        _fake_run(out / job.name, BED_HZ[i % 3], CLICK_AT[i % 3])
        atomic_write_json(out / job.name / "run.json", {"key": run_key(job.clip, None, job.options,
                                                                       source_range=job.source_range)})
    record = run_batch(jobs, timelines, out, BatchSettings(), command="test")
    assert {j.status for j in record.jobs} == {"skipped"} and len(jobs) == 4
    reels = [record.reels[str(c.resolve())] for c in cuts]
    assert [r["status"] for r in reels] == ["done", "done"] and reels[0]["out"] != reels[1]["out"]
    for r, cut in zip(reels, cuts, strict=True):
        folder = Path(r["out"])
        assert folder.parent == out / "reel" and (folder / "reel.json").is_file()
        placed = json.loads((folder / "reel.json").read_text())["shots"]
        # each reel placed its own timeline's runs
        jobs_of = timelines[cuts.index(cut)].job_of_shot
        assert [Path(s["run"]).name for s in placed] == [jobs_of[n] for n in ("001_sh0", "002_sh1")]


def _beds_only(tmp_path: Path, bed_amp: float) -> tuple[list[TimelineShot], dict[str, Path]]:
    make_indexed_clip(tmp_path / "src.mp4", Fraction(25), int(SHOT_S * FPS))
    shots, dirs = [], {}
    for i, hz in enumerate(BED_HZ):
        name = f"{i + 1:03d}_amb"
        shots.append(TimelineShot(name=name, clip=tmp_path / "src.mp4", source_start_s=0.0, source_end_s=SHOT_S,
                                  record_start_s=i * SHOT_S, record_end_s=(i + 1) * SHOT_S, scene="1"))
        dirs[name] = tmp_path / "runs" / name
        _fake_run(dirs[name], hz, None, bed_amp=bed_amp)
    return shots, dirs


def test_a_beds_only_reel_is_mastered_by_the_runs_rule(tmp_path: Path) -> None:
    """A run delivers a beds-only scene at the beds' reference level (8 LU under the target), so the reel of
    beds-only runs does too, rather than raising them to programme loudness; one foreground shot brings the
    whole reel to the target."""
    shots, dirs = _beds_only(tmp_path, 0.02)
    summary = conform_reel(shots, dirs, tmp_path / "out", 3 * SHOT_S, -23.0)
    for name, channels in (("mix_stereo.wav", 2), ("mix_5_1.wav", 6)):
        x, _ = sf.read(tmp_path / "out" / "reel" / name, always_2d=True)
        assert x.shape[1] == channels and integrated_lufs(x.T) == pytest.approx(-31.0, abs=0.3)
    assert summary["master_target_lufs"] == -31.0 and "no foreground sounds" in summary["warnings"][0]
    _fake_run(dirs["002_amb"], BED_HZ[1], 1.0, bed_amp=0.3)  # the middle shot gets a hit (and a louder bed)
    summary = conform_reel(shots, dirs, tmp_path / "out", 3 * SHOT_S, -23.0)
    x, _ = sf.read(tmp_path / "out" / "reel" / "mix_stereo.wav", always_2d=True)
    assert integrated_lufs(x.T) == pytest.approx(-23.0, abs=0.3) and summary["warnings"] == []


def test_the_reel_make_up_gain_is_capped_like_a_run(tmp_path: Path) -> None:
    from foleydesigner.agents.mastering import MAX_MAKEUP_DB

    shots, dirs = _beds_only(tmp_path, 0.003)  # runs around -60 LUFS: the beds' target is ~29 LU away
    before = integrated_lufs(sf.read(dirs["001_amb"] / "mix_stereo.wav", always_2d=True)[0].T)
    summary = conform_reel(shots, dirs, tmp_path / "out", 3 * SHOT_S, -23.0)
    stereo, _ = sf.read(tmp_path / "out" / "reel" / "mix_stereo.wav", always_2d=True)
    surround, _ = sf.read(tmp_path / "out" / "reel" / "mix_5_1.wav", always_2d=True)
    assert integrated_lufs(stereo.T) == pytest.approx(before + MAX_MAKEUP_DB, abs=0.5)
    assert integrated_lufs(surround.T) == pytest.approx(integrated_lufs(stereo.T), abs=0.3)  # 5.1 where stereo got
    assert "make-up gain capped" in summary["warnings"][-1]
