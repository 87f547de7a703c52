"""The `dit` generator backend: a trained FoleyDiT checkpoint turns one event + its clues into a stereo stem.

Checkpoint folder layout (written by `save_checkpoint`, read by `load_checkpoint`):
`transformer/` (FoleyDiT, diffusers save_pretrained), `text_encoder/` (small configs; the full config's T5 stays
in the Stable Audio Open folder named in recipe.json), `codec/` (codec.json, plus `vae/` for Oobleck) and
`recipe.json` (the DiTRecipe and training facts such as `use_clues`).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from foleydesigner.errors import BackendError
from foleydesigner.generation.base import GenerationRequest, GenerationResult
from foleydesigner.generation.dit.clues import resample_clues
from foleydesigner.generation.dit.codec import AudioCodec, OobleckCodec, build_codec, resample_audio
from foleydesigner.generation.dit.data import caption_for
from foleydesigner.generation.dit.model import DiTRecipe, FoleyDiT
from foleydesigner.generation.dit.sampling import sample_latents
from foleydesigner.generation.dit.text import HashedTextEncoder, T5TextConditioner

log = logging.getLogger(__name__)

#: Seconds shared by consecutive windows of a long clip, cross-faded with equal power (independent noise).
WINDOW_OVERLAP_S = 0.5


def build_components(recipe: DiTRecipe, *, pretrained: str | Path | None = None) -> tuple[FoleyDiT, Any, AudioCodec]:
    """Fresh (or Stable-Audio-initialised) DiT, text conditioner and codec for a recipe."""
    root = Path(pretrained) if pretrained else None
    if root is not None and not root.is_dir():
        raise BackendError(f"pretrained folder {root} does not exist (a local Stable Audio Open diffusers folder)")
    if recipe.text["kind"] == "t5":
        if root is None:
            raise BackendError(f"config '{recipe.name}' needs pretrained=PATH, a local Stable Audio Open folder "
                               "(T5, projection model, Oobleck VAE); nothing is downloaded")
        text: Any = T5TextConditioner.from_folder(root, recipe.text.get("max_tokens", 128))
    else:
        text = HashedTextEncoder(**{k: v for k, v in recipe.text.items() if k != "kind"})
    codec = build_codec(recipe.codec, root)
    if root is not None and (root / "transformer" / "config.json").is_file():
        clue_kwargs = {k: v for k, v in recipe.dit.items() if k.startswith("clue_")}
        # low_cpu_mem_usage=False: otherwise the new clue modules stay on the meta device (feasibility §2).
        dit = FoleyDiT.from_pretrained(root / "transformer", low_cpu_mem_usage=False, local_files_only=True, **clue_kwargs)
    else:
        dit = FoleyDiT(**recipe.dit)
    return dit, text, codec


def save_checkpoint(folder: Path, dit: FoleyDiT, text: Any, codec: AudioCodec, recipe: DiTRecipe, meta: dict[str, Any]) -> Path:
    """Write the checkpoint next to `folder`, then swap it in, so a crash never leaves a half-written one."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    dit.save_pretrained(tmp / "transformer")
    if isinstance(text, HashedTextEncoder):
        text.save_pretrained(tmp / "text_encoder")
    codec.save(tmp / "codec")
    (tmp / "recipe.json").write_text(json.dumps({"recipe": recipe.to_dict(), "meta": meta}, indent=2))
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        folder.replace(old)
    tmp.replace(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


@dataclass
class LoadedCheckpoint:
    dit: FoleyDiT
    text: Any
    codec: AudioCodec
    recipe: DiTRecipe
    meta: dict[str, Any]


def load_checkpoint(folder: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    root = Path(folder)
    if not (root / "recipe.json").is_file():
        raise BackendError(f"{root} is not a FoleyDiT checkpoint (no recipe.json); train one with `foley train`")
    info = json.loads((root / "recipe.json").read_text())
    recipe, meta = DiTRecipe.from_dict(info["recipe"]), info.get("meta", {})
    dit = FoleyDiT.from_pretrained(root / "transformer", local_files_only=True).to(device).eval()
    if recipe.text["kind"] == "t5":
        if not meta.get("pretrained"):
            raise BackendError(f"{root}: a T5-conditioned checkpoint needs the Stable Audio Open folder it was trained from")
        text: Any = T5TextConditioner.from_folder(meta["pretrained"], recipe.text.get("max_tokens", 128))
    else:
        text = HashedTextEncoder.from_pretrained(root / "text_encoder", local_files_only=True)
    text = text.to(device).eval()
    spec = json.loads((root / "codec" / "codec.json").read_text())
    codec = OobleckCodec.from_folder(root / "codec") if spec["kind"] == "oobleck" else build_codec(spec)
    return LoadedCheckpoint(dit, text, codec, recipe, meta)


def canonical_label(label: str, description: str = "") -> str:
    """The training class name for a script label ('Foot steps on gravel' -> 'footsteps') when the procedural
    lexicon knows it, so the class token matches what the model saw in training; else the label unchanged."""
    try:
        from foleydesigner.generation.procedural import resolve_class
    except ImportError:  # the procedural library is optional for this backend
        return label
    return resolve_class(label) or resolve_class(f"{label} {description}") or label


def _resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    return resample_audio(audio, sr_in, sr_out)


class DiTGenerator:
    """FoleyGenerator over a FoleyDiT checkpoint. Clips longer than the model's item length are generated as
    overlapping windows (each with its own slice of the clues and its own caption) and cross-faded."""

    name = "dit"

    def __init__(self, checkpoint: str | Path, *, steps: int = 25, cfg_text: float = 1.0, cfg_clues: float = 1.0,
                 device: str | None = None) -> None:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.ckpt = load_checkpoint(checkpoint, self.device)
        self.checkpoint, self.steps, self.cfg_text, self.cfg_clues = Path(checkpoint), steps, cfg_text, cfg_clues

    @property
    def window_s(self) -> float:
        return float(self.ckpt.recipe.item_s)

    def _window_inputs(self, request: GenerationRequest, starts: list[float], label: str) -> tuple[torch.Tensor, list[str]]:
        c, codec = request.clues, self.ckpt.codec
        t = np.asarray(c.t_s, dtype=float)
        az, dp, act = (np.asarray(v, dtype=float) for v in (c.azimuth_deg, c.depth_m, c.activation))
        n_lat = math.ceil(self.window_s * codec.sample_rate / codec.hop)
        grids, captions = [], []
        for s in starts:
            grids.append(resample_clues(t, dp, az, act, n_latent=n_lat, latent_rate=codec.sample_rate / codec.hop,
                                        oversample=self.ckpt.dit.clue_oversample, start_s=s))
            inside = (t >= s) & (t < s + self.window_s)
            sel = inside if inside.any() else np.abs(t - s) == np.abs(t - s).min()
            captions.append(caption_for(label, az[sel], dp[sel], act[sel]))
        return torch.from_numpy(np.stack(grids)), captions

    @torch.no_grad()
    def generate(self, request: GenerationRequest) -> GenerationResult:
        ck, codec = self.ckpt, self.ckpt.codec
        win, hop = self.window_s, self.window_s - WINDOW_OVERLAP_S
        n_win = 1 if request.duration_s <= win else 1 + math.ceil((request.duration_s - win) / hop)
        starts = [i * hop for i in range(n_win)]
        label = canonical_label(request.event.label, request.event.description)
        clues, captions = self._window_inputs(request, starts, label)
        labels = [label] * n_win
        tokens = ck.text.tokenize(labels, captions)
        tokens = {k: v.to(self.device) for k, v in tokens.items()} if isinstance(tokens, dict) else tokens.to(self.device)
        secs = torch.full((n_win,), win, device=self.device)
        zeros = torch.zeros(n_win, device=self.device)
        enc, glob = ck.text(tokens, zeros, secs, torch.ones(n_win, device=self.device))
        enc_null, _ = ck.text(tokens, zeros, secs, zeros)
        n_lat = clues.shape[1] // ck.dit.clue_oversample
        gen = torch.Generator().manual_seed(int(request.seed))
        use_clues = bool(ck.meta.get("use_clues", True))
        latents = sample_latents(
            ck.dit, shape=(n_win, codec.latent_channels, n_lat), enc_text=enc, enc_null=enc_null, global_states=glob,
            clues=clues.to(self.device) if use_clues else None, steps=self.steps, cfg_text=self.cfg_text,
            cfg_clues=self.cfg_clues, generator=gen,
        )
        windows = codec.decode(latents, generator=gen).numpy()
        audio = self._overlap_add(windows, hop, codec.sample_rate, request.duration_s)
        audio = _resample(audio, codec.sample_rate, request.sample_rate)
        n = request.n_samples
        audio = np.pad(audio, ((0, 0), (0, max(0, n - audio.shape[1]))))[:, :n]
        info = {"generator": "dit", "config": ck.recipe.name, "checkpoint": str(self.checkpoint), "steps": self.steps,
                "cfg_text": self.cfg_text, "cfg_clues": self.cfg_clues if use_clues else None, "windows": n_win,
                "captions": captions, "codec_sample_rate": codec.sample_rate}
        return GenerationResult(audio=np.ascontiguousarray(audio, dtype=np.float32), sample_rate=request.sample_rate, info=info)

    @staticmethod
    def _overlap_add(windows: np.ndarray, hop_s: float, sr: int, duration_s: float) -> np.ndarray:
        n_win, _, n = windows.shape
        hop = int(round(hop_s * sr))
        fade = n - hop
        out = np.zeros((2, hop * (n_win - 1) + n), dtype=np.float64)
        # Equal-power (sin/cos) fades: consecutive windows are independent noise, so powers add, not amplitudes.
        ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / max(fade, 1))
        for i in range(n_win):
            w = windows[i].astype(np.float64).copy()
            if i > 0 and fade > 0:
                w[:, :fade] *= ramp
            if i < n_win - 1 and fade > 0:
                w[:, n - fade :] *= ramp[::-1]
            out[:, i * hop : i * hop + n] += w
        return out[:, : int(round(duration_s * sr))].astype(np.float32)
