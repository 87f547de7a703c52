"""A camera's re-exposure inside a still shot (tools/foreground.py, tools/shots.py): no cut, no object, the walker
followed through it. Modelled on the real park clip (benchmarks/annotations/real_clips.json, park_flip_walker):
something passes before a low sun, the gain steps by 8-13 % for a third of a second, and the veiling glare over the
top of the picture vanishes and returns, smaller, then the exposure ramps back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from foleydesigner.bench import TruthManifest, make_clip, score_object
from foleydesigner.bench.drawing import write_mp4
from foleydesigner.schemas import Track
from foleydesigner.tools.foreground import Foreground, blobs, prime_background
from foleydesigner.tools.shots import ShotDetector
from foleydesigner.tools.tracking import track_objects
from foleydesigner.tools.video import iter_frames, probe_video

W, H, FPS = 640, 360, 25.0
#: Frame → gain while the sun is hidden (40-43, 46-47: glare gone) or half seen (44-45, 48: a smaller glare).
GAINS = {40: 0.87, 41: 0.87, 42: 0.92, 43: 0.92, 44: 1.0, 45: 1.08, 46: 0.95, 47: 0.95, 48: 1.08}
GAINS |= {49 + k: 1.08 - 0.008 * (k + 1) for k in range(10)}  # the exposure ramps back over 0.4 s
HIDDEN = {40, 41, 42, 43, 46, 47}
GLARE = {44: (330, 60), 45: (370, 90), 48: (360, 80)}  # glare centre x and size while half seen


def _glare(cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return (80 * np.exp(-(((xx - cx) / (2 * r)) ** 2 + ((yy - 10) / r) ** 2)))[..., None].astype(np.float32)


@pytest.fixture(scope="module")
def glare_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TruthManifest, list[Track]]:
    folder = tmp_path_factory.mktemp("glare")
    truth = make_clip("walker", folder / "walker.mp4", width=W, height=H, fps=FPS, duration_s=4.0, seed=1)

    def frames():
        for fr in iter_frames(folder / "walker.mp4"):
            img = fr.image.astype(np.float32)
            if fr.index not in HIDDEN:
                img += _glare(*GLARE.get(fr.index, (400, 120)))
            yield np.clip(img * GAINS.get(fr.index, 1.0), 0, 255).astype(np.uint8)

    path = folder / "glare.mp4"
    write_mp4(frames(), path, FPS)
    return path, truth, track_objects(path, probe_video(path))


def test_a_re_exposure_is_no_cut(glare_clip) -> None:
    path, _, _ = glare_clip
    detector = ShotDetector(FPS)
    for fr in iter_frames(path):
        detector.add(fr.t_s, fr.image)
    assert [(s.start_frame, s.transition) for s in detector.shots()] == [(0, "start")]


def test_the_walker_is_one_track_through_the_re_exposure_and_the_glare_none(glare_clip) -> None:
    _, truth, tracks = glare_clip
    assert len(tracks) == 1  # the glare's coming and going is no object
    score = score_object(truth.objects[0], tracks, truth)
    assert (score.n_ids, score.label, score.motion) == (1, "person", "walking")
    assert score.onset_f1 >= 0.9 and score.azimuth_mae_deg <= 3.0
    # Every box the track has is the walker's: none is pulled onto the glare or the re-exposed frame.
    boxes = np.array(tracks[0].boxes)
    want = np.array([truth.objects[0].boxes[f] for f in tracks[0].frames])
    ix = np.clip(np.minimum(boxes[:, 0] + boxes[:, 2], want[:, 0] + want[:, 2]) - np.maximum(boxes[:, 0], want[:, 0]), 0, None)
    iy = np.clip(np.minimum(boxes[:, 1] + boxes[:, 3], want[:, 1] + want[:, 3]) - np.maximum(boxes[:, 1], want[:, 1]), 0, None)
    iou = ix * iy / (boxes[:, 2] * boxes[:, 3] + want[:, 2] * want[:, 3] - ix * iy)
    assert iou.min() >= 0.5, iou.round(2)


def _scene(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    base = rng.uniform(40, 200, (108, 192, 3))
    return [np.clip(base + rng.normal(0, 2.0, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def test_a_gain_step_is_divided_out_and_a_glare_vanishing_with_it_set_aside() -> None:
    frames = [f.astype(np.float32) for f in _scene(np.random.default_rng(0), 50)]
    glare = np.zeros_like(frames[0])
    glare[:40, 60:160] = 50.0  # a veil over the top of the picture
    for i, f in enumerate(frames):
        if not 30 <= i <= 32:  # the sun hidden for three frames: the veil goes with the gain
            f += glare
        if 20 <= i <= 22 or 30 <= i <= 32:
            f *= 0.88
    fg = Foreground([np.clip(f, 0, 255).astype(np.uint8) for f in frames[:16]], FPS, 20.0)
    seen = [fg.apply(np.clip(f, 0, 255).astype(np.uint8), 10.0) for f in frames]
    assert [i for i, (_, _, exposed) in enumerate(seen) if exposed] == [30, 31, 32]
    assert all(not dets for dets, _, _ in seen)  # neither the gain nor the veil is an object


def test_a_steady_exposure_is_subtracted_as_before() -> None:
    steady = _scene(np.random.default_rng(1), 30)
    steady[20][40:60, 80:100] = 255  # a bright object flashes up: an object, not a re-exposure
    fg, (mog, _) = Foreground(steady[:16], FPS, 20.0), prime_background(steady[:16])
    found = []
    for f in steady:
        dets, mask, exposed = fg.apply(f, 10.0)
        plain, plain_mask = blobs(mog.apply(f, learningRate=1.0 / (20.0 * FPS)), 10.0)
        assert not exposed and np.array_equal(mask, plain_mask)
        assert [d.tolist() for d in dets] == [d.tolist() for d in plain]
        found.append(len(dets))
    assert found[20] == 1 and sum(found) == 1
