"""Peak memory of a suite run at 500 and at 5,000 images: the statistics stream, so it stays flat.

    .venv/bin/python benchmarks/memory_flat.py --images 500 5000

Each size runs in a fresh child process (``--child N``), so each peak resident set size
(``getrusage`` ``ru_maxrss``) belongs to one run alone. The run is a real ``run_suite`` of the
identity tokenizer with psnr + ssim + lpips + rfid on small synthetic images (32 x 32 PNGs,
``subset: first``), with the real loader, shards, reference cache and result files.

To keep 5,000 images within a few minutes on a CPU, the Inception *network pass* is replaced
by a fixed random projection to the same 2048-d features (the network is still built from a
full-size weights file and stays in memory; only its forward is skipped). The network's
memory per batch does not depend on the number of images, so what is measured is everything
whose size could: the feature statistics (float64 2048 x 2048 sums), per-image rows, shards
and results. ``--real-inception`` runs the real network instead (slow).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

RESOLUTION = 32


def main() -> None:
    parser = C.base_parser(__doc__.splitlines()[0], images=None, batch_size=16)
    parser.add_argument("--images", type=int, nargs="+", default=[500, 5000], help="sizes to compare (default 500 5000)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--real-inception", action="store_true", help="run the real Inception network (slow)")
    args = parser.parse_args()
    C.setup_torch(args.threads)
    if args.child is not None:
        print(json.dumps(child(args.workdir, args.child, args.batch_size, args.real_inception)))
        return
    with C.workdir(args.workdir) as root:
        figures = parent(root, args)
    path = C.write_figures("memory_flat", figures, args.json)
    print(f"\nfigures written to {path}")


def parent(root: Path, args) -> dict:
    env = C.environment()
    sizes = sorted(args.images)
    print(f"writing {sizes[-1]} synthetic images and the weights ...", flush=True)
    C.write_synthetic_images(root / "images", sizes[-1], RESOLUTION)
    C.write_metric_weights(root / "weights")
    runs = {}
    for n in sizes:
        print(f"run with {n} images (child process) ...", flush=True)
        command = [sys.executable, __file__, "--child", str(n), "--workdir", str(root), "--batch-size", str(args.batch_size),
                   "--threads", str(args.threads)] + (["--real-inception"] if args.real_inception else [])
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        if done.returncode != 0:
            raise SystemExit(f"child run with {n} images failed:\n{done.stderr[-3000:]}")
        runs[str(n)] = json.loads(done.stdout.strip().splitlines()[-1])
    small, large = runs[str(sizes[0])], runs[str(sizes[-1])]
    result = {
        "benchmark": "memory_flat",
        "environment": env,
        "settings": {"images": sizes, "batch_size": args.batch_size, "resolution": RESOLUTION, "tokenizer": "identity",
                     "metrics": ["psnr", "ssim", "lpips", "rfid"], "inception_forward": "real" if args.real_inception else "random projection"},
        "runs": runs,
        "peak_rss_ratio": large["peak_rss_mib"] / small["peak_rss_mib"],
        "peak_rss_streaming_ratio": large["peak_rss_streaming_mib"] / small["peak_rss_streaming_mib"],
        "growth_over_baseline_ratio": (large["peak_rss_mib"] - large["rss_before_mib"]) / (small["peak_rss_mib"] - small["rss_before_mib"]),
    }
    rows = []
    for n, run in runs.items():
        rows += [
            (f"{n} images: peak RSS", f"{run['peak_rss_mib']:8.1f} MiB"),
            (f"{n} images: peak RSS after the networks are built", f"{run['peak_rss_streaming_mib']:8.1f} MiB"),
            (f"{n} images: RSS before run_suite", f"{run['rss_before_mib']:8.1f} MiB"),
            (f"{n} images: largest .partial folder", f"{run['partial_max_mib']:8.1f} MiB in {run['shards']} shard files"),
            (f"{n} images: run_suite wall", f"{run['wall_s']:8.1f} s"),
        ]
    rows += [
        (f"peak RSS {sizes[-1]} / {sizes[0]}", f"{result['peak_rss_ratio']:.3f} (flat within 10%: {abs(result['peak_rss_ratio'] - 1) < 0.10})"),
        (f"peak RSS after the build, {sizes[-1]} / {sizes[0]}", f"{result['peak_rss_streaming_ratio']:.3f}"),
        ("growth above the pre-run RSS, ratio", f"{result['growth_over_baseline_ratio']:.3f}"),
    ]
    C.print_table("peak memory of run_suite", rows)
    return result


def child(root: Path, n: int, batch_size: int, real_inception: bool) -> dict:
    from wetok_bench.engine import driver as runner
    from wetok_bench.engine.shards import ShardStore

    C.isolate_home(root / f"home_child_{n}")
    weights = C.write_metric_weights(root / "weights")  # written by the parent; only looked up here
    data = C.suite_data("memory_flat", root / "images", root / f"results_{n}", weights, resolution=RESOLUTION,
                        batch_size=batch_size, num_images=n, subset="first")
    if not real_inception:
        _project_instead_of_inception(runner)
    _reset_peak_after_build(runner)
    partial = {"max_bytes": 0, "shards": 0}
    original_save = ShardStore.save

    def recording_save(self, index, shard):
        original_save(self, index, shard)
        size = sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())
        partial["max_bytes"] = max(partial["max_bytes"], size)
        partial["shards"] += 1

    ShardStore.save = recording_save
    rss_before = C.current_rss_mib()
    start = time.perf_counter()
    timing = C.time_run_suite(data)
    return {
        "images": timing.summary["counts"]["images"],
        "peak_rss_mib": C.peak_rss_mib(),
        "peak_rss_streaming_mib": C.peak_rss_since_reset_mib(),
        "rss_before_mib": rss_before,
        "rss_after_mib": C.current_rss_mib(),
        "wall_s": time.perf_counter() - start,
        "partial_max_mib": partial["max_bytes"] / 2**20,
        "shards": partial["shards"],
        "rfid": timing.summary["metrics"].get("rfid"),
    }


def _reset_peak_after_build(runner) -> None:
    """Reset the peak-RSS mark once the metric networks are built, so that a second peak
    figure covers the streaming part of the run alone (loading weights peaks higher)."""
    build = runner.build_evaluator

    def build_then_reset(*args, **kwargs):
        evaluator = build(*args, **kwargs)
        C.reset_peak_rss()
        return evaluator

    runner.build_evaluator = build_then_reset


def _project_instead_of_inception(runner) -> None:
    """Make the runner's evaluator map images to 2048-d features with a fixed random projection."""
    import torch
    import torch.nn.functional as F

    build = runner.build_evaluator
    generator = torch.Generator().manual_seed(0)
    projection = torch.randn(3 * 16 * 16, 2048, generator=generator) / 16.0

    def forward(images: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_avg_pool2d(images.float() / 255.0, 16).flatten(1)
        return torch.relu(pooled @ projection)

    def build_with_projection(*args, **kwargs):
        evaluator = build(*args, **kwargs)
        evaluator.inception._forward = forward
        return evaluator

    runner.build_evaluator = build_with_projection


if __name__ == "__main__":
    main()
