"""Vector-quantized tokenizers of the taming-transformers lineage: one codebook, nearest code.

Two suite families share this package:

- ``type: llamagen-vq`` (:mod:`.llamagen`): LlamaGen's VQ-8 / VQ-16 tokenizers
  (FoundationVision/LlamaGen), ``{"model": state_dict}`` release files, l2-normalised codebook;
- ``type: vqgan`` (:mod:`.taming`): taming-transformers VQGAN (CompVis/taming-transformers),
  Lightning 1.0 ``last.ckpt`` files plus the official YAML config.

Both run the taming encoder/decoder (:mod:`wetok_bench.tokenizers.taming_model`), a 1x1
``quant_conv`` into the codebook space, the nearest codebook entry per position
(:mod:`.quantizer`), and a 1x1 ``post_quant_conv`` back. Checkpoints are read without running
code (:mod:`.checkpoint`).
"""

from wetok_bench.tokenizers.vq.llamagen import CARDS as _LLAMAGEN_CARDS
from wetok_bench.tokenizers.vq.llamagen import create_llamagen_vq
from wetok_bench.tokenizers.vq.taming import CARDS as _VQGAN_CARDS
from wetok_bench.tokenizers.vq.taming import create_vqgan

#: Model cards of both families (collected by :func:`wetok_bench.tokenizers.cards.known_cards`).
CARDS = [*_LLAMAGEN_CARDS, *_VQGAN_CARDS]

__all__ = ["CARDS", "create_llamagen_vq", "create_vqgan"]
