"""Record the parameter names and shapes of the official full-size VQGAN ImageNet f16 models.

Usage: PYTHONPATH=DEPS python record_shapes.py /path/to/taming-transformers [OUT_DIR]

Builds the official ``taming.models.vqgan.VQModel`` with the released ImageNet f16 configs'
``ddconfig`` (ch 128, ch_mult [1, 1, 2, 2, 4], 2 residual blocks, attention at 16, resolution
256, z_channels and embed_dim 256) for n_embed 1024 and 16384, with the official ``DummyLoss``
in the loss slot (the released LPIPS discriminator loss is training state), and writes
``official_shapes.json``: n_embed -> {state-dict key: shape}.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path


def main(official_root: str, out_dir: str) -> None:
    sys.path.insert(0, official_root)
    sys.modules.setdefault("torch._six", types.SimpleNamespace(string_classes=(str,)))
    from taming.models.vqgan import VQModel  # noqa: E402

    ddconfig = {"double_z": False, "z_channels": 256, "resolution": 256, "in_channels": 3, "out_ch": 3,
                "ch": 128, "ch_mult": [1, 1, 2, 2, 4], "num_res_blocks": 2, "attn_resolutions": [16],
                "dropout": 0.0}
    shapes = {}
    for n_embed in (1024, 16384):
        model = VQModel(ddconfig=ddconfig, lossconfig={"target": "taming.modules.losses.DummyLoss"},
                        n_embed=n_embed, embed_dim=256)
        shapes[str(n_embed)] = {k: list(v.shape) for k, v in model.state_dict().items()}
    (Path(out_dir) / "official_shapes.json").write_text(json.dumps(shapes) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else str(Path(__file__).resolve().parent))
