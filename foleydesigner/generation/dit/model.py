"""FoleyDiT: diffusers' Stable Audio DiT plus the paper's position-aware clue injection (§3).

The base model's forward loop has no hook point, so `FoleyDiT.forward` re-states it (same order of operations
as diffusers 0.42 `StableAudioDiTModel.forward`) and, after every `clue_every`-th block, runs a gated
cross-attention from the audio tokens to E_pos. New modules live under `clue_encoder` and `clue_injections`, so
every base key is unchanged and Stable Audio Open weights load with `from_pretrained(dir,
low_cpu_mem_usage=False)` (the new keys come up missing and are initialised; gates start at zero, so the
loaded model reproduces the base model exactly until training moves the gates).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import register_to_config
from diffusers.models.embeddings import get_1d_rotary_pos_embed
from diffusers.models.transformers.stable_audio_transformer import StableAudioDiTModel
from torch import nn

from foleydesigner.generation.dit.clues import ClueEncoder, MaskForm


def injection_layers(num_layers: int, every: int = 4) -> list[int]:
    """Blocks followed by an injection block: i with (i + 1) % every == 0 (3, 7, …, 23 at depth 24, §3)."""
    if every < 1:
        raise ValueError(f"clue_every must be >= 1, got {every}")
    return [i for i in range(num_layers) if (i + 1) % every == 0]


class ClueInjection(nn.Module):
    """Cross-attention from latent tokens to E_pos, restricted to a band of ±window latent frames.

    Position awareness: the band keeps each audio frame looking at the clues of its own time (E_pos and the
    latent share one time axis), and a learned per-head bias over the 2·window+1 offsets lets the block weigh
    "now" against its neighbours. The output is scaled by a per-channel gate initialised to zero (Flamingo-style)
    so inserting the block leaves a pretrained model's function unchanged.
    """

    def __init__(self, dim: int, clue_dim: int, heads: int, window: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"inner dim {dim} is not divisible by clue_heads {heads}")
        self.heads = heads
        self.window = window
        self.norm = nn.LayerNorm(dim)
        self.norm_clue = nn.LayerNorm(clue_dim)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(clue_dim, dim, bias=False)
        self.to_v = nn.Linear(clue_dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)
        self.rel_bias = nn.Parameter(torch.zeros(heads, 2 * max(window, 0) + 1))
        self.gate = nn.Parameter(torch.zeros(dim))

    def _bias(self, n_q: int, n_k: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor | None:
        if self.window < 0:
            return None
        offset = torch.arange(n_k, device=device)[None, :] - torch.arange(n_q, device=device)[:, None]
        inside = offset.abs() <= self.window
        idx = (offset.clamp(-self.window, self.window) + self.window).long()
        bias = self.rel_bias.to(dtype)[:, idx]  # (heads, n_q, n_k)
        return bias.masked_fill(~inside, float("-inf"))[None]

    def forward(self, x: torch.Tensor, e_pos: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads
        q = self.to_q(self.norm(x)).view(b, n, h, d // h).transpose(1, 2)
        c = self.norm_clue(e_pos)
        k = self.to_k(c).view(b, -1, h, d // h).transpose(1, 2)
        v = self.to_v(c).view(b, -1, h, d // h).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=self._bias(n, k.shape[2], x.device, q.dtype))
        out = self.to_out(out.transpose(1, 2).reshape(b, n, d))
        return x + self.gate.to(out.dtype) * keep.to(out.dtype)[:, None, None] * out


class FoleyDiT(StableAudioDiTModel):
    """Stable Audio DiT with clue injection blocks. Base arguments keep diffusers' names and defaults."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 1024,
        in_channels: int = 64,
        num_layers: int = 24,
        attention_head_dim: int = 64,
        num_attention_heads: int = 24,
        num_key_value_attention_heads: int = 12,
        out_channels: int = 64,
        cross_attention_dim: int = 768,
        time_proj_dim: int = 256,
        global_states_input_dim: int = 1536,
        cross_attention_input_dim: int = 768,
        clue_n_fourier: int = 32,
        clue_fourier_scale: float = 2.0,
        clue_dim: int | None = None,
        clue_n_down: int = 2,
        clue_every: int = 4,
        clue_heads: int | None = None,
        clue_window: int = 2,
        clue_epsilon: float = 0.1,
        clue_mask_form: MaskForm = "design",
        clue_seed: int = 0,
        clue_mask_channel: bool = True,
        clue_include_input: bool = True,
    ) -> None:
        super().__init__(
            sample_size=sample_size,
            in_channels=in_channels,
            num_layers=num_layers,
            attention_head_dim=attention_head_dim,
            num_attention_heads=num_attention_heads,
            num_key_value_attention_heads=num_key_value_attention_heads,
            out_channels=out_channels,
            cross_attention_dim=cross_attention_dim,
            time_proj_dim=time_proj_dim,
            global_states_input_dim=global_states_input_dim,
            cross_attention_input_dim=cross_attention_input_dim,
        )
        # None follows the base model's sizes, so a plain Stable Audio config (no clue keys) loads as-is.
        clue_dim = clue_dim or cross_attention_dim
        clue_heads = clue_heads or num_attention_heads
        self.clue_encoder = ClueEncoder(
            n_fourier=clue_n_fourier,
            fourier_scale=clue_fourier_scale,
            dim=clue_dim,
            n_down=clue_n_down,
            epsilon=clue_epsilon,
            mask_form=clue_mask_form,
            seed=clue_seed,
            mask_channel=clue_mask_channel,
            include_input=clue_include_input,
        )
        self.clue_injections = nn.ModuleDict(
            {
                str(i): ClueInjection(self.inner_dim, clue_dim, clue_heads, clue_window)
                for i in injection_layers(num_layers, clue_every)
            }
        )

    @classmethod
    def from_pretrained(cls, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """diffusers' from_pretrained, plus a real initialisation of clue modules the checkpoint lacks.

        Loading a plain Stable Audio DiT leaves the new clue keys "missing"; diffusers skips weight init for
        speed, so they would hold whatever memory they got (NaN included, and 0·NaN is NaN even behind a
        closed gate). Those modules are re-initialised here: fresh layers, zero gates.
        """
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(*args, output_loading_info=True, **kwargs)
        if any(k.startswith(("clue_encoder.", "clue_injections.")) for k in info.get("missing_keys", [])):
            if any(p.is_meta for p in model.clue_encoder.parameters()):
                raise ValueError("clue modules are missing from this checkpoint: load it with low_cpu_mem_usage=False")
            model.reset_clue_parameters()
        return (model, info) if want_info else model

    @torch.no_grad()
    def reset_clue_parameters(self) -> None:
        for module in [*self.clue_encoder.modules(), *self.clue_injections.modules()]:
            if isinstance(module, nn.Linear | nn.Conv1d | nn.LayerNorm):
                module.reset_parameters()
            if isinstance(module, ClueInjection):
                module.rel_bias.zero_()
                module.gate.zero_()
        self.clue_encoder.fourier.reset()

    @property
    def injection_layers(self) -> list[int]:
        return sorted(int(k) for k in self.clue_injections)

    @property
    def clue_oversample(self) -> int:
        """Clue grid points per latent frame expected by the encoder."""
        return 2 ** int(self.config.clue_n_down)

    def rotary_embedding(self, n_latent: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        # L + 1 positions: the global token is prepended to the latent sequence (feasibility §2).
        cos, sin = get_1d_rotary_pos_embed(
            self.config.attention_head_dim // 2, n_latent + 1, use_real=True, repeat_interleave_real=False
        )
        return cos.to(device), sin.to(device)

    def forward(  # type: ignore[override]
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        global_hidden_states: torch.Tensor,
        rotary_embedding: tuple[torch.Tensor, torch.Tensor] | None = None,
        return_dict: bool = False,
        attention_mask: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        clues: torch.Tensor | None = None,
        clue_keep: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor]:
        """As `StableAudioDiTModel.forward`, plus `clues` (B, L·2**clue_n_down, 3) and `clue_keep` (B,) in [0, 1].

        `clues=None` (or keep = 0 for a sample) skips injection: that is the "no clues" branch used for
        classifier-free guidance and for the w/o-STC ablation. Returns a 1-tuple (diffusers' output class is
        deprecated for this model).
        """
        b, _, n_latent = hidden_states.shape
        if rotary_embedding is None:
            rotary_embedding = self.rotary_embedding(n_latent, hidden_states.device)
        e_pos = None
        if clues is not None and len(self.clue_injections):
            e_pos = self.clue_encoder(clues)
            if e_pos.shape[1] != n_latent:
                raise ValueError(
                    f"clue grid gives {e_pos.shape[1]} frames but the latent has {n_latent}; "
                    f"pass {n_latent * self.clue_oversample} grid points"
                )
            if clue_keep is None:
                clue_keep = torch.ones(b, device=hidden_states.device)

        cross = self.cross_attention_proj(encoder_hidden_states)
        glob = self.global_proj(global_hidden_states)
        time_hidden = self.timestep_proj(self.time_proj(timestep.to(self.dtype)))
        glob = glob + time_hidden.unsqueeze(1)

        x = self.preprocess_conv(hidden_states) + hidden_states
        x = self.proj_in(x.transpose(1, 2))
        x = torch.cat([glob, x], dim=-2)
        if attention_mask is not None:
            prepend = torch.ones((b, 1), device=x.device, dtype=torch.bool)
            attention_mask = torch.cat([prepend, attention_mask], dim=-1)

        for i, block in enumerate(self.transformer_blocks):
            if torch.is_grad_enabled() and self.gradient_checkpointing:
                x = self._gradient_checkpointing_func(
                    block, x, attention_mask, cross, encoder_attention_mask, rotary_embedding
                )
            else:
                x = block(
                    hidden_states=x,
                    attention_mask=attention_mask,
                    encoder_hidden_states=cross,
                    encoder_attention_mask=encoder_attention_mask,
                    rotary_embedding=rotary_embedding,
                )
            key = str(i)
            if e_pos is not None and key in self.clue_injections:
                assert clue_keep is not None
                # The prepended global token carries time/duration, not a moment in the clip: leave it alone.
                audio = self.clue_injections[key](x[:, 1:], e_pos, clue_keep)
                x = torch.cat([x[:, :1], audio], dim=1)

        x = self.proj_out(x)
        x = x.transpose(1, 2)[:, :, 1:]
        x = self.postprocess_conv(x) + x
        return (x,)


@dataclass(frozen=True)
class DiTRecipe:
    """Everything that fixes a model family: DiT config, text conditioner, codec, item length, CFG dropout."""

    name: str
    dit: dict[str, Any]
    text: dict[str, Any]
    codec: dict[str, Any]
    item_s: float
    p_drop_text: float = 0.1
    p_drop_clues: float = 0.1
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiTRecipe:
        return cls(**d)


def _recipes() -> dict[str, DiTRecipe]:
    small_codec = {"kind": "param_stereo", "sample_rate": 16_000, "hop": 640, "n_bands": 40, "n_spatial_bands": 4}
    tiny_codec = {"kind": "param_stereo", "sample_rate": 16_000, "hop": 640, "n_bands": 16, "n_spatial_bands": 2}
    # Latent channels = content bands + 1 ITD + ILD and ICC per spatial band (codec.ParametricStereoCodec).
    small_ch = 40 + 1 + 2 * 4
    tiny_ch = 16 + 1 + 2 * 2
    return {
        "tiny": DiTRecipe(
            name="tiny",
            dit=dict(
                sample_size=25, in_channels=tiny_ch, out_channels=tiny_ch, num_layers=8, attention_head_dim=16,
                num_attention_heads=2, num_key_value_attention_heads=1, cross_attention_dim=32, time_proj_dim=16,
                global_states_input_dim=64, cross_attention_input_dim=32, clue_n_fourier=8, clue_dim=32,
                clue_n_down=2, clue_heads=2, clue_window=2,
            ),
            text={"kind": "hashed", "dim": 32, "vocab_size": 512, "max_tokens": 16},
            codec=tiny_codec,
            item_s=1.0,
            notes="unit tests only",
        ),
        "small": DiTRecipe(
            name="small",
            dit=dict(
                sample_size=75, in_channels=small_ch, out_channels=small_ch, num_layers=8, attention_head_dim=64,
                num_attention_heads=2, num_key_value_attention_heads=2, cross_attention_dim=128,
                time_proj_dim=64, global_states_input_dim=256, cross_attention_input_dim=128, clue_n_fourier=32,
                clue_fourier_scale=2.0, clue_dim=128, clue_n_down=2, clue_heads=2, clue_window=2,
            ),
            text={"kind": "hashed", "dim": 128, "vocab_size": 4096, "max_tokens": 24},
            codec=small_codec,
            item_s=3.0,
            notes="CPU-trainable in minutes (train from scratch with lr ~2e-3); 16 kHz parametric-stereo latent at 25 Hz",
            # From-scratch training: the gated clue blocks get 10x the lr (a gate moves ~lr per Adam step), and the
            # 9 interaural latent channels weigh 4x in the loss (they carry what the clues decide).
            extra={"clue_lr_mult": 10.0, "spatial_loss_weight": 4.0, "recommended_lr": 2e-3},
        ),
        "full": DiTRecipe(
            name="full",
            # Stable Audio Open 1.0 sizes (24 layers, 24×64 heads, 12 KV heads, 64 latent channels).
            dit=dict(
                sample_size=1024, in_channels=64, out_channels=64, num_layers=24, attention_head_dim=64,
                num_attention_heads=24, num_key_value_attention_heads=12, cross_attention_dim=768,
                time_proj_dim=256, global_states_input_dim=1536, cross_attention_input_dim=768,
                clue_n_fourier=32, clue_dim=512, clue_n_down=2, clue_heads=24, clue_window=2,
            ),
            # T5-base text states + seconds_start/seconds_total number conditioners, as Stable Audio Open.
            text={"kind": "t5", "dim": 768, "max_tokens": 128},
            codec={"kind": "oobleck", "sample_rate": 44_100, "hop": 2048, "latent_channels": 64},
            item_s=10.0,
            notes="GPU only; weights from a local Stable Audio Open diffusers folder, never downloaded",
        ),
    }


RECIPES: dict[str, DiTRecipe] = _recipes()


def get_recipe(name: str) -> DiTRecipe:
    if name not in RECIPES:
        raise ValueError(f"unknown DiT config '{name}'; choose one of: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def build_dit(recipe: DiTRecipe | str) -> FoleyDiT:
    r = get_recipe(recipe) if isinstance(recipe, str) else recipe
    return FoleyDiT(**r.dit)
