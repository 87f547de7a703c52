"""Picture geometry: the display matrix (a portrait phone clip) and sizes no analysis can use."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from foleydesigner.errors import InputError
from foleydesigner.tools.video import display_rotation, iter_frames, probe_video
from tests.helpers import run_cli


def _clip(path: Path, width: int, height: int, *, rotation: int = 0, codec: str = "libx264",
          fmt: str = "yuv420p", n: int = 6) -> Path:
    """A short clip, white on its left quarter, with a display matrix turning it `rotation` degrees CCW."""
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=10)
        s.width, s.height, s.pix_fmt = width, height, fmt
        if rotation:
            s.set_display_rotation(rotation)
        for _ in range(n):
            img = np.zeros((height, width, 3), np.uint8)
            img[:, : width // 4] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24") if fmt != "gray" else \
                av.VideoFrame.from_ndarray(img[..., 0], format="gray")
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


@pytest.mark.parametrize(("rotation", "white_at"), [(90, "bottom"), (270, "top"), (180, "right")])
def test_display_matrix_turns_the_picture_for_analysis(tmp_path: Path, rotation: int, white_at: str) -> None:
    clip = _clip(tmp_path / "phone.mp4", 64, 32, rotation=rotation)
    assert display_rotation(clip) == rotation
    info = probe_video(clip)
    assert (info.width, info.height) == ((32, 64) if rotation in (90, 270) else (64, 32))
    image = next(iter(iter_frames(clip))).image
    assert image.shape[:2] == (info.height, info.width)
    luma = image[..., 1].astype(float)
    # Turned 90° counter-clockwise, the stored left edge is shown at the bottom (and at the top for 270°).
    side = {"bottom": luma[-8:], "top": luma[:8], "right": luma[:, -8:]}[white_at]
    assert side.mean() > 200 and luma.mean() < 128
    small = next(iter(iter_frames(clip, max_width=16))).image
    assert small.shape[1] == 16  # the analysis size follows the turned picture


def test_unrotated_clip_reads_as_stored(tmp_path: Path) -> None:
    clip = _clip(tmp_path / "plain.mp4", 64, 32)
    assert display_rotation(clip) == 0 and (probe_video(clip).width, probe_video(clip).height) == (64, 32)


def test_absurd_picture_sizes_are_one_line_errors(tmp_path: Path, monkeypatch, capsys) -> None:
    thin = _clip(tmp_path / "thin.avi", 1, 1000, codec="rawvideo", fmt="gray", n=3)
    with pytest.raises(InputError, match="1x1000"):
        probe_video(thin)
    code, out, err = run_cli(monkeypatch, capsys, ["run", str(thin), "--out", str(tmp_path / "o")])
    assert code == 2 and "1x1000 pixels" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
