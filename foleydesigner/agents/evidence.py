"""Text the agents read about the visual evidence (shared by FilmScribe, its validator and the writer)."""

from __future__ import annotations

from foleydesigner.schemas import Track


def side_of(x_center: float, width: float) -> str:
    third = width / 3.0
    return "left" if x_center < third else "right" if x_center > 2 * third else "centre"


def track_path(track: Track) -> str:
    x0 = track.boxes[0][0] + track.boxes[0][2] / 2
    x1 = track.boxes[-1][0] + track.boxes[-1][2] / 2
    a, b = side_of(x0, track.frame_width), side_of(x1, track.frame_width)
    return a if a == b else f"{a}->{b}"


def track_summary(tracks: list[Track]) -> str:
    if not tracks:
        return "(no moving objects found)"
    lines = []
    for t in tracks:
        onsets = ", ".join(f"{o:.2f}" for o in t.onsets_s[:12]) + (" …" if len(t.onsets_s) > 12 else "")
        lines.append(f"- track {t.id}: {t.label}, {t.motion}, {t.start_s:.2f}-{t.end_s:.2f} s, {track_path(t)}, "
                     f"onsets [{onsets}]")
    return "\n".join(lines)
