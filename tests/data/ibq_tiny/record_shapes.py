"""Record the parameter names and shapes of the official full-size IBQ models.

Usage: PYTHONPATH=DEPS python record_shapes.py /path/to/SEED-Voken [OUT_DIR]

Builds the official ``IBQ`` model (on the meta device, no weights) from the official config
file of each released tokenizer, with a stand-in loss (the released LPIPS loss is training
state), and writes ``official_shapes.json``: ``{"shapes": {key: shape}, "n_embed": {card:
n_embed}}`` for the ``encoder``, ``decoder``, ``quant_conv``, ``post_quant_conv`` and
``quantize`` parameters of the first card; the script asserts that the others differ only in
the codebook's rows (``quantize.embedding.weight`` is n_embed x 256). EMA copies are the same
names without dots under ``model_ema.``. Nothing of the official code is copied here.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path

import torch
import yaml

CARDS = {
    "ibq-in256-1024": "configs/IBQ/gpu/imagenet_ibqgan_1024.yaml",
    "ibq-in256-8192": "configs/IBQ/gpu/imagenet_ibqgan_8192.yaml",
    "ibq-in256-16384": "configs/IBQ/gpu/imagenet_ibqgan_16384.yaml",
    "ibq-in256-262144": "configs/IBQ/gpu/imagenet_ibqgan_262144.yaml",
    "ibq-pretrain256-16384": "configs/IBQ/gpu/pretrain_ibqgan_16384.yaml",
    "ibq-pretrain256-262144": "configs/IBQ/gpu/pretrain_ibqgan_262144.yaml",
}
PARTS = ("encoder.", "decoder.", "quant_conv.", "post_quant_conv.", "quantize.")
CODEBOOK = "quantize.embedding.weight"


def main(root: str, out_dir: str) -> None:
    root_path = Path(root).resolve()
    sys.path.insert(0, str(root_path))
    os.chdir(root_path)
    from src.IBQ.models.ibqgan import IBQ

    first, n_embed = None, {}
    for card, config_file in CARDS.items():
        init_args = yaml.safe_load((root_path / config_file).read_text())["model"]["init_args"]
        # the pretrain configs pass keys the IBQ class does not take (use_shared_epoch, ...)
        accepted = inspect.signature(IBQ.__init__).parameters
        init_args = {k: v for k, v in init_args.items() if k in accepted}
        with torch.device("meta"):
            model = IBQ(**{**init_args, "lossconfig": {"target": "torch.nn.Identity"}})
        table = {k: list(v.shape) for k, v in model.state_dict().items() if k.startswith(PARTS)}
        n_embed[card] = table[CODEBOOK][0]
        if first is None:
            first = table
        assert {k: v for k, v in table.items() if k != CODEBOOK} == {k: v for k, v in first.items() if k != CODEBOOK}
    (Path(out_dir) / "official_shapes.json").write_text(json.dumps({"shapes": first, "n_embed": n_embed}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else str(Path(__file__).resolve().parent))
