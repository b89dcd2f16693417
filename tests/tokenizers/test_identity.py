"""The identity tokenizer: exact reconstruction, ratio 1."""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio

from wetok_bench.protocols import round_to_u8, u8_to_signed_float
from wetok_bench.tokenizers.registry import create_tokenizer


def test_reconstruction_is_the_input_and_ratio_is_one(photos):
    tok = create_tokenizer({"type": "identity"})
    x = u8_to_signed_float(torch.from_numpy(photos["chelsea"][:37, :53].copy()).permute(2, 0, 1)[None])
    recon, bits = tok.reconstruct(x)
    assert torch.equal(recon, x)
    assert bits.tolist() == [37 * 53 * 24.0]
    assert tok.compression(256, 256).ratio == 1.0
    assert tok.kind == "identity" and tok.name == "identity"


def test_every_uint8_value_survives_the_round_trip():
    values = torch.arange(256, dtype=torch.uint8)
    image = values.reshape(1, 16, 16).expand(3, 16, 16).contiguous()[None]
    recon, _ = create_tokenizer({"type": "identity"}).reconstruct(u8_to_signed_float(image))
    out = round_to_u8(recon)
    assert torch.equal(out, image)
    with np.errstate(divide="ignore"):
        psnr = peak_signal_noise_ratio(image[0].numpy(), out[0].numpy(), data_range=255)
    assert psnr == float("inf")
