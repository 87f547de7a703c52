"""Dropped, flicked and swaying objects, rendered and tracked: a thing that rests, moves its own size or more and
rests again was struck or set down (an impact the picture names without a detector); one that sways never lands."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from foleydesigner.agents.evidence import sound_for_track
from foleydesigner.schemas import SceneContext, Track
from foleydesigner.tools.onsets import displacements
from foleydesigner.tools.tracking import track_objects
from foleydesigner.tools.video import probe_video

FPS, W, H, SIZE = 25.0, 640, 360, 30
ROOM = SceneContext(description="room", location="indoor", room_size="medium", time_of_day="day")


def _render(path: Path, centres: list[tuple[float, float] | None]) -> None:
    """A still, textured room with one SIZE px box at each frame's centre, none where it is None (H.264, yuv420p)."""
    rng = np.random.default_rng(3)
    bg = cv2.GaussianBlur(rng.normal(120, 40, (H, W, 3)).astype(np.float32), (0, 0), 6)
    bg = np.clip((bg - bg.mean()) * 2.5 + 130, 0, 255).astype(np.uint8)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=Fraction(int(FPS)))
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for i, at in enumerate(centres):
            img = bg.copy()
            if at is not None:
                x, y = int(round(at[0] - SIZE / 2)), int(round(at[1] - SIZE / 2))
                cv2.rectangle(img, (x, y), (x + SIZE - 1, y + SIZE - 1), (30, 60, 200), -1)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, int(FPS))
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def _drop(rest_s: float = 1.0, fall_px: float = 180.0, after_s: float = 1.5, g: float = 1500.0,
          unseen: bool = False) -> tuple[list[tuple[float, float] | None], float]:
    """Held at rest (or, `unseen`, out of sight: held behind something, let go as it comes into view), falling
    under gravity onto the floor, lying there: centres per frame, contact time."""
    fall_s = math.sqrt(2 * fall_px / g)
    n = int(round((rest_s + fall_s + after_s) * FPS))
    y0, out = 70.0, []
    for i in range(n):
        t = i / FPS - rest_s
        out.append(None if unseen and t < 0 else (300.0, y0 + min(fall_px, 0.5 * g * max(t, 0.0) ** 2)))
    return out, rest_s + fall_s


def _shoves(rests: list[float], moves: list[tuple[float, float]], move_s: float = 0.5) -> tuple[list[tuple[float, float]], list[float]]:
    """Seen from above: a box lies still, is flicked (fast, slowing to a halt in move_s), lies still again: centres
    per frame and the times it comes to rest. (Struck harder, a box that jumps more than most of its size in the
    first frame is lost by the tracker's gate, which expects a resting thing to stay: tools/tracking.py.)"""
    x, y, t, out, halts = 150.0, 180.0, 0.0, [], []
    for rest, (dx, dy) in zip(rests, [*moves, (0.0, 0.0)], strict=True):
        out += [(x, y)] * int(round(rest * FPS))
        t += rest
        if dx == dy == 0.0:
            break
        n = int(round(move_s * FPS))
        for k in range(1, n + 1):
            f = 1 - (1 - k / n) ** 2  # decelerating: friction
            out.append((x + dx * f, y + dy * f))
        x, y, t = x + dx, y + dy, t + move_s
        halts.append(t - 1 / FPS)
    return out, halts


def _one(tracks: list[Track]) -> Track:
    assert len(tracks) == 1, [(t.id, t.label, t.t_s[0], t.t_s[-1]) for t in tracks]
    return tracks[0]


def test_a_dropped_box_hits_the_floor_within_a_frame(tmp_path: Path) -> None:
    centres, contact = _drop()
    _render(tmp_path / "drop.mp4", centres)
    track = _one(track_objects(tmp_path / "drop.mp4", probe_video(tmp_path / "drop.mp4")))
    assert track.onsets_s, track
    assert min(abs(o - contact) for o in track.onsets_s) <= 1 / FPS + 1e-6, (track.onsets_s, contact)
    sound = sound_for_track(track, ROOM)
    assert sound is not None and sound.label.startswith("impact") and sound.confidence >= 0.55, sound


def test_a_box_falling_into_view_lands_and_lies_there(tmp_path: Path) -> None:
    """Seen only from the moment it falls, lying still for less than half the shot (so not background): it falls
    speeding up, at least its own size, and comes to rest."""
    centres, contact = _drop(rest_s=1.5, fall_px=200.0, after_s=1.2, unseen=True)
    _render(tmp_path / "fall.mp4", centres)
    track = _one(track_objects(tmp_path / "fall.mp4", probe_video(tmp_path / "fall.mp4")))
    fps = (track.frames[-1] - track.frames[0]) / (track.t_s[-1] - track.t_s[0])
    assert min(abs(o - contact) for o in track.onsets_s) <= 1 / FPS + 1e-6, (track.onsets_s, contact)
    assert displacements(track, fps) == 1
    sound = sound_for_track(track, ROOM)
    assert sound is not None and sound.label.startswith("impact") and sound.confidence >= 0.55, sound


