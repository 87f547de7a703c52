"""Spotting that matches the picture: shots, camera motion, scene context, evidence gating, scoring that can fail."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from foleydesigner.agents.evidence import sound_for_track
from foleydesigner.agents.script_writer import bed_event, gate, track_event
from foleydesigner.agents.tot_rules import Evidence, computed_scores, facts
from foleydesigner.bench.spotting import score_clip
from foleydesigner.schemas import FoleyScript, SceneContext, Shot, SoundEvent
from foleydesigner.tools.camera import classify_camera
from foleydesigner.tools.picture import (
    _green_fraction,
    _night_sky_fraction,
    _scene,
    _sky_fraction,
    _sky_fractions,
    _Stats,
)
from foleydesigner.tools.shots import ShotDetector, split_at_cuts, thumbnails
from tests.helpers import ball_track, camera_of, context, linear_track, video_info

DEMO = Path(__file__).resolve().parents[1] / "foleydesigner" / "data" / "demo_vtest.mp4"
RNG = np.random.default_rng(7)
SCENE_A = cv2.GaussianBlur(RNG.integers(0, 255, (240, 640, 3), dtype=np.uint8), (5, 5), 0)
# Another place: large bright and dark areas (sky, walls, shade) with fine texture on them.
SCENE_B = np.clip(cv2.resize(RNG.integers(0, 255, (6, 16, 3), dtype=np.uint8), (640, 240), interpolation=cv2.INTER_CUBIC)
                  + RNG.normal(0, 12, (240, 640, 3)), 0, 255).astype(np.uint8)


def _view(scene: np.ndarray, x: float, zoom: float = 1.0) -> np.ndarray:
    """A 320x180 camera view of a wide scene, its left edge at x px, magnified by zoom about its centre."""
    m = np.float32([[1 / zoom, 0, x + 160 * (1 - 1 / zoom)], [0, 1 / zoom, 30 + 90 * (1 - 1 / zoom)]])
    return cv2.warpAffine(scene, m, (320, 180), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def _detect(frames: list[np.ndarray], fps: float = 25.0) -> list[Shot]:
    det = ShotDetector(fps)
    for i, f in enumerate(frames):
        det.add(i / fps, f)
    return det.shots()


def test_hard_cut_fade_and_dissolve_are_found_at_their_frames() -> None:
    a = [_view(SCENE_A, 100 + i * 0.5) for i in range(30)]  # a slow pan: every frame changes a little
    b = [_view(SCENE_B, 50) for _ in range(30)]
    cut = _detect(a + b)
    assert [(s.start_frame, s.transition) for s in cut] == [(0, "start"), (30, "cut")]
    black = [np.zeros_like(a[0])] * 6
    fade = _detect(a + black + b)
    assert [(s.start_frame, s.transition) for s in fade] == [(0, "start"), (36, "fade")]
    mix = [cv2.addWeighted(a[-1], 1 - k / 12, b[0], k / 12, 0) for k in range(1, 12)]
    diss = _detect(a + mix + b)
    assert [s.transition for s in diss] == ["start", "dissolve"]
    assert abs(diss[1].start_frame - (30 + 6)) <= 3  # the middle of the 11-frame blend
    assert cut[0].end_s == pytest.approx(30 / 25.0) and cut[1].end_s == pytest.approx(60 / 25.0)


def test_a_dip_to_white_is_a_fade_where_the_picture_returns_but_a_pale_soft_picture_is_no_blank() -> None:
    a = [_view(SCENE_A, 100 + i * 0.5) for i in range(30)]
    b = [_view(SCENE_B, 50) for _ in range(30)]
    white = np.full_like(a[0], 235)
    out = [cv2.addWeighted(a[-1], 1 - k / 6, white, k / 6, 0) for k in range(1, 7)]  # dissolve into white ...
    back = [cv2.addWeighted(white, 1 - k / 6, b[0], k / 6, 0) for k in range(1, 6)]  # ... and out of it into b
    dip = _detect(a + out + [white] * 4 + back + b)
    assert [s.transition for s in dip] == ["start", "fade"]
    assert 30 + 6 + 4 <= dip[1].start_frame <= 30 + 6 + 4 + 2  # where b shows through again
    # a washed-out shot (a pale wall, fog): little contrast, but texture all the same; held still, it is one shot
    pale = [cv2.addWeighted(_view(SCENE_A, 150), 0.25, white, 0.75, 0) for _ in range(40)]
    assert 2.0 <= float(thumbnails(pale[0])[1].std()) <= 6.0  # as the detector sees it: little contrast
    assert len(_detect(a + pale)) == 2 and _detect(a + pale)[1].transition == "cut"


def test_pans_shake_and_zooms_are_no_cuts_and_are_classified() -> None:
    pan = [_view(SCENE_A, 40 + 6 * i) for i in range(40)]  # 6 px a frame: a brisk pan
    assert len(_detect(pan)) == 1
    shake = [_view(SCENE_A, 150 + RNG.normal(0, 2.0)) for _ in range(40)]
    zoom = [_view(SCENE_A, 150, 1.0 + 0.006 * i) for i in range(40)]
    still = [_view(SCENE_A, 150) for _ in range(40)]
    kinds = {}
    for name, frames in (("pan", pan), ("shake", shake), ("zoom", zoom), ("still", still)):
        kinds[name] = camera_of(frames)[0]
    assert kinds == {"pan": "pan", "shake": "handheld", "zoom": "zoom", "still": "static"}


def test_no_track_crosses_a_cut() -> None:
    shots = [Shot(index=0, start_frame=0, end_frame=49, start_s=0.0, end_s=2.0),
             Shot(index=1, start_frame=50, end_frame=99, start_s=2.0, end_s=4.0, transition="cut")]
    walker = linear_track(0, t0=0.0, t1=3.9, x0=60, x1=560, onsets=[0.5, 1.0, 1.5, 2.5, 3.0])
    pieces = split_at_cuts([walker], shots)
    assert [(p.shot, p.start_s, p.end_s) for p in pieces] == [(0, 0.0, 1.96), (1, 2.0, 3.92)]
    assert pieces[0].onsets_s == [0.5, 1.0, 1.5] and pieces[1].onsets_s == [2.5, 3.0]
    ev = track_event(pieces[0], SceneContext(location="outdoor"))
    assert ev is not None and ev.end_s <= 2.0


def test_sky_needs_a_detailed_world_under_it() -> None:
    sky = np.zeros((108, 192, 3), np.uint8)
    sky[:40] = (235, 200, 150)  # BGR: a pale blue sky over ...
    sky[40:] = RNG.integers(40, 200, (68, 192, 3), dtype=np.uint8)  # ... a detailed street
    wall = np.full((108, 192, 3), 215, np.uint8)
    wall[70:] = 180  # a plain wall over a table: bright on top, but no detail anywhere
    frac = {}
    for name, img in (("sky", sky), ("wall", wall)):
        frac[name] = _sky_fraction(cv2.cvtColor(img, cv2.COLOR_BGR2HSV), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    assert frac["sky"] > 0.8 and frac["wall"] == 0.0


def test_a_pale_blue_sky_is_open_air_with_no_ground_under_it_but_a_blue_screen_is_not() -> None:
    def frame(top: tuple[int, int, int]) -> np.ndarray:
        img = np.zeros((108, 192, 3), np.uint8)
        img[:70] = top  # BGR, smooth ...
        img[70:] = (200, 205, 210)  # ... over a smooth pale body rising into frame: no detailed ground anywhere
        return img
    looks = {}
    for name, top in (("sky", (235, 200, 170)), ("screen", (230, 120, 20)), ("wall", (200, 200, 200))):
        img = frame(top)
        looks[name] = _sky_fractions(cv2.cvtColor(img, cv2.COLOR_BGR2HSV), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    assert looks["sky"][0] == 0.0 and looks["sky"][1] > 0.8  # no ground detail: the old rule alone says nothing
    assert looks["screen"][1] == 0.0 and looks["wall"][1] == 0.0
    up = _scene(_Stats(sky=[0.0] * 10, blue_sky=[0.5] * 10, green=[0.0] * 10, luma=[180.0] * 10, face=[0.0] * 10), [])
    assert (up.location, up.time_of_day) == ("outdoor", "day")
    interview = _scene(_Stats(sky=[0.0] * 10, blue_sky=[0.5] * 10, green=[0.0] * 10, luma=[180.0] * 10,
                              face=[0.05] * 10), [])
    assert interview.location == "unknown"  # a face against sky: a car window or an exterior


def test_a_sunset_sky_is_open_air_but_a_lamp_lit_wall_or_an_orange_screen_is_not() -> None:
    def frame(top: tuple[int, int, int], below: tuple[int, int, int] | None = None) -> np.ndarray:
        img = np.zeros((108, 192, 3), np.uint8)
        img[:60] = top  # BGR, smooth
        img[60:] = RNG.integers(0, 90, (48, 192, 3), dtype=np.uint8) if below is None else below
        return img
    looks = {}
    for name, img in (("sunset", frame((60, 150, 240))),  # bright saturated orange over a darker, detailed city
                      ("lamp_wall", frame((160, 180, 205))),  # a warm wall under tungsten: orange but pale
                      ("orange_screen", frame((60, 150, 240), (60, 150, 240))),  # the whole frame one orange
                      ("dim_orange", frame((60, 150, 240), (250, 250, 250)))):  # orange under a brighter scene: not its light
        looks[name] = _sky_fractions(cv2.cvtColor(img, cv2.COLOR_BGR2HSV), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))[1]
    assert looks["sunset"] > 0.9
    assert looks["lamp_wall"] == looks["orange_screen"] == looks["dim_orange"] == 0.0


def test_night_sky_over_lit_windows_is_a_night_exterior_and_teal_windows_and_green_screens_are_not_leaves() -> None:
    city = np.zeros((108, 192, 3), np.uint8)
    city[:40] = (70, 25, 20)  # BGR: a dark navy night sky over ...
    city[40:] = RNG.integers(0, 60, (68, 192, 3), dtype=np.uint8)  # ... dark towers ...
    for row in range(44, 108, 4):
        city[row:row + 2, ::3] = (200, 210, 40)  # ... with rows of lit teal windows
    room = np.zeros((108, 192, 3), np.uint8)
    room[:40] = (60, 22, 18)  # a dark blue wall, and below it a dim, textured room with no lights
    room[40:] = RNG.integers(0, 60, (68, 192, 3), dtype=np.uint8)
    lawn = np.zeros((108, 192, 3), np.uint8)
    lawn[:] = (40, 160, 90)  # BGR: a yellow-green lawn, blades of grass a little darker and lighter
    lawn += RNG.integers(0, 40, (108, 192, 1), dtype=np.uint8)
    screen = np.full((108, 192, 3), (40, 200, 60), np.uint8)  # a flat chroma-key green
    screen[30:100, 80:110] = (150, 160, 220)  # with an actor in front of it
    imgs = {"city": city, "room": room, "lawn": lawn, "screen": screen}
    hsv = {n: cv2.cvtColor(i, cv2.COLOR_BGR2HSV) for n, i in imgs.items()}
    grey = {n: cv2.cvtColor(i, cv2.COLOR_BGR2GRAY) for n, i in imgs.items()}
    assert _night_sky_fraction(hsv["city"], grey["city"]) > 0.8
    assert _night_sky_fraction(hsv["room"], grey["room"]) == 0.0
    windows = np.full((8, 8, 3), (200, 210, 40), np.uint8)
    assert _green_fraction(hsv["lawn"], grey["lawn"]) > 0.95
    assert _green_fraction(cv2.cvtColor(windows, cv2.COLOR_BGR2HSV), cv2.cvtColor(windows, cv2.COLOR_BGR2GRAY)) == 0.0
    assert _green_fraction(hsv["screen"], grey["screen"]) == 0.0  # flat: a green screen, not leaves
    night_street = _scene(_Stats(sky=[0.0] * 10, night_sky=[0.4] * 10, green=[0.0] * 10, luma=[95.0] * 10,
                                 face=[0.0] * 10), [])
    assert (night_street.location, night_street.time_of_day, night_street.description) == ("outdoor", "night", "street")


def test_scene_from_picture_statistics() -> None:
    ext = _scene(_Stats(sky=[0.3] * 10, green=[0.02] * 10, luma=[120.0] * 10, face=[0.0] * 10), [])
    assert (ext.location, ext.time_of_day, ext.description) == ("outdoor", "day", "street")
    park_night = _scene(_Stats(sky=[0.0] * 10, green=[0.3] * 10, luma=[30.0] * 10, face=[0.0] * 10), [])
    assert (park_night.location, park_night.time_of_day) == ("outdoor", "night")
    dinner = _scene(_Stats(sky=[0.0] * 10, green=[0.0] * 10, luma=[35.0] * 10, face=[0.05] * 10), [])
    assert dinner.location == "indoor"
    plain = _scene(_Stats(sky=[0.0] * 10, green=[0.0] * 10, luma=[150.0] * 10, face=[0.0] * 10), [])
    assert plain.location == "unknown" and plain.evidence["reason"]


def _walker(tid: int, **kw: object):
    t = linear_track(tid, **kw)  # type: ignore[arg-type]
    return t.model_copy(update={"evidence": {"person_hits": 3.0, "person_tries": 4.0, "gait_strength": 0.7,
                                             "bottom_seen": 1.0, "travel_heights": 3.0, "growth": 1.0}})


def test_footsteps_need_a_walker_who_goes_somewhere() -> None:
    scene = SceneContext(location="outdoor")
    walker = _walker(0, t0=0.0, t1=3.0, x0=60, x1=560, onsets=[0.5, 1.0, 1.5, 2.0, 2.5])
    seated = walker.model_copy(update={"evidence": {**walker.evidence, "travel_heights": 0.1, "gait_strength": 0.05}})
    blob = walker.model_copy(update={"label": "object", "evidence": {**walker.evidence, "person_hits": 0.0}})
    conf = {name: sound_for_track(t, scene).confidence for name, t in  # type: ignore[union-attr]
            (("walker", walker), ("seated", seated), ("blob", blob))}
    assert conf["walker"] >= 0.9 and conf["seated"] < 0.1 and conf["blob"] < 0.5
    ball = ball_track(1, t0=0.0, t1=3.0, x0=100, x1=400, hits=[0.6, 1.3, 2.0, 2.6])
    flat = ball.model_copy(update={"boxes": [(b[0], 200.0, b[2], b[3]) for b in ball.boxes]})  # no flight
    assert sound_for_track(ball, scene).confidence > 0.8  # type: ignore[union-attr]
    assert sound_for_track(flat, scene).confidence == 0.0  # type: ignore[union-attr]


def test_a_person_the_detector_keeps_finding_walks_though_the_box_bobs_weakly() -> None:
    scene = SceneContext(location="outdoor")
    base = _walker(0, t0=0.0, t1=3.0, x0=60, x1=560)
    weak_bob = {**base.evidence, "gait_strength": 0.2, "travel_heights": 1.8, "person_hits": 5.0, "person_tries": 5.0}
    sure = base.model_copy(update={"evidence": weak_bob})
    rarely = base.model_copy(update={"evidence": {**weak_bob, "person_hits": 2.0, "person_tries": 14.0}})
    sways = base.model_copy(update={"evidence": {**weak_bob, "travel_heights": 0.6}})
    conf = {name: sound_for_track(t, scene).confidence for name, t in  # type: ignore[union-attr]
            (("sure", sure), ("rarely", rarely), ("sways", sways))}
    # 0.2 / 0.45 of a clear gait alone; a person found 5 of 5 times crossing 1.8 body heights keeps 0.8 of it
    assert conf["sure"] == pytest.approx(0.8) and conf["rarely"] < 0.5 and conf["sways"] < 0.5


def test_gate_holds_weak_events_and_a_screenplay_lifts_only_half_strong_ones() -> None:
    scene = SceneContext(location="outdoor")
    strong = _walker(0, t0=0.0, t1=3.0, x0=60, x1=560, onsets=[0.5, 1.0, 1.5])
    weak = strong.model_copy(update={"id": 1, "evidence": {**strong.evidence, "travel_heights": 0.2}})
    events = [track_event(strong, scene), track_event(weak, scene)]
    script = gate(FoleyScript(duration_s=4.0, scene=scene, events=[e for e in events if e]), [strong, weak], 0.5)
    assert [e.source_track for e in script.events] == [0] and [e.source_track for e in script.candidates] == [1]
    faint = strong.model_copy(update={"id": 1, "evidence": {**strong.evidence, "travel_heights": 0.35}})  # 0.35
    seated = strong.model_copy(update={"id": 2, "evidence": {**strong.evidence, "travel_heights": 0.05}})
    told = [e.model_copy(update={"origin": "both"}) for e in (track_event(faint, scene), track_event(seated, scene)) if e]
    lifted = gate(FoleyScript(duration_s=4.0, scene=scene, events=told), [faint, seated], 0.5)
    # story and picture agree: a noisy-or of the picture (0.35) and the story (0.5) = 1 − 0.65 × 0.5
    assert [e.source_track for e in lifted.events] == [1] and lifted.events[0].confidence == pytest.approx(0.675)
    assert [e.source_track for e in lifted.candidates] == [2]  # 0.05 body heights: no screenplay makes it walk


def test_tot_scores_an_invented_script_clearly_below_the_right_one() -> None:
    v = video_info()
    scene = SceneContext(location="outdoor", time_of_day="day", description="park")
    walker = _walker(0, t0=0.0, t1=3.5, x0=60, x1=560, onsets=[0.3, 0.8, 1.3, 1.8, 2.3, 2.8, 3.3])
    diner = walker.model_copy(update={"id": 1, "evidence": {**walker.evidence, "travel_heights": 0.1, "gait_strength": 0.0}})
    ev = Evidence(v, [walker, diner], scene, [], ("birds", "wind"))
    right = FoleyScript(duration_s=4.0, scene=scene, events=[
        track_event(walker, scene), bed_event("birds", "birds_1", 4.0, "park"), bed_event("wind", "wind_1", 4.0, "air")])
    invented = right.model_copy(update={"events": right.events + [
        track_event(diner, scene).model_copy(update={"id": "footsteps_diner"}),  # type: ignore[union-attr]
        SoundEvent(id="ball_bounce_1", label="ball_bounce", layer="fg", start_s=0.5, end_s=2.0, onsets_s=[0.6, 1.2]),
        SoundEvent(id="engine_passby_1", label="engine_passby", layer="fg", start_s=1.0, end_s=3.0),
        bed_event("crickets", "crickets_1", 4.0, "night bed in daylight")]})
    good, bad = computed_scores(facts(right, ev)), computed_scores(facts(invented, ev))
    assert good["align"] >= 0.9 and good["align"] - bad["align"] >= 0.3
    assert bad["layer"] < good["layer"] and bad["emotion"] < good["emotion"]
    total = {k: 0.5 * s["align"] + 0.3 * s["layer"] + 0.2 * s["emotion"] for k, s in (("good", good), ("bad", bad))}
    assert total["good"] - total["bad"] >= 0.15


def test_spotting_score_counts_invented_missed_and_through_cuts() -> None:
    ann = {"name": "clip", "cuts_s": [2.0], "sounds": [
        {"labels": ["footsteps"], "start_s": 0.0, "end_s": 2.0, "need": 1, "allow": 1},
        {"labels": ["wind", "birds"], "layer": "bg", "start_s": 0.0, "end_s": 4.0, "need": 1, "allow": 1}]}
    script = {"events": [
        {"id": "f1", "label": "footsteps", "layer": "fg", "start_s": 0.2, "end_s": 1.8, "source_track": 0},
        {"id": "f2", "label": "footsteps", "layer": "fg", "start_s": 0.8, "end_s": 3.8, "source_track": 1},
        {"id": "r1", "label": "room_tone", "layer": "bg", "start_s": 0.0, "end_s": 4.0, "source_track": None}],
        "shots": [{"start_s": 0.0}, {"start_s": 2.04}, {"start_s": 3.0}]}
    s = score_clip(script, ann, 0.09)
    assert (s.predicted, s.matched, s.found, s.needed) == (3, 1, 1, 2)
    assert sorted(s.invented) == ["clip:f2", "clip:r1"] and s.missed == ["clip:wind/birds 0-4 s"]
    assert s.through_cuts == ["clip:f2"] and (s.cuts_hit, s.cuts_pred) == (1, 2) and s.cut_f1 == pytest.approx(2 / 3)


@pytest.mark.slow
def test_vtest_without_screenplay_gets_walkers_and_an_exterior_bed(tmp_path: Path) -> None:
    """The real clip: pedestrians on a campus lawn. Offline defaults, no screenplay."""
    from foleydesigner.graphs.decomposition import build_decomposition_graph
    from foleydesigner.stages import load_video

    ctx = context(tmp_path)
    state: dict = {"video_path": str(DEMO), "screenplay": None}
    state |= load_video(state, SimpleNamespace(context=ctx))
    assert len(state["shots"]) == 1 and state["shots"][0]["camera"] == "static"
    script = FoleyScript.model_validate(build_decomposition_graph().invoke(state, context=ctx)["script"])
    labels = [e.label for e in script.events]
    beds = {e.label for e in script.events if e.layer == "bg" and e.source_track is None}
    assert script.scene.location == "outdoor" and beds and beds <= {"wind", "birds", "traffic"}
    assert labels.count("footsteps") >= 3 and set(labels) <= {"footsteps", "wind", "birds", "traffic"}
    assert all(e.confidence >= 0.5 and e.evidence for e in script.events)
    assert sum(e.layer == "fg" for e in script.events if e.label == "footsteps") <= 4


def _traffic(n: int = 40, width: int = 160, height: int = 90) -> list[np.ndarray]:
    """A street seen from above by a locked-off camera, at the picture pass's size: a fine-textured road and ten
    high-contrast cars (15 % of the width each) in two lanes, all driving one way, 3 px a frame."""
    rng = np.random.default_rng(3)
    road = cv2.GaussianBlur(rng.integers(90, 150, (height, width, 3), dtype=np.uint8), (3, 3), 0)
    cw, ch = 24, 12
    car = np.clip(cv2.resize(rng.integers(0, 255, (4, 8, 3), dtype=np.uint8), (cw, ch), interpolation=cv2.INTER_NEAREST)
                  + rng.normal(0, 20, (ch, cw, 3)), 0, 255).astype(np.uint8)
    frames = []
    for i in range(n):
        img = road.copy()
        for lane, y in enumerate((int(height * 0.3), int(height * 0.55))):
            for k in range(5):
                x = int((k * (width + cw) / 5 + 23 * lane + 3 * i) % (width + cw)) - cw
                a, b = max(x, 0), min(x + cw, width)
                if b > a:
                    img[y:y + ch, a:b] = car[:, a - x:b - x]
        frames.append(img)
    return frames


def test_a_locked_off_street_with_traffic_is_static_and_has_no_cuts() -> None:
    frames = _traffic()
    kind, facts = camera_of(frames)
    assert kind == "static", facts
    assert len(_detect(frames)) == 1


def test_figures_running_across_a_plain_backdrop_leave_the_camera_still() -> None:
    """A cartoon void: all the texture is on two figures that lurch about; RANSAC alone follows them."""
    figure = cv2.resize(RNG.integers(0, 255, (6, 4, 3), dtype=np.uint8), (16, 24), interpolation=cv2.INTER_NEAREST)
    frames = []
    for i in range(40):
        img = np.full((108, 192, 3), 205, np.uint8)  # a flat grey-white void
        for k, (x0, y0) in enumerate(((40, 60), (120, 55))):
            x, y = x0 + int(6 * i * (1 if k else -0.5)) % 150, y0 + int(8 * np.sin(i / 2.0))
            x = min(max(x, 0), 192 - 16)
            img[y:y + 24, x:x + 16] = figure
        frames.append(img)
    kind, facts = camera_of(frames)
    assert kind == "static", facts
    # the same figures over a textured world: the world votes, and a pan of it is still a pan
    world = cv2.resize(RNG.integers(0, 255, (27, 60, 3), dtype=np.uint8), (480, 108), interpolation=cv2.INTER_LINEAR)
    panned = [world[:, 3 * i:3 * i + 192].copy() for i in range(40)]
    assert camera_of(panned)[0] == "pan"


def test_a_fast_jump_in_a_still_shot_is_not_a_cut() -> None:
    """Someone close to the lens leaps: for two frames a large part of the picture changes, most of it does not."""
    still = _view(SCENE_A, 150)
    body = np.clip(cv2.resize(RNG.integers(0, 255, (8, 4, 3), dtype=np.uint8), (70, 150), interpolation=cv2.INTER_NEAREST)
                   .astype(np.int16) + 40, 0, 255).astype(np.uint8)
    heights = [20] * 20 + [-60, -130, -130, -60] + [20] * 20  # feet on the ground, up out of frame, down again
    frames = []
    for y in heights:
        img = still.copy()
        top, bottom = max(y, 0), min(y + 150, 180)
        if bottom > top:
            img[top:bottom, 120:190] = body[top - y:bottom - y]
        frames.append(img)
    assert len(_detect(frames)) == 1


def test_a_slow_drift_is_still_but_drifting_and_scaling_together_is_a_travelling_camera() -> None:
    from foleydesigner.tools.camera import FrameMotion

    n = 90  # 3.6 s at 25 fps
    drift = [FrameMotion(0.0008, 0.0, 1.0, 0.9) for _ in range(n)]  # 7 % of the width in all, no scale change
    dolly = [FrameMotion(0.0008, 0.0, 1.0004, 0.9) for _ in range(n)]  # the same drift, 3.7 % closer
    sway = [FrameMotion(0.0008 * (-1) ** i, 0.0, 1.0004 ** (-1) ** i, 0.9) for i in range(n)]  # back and forth
    assert classify_camera(drift)[0] == "static"
    kind, facts = classify_camera(dolly)
    assert kind == "pan" and facts["zoom"] > 1.03 and facts["travel"] > 0.05
    assert classify_camera(sway)[0] == "static"



def test_of_two_cuts_closer_than_a_shot_the_larger_change_is_kept_and_an_excerpt_may_open_on_a_cut() -> None:
    """A whole-picture flash (something whipped past the lens) 6 frames before the real cut: one boundary, at the
    real cut. And an excerpt whose first 3 frames belong to the shot before: the cut there is found."""
    a, b = _view(SCENE_A, 100), _view(SCENE_B, 50)
    flash = cv2.addWeighted(a, 0.45, np.full_like(a, 255), 0.55, 0)  # a bright blur over most of the frame
    frames = [a] * 20 + [flash] + [a] * 5 + [b] * 20
    assert [(s.start_frame, s.transition) for s in _detect(frames)] == [(0, "start"), (26, "cut")]
    assert [(s.start_frame, s.transition) for s in _detect([b] * 3 + [a] * 30)] == [(0, "start"), (3, "cut")]


def test_a_mostly_still_shot_that_whips_is_not_locked_off_but_traffic_misses_are() -> None:
    """Two thirds of the frames voted still, early and late. The rest measured cars crossing (1.2 % of the width a
    frame): locked off. The rest a whip pan (up to 10 % a frame for 8 frames): the camera moved."""
    from foleydesigner.tools.camera import STILL, FrameMotion

    def shot(moving: list[FrameMotion]) -> list[FrameMotion]:
        return [STILL] * 40 + moving + [STILL] * 40

    traffic = [FrameMotion(0.012, 0.0, 1.0, 0.6)] * 30
    whip = [FrameMotion(0.01 * k, 0.0, 1.0, 0.4) for k in (1, 3, 6, 10, 10, 6, 3, 1)] + [STILL] * 22
    kind, facts = classify_camera(shot(traffic))
    assert kind == "static" and facts["whip_frames"] == 0
    kind, facts = classify_camera(shot(whip))
    assert kind == "pan" and facts["whip_frames"] == 4 and facts["still_frames"] > 0.7
