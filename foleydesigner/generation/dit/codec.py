"""Audio codecs for the DiT: a parametric-stereo latent (small config) and Oobleck (full config).

Small config — `ParametricStereoCodec`, a fixed (untrained) codec in the spirit of MPEG parametric stereo
(HE-AAC v2: a mono signal plus inter-channel level/phase/coherence parameters). Per STFT frame (hop 640 at
16 kHz = 25 latent frames/s, the video frame rate of the training data) it keeps:

- `n_bands` mel-spaced log band energies of the two channels' mean power (the "what" of the sound),
- 1 ITD: the GCC-PHAT delay of left behind right (ms; > 0 = source on the right),
- per spatial band an ILD (dB, right over left; > 0 = source on the right) and an inter-channel coherence
  after delay compensation (signs as in foleydesigner.eval.metrics).

Decoding shapes noise with those band energies and applies the ITD as a linear phase, the ILDs as gains and the
coherence as a coherent/decorrelated mix, so the interaural cues are rebuilt as encoded (measured on the
procedural classes rendered at -70°…80° and 1–15 m: ITD within 0.014 ms, ILD within 0.8 dB; the test asserts
±0.05 ms / ±1 dB). The ITD is measured on cross-spectra smoothed over ±2 frames (200 ms), and frames without a
clear GCC peak (silence, reverberant decays) are interpolated from their neighbours, because a generative model
would learn their random delays as if they were position. Why not a tiny Oobleck: training a VAE that keeps
sub-millisecond interaural phase is a project of its own (not attempted here), and a DiT that must express ITD
as a sample-level shift inside waveform patches needs far more steps than the minutes this config is for. Here
azimuth is one smooth latent channel, so the ablation measures whether the clues reach it. Cost: the content
is a noise-excited spectral envelope (fine for most Foley textures, poor for pitched sounds) — a small-scale
stand-in, not a replacement for Oobleck.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

#: Scales that bring each latent group to about [-2, 2] for the diffusion model.
DB_OFFSET, DB_SCALE = 50.0, 25.0
ITD_SCALE_MS = 0.7  # Woodworth ITD at 90° for an 8.75 cm head is about 0.66 ms.
ILD_SCALE_DB = 10.0
POWER_FLOOR = 1e-10  # -100 dB: "silence" in the content channels.
MAX_ITD_MS = 1.0
#: Normalised GCC-PHAT peak (1 = pure delay) below which a frame's delay is not trusted: decays whose energy is
#: mostly the renderer's decorrelated tail measure ~0.2-0.3 and pull the delay toward 0 ms; direct sound > 0.5.
MIN_GCC_PEAK = 0.35


class AudioCodec(Protocol):
    sample_rate: int
    hop: int
    latent_channels: int

    def encode(self, audio: torch.Tensor) -> torch.Tensor: ...

    def decode(self, latent: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def save(self, folder: Path) -> None: ...


def _mel(f: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(f / 700.0)


def _imel(m: np.ndarray) -> np.ndarray:
    return 700.0 * np.expm1(m / 1127.0)


class ParametricStereoCodec:
    """Fixed stereo codec: band energies + ITD + per-band ILD/coherence at sample_rate / hop frames per second."""

    kind = "param_stereo"

    def __init__(self, *, sample_rate: int = 16_000, hop: int = 640, n_bands: int = 40, n_spatial_bands: int = 4) -> None:
        self.sample_rate, self.hop, self.n_bands, self.n_spatial = sample_rate, hop, n_bands, n_spatial_bands
        self.n_fft = 2 * hop  # 50 % overlap Hann: frames sum to a constant, so iSTFT is exact.
        self.latent_channels = n_bands + 1 + 2 * n_spatial_bands
        n_bins = self.n_fft // 2 + 1
        freqs = np.arange(n_bins) * sample_rate / self.n_fft
        edges = _imel(np.linspace(0.0, _mel(np.array(sample_rate / 2.0)), n_bands + 1))
        self._band = torch.from_numpy(np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, n_bands - 1))
        # Spatial bands: 0–500 Hz (ITD-dominated), then log-spaced up to Nyquist (ILD-dominated head shadow).
        s_edges = np.concatenate([[0.0], np.geomspace(500.0, sample_rate / 2.0, n_spatial_bands)])
        self._sband = torch.from_numpy(np.clip(np.searchsorted(s_edges, freqs, side="right") - 1, 0, n_spatial_bands - 1))
        self._omega = torch.from_numpy(2.0 * np.pi * freqs)
        self._window = torch.hann_window(self.n_fft, periodic=True, dtype=torch.float64)
        # Candidate delays at 1/8 sample; parabolic refinement below takes it well under 0.01 ms.
        step = 1.0 / (8 * sample_rate)
        n_tau = int(MAX_ITD_MS * 1e-3 / step)
        self._taus = torch.arange(-n_tau, n_tau + 1, dtype=torch.float64) * step
        self._tau_step = step

    @property
    def latent_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def spatial_channels(self) -> slice:
        """Latent channels holding ITD, ILDs and coherences (the rest is the spectral envelope)."""
        return slice(self.n_bands, self.latent_channels)

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "sample_rate": self.sample_rate, "hop": self.hop,
            "n_bands": self.n_bands, "n_spatial_bands": self.n_spatial,
        }

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "codec.json").write_text(json.dumps(self.config(), indent=2))

    def n_latent(self, n_samples: int) -> int:
        return math.ceil(n_samples / self.hop)

    # ---------------------------------------------------------------------------------------------- encode
    def _stft(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stft(x, self.n_fft, self.hop, window=self._window.to(x.device), center=True, return_complex=True)

    def _band_sum(self, p: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
        """Sum (B, F, L) over bins into (B, n, L) bands."""
        out = torch.zeros(p.shape[0], n, p.shape[2], dtype=p.dtype, device=p.device)
        return out.index_add_(1, index.to(p.device), p)

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, 2, n) float audio at `sample_rate` -> (B, C, ceil(n / hop)) float32 latent."""
        if audio.ndim != 3 or audio.shape[1] != 2:
            raise ValueError(f"audio must be (batch, 2, samples), got {tuple(audio.shape)}")
        b, _, n = audio.shape
        n_lat = self.n_latent(n)
        x = torch.nn.functional.pad(audio.double(), (0, n_lat * self.hop - n))
        spec = self._stft(x.reshape(b * 2, -1)).reshape(b, 2, -1, n_lat + 1)[..., :n_lat]
        xl, xr = spec[:, 0], spec[:, 1]
        w2 = float((self._window**2).sum())
        pl, pr = xl.abs() ** 2 / w2, xr.abs() ** 2 / w2
        counts = torch.bincount(self._band, minlength=self.n_bands).double()[None, :, None]
        band_pow = self._band_sum((pl + pr) / 2.0, self._band, self.n_bands) / counts
        content = (10.0 * torch.log10(band_pow + POWER_FLOOR) + DB_OFFSET) / DB_SCALE

        cross = xl * xr.conj() / w2  # (B, F, L); phase -ωτ when the left channel lags by τ
        frame_pow = band_pow.mean(1)
        sounding = (frame_pow > frame_pow.amax(-1, keepdim=True) * 1e-3) & (frame_pow > 1e-9)  # -30 dB re loudest
        itd, peak = self._gcc_delay(self._smooth_frames(cross))
        # Far sources (DRR well below 0 dB) give no frame a clear peak; the clip-long cross-spectrum still does.
        clip_itd, clip_peak = self._gcc_delay((cross * sounding[:, None, :]).sum(-1, keepdim=True))
        fallback = torch.where(clip_peak[:, 0] >= 0.05, clip_itd[:, 0], torch.zeros_like(clip_itd[:, 0]))
        itd = self._fill(itd, sounding & (peak >= MIN_GCC_PEAK), fallback)

        spl = self._band_sum(pl, self._sband, self.n_spatial)
        spr = self._band_sum(pr, self._sband, self.n_spatial)
        ild = 10.0 * torch.log10((spr + 1e-12) / (spl + 1e-12))
        aligned = cross * torch.exp(1j * self._omega[None, :, None] * itd[:, None, :])
        coh_num = torch.zeros(b, self.n_spatial, n_lat, dtype=aligned.dtype)
        coh_num.index_add_(1, self._sband, aligned)
        icc = (coh_num.abs() / torch.sqrt(spl * spr + 1e-24)).clamp(0.0, 1.0)
        band_on = sounding[:, None, :] & (spl + spr > (spl + spr).amax(-1, keepdim=True) * 1e-5) & (spl + spr > 1e-9)
        for s in range(self.n_spatial):
            ild[:, s] = self._fill(ild[:, s], band_on[:, s], torch.zeros(b, dtype=ild.dtype))
            icc[:, s] = self._fill(icc[:, s], band_on[:, s], torch.ones(b, dtype=icc.dtype))
        latent = torch.cat(
            [content, (itd * 1e3 / ITD_SCALE_MS)[:, None], ild / ILD_SCALE_DB, 2.0 * icc - 1.0], dim=1
        )
        return latent.float()

    def _gcc_delay(self, cross: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, F, L) cross-spectra -> delay of left behind right (s) and normalised peak (1 = pure delay), (B, L).

        GCC-PHAT-β (β = 0.8): nearly whitened so every band votes, but bins holding almost nothing weigh ~0.
        The correlation is evaluated directly on a 1/8-sample delay grid, then refined by a parabola.
        """
        weighted = cross * cross.abs().clamp_min(1e-30) ** -0.8
        phase = torch.exp(1j * self._omega[:, None] * self._taus[None, :])  # (F, n_tau)
        r = torch.einsum("bfl,ft->blt", weighted, phase.to(weighted.device)).real
        peak = r.amax(-1) / weighted.abs().sum(1).clamp_min(1e-30)
        k = r.argmax(-1).clamp(1, len(self._taus) - 2)
        y0, y1, y2 = (r.gather(-1, (k + d)[..., None])[..., 0] for d in (-1, 0, 1))
        denom = y0 - 2 * y1 + y2
        frac = torch.where(denom.abs() > 1e-12, 0.5 * (y0 - y2) / denom, torch.zeros_like(denom)).clamp(-1, 1)
        return self._taus.to(k.device)[k] + frac * self._tau_step, peak

    @staticmethod
    def _fill(values: torch.Tensor, keep: torch.Tensor, neutral: torch.Tensor) -> torch.Tensor:
        """Per clip (row), replace frames not in `keep` by linear interpolation between kept frames (held at
        the ends); a clip with no kept frame gets its `neutral` value throughout. Silent frames carry no
        interaural information, and a generative model would learn their random values as if they did."""
        out = values.clone()
        frames = np.arange(values.shape[-1])
        for i in range(values.shape[0]):
            k = keep[i].numpy()
            if not k.any():
                out[i] = neutral[i]
            elif not k.all():
                out[i] = torch.from_numpy(np.interp(frames, frames[k], values[i].numpy()[k])).to(values.dtype)
        return out

    @staticmethod
    def _smooth_frames(cross: torch.Tensor) -> torch.Tensor:
        """Cross-spectra averaged over ±2 frames (weights 1 2 3 2 1, 200 ms span at 25 Hz) before the delay
        search: loud frames dominate their neighbours, so the taps and decays of impulsive sounds share the
        delay of their attack. Slow enough for film motion (a 120° pan over 3 s moves 8° per 200 ms)."""
        b, f, n = cross.shape
        kernel = torch.tensor([1.0, 2.0, 3.0, 2.0, 1.0], dtype=torch.float64, device=cross.device).view(1, 1, 5) / 9.0

        def conv(x: torch.Tensor) -> torch.Tensor:
            x = torch.nn.functional.pad(x.reshape(b * f, 1, n), (2, 2), mode="replicate")
            return torch.nn.functional.conv1d(x, kernel).reshape(b, f, n)

        return torch.complex(conv(cross.real), conv(cross.imag))

    # ---------------------------------------------------------------------------------------------- decode
    def decode(self, latent: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, C, L) latent -> (B, 2, L * hop) float32 audio. Noise comes from `generator` (caller owns RNG)."""
        if latent.ndim != 3 or latent.shape[1] != self.latent_channels:
            raise ValueError(f"latent must be (batch, {self.latent_channels}, frames), got {tuple(latent.shape)}")
        z = latent.detach().double().cpu().clone()
        b, _, n_lat = z.shape
        z = torch.cat([z, z[..., -1:]], dim=-1)  # iSTFT with center=True wants L + 1 frames
        nb, ns = self.n_bands, self.n_spatial
        # Clamp to what encode can produce: band power ≤ 0 dB (full-scale noise), |ITD| ≤ 1 ms, |ILD| ≤ 40 dB,
        # so an untrained or diverged model cannot ask for +50 dB or a 5 ms interaural delay.
        z[:, :nb] = z[:, :nb].clamp(max=DB_OFFSET / DB_SCALE)
        z[:, nb] = z[:, nb].clamp(-MAX_ITD_MS / ITD_SCALE_MS, MAX_ITD_MS / ITD_SCALE_MS)
        z[:, nb + 1 : nb + 1 + ns] = z[:, nb + 1 : nb + 1 + ns].clamp(-40.0 / ILD_SCALE_DB, 40.0 / ILD_SCALE_DB)
        band_pow = 10.0 ** ((z[:, :nb] * DB_SCALE - DB_OFFSET) / 10.0)
        band_pow = torch.where(band_pow <= POWER_FLOOR * 1.01, torch.zeros_like(band_pow), band_pow)
        amp = band_pow[:, self._band].sqrt()  # (B, F, L+1)
        itd = z[:, nb] * ITD_SCALE_MS * 1e-3
        ild = z[:, nb + 1 : nb + 1 + ns] * ILD_SCALE_DB
        rho = ((z[:, nb + 1 + ns :] + 1.0) / 2.0).clamp(0.0, 1.0)
        ratio = 10.0 ** (ild / 10.0)  # right / left power
        # Gains with (gL² + gR²) / 2 = 1, so the mean power of the pair equals the encoded band energy.
        gl, gr = (2.0 / (1.0 + ratio)).sqrt()[:, self._sband], (2.0 * ratio / (1.0 + ratio)).sqrt()[:, self._sband]
        coh, dif = rho.sqrt()[:, self._sband], (1.0 - rho).sqrt()[:, self._sband]

        n = n_lat * self.hop
        noise = torch.randn(3, b, n, generator=generator, dtype=torch.float64)
        nc, nl, nr = (self._stft(noise[j]) for j in range(3))
        half = torch.exp(-0.5j * self._omega[None, :, None] * itd[:, None, :])  # left lags by τ/2, right leads
        xl = gl * amp * (coh * nc * half + dif * nl)
        xr = gr * amp * (coh * nc * half.conj() + dif * nr)
        spec = torch.stack([xl, xr], dim=1).reshape(b * 2, xl.shape[1], -1)
        out = torch.istft(spec, self.n_fft, self.hop, window=self._window, center=True, length=n)
        return out.reshape(b, 2, n).float()


