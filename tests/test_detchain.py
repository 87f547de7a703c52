"""A partly seen walker from the pose detector's chained hits: a steady crossing is a walker with footsteps, a
body that sways in place or hits scattered over the frame are not, and a track that already walks keeps it."""

from __future__ import annotations

import numpy as np

from foleydesigner.agents.evidence import sound_for_track
from foleydesigner.schemas import SceneContext, Shot, Track, VideoInfo
from foleydesigner.tools.detchain import DetectionChains, chain_tracks

INFO = VideoInfo(path="x.mp4", width=640, height=272, fps=25.0, n_frames=250, duration_s=10.0, codec="h264",
                 container="mp4")
SHOT = Shot(index=4, start_frame=187, end_frame=241, start_s=7.48, end_s=9.68)


def _chains(hips: list[tuple[float, float]], radius: float = 125.0, score: float = 0.62, every: int = 3,
            first: int = 189) -> DetectionChains:
    chains = DetectionChains()
    for k, (x, y) in enumerate(hips):
        f = first + k * every
        chains.add(f, f / INFO.fps, np.array([x, y]), np.array([x, y - radius]), score)
    return chains


def test_legs_crossing_under_a_cut_body_are_a_walker_with_footsteps() -> None:
    # hips of a body whose circle runs above the frame (legs only in shot), crossing left to right
    tracks = chain_tracks(_chains([(181, 78), (227, 106), (290, 87), (362, 106)]), [], INFO, SHOT, start_id=7)
    assert len(tracks) == 1
    t = tracks[0]
    assert t.id == 7 and t.label == "person" and t.motion == "walking"
    # carried on a moment either side of the hits, never past the shot's start
    assert t.start_s == SHOT.start_s and 8.04 < t.end_s <= 8.04 + 0.5 + 1e-6
    assert 1.0 / 1.8 - 0.01 < float(np.diff(t.onsets_s).mean()) < 1.0 / 1.8 + 0.01  # an ordinary walking pace
    sound = sound_for_track(t, SceneContext(location="outdoor"))
    assert sound is not None and sound.label == "footsteps" and sound.confidence >= 0.55


def test_a_body_swaying_in_place_is_no_walker() -> None:
    tracks = chain_tracks(_chains([(300, 100), (310, 104), (302, 98), (309, 103), (301, 100)]), [], INFO, SHOT, start_id=0)
    assert tracks == []


def test_scattered_or_weak_hits_make_no_walker() -> None:
    scattered = _chains([(60, 100), (560, 120), (200, 90), (450, 110), (100, 100)])
    assert chain_tracks(scattered, [], INFO, SHOT, start_id=0) == []
    weak = _chains([(181, 78), (227, 106), (290, 87), (362, 106)], score=0.51)
    assert chain_tracks(weak, [], INFO, SHOT, start_id=0) == []
    short = _chains([(181, 78), (227, 106), (290, 87)])
    assert chain_tracks(short, [], INFO, SHOT, start_id=0) == []


def test_a_much_larger_body_does_not_join_the_chain() -> None:
    chains = _chains([(181, 78), (227, 106), (290, 87), (362, 106)])
    chains.add(201, 201 / INFO.fps, np.array([400.0, 60.0]), np.array([400.0, 60.0 - 400.0]), 0.9)
    assert sorted(len(c.frames) for c in chains.chains) == [1, 4]
    chains.add(201, 201 / INFO.fps, np.array([410.0, 100.0]), np.array([410.0, 100.0 - 120.0]), 0.6)
    assert sorted(len(c.frames) for c in chains.chains) == [1, 5]  # the walker, a step on
    chains.add(201, 201 / INFO.fps, np.array([415.0, 104.0]), np.array([415.0, 104.0 - 122.0]), 0.6)
    assert sorted(len(c.frames) for c in chains.chains) == [1, 5]  # seen twice in one frame: one hit


def test_a_track_that_already_walks_keeps_the_walker() -> None:
    frames = list(range(189, 203, 3))
    boxes = [(150.0 + 40 * k, 0.0, 80.0, 260.0) for k in range(len(frames))]
    walker = Track(id=3, label="person", motion="walking", frames=frames, t_s=[f / 25 for f in frames], boxes=boxes,
                   onsets_s=[7.7, 8.0], frame_width=640, frame_height=272)
    chains = _chains([(181, 78), (227, 106), (290, 87), (362, 106)])
    assert chain_tracks(chains, [walker], INFO, SHOT, start_id=0) == []
    still = walker.model_copy(update={"motion": "static", "onsets_s": []})  # followed, but without a gait
    assert len(chain_tracks(chains, [still], INFO, SHOT, start_id=0)) == 1
