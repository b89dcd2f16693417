"""Record VAR VQVAE test vectors from the official code (FoundationVision/VAR).

Usage: python make_vectors.py /path/to/VAR [OUT_DIR]

Imports ``models/vqvae.py`` (and through it ``models/quant.py``, ``models/basic_vae.py``) from the
given checkout (read at 78b9539), builds a tiny randomly initialised ``VQVAE`` with the released
scales (1, 2, 3, 4, 5, 6, 8, 10, 13, 16) and ``share_quant_resi=4``, saves it in the release format
(a plain ``torch.save(state_dict)``) and records what the official code gives for it. ``VQVAE``
hard-codes ``ch_mult=(1, 1, 2, 2, 4)`` and ``num_res_blocks=2``; to keep the file small its encoder
and decoder are replaced by the official ``Encoder``/``Decoder`` classes built with ``ch=32,
ch_mult=(1, 2), num_res_blocks=1`` (the same classes, other arguments): down-sampling 2, so a
32x32 image has the 16x16 latent the released scales end at. It also records which phi each
scale uses (the official ``PhiPartiallyShared`` indexing) for several scale and phi counts, and
the state-dict keys and shapes of the full-size released architecture (built on the meta device).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

PATCH_NUMS = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)
VOCAB, CVAE, CH, CH_MULT, NUM_RES_BLOCKS = 64, 8, 32, (1, 2), 1
#: (scales, phis) pairs whose phi assignment is recorded; the scale lists of --pn 256/512/1024
#: have 10, 10 and 14 scales.
PHI_CASES = [(10, 4), (14, 4), (7, 4), (4, 4), (2, 4), (10, 3), (10, 2), (5, 6)]


def _phi_assignment(quant, n_scales: int, n_phis: int) -> list[int]:
    from torch import nn

    phis = quant.PhiPartiallyShared(nn.ModuleList([nn.Identity() for _ in range(n_phis)]))
    members = list(phis.qresi_ls)
    return [next(j for j, m in enumerate(members) if m is phis[si / (n_scales - 1)]) for si in range(n_scales)]


def _margins(vae, latent: torch.Tensor, f_hats: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per scale: squared distance of the second-best minus the best code (float64), from the
    residual each scale quantizes (latent minus the previous scales' f_hat, area-downsampled)."""
    weight = vae.quantize.embedding.weight.double()
    out, previous = [], torch.zeros_like(latent)
    for pn, f_hat in zip(PATCH_NUMS, f_hats):
        rest = latent - previous
        if pn != PATCH_NUMS[-1]:
            rest = F.interpolate(rest, size=(pn, pn), mode="area")
        z = rest.double().permute(0, 2, 3, 1).reshape(-1, rest.shape[1])
        top2 = torch.cdist(z, weight).pow(2).topk(2, dim=1, largest=False).values
        out.append((top2[:, 1] - top2[:, 0]).float().reshape(latent.shape[0], pn, pn))
        previous = f_hat
    return out


def main(official_root: str, out_dir: str) -> None:
    sys.path.insert(0, official_root)
    from models import quant  # noqa: E402
    from models.basic_vae import Decoder, Encoder  # noqa: E402
    from models.vqvae import VQVAE  # noqa: E402

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(0)
    ddconfig = dict(ch=CH, ch_mult=CH_MULT, num_res_blocks=NUM_RES_BLOCKS, z_channels=CVAE, dropout=0.0,
                    in_channels=3, using_sa=True, using_mid_sa=True)

    def build() -> VQVAE:
        vae = VQVAE(vocab_size=VOCAB, z_channels=CVAE, ch=CH, v_patch_nums=PATCH_NUMS, share_quant_resi=4,
                    quant_resi=0.5, test_mode=True)
        vae.encoder, vae.decoder = Encoder(double_z=False, **ddconfig), Decoder(**ddconfig)
        return vae.eval()

    vae = build()
    with torch.no_grad():
        # random init is small-valued; widen the conv weights so the outputs are far from trivial
        for name, p in vae.named_parameters():
            if "norm" not in name and p.dim() > 1 and "embedding" not in name:
                p.mul_(1.5)
        # codebook rows on the latent's scale (std about 0.4), so the scales' codes vary
        vae.quantize.embedding.weight.mul_(0.3)
    torch.save(vae.state_dict(), out / "var_vqvae_tiny.pth")

    # reload through the official path (strict load of the plain state dict) before recording
    reloaded = build()
    reloaded.load_state_dict(torch.load(out / "var_vqvae_tiny.pth", map_location="cpu"), strict=True)

    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        latent = reloaded.quant_conv(reloaded.encoder(x))
        codes = reloaded.img_to_idxBl(x)  # list of B x p*p
        f_hats = reloaded.quantize.f_to_idxBl_or_fhat(latent, to_fhat=True)
        recon_clamped = reloaded.img_to_reconstructed_img(x, last_one=True)
        recon_from_codes = reloaded.idxBl_to_img(codes, same_shape=True, last_one=True)
        recon = reloaded.decoder(reloaded.post_quant_conv(f_hats[-1]))  # the same, before the clamp
        margins = _margins(reloaded, latent, f_hats)
    expected = {
        "input": x,
        "latent": latent,
        "codes": [c.reshape(2, pn, pn).to(torch.int64) for c, pn in zip(codes, PATCH_NUMS)],
        "code_margin": margins,
        "f_hat": f_hats[-1],
        "recon": recon,
        "recon_clamped": recon_clamped,
        "recon_from_codes": recon_from_codes,
    }
    torch.save(expected, out / "expected.pt")

    with torch.device("meta"):
        full = VQVAE(vocab_size=4096, z_channels=32, ch=160, share_quant_resi=4, v_patch_nums=PATCH_NUMS, test_mode=True)
    facts = {
        "phi_assignment": {f"{n}x{k}": _phi_assignment(quant, n, k) for n, k in PHI_CASES},
        "full_size_state_dict": {k: list(v.shape) for k, v in full.state_dict().items()},
        "full_size_parameters": sum(p.numel() for p in full.parameters()),
        "quantizer_repr": repr(full.quantize).splitlines()[1].strip(),
    }
    (out / "official_facts.json").write_text(json.dumps(facts, indent=1) + "\n")
    print({k: (tuple(v.shape) if isinstance(v, torch.Tensor) else len(v)) for k, v in expected.items()})
    print("out of [-1, 1]:", float((recon.abs() > 1).float().mean()),
          "codes used per scale:", [int(c.unique().numel()) for c in expected["codes"]],
          "min margin:", float(min(m.min() for m in margins)))
    print(facts["phi_assignment"], facts["full_size_parameters"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else str(Path(__file__).resolve().parent))
