"""Inside a moving vehicle (tools/window_motion.py): scenery streaming one way past a window behind a still person
is a car's cabin; a still window, a window swaying back and forth, or the whole frame panning is not."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from foleydesigner.agents.script_writer import ambience_for
from foleydesigner.tools.picture import _scene, _Stats
from foleydesigner.tools.window_motion import (
    DRIFT_PCT_S,
    MIN_SAMPLES,
    WindowDrift,
    WindowMeter,
    window_mask,
)
from tests.helpers import texture

W, H, FPS = 192, 108, 25.0
RNG = np.random.default_rng(3)
WIN_X, WIN_H = 130, 60  # the window: the top right, 62 x 60 px (18 % of the frame)


def _texture(h: int, w: int, lo: int, hi: int, blur: float) -> np.ndarray:
    return texture(RNG, h, w, lo, hi, blur)


CABIN = _texture(H, W + 80, 30, 100, 3)  # roof and seats in the shade
LANDSCAPE = _texture(WIN_H, W + 400, 150, 245, 2)  # the day outside: bright, detailed


def _cabin_frame(scroll: int, pan: int = 0) -> np.ndarray:
    """The cabin, its window (the top right) showing the landscape scrolled `scroll` px, and a still face-like blob
    (a lit oval with dark eyes and mouth) in front of it all; the camera panned `pan` px over the whole of it."""
    img = CABIN.copy()
    img[:WIN_H, WIN_X:] = LANDSCAPE[:, scroll:scroll + img.shape[1] - WIN_X]
    face = np.zeros(img.shape, np.uint8)
    cv2.ellipse(face, (80, 55), (25, 32), 0, 0, 360, 255, -1)
    img[face > 0] = 115
    for dx in (-9, 9):
        cv2.circle(img, (80 + dx, 47), 3, 40, -1)
    cv2.line(img, (72, 70), (88, 70), 50, 2)
    return img[:, pan:pan + W]


def _reading(frame_at: Callable[[int], np.ndarray], seconds: float = 4.0) -> WindowDrift:
    meter = WindowMeter(FPS)
    for i in range(int(seconds * FPS)):
        meter.add(i, frame_at(i))
    return meter.reading()


def test_the_window_is_the_bright_region_at_the_top_right_not_the_face() -> None:
    mask = window_mask(_cabin_frame(0))
    assert mask[5:WIN_H - 5, WIN_X + 5:].mean() > 0.9
    assert mask[30:80, 60:100].sum() == 0  # the face is no window
    assert mask[WIN_H + 5:, :].sum() == 0


def test_scenery_streaming_past_a_still_person_is_a_moving_vehicle() -> None:
    r = _reading(lambda i: _cabin_frame(scroll=i))  # 1 px a frame leftwards: 13 % of the width a second
    assert r.samples >= MIN_SAMPLES
    assert r.streaming, r
    assert r.steady >= 0.9 and r.against == 0.0
    assert -16.0 < r.drift_pct_s < -10.0  # 25 px/s over 192 px: -13 %/s, measured from the flow


def test_a_still_window_is_no_vehicle() -> None:
    r = _reading(lambda i: _cabin_frame(scroll=0))
    assert not r.streaming
    assert r.steady == 0.0 and r.drift_pct_s == 0.0


def test_a_window_swaying_back_and_forth_is_no_vehicle() -> None:
    r = _reading(lambda i: _cabin_frame(scroll=int(round(40 + 12 * np.sin(2 * np.pi * i / FPS)))))
    assert not r.streaming, r
    assert r.against > 0.15  # it drifts both ways


def test_the_whole_frame_panning_is_the_camera_not_a_vehicle() -> None:
    r = _reading(lambda i: _cabin_frame(scroll=0, pan=i), seconds=3.0)  # cabin, window and face move together
    assert not r.streaming, r
    assert abs(r.drift_pct_s) < DRIFT_PCT_S


STREAMING = WindowDrift(samples=16, steady=0.75, against=0.0, drift_pct_s=-1.2)


def _faces_before_a_window(face: float) -> _Stats:
    n = 8
    return _Stats(sky=[0.4] * n, night_sky=[0.0] * n, blue_sky=[0.0] * n, green=[0.0] * n, luma=[110.0] * n,
                  face=[face] * n, surf=[0.0] * n, t=[0.5 * i for i in range(n)], luma_t=[0.5 * i for i in range(n)])


def test_close_up_faces_before_a_streaming_window_are_inside_a_vehicle() -> None:
    scene = _scene(_faces_before_a_window(0.1), [], STREAMING)
    assert (scene.location, scene.description, scene.room_size) == ("vehicle", "car interior", "small")
    assert scene.evidence["window_steady"] == 0.75 and "vehicle" in scene.evidence["reason"]
    assert ambience_for(scene)[0] == "car_interior"


def test_a_streaming_window_without_faces_or_faces_before_a_still_window_is_no_vehicle() -> None:
    # A panning background behind a still subject streams as steadily (horses_beach): no person, no cabin.
    assert _scene(_faces_before_a_window(0.0), [], STREAMING).location == "outdoor"
    still = WindowDrift(samples=16, steady=0.0, against=0.0, drift_pct_s=0.0)
    assert _scene(_faces_before_a_window(0.1), [], still).location == "unknown"  # a car window, or a street
    assert _scene(_faces_before_a_window(0.1), []).location == "unknown"
