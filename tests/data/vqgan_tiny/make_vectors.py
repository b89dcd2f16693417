"""Record taming-transformers VQGAN test vectors from the official code (CompVis/taming-transformers).

Usage: PYTHONPATH=DEPS python make_vectors.py /path/to/taming-transformers [OUT_DIR]

DEPS holds what the official code imports (omegaconf, einops, pytorch_lightning; installed
with ``pip install --target``). Builds the official ``taming.models.vqgan.VQModel`` from
``config.yaml`` (the official YAML layout; the loss slot holds the official
``NLayerDiscriminator`` so that, as in the released files, the state dict carries ``loss.*``
weights that inference ignores), with random weights, and saves it like a released Lightning 1.0
``last.ckpt``: ``state_dict``, ``optimizer_states``, ``lr_schedulers``, ``epoch``,
``global_step``, ``pytorch-lightning_version`` and ``callbacks``, a dict keyed by the
``ModelCheckpoint`` class itself (what makes ``weights_only=True`` refuse the file). Then it
loads that file with the official ``init_from_ckpt`` and records the official outputs.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import torch
import yaml


def main(official_root: str, out_dir: str) -> None:
    sys.path.insert(0, official_root)
    # taming/data/utils.py (imported by main.py) needs torch._six, gone from current torch
    sys.modules.setdefault("torch._six", types.SimpleNamespace(string_classes=(str,)))
    from pytorch_lightning.callbacks.model_checkpoint import ModelCheckpoint  # noqa: E402
    from taming.models.vqgan import VQModel  # noqa: E402

    out = Path(out_dir)
    params = yaml.safe_load((out / "config.yaml").read_text())["model"]["params"]
    torch.manual_seed(0)
    model = VQModel(**params)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name and p.dim() > 1 and not name.startswith("loss."):
                p.mul_(1.5)
        emb = model.quantize.embedding.weight
        emb.copy_(torch.randn_like(emb) * 0.5)  # the official init (+-1/n_embed) puts every code near 0
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    checkpoint = {
        "epoch": 3,
        "global_step": 1200,
        "pytorch-lightning_version": "1.0.8",
        "callbacks": {ModelCheckpoint: {"monitor": None, "best_model_score": None, "best_model_path": "",
                                        "current_score": None, "dirpath": "logs/ckpts"}},
        "optimizer_states": [optimizer.state_dict()],
        "lr_schedulers": [],
        "state_dict": model.state_dict(),
    }
    torch.save(checkpoint, out / "last.ckpt")

    official = VQModel(**params)
    # the official loader (torch.load, keeps state_dict, strict=False); current torch loads with
    # weights_only=True by default, which needs the callback class allowed
    with torch.serialization.safe_globals([ModelCheckpoint]):
        official.init_from_ckpt(str(out / "last.ckpt"))
    official.eval()
    x = torch.rand(2, 3, 24, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        latent = official.quant_conv(official.encoder(x))
        quant, _, (_, _, indices) = official.encode(x)
        b, _, h, w = latent.shape
        # VQModel.decode_code calls quantize.embed_code, which VectorQuantizer2 lacks: look the
        # codes up with get_codebook_entry (shape b, h, w, c) and decode, as taming's notebooks do
        recon = official.decode(official.quantize.get_codebook_entry(indices.flatten(), (b, h, w, params["embed_dim"])))
        z = latent.permute(0, 2, 3, 1).reshape(-1, params["embed_dim"]).double()
        d = torch.cdist(z, official.quantize.embedding.weight.double()) ** 2
        top2 = d.topk(2, dim=1, largest=False).values
    expected = {
        "input": x,
        "latent": latent,
        "codes": indices.reshape(b, h, w).to(torch.int64),
        "code_margin": (top2[:, 1] - top2[:, 0]).float().reshape(b, h, w),
        "recon": recon,
    }
    torch.save(expected, out / "expected.pt")
    print({k: tuple(v.shape) for k, v in expected.items()})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else str(Path(__file__).resolve().parent))
