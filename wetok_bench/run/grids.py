"""Grid images of a job: originals and reconstructions saved for the report's grids."""

from __future__ import annotations

from typing import Sequence

import torch

from wetok_bench.run.job import noise_seed
from wetok_bench.tokenizers.base import ImageNoise


def save_grids(grids: dict, folder, protocol, resolution, seed: int, tokenizer, records: Sequence, rows: list[dict]) -> None:
    """Save originals and reconstructions of the grid images for the report.

    The grid images are the suite's fixed set (``grids.keys``, else the first ``grids.count``)
    and the ``grids.worst_k`` images with the highest LPIPS (PSNR lowest when LPIPS is off).
    ``grids/index.json`` lists them with their per-image values.
    """
    from wetok_bench.data.loader import iterate_batches

    by_key = {r.key: r for r in records}
    row_by_key = {r["key"]: r for r in rows}
    fixed = [k for k in (grids.get("keys") or [r.key for r in records[: int(grids.get("count") or 0)]]) if k in row_by_key]
    k = int(grids.get("worst_k") or 0)
    rank_metric = "lpips" if rows and "lpips" in rows[0] else "psnr"
    worst = [r["key"] for r in sorted(rows, key=lambda r: (-r[rank_metric] if rank_metric == "lpips" else r[rank_metric]))[:k]] if k else []
    chosen = list(dict.fromkeys(fixed + worst))
    if not chosen:
        return
    from wetok_bench.protocols import round_to_u8
    from wetok_bench.report.grids import save_grid

    originals, recons, keys = [], [], []
    for batch in iterate_batches([by_key[key] for key in chosen], resolution, 1):
        for i, key in enumerate(batch.keys):
            original = batch.images[i : i + 1].to(tokenizer.device)
            noise = ImageNoise.for_images(noise_seed(tokenizer, seed), [key])
            recon, _ = tokenizer.reconstruct(protocol.original_float(original), noise=noise)
            originals.append(original[0].cpu())
            recons.append(round_to_u8(recon[0]).cpu())
            keys.append(key)
    if not keys:
        return
    if len({tuple(o.shape) for o in originals}) > 1:
        return  # "original" resolution with mixed sizes: no common grid
    save_grid(folder, torch.stack(originals), torch.stack(recons), keys,
              fixed=[k in fixed for k in keys], worst=[k in worst for k in keys],
              values=[{m: row_by_key[k].get(m) for m in ("psnr", "ssim", "lpips")} for k in keys],
              rank_metric=rank_metric)
