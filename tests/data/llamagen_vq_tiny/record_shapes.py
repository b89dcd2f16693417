"""Record the parameter names and shapes of the official full-size LlamaGen VQ-16 and VQ-8 models.

Usage: python record_shapes.py /path/to/LlamaGen [OUT_DIR]

Builds the official ``VQ_models["VQ-16"]`` and ``["VQ-8"]`` (codebook 16384 x 8, the released
checkpoints' settings) from ``tokenizer/tokenizer_image/vq_model.py`` and writes
``official_shapes.json``: preset -> {state-dict key: shape}, the keys a released file holds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(official_root: str, out_dir: str) -> None:
    sys.path.insert(0, official_root)
    from tokenizer.tokenizer_image.vq_model import VQ_models  # noqa: E402

    shapes = {}
    for preset in ("VQ-16", "VQ-8"):
        model = VQ_models[preset](codebook_size=16384, codebook_embed_dim=8)
        shapes[preset] = {k: list(v.shape) for k, v in model.state_dict().items()}
    (Path(out_dir) / "official_shapes.json").write_text(json.dumps(shapes) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else str(Path(__file__).resolve().parent))
