"""Vision backends: opencv passthrough, transformers (tiny random-init models saved offline), vlm (scripted model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foleydesigner.errors import BackendError, InputError
from foleydesigner.tools.video import probe_video
from foleydesigner.tools.vision import KeyframeBoxes, iou, make_vision_backend
from tests.fakes import ScriptedChatModel, call


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from foleydesigner.bench.synthetic import make_clip

    p = tmp_path_factory.mktemp("vision") / "single_mover.mp4"
    make_clip("single_mover", p, width=320, height=180, duration_s=2.0, seed=0)
    return p


def _tiny_models(root: Path) -> Path:
    """Random-init OWL-ViT detector + DPT depth model, with processors built offline (hand-made CLIP vocab)."""
    import torch
    from transformers import (
        CLIPTokenizer,
        DPTConfig,
        DPTForDepthEstimation,
        DPTImageProcessor,
        OwlViTConfig,
        OwlViTForObjectDetection,
        OwlViTImageProcessor,
        OwlViTProcessor,
    )

    torch.manual_seed(0)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    (root / "vocab.json").write_text(json.dumps(vocab))
    (root / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(root / "vocab.json"), str(root / "merges.txt"))
    det_dir, dep_dir = root / "models" / "detector", root / "models" / "depth"
    cfg = OwlViTConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 16,
                     "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 64, "patch_size": 16},
        projection_dim=16)
    OwlViTForObjectDetection(cfg).save_pretrained(det_dir)
    size = {"height": 64, "width": 64}
    OwlViTProcessor(image_processor=OwlViTImageProcessor(size=size, crop_size=size), tokenizer=tok).save_pretrained(det_dir)
    dcfg = DPTConfig(hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32, image_size=32,
                     patch_size=8, neck_hidden_sizes=[8, 8, 8, 8], fusion_hidden_size=8, backbone_out_indices=[0, 1, 2, 3],
                     head_in_index=-1)
    depth = DPTForDepthEstimation(dcfg)
    with torch.no_grad():  # random init predicts ~0 after the final ReLU: give it a positive (inverse) depth
        depth.head.head[4].bias.fill_(1.0)
    depth.save_pretrained(dep_dir)
    DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False).save_pretrained(dep_dir)
    return root / "models"


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_unknown_and_missing_model_dir(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown vision backend 'xray'"):
        make_vision_backend("xray")
    with pytest.raises(BackendError, match="--vision-model-dir"):
        make_vision_backend("transformers")
    (tmp_path / "detector").mkdir()
    with pytest.raises(BackendError, match=r"--vision-model-dir .* lacks depth/"):
        make_vision_backend("transformers", model_dir=tmp_path)
    with pytest.raises(BackendError, match="heuristic"):
        make_vision_backend("vlm", llm="heuristic")
    assert make_vision_backend("opencv").depth_m(np.zeros((4, 4, 3), np.uint8), (0, 0, 2, 2)) is None


def test_transformers_backend_tiny_models(tmp_path: Path, clip: Path) -> None:
    backend = make_vision_backend("transformers", model_dir=_tiny_models(tmp_path))
    backend.threshold = 0.0  # type: ignore[attr-defined]  # random weights: keep every detection
    info = probe_video(clip)
    tracks = backend.track(clip, info, labels=["car", "person"])
    assert tracks, "the OpenCV tracker should find the synthetic mover"
    assert all(t.label in {"car", "person", "vehicle", "object", "ball"} for t in tracks)
    depths = backend.depths  # type: ignore[attr-defined]
    assert depths and all(isinstance(d, float) and 0.3 <= d <= 200 for v in depths.values() for _, d in v)
    frame = np.zeros((info.height, info.width, 3), np.uint8)
    d = backend.depth_m(frame, tracks[0].boxes[0])
    assert d is None or isinstance(d, float)
    dets = backend.detect(frame, ["car"])  # type: ignore[attr-defined]
    assert all(len(b) == 4 and lab == "car" and isinstance(s, float) for b, lab, s in dets)


def test_vlm_backend_relabels_from_reply(clip: Path) -> None:
    from foleydesigner.tools.tracking import track_objects

    info = probe_video(clip)
    base = track_objects(clip, info)
    assert base
    t = base[0]
    x, y, w, h = t.boxes[len(t.boxes) // 2]
    # Box every keyframe on the track's (roughly) current place: a sloppy but overlapping box still matches.
    mid = {"label": "Tractor", "x": x / info.width, "y": y / info.height, "w": w / info.width, "h": h / info.height}
    boxes = []
    for k_t in (0.25, 0.75, 1.25, 1.75):
        i = int(np.argmin([abs(v - k_t) for v in t.t_s]))
        bx, by, bw, bh = t.boxes[i]
        boxes.append({**mid, "x": bx / info.width, "y": by / info.height, "w": bw / info.width, "h": bh / info.height})
    model = ScriptedChatModel(responses=[call("KeyframeBoxes", {"boxes": [b]}) for b in boxes])
    out = make_vision_backend("vlm", llm=model).track(clip, info)
    assert [o.id for o in out] == [b.id for b in base]
    assert out[0].label == "tractor"
    assert model.calls and KeyframeBoxes.__name__ == "KeyframeBoxes"


def test_pipeline_rejects_transformers_without_model_dir_before_work(tmp_path: Path, clip: Path) -> None:
    from foleydesigner.pipeline import run_foley

    with pytest.raises(BackendError, match="--vision-model-dir"):
        run_foley(clip, tmp_path / "o", vision="transformers")
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.partial-*"))


def test_pipeline_runs_with_transformers_backend(tmp_path: Path, clip: Path) -> None:
    """`foley run --vision transformers --vision-model-dir DIR` goes end to end on local tiny models."""
    from foleydesigner.pipeline import run_foley

    state = run_foley(clip, tmp_path / "out", vision="transformers", vision_model_dir=str(_tiny_models(tmp_path)))
    assert state["run"]["backends"]["vision"] == "transformers"
    assert state["tracks"] and (tmp_path / "out" / "mix_5_1.wav").is_file()
    trace = (tmp_path / "out" / "trace.jsonl").read_text()
    assert '"backend": "transformers"' in trace


def test_measured_depth_samples_drive_the_clues() -> None:
    """A depth model's keyframe depths replace the geometric estimate in the clues (log-interpolated)."""
    from foleydesigner.schemas import SoundEvent
    from foleydesigner.tools.clues import clues_for_track
    from tests.helpers import linear_track, video_info

    v = video_info(duration_s=2.0)
    tr = linear_track(0, t0=0.0, t1=2.0, x0=100, x1=500)
    tr = tr.model_copy(update={"depth_samples": [(0.0, 2.0), (2.0, 8.0)]})
    ev = SoundEvent(id="steps", label="footsteps", layer="fg", start_s=0.0, end_s=2.0, source_track=0)
    c = clues_for_track(ev, tr, v)
    assert abs(c.depth_m[0] - 2.0) < 0.1 and abs(c.depth_m[-1] - 8.0) < 0.4
    mid = c.depth_m[len(c.depth_m) // 2]
    assert abs(mid - 4.0) < 0.3  # geometric mean of 2 and 8: interpolated in log depth
