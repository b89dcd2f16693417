"""Per-image features of a job's set-metric networks, kept on request (suite ``keep_features: true``).

``<job>/features/<network>.npz`` holds ``keys`` (the images, in ``per_image.csv``'s order),
``recon`` and ``original`` (float32 N x d: the network's features of each reconstruction and of
its original, through the protocol's views). Memory and disk: ``2 x 4 x d`` bytes per image and
network (16 KiB at d = 2048, 800 MiB for 50,000 images). They let the report compare two jobs'
set metrics (rFID, KID, FD-DINOv2, CMMD) by a paired bootstrap over the same images
(:func:`wetok_bench.results.paired.paired_set_bootstrap`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FEATURES_DIR = "features"


def write_features(folder: Path, keys: list[str], shards: list[dict]) -> list[Path]:
    """Write each network's features of the shards (in order) beside the job's rows."""
    if not shards:
        return []
    out = Path(folder) / FEATURES_DIR
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in shards[0]:
        arrays = {side: np.concatenate([np.asarray(shard[name][side], dtype=np.float32) for shard in shards])
                  for side in ("recon", "original")}
        if len(arrays["recon"]) != len(keys):
            raise ValueError(f"features of {name}: {len(arrays['recon'])} rows for {len(keys)} images")
        path = out / f"{name}.npz"
        partial = path.with_suffix(".npz.tmp")
        with open(partial, "wb") as handle:  # atomic: a reader never sees half a file
            np.savez(handle, keys=np.asarray(keys), **arrays)
        os.replace(partial, path)
        written.append(path)
    return written


def read_features(folder: Path, network: str) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """``(keys, recon, original)`` of a job's kept features, or None when it kept none."""
    path = Path(folder) / FEATURES_DIR / f"{network}.npz"
    if not path.is_file():
        return None
    with np.load(path) as data:
        return [str(k) for k in data["keys"]], data["recon"], data["original"]
