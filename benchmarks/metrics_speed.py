"""Throughput of each metric and the evaluator's overhead beyond its network passes.

Measures, at R x R (default 256) on N images (default 64) made from real photos with noise:
PSNR, SSIM (both windows), LPIPS-alex and Inception (both ports) in images/s, then
``ReconstructionEvaluator.update`` (protocol ``standard``, all metrics) against the sum of the
raw LPIPS and Inception forward passes on the same batches. The difference is the cost of the
metric code itself (views, quantization, PSNR, SSIM, statistics updates); target: < 10 % of
the update time. Weights are random (same architectures, so the same speed); nothing is
downloaded.

    python benchmarks/metrics_speed.py [--device auto|cpu|cuda] [--n 64] [--size 256] [--batch 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "helpers"))  # random-weight builders shared with the tests

from helpers_inception import write_fidelity_inception_weights, write_pytorch_fid_inception_weights  # noqa: E402
from helpers_lpips import random_backbone_file  # noqa: E402

from wetok_bench.metrics.evaluator import ReconstructionEvaluator, resolve_device  # noqa: E402
from wetok_bench.metrics.functional.fid import FeatureStats  # noqa: E402
from wetok_bench.metrics.functional.psnr import psnr  # noqa: E402
from wetok_bench.metrics.functional.ssim import ssim  # noqa: E402
from wetok_bench.metrics.networks.inception import build_inception  # noqa: E402
from wetok_bench.metrics.networks.lpips import LPIPSMetric  # noqa: E402
from wetok_bench.protocols import get_protocol, round_to_u8, u8_to_signed_float  # noqa: E402


def make_images(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n uint8 crops of skimage photos and float reconstructions (original + noise)."""
    import skimage.data

    photos = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee(), skimage.data.rocket()]
    rng = np.random.default_rng(0)
    crops = []
    for i in range(n):
        photo = photos[i % len(photos)]
        y = rng.integers(0, photo.shape[0] - size + 1) if photo.shape[0] >= size else 0
        x = rng.integers(0, photo.shape[1] - size + 1) if photo.shape[1] >= size else 0
        crop = np.zeros((size, size, 3), np.uint8)
        part = photo[y : y + size, x : x + size]
        crop[: part.shape[0], : part.shape[1]] = part
        crops.append(crop)
    original = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
    gen = torch.Generator().manual_seed(0)
    recon = u8_to_signed_float(original) + 0.05 * torch.randn(original.shape, generator=gen)
    return original, recon


def timed(fn, batches, device: torch.device, repeats: int) -> float:
    """Best of ``repeats`` timings (seconds) of ``fn`` over every batch, after a warm-up batch.

    The best, not the mean: on a shared machine the other processes only ever add time.
    """
    fn(*batches[0])
    best = float("inf")
    for _ in range(max(1, repeats)):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for args in batches:
            fn(*args)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="timings per measurement; the best is kept")
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)

    original, recon = make_images(args.n, args.size)
    # moved once, so the timings measure the metrics and not host-to-device copies
    original, recon = original.to(device), recon.to(device)
    protocol = get_protocol("standard")
    rec_u8 = round_to_u8(recon)
    ref_f, rec_f = protocol.lpips_views(original, recon)
    split = lambda *ts: list(zip(*(t.split(args.batch) for t in ts)))  # noqa: E731

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fidelity_w = write_fidelity_inception_weights(tmp / "fidelity.pth")
        ptfid_w = write_pytorch_fid_inception_weights(tmp / "ptfid.pth")
        alex_w = random_backbone_file("alex", tmp / "alex.pth")
        lpips_alex = LPIPSMetric("alex", alex_w, device)
        inc_compat = build_inception("inception-v3-compat", fidelity_w, device)
        inc_ptfid = build_inception("pytorch-fid", ptfid_w, device)
        evaluator = ReconstructionEvaluator("standard", device=device, inception_weights=fidelity_w, lpips_weights=alex_w)

        n = args.n

        def report(name: str, seconds: float) -> None:
            print(f"{name:38s} {n / seconds:10.1f} img/s   ({seconds:7.3f} s for {n})", flush=True)

        print(f"device={device}  torch={torch.__version__}  threads={torch.get_num_threads()}  "
              f"n={n}  size={args.size}  batch={args.batch}  best of {args.repeats}")
        report("psnr", timed(lambda a, b: psnr(a, b), split(original, rec_u8), device, args.repeats))
        report("ssim gaussian (standard)", timed(lambda a, b: ssim(a, b, window="gaussian"), split(original, rec_u8), device, args.repeats))
        report("ssim uniform (wetok)", timed(lambda a, b: ssim(a, b, window="uniform"), split(original, rec_u8), device, args.repeats))
        t_lpips = timed(lambda a, b: lpips_alex(a, b), split(ref_f, rec_f), device, args.repeats)
        report("lpips-alex (metric call)", t_lpips)
        raw_lpips = timed(lambda a, b: lpips_alex.model(a, b), split(ref_f, rec_f), device, args.repeats)
        report("lpips-alex (raw network)", raw_lpips)
        raw_inc = timed(lambda a: inc_compat(a), split(rec_u8), device, args.repeats)
        report("inception-v3-compat (uint8)", raw_inc)
        report("pytorch-fid (float, resized here)", timed(lambda a: inc_ptfid(a), split((recon.clamp(-1, 1) + 1) / 2), device, args.repeats))

        # the evaluator's FeatureStats grows with every call; its cost does not depend on the count
        t_update = timed(evaluator.update, split(original, recon), device, args.repeats)
        report("evaluator.update (standard, all 4)", t_update)
        stats = FeatureStats(2048)
        t_stats = timed(lambda a: stats.update(inc_compat(a)), split(rec_u8), device, args.repeats)
        overhead = t_update - raw_lpips - raw_inc
        print(f"networks inside update: lpips {raw_lpips:.3f} s + inception {raw_inc:.3f} s; "
              f"inception + FeatureStats.update {t_stats:.3f} s")
        print(f"overhead beyond network passes: {overhead:.3f} s = {100 * overhead / t_update:.1f} % of update "
              f"(target < 10 %)")


if __name__ == "__main__":
    main()
