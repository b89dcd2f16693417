"""Record Open-MAGVIT2 test vectors with the official code (TencentARC/SEED-Voken).

Run OUTSIDE the project, with the official repository's root and its extra packages (lightning,
einops, omegaconf) on the path::

    PYTHONPATH=/work/official/deps python make_vectors.py /work/official/SEED-Voken

It builds the official ``VQModel`` from ``config.yaml`` (random weights), makes its EMA copies
differ from the raw weights, saves ``OpenMAGVIT2.ckpt`` as the releases are saved
(``{"state_dict": model.state_dict()}``) and writes ``expected.pt`` from the official
inference path (``ema_scope`` -> ``encode`` -> ``decode``, as ``reconstruct_image.py`` does).
Nothing here is copied from the official code: it only calls it.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seed_voken", type=Path, help="root of a TencentARC/SEED-Voken checkout")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    root = args.seed_voken.resolve()
    sys.path.insert(0, str(root))
    os.chdir(root)
    from src.Open_MAGVIT2.models.lfqgan import VQModel
    from src.Open_MAGVIT2.modules.ema import LitEma

    torch.manual_seed(0)
    config = yaml.safe_load((HERE / "config.yaml").read_text())
    model = VQModel(**config["model"]["init_args"])
    # Non-trivial weights everywhere (norm scales, biases), then EMA copies of them, then raw
    # weights that differ from the EMA ones: only the EMA weights reproduce the vectors.
    perturb_(model, 0.5)
    model.model_ema = LitEma(model)
    perturb_(model, 0.3)
    model.eval()

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict()}, out / "OpenMAGVIT2.ckpt")

    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad(), model.ema_scope():
        latent = model.encoder(x)
        quant, _, indices, _ = model.encode(x)
        # LFQ returns the +-1 latent as a channels-last view; the convolutions then take another
        # code path whose rounding differs (the official output itself moves by ~2e-4 between
        # layouts on this model). `recon` decodes the same values in the standard layout,
        # `recon_forward` is the literal forward path.
        recon = model.decode(quant.contiguous())
        recon_forward = model.decode(quant)
    b, _, h, w = latent.shape
    expected = {
        "input": x,
        "latent": latent.contiguous(),
        "codes": indices.reshape(b, h, w).to(torch.int64),
        "recon": recon.contiguous(),
        "recon_forward": recon_forward.contiguous(),
    }
    print("official layout noise:", float((recon - recon_forward).abs().max()))
    torch.save(expected, out / "expected.pt")
    for key, value in expected.items():
        print(key, tuple(value.shape), value.dtype)


if __name__ == "__main__":
    main()
