"""FilmStereo-like synthetic training data: procedural sources placed by the spatial renderer along trajectories.

FilmStereo (paper, Loss & Training) pairs stereo audio with spatial metadata and captions. This generator builds
the same triple offline: a procedural sound class, a trajectory (static, linear pan, crossing in front of the
camera, approach/recede) with an on/off activation pattern at the video frame rate, the stereo render, and a
caption naming the class and its coarse motion — the coarse text the paper contrasts with frame-level clues.

Layout: `out_dir/shard_00000.npz` … (audio int16 (N, 2, n) + per-item scale, clue arrays (N, T)) and
`out_dir/manifest.json` (rates, shard list, per-item class/caption/trajectory kind).
"""

from __future__ import annotations

import json
import logging
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foleydesigner.units import SAMPLE_RATE

log = logging.getLogger(__name__)

FPS = 25.0  # clue frame rate: PAL film/video rate; also the small codec's latent rate (16 kHz / 640).
TRAJECTORIES = ("static", "pan", "crossing", "depth")
PAD_S = 0.5

#: Localised (non-diffuse) procedural classes spanning impulsive and continuous, low and high spectra. Missing
#: names are skipped, so the list tolerates the procedural library growing or renaming a class.
#: Strongly tonal classes (siren, phone_ring, car_horn) are left out: above ~700 Hz their interaural phase wraps,
#: so their per-frame ITD is ambiguous and would teach the model noise rather than position.
DEFAULT_CLASSES = (
    "footsteps", "engine_idle", "helicopter", "fire_crackle", "keyboard_typing", "horse_hooves", "whoosh",
    "dog_bark", "door_creak", "engine_passby",
)


@dataclass(frozen=True)
class Trajectory:
    kind: str
    t_s: np.ndarray
    azimuth_deg: np.ndarray
    depth_m: np.ndarray
    activation: np.ndarray  # uint8 per frame


def _side(az: float) -> str:
    if az < -50:
        return "far left"
    if az < -15:
        return "on the left"
    if az <= 15:
        return "in the center"
    return "on the right" if az <= 50 else "far right"


