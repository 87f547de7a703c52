"""Spatio-temporal clue path of the DiT (paper §3): Fourier features, soft activation mask, conv encoder.

The clue sequence P = {(d_t, θ_t, c_t)} arrives at the video frame rate (any fps). `resample_clues` puts it on a
fixed grid of `2**n_down` points per audio latent frame, so one strided 1-D conv encoder serves every fps; the
encoder then downsamples that grid to the latent rate r, giving E_pos ∈ R^{T'×d} with T' = latent length.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch import nn

from foleydesigner.units import ACTIVATION_EPSILON

MaskForm = Literal["design", "paper"]

#: Depth normalisation: log10(d) / 1.5 maps 3 cm … 31 m onto [-1, 1]; log because loudness and
#: direct-to-reverberant ratio change with log-distance, so equal ratios of depth get equal feature distances.
DEPTH_LOG10_SCALE = 1.5


def normalise_position(depth_m: np.ndarray, azimuth_deg: np.ndarray) -> np.ndarray:
    """(T,) depth and azimuth -> (T, 2) features in about [-1, 1]: [log10(depth)/1.5, azimuth/180]."""
    depth = np.clip(np.asarray(depth_m, dtype=np.float64), 1e-2, 1e3)
    az = ((np.asarray(azimuth_deg, dtype=np.float64) + 180.0) % 360.0) - 180.0
    return np.stack([np.log10(depth) / DEPTH_LOG10_SCALE, az / 180.0], axis=-1).astype(np.float32)


def resample_clues(
    t_s: np.ndarray,
    depth_m: np.ndarray,
    azimuth_deg: np.ndarray,
    activation: np.ndarray,
    *,
    n_latent: int,
    latent_rate: float,
    oversample: int,
    start_s: float = 0.0,
) -> np.ndarray:
    """Frame-rate clues -> (n_latent * oversample, 3) grid of [depth feature, azimuth feature, activation].

    Latent frame i is centred at start_s + i / latent_rate (an STFT/VAE frame centred on its hop), so its
    `oversample` grid points sit symmetrically around that centre. Position is linearly interpolated
    (azimuth unwrapped first, so a source passing behind does not sweep through 0°); activation is held from
    the frame on screen at that time, so on/off edges stay frame-accurate; position holds its end values
    outside the clue span, while activation is 0 there (no evidence of sound).
    """
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError("t_s must be a non-empty 1-D sequence")
    if not (len(depth_m) == len(azimuth_deg) == len(activation) == t.size):
        raise ValueError("t_s, depth_m, azimuth_deg and activation must have equal lengths")
    n_grid = n_latent * oversample
    grid = start_s + ((np.arange(n_grid) + 0.5) / oversample - 0.5) / latent_rate
    az_unwrapped = np.degrees(np.unwrap(np.radians(np.asarray(azimuth_deg, dtype=np.float64))))
    depth = np.interp(grid, t, np.asarray(depth_m, dtype=np.float64))
    az = np.interp(grid, t, az_unwrapped)
    # Frame-held: frame f is on screen from t_f to t_f + 1/fps (as the spatial renderer reads it).
    held = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, t.size - 1)
    act = np.asarray(activation, dtype=np.float32)[held]
    # Beyond the last clue frame the event has no evidence of sound: treat it as inactive.
    if t.size > 1:
        frame = float(np.median(np.diff(t)))
        act = np.where((grid < t[0] - 0.5 * frame) | (grid >= t[-1] + frame), 0.0, act)
    pos = normalise_position(depth, az)
    return np.concatenate([pos, act[:, None]], axis=-1).astype(np.float32)


def soft_mask(activation: torch.Tensor, epsilon: float = ACTIVATION_EPSILON, form: MaskForm = "design") -> torch.Tensor:
    """Per-frame weight applied to the Fourier features.

    "design" (default): c + ε(1 − c), DESIGN.md's convention — active frames get exactly γ, inactive frames ε·γ,
    and the weight stays in [ε, 1] so clue features never exceed the unit-norm γ the encoder was sized for.
    "paper": the formula as printed, c·γ + ε·γ = (c + ε)·γ — inactive frames ε·γ too, active ones (1 + ε)·γ.
    Both keep the weak position signal on silent frames that the paper motivates (no abrupt change in the
    latent when an event switches off); they differ only by the constant 1 + ε on active frames.
    """
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"epsilon must be in [0, 1), got {epsilon}")
    c = activation.clamp(0.0, 1.0)
    if form == "design":
        return c + epsilon * (1.0 - c)
    if form == "paper":
        return c + epsilon
    raise ValueError(f"mask form must be 'design' or 'paper', got {form!r}")


class FourierClueFeatures(nn.Module):
    """γ(p) = [cos 2πBp; sin 2πBp] ∈ R^{2m} with a fixed Gaussian B ∈ R^{m×2} (random Fourier features).

    B is drawn from its own seeded generator and kept as a buffer, so it is identical after save/load and does
    not depend on the global RNG state at construction time.
    """

    def __init__(self, n_features: int, scale: float, seed: int = 0) -> None:
        super().__init__()
        self.n_features, self.scale, self.seed = n_features, scale, seed
        self.register_buffer("B", self._draw())

    def _draw(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed)
        return torch.randn(self.n_features, 2, generator=g) * self.scale

    @torch.no_grad()
    def reset(self) -> None:
        self.B.copy_(self._draw().to(self.B.device, self.B.dtype))

    def forward(self, position: torch.Tensor) -> torch.Tensor:
        proj = 2.0 * math.pi * position.float() @ self.B.float().T
        return torch.cat([torch.cos(proj), torch.sin(proj)], dim=-1)


class ClueEncoder(nn.Module):
    """(B, T_grid, 3) clue grid -> E_pos (B, T_grid / 2**n_down, d): Fourier features, soft mask, strided convs."""

    def __init__(
        self,
        *,
        n_fourier: int,
        fourier_scale: float,
        dim: int,
        n_down: int,
        epsilon: float,
        mask_form: MaskForm,
        seed: int = 0,
        mask_channel: bool = True,
        include_input: bool = True,
    ) -> None:
        super().__init__()
        self.epsilon = epsilon
        self.mask_form: MaskForm = mask_form
        self.n_down = n_down
        self.mask_channel = mask_channel
        self.include_input = include_input
        self.fourier = FourierClueFeatures(n_fourier, fourier_scale, seed)
        n_in = 2 * n_fourier + int(mask_channel) + 2 * int(include_input)
        layers: list[nn.Module] = [nn.Conv1d(n_in, dim, 3, padding=1), nn.SiLU()]
        for _ in range(n_down):
            # kernel 4, stride 2: each output frame sees its two grid points plus one on either side.
            layers += [nn.Conv1d(dim, dim, 4, stride=2, padding=1), nn.SiLU()]
        layers.append(nn.Conv1d(dim, dim, 1))
        self.net = nn.Sequential(*layers)

    def masked_features(self, clues: torch.Tensor) -> torch.Tensor:
        """γ̃(p_t) = mask(c_t)·γ(p_t), shape (B, T_grid, 2m)."""
        gamma = self.fourier(clues[..., :2])
        return soft_mask(clues[..., 2:3].float(), self.epsilon, self.mask_form) * gamma

    def encoder_input(self, clues: torch.Tensor) -> torch.Tensor:
        """γ̃, then optionally the masked raw position m·p (2 channels) and the mask value m (1 channel).

        In γ̃ alone, on/off lives only in the feature magnitude, which a conv + SiLU must learn to measure; as
        an explicit channel it is linearly readable (in the small-scale runs the model followed the activation
        only with it). The raw position next to its Fourier features is NeRF's `include_input`: azimuth -> ITD
        is nearly linear, so a linear path speeds learning; γ̃ still carries the fine detail.
        """
        m = soft_mask(clues[..., 2:3].float(), self.epsilon, self.mask_form)
        parts = [self.masked_features(clues)]
        if self.include_input:
            parts.append(m * clues[..., :2].float())
        if self.mask_channel:
            parts.append(m)
        return torch.cat(parts, dim=-1)

    def forward(self, clues: torch.Tensor) -> torch.Tensor:
        if clues.ndim != 3 or clues.shape[-1] != 3:
            raise ValueError(f"clues must be (batch, grid, 3) [depth, azimuth, activation], got {tuple(clues.shape)}")
        if clues.shape[1] % (2**self.n_down):
            raise ValueError(f"clue grid length {clues.shape[1]} is not a multiple of {2**self.n_down}")
        feats = self.encoder_input(clues).to(self.net[0].weight.dtype)
        return self.net(feats.transpose(1, 2)).transpose(1, 2)
