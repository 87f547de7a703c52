"""FoleyDiT unit tests: tiny real models, offline, CPU (the whole file runs in well under 90 s on 2 cores)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from diffusers.models.transformers.stable_audio_transformer import StableAudioDiTModel  # noqa: E402

from foleydesigner.generation.dit.clues import ClueEncoder, resample_clues, soft_mask  # noqa: E402
from foleydesigner.generation.dit.codec import ParametricStereoCodec  # noqa: E402
from foleydesigner.generation.dit.model import FoleyDiT, build_dit, get_recipe, injection_layers  # noqa: E402
from foleydesigner.generation.dit.sampling import flow_pair  # noqa: E402
from foleydesigner.generation.dit.text import HashedTextEncoder  # noqa: E402

TINY = get_recipe("tiny")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: these models are tiny, and on a shared 2-core box two spinning OpenMP threads per
    process run ~10x slower than one whenever another process is busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _inputs(model: FoleyDiT, batch: int = 2, n_latent: int = 25, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    cfg = model.config
    clues = torch.rand(batch, n_latent * model.clue_oversample, 3, generator=g)
    clues[..., 2] = (clues[..., 2] > 0.5).float()
    return dict(
        hidden_states=torch.randn(batch, cfg.in_channels, n_latent, generator=g),
        timestep=torch.rand(batch, generator=g),
        encoder_hidden_states=torch.randn(batch, 6, cfg.cross_attention_input_dim, generator=g),
        global_hidden_states=torch.randn(batch, 1, cfg.global_states_input_dim, generator=g),
        clues=clues,
    )


def _open_gates(model: FoleyDiT, value: float = 0.5) -> None:
    with torch.no_grad():
        for block in model.clue_injections.values():
            block.gate.fill_(value)


def test_forward_backward_shapes() -> None:
    torch.manual_seed(0)
    model = build_dit(TINY)
    _open_gates(model)
    inp = _inputs(model)
    out = model(**inp)[0]
    assert out.shape == inp["hidden_states"].shape
    out.square().mean().backward()
    enc_grad = model.clue_encoder.net[0].weight.grad
    assert enc_grad is not None and enc_grad.abs().sum() > 0  # the clue path is trained end to end
    assert model.proj_in.weight.grad is not None


def test_injection_layers_follow_every_fourth_block() -> None:
    assert build_dit(TINY).injection_layers == [3, 7]  # depth 8
    full = get_recipe("full").dit  # checked on the config: the 1 B-parameter model is never built here
    assert injection_layers(full["num_layers"], full.get("clue_every", 4)) == [3, 7, 11, 15, 19, 23]
    assert injection_layers(6) == [3]


def test_zero_gates_reproduce_the_base_model(tmp_path) -> None:
    torch.manual_seed(0)
    base_cfg = {k: v for k, v in TINY.dit.items() if not k.startswith("clue_")}
    base = StableAudioDiTModel(**base_cfg).eval()
    base.save_pretrained(tmp_path / "base")
    model = FoleyDiT.from_pretrained(tmp_path / "base", low_cpu_mem_usage=False).eval()
    assert model.injection_layers == [3, 7]
    inp = _inputs(model)
    with torch.no_grad():
        ref = base(inp["hidden_states"], inp["timestep"], inp["encoder_hidden_states"], inp["global_hidden_states"],
                   rotary_embedding=model.rotary_embedding(25), return_dict=False)[0]
        got = model(**inp)[0]
    assert (got - ref).abs().max().item() <= 1e-5
    _open_gates(model)  # and the clues do act once the gates open
    with torch.no_grad():
        assert (model(**inp)[0] - ref).abs().max().item() > 1e-3


def test_soft_mask_keeps_epsilon_on_inactive_frames() -> None:
    c = torch.tensor([0.0, 1.0, 0.0, 1.0])
    assert torch.allclose(soft_mask(c, 0.1, "design"), torch.tensor([0.1, 1.0, 0.1, 1.0]))
    assert torch.allclose(soft_mask(c, 0.1, "paper"), torch.tensor([0.1, 1.1, 0.1, 1.1]))
    enc = ClueEncoder(n_fourier=8, fourier_scale=2.0, dim=16, n_down=2, epsilon=0.1, mask_form="design")
    pos = torch.rand(1, 8, 2)
    act = torch.tensor([[0, 0, 1, 1, 1, 1, 0, 0]], dtype=torch.float32)[..., None]
    feats = enc.masked_features(torch.cat([pos, act], dim=-1))
    gamma = enc.fourier(pos)
    assert torch.allclose(feats[0, act[0, :, 0] == 0], 0.1 * gamma[0, act[0, :, 0] == 0], atol=1e-6)
    assert torch.allclose(feats[0, act[0, :, 0] == 1], gamma[0, act[0, :, 0] == 1], atol=1e-6)
    paper = ClueEncoder(n_fourier=8, fourier_scale=2.0, dim=16, n_down=2, epsilon=0.1, mask_form="paper")
    active = paper.masked_features(torch.cat([pos, act], dim=-1))[0, 2:6]
    assert torch.allclose(active, 1.1 * gamma[0, 2:6], atol=1e-6)  # ≈ γ: within ε
    with pytest.raises(ValueError, match="epsilon"):
        soft_mask(c, 1.5)


def test_clue_grid_resampling_is_frame_accurate() -> None:
    t = np.arange(25) / 25.0
    act = np.r_[np.zeros(10), np.ones(15)].astype(int)
    grid = resample_clues(t, np.full(25, 2.0), np.linspace(-30, 30, 25), act, n_latent=25, latent_rate=25.0, oversample=4)
    assert grid.shape == (100, 3)
    # Latent frame i is centred at i / 25 s, so grid point j sits at (j + 0.5) / 100 - 0.02 s: frame 10 starts
    # at 0.4 s, which is grid point 42 (0.405 s).
    assert grid[:42, 2].max() == 0 and grid[42:, 2].min() == 1
    assert grid[0, 1] == pytest.approx(-30 / 180, abs=0.01) and grid[-1, 1] == pytest.approx(30 / 180, abs=0.01)


def test_save_load_round_trip(tmp_path) -> None:
    torch.manual_seed(1)
    model = build_dit(TINY).eval()
    _open_gates(model, 0.3)
    model.save_pretrained(tmp_path / "m")
    loaded = FoleyDiT.from_pretrained(tmp_path / "m").eval()
    assert loaded.config.clue_window == model.config.clue_window and loaded.injection_layers == [3, 7]
    inp = _inputs(model)
    with torch.no_grad():
        assert torch.equal(model(**inp)[0], loaded(**inp)[0])


def test_overfits_one_example() -> None:
    """One training example — a latent, its clues and caption, at 4 fixed (t, noise) draws — is memorised."""
    torch.manual_seed(0)
    model, text = build_dit(TINY), HashedTextEncoder(dim=32, vocab_size=512, max_tokens=16)
    inp = _inputs(model, batch=1)
    x0 = torch.randn_like(inp["hidden_states"]).clamp(-2, 2)
    tokens = text.tokenize(["footsteps"], ["footsteps, moving left to right, close"])
    opt = torch.optim.AdamW([*model.parameters(), *text.parameters()], lr=3e-3)
    g = torch.Generator().manual_seed(0)
    t, noise = torch.rand(4, generator=g), torch.randn((4, *x0.shape[1:]), generator=g)
    enc_args = (tokens.repeat(4, 1), torch.zeros(4), torch.ones(4), torch.ones(4))
    xt, target = flow_pair(x0.repeat(4, 1, 1), t, noise)
    losses = []
    for _ in range(50):
        enc, glob = text(*enc_args)
        pred = model(xt, t, enc, glob, clues=inp["clues"].repeat(4, 1, 1))[0]
        loss = torch.nn.functional.mse_loss(pred, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])
    assert all(float(b.gate.detach().abs().max()) > 0 for b in model.clue_injections.values())  # gates opened


def test_codec_keeps_itd_and_ild() -> None:
    metrics = pytest.importorskip("foleydesigner.eval.metrics")
    spatial = pytest.importorskip("foleydesigner.generation.spatial")
    codec = ParametricStereoCodec()
    sr = codec.sample_rate
    rng = np.random.default_rng(0)
    src = rng.standard_normal(2 * sr).astype(np.float32) * 0.1
    # 15 m is past the renderer's 5 m critical distance: the reverberant tail dominates every frame.
    for az, depth in ((-60.0, 1.5), (-15.0, 6.0), (35.0, 2.0), (75.0, 10.0), (50.0, 15.0)):
        x = spatial.render_spatial(src[None], t_s=[0.0, 2.0], azimuth_deg=[az, az], depth_m=[depth, depth], sr=sr)
        z = codec.encode(torch.from_numpy(x)[None])
        assert z.shape == (1, codec.latent_channels, 50)
        y = codec.decode(z, generator=torch.Generator().manual_seed(0))[0].numpy()
        itd_in = metrics.gcc_phat_itd(x[0], x[1], sr) * 1e3
        itd_out = metrics.gcc_phat_itd(y[0], y[1], sr) * 1e3
        assert abs(itd_out - itd_in) <= 0.05, (az, itd_in, itd_out)
        assert abs(metrics.ild_db(y) - metrics.ild_db(x)) <= 1.0, (az, metrics.ild_db(x), metrics.ild_db(y))
        assert np.sign(itd_out) == np.sign(az)


def test_codec_silence_stays_silent() -> None:
    codec = ParametricStereoCodec(n_bands=16, n_spatial_bands=2)
    z = codec.encode(torch.zeros(1, 2, 16000))
    y = codec.decode(z, generator=torch.Generator().manual_seed(0))
    assert float(y.abs().max()) == 0.0


def test_train_resume_and_backend_generate(tmp_path) -> None:
    pytest.importorskip("foleydesigner.generation.procedural")
    pytest.importorskip("foleydesigner.generation.spatial")
    from foleydesigner.generation.base import GenerationRequest
    from foleydesigner.generation.dit.backend import DiTGenerator
    from foleydesigner.generation.dit.data import make_dataset
    from foleydesigner.generation.dit.train import train
    from foleydesigner.schemas import EventClues, SoundEvent

    manifest = make_dataset(tmp_path / "data", n_items=4, duration_s=1.0, seed=0, shard_size=3, sample_rate=16000)
    meta = json.loads(manifest.read_text())
    assert meta["n_items"] == 4 and len(meta["shards"]) == 2 and meta["items"][0]["caption"]
    ckpt = train("tiny", manifest.parent, tmp_path / "run", steps=3, batch_size=2, lr=1e-3, device="cpu", seed=0,
                 log_every=1, progress=False)
    ckpt = train("tiny", manifest.parent, tmp_path / "run", steps=5, batch_size=2, lr=1e-3, device="cpu", seed=0,
                 log_every=1, resume=True, progress=False)
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "loss.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]  # resume continued at step 4, it did not start over
    assert json.loads((ckpt / "recipe.json").read_text())["meta"]["step"] == 5

    gen = DiTGenerator(ckpt, steps=2, device="cpu")
    n = 60  # 2.4 s of clues at 25 fps: longer than the tiny model's 1 s window, so it is generated in windows
    clues = EventClues(event_id="steps", fps=25.0, t_s=list(np.arange(n) / 25.0), depth_m=[2.0] * n,
                       azimuth_deg=list(np.linspace(-40, 40, n)), activation=[1] * 30 + [0] * 30)
    event = SoundEvent(id="steps", label="footsteps", layer="fg", start_s=0.0, end_s=1.2)
    res = gen.generate(GenerationRequest(event=event, clues=clues, duration_s=2.4, sample_rate=48000, seed=3))
    assert res.audio.shape == (2, 115200) and res.audio.dtype == np.float32
    assert np.isfinite(res.audio).all() and res.info["windows"] == 4
    again = gen.generate(GenerationRequest(event=event, clues=clues, duration_s=2.4, sample_rate=48000, seed=3))
    assert np.array_equal(res.audio, again.audio)  # the request's seed owns all randomness


def test_train_without_clues_leaves_gates_closed(tmp_path) -> None:
    pytest.importorskip("foleydesigner.generation.procedural")
    from foleydesigner.generation.dit.backend import load_checkpoint
    from foleydesigner.generation.dit.data import make_dataset
    from foleydesigner.generation.dit.train import train

    manifest = make_dataset(tmp_path / "data", n_items=2, duration_s=1.0, seed=1, sample_rate=16000)
    ckpt = train("tiny", manifest, tmp_path / "run", steps=3, batch_size=2, lr=1e-3, device="cpu", use_clues=False,
                 progress=False)
    loaded = load_checkpoint(ckpt)
    assert loaded.meta["use_clues"] is False
    assert all(float(b.gate.detach().abs().max()) == 0.0 for b in loaded.dit.clue_injections.values())


def test_cli_train_refuses_a_folder_without_manifest(tmp_path) -> None:
    from typer.testing import CliRunner

    from foleydesigner.cli import app

    r = CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "ckpt"), "--steps", "1"])
    assert r.exit_code == 2 and "manifest.json" in r.output and "foley dataset" in r.output
    assert not (tmp_path / "ckpt").exists()