class OobleckCodec:
    """Stable Audio Open's Oobleck VAE (44.1 kHz, hop 2048, 64 channels), from a local diffusers folder only."""

    kind = "oobleck"

    def __init__(self, vae: Any) -> None:
        self.vae = vae
        self.sample_rate = int(vae.config.sampling_rate)
        self.hop = int(np.prod(vae.config.downsampling_ratios))
        self.latent_channels = int(vae.config.decoder_input_channels)

    @property
    def latent_rate(self) -> float:
        return self.sample_rate / self.hop

    @classmethod
    def from_folder(cls, folder: str | Path) -> OobleckCodec:
        from diffusers import AutoencoderOobleck

        path = Path(folder)
        sub = path / "vae" if (path / "vae").is_dir() else path
        if not (sub / "config.json").is_file():
            raise FileNotFoundError(f"no Oobleck VAE at {sub} (expected a diffusers folder with config.json)")
        return cls(AutoencoderOobleck.from_pretrained(sub, local_files_only=True))

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "sample_rate": self.sample_rate, "hop": self.hop, "latent_channels": self.latent_channels}

    def save(self, folder: Path) -> None:
        self.vae.save_pretrained(folder / "vae")
        (folder / "codec.json").write_text(json.dumps(self.config(), indent=2))

    def n_latent(self, n_samples: int) -> int:
        return math.ceil(n_samples / self.hop)

    @torch.no_grad()
    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        pad = self.n_latent(audio.shape[-1]) * self.hop - audio.shape[-1]
        x = torch.nn.functional.pad(audio, (0, pad)).to(self.vae.device, self.vae.dtype)
        return self.vae.encode(x).latent_dist.mode().float()

    @torch.no_grad()
    def decode(self, latent: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.vae.decode(latent.to(self.vae.device, self.vae.dtype)).sample.float().cpu()


def build_codec(spec: dict[str, Any], folder: str | Path | None = None) -> AudioCodec:
    """A codec from its recipe spec; Oobleck needs `folder` (a local diffusers folder holding `vae/`)."""
    kind = spec.get("kind")
    if kind == "param_stereo":
        return ParametricStereoCodec(**{k: v for k, v in spec.items() if k != "kind"})
    if kind == "oobleck":
        if folder is None:
            raise ValueError("the oobleck codec needs a local folder with Stable Audio Open's vae/ (no downloads)")
        return OobleckCodec.from_folder(folder)
    raise ValueError(f"unknown codec kind {kind!r}; expected 'param_stereo' or 'oobleck'")


def resample_audio(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling along the last axis (exact rational ratio, e.g. 48 k -> 16 k is 1/3)."""
    if sr_in == sr_out:
        return audio.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    ratio = Fraction(sr_out, sr_in)
    return resample_poly(audio, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)