def test_a_flicked_box_is_struck_each_time_it_comes_to_rest(tmp_path: Path) -> None:
    centres, halts = _shoves([1.0, 0.8, 0.8, 1.0], [(120.0, 20.0), (-40.0, 110.0), (150.0, -60.0)])
    _render(tmp_path / "flick.mp4", centres)
    track = _one(track_objects(tmp_path / "flick.mp4", probe_video(tmp_path / "flick.mp4")))
    fps = (track.frames[-1] - track.frames[0]) / (track.t_s[-1] - track.t_s[0])
    assert displacements(track, fps) == len(halts)
    # one onset per move, as it slows to its halt (friction brings it to rest gradually); none while it lies still
    starts = [h + 1 / FPS - 0.5 for h in halts]
    assert [sum(s < o <= h + 1 / FPS for o in track.onsets_s) for s, h in zip(starts, halts, strict=True)] == [1, 1, 1]
    assert len(track.onsets_s) == len(halts), (track.onsets_s, halts)
    sound = sound_for_track(track, ROOM)
    assert sound is not None and sound.label.startswith("impact") and sound.confidence >= 0.55, sound


def test_a_swaying_box_never_lands(tmp_path: Path) -> None:
    centres = [(320.0 + 100.0 * math.sin(2 * math.pi * i / FPS / 1.6), 150.0 + 25.0 * math.cos(4 * math.pi * i / FPS / 1.6))
               for i in range(int(4 * FPS))]
    _render(tmp_path / "sway.mp4", centres)
    track = _one(track_objects(tmp_path / "sway.mp4", probe_video(tmp_path / "sway.mp4")))
    fps = (track.frames[-1] - track.frames[0]) / (track.t_s[-1] - track.t_s[0])
    assert displacements(track, fps) == 0
    sound = sound_for_track(track, ROOM)
    assert sound is None or sound.confidence < 0.55, sound


@pytest.mark.parametrize("grow", [1.0, 2.5])
def test_a_displacement_keeps_the_things_shape(grow: float) -> None:
    """Plain boxes: rest, move 4 sizes, rest. Growing ×2.5 on the way (a hand opening, blobs merging) is no
    displacement of one rigid thing."""
    frames = list(range(60))
    xs = [100.0] * 20 + [100.0 + 120.0 * k / 8 for k in range(1, 9)] + [220.0] * 32
    sizes = [30.0] * 20 + [30.0 * (1 + (grow - 1) * math.sin(math.pi * k / 8)) for k in range(1, 9)] + [30.0] * 32
    boxes = [(x - s / 2, 200.0 - s / 2, s, s) for x, s in zip(xs, sizes, strict=True)]
    track = Track(id=0, frames=frames, t_s=[f / FPS for f in frames], boxes=boxes, onsets_s=[27 / FPS],
                  frame_width=W, frame_height=H)
    assert displacements(track, FPS) == (1 if grow == 1.0 else 0)


@pytest.mark.parametrize("fall", [False, True])
def test_one_move_down_the_picture_counts_alone_only_as_a_fall(fall: bool) -> None:
    """Rest, move 3 sizes down the picture, rest: a far walker keeps their pace (one displacement, no fall); a
    thing dropped speeds up (a fall, which alone lifts an impact)."""
    frames = list(range(60))
    ys = [100.0] * 20 + [100.0 + 90.0 * ((k / 8) ** 2 if fall else k / 8) for k in range(1, 9)] + [190.0] * 32
    boxes = [(200.0 - 15.0, y - 15.0, 30.0, 30.0) for y in ys]
    track = Track(id=0, frames=frames, t_s=[f / FPS for f in frames], boxes=boxes, onsets_s=[27 / FPS],
                  frame_width=W, frame_height=H)
    assert displacements(track, FPS) == 1
    assert displacements(track, FPS, falls_only=True) == int(fall)


@pytest.mark.parametrize("grows", [False, True])
def test_a_landing_keeps_its_size_on_the_way_in(grows: bool) -> None:
    """A thing that comes down into the still spot it then lies on landed there; one that doubles its size on the
    way (a far walker coming down the picture towards the lens) arrived, it did not land."""
    from foleydesigner.tools.tracklets import ghost_landings

    frames = list(range(30))
    ys = [60.0] * 20 + [60.0 + 12.0 * k for k in range(1, 11)]  # rests, then comes down 120 px
    sides = [20.0] * 20 + [20.0 * (1 + (k / 10 if grows else 0.0)) for k in range(1, 11)]
    boxes = [(300.0 - s / 2, y - s / 2, s, s) for y, s in zip(ys, sides, strict=True)]
    track = Track(id=0, label="object", motion="moving", frames=frames, t_s=[f / FPS for f in frames], boxes=boxes,
                  frame_width=W, frame_height=H)
    end = boxes[-1]
    ghost = (np.arange(0, 30), np.array([(end[0] + 2, end[1] + 2, 20.0, 20.0)] * 30))  # where it lies, gone on arrival
    landed = ghost_landings([track], [ghost], FPS, last_frame=80)[0]
    assert landed.evidence.get("landings") == (None if grows else 1.0)
    assert bool(landed.onsets_s) is (not grows)
