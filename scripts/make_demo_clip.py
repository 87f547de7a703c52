"""Cut the bundled demo clip from Debian's opencv-doc `vtest.avi` (pedestrians walking, 768x576, 10 fps).

    apt-get download opencv-doc && dpkg-deb --fsys-tarfile opencv-doc_*.deb | \
        tar -x ./usr/share/doc/opencv-doc/examples/data/vtest.avi
    python scripts/make_demo_clip.py usr/share/doc/opencv-doc/examples/data/vtest.avi

Writes foleydesigner/data/demo_vtest.mp4: 10 s from START_S, H.264 (yuv420p, CRF 23), no audio.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av

START_S = 20.0
DURATION_S = 10.0
OUT = Path(__file__).resolve().parents[1] / "foleydesigner" / "data" / "demo_vtest.mp4"


def main(src: str) -> None:
    with av.open(src) as inp, av.open(str(OUT), "w") as out:
        vin = inp.streams.video[0]
        fps = Fraction(vin.average_rate or 10)
        vout = out.add_stream("libx264", rate=fps, options={"crf": "23", "preset": "slow"})
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        n = 0
        for i, frame in enumerate(inp.decode(vin)):
            if i < START_S * fps:
                continue
            if n >= DURATION_S * fps:
                break
            new = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24").reformat(format="yuv420p")
            new.pts = n
            new.time_base = 1 / fps
            out.mux(vout.encode(new))
            n += 1
        out.mux(vout.encode(None))
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB, {n} frames)")


if __name__ == "__main__":
    main(sys.argv[1])
