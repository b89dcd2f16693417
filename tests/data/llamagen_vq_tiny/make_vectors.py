"""Record LlamaGen VQ test vectors from the official code (FoundationVision/LlamaGen).

Usage: python make_vectors.py /path/to/LlamaGen [OUT_DIR]

Imports ``tokenizer/tokenizer_image/vq_model.py`` from the given checkout (read at ce98ec4),
builds a tiny randomly initialised ``VQModel`` in it, saves it in the release format
(``torch.save({"model": state_dict})``) and records what the official modules give for it.
The official ``VQModel`` hard-codes ``ch=128`` and ``num_res_blocks=2`` for its encoder and
decoder; to keep the file small its encoder and decoder are replaced by the official
``Encoder``/``Decoder`` classes built with ``ch=32, num_res_blocks=1`` (the same classes, other
arguments). The stored codebook rows are rescaled to non-unit norms, since trained rows need
not be unit norm and the official quantizer l2-normalises them at use.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

ARGS = dict(codebook_size=64, codebook_embed_dim=4, codebook_l2_norm=True, encoder_ch_mult=[1, 1],
            decoder_ch_mult=[1, 1], z_channels=32)
CH, NUM_RES_BLOCKS = 32, 1


def main(official_root: str, out_dir: str) -> None:
    sys.path.insert(0, official_root)
    from tokenizer.tokenizer_image import vq_model as official  # noqa: E402

    torch.manual_seed(0)
    model = official.VQModel(official.ModelArgs(**ARGS))
    model.encoder = official.Encoder(ch=CH, ch_mult=ARGS["encoder_ch_mult"], num_res_blocks=NUM_RES_BLOCKS,
                                     z_channels=ARGS["z_channels"])
    model.decoder = official.Decoder(ch=CH, ch_mult=ARGS["decoder_ch_mult"], num_res_blocks=NUM_RES_BLOCKS,
                                     z_channels=ARGS["z_channels"])
    with torch.no_grad():
        # random init is small-valued; widen the weights so the outputs are far from trivial
        for name, p in model.named_parameters():
            if "norm" not in name and p.dim() > 1:
                p.mul_(1.5)
        emb = model.quantize.embedding.weight
        emb.copy_(torch.randn_like(emb) * torch.empty(emb.shape[0], 1).uniform_(0.5, 2.0))
    model.eval()

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, out / "vq_tiny.pt")

    # reload through the official path (strict load of ["model"]) before recording
    reloaded = official.VQModel(official.ModelArgs(**ARGS))
    reloaded.encoder, reloaded.decoder = model.encoder, model.decoder
    reloaded.load_state_dict(torch.load(out / "vq_tiny.pt", map_location="cpu")["model"])
    reloaded.eval()

    x = torch.rand(2, 3, 24, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        latent = reloaded.quant_conv(reloaded.encoder(x))
        quant, _, (_, _, indices) = reloaded.encode(x)
        recon = reloaded.decode_code(indices, quant.shape)
        # distance gap between the best and second-best code: where it is tiny the code is ambiguous
        z = torch.nn.functional.normalize(latent.permute(0, 2, 3, 1).reshape(-1, ARGS["codebook_embed_dim"]), dim=-1)
        e = torch.nn.functional.normalize(reloaded.quantize.embedding.weight, dim=-1)
        d = torch.cdist(z.double(), e.double()) ** 2
        top2 = d.topk(2, dim=1, largest=False).values
    b, _, h, w = latent.shape
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
