"""Spotting rules the real-clip benchmark's overhead street, beach and coin clips called for: a still camera over
two-way traffic, surf making a beach, a shape reaching in from the frame edge, a "person" box too wide to walk."""

from __future__ import annotations

import cv2
import numpy as np

from foleydesigner.agents.evidence import sound_for_track
from foleydesigner.agents.filmscribe import heuristic_scribe
from foleydesigner.agents.script_writer import heuristic_write, scene_at
from foleydesigner.schemas import SceneContext, Shot
from foleydesigner.tools.picture import _scene, _Stats, _surf, shot_places
from tests.helpers import camera_of, linear_track, video_info

OUTDOOR_DAY = {"description": "street", "location": "outdoor", "room_size": "open", "time_of_day": "day"}


def _dusk_street(n: int = 60, width: int = 192, height: int = 108) -> list[np.ndarray]:
    """A street from above at dusk: smooth asphalt whose only texture is the painted lane marks, and busy traffic
    both ways (two lanes each, +3 and -5 px a frame) whose high-contrast cars hold most of the textured cells."""
    rng = np.random.default_rng(11)
    road = np.full((height, width, 3), 70, np.uint8)
    for y in (20, 46, 72, 98):
        for x in range(4, width, 24):
            road[y:y + 2, x:x + 10] = 220  # dashed lane marks, still
    cw, ch = 28, 18
    frames = []
    for i in range(n):
        img = road.copy()
        for lane, (y, v) in enumerate(((6, 3), (31, 3), (57, -5), (83, -5))):
            for k in range(4):
                x = int((k * (width + cw) / 4 + 37 * lane + v * i) % (width + cw)) - cw
                car = np.full((ch, cw, 3), 30 + 50 * k, np.uint8)
                car[2:-2, 4:-4] = (200, 200 - 50 * k, 60 + 40 * lane)  # windows and roof: corners all round
                a, b = max(x, 0), min(x + cw, width)
                if b > a:
                    img[y:y + ch, a:b] = car[:, a - x:b - x]
        frames.append(np.clip(img + rng.normal(0, 1.0, img.shape), 0, 255).astype(np.uint8))
    return frames


def test_a_still_camera_over_two_way_traffic_that_outnumbers_the_road_is_static() -> None:
    frames = _dusk_street()
    kind, facts = camera_of(frames)
    assert kind == "static", facts
    assert facts["still_frames"] >= 0.5
    # the same street panned across (every mark moves one way) is still a pan
    wide = np.concatenate([frames[0]] * 3, axis=1)
    panned = [np.ascontiguousarray(wide[:, 2 * i:2 * i + 192]) for i in range(60)]
    kind, facts = camera_of(panned)
    assert kind == "pan", facts


