"""Text and duration conditioning in Stable Audio's layout.

Stable Audio feeds the DiT two things: cross-attention states = [T5 tokens; seconds_start; seconds_total] and a
global vector = concat(seconds_start, seconds_total) (so the DiT's global input dim is 2 × the conditioning dim).
`HashedTextEncoder` keeps that layout for the small config with a learned embedding of hashed words and word
bigrams (bigrams keep order: "left to right" and "right to left" share every unigram) plus the class token.
`T5TextConditioner` is the full-size path: T5 + Stable Audio's projection model from a local folder only.
"""

from __future__ import annotations

import math
import re
import zlib
from pathlib import Path

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

_WORD = re.compile(r"[a-z0-9]+")

#: Seconds covered by the number conditioners (Stable Audio Open uses 0–512 s; Foley windows are short).
MAX_SECONDS = 64.0


def hash_tokens(label: str, caption: str, *, vocab_size: int, max_tokens: int) -> list[int]:
    """Token ids: class token, caption words, caption word bigrams; id 0 is padding.

    crc32, not Python's salted `hash`, so ids are the same in every process (training vs. inference).
    """
    words = _WORD.findall(caption.lower())
    pieces = [f"class:{label.lower()}"] + words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
    ids = [1 + zlib.crc32(p.encode()) % (vocab_size - 1) for p in pieces]
    return ids[:max_tokens]


class NumberEmbedding(nn.Module):
    """Seconds -> (B, 1, dim) through learned Fourier features (Stable Audio's NumberConditioner)."""

    def __init__(self, dim: int, n_freq: int = 16) -> None:
        super().__init__()
        self.freqs = nn.Parameter(torch.randn(n_freq))
        self.proj = nn.Linear(2 * n_freq + 1, dim)

    def forward(self, seconds: torch.Tensor) -> torch.Tensor:
        x = (seconds.float().clamp(0.0, MAX_SECONDS) / MAX_SECONDS)[:, None]
        ang = 2.0 * math.pi * x * self.freqs[None, :]
        return self.proj(torch.cat([x, torch.cos(ang), torch.sin(ang)], dim=-1))[:, None, :]


class HashedTextEncoder(ModelMixin, ConfigMixin):
    """Small text/class encoder: embeddings of hashed tokens + position, and Stable Audio's number conditioners."""

    @register_to_config
    def __init__(self, dim: int = 128, vocab_size: int = 4096, max_tokens: int = 24) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.pos = nn.Parameter(torch.zeros(max_tokens, dim))
        self.norm = nn.LayerNorm(dim)
        self.seconds_start = NumberEmbedding(dim)
        self.seconds_total = NumberEmbedding(dim)

    def tokenize(self, labels: list[str], captions: list[str]) -> torch.Tensor:
        n = self.config.max_tokens
        rows = [hash_tokens(lab, cap, vocab_size=self.config.vocab_size, max_tokens=n) for lab, cap in zip(labels, captions, strict=True)]
        return torch.tensor([r + [0] * (n - len(r)) for r in rows], dtype=torch.long)

    def forward(
        self, tokens: torch.Tensor, seconds_start: torch.Tensor, seconds_total: torch.Tensor, keep: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (encoder states (B, S + 2, dim), global states (B, 1, 2·dim)).

        `keep` (B,) in {0, 1}: 0 is the classifier-free "no text" condition (all-zero token states). Padding is
        zeroed rather than masked, as the Stable Audio pipeline does, so no attention mask is needed.
        """
        mask = tokens != 0
        states = self.norm(self.embed(tokens) + self.pos[None, : tokens.shape[1]])
        # Zero states are the null text: cross_attention_proj has no bias, so they give zero keys and values.
        states = states * (mask & (keep[:, None] > 0)).to(states.dtype)[..., None]
        start, total = self.seconds_start(seconds_start), self.seconds_total(seconds_total)
        # The global vector always carries the duration: Stable Audio never drops it for CFG either.
        return torch.cat([states, start, total], dim=1), torch.cat([start, total], dim=-1)


class T5TextConditioner(nn.Module):
    """Full-size conditioning: T5 encoder + StableAudioProjectionModel, loaded from a local SAO diffusers folder."""

    def __init__(self, tokenizer: object, text_encoder: nn.Module, projection: nn.Module, max_tokens: int = 128) -> None:
        super().__init__()
        self.tokenizer, self.text_encoder, self.projection, self.max_tokens = tokenizer, text_encoder, projection, max_tokens

    @classmethod
    def from_folder(cls, folder: str | Path, max_tokens: int = 128) -> T5TextConditioner:
        from diffusers.pipelines.stable_audio.modeling_stable_audio import StableAudioProjectionModel
        from transformers import AutoTokenizer, T5EncoderModel

        root = Path(folder)
        for sub in ("tokenizer", "text_encoder", "projection_model"):
            if not (root / sub).is_dir():
                raise FileNotFoundError(f"{root / sub} is missing: point --dit-weights at a Stable Audio Open folder")
        tok = AutoTokenizer.from_pretrained(root / "tokenizer", local_files_only=True)
        enc = T5EncoderModel.from_pretrained(root / "text_encoder", local_files_only=True)
        proj = StableAudioProjectionModel.from_pretrained(root / "projection_model", local_files_only=True)
        return cls(tok, enc, proj, max_tokens)

    def tokenize(self, labels: list[str], captions: list[str]) -> dict[str, torch.Tensor]:
        text = [f"{lab}: {cap}" for lab, cap in zip(labels, captions, strict=True)]
        out = self.tokenizer(text, padding="max_length", max_length=self.max_tokens, truncation=True, return_tensors="pt")  # type: ignore[operator]
        return {"input_ids": out.input_ids, "attention_mask": out.attention_mask}

    def forward(  # type: ignore[override]
        self, tokens: dict[str, torch.Tensor], seconds_start: torch.Tensor, seconds_total: torch.Tensor, keep: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        mask = tokens["attention_mask"].bool()
        states = self.text_encoder(input_ids=tokens["input_ids"], attention_mask=mask).last_hidden_state
        out = self.projection(text_hidden_states=states, start_seconds=seconds_start, end_seconds=seconds_total)
        text = out.text_hidden_states * (mask & (keep[:, None] > 0)).to(states.dtype)[..., None]
        start, total = out.seconds_start_hidden_states, out.seconds_end_hidden_states
        return torch.cat([text, start, total], dim=1), torch.cat([start, total], dim=-1)
