"""IBQ, index backpropagation quantization (TencentARC/SEED-Voken, ``src/IBQ``).

The model is a VQ autoencoder of the taming lineage (:class:`~wetok_bench.tokenizers.vq.model.VQAutoencoder`:
taming encoder/decoder, 1x1 ``quant_conv`` to ``embed_dim`` channels, codebook
``quantize.embedding`` (n_embed x embed_dim), 1x1 ``post_quant_conv`` back), so this family is
a :class:`~wetok_bench.tokenizers.vq.tokenizer.VQTokenizer` with IBQ's own code choice: a
token's code is the argmax over the codebook of the plain dot product ``latent . embedding[n]``
(``IndexPropagationQuantize``: softmax of those logits, then its maximum; not the nearest
neighbour, no normalisation); decoding takes the code's codebook row. Inference uses the EMA
weights of every part (``ema_scope``), as the official scripts do. Codes are int64 B x h x w.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from wetok_bench.tokenizers.base import SizePolicy
from wetok_bench.tokenizers.seed_voken.config import ConfigSource, ibq_config
from wetok_bench.tokenizers.vq.model import VQAutoencoder
from wetok_bench.tokenizers.vq.tokenizer import VQTokenizer
from wetok_bench.tokenizers.wetok.checkpoint import load_weights

#: Checkpoint prefixes of the parts the model loads (each has EMA copies in the releases).
PARTS = ("encoder", "decoder", "quant_conv", "post_quant_conv", "quantize")
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


def load_ibq(
    checkpoint: str | os.PathLike,
    config: ConfigSource,
    *,
    name: str = "ibq",
    precision: str = "fp32",
    size_policy: SizePolicy = "error",
    card: str | None = None,
) -> IBQTokenizer:
    """Load an official IBQ release (``{"state_dict": ...}``) described by ``config``.

    Weights: the EMA copies of every part when ``use_ema`` (all released configs), no raw
    fallback. Raises :class:`~wetok_bench.tokenizers.wetok.checkpoint.CheckpointError` for
    unreadable, incomplete or mismatching checkpoints.
    """
    config = ibq_config(config)
    with torch.device("meta"):  # no random init: every weight comes from the file
        model = VQAutoencoder(config.arch)
    weights = load_weights(model, checkpoint, use_ema=config.use_ema, parts=PARTS, raw_fallback=(), what="IBQ")
    return IBQTokenizer(
        model, name=name, precision=precision, size_policy=size_policy, weights=weights, checkpoint=checkpoint, card=card
    )