def _hsv_grey(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def test_breaking_waves_make_a_beach_and_clouds_do_not() -> None:
    """Sea below a strip of sky, white foam in horizontal lines: surf. A blue sky with round white clouds over
    the same frame, and a white wall, are not."""
    rng = np.random.default_rng(5)
    sea = np.zeros((108, 192, 3), np.uint8)
    sea[:] = (170, 140, 60)  # BGR: a sea blue (hue ~98)
    sea[:20] = (230, 200, 170)  # a pale sky strip at the top
    for y in range(34, 100, 11):
        sea[y:y + 2, :] = 245  # breaking waves: thin white lines across the frame
    sea = np.clip(sea + rng.normal(0, 3, sea.shape), 0, 255).astype(np.uint8)
    assert _surf(*_hsv_grey(sea)) == 1.0
    clouds = np.zeros_like(sea)
    clouds[:] = (200, 150, 80)
    for x, y in ((40, 50), (110, 70), (160, 40)):
        cv2.circle(clouds, (x, y), 9, (250, 250, 250), -1)
    assert _surf(*_hsv_grey(clouds)) == 0.0
    assert _surf(*_hsv_grey(np.full_like(sea, 235))) == 0.0
    # a clip whose samples show surf is a beach (its beds: waves, wind), ahead of the sky's "street"
    beach = _scene(_Stats(sky=[0.5] * 10, blue_sky=[0.5] * 10, green=[0.0] * 10, luma=[140.0] * 10, face=[0.0] * 10,
                          surf=[1.0] * 10), [])
    assert (beach.location, beach.description) == ("outdoor", "beach")
    street = _scene(_Stats(sky=[0.5] * 10, blue_sky=[0.5] * 10, green=[0.0] * 10, luma=[140.0] * 10, face=[0.0] * 10,
                           surf=[0.0] * 10), [])
    assert street.description == "street"


def test_a_shape_held_at_the_frame_edge_that_barely_crosses_is_no_car():
    """A pen reaching in from the edge to push a coin is wide and moves like a small far car, but it stays at the
    edge and crosses a sixth of the frame; a car in the edge lane also touches the edge throughout, and crosses."""
    unknown = SceneContext()
    pen = linear_track(1, t0=1.5, t1=2.8, x0=560, x1=455, h=30, label="vehicle", motion="moving")
    pen = pen.model_copy(update={"evidence": {"area_frac": 0.015, "aspect_w_h": 1.6, "travel_widths": 0.17, "at_edge": 0.85}})
    car = pen.model_copy(update={"evidence": {"area_frac": 0.019, "aspect_w_h": 3.2, "travel_widths": 1.1, "at_edge": 1.0}})
    held = sound_for_track(pen, unknown)
    assert held.label == "engine_passby" and held.confidence < 0.3
    assert any("frame edge" in w for w in held.evidence)
    assert sound_for_track(car, unknown).confidence >= 0.9
    whole = pen.model_copy(update={"evidence": {**pen.evidence, "at_edge": 0.0}})
    assert sound_for_track(whole, unknown).confidence > 0.5  # the same shape, whole in frame: a small far car


def test_a_person_box_four_times_as_wide_as_tall_does_not_walk():
    """A body detector's "person" on a car seen from above: found every time, crossing with a gait-like bob, but
    its box is 4× as wide as tall; the same track with an upright box keeps its steps."""
    street = SceneContext.model_validate(OUTDOOR_DAY)
    walker = linear_track(2, t0=0.0, t1=3.0, x0=100, x1=400, h=120, label="person", motion="walking", onsets=[0.4, 0.9, 1.4, 1.9, 2.4])
    walker = walker.model_copy(update={"evidence": {"person_hits": 5.0, "person_tries": 5.0, "bottom_seen": 1.0,
                                                     "gait_strength": 0.45, "travel_heights": 2.5, "aspect_w_h": 0.4}})
    upright = sound_for_track(walker, street)
    assert upright.label == "footsteps" and upright.confidence >= 0.55
    car = walker.model_copy(update={"evidence": {**walker.evidence, "aspect_w_h": 4.2}})
    flat = sound_for_track(car, street)
    assert flat.confidence < 0.1 and any("as wide as tall" in w for w in flat.evidence)


def _samples(n: int, *, sky: float = 0.0, face: float = 0.0, luma: float = 140.0, t0: float = 0.0) -> _Stats:
    t = [round(t0 + 0.5 * i, 3) for i in range(n)]
    return _Stats(sky=[sky] * n, night_sky=[0.0] * n, blue_sky=[0.0] * n, green=[0.0] * n, luma=[luma] * n,
                  face=[face] * n, surf=[0.0] * n, t=t, luma_t=t)


def _joined(*parts: _Stats) -> _Stats:
    out = _Stats()
    for p in parts:
        for name in ("sky", "night_sky", "blue_sky", "green", "luma", "face", "surf", "t", "luma_t"):
            getattr(out, name).extend(getattr(p, name))
    return out


def test_a_pale_door_behind_a_webcam_face_is_no_street_sky() -> None:
    """A title card (8 samples, no sky, no face) cut to a webcam close-up whose pale door reads as sky (5 samples):
    only 38 % of the samples are close-ups, but every sky sample is behind a face: the place stays unknown. The same
    sky in samples without a face is an exterior."""
    title, webcam = _samples(8), _samples(5, sky=0.3, face=0.16, t0=4.0)
    assert _scene(_joined(title, webcam), []).location == "unknown"
    street = _scene(_joined(_samples(8, sky=0.3), _samples(5, face=0.16, t0=4.0)), [])
    assert (street.location, street.description) == ("outdoor", "street")


def _shots(*spans: tuple[float, float]) -> list[Shot]:
    return [Shot(index=i, start_frame=int(a * 10), end_frame=int(b * 10) - 1, start_s=a, end_s=b,
                 transition="start" if i == 0 else "cut") for i, (a, b) in enumerate(spans)]


def test_shots_in_different_places_each_get_their_own_beds() -> None:
    """An exterior (sky over a detailed world, 0-4 s) cut to a dim interior (4-8 s): two places, and the writer lays
    each its own beds over its own shots; a run too short to say (1 s) leaves the clip's one place."""
    st = _joined(_samples(8, sky=0.4), _samples(8, luma=30.0, t0=4.0))
    places = shot_places(st, _shots((0.0, 4.0), (4.0, 8.0)))
    assert [(p["location"], p["start_s"], p["end_s"]) for p in places] == [("outdoor", 0.0, 4.0), ("indoor", 4.0, 8.0)]
    assert shot_places(_joined(_samples(14, sky=0.4), _samples(2, luma=30.0, t0=7.0)), _shots((0.0, 7.0), (7.0, 8.0))) == []
    assert shot_places(_samples(16, sky=0.4), _shots((0.0, 4.0), (4.0, 8.0))) == []  # one place, two shots
    scene = _scene(st, []).model_copy(update={"evidence": {"places": places}})
    v = video_info(duration_s=8.0)
    script = heuristic_write(v, heuristic_scribe(v, [], None, None, scene), [], None)
    beds = {(e.label, e.start_s, e.end_s) for e in script.events if e.layer == "bg"}
    inside = {lab for lab, a, b in beds if (a, b) == (4.0, 8.0)}
    outside = {lab for lab, a, b in beds if (a, b) == (0.0, 4.0)}
    assert "room_tone" in inside and "traffic" not in inside and outside and "room_tone" not in outside, beds
    assert all((a, b) in ((0.0, 4.0), (4.0, 8.0)) for _lab, a, b in beds)
    assert scene_at(scene, 5.0).location == "indoor" and scene_at(scene, 1.0).location == "outdoor"
def test_a_jump_before_the_sun_that_re_exposes_the_whole_picture_is_not_a_cut_nor_a_dissolve() -> None:
    """A locked-off shot: a jumper passes before the sun and the camera's exposure jumps (every cell's colour
    changes, as at a cut), or ramps over half a second (a blend, as in a dissolve), but the picture is the same
    one. A real cut to another place is still found at its frame, and a one-second cross-fade at its middle."""
    from foleydesigner.tools.shots import CUT_MIN, CUT_SPREAD, DISSOLVE_BLEND, DISSOLVE_MIN, ShotDetector

    rng = np.random.default_rng(5)

    def place() -> np.ndarray:  # a textured world whose colours share their light, as a real scene's do
        light = cv2.resize(rng.uniform(0, 255, (9, 16)).astype(np.float32), (320, 180), interpolation=cv2.INTER_CUBIC)
        light += rng.normal(0, 10, light.shape).astype(np.float32)  # sky, walls, shade, with fine texture on them
        return np.clip(light[..., None] * rng.uniform(0.6, 1.0, 3) + rng.uniform(0, 40, 3), 0, 255).astype(np.uint8)

    park, other = place(), place()
    darker = cv2.convertScaleAbs(park, alpha=0.55, beta=-10)  # exposure down and contrast with it
    darker[:, :, 2] = cv2.convertScaleAbs(darker[:, :, 2], alpha=1.3)  # warmer: the flare gone
    darker[30:110, 160:175] = 30  # the jumper's body, dark against the sky
    frames = [park] * 20 + [darker] * 20 + [other] * 20

    def shots(frames: list[np.ndarray]) -> tuple[list[tuple[int, str]], ShotDetector]:
        det = ShotDetector(30.0)
        for i, f in enumerate(frames):
            det.add(i / 30.0, f)
        return [(s.start_frame, s.transition) for s in det.shots()], det

    found, det = shots(frames)
    assert det.m.change[20] >= CUT_MIN and det.m.spread[20] >= CUT_SPREAD  # as large and as wide as a cut
    assert found == [(0, "start"), (40, "cut")]
    assert shots([park] * 20 + [other] * 20)[0] == [(0, "start"), (20, "cut")]
    ramp = [cv2.addWeighted(park, 1 - k / 15, darker, k / 15, 0) for k in range(1, 15)]
    found, det = shots([park] * 20 + ramp + [darker] * 20)
    k = det.k  # the dissolve window: the ramp's ends a window apart are as changed as a dissolve's, and as blended
    assert max(det.m.span_change) >= DISSOLVE_MIN and min(det.m.blend_error[20 + k // 2:34]) <= DISSOLVE_BLEND
    assert found == [(0, "start")]
    # Fast action: the picture slides 6 px a frame, so every frame changes much; a cut inside it shares nothing
    # with the frame before and is found, though it stands out only ~2.5x over its busy neighbours.
    wide, far = np.hstack([park, other, park]), np.hstack([other, park, other])
    slide = [wide[:, 6 * i: 6 * i + 320] for i in range(30)] + [far[:, 6 * i + 37: 6 * i + 357] for i in range(30)]
    found, det = shots(slide)
    assert found == [(0, "start"), (30, "cut")], found
    assert shots(slide[:30] + [wide[:, 180 + 6 * i: 500 + 6 * i] for i in range(30)])[0] == [(0, "start")]
    fade = [cv2.addWeighted(park, 1 - k / 31, other, k / 31, 0) for k in range(1, 31)]  # 1 s at 30 fps: 2 windows
    found = shots([park] * 20 + fade + [other] * 20)[0]
    assert [kind for _, kind in found] == ["start", "dissolve"] and 20 + 5 <= found[1][0] <= 50 - 5  # inside it
