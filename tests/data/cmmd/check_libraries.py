"""Which PyTorch library reproduces the official CMMD (scenic/JAX) CLIP embeddings from local files, offline?

Not an official reference: a cross-check of timm / transformers against the recorded scenic
embeddings (``vectors.npz``: ``emb_ref``), fed the recorded official model input
(``clip_input_ref``, NHWC normalized 336 x 336), with the same random weights
(``helpers_clip.clip_vitl14_336_visual_state_dict(0)``, OpenAI naming). Also compares
transformers' CLIPImageProcessor (resize shortest side, then centre crop) with the official
crop-then-resize pixels (``read_ref``).

Usage:
    HF_HUB_OFFLINE=1 PYTHONPATH=/work/vectors/dinov2_cmmd/site_hf /work/main/.venv/bin/python \
        /work/vectors/dinov2_cmmd/cmmd/check_libraries.py

Writes ``check_libraries.json``.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "helpers"))  # tests/helpers: helpers_dinov2, helpers_clip
from helpers_clip import clip_vitl14_336_visual_state_dict  # noqa: E402


def to_hf_clip_vision(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenAI CLIP visual.* keys -> CLIPVisionModelWithProjection keys (openai/clip-vit-large-patch14-336 layout)."""
    p = "vision_model."
    out = {
        p + "embeddings.class_embedding": sd["visual.class_embedding"],
        p + "embeddings.patch_embedding.weight": sd["visual.conv1.weight"],
        p + "embeddings.position_embedding.weight": sd["visual.positional_embedding"],
        p + "pre_layrnorm.weight": sd["visual.ln_pre.weight"],
        p + "pre_layrnorm.bias": sd["visual.ln_pre.bias"],
        p + "post_layernorm.weight": sd["visual.ln_post.weight"],
        p + "post_layernorm.bias": sd["visual.ln_post.bias"],
        "visual_projection.weight": sd["visual.proj"].t().contiguous(),
    }
    for i in range(24):
        s, d = f"visual.transformer.resblocks.{i}.", f"{p}encoder.layers.{i}."
        q, k, v = sd[s + "attn.in_proj_weight"].chunk(3, 0)
        qb, kb, vb = sd[s + "attn.in_proj_bias"].chunk(3, 0)
        out.update({
            d + "self_attn.q_proj.weight": q, d + "self_attn.q_proj.bias": qb,
            d + "self_attn.k_proj.weight": k, d + "self_attn.k_proj.bias": kb,
            d + "self_attn.v_proj.weight": v, d + "self_attn.v_proj.bias": vb,
            d + "self_attn.out_proj.weight": sd[s + "attn.out_proj.weight"],
            d + "self_attn.out_proj.bias": sd[s + "attn.out_proj.bias"],
            d + "layer_norm1.weight": sd[s + "ln_1.weight"], d + "layer_norm1.bias": sd[s + "ln_1.bias"],
            d + "mlp.fc1.weight": sd[s + "mlp.c_fc.weight"], d + "mlp.fc1.bias": sd[s + "mlp.c_fc.bias"],
            d + "mlp.fc2.weight": sd[s + "mlp.c_proj.weight"], d + "mlp.fc2.bias": sd[s + "mlp.c_proj.bias"],
            d + "layer_norm2.weight": sd[s + "ln_2.weight"], d + "layer_norm2.bias": sd[s + "ln_2.bias"],
        })
    return {k: v.contiguous() for k, v in out.items()}


def main() -> None:
    torch.set_num_threads(1)
    vec = np.load(HERE / "vectors.npz")
    x = torch.from_numpy(vec["clip_input_ref"]).permute(0, 3, 1, 2).contiguous()  # NCHW float32
    want = vec["emb_ref"]
    results: dict[str, float] = {}

    def record(name, emb):
        emb = emb.detach().float()
        emb = (emb / emb.norm(dim=-1, keepdim=True)).numpy()
        results[name] = float(np.abs(emb - want).max())
        print(f"{name}: max|diff| = {results[name]:.3g}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="clip_libs_"))
    sd = {k: torch.from_numpy(np.array(v)) for k, v in clip_vitl14_336_visual_state_dict(0).items()}
    pth = tmp / "clip_vitl14_336_openai_visual.pth"
    torch.save(sd, pth)

    import timm

    with torch.no_grad():
        for act in ("quick_gelu", None):
            kwargs = {"act_layer": act} if act else {}
            model = timm.create_model("vit_large_patch14_clip_336.openai", pretrained=True,
                                      pretrained_cfg_overlay=dict(file=str(pth)), **kwargs).eval()
            record(f"timm_vit_large_patch14_clip_336.openai_act={act or 'default(gelu)'}", model(x))
            del model

        from safetensors.torch import save_file
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

        config = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                                  image_size=336, patch_size=14, projection_dim=768, hidden_act="quick_gelu",
                                  layer_norm_eps=1e-5)
        folder = tmp / "hf_clip_vision"
        folder.mkdir()
        config.save_pretrained(folder)
        save_file(to_hf_clip_vision(sd), folder / "model.safetensors", metadata={"format": "pt"})
        model, info = CLIPVisionModelWithProjection.from_pretrained(folder, local_files_only=True,
                                                                   output_loading_info=True, use_kernels=False)
        model.eval()
        assert not any(info.values()), info
        record("transformers_CLIPVisionModelWithProjection_image_embeds", model(pixel_values=x).image_embeds)

    # preprocessing: transformers' CLIPImageProcessor (openai/clip-vit-large-patch14-336 settings) vs official
    from PIL import Image
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
                                   resample=3, do_center_crop=True, do_normalize=True, do_rescale=True)
    paths = sorted((HERE / "inputs" / "ref").glob("*.png"))
    hf_pixels = processor([Image.open(p).convert("RGB") for p in paths], return_tensors="np")["pixel_values"]
    pre = {"hf_processor_vs_official_clip_input_max_abs": float(np.abs(hf_pixels.transpose(0, 2, 3, 1) - vec["clip_input_ref"]).max()),
           "processor_class": type(processor).__name__}
    print(pre)

    out = {"max_abs_diff_vs_scenic_emb_ref (after L2 normalisation)": results, "preprocessing": pre,
           "versions": {m: metadata.version(m) for m in ("torch", "timm", "transformers", "safetensors")}}
    (HERE / "check_libraries.json").write_text(json.dumps(out, indent=1) + "\n")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
