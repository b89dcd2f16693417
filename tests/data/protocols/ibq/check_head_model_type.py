"""What SEED-Voken HEAD's evaluation_image.py builds for ``--model Open-MAGVIT2`` (no checkpoint needed).

Usage:

    PYTHONPATH=/work/vectors/seed_voken/site /work/main/.venv/bin/python \
        /work/vectors/seed_voken/ibq/check_head_model_type.py /work/official/SEED-Voken

Imports the official module (its L25 / L28 / L30 imports run for real), reads ``MODEL_TYPE`` and calls the
official ``load_vqgan_new(load_config(cfg), model_type="Open-MAGVIT2", ckpt_path=None)`` on each
Open-MAGVIT2 GPU config of the checkout, recording the class it resolves to and what happens.
Writes ``head_model_type.json`` next to this file.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = [
    "configs/Open-MAGVIT2/gpu/imagenet_lfqgan_128_L.yaml",
    "configs/Open-MAGVIT2/gpu/imagenet_lfqgan_256_L.yaml",
    "configs/Open-MAGVIT2/gpu/pretrain_lfqgan_256_16384.yaml",
    "configs/Open-MAGVIT2/gpu/pretrain_lfqgan_256_262144.yaml",
]


def main() -> None:
    official = Path(sys.argv[1]).resolve()
    os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="no_weights_")  # nothing to download from
    os.chdir(official)
    sys.path.insert(0, str(official))
    spec = importlib.util.spec_from_file_location("evaluation_image", official / "evaluation_image.py")
    evaluation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evaluation)
    lines = (official / "evaluation_image.py").read_text().splitlines()
    result = {
        "lines": {n: lines[n - 1] for n in (25, 27, 28, 30, 43, 44, 45, 55, 57, 58)},
        "MODEL_TYPE": {k: f"{v.__module__}.{v.__qualname__}" for k, v in evaluation.MODEL_TYPE.items()},
        "VQModel_name_in_module": f"{evaluation.VQModel.__module__}.{evaluation.VQModel.__qualname__}",
        "configs": {},
    }
    params = set(inspect.signature(evaluation.MODEL_TYPE["Open-MAGVIT2"].__init__).parameters)
    for cfg in CONFIGS:
        config = evaluation.load_config(cfg)
        row = {
            "config_class_path": config.model.class_path,
            "init_args_not_accepted_by_MODEL_TYPE_class": sorted(set(config.model.init_args) - params),
        }
        try:
            evaluation.load_vqgan_new(config, model_type="Open-MAGVIT2", ckpt_path=None)
            row["outcome"] = "built"
        except Exception as error:  # noqa: BLE001 - recorded
            row["outcome"] = f"{type(error).__name__}: {error}"
            row["raised_at"] = traceback.extract_tb(error.__traceback__)[-1].line
        result["configs"][cfg] = row
    (HERE / "head_model_type.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
