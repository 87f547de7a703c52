"""Synthetic clips with exact ground truth for the clue extractors (tracking, azimuth, depth, onsets).

A level pinhole camera (hfov 60°, height 1.5 m, horizon on the middle row) looks at a textured, noisy
scene. Objects are drawn with OpenCV primitives at a scale set by their true depth with the same real
heights that tools/depth.py assumes, so geometric depth is checkable. Walkers follow a textbook gait
(duty factor 0.6, so each foot's double support is 10 % of the stride; body lowest mid double support);
balls fall under gravity with a restitution coefficient, so footfalls and bounces happen at known frames.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from foleydesigner.bench.drawing import Prim, draw_prims, noise_field, prims_extent, write_mp4
from foleydesigner.tools.depth import real_height_m
from foleydesigner.units import azimuth_from_x, focal_length_px

KINDS = ("single_mover", "crossing", "bouncing_ball", "walker", "occlusion", "approach", "ambience_only")
#: Scenes for screenplay–picture fusion (benchmarks/screenplay_fusion.py), not in the clue-accuracy set.
FUSION_KINDS = ("ball_and_car",)
CAMERA_HEIGHT_M = 1.5
GRAVITY_M_S2 = 9.81
WALK_SPEED_M_S = 1.4  # typical adult walking speed
DUTY_FACTOR = 0.6  # fraction of a stride each foot is on the ground (normal walking ~0.6)


@dataclass
class SyntheticObject:
    """Truth for one object: per clip frame its box (x, y, w, h px, also while hidden), visibility, azimuth
    (DESIGN formula from the box centre), true depth, and its sound onsets (footfalls or bounces)."""

    id: int
    kind: str  # what was drawn: "car" | "ball" | "person"
    label: str  # the label a tracker should give it (tools/depth.py class)
    real_height_m: float
    boxes: list[list[float]] = field(default_factory=list)
    visible: list[int] = field(default_factory=list)
    azimuth_deg: list[float] = field(default_factory=list)
    depth_m: list[float] = field(default_factory=list)
    onset_frames: list[int] = field(default_factory=list)
    onsets_s: list[float] = field(default_factory=list)
    onset_kind: str | None = None  # "footstep" | "bounce"


@dataclass
class TruthManifest:
    kind: str
    video_path: str
    width: int
    height: int
    fps: float
    n_frames: int
    seed: int
    hfov_deg: float
    focal_px: float
    camera_height_m: float
    horizon_y: float
    objects: list[SyntheticObject] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, path: str | Path) -> TruthManifest:
        data = json.loads(Path(path).read_text())
        data["objects"] = [SyntheticObject(**o) for o in data["objects"]]
        return cls(**data)


class _Camera:
    def __init__(self, width: int, height: int, hfov_deg: float) -> None:
        self.w, self.h, self.f = width, height, focal_length_px(width, hfov_deg)
        self.horizon = height / 2.0

    def project(self, x_m: float, up_m: float, z_m: float) -> tuple[float, float]:
        """World point (lateral x, height above ground, depth) → image (x, y) pixels."""
        return self.w / 2 + self.f * x_m / z_m, self.horizon + self.f * (CAMERA_HEIGHT_M - up_m) / z_m

    def lateral_at(self, x_px: float, z_m: float) -> float:
        return (x_px - self.w / 2) * z_m / self.f


class _Car:
    kind, label = "car", "vehicle"

    def __init__(self, cam: _Camera, z: float, x0: float, x1: float, dur: float, rng: np.random.Generator):
        self.cam, self.z, self.x0, self.v = cam, z, x0, (x1 - x0) / dur
        # Common car paints (BGR) that stand out from grey-green ground: red, blue, white, black, yellow.
        palette = [(40, 40, 200), (170, 80, 30), (235, 235, 235), (30, 30, 30), (40, 200, 230)]
        self.colour = palette[int(rng.integers(len(palette)))]

    def depth(self, t: float) -> float:
        return self.z

    def prims(self, t: float) -> list[Prim]:
        s, length = self.cam.f / self.z, 4.2
        x, yg = self.cam.project(self.x0 + self.v * t, 0.0, self.z)
        h = real_height_m("car") * s
        xl, xr = x - length * s / 2, x + length * s / 2
        body = [(xl, yg - 0.2 * h), (xr, yg - 0.2 * h), (xr, yg - 0.6 * h), (xl, yg - 0.6 * h)]
        cabin = [(xl + 0.22 * (xr - xl), yg - 0.6 * h), (xr - 0.2 * (xr - xl), yg - 0.6 * h),
                 (xr - 0.3 * (xr - xl), yg - h), (xl + 0.3 * (xr - xl), yg - h)]
        r = 0.2 * h
        return [("poly", body, self.colour), ("poly", cabin, tuple(c // 2 for c in self.colour)),
                ("circle", (xl + 0.2 * (xr - xl), yg - r), r, (20, 20, 20)),
                ("circle", (xr - 0.2 * (xr - xl), yg - r), r, (20, 20, 20))]


class _Ball:
    kind, label = "ball", "ball"

    def __init__(self, cam: _Camera, z: float, x0: float, vx: float, h0: float, restitution: float, dur: float):
        self.cam, self.z, self.x0, self.vx, self.h0 = cam, z, x0, vx, h0
        self.radius = real_height_m("ball") / 2
        # Contact times and take-off speeds of each bounce; count impacts after hops of 8 cm or more (smaller ones are inaudible).
        self.contacts: list[float] = []
        t, v = math.sqrt(2 * h0 / GRAVITY_M_S2), math.sqrt(2 * GRAVITY_M_S2 * h0)
        self.hops: list[tuple[float, float]] = [(0.0, 0.0)]  # (start time, take-off speed); first is a drop
        while t < dur and v * v / (2 * GRAVITY_M_S2) > 0.08:
            self.contacts.append(t)
            v *= restitution
            self.hops.append((t, v))
            t += 2 * v / GRAVITY_M_S2

    def depth(self, t: float) -> float:
        return self.z

    def height(self, t: float) -> float:
        if len(self.hops) == 1 or t < self.hops[1][0]:
            return max(0.0, self.h0 - 0.5 * GRAVITY_M_S2 * t * t)
        t0, v = max(h for h in self.hops if h[0] <= t)
        return max(0.0, v * (t - t0) - 0.5 * GRAVITY_M_S2 * (t - t0) ** 2)

    def prims(self, t: float) -> list[Prim]:
        x, y = self.cam.project(self.x0 + self.vx * t, self.height(t) + self.radius, self.z)
        r = self.radius * self.cam.f / self.z
        return [("circle", (x, y), r, (30, 120, 235)), ("circle", (x - 0.3 * r, y - 0.3 * r), 0.35 * r, (150, 210, 255))]


class _Walker:
    """Stylised walking figure: torso, head, swinging arms, two legs whose feet strike the ground at known
    times (heel strikes every 1/cadence s, alternating feet)."""

    kind, label = "person", "person"

    def __init__(self, cam: _Camera, start: tuple[float, float], direction: tuple[float, float],
                 cadence: float, rng: np.random.Generator, speed: float = WALK_SPEED_M_S):
        self.cam, self.start, self.cadence, self.speed = cam, start, cadence, speed
        n = math.hypot(*direction)
        self.u = (direction[0] / n, direction[1] / n)
        self.stride_s = 2.0 / cadence
        self.step_m = speed / cadence
        self.phase = float(rng.uniform(0, self.stride_s))  # time of foot 0's first heel strike
        self.shirt = tuple(int(c) for c in rng.integers(30, 230, 3))
        # Dark denim or black trousers (BGR): legs stay visible against the grass-and-asphalt ground.
        self.trousers = (int(rng.integers(40, 120)), int(rng.integers(15, 60)), int(rng.integers(10, 50)))
        self.height_m = real_height_m("person")

    def heel_strikes(self, dur: float) -> list[float]:
        half = self.stride_s / 2
        k0 = math.floor(-self.phase / half)
        return [self.phase + k * half for k in range(k0, k0 + int(dur / half) + 4) if 0 <= self.phase + k * half < dur]

    def _along(self, t: float) -> float:
        return self.speed * t  # distance walked along u

    def _foot(self, t: float, foot: int) -> tuple[float, float]:
        """(distance along path, lift in m) of one foot; foot 1 lags foot 0 by half a stride."""
        t_hs = self.phase + foot * self.stride_s / 2
        k = math.floor((t - t_hs) / self.stride_s)
        t_land = t_hs + k * self.stride_s  # last heel strike of this foot
        land = self._along(t_land) + self.step_m / 2
        into = t - t_land
        swing0 = DUTY_FACTOR * self.stride_s
        if into <= swing0:
            return land, 0.0
        u = (into - swing0) / (self.stride_s - swing0)
        ease = u * u * (3 - 2 * u)
        return land + 2 * self.step_m * ease, 0.08 * math.sin(math.pi * u)

    def _world(self, along: float, up: float) -> tuple[float, float]:
        x, z = self.start[0] + self.u[0] * along, self.start[1] + self.u[1] * along
        return self.cam.project(x, up, z)

    def depth(self, t: float) -> float:
        return self.start[1] + self.u[1] * self._along(t)

    def prims(self, t: float) -> list[Prim]:
        hp = self.height_m
        # Body lowest at mid double support (heel strike + 5 % stride), highest mid stance: 4 cm bob.
        t_low = self.phase + 0.05 * self.stride_s
        bob = 0.04 * (1 + math.cos(2 * math.pi * (t - t_low) / (self.stride_s / 2))) / 2
        hip_up = 0.5 * hp - bob
        along = self._along(t)
        s = self.cam.f / self.depth(t)
        hip = self._world(along, hip_up)
        shoulder = (hip[0], hip[1] - 0.3 * hp * s)
        r_head = 0.065 * hp * s
        head = (hip[0], hip[1] - (0.5 * hp - 0.065 * hp) * s)
        side = 1.0 if self.u[0] >= 0 else -1.0
        prims: list[Prim] = []
        for foot in (1, 0):
            a, lift = self._foot(t, foot)
            ankle = self._world(a, lift + 0.04)
            toe = self._world(a + 0.12, lift + 0.025)
            prims += [("line", hip, ankle, 0.07 * hp * s, self.trousers), ("line", ankle, toe, 0.05 * hp * s, (25, 25, 25))]
        prims += [("line", hip, shoulder, 0.17 * hp * s, self.shirt), ("circle", head, r_head, (120, 150, 200))]
        # Arms swing opposite to the legs, ±25°, foreshortened by how sideways the walk is.
        ph = 2 * math.pi * (t - self.phase) / self.stride_s
        for sign in (-1.0, 1.0):
            ang = math.radians(25) * sign * math.cos(ph)
            hand = (shoulder[0] + side * abs(self.u[0]) * 0.33 * hp * s * math.sin(ang),
                    shoulder[1] + 0.33 * hp * s * math.cos(ang))
            prims.append(("line", shoulder, hand, 0.05 * hp * s, tuple(int(c * 0.8) for c in self.shirt)))
        return prims


def _background(cam: _Camera, rng: np.random.Generator) -> np.ndarray:
    h, w, hz = cam.h, cam.w, int(cam.horizon)
    img = np.zeros((h, w, 3), np.float32)
    rows = np.linspace(0, 1, hz)[:, None, None]
    img[:hz] = (200, 170, 140) + rows * np.array([20, 20, 10])  # sky, BGR
    ground = np.array(rng.uniform([60, 90, 70], [110, 140, 120]), np.float32)
    img[hz:] = ground + 40 * noise_field(rng, h - hz, w)[..., None]
    x = 0
    while x < w:  # a row of buildings with windows along the horizon
        bw, bh = int(rng.uniform(0.08, 0.2) * w), int(rng.uniform(0.1, 0.3) * h)
        colour = rng.uniform(70, 180, 3)
        img[max(0, hz - bh):hz, x:x + bw] = colour
        for wy in range(max(0, hz - bh) + 4, hz - 6, max(6, h // 40)):
            img[wy:wy + max(2, h // 120), x + 3:x + bw - 3:max(5, w // 90)] = colour * 0.45
        x += bw + int(rng.uniform(0, 0.05) * w)
    for _ in range(3):  # kerb / road markings converging on the vanishing point
        xb = rng.uniform(-0.5, 1.5) * w
        cv2.line(img, (w // 2, hz), (int(xb), h), (170, 170, 170), max(1, w // 300), cv2.LINE_AA)
    img += 6 * noise_field(rng, h, w)[..., None]
    return img


def _scene(kind: str, cam: _Camera, dur: float, rng: np.random.Generator) -> tuple[list[Any], list[Prim]]:
    """The actors and the static foreground occluders of one clip kind."""
    w = cam.w

    def cad() -> float:
        return float(rng.uniform(1.7, 2.1))  # steps per second, normal adult range

    half = WALK_SPEED_M_S * dur / 2
    if kind == "single_mover":  # left third → right third, so every consumer knows where it starts/ends
        z = float(rng.uniform(12, 16))
        return [_Car(cam, z, cam.lateral_at(w / 6, z), cam.lateral_at(5 * w / 6, z), dur, rng)], []
    if kind == "crossing":
        z1, z2 = float(rng.uniform(6.5, 8)), float(rng.uniform(12, 15))
        return [_Walker(cam, (-half, z1), (1, 0), cad(), rng), _Walker(cam, (half, z2), (-1, 0), cad(), rng)], []
    if kind == "bouncing_ball":
        z = float(rng.uniform(5, 7))
        return [_Ball(cam, z, cam.lateral_at(0.25 * w, z), 0.4, float(rng.uniform(1.0, 1.4)), 0.72, dur)], []
    if kind == "walker":
        z, d = float(rng.uniform(7, 10)), float(rng.choice([-1.0, 1.0]))
        return [_Walker(cam, (-d * half, z), (d, 0), cad(), rng)], []
    if kind == "occlusion":
        z = 9.0
        pillar_x, pw = w / 2, 0.11 * w
        yg = cam.project(0, 0, 5.0)[1]  # the pillar stands 5 m away, in front of the walker
        pillar = [("poly", [(pillar_x - pw / 2, -5), (pillar_x + pw / 2, -5), (pillar_x + pw / 2, yg),
                            (pillar_x - pw / 2, yg)], (95, 100, 110))]
        return [_Walker(cam, (-half, z), (1, 0), cad(), rng)], pillar
    if kind == "approach":  # diagonal walk towards the camera: depth 18 m → ~13 m in 4 s
        return [_Walker(cam, (-2.5, 18.0), (0.3, -1.0), cad(), rng)], []
    if kind == "ambience_only":
        return [], []
    if kind == "ball_and_car":  # a ball bouncing near, leftwards; far behind it a car crosses the right half slowly
        z, zc = float(rng.uniform(5, 7)), float(rng.uniform(22, 28))
        return [_Ball(cam, z, cam.lateral_at(0.4 * w, z), -0.3, float(rng.uniform(1.0, 1.4)), 0.72, dur),
                _Car(cam, zc, cam.lateral_at(0.6 * w, zc), cam.lateral_at(0.92 * w, zc), dur, rng)], []
    raise ValueError(f"kind must be one of {KINDS + FUSION_KINDS}, got {kind!r}")


def make_clip(kind: str, out_path: str | Path, *, width: int = 640, height: int = 360, fps: float = 25.0,
              duration_s: float = 4.0, seed: int = 0, hfov_deg: float = 60.0) -> TruthManifest:
    """Render one synthetic clip (H.264 MP4, yuv420p) and its truth (out_path with suffix .truth.json)."""
    if width % 2 or height % 2 or width < 64 or height < 64:
        raise ValueError(f"width and height must be even and ≥ 64 (H.264 4:2:0), got {width}x{height}")
    if not 1.0 <= fps <= 120.0 or not 0.5 <= duration_s <= 120.0:
        raise ValueError(f"fps must be in [1, 120] and duration_s in [0.5, 120], got {fps}, {duration_s}")
    out = Path(out_path)
    rng = np.random.default_rng(seed)
    cam = _Camera(width, height, hfov_deg)
    actors, occluders = _scene(kind, cam, duration_s, rng)
    bg = _background(cam, rng)
    n = max(1, int(round(duration_s * fps)))
    truth = [SyntheticObject(i, a.kind, a.label, real_height_m(a.label)) for i, a in enumerate(actors)]
    occ_mask = np.zeros((height, width), np.uint8)
    draw_prims(occ_mask, occluders, mask=True)
    pad = (width // 2, height // 2)  # masks on a padded canvas count the pixels outside the frame too
    total = [1] * len(actors)

    def render() -> Iterator[np.ndarray]:
        for i in range(n):
            t = i / fps
            img = np.clip(bg * (1 + 0.01 * math.sin(2 * math.pi * 0.3 * t)), 0, 255).astype(np.uint8)  # exposure drift
            order = sorted(range(len(actors)), key=lambda k: -actors[k].depth(t))  # far first
            masks = {}
            for k in order:
                prims = actors[k].prims(t)
                draw_prims(img, prims)
                big = np.zeros((2 * height, 2 * width), np.uint8)
                draw_prims(big, prims, offset=pad, mask=True)
                masks[k] = big[pad[1]:pad[1] + height, pad[0]:pad[0] + width]
                o = truth[k]
                o.boxes.append(prims_extent(prims))
                o.azimuth_deg.append(azimuth_from_x(o.boxes[-1][0] + o.boxes[-1][2] / 2, width, hfov_deg))
                o.depth_m.append(actors[k].depth(t))
                total[k] = max(1, int(np.count_nonzero(big)))
            draw_prims(img, occluders)
            cover = occ_mask.copy()
            for k in reversed(order):  # nearest first: what is in front hides what is behind
                truth[k].visible.append(int(np.count_nonzero(masks[k] & ~cover) >= 0.5 * total[k]))
                cover |= masks[k]
            noisy = img + rng.normal(0, 3.0, img.shape).astype(np.float32)  # sensor noise, σ 3 levels
            yield np.clip(noisy, 0, 255).astype(np.uint8)

    write_mp4(render(), out, fps)
    for o, a in zip(truth, actors, strict=True):
        times = a.heel_strikes(duration_s) if isinstance(a, _Walker) else getattr(a, "contacts", [])
        o.onset_kind = "footstep" if isinstance(a, _Walker) else ("bounce" if isinstance(a, _Ball) else None)
        seen = [i for i, v in enumerate(o.visible) if v]
        # Onsets count while the object is on screen, occlusion gaps included (the sound goes on behind a pillar).
        for ts in times:
            f = int(round(ts * fps))
            if seen and seen[0] <= f <= seen[-1] and f < n:
                o.onset_frames.append(f)
                o.onsets_s.append(f / fps)
    manifest = TruthManifest(kind, str(out), width, height, float(fps), n, seed, hfov_deg, cam.f,
                             CAMERA_HEIGHT_M, cam.horizon, truth)
    out.with_suffix(".truth.json").write_text(manifest.to_json())
    return manifest
