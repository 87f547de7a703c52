"""A running machine seen, not named: a patch of a still shot whose brightness beats in strict rhythm.

No offline detector names a lathe, a fan or an engine, but a Foley editor knows one when a part of the picture
flickers at a steady rate for as long as the shot lasts: blades passing, a piston, a belt, a needle. The picture
pass (tools/picture.py) keeps every frame's mean grey in a coarse grid of cells; here, per still shot, each cell's
series is taken apart into frequencies:

- every frame's cells are divided by that frame's mean first: a light that flickers (mains beating with the frame
  rate) scales the whole picture at once and is no machine;
- a cell beats when one frequency of RHYTHM_HZ or more holds RHYTHM_SHARE of its motion power, its swing is at least
  RHYTHM_AMP grey levels, and the same frequency leads both halves of the shot (a machine keeps running);
- neighbouring cells beating at the same rate are one machine; it covers at most MACHINE_AREA of the frame (more is
  the picture itself: a screen, the light).

Walkers, leaves, water, faces and traffic move without one steady rate: on the project's 44 real clips no still
shot has a local beat over 0.30 of its power (a bicycle crossing, a wind-blown tree 0.17, a drummer 0.12).
"""

from __future__ import annotations

import cv2
import numpy as np

from foleydesigner.schemas import Shot, Track, VideoInfo

#: Cells across and down of the grid the picture pass keeps per frame.
GRID = (16, 9)
#: A machine's beat: at least this rate (Hz; walking bobs and waving hands are slower), this share of the cell's
#: power above 0.3 Hz in that one frequency bin, this swing (std of the grey mean, 0-255).
RHYTHM_HZ, RHYTHM_SHARE, RHYTHM_AMP = 2.0, 0.45, 2.0
#: Each half of the shot must lead with the same beat (within RHYTHM_TOL_HZ) at this share at least.
RHYTHM_HALF_SHARE, RHYTHM_TOL_HZ = 0.3, 0.5
#: A still shot shorter than this says too little about a steady rate.
MACHINE_MIN_S = 2.0
#: Largest share of the grid one machine covers; at least MACHINE_CELLS cells beat together.
MACHINE_AREA, MACHINE_CELLS = 0.25, 2


def cell_means(grey: np.ndarray) -> np.ndarray:
    """One frame's mean grey per grid cell, (rows, columns) float32."""
    return cv2.resize(grey.astype(np.float32), GRID, interpolation=cv2.INTER_AREA)


def _beats(seg: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of seg (frames, cells): the share of its power in its strongest bin at RHYTHM_HZ or more, and that
    bin's frequency."""
    n = len(seg)
    x = (seg - seg.mean(axis=0)) * np.hanning(n)[:, None]
    power = np.abs(np.fft.rfft(x, axis=0)) ** 2
    f = np.fft.rfftfreq(n, 1.0 / fps)
    fast, moving = f >= RHYTHM_HZ, f >= 0.3
    if not fast.any():
        return np.zeros(seg.shape[1]), np.zeros(seg.shape[1])
    share = power[fast].max(axis=0) / np.maximum(power[moving].sum(axis=0), 1e-9)
    return share, f[fast][power[fast].argmax(axis=0)]


def machine_tracks(cells: np.ndarray, shots: list[Shot], info: VideoInfo, *, start_id: int = 0,
                   every: int = 3) -> list[Track]:
    """A "machine" track (static, its box over the beating cells, every `every`-th frame of its shot) for each
    patch of a still shot that beats in steady rhythm. cells: (frames, rows, columns) from cell_means."""
    out: list[Track] = []
    rows, cols = GRID[1], GRID[0]
    for shot in shots:
        a, b = shot.start_frame, min(shot.end_frame + 1, len(cells))
        if shot.camera != "static" or (b - a) / info.fps < MACHINE_MIN_S:
            continue
        seg = cells[a:b].reshape(b - a, -1).astype(np.float64)
        # A flickering light scales every cell at once (illumination multiplies): the frame's mean divided out.
        seg = seg / np.maximum(seg.mean(axis=1, keepdims=True), 1.0) * float(seg.mean())
        share, freq = _beats(seg, info.fps)
        half = (b - a) // 2
        s1, f1 = _beats(seg[:half], info.fps)
        s2, f2 = _beats(seg[half:], info.fps)
        steady = ((s1 >= RHYTHM_HALF_SHARE) & (s2 >= RHYTHM_HALF_SHARE)
                  & (np.abs(f1 - freq) <= RHYTHM_TOL_HZ) & (np.abs(f2 - freq) <= RHYTHM_TOL_HZ))
        beat = (share >= RHYTHM_SHARE) & (seg.std(axis=0) >= RHYTHM_AMP) & steady
        if not beat.any():
            continue
        n, labels = cv2.connectedComponents(beat.reshape(rows, cols).astype(np.uint8), connectivity=8)
        for k in range(1, n):
            where = labels.reshape(-1) == k
            lead = int(np.argmax(np.where(where, share, -1.0)))
            same = where & (np.abs(freq - freq[lead]) <= RHYTHM_TOL_HZ)
            if same.sum() < MACHINE_CELLS or same.sum() > MACHINE_AREA * rows * cols:
                continue
            r, c = np.divmod(np.flatnonzero(same), cols)
            cw, ch = info.width / cols, info.height / rows
            box = (float(c.min() * cw), float(r.min() * ch), float((c.max() - c.min() + 1) * cw),
                   float((r.max() - r.min() + 1) * ch))
            frames = list(range(a, b, every))
            out.append(Track(id=start_id + len(out), label="machine", motion="static", frames=frames,
                             t_s=[f / info.fps for f in frames], boxes=[box] * len(frames),
                             frame_width=info.width, frame_height=info.height, shot=shot.index,
                             evidence={"rhythm_share": round(float(share[same].mean()), 3),
                                       "rhythm_hz": round(float(freq[lead]), 2), "cells": float(same.sum()),
                                       "area_frac": round(float(same.sum()) / (rows * cols), 4)}))
    return out
