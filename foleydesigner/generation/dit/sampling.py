"""Rectified-flow training target and Euler sampler with classifier-free guidance on text and clues.

Why rectified flow (x_t = (1 − t)·x0 + t·ε, the model predicts v = ε − x0) rather than Stable Audio Open 1.0's
v-diffusion: one unweighted regression target with no noise schedule to tune, and near-straight paths that a
plain Euler solver follows in 20–30 steps, which keeps CPU sampling cheap at small scale. Stable Audio Open
Small also trains with rectified flow, so the full-size path stays in the family (fine-tuning SAO 1.0 weights
from v-diffusion to flow needs a short adaptation run; the clue blocks start gated off either way).

Guidance composes the two conditions in order (text, then clues given text), as in InstructPix2Pix:
v = v(∅, ∅) + s_text·(v(T, ∅) − v(∅, ∅)) + s_clues·(v(T, C) − v(T, ∅)).
Defaults are 1.0 (plain conditional sampling): position is a near-deterministic function of the clues, and
guidance > 1 extrapolates it past the clue — at small scale cfg_clues = 2 tripled the latent ITD error (0.10 ->
0.34 ms, i.e. sources pushed outward), and cfg_text in 1–2 changed nothing measurable.
"""

from __future__ import annotations

import torch

from foleydesigner.generation.dit.model import FoleyDiT


def flow_pair(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy input x_t and regression target v for times t (B,) in [0, 1]."""
    tt = t.view(-1, *([1] * (x0.ndim - 1))).to(x0.dtype)
    return (1.0 - tt) * x0 + tt * noise, noise - x0


def sample_times(batch: int, *, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """Training times: logit-normal(0, 1) (SD3), which spends the steps on mid noise levels, mixed 1:3 with
    uniform so the ends of [0, 1] are still visited. (At small scale, uniform and logit-normal(0.8) gave the
    same clue accuracy within run-to-run noise; this is a default, not a tuned finding.)"""
    logit = torch.sigmoid(torch.randn(batch, generator=generator))
    uni = torch.rand(batch, generator=generator)
    pick = torch.rand(batch, generator=generator) < 0.25
    return torch.where(pick, uni, logit).clamp(1e-4, 1.0 - 1e-4).to(device)


@torch.no_grad()
def sample_latents(
    model: FoleyDiT,
    *,
    shape: tuple[int, int, int],
    enc_text: torch.Tensor,
    enc_null: torch.Tensor,
    global_states: torch.Tensor,
    clues: torch.Tensor | None,
    steps: int = 25,
    cfg_text: float = 1.0,
    cfg_clues: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Integrate the flow from noise (t = 1) to data (t = 0) with `steps` Euler steps -> (B, C, L) latents.

    `enc_text`/`enc_null` are the conditioned and null text states; `clues=None` drops the clue branch.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if cfg_text < 0 or cfg_clues < 0:
        raise ValueError(f"guidance scales must be >= 0, got cfg_text={cfg_text}, cfg_clues={cfg_clues}")
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    b = shape[0]
    x = torch.randn(shape, generator=generator).to(device, dtype)
    # Branches actually needed: with both scales at 1 and clues given, v(T, C) alone is the answer.
    branches: list[tuple[str, torch.Tensor, float]] = []
    if cfg_text != 1.0:
        branches.append(("null", enc_null, 0.0))
    if clues is None or cfg_text != 1.0 or cfg_clues != 1.0:
        branches.append(("text", enc_text, 0.0))
    if clues is not None:
        branches.append(("clues", enc_text, 1.0))
    nb = len(branches)
    enc = torch.cat([e for _, e, _ in branches]).to(device, dtype)
    glob = global_states.repeat(nb, 1, 1).to(device, dtype)
    keep = torch.cat([torch.full((b,), k) for _, _, k in branches]).to(device, dtype)
    clue_in = clues.repeat(nb, 1, 1).to(device, dtype) if clues is not None else None
    rot = model.rotary_embedding(shape[2], device)
    ts = torch.linspace(1.0, 0.0, steps + 1)
    for i in range(steps):
        t = torch.full((b * nb,), float(ts[i]), device=device)
        v = model(x.repeat(nb, 1, 1), t, enc, glob, rotary_embedding=rot, clues=clue_in, clue_keep=keep)[0]
        out = dict(zip([name for name, _, _ in branches], v.float().chunk(nb), strict=True))
        if "text" not in out:
            guided = out["clues"]
        else:
            guided = out["text"]
            if "null" in out:
                guided = out["null"] + cfg_text * (out["text"] - out["null"])
            if "clues" in out:
                guided = guided + cfg_clues * (out["clues"] - out["text"])
        x = x + float(ts[i + 1] - ts[i]) * guided.to(dtype)
    return x.float()
