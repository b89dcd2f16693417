"""Which library reproduces torch-fidelity's DINOv2 ViT-L/14 features from local files, offline?

Not an official reference: a cross-check of timm / transformers against the recorded torch-fidelity
features (``vectors.npz``), on the recorded model inputs (normalized 224 x 224), with the same
random weights (``helpers_dinov2.dinov2_vitl14_state_dict(0)``).

Usage:
    HF_HUB_OFFLINE=1 PYTHONPATH=/work/vectors/dinov2_cmmd/site_hf /work/main/.venv/bin/python \
        /work/vectors/dinov2_cmmd/fd_dinov2/check_libraries.py

Writes ``check_libraries.json`` (max |diff| against torch-fidelity's features per variant).
"""

from __future__ import annotations

import json
import shutil
import math
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "helpers"))  # tests/helpers: helpers_dinov2, helpers_clip
from helpers_dinov2 import dinov2_vitl14_state_dict  # noqa: E402


def hub_style_pos_embed(pos_embed: torch.Tensor, grid: int, offset: float = 0.1) -> torch.Tensor:
    """DINOv2 hub's interpolate_pos_encoding for a square grid (bicubic, scale_factor=(grid+0.1)/37, no antialias)."""
    cls, patch = pos_embed[:, :1], pos_embed[:, 1:].float()
    m = int(math.sqrt(patch.shape[1]))
    s = float(grid + offset) / m
    patch = F.interpolate(patch.reshape(1, m, m, -1).permute(0, 3, 1, 2), mode="bicubic", antialias=False, scale_factor=(s, s))
    assert patch.shape[-2:] == (grid, grid)
    return torch.cat((cls, patch.permute(0, 2, 3, 1).reshape(1, grid * grid, -1)), dim=1)


def to_hf_dinov2(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original DINOv2 keys -> the key names of facebook/dinov2-large's model.safetensors (qkv split)."""
    out = {
        "embeddings.cls_token": sd["cls_token"],
        "embeddings.mask_token": sd["mask_token"],
        "embeddings.position_embeddings": sd["pos_embed"],
        "embeddings.patch_embeddings.projection.weight": sd["patch_embed.proj.weight"],
        "embeddings.patch_embeddings.projection.bias": sd["patch_embed.proj.bias"],
        "layernorm.weight": sd["norm.weight"],
        "layernorm.bias": sd["norm.bias"],
    }
    for i in range(24):
        s, d = f"blocks.{i}.", f"encoder.layer.{i}."
        q, k, v = sd[s + "attn.qkv.weight"].chunk(3, 0)
        qb, kb, vb = sd[s + "attn.qkv.bias"].chunk(3, 0)
        out.update({
            d + "norm1.weight": sd[s + "norm1.weight"], d + "norm1.bias": sd[s + "norm1.bias"],
            d + "attention.attention.query.weight": q, d + "attention.attention.query.bias": qb,
            d + "attention.attention.key.weight": k, d + "attention.attention.key.bias": kb,
            d + "attention.attention.value.weight": v, d + "attention.attention.value.bias": vb,
            d + "attention.output.dense.weight": sd[s + "attn.proj.weight"],
            d + "attention.output.dense.bias": sd[s + "attn.proj.bias"],
            d + "layer_scale1.lambda1": sd[s + "ls1.gamma"],
            d + "norm2.weight": sd[s + "norm2.weight"], d + "norm2.bias": sd[s + "norm2.bias"],
            d + "mlp.fc1.weight": sd[s + "mlp.fc1.weight"], d + "mlp.fc1.bias": sd[s + "mlp.fc1.bias"],
            d + "mlp.fc2.weight": sd[s + "mlp.fc2.weight"], d + "mlp.fc2.bias": sd[s + "mlp.fc2.bias"],
            d + "layer_scale2.lambda1": sd[s + "ls2.gamma"],
        })
    return out


def main() -> None:
    torch.set_num_threads(1)
    vec = np.load(HERE / "vectors.npz")
    # both crop sizes' reference inputs in one batch: 64 px (upsampled) and 256 px (downsampled) crops
    x = torch.cat([torch.from_numpy(vec[f"fidelity_model_input_ref{t}"]) for t in ("64", "256")])
    want = np.concatenate([vec[f"fidelity_features_ref{t}"] for t in ("64", "256")])
    results: dict[str, float] = {}

    def record(name, feats):
        feats = feats.detach().float().numpy()
        results[name] = float(np.abs(feats - want).max())
        print(f"{name}: max|diff| = {results[name]:.3g}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="dinov2_libs_"))
    sd = dinov2_vitl14_state_dict(0)
    pth = tmp / "dinov2_vitl14_pretrain.pth"
    torch.save(sd, pth)

    import timm

    with torch.no_grad():
        # timm, loading the original DINOv2 .pth directly (checkpoint_filter_fn -> _convert_dinov2)
        t0 = time.time()
        model = timm.create_model("vit_large_patch14_dinov2.lvd142m", pretrained=True, img_size=224,
                                  pretrained_cfg_overlay=dict(file=str(pth))).eval()
        print("timm load", time.time() - t0, flush=True)
        record("timm_img224_load_time_resample(antialias=True)", model(x))
        model.pos_embed.copy_(hub_style_pos_embed(sd["pos_embed"], 16))
        record("timm_img224_hub_style_pos_embed", model(x))
        del model
        model = timm.create_model("vit_large_patch14_dinov2.lvd142m", pretrained=True, dynamic_img_size=True,
                                  pretrained_cfg_overlay=dict(file=str(pth))).eval()
        record("timm_img518_dynamic_img_size", model(x))
        del model

        # transformers, from a local folder written by save_pretrained (offline)
        from transformers import Dinov2Config, Dinov2Model

        config = Dinov2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                              patch_size=14, image_size=518, layerscale_value=1.0, layer_norm_eps=1e-6,
                              hidden_act="gelu", qkv_bias=True, mlp_ratio=4)
        # a folder laid out like facebook/dinov2-large (config.json + model.safetensors, legacy key names)
        from safetensors.torch import save_file

        (tmp / "hf_dinov2").mkdir()
        config.save_pretrained(tmp / "hf_dinov2")
        save_file({k: v.contiguous() for k, v in to_hf_dinov2(sd).items()}, tmp / "hf_dinov2" / "model.safetensors",
                  metadata={"format": "pt"})
        model, info = Dinov2Model.from_pretrained(tmp / "hf_dinov2", local_files_only=True, output_loading_info=True,
                                                  use_kernels=False)
        model.eval()
        print("transformers loading info", {k: v for k, v in info.items() if v}, flush=True)
        assert not info["unexpected_keys"] and all("pooler" in k for k in info["missing_keys"]), info
        record("transformers_pooler_output(size-based bicubic)", model(pixel_values=x).pooler_output)
        emb = model.embeddings
        hub_pos = hub_style_pos_embed(sd["pos_embed"], 16)
        emb.interpolate_pos_encoding = lambda embeddings, height, width: hub_pos
        record("transformers_hub_style_pos_embed", model(pixel_values=x).pooler_output)

    out = {
        "max_abs_diff_vs_torch_fidelity_features_ref64_and_ref256": results,
        "feature_scale": {"std": float(want.std()), "max_abs": float(np.abs(want).max())},
        "versions": {m: metadata.version(m) for m in ("torch", "timm", "transformers", "safetensors", "huggingface_hub")},
    }
    (HERE / "check_libraries.json").write_text(json.dumps(out, indent=1) + "\n")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
