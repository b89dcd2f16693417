"""The SEED-Voken tokenizers (TencentARC/SEED-Voken): Open-MAGVIT2 and IBQ.

Open-MAGVIT2 is WeTok's encoder/decoder with one LFQ group. The official model
(``src/Open_MAGVIT2/models/lfqgan.py``) builds the encoder and decoder of ``improved_model.py``,
the architecture WeTok inherited (same blocks, same state-dict names, no generative decoder),
and quantizes with lookup-free quantization: each latent channel becomes +1 when > 0 and -1
otherwise (0 -> -1), and a token's index is ``sum_c [latent_c > 0] * 2**c`` (channel 0 is the
least significant bit). That is WeTok's group-wise LFQ with a single group of ``log2(n_embed)``
bits, so this family is a :class:`~wetok_bench.tokenizers.wetok.tokenizer.WeTokTokenizer` built
from a one-group config; codes are int64 B x h x w x 1. Inference uses the EMA weights
(``ema_scope``), as the official scripts do.

IBQ, index backpropagation quantization (``src/IBQ``): the model is a VQ autoencoder of the
taming lineage (:class:`~wetok_bench.tokenizers.common.vq_model.VQAutoencoder`: taming
encoder/decoder, 1x1 ``quant_conv`` to ``embed_dim`` channels, codebook ``quantize.embedding``
(n_embed x embed_dim), 1x1 ``post_quant_conv`` back), so this family is a
:class:`~wetok_bench.tokenizers.common.vq_tokenizer.VQTokenizer` with IBQ's own code choice: a
token's code is the argmax over the codebook of the plain dot product ``latent . embedding[n]``
(``IndexPropagationQuantize``: softmax of those logits, then its maximum; not the nearest
neighbour, no normalisation); decoding takes the code's codebook row. Inference uses the EMA
weights of every part (``ema_scope``), as the official scripts do. Codes are int64 B x h x w.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from wetok_bench.tokenizers.base import SizePolicy
from wetok_bench.tokenizers.common.vq_model import VQAutoencoder
from wetok_bench.tokenizers.common.vq_tokenizer import VQTokenizer
from wetok_bench.tokenizers.wetok.tokenizer import WeTokTokenizer

#: Logit entries computed at once when choosing codes (bounds memory for 2**18 codebooks).
_SCORE_CHUNK = 2**24


def nearest_by_dot_product(latent: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Codes (B x h x w, int64): argmax_n of ``latent[:, :, i, j] . codebook[n]`` in float32."""
    b, d, h, w = latent.shape
    flat = latent.float().permute(0, 2, 3, 1).reshape(-1, d)
    codebook = codebook.float()
    rows = max(1, _SCORE_CHUNK // codebook.shape[0])
    codes = [(chunk @ codebook.T).argmax(dim=1) for chunk in flat.split(rows)]
    return torch.cat(codes).reshape(b, h, w)


class IBQTokenizer(VQTokenizer):
    """An IBQ model: images in [-1, 1] <-> int64 codes B x h x w in [0, n_embed).

    As :class:`VQTokenizer`, but ``weights`` maps each part to ``"ema"`` / ``"raw"`` (which
    checkpoint copy was loaded) and codes are the largest dot product, not the nearest entry.
    """

    def __init__(
        self,
        model: VQAutoencoder,
        *,
        name: str = "ibq",
        precision: str = "fp32",
        size_policy: SizePolicy = "error",
        weights: Mapping[str, str] | None = None,
        checkpoint: str | os.PathLike | None = None,
        card: str | None = None,
    ) -> None:
        super().__init__(model, name=name, family="ibq", precision=precision, size_policy=size_policy,
                         checkpoint=checkpoint, card=card)
        self.weights = dict(weights or {})

    def quantize(self, latent: torch.Tensor) -> torch.Tensor:
        """Codes (int64, B x h x w) of a latent: the codebook row of largest dot product."""
        return nearest_by_dot_product(latent.to(self.device), self._codebook())


class OpenMagvit2Tokenizer(WeTokTokenizer):
    """An Open-MAGVIT2 model: images in [-1, 1] <-> int64 codes B x h x w x 1 in [0, n_embed)."""

    def fingerprint(self) -> dict[str, Any]:
        data = super().fingerprint()
        data["family"] = "open-magvit2"
        for key in ("noise", "seed"):  # no generative decoder
            data.pop(key, None)
        return data