def caption_for(label: str, azimuth_deg: np.ndarray, depth_m: np.ndarray, activation: np.ndarray) -> str:
    """Coarse caption: class, direction or motion, distance, and whether it is intermittent.

    The backend builds its caption with this same function, so inference text matches training text.
    """
    act = np.asarray(activation) > 0
    az = np.asarray(azimuth_deg, dtype=float)[act] if act.any() else np.asarray(azimuth_deg, dtype=float)
    dp = np.asarray(depth_m, dtype=float)[act] if act.any() else np.asarray(depth_m, dtype=float)
    name = label.replace("_", " ")
    moved = az[-1] - az[0]
    if abs(moved) >= 25:
        where = "moving left to right" if moved > 0 else "moving right to left"
    else:
        where = _side(float(np.median(az)))
    ratio = dp[-1] / max(dp[0], 1e-3)
    if ratio < 0.6:
        dist = "approaching"
    elif ratio > 1.6:
        dist = "receding"
    else:
        d = float(np.median(dp))
        dist = "close" if d < 2.5 else ("at a distance" if d < 8 else "far away")
    edges = int(np.abs(np.diff(np.concatenate([[0], act.astype(int), [0]]))).sum() // 2)
    parts = [name, where, dist] + (["intermittent"] if edges > 1 else [])
    return ", ".join(parts)


def random_trajectory(duration_s: float, rng: np.random.Generator, *, fps: float = FPS, kind: str | None = None) -> Trajectory:
    """A random source path and activation pattern sampled at `fps`; azimuth stays frontal ([-80°, 80°])."""
    n = max(2, int(round(duration_s * fps)))
    t = np.arange(n) / fps
    u = t / max(t[-1], 1e-9)
    kind = kind or str(rng.choice(TRAJECTORIES))
    if kind == "static":
        az = np.full(n, rng.uniform(-75, 75))
        depth = np.full(n, math.exp(rng.uniform(math.log(0.8), math.log(15.0))))
    elif kind == "pan":
        a = rng.uniform(-75, 75)
        b = float(np.clip(a + rng.choice([-1, 1]) * rng.uniform(30, 120), -78, 78))
        az = a + (b - a) * u
        d0 = math.exp(rng.uniform(math.log(1.0), math.log(10.0)))
        depth = d0 * np.exp(rng.uniform(-0.3, 0.3) * u)
    elif kind == "crossing":
        # Straight path parallel to the image plane at distance y: az = atan(x / y), depth = hypot(x, y).
        y = rng.uniform(1.0, 6.0)
        x0 = -rng.choice([-1, 1]) * rng.uniform(1.0, 3.0) * y
        x = x0 + (-2.0 * x0 * rng.uniform(0.6, 1.0)) * u
        az, depth = np.degrees(np.arctan2(x, y)), np.hypot(x, y)
    elif kind == "depth":
        az = np.full(n, rng.uniform(-60, 60)) + rng.uniform(-10, 10) * u
        d0, d1 = math.exp(rng.uniform(math.log(0.8), math.log(3.0))), math.exp(rng.uniform(math.log(5.0), math.log(20.0)))
        depth = d0 * (d1 / d0) ** u if rng.random() < 0.5 else d1 * (d0 / d1) ** u
    else:
        raise ValueError(f"unknown trajectory kind {kind!r}; expected one of {TRAJECTORIES}")
    act = np.ones(n, dtype=np.uint8)
    if rng.random() < 0.75:
        # 1–3 gaps of 0.3–1.0 s: on/off windows the activation mask must reproduce at frame level (about a
        # third of the frames end up off, so "always on" is not a good answer).
        for _ in range(int(rng.integers(1, 4))):
            g = int(rng.uniform(0.3, 1.0) * fps)
            s = int(rng.integers(0, max(1, n - g)))
            act[s : s + g] = 0
        if act.sum() < 0.3 * fps:
            act[: int(0.5 * fps)] = 1
    return Trajectory(kind, t, np.clip(az, -80, 80).astype(np.float32), np.clip(depth, 0.5, 40.0).astype(np.float32), act)


def _segments(act: np.ndarray, fps: float) -> list[tuple[float, float]]:
    edges = np.diff(np.concatenate([[0], act.astype(int), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(s / fps, e / fps) for s, e in zip(starts, ends, strict=True)]


def render_item(label: str, traj: Trajectory, *, duration_s: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Synthesize `label` in each active segment and place it along the trajectory -> float32 (2, n)."""
    from foleydesigner.generation import procedural
    from foleydesigner.generation.spatial import render_spatial

    n = int(round(duration_s * sr))
    src = np.zeros(n, dtype=np.float32)
    intensity = float(rng.uniform(0.55, 0.9))
    for s, e in _segments(traj.activation, FPS):
        e = min(e, duration_s)
        if e - s < 1.0 / FPS:
            continue
        # Synthesised with PAD_S of headroom on both sides and cropped: a natural hit pattern may jitter a hit
        # slightly before start_s or past end_s, and that must neither fail nor be cut off at the clip edge.
        part = procedural.synthesize(label, duration_s=duration_s + 2 * PAD_S, sr=sr, start_s=s + PAD_S,
                                     end_s=e + PAD_S, intensity=intensity, rng=rng)
        pad = int(round(PAD_S * sr))
        src += part.mean(axis=0)[pad : pad + n]
    # Tails of impulsive hits may ring past a segment end; the renderer's own activation gate is left off so the
    # audio stays physical and the frame activation remains the label of when the event happens.
    out = render_spatial(src[None, :], t_s=traj.t_s, azimuth_deg=traj.azimuth_deg, depth_m=traj.depth_m, sr=sr)
    return np.asarray(out, dtype=np.float32)[:, :n]


def _pick_classes(classes: tuple[str, ...] | None) -> list[str]:
    from foleydesigner.generation import procedural

    known = {c.name: c for c in procedural.list_classes()}
    wanted = [c for c in (classes or DEFAULT_CLASSES) if c in known and not known[c].diffuse]
    if len(wanted) < 3:
        wanted = [c.name for c in known.values() if not c.diffuse][:8]
    if not wanted:
        raise RuntimeError("the procedural library offers no localised (non-diffuse) sound class")
    return wanted


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)  # atomic: a killed run never leaves a truncated shard that looks complete


def make_dataset(
    out_dir: str | Path,
    *,
    n_items: int,
    duration_s: float = 3.0,
    seed: int = 0,
    shard_size: int = 256,
    sample_rate: int = SAMPLE_RATE,
    classes: tuple[str, ...] | None = None,
    trajectories: tuple[str, ...] = TRAJECTORIES,
) -> Path:
    """Render `n_items` spatialised items into shards + manifest.json under out_dir; returns the manifest path.

    Item i draws from its own RNG stream (seed, i), so a dataset is reproducible and shards can be rebuilt alone.
    """
    if n_items < 1 or shard_size < 1:
        raise ValueError(f"n_items and shard_size must be >= 1, got {n_items}, {shard_size}")
    if duration_s <= 0.2:
        raise ValueError(f"duration_s must be > 0.2 s, got {duration_s}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = _pick_classes(classes)
    items: list[dict[str, Any]] = []
    shards: list[dict[str, Any]] = []
    for first in range(0, n_items, shard_size):
        idx = range(first, min(n_items, first + shard_size))
        audio, scale, az, depth, act = [], [], [], [], []
        shard_name = f"shard_{len(shards):05d}.npz"
        for i in idx:
            rng = np.random.default_rng([seed, i])
            label = names[int(rng.integers(len(names)))]
            traj = random_trajectory(duration_s, rng, kind=str(rng.choice(trajectories)))
            x = render_item(label, traj, duration_s=duration_s, sr=sample_rate, rng=rng)
            peak = float(np.max(np.abs(x))) or 1.0
            audio.append(np.round(x / peak * 32767.0).astype(np.int16))
            scale.append(peak / 32767.0)
            az.append(traj.azimuth_deg)
            depth.append(traj.depth_m)
            act.append(traj.activation)
            items.append({
                "id": f"item_{i:06d}", "shard": shard_name, "index": len(audio) - 1, "label": label,
                "caption": caption_for(label, traj.azimuth_deg, traj.depth_m, traj.activation),
                "trajectory": traj.kind, "seed": [seed, i],
            })
        _write_npz(out / shard_name, {
            "audio": np.stack(audio), "scale": np.asarray(scale, dtype=np.float32), "azimuth_deg": np.stack(az),
            "depth_m": np.stack(depth), "activation": np.stack(act), "t_s": traj.t_s.astype(np.float32),
        })
        shards.append({"path": shard_name, "n_items": len(audio)})
        log.info("wrote %s (%d items)", shard_name, len(audio))
    manifest = {
        "format": "foleydesigner.filmstereo-synthetic/1", "sample_rate": sample_rate, "duration_s": duration_s,
        "fps": FPS, "seed": seed, "classes": names, "n_items": n_items, "shards": shards, "items": items,
        "azimuth_convention": "degrees, 0 ahead, negative left", "depth_units": "m",
        "fingerprint": zlib.crc32(json.dumps(items, sort_keys=True).encode()),
    }
    path = out / "manifest.json"
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, path)
    return path


@dataclass
class LoadedItems:
    """A manifest in memory: float32 audio (N, 2, n) and per-frame clues (N, T) on the shared `t_s` grid."""

    audio: np.ndarray
    sample_rate: int
    t_s: np.ndarray
    azimuth_deg: np.ndarray
    depth_m: np.ndarray
    activation: np.ndarray
    labels: list[str]
    captions: list[str]
    ids: list[str]


def load_items(manifest: str | Path, indices: list[int] | None = None) -> LoadedItems:
    path = Path(manifest)
    meta = json.loads(path.read_text())
    items = meta["items"] if indices is None else [meta["items"][i] for i in indices]
    cache: dict[str, Any] = {}
    audio, az, depth, act = [], [], [], []
    t_s = np.zeros(0, dtype=np.float32)
    for it in items:
        if it["shard"] not in cache:
            cache[it["shard"]] = dict(np.load(path.parent / it["shard"]))
        sh, j = cache[it["shard"]], it["index"]
        audio.append(sh["audio"][j].astype(np.float32) * sh["scale"][j])
        az.append(sh["azimuth_deg"][j])
        depth.append(sh["depth_m"][j])
        act.append(sh["activation"][j])
        t_s = sh["t_s"]
    return LoadedItems(
        audio=np.stack(audio), sample_rate=int(meta["sample_rate"]), t_s=np.asarray(t_s, dtype=np.float32),
        azimuth_deg=np.stack(az), depth_m=np.stack(depth), activation=np.stack(act),
        labels=[it["label"] for it in items], captions=[it["caption"] for it in items], ids=[it["id"] for it in items],
    )
