"""The work a suite run cannot avoid, measured alone on the same images with the same batch size.

For each job the runner must decode and preprocess every image, let the tokenizer reconstruct
it, run Inception on the reconstructions and LPIPS on each (original, reconstruction) pair;
on a cold reference cache it must also run Inception once on the originals. Those passes are
timed here one by one, with the same networks (the runner's own
:class:`~wetok_bench.metrics.evaluator.ReconstructionEvaluator`) and inputs prepared outside the
timed blocks, so nothing but the pass itself is counted. PSNR and SSIM arithmetic is timed
too and reported apart: the issue's definition of unavoidable work counts only decode,
Inception and LPIPS. So is the Frechet distance, a fixed cost per job (O(d^3), d = 2048)
that does not grow with the number of images.
"""

from __future__ import annotations

from typing import Sequence

import torch
from _common import Stopwatch

#: Parts of the unavoidable work (the issue's definition), in the order they are timed.
PARTS = ("decode", "tokenizer", "inception_originals", "inception_recon", "lpips")


def load_batches(paths: Sequence, resolution: int, batch_size: int, watch: Stopwatch | None = None) -> list[torch.Tensor]:
    """Decode + preprocess ``paths`` (the project's functions), stacked into uint8 batches."""
    from wetok_bench.data.images import load_rgb
    from wetok_bench.data.preprocess import preprocess

    batches = []
    with watch or Stopwatch():
        for start in range(0, len(paths), batch_size):
            batches.append(torch.stack([preprocess(load_rgb(p), resolution) for p in paths[start : start + batch_size]]))
    return batches


def measure(paths: Sequence, resolution: int, batch_size: int, evaluator, tokenizer) -> dict[str, dict[str, float]]:
    """Wall and CPU seconds of each unavoidable part, plus ``pixel_metrics`` (PSNR + SSIM) and
    ``frechet`` (the distance between the two feature sets' statistics)."""
    from wetok_bench.metrics.functional.fid import FeatureStats, fid_result
    from wetok_bench.metrics.functional.psnr import psnr
    from wetok_bench.metrics.functional.ssim import ssim

    protocol = evaluator.protocol
    watches = {name: Stopwatch() for name in (*PARTS, "pixel_metrics", "frechet")}
    features: dict[str, list[torch.Tensor]] = {"originals": [], "recon": []}
    originals = load_batches(paths, resolution, batch_size, watches["decode"])
    recons = []
    for batch in originals:
        with watches["tokenizer"], torch.inference_mode():
            recon, _ = tokenizer.reconstruct(protocol.original_float(batch))
        recons.append(recon)
    lpips_nets = list(evaluator.lpips.values())  # every backbone of the protocol
    for original, recon in zip(originals, recons):
        fid_orig, fid_rec = protocol.fid_view_original(original), protocol.fid_view_recon(recon)
        lp_orig, lp_rec = protocol.lpips_views(original, recon)
        px_orig, px_rec = protocol.pixel_views(original, recon)
        with torch.inference_mode():
            if evaluator.inception is not None:
                with watches["inception_originals"]:
                    # the network pass alone (no input checks, no float64 copy)
                    features["originals"].append(evaluator.inception._forward(fid_orig))
                with watches["inception_recon"]:
                    features["recon"].append(evaluator.inception._forward(fid_rec))
            with watches["lpips"]:
                for metric in lpips_nets:  # the metric's own passes (sub-batched, slice by slice)
                    metric(lp_orig, lp_rec)
            with watches["pixel_metrics"]:
                psnr(px_orig, px_rec, data_range=protocol.psnr_data_range)
                ssim(px_orig, px_rec, window=protocol.ssim_window, data_range=protocol.psnr_data_range)
    if evaluator.inception is not None:
        stats = {k: FeatureStats(evaluator.inception.dim).update(torch.cat(v).flatten(1)) for k, v in features.items()}
        with watches["frechet"]:
            fid_result(stats["originals"], stats["recon"])
    return {name: watch.as_dict() for name, watch in watches.items()}


def warm_up(evaluator, resolution: int, batch_size: int) -> None:
    """One untimed batch of random images through every network (first-call costs out of the way)."""
    images = torch.randint(0, 256, (batch_size, 3, resolution, resolution), dtype=torch.uint8)
    recon = evaluator.protocol.original_float(images)
    evaluator.update(images, recon)
    evaluator.reference_features(images)
    evaluator.reset()


def total(parts: dict[str, dict[str, float]], names: Sequence[str], key: str) -> float:
    return sum(parts[name][key] for name in names)
