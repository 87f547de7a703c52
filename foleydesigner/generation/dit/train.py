"""Training loop for FoleyDiT (paper, Loss & Training: lr 3e-5, batch 8), on CPU or CUDA through accelerate.

Rectified-flow regression on codec latents; classifier-free dropout of the text (p_drop_text) and of the clue
branch (p_drop_clues) so sampling can guide on each; EMA of the weights with a warm-up (decay
min(ema, (1 + step) / (10 + step))) so short runs are not dominated by the initial weights; bf16 autocast on
GPU; checkpoint + resume; loss log as JSON lines. `use_clues=False` trains the same model with the injection
branch never run (the w/o-STC ablation): its gates stay at zero and its parameters receive no gradient.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from foleydesigner.generation.dit.backend import build_components, save_checkpoint
from foleydesigner.generation.dit.clues import resample_clues
from foleydesigner.generation.dit.codec import AudioCodec, resample_audio
from foleydesigner.generation.dit.data import caption_for, load_items
from foleydesigner.generation.dit.model import DiTRecipe, get_recipe
from foleydesigner.generation.dit.sampling import flow_pair, sample_times

log = logging.getLogger(__name__)


@dataclass
class TrainingSet:
    latents: torch.Tensor  # (N, C, L)
    clues: torch.Tensor  # (N, L * oversample, 3)
    tokens: Any  # LongTensor (N, S) or a dict of them (T5)
    seconds: torch.Tensor  # (N,)

    def __len__(self) -> int:
        return self.latents.shape[0]


def _manifest_path(data_dir: str | Path) -> Path:
    p = Path(data_dir)
    p = p / "manifest.json" if p.is_dir() else p
    if not p.is_file():
        raise FileNotFoundError(f"no manifest.json at {data_dir}; make one with dit.data.make_dataset")
    return p


def prepare_training_set(manifest: Path, recipe: DiTRecipe, codec: AudioCodec, text: Any, oversample: int) -> TrainingSet:
    """Load all items, cut them into recipe.item_s windows at the codec rate, encode once, build clue grids."""
    items = load_items(manifest)
    audio = resample_audio(items.audio, items.sample_rate, codec.sample_rate)
    n_item = int(round(recipe.item_s * codec.sample_rate))
    n_lat = math.ceil(n_item / codec.hop)
    latent_rate = codec.sample_rate / codec.hop
    fps = 1.0 / float(np.median(np.diff(items.t_s))) if len(items.t_s) > 1 else 25.0
    n_win = max(1, audio.shape[-1] // n_item)
    wins, grids, labels, captions = [], [], [], []
    for i in range(audio.shape[0]):
        for w in range(n_win):
            chunk = audio[i, :, w * n_item : (w + 1) * n_item]
            wins.append(np.pad(chunk, ((0, 0), (0, n_item - chunk.shape[-1]))))
            t0 = w * recipe.item_s
            frames = (items.t_s >= t0 - 0.5 / fps) & (items.t_s < t0 + recipe.item_s)
            t = items.t_s[frames] - t0
            az, dp, act = items.azimuth_deg[i][frames], items.depth_m[i][frames], items.activation[i][frames]
            grids.append(resample_clues(t, dp, az, act, n_latent=n_lat, latent_rate=latent_rate, oversample=oversample))
            labels.append(items.labels[i])
            captions.append(caption_for(items.labels[i], az, dp, act))
    latents = []
    with torch.no_grad():
        for s in range(0, len(wins), 64):
            latents.append(codec.encode(torch.from_numpy(np.stack(wins[s : s + 64]))))
    return TrainingSet(
        latents=torch.cat(latents)[..., :n_lat].float(),
        clues=torch.from_numpy(np.stack(grids)),
        tokens=text.tokenize(labels, captions),
        seconds=torch.full((len(wins),), float(recipe.item_s)),
    )


def _take(tokens: Any, idx: torch.Tensor, device: torch.device) -> Any:
    if isinstance(tokens, dict):
        return {k: v[idx].to(device) for k, v in tokens.items()}
    return tokens[idx].to(device)


def train(
    config_name: str,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    steps: int,
    batch_size: int = 8,
    lr: float = 3e-5,
    ema: float = 0.999,
    resume: bool = False,
    device: str | None = None,
    use_clues: bool = True,
    seed: int = 0,
    log_every: int = 10,
    warmup_steps: int | None = None,
    save_every: int | None = None,
    pretrained: str | Path | None = None,
    progress: bool = True,
    clue_lr_mult: float | None = None,
    spatial_loss_weight: float | None = None,
) -> Path:
    """Train `config_name` ("tiny", "small", "full") on the dataset at data_dir; returns the checkpoint folder.

    out_dir gets `checkpoint/` (EMA weights, what the `dit` backend loads), `train_state.pt` (for resume) and
    `loss.jsonl`. `pretrained` is a local Stable Audio Open diffusers folder: required by "full" (T5, Oobleck),
    optional otherwise (its transformer/ becomes the base DiT, so its shapes must match the recipe; the clue
    blocks start gated off). `clue_lr_mult` (lr factor of the clue encoder and injection blocks) and
    `spatial_loss_weight` (loss weight of the codec's interaural channels) default to the recipe's values.
    """
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    if steps < 1 or batch_size < 1 or lr <= 0 or not 0.0 <= ema < 1.0:
        raise ValueError(f"need steps >= 1, batch_size >= 1, lr > 0, 0 <= ema < 1; got {steps}, {batch_size}, {lr}, {ema}")
    recipe = get_recipe(config_name)
    clue_lr_mult = recipe.extra.get("clue_lr_mult", 1.0) if clue_lr_mult is None else clue_lr_mult
    spatial_loss_weight = recipe.extra.get("spatial_loss_weight", 1.0) if spatial_loss_weight is None else spatial_loss_weight
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cpu = device == "cpu" or (device is None and not torch.cuda.is_available())
    acc = Accelerator(cpu=cpu, mixed_precision="no" if cpu else "bf16")
    torch.manual_seed(seed)
    dit, text, codec = build_components(recipe, pretrained=pretrained)
    data = prepare_training_set(_manifest_path(data_dir), recipe, codec, text, dit.clue_oversample)
    log.info("training %s on %d windows, latent %s, %.2f M params", recipe.name, len(data),
             tuple(data.latents.shape[1:]), sum(p.numel() for p in dit.parameters()) / 1e6)

    # The T5 conditioner stays frozen, as in Stable Audio; the small hashed encoder trains with the DiT.
    trainable = nn.ModuleDict({"dit": dit, "text": text})
    named = [(name, p) for name, p in trainable.named_parameters()
             if p.requires_grad and not (name.startswith("text.text_encoder") or name.startswith("text.projection"))]
    params = [p for _, p in named]
    is_clue = [name.startswith(("dit.clue_encoder", "dit.clue_injections")) for name, _ in named]
    # The clue blocks start gated off; with Adam a gate moves ~lr per step, so new blocks may get a larger lr.
    groups = [{"params": [p for (_, p), c in zip(named, is_clue, strict=True) if not c], "lr": lr},
              {"params": [p for (_, p), c in zip(named, is_clue, strict=True) if c], "lr": lr * clue_lr_mult}]
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99), weight_decay=1e-3)
    weight = torch.ones(codec.latent_channels)
    spatial = getattr(codec, "spatial_channels", None)
    if spatial is not None:
        # Interaural channels are few (9 of 49 at small size) but carry what the clues decide: weight them up.
        weight[spatial] = spatial_loss_weight
    weight = (weight / weight.mean()).view(1, -1, 1)
    warm = min(100, steps // 10) if warmup_steps is None else warmup_steps

    def schedule(step: int) -> float:
        # Linear warm-up, then cosine down to 10 %: short CPU runs end on small, stable updates.
        if step < warm:
            return (step + 1) / max(warm, 1)
        frac = (step - warm) / max(steps - warm, 1)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    trainable, opt, sched = acc.prepare(trainable, opt, sched)
    model = acc.unwrap_model(trainable)
    ema_model = copy.deepcopy(model).requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    start = 0
    state_path = out / "train_state.pt"
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        ema_model.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        start = int(state["step"])
        log.info("resumed from step %d", start)
    meta = {"use_clues": use_clues, "config": recipe.name, "lr": lr, "batch_size": batch_size, "seed": seed,
            "clue_lr_mult": clue_lr_mult, "spatial_loss_weight": spatial_loss_weight,
            "pretrained": str(pretrained) if pretrained else None}

    def checkpoint(step: int) -> Path:
        folder = save_checkpoint(out / "checkpoint", ema_model["dit"], ema_model["text"], codec, recipe,
                                 {**meta, "step": step})
        torch.save({"model": model.state_dict(), "ema": ema_model.state_dict(), "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "gen": gen.get_state(), "step": step}, out / "train_state.tmp")
        (out / "train_state.tmp").replace(state_path)
        return folder

    every = save_every or max(steps // 4, 50)
    dev = acc.device
    model.train()
    running, t0 = [], time.perf_counter()
    log_file = (out / "loss.jsonl").open("a" if start else "w")  # a fresh run starts a fresh log
    bar = tqdm(range(start, steps), initial=start, total=steps, disable=not progress, desc=f"train {recipe.name}")
    folder = out / "checkpoint"
    for step in bar:
        idx = torch.randint(len(data), (batch_size,), generator=gen)
        x0 = data.latents[idx].to(dev)
        keep_text = (torch.rand(batch_size, generator=gen) >= recipe.p_drop_text).float().to(dev)
        keep_clue = (torch.rand(batch_size, generator=gen) >= recipe.p_drop_clues).float().to(dev)
        t = sample_times(batch_size, generator=gen, device=dev)
        xt, target = flow_pair(x0, t, torch.randn(x0.shape, generator=gen).to(dev))
        with acc.autocast():
            enc, glob = model["text"](_take(data.tokens, idx, dev), torch.zeros_like(t), data.seconds[idx].to(dev), keep_text)
            pred = model["dit"](xt, t, enc, glob, clues=data.clues[idx].to(dev) if use_clues else None,
                                clue_keep=keep_clue)[0]
        loss = ((pred.float() - target) ** 2 * weight.to(dev)).mean()
        acc.backward(loss)
        acc.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        decay = min(ema, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            for e, p in zip(ema_model.parameters(), model.parameters(), strict=True):
                e.lerp_(p.detach(), 1.0 - decay)
        running.append(loss.detach().item())
        if (step + 1) % log_every == 0 or step + 1 == steps:
            rec = {"step": step + 1, "loss": float(np.mean(running)), "lr": sched.get_last_lr()[0],
                   "elapsed_s": round(time.perf_counter() - t0, 2)}
            log_file.write(json.dumps(rec) + "\n")
            log_file.flush()
            bar.set_postfix(loss=f"{rec['loss']:.4f}")
            running = []
        if (step + 1) % every == 0 or step + 1 == steps:
            folder = checkpoint(step + 1)
    log_file.close()
    if start >= steps:
        folder = checkpoint(start)
    return folder
