"""Open-MAGVIT2 and IBQ under the real runner: one suite with both, on real photos.

References: each image's PSNR is recomputed with skimage from the preprocessed original the run
saved (its grid PNG) and the family's own reconstruction of it (standard protocol: clamp,
``round((x + 1) * 127.5)``); compression figures are hand-computed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

DATA = Path(__file__).resolve().parents[1] / "data"
ENTRIES = {
    "omv2": {"type": "open-magvit2", "checkpoint": str(DATA / "open_magvit2_tiny" / "OpenMAGVIT2.ckpt"),
             "config": str(DATA / "open_magvit2_tiny" / "config.yaml")},
    "ibq": {"type": "ibq", "checkpoint": str(DATA / "ibq_tiny" / "IBQ.ckpt"), "config": str(DATA / "ibq_tiny" / "config.yaml")},
}
# 32x32 images, f2: 16 x 16 tokens x log2(codebook) bits (1024 -> 10, 64 -> 6)
COMPRESSION = {"omv2": (256, 10.0, 2560.0, 32 * 32 * 24 / 2560), "ibq": (256, 6.0, 1536.0, 32 * 32 * 24 / 1536)}


@pytest.fixture(scope="module")
def run(tmp_path_factory, photos) -> Path:
    from helpers_runs import photo_folder, run_here

    tmp = tmp_path_factory.mktemp("seed_voken_run")
    folder = photo_folder(tmp / "imgs", photos, 2, size=40)
    suite = {
        "name": "sv", "datasets": [{"type": "folder", "name": "imgs", "root": str(folder)}],
        "tokenizers": [{**entry, "name": name} for name, entry in ENTRIES.items()],
        "metrics": ["psnr"], "resolution": 32, "num_workers": 0, "device": "cpu", "batch_size": 2,
        "grids": {"count": 2, "worst_k": 0},
    }
    path = tmp / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    run_here(path, tmp / "out")
    return tmp / "out" / "sv"


@pytest.mark.parametrize("name", list(ENTRIES))
def test_runner_psnr_and_compression(run, name):
    from skimage.metrics import peak_signal_noise_ratio

    from wetok_bench.tokenizers import create_tokenizer

    job = run / f"{name}__imgs__32"
    with open(job / "per_image.csv", newline="") as handle:
        psnr = {row["key"]: float(row["psnr"]) for row in csv.DictReader(handle)}
    assert len(psnr) == 2

    tokens, bits_per_token, bits, ratio = COMPRESSION[name]
    comp = json.loads((job / "summary.json").read_text())["compression"]
    assert (comp["tokens"], comp["bits_per_token"], comp["bits_per_image"]) == (tokens, bits_per_token, bits)
    assert comp["ratio"] == pytest.approx(ratio)

    tok = create_tokenizer({**ENTRIES[name], "name": name})
    index = json.loads((job / "grids" / "index.json").read_text())
    assert index["images"]
    for image in index["images"]:
        original = np.array(Image.open(job / "grids" / "original" / image["file"]).convert("RGB"))
        x = torch.from_numpy(original).permute(2, 0, 1)[None].float() / 127.5 - 1
        recon, _ = tok.reconstruct(x)
        recon_u8 = torch.round((recon.clamp(-1, 1) + 1) * 127.5).to(torch.uint8)[0].permute(1, 2, 0).numpy()
        assert psnr[image["key"]] == pytest.approx(peak_signal_noise_ratio(original, recon_u8, data_range=255), abs=1e-4)
