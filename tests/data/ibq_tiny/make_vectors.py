"""Record IBQ test vectors with the official code (TencentARC/SEED-Voken).

Run OUTSIDE the project, with the official repository's root and its extra packages (lightning,
pytorch-lightning, einops, omegaconf) on the path::

    PYTHONPATH=/work/official/deps python make_vectors.py /work/official/SEED-Voken

It builds the official ``IBQ`` model from ``config.yaml`` (random weights), makes its EMA copies
differ from the raw weights, saves ``IBQ.ckpt`` as the releases are saved
(``{"state_dict": model.state_dict()}``) and writes ``expected.pt`` from the official
inference path (``ema_scope`` -> ``encode`` -> ``decode``, as ``reconstruct_image.py`` does),
for a 32x32 batch (the config's ``resolution``) and a 48x48 image (attention still placed by
the config's resolution). Nothing here is copied from the official code: it only calls it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import yaml

HERE = Path(__file__).resolve().parent


def perturb_(module: torch.nn.Module, scale: float) -> None:
    """Add Gaussian noise of relative size ``scale`` to every parameter (in place)."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * scale * (p.abs().mean() + 0.1))


def record(model, x: torch.Tensor, suffix: str) -> dict[str, torch.Tensor]:
    """input / latent (what the quantizer sees) / codes / recon / margin for images ``x``."""
    with torch.no_grad(), model.ema_scope():
        latent = model.quant_conv(model.encoder(x))
        quant, _, (_, _, indices) = model.encode(x)
        recon = model.decode(quant)
        b, c, h, w = latent.shape
        codes = indices.reshape(b, h, w).to(torch.int64)
        # the official decode of given codes: codebook rows -> post_quant_conv -> decoder
        recon_codes = model.decode(model.quantize.get_codebook_entry(indices.flatten(), (b, h, w, c)))
        # gap between the two best dot products: codes closer than float rounding are undecidable
        scores = torch.einsum("bdhw,nd->bhwn", latent, model.quantize.embedding.weight)
        top2 = scores.topk(2, dim=-1).values
    return {
        f"input{suffix}": x,
        f"latent{suffix}": latent.contiguous(),
        f"codes{suffix}": codes,
        f"margin{suffix}": (top2[..., 0] - top2[..., 1]).contiguous(),
        f"recon{suffix}": recon.contiguous(),
        f"recon_codes{suffix}": recon_codes.contiguous(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seed_voken", type=Path, help="root of a TencentARC/SEED-Voken checkout")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    root = args.seed_voken.resolve()
    sys.path.insert(0, str(root))
    os.chdir(root)
    from src.IBQ.models.ibqgan import IBQ
    from src.IBQ.modules.ema import LitEma

    torch.manual_seed(0)
    config = yaml.safe_load((HERE / "config.yaml").read_text())
    model = IBQ(**config["model"]["init_args"])
    # Non-trivial weights everywhere (norm scales, biases), then EMA copies of them, then raw
    # weights that differ from the EMA ones: only the EMA weights reproduce the vectors.
    perturb_(model, 0.5)
    model.model_ema = LitEma(model)
    perturb_(model, 0.3)
    model.eval()

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict()}, out / "IBQ.ckpt")

    gen = torch.Generator().manual_seed(1)
    expected = record(model, torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1, "")
    expected.update(record(model, torch.rand(1, 3, 48, 48, generator=gen) * 2 - 1, "_48"))
    torch.save(expected, out / "expected.pt")
    for key, value in expected.items():
        print(key, tuple(value.shape), value.dtype)


if __name__ == "__main__":
    main()
