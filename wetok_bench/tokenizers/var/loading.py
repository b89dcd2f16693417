"""Reading VAR's released VQVAE weights (FoundationVision/VAR).

Checkpoints: the release is a plain state dict (``torch.load(path)`` -> ``VQVAE.load_state_dict
(strict=True)`` in ``train.py`` and ``demo_sample.ipynb``), read here with ``weights_only=True``
(:mod:`wetok_bench.tokenizers.common.vq_checkpoint`); the entry ``vae_local`` of a trainer state
is also accepted. Every weight must be there and no other may be; the training statistic
``quantize.ema_vocab_hit_SV`` is ignored (the official loader also accepts it with any number of
scales).
"""

from __future__ import annotations

import os

import torch

from wetok_bench.tokenizers.common.vq_checkpoint import load_into, pick_state_dict, read_checkpoint
from wetok_bench.tokenizers.var.model import VarArch, VarVQVAE

#: The weights file of the release (README: "you need to download vae_ch160v4096z32.pth first").
WEIGHTS_FILE = "vae_ch160v4096z32.pth"
#: Where the weights sit in a file: a trainer state's entry, else the top level.
STATE_DICT_KEYS = ("vae_local",)
#: Training state the official model has as a buffer; inference does not use it.
IGNORED_KEYS = frozenset({"quantize.ema_vocab_hit_SV"})


def load_var_vqvae(path: str | os.PathLike, arch: VarArch) -> VarVQVAE:
    """The VQVAE of ``arch`` with the weights of ``path``; a file that does not match ``arch`` is a
    VQCheckpointError naming the missing, extra or mis-shaped weights."""
    obj = read_checkpoint(path, what="VAR VQVAE checkpoint")
    state_dict, _ = pick_state_dict(obj, STATE_DICT_KEYS, what="VAR VQVAE checkpoint", path=path)
    with torch.device("meta"):  # no random init: every weight comes from the file
        vae = VarVQVAE(arch)
    load_into(vae, state_dict, what=f"VAR VQVAE checkpoint {path}", ignore=IGNORED_KEYS.__contains__)
    return vae
