"""Record the parameter names and shapes of the official full-size Open-MAGVIT2 models.

Usage: PYTHONPATH=DEPS python record_shapes.py /path/to/SEED-Voken [OUT_DIR]

Builds the official ``VQModel`` (on the meta device, no weights) from the official config
files of each released tokenizer, with a stand-in loss (the released LPIPS loss is training
state), and writes ``official_shapes.json``: ``{"shapes": {config file: {key: shape}},
"cards": {card name: config file}}`` for the ``encoder.*`` / ``decoder.*`` parameters (the
EMA copies are the same names without dots under ``model_ema.``). Nothing of the official
code is copied here: it is only called.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import yaml

CARDS = {
    "open-magvit2-in128-262144": "configs/Open-MAGVIT2/gpu/imagenet_lfqgan_128_L.yaml",
    "open-magvit2-in256-262144": "configs/Open-MAGVIT2/gpu/imagenet_lfqgan_256_L.yaml",
    "open-magvit2-pretrain256-16384": "configs/Open-MAGVIT2/gpu/pretrain_lfqgan_256_16384.yaml",
    "open-magvit2-pretrain256-262144": "configs/Open-MAGVIT2/gpu/pretrain_lfqgan_256_262144.yaml",
}


def main(root: str, out_dir: str) -> None:
    root_path = Path(root).resolve()
    sys.path.insert(0, str(root_path))
    os.chdir(root_path)
    import importlib

    shapes, by_values = {}, {}
    for card, config_file in CARDS.items():
        model_cfg = yaml.safe_load((root_path / config_file).read_text())["model"]
        module, cls = model_cfg["class_path"].rsplit(".", 1)
        init_args = {**model_cfg["init_args"], "lossconfig": {"target": "torch.nn.Identity"}}
        with torch.device("meta"):
            model = getattr(importlib.import_module(module), cls)(**init_args)
        table = {k: list(v.shape) for k, v in model.state_dict().items() if k.startswith(("encoder.", "decoder."))}
        key = json.dumps(table, sort_keys=True)
        by_values.setdefault(key, config_file)  # identical architectures are stored once
        shapes[by_values[key]] = table
        CARDS[card] = by_values[key]
    (Path(out_dir) / "official_shapes.json").write_text(json.dumps({"shapes": shapes, "cards": CARDS}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else str(Path(__file__).resolve().parent))
