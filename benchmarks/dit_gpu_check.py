"""GPU check of the full-size FoleyDiT (Stable Audio Open sizes + clue injection), random init, no downloads.

Builds the `full` recipe's DiT on CUDA, then measures: a bf16 forward at batch 1 (10 s clip = 216 latent frames
at 44.1 kHz / 2048), a few AdamW training steps at batch 8 under bf16 autocast (the paper's batch), 25 Euler
sampling steps with text + clue guidance (3 branches), and, unless --no-vae, an Oobleck decode of 10 s with a
random-init VAE of SAO's size. Prints one JSON line with times and peak memory. Exits with code 2 and a clear
message when no CUDA device is present (`--allow-cpu --config small` runs the same code path on CPU as a dry run).

    python benchmarks/dit_gpu_check.py                 # on a GPU machine (~1-2 min)
    python benchmarks/dit_gpu_check.py --allow-cpu --config small --steps 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from foleydesigner.generation.dit.model import build_dit, get_recipe  # noqa: E402
from foleydesigner.generation.dit.sampling import flow_pair, sample_latents, sample_times  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="full")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5, help="training steps to time (the first is warm-up)")
    ap.add_argument("--grad-checkpointing", action="store_true")
    ap.add_argument("--no-vae", action="store_true")
    ap.add_argument("--allow-cpu", action="store_true", help="dry run on CPU (use with --config small)")
    args = ap.parse_args(argv)

    if not torch.cuda.is_available() and not args.allow_cpu:
        print("dit_gpu_check: no CUDA device visible (torch.cuda.is_available() is False); run this on a GPU "
              "machine, or pass --allow-cpu --config small for a CPU dry run.", file=sys.stderr)
        sys.exit(2)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    recipe = get_recipe(args.config)
    sr, hop = recipe.codec["sample_rate"], recipe.codec["hop"]
    n_lat = math.ceil(args.seconds * sr / hop)
    torch.manual_seed(0)
    t = time.perf_counter()
    model = build_dit(recipe).to(device)
    build_s = time.perf_counter() - t
    if args.grad_checkpointing:
        model.enable_gradient_checkpointing()
    cfg = model.config
    n_params = sum(p.numel() for p in model.parameters())
    n_clue = sum(p.numel() for n, p in model.named_parameters() if n.startswith("clue_"))
    report: dict = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "config": recipe.name,
                    "params_m": round(n_params / 1e6, 1), "clue_params_m": round(n_clue / 1e6, 1),
                    "injection_layers": model.injection_layers, "latent_frames": n_lat, "build_s": round(build_s, 2)}

    def batch(b: int) -> tuple[torch.Tensor, ...]:
        x0 = torch.randn(b, cfg.in_channels, n_lat, device=device)
        enc = torch.randn(b, 130, cfg.cross_attention_input_dim, device=device)  # 128 T5 tokens + 2 seconds tokens
        glob = torch.randn(b, 1, cfg.global_states_input_dim, device=device)
        clues = torch.rand(b, n_lat * model.clue_oversample, 3, device=device)
        return x0, enc, glob, clues

    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    model.eval()
    x0, enc, glob, clues = batch(1)
    with torch.no_grad(), amp:
        for i in range(3):
            _sync(device)
            t = time.perf_counter()
            model(x0, torch.rand(1, device=device), enc, glob, clues=clues)
            _sync(device)
            if i == 0:
                report["forward_first_ms"] = round((time.perf_counter() - t) * 1e3, 1)
        report["forward_b1_ms"] = round((time.perf_counter() - t) * 1e3, 1)

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-5)
    x0, enc, glob, clues = batch(args.batch_size)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.steps):
        _sync(device)
        t = time.perf_counter()
        tt = sample_times(args.batch_size).to(device)
        xt, target = flow_pair(x0, tt, torch.randn_like(x0))
        with amp:
            pred = model(xt, tt, enc, glob, clues=clues, clue_keep=torch.ones(args.batch_size, device=device))[0]
        loss = torch.nn.functional.mse_loss(pred.float(), target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        times.append(time.perf_counter() - t)
    report["train_step_s"] = round(sum(times[1:]) / max(len(times) - 1, 1), 3)
    report["train_batch"] = args.batch_size
    report["loss_last"] = round(float(loss), 4)
    if device.type == "cuda":
        report["train_peak_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)

    model.eval()
    del opt
    x0, enc, glob, clues = batch(1)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model.to(torch.bfloat16 if device.type == "cuda" else torch.float32)
    _sync(device)
    t = time.perf_counter()
    z = sample_latents(model, shape=(1, cfg.in_channels, n_lat), enc_text=enc, enc_null=torch.zeros_like(enc),
                       global_states=glob, clues=clues, steps=25, cfg_text=2.0, cfg_clues=1.0)
    _sync(device)
    report["sample_25_steps_s"] = round(time.perf_counter() - t, 2)
    report["sample_finite"] = bool(torch.isfinite(z).all())

    if not args.no_vae and recipe.codec["kind"] == "oobleck":
        from diffusers import AutoencoderOobleck

        vae = AutoencoderOobleck().to(device).eval()  # SAO's default config: 44.1 kHz, hop 2048, 64 channels
        report["vae_params_m"] = round(sum(p.numel() for p in vae.parameters()) / 1e6, 1)
        _sync(device)
        t = time.perf_counter()
        with torch.no_grad():
            audio = vae.decode(z.float()).sample
        _sync(device)
        report["vae_decode_10s_s"] = round(time.perf_counter() - t, 2)
        report["vae_audio_shape"] = list(audio.shape)
    if device.type == "cuda":
        report["inference_peak_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
