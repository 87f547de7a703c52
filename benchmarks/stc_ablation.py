"""STC ablation at small scale (paper, Ablation Study: "w/o STC" vs full model).

Trains the `small` FoleyDiT twice on the same synthetic FilmStereo-like data, with the same seed and steps —
once with spatio-temporal clue injection, once with it disabled — then samples held-out trajectories and scores
the generated stereo against the truth:

- azimuth error (deg): `estimate_azimuth_deg` per 0.24 s window vs the true azimuth at the window centre, over
  windows where the event is active and the audio is above the estimator's floor;
- GCC-MSE (ms² × 1000, SpatialSonic): vs the reference renders;
- activation IoU: per video frame, "sounding" = frame RMS (held over ±1 frame) within 30 dB of the clip's
  loudest frame, vs the true activation.

The same scores of the reference renders themselves (after the codec round trip) are reported as the floor.
The last line printed is one JSON object. `--quick` (default sizes below) targets ~8 min on 2 idle cores.

    python benchmarks/stc_ablation.py --quick
    python benchmarks/stc_ablation.py --out /tmp/stc_full      # larger data, more steps (~30-40 min)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from foleydesigner.eval.metrics import activation_iou, azimuth_error_deg, estimate_azimuth_deg, gcc_mse  # noqa: E402
from foleydesigner.generation.dit.backend import load_checkpoint  # noqa: E402
from foleydesigner.generation.dit.codec import resample_audio  # noqa: E402
from foleydesigner.generation.dit.data import load_items, make_dataset  # noqa: E402
from foleydesigner.generation.dit.model import get_recipe  # noqa: E402
from foleydesigner.generation.dit.sampling import sample_latents  # noqa: E402
from foleydesigner.generation.dit.train import prepare_training_set, train  # noqa: E402

log = logging.getLogger("stc_ablation")

QUICK = {"n_train": 800, "n_test": 24, "steps": 700}
FULL = {"n_train": 3000, "n_test": 64, "steps": 3000}


def auto_threads() -> int:
    """All cores on an idle machine; one thread when other processes keep it busy, because spinning OpenMP
    workers of a small model then lose far more to oversubscription than the second thread gains."""
    cores = os.cpu_count() or 1
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return cores if busy < 0.5 else 1


def frame_activation(audio: np.ndarray, sr: int, fps: float, n_frames: int, *, range_db: float = 30.0) -> np.ndarray:
    """Envelope -> per video frame activity: frame RMS (dB), held over ±1 frame so the gaps between the hits of
    an active impulsive event (footsteps, hooves) are bridged, then "on" within range_db of the loudest frame
    (and above -80 dBFS)."""
    from scipy.ndimage import maximum_filter1d

    hop = int(round(sr / fps))
    mono = audio.mean(axis=0)
    mono = np.pad(mono, (0, max(0, n_frames * hop - mono.size)))[: n_frames * hop]
    db = 10.0 * np.log10(np.mean(mono.reshape(n_frames, hop) ** 2, axis=1) + 1e-12)
    db = maximum_filter1d(db, size=3, mode="nearest")
    return ((db > db.max() - range_db) & (db > -80.0)).astype(np.uint8)


def score(audio: list[np.ndarray], sr: int, items, reference: list[np.ndarray]) -> dict[str, float]:
    """Azimuth error, GCC-MSE vs reference and activation IoU for a list of generated (2, n) clips."""
    errs, ious = [], []
    fps = 1.0 / float(np.median(np.diff(items.t_s)))
    for i, x in enumerate(audio):
        times, az, valid = estimate_azimuth_deg(x, sr, window_s=0.24)
        frame = np.clip(np.round(times * fps).astype(int), 0, len(items.t_s) - 1)
        truth = np.interp(times, items.t_s, items.azimuth_deg[i])
        active = items.activation[i][frame] > 0
        e = azimuth_error_deg(az, truth, valid & active)
        if np.isfinite(e):
            errs.append(e)
        n_frames = len(items.t_s)
        ious.append(activation_iou(frame_activation(x, sr, fps, n_frames), items.activation[i]))
    return {
        "azimuth_err": float(np.mean(errs)) if errs else float("nan"),
        "gcc_mse": gcc_mse(audio, reference, sr),
        "iou": float(np.mean(ious)),
        "n_scored": len(errs),
    }


def generate(ckpt: Path, test_manifest: Path, *, steps: int, cfg_text: float, cfg_clues: float, seed: int
             ) -> tuple[list[np.ndarray], int]:
    """Sample every held-out item in one batch (same noise for both arms) and decode to stereo."""
    ck = load_checkpoint(ckpt)
    data = prepare_training_set(test_manifest, ck.recipe, ck.codec, ck.text, ck.dit.clue_oversample)
    n = len(data)
    zeros, ones = torch.zeros(n), torch.ones(n)
    with torch.no_grad():
        enc, glob = ck.text(data.tokens, zeros, data.seconds, ones)
        enc_null, _ = ck.text(data.tokens, zeros, data.seconds, zeros)
    gen = torch.Generator().manual_seed(seed)
    z = sample_latents(ck.dit, shape=tuple(data.latents.shape), enc_text=enc, enc_null=enc_null, global_states=glob,
                       clues=data.clues if ck.meta.get("use_clues", True) else None, steps=steps, cfg_text=cfg_text,
                       cfg_clues=cfg_clues, generator=gen)
    audio = ck.codec.decode(z, generator=gen).numpy()
    return [a for a in audio], ck.codec.sample_rate


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small data and few steps (~8 min on 2 cores)")
    ap.add_argument("--out", type=Path, default=None, help="work folder (default: a temp folder)")
    ap.add_argument("--n-train", type=int)
    ap.add_argument("--n-test", type=int)
    ap.add_argument("--steps", type=int, help="training steps per arm")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3,
                    help="from-scratch small model; the paper's 3e-5 is for fine-tuning a pretrained 1 B model")
    ap.add_argument("--clue-lr-mult", type=float, default=None, help="default: the small recipe's (10)")
    ap.add_argument("--spatial-weight", type=float, default=None, help="default: the small recipe's (4)")
    ap.add_argument("--sample-steps", type=int, default=25)
    ap.add_argument("--cfg-text", type=float, default=1.0)
    ap.add_argument("--cfg-clues", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads (0: auto — all cores when the machine is idle, else 1)")
    ap.add_argument("--arms", default="with,without", help="comma list of arms to run: with, without")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads or auto_threads())
    sizes = dict(QUICK if args.quick else FULL)
    for key in ("n_train", "n_test", "steps"):
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    extra = get_recipe("small").extra
    clue_lr_mult = extra.get("clue_lr_mult", 1.0) if args.clue_lr_mult is None else args.clue_lr_mult
    spatial_weight = extra.get("spatial_loss_weight", 1.0) if args.spatial_weight is None else args.spatial_weight
    out = args.out or Path(tempfile.mkdtemp(prefix="stc_ablation_"))
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def data(name: str, n: int, seed: int) -> Path:
        manifest = out / name / "manifest.json"
        if manifest.is_file() and json.loads(manifest.read_text())["n_items"] == n:
            return manifest  # reuse: the dataset is a pure function of (n, seed)
        return make_dataset(out / name, n_items=n, duration_s=3.0, seed=seed, shard_size=256, sample_rate=16_000)

    train_m = data("train", sizes["n_train"], args.seed)
    test_m = data("test", sizes["n_test"], args.seed + 10_000)  # held-out trajectories: a disjoint RNG stream
    timings["data_s"] = time.perf_counter() - t0
    items = load_items(test_m)
    results: dict[str, dict] = {}
    ref_audio = None
    for arm in [a.strip() for a in args.arms.split(",") if a.strip()]:
        use = arm == "with"
        t = time.perf_counter()
        ckpt = train("small", train_m, out / f"run_{arm}", steps=sizes["steps"], batch_size=args.batch_size,
                     lr=args.lr, use_clues=use, seed=args.seed, log_every=25, progress=False,
                     clue_lr_mult=clue_lr_mult, spatial_loss_weight=spatial_weight)
        timings[f"train_{arm}_s"] = time.perf_counter() - t
        t = time.perf_counter()
        audio, sr = generate(ckpt, test_m, steps=args.sample_steps, cfg_text=args.cfg_text, cfg_clues=args.cfg_clues,
                             seed=args.seed + 1)
        ref_audio = [resample_audio(a, items.sample_rate, sr) for a in items.audio]
        results[arm] = score(audio, sr, items, ref_audio)
        timings[f"sample_{arm}_s"] = time.perf_counter() - t
        log.info("%s clues: %s", arm, results[arm])
    assert ref_audio is not None
    reference = score(ref_audio, sr, items, ref_audio)
    summary: dict = {"quick": args.quick, **sizes, "lr": args.lr, "batch_size": args.batch_size,
                     "cfg_text": args.cfg_text, "cfg_clues": args.cfg_clues, "sample_steps": args.sample_steps,
                     "threads": torch.get_num_threads(), "clue_lr_mult": clue_lr_mult,
                     "spatial_weight": spatial_weight,
                     "azimuth_err_reference": reference["azimuth_err"], "iou_reference": reference["iou"]}
    for arm, tag in (("with", "with_stc"), ("without", "without_stc")):
        if arm in results:
            summary[f"azimuth_err_{tag}"] = results[arm]["azimuth_err"]
            summary[f"gcc_mse_{tag}"] = results[arm]["gcc_mse"]
            summary[f"iou_{tag}"] = results[arm]["iou"]
    if "with" in results and "without" in results:
        ratio = results["with"]["azimuth_err"] / results["without"]["azimuth_err"]
        summary["azimuth_err_ratio"] = ratio
        summary["target_met"] = bool(ratio <= 0.5)
    timings["total_s"] = time.perf_counter() - t0
    summary["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
    summary["out_dir"] = str(out)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
