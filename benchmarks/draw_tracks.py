"""Draw tracks (feet paths), onsets (dots at the feet on onset frames) and labels over a keyframe.

    python benchmarks/draw_tracks.py [CLIP] [--out docs/vtest_tracks.png] [--frame N]
"""

from __future__ import annotations

import argparse
import colorsys
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foleydesigner.tools.tracking import track_objects  # noqa: E402
from foleydesigner.tools.video import iter_frames, probe_video  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _colour(i: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((i * 0.618) % 1.0, 0.85, 1.0)
    return int(255 * b), int(255 * g), int(255 * r)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", nargs="?", type=Path, default=ROOT / "foleydesigner/data/demo_vtest.mp4")
    ap.add_argument("--out", type=Path, default=ROOT / "docs/vtest_tracks.png")
    ap.add_argument("--frame", type=int, help="keyframe index (default: the middle frame)")
    args = ap.parse_args()
    info = probe_video(args.clip)
    tracks = track_objects(args.clip, info)
    key = info.n_frames // 2 if args.frame is None else args.frame
    image = next(f.image for f in iter_frames(args.clip) if f.index == key).copy()
    image = (image * 0.7).astype(np.uint8)  # dim the frame so the overlay reads
    legend = np.full((max(image.shape[0], 40 + 18 * len(tracks)), 300, 3), 24, np.uint8)
    cv2.putText(legend, "id label motion onsets (per s)", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    for row, tr in enumerate(tracks):
        c = _colour(tr.id)
        feet = {f: (b[0] + b[2] / 2, b[1] + b[3]) for f, b in zip(tr.frames, tr.boxes, strict=True)}
        pts = np.array([feet[f] for f in tr.frames], np.int32)
        cv2.polylines(image, [pts], False, c, 2, cv2.LINE_AA)
        for t in tr.onsets_s:  # a dot at the feet on every onset frame
            f = min(feet, key=lambda k: abs(k - t * info.fps))
            cv2.circle(image, tuple(int(v) for v in feet[f]), 4, c, -1, cv2.LINE_AA)
            cv2.circle(image, tuple(int(v) for v in feet[f]), 4, (0, 0, 0), 1, cv2.LINE_AA)
        end = tuple(int(v) for v in pts[-1])
        if key in feet:
            x, y, w, h = (int(v) for v in tr.boxes[tr.frames.index(key)])
            cv2.rectangle(image, (x, y), (x + w, y + h), c, 1)
            end = (x, y - 3)
        cv2.putText(image, str(tr.id), end, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(image, str(tr.id), end, cv2.FONT_HERSHEY_SIMPLEX, 0.5, c, 1, cv2.LINE_AA)
        rate = len(tr.onsets_s) / max(tr.end_s - tr.start_s, 1e-6)
        text = f"{tr.id:>2} {tr.label} {tr.motion} {tr.start_s:.1f}-{tr.end_s:.1f}s {len(tr.onsets_s)} ({rate:.1f}/s)"
        cv2.putText(legend, text, (8, 44 + 18 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.42, c, 1, cv2.LINE_AA)
    banner = f"{args.clip.name}: {len(tracks)} tracks; lines = feet paths, dots = onsets, boxes at frame {key}"
    cv2.putText(image, banner, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    if legend.shape[0] > image.shape[0]:
        image = cv2.copyMakeBorder(image, 0, legend.shape[0] - image.shape[0], 0, 0, cv2.BORDER_CONSTANT)
    image = np.hstack([image, legend[:image.shape[0]]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), image)
    print(f"wrote {args.out} ({len(tracks)} tracks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
