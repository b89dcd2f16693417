"""GPU readiness check: throughput, memory and stage shares of real-sized jobs, in one run.

    bash benchmarks/gpu_check.sh            # one H200: 2,000 images at 256, under 8 minutes
    bash benchmarks/gpu_check.sh --smoke    # the same code path on the CPU, 8 images, small widths

Jobs (protocol ``standard``, psnr + ssim + lpips + rfid, 256 x 256 photo crops, decoding in
``--workers`` processes into pinned memory):

``identity``   the metric path alone (its run also fills the reference cache: cold pass timed apart)
``sd-vae``     diffusers ``AutoencoderKL`` with the SD-VAE (sd-vae-ft-mse) configuration, random
               weights, saved with ``save_pretrained`` and loaded by the ``diffusers-vae`` family
``wetok-f16``  the ``wetok`` family with the architecture of the official compratio192 config
               (f16, ch 256, 4 residual blocks, 4 groups x 8 bits), random weights saved as a
               released checkpoint (``{"state_dict": {"model_ema.<name>": ...}}``)

For each: images/s of the whole ``run_suite`` call and of its streaming loop, peak GPU memory,
and the share of the loop's time in each stage (every timed block synchronises the GPU, so a
share is GPU work, not launch time; ``other`` is waiting for the decoders plus glue). Then the
official-shape loop (:mod:`official_shape`: per-image skimage PSNR/SSIM on the CPU, Inception on
originals and reconstructions, ``sqrtm``) on the same device and images, and, on a machine with
two or more GPUs, the ``sd-vae`` job under ``torchrun --nproc_per_node=2`` (nccl), whose summary
must equal the one-GPU run's bit for bit. ``--smoke`` scales the two tokenizers' widths down
(same layouts, same loading code), runs 8 images on the CPU and the torchrun part as two CPU
processes (gloo). Figures are written after every part, so a timeout keeps what was measured.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402
import official_shape as O  # noqa: E402

#: diffusers config of stabilityai/sd-vae-ft-mse (the SD 1.x VAE): f8, 4 latent channels.
SD_VAE_CONFIG = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "act_fn": "silu", "layers_per_block": 2,
    "block_out_channels": [128, 256, 512, 512], "norm_num_groups": 32, "sample_size": 256,
    "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4,
}
#: WeTok model card whose architecture the wetok-f16 job uses.
WETOK_CARD = "wetok-general-c192"
SMOKE_WIDTHS = {"sd_vae": [32, 64, 64, 64], "wetok_ch": 32}


def write_sd_vae(folder: Path, device: str, smoke: bool) -> Path:
    """A random-weights SD-VAE saved as a diffusers folder (config.json + safetensors)."""
    import torch
    from diffusers import AutoencoderKL

    if (folder / "config.json").is_file():
        return folder
    config = dict(SD_VAE_CONFIG, block_out_channels=SMOKE_WIDTHS["sd_vae"]) if smoke else SD_VAE_CONFIG
    torch.manual_seed(0)
    with torch.device(device):  # initialised where it will run: seconds on a GPU
        vae = AutoencoderKL(**config)
    vae.to("cpu").save_pretrained(folder)
    return folder


def wetok_init_args(smoke: bool) -> dict:
    from wetok_bench.tokenizers.wetok import CARDS

    card = next(c for c in CARDS if c.name == WETOK_CARD)
    init_args = json.loads(json.dumps(card.params["config"]["model"]["init_args"]))
    if smoke:
        init_args["ddconfig"]["ch"] = SMOKE_WIDTHS["wetok_ch"]
    return init_args


def write_wetok(path: Path, init_args: dict, device: str) -> Path:
    """Random WeTok weights in the released checkpoint layout (EMA copies under ``model_ema.``)."""
    import torch

    from wetok_bench.tokenizers.common.ema_checkpoint import ema_key
    from wetok_bench.tokenizers.wetok.model import WeTokConfig, WeTokModel

    if path.is_file():
        return path
    torch.manual_seed(0)
    with torch.device(device):
        model = WeTokModel(WeTokConfig.from_init_args(init_args))
    state = {ema_key(name): p.detach().to("cpu") for name, p in model.named_parameters()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state}, path)
    return path


class GpuPeak:
    """Peak GPU memory of a whole job (reference pass, tokenizer, metric networks).

    The runner's cost meter (``wetok_bench.engine.cost.CostMeter``) calls
    ``torch.cuda.reset_peak_memory_stats`` before every batch to measure the tokenizer's calls
    alone, so ``torch.cuda.max_memory_allocated`` read after a run covers only its last batch.
    While :meth:`track` is active every such reset first folds the peak so far into
    :attr:`bytes` (instrumentation only: the meter's own figures are unchanged).
    """

    def __init__(self) -> None:
        self.bytes = 0

    @contextlib.contextmanager
    def track(self) -> Iterator["GpuPeak"]:
        import torch

        reset = torch.cuda.reset_peak_memory_stats

        def folding_reset(device=None) -> None:
            self.bytes = max(self.bytes, int(torch.cuda.max_memory_allocated(device)))
            reset(device)

        torch.cuda.synchronize()
        reset()
        self.bytes = 0
        with patch.object(torch.cuda, "reset_peak_memory_stats", folding_reset):
            yield self
        torch.cuda.synchronize()
        self.bytes = max(self.bytes, int(torch.cuda.max_memory_allocated()))


def job_peak_bytes(tracked: int | None, summaries: Sequence[dict]) -> int | None:
    """The larger of the tracked whole-job peak and the summaries' ``cost.peak_memory_bytes``
    (the tokenizer calls' peak, per rank's maximum under torchrun); None when neither is known."""
    values = [tracked] + [s.get("cost", {}).get("peak_memory_bytes") for s in summaries]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def _gib(nbytes: int | None) -> float | None:
    return nbytes / 2**30 if nbytes is not None else None


def measure_job(data: dict, n_images: int, device: str) -> dict:
    cuda = device.startswith("cuda")
    peak = GpuPeak()
    with peak.track() if cuda else contextlib.nullcontext():
        timing = C.time_run_suite(data)
    cost = timing.summary.get("cost", {})
    figures = timing.as_dict()
    loop = timing.stages["reference_pass"]["wall_s"] + timing.stages["job_pass"]["wall_s"]
    parts = {name: timing.inside[name]["wall_s"] for name in ("tokenizer", "inception", "lpips", "pixel_metrics", "shard_save")}
    shares = {name: value / loop for name, value in parts.items()} if loop else {}
    if loop:
        shares["other (data wait, glue)"] = max(0.0, 1 - sum(shares.values()))
    figures.update({
        "images_per_s": n_images / timing.wall_s,
        "loop_images_per_s": n_images / timing.stages["job_pass"]["wall_s"] if timing.stages["job_pass"]["wall_s"] else None,
        "stage_shares_of_loop": shares,
        "peak_gpu_memory_gib": _gib(job_peak_bytes(peak.bytes, [timing.summary])) if cuda else None,
        "tokenizer_peak_gpu_memory_gib": _gib(cost.get("peak_memory_bytes")),
        "cost": {k: cost.get(k) for k in ("encode_s_per_image", "decode_s_per_image", "images_per_s", "parameters")},
        "metrics": {k: v for k, v in timing.summary.get("metrics", {}).items() if isinstance(v, (int, float))},
    })
    return figures


def official_shape(paths, batch_size: int, device: str, weights: dict) -> dict:
    import torch

    from wetok_bench.metrics.setup import build_evaluator, resolve_metric_weights
    from wetok_bench.protocols import get_protocol
    from wetok_bench.tokenizers.registry import create_tokenizer

    protocol = get_protocol("standard")
    setup = resolve_metric_weights(protocol, ["psnr", "ssim", "lpips", "rfid"], explicit=weights)
    evaluator = build_evaluator(protocol, setup, torch.device(device))
    tokenizer = create_tokenizer({"type": "identity"})
    start = time.perf_counter()
    parts, _ = O.official_shape_pass(paths, 256, batch_size, evaluator, tokenizer)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "images_per_s": len(paths) / wall, "parts": parts}


def torchrun_job(root: Path, data: dict, n_images: int, one_gpu_summary: dict) -> dict:
    """The same job under ``torchrun --nproc_per_node=2``; its summary against the one-GPU run's."""
    suite = dict(data, name="gpu_check_2gpu", output=str(root / "results_2gpu"))
    path = root / "suite_2gpu.yaml"
    path.write_text(json.dumps(suite))  # YAML is a superset of JSON
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "wetok_bench", "run", str(path)]
    start = time.perf_counter()
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - start
    result = {"returncode": done.returncode, "wall_s": wall, "images_per_s": n_images / wall,
              "command": " ".join(command[1:])}
    if done.returncode != 0:
        result["stderr_tail"] = done.stderr[-3000:]
        return result
    (summary_file,) = (root / "results_2gpu" / "gpu_check_2gpu").glob("*/summary.json")
    summary = json.loads(summary_file.read_text())
    metrics = summary["metrics"]
    result["peak_gpu_memory_gib_per_rank"] = _gib(job_peak_bytes(None, [summary]))  # tokenizer calls, max over ranks
    mine = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    result["metrics"] = mine
    result["identical_to_one_gpu"] = bool(one_gpu_summary) and all(mine.get(k) == v for k, v in one_gpu_summary.items())
    return result


def main() -> None:
    parser = C.base_parser(__doc__.splitlines()[0], images=2000, batch_size=64)
    parser.add_argument("--smoke", action="store_true", help="CPU, 8 images, batch 4, narrow tokenizers: the code path only")
    parser.add_argument("--device", default=None, help="cuda (default) or cpu (--smoke)")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default 8; 0 with --smoke)")
    parser.add_argument("--precision", default="fp32", help="tokenizer precision (fp32, bf16); metric networks are always fp32")
    parser.add_argument("--jobs", nargs="+", default=["identity", "sd-vae", "wetok-f16"], choices=["identity", "sd-vae", "wetok-f16"])
    parser.add_argument("--skip-official", action="store_true", help="leave out the official-shape loop")
    args = parser.parse_args()
    import torch

    device = args.device or ("cpu" if args.smoke else "cuda")
    n_images = 8 if args.smoke and args.images == 2000 else args.images
    batch_size = 4 if args.smoke and args.batch_size == 64 else args.batch_size
    workers = args.workers if args.workers is not None else (0 if args.smoke else 8)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device here (use --smoke for the CPU code path)")
    C.setup_torch(args.threads if not device.startswith("cuda") else 0)
    C.SYNC_CUDA = device.startswith("cuda")
    figures: dict = {"benchmark": "gpu_check", "environment": C.environment(),
                     "settings": {"images": n_images, "batch_size": batch_size, "workers": workers, "device": device,
                                  "precision": args.precision, "smoke": args.smoke, "resolution": 256, "protocol": "standard",
                                  "gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0},
                     "jobs": {}}
    started = time.perf_counter()
    name = "gpu_check" + ("-smoke" if args.smoke else "")
    with C.workdir(args.workdir) as root:
        C.isolate_home(root / "home")
        print(f"[{time.perf_counter() - started:6.1f}s] writing {n_images} images, metric weights, tokenizer weights ...", flush=True)
        images = C.write_photo_crops(root / "images", n_images)
        weights = C.write_metric_weights(root / "weights")
        init_args = wetok_init_args(args.smoke)
        entries = {
            "identity": {"type": "identity"},
            "sd-vae": {"type": "diffusers-vae", "name": "sd-vae", "pretrained": str(write_sd_vae(root / "sd_vae", device, args.smoke))}
            if "sd-vae" in args.jobs else None,
            "wetok-f16": {"type": "wetok", "name": "wetok-f16", "checkpoint": str(write_wetok(root / "wetok" / "WeTok.ckpt", init_args, device)),
                          "config": {"model": {"init_args": init_args}}} if "wetok-f16" in args.jobs else None,
        }
        figures["setup_s"] = time.perf_counter() - started
        data = None
        for job in args.jobs:
            print(f"[{time.perf_counter() - started:6.1f}s] job {job} ...", flush=True)
            data = C.suite_data("gpu_check", images, root / "results", weights, tokenizers=[entries[job]], device=device,
                                batch_size=batch_size, num_workers=workers, precision=args.precision, on_nonfinite="skip")
            figures["jobs"][job] = measure_job(data, n_images, device)
            C.write_figures(name, figures, args.json)  # after every part: a timeout keeps what was measured
        if not args.skip_official:
            print(f"[{time.perf_counter() - started:6.1f}s] official-shape loop ...", flush=True)
            from wetok_bench.data.registry import create_dataset

            paths = [r.path for r in create_dataset({"type": "folder", "name": "bench", "root": str(images)}).records()]
            figures["official_shape"] = official_shape(paths, batch_size, device, weights)
            C.write_figures(name, figures, args.json)
        two = device.startswith("cuda") and torch.cuda.device_count() >= 2
        if (two or args.smoke) and "sd-vae" in figures["jobs"]:  # --smoke: 2 CPU processes (gloo), the same command
            print(f"[{time.perf_counter() - started:6.1f}s] sd-vae under torchrun, 2 {'GPUs' if two else 'CPU processes'} ...", flush=True)
            sd_data = C.suite_data("gpu_check", images, root / "results", weights, tokenizers=[entries["sd-vae"]], device=device,
                                   batch_size=batch_size, num_workers=workers, precision=args.precision, on_nonfinite="skip")
            figures["torchrun_2gpu"] = torchrun_job(root, sd_data, n_images, figures["jobs"]["sd-vae"]["metrics"])
    figures["total_s"] = time.perf_counter() - started
    report(figures)
    path = C.write_figures(name, figures, args.json)
    print(f"\nfigures written to {path}")


def report(figures: dict) -> None:
    settings = figures["settings"]
    for job, f in figures["jobs"].items():
        rows = [("images/s, whole run_suite call", f"{f['images_per_s']:.1f}"),
                ("images/s, streaming loop", f"{f['loop_images_per_s']:.1f}" if f["loop_images_per_s"] else "-"),
                ("wall s (run / reference pass / loop)",
                 f"{f['wall_s']:.1f} / {f['stages']['reference_pass']['wall_s']:.1f} / {f['stages']['job_pass']['wall_s']:.1f}"),
                ("peak GPU memory, whole job", f"{f['peak_gpu_memory_gib']:.2f} GiB" if f["peak_gpu_memory_gib"] is not None else "-"),
                ("peak GPU memory, tokenizer calls (summary cost)",
                 f"{f['tokenizer_peak_gpu_memory_gib']:.2f} GiB" if f.get("tokenizer_peak_gpu_memory_gib") is not None else "-"),
                ("encode / decode ms per image (summary cost)",
                 " / ".join(f"{f['cost'][k] * 1e3:.2f}" if f["cost"].get(k) is not None else "-"
                            for k in ("encode_s_per_image", "decode_s_per_image")))]
        rows += [(f"  share: {name}", f"{share:6.1%}") for name, share in f["stage_shares_of_loop"].items()]
        C.print_table(f"job {job}: {settings['images']} images at 256, batch {settings['batch_size']}, {settings['device']}", rows)
    if "official_shape" in figures:
        o = figures["official_shape"]
        rows = [("images/s", f"{o['images_per_s']:.1f}")] + [(f"  {k}", f"{v['wall_s']:.1f} s") for k, v in o["parts"].items()]
        if "identity" in figures["jobs"]:
            rows.append(("runner identity / official shape (images/s)", f"{figures['jobs']['identity']['images_per_s'] / o['images_per_s']:.2f}x"))
        C.print_table("official-shape loop, same device and images", rows)
    if "torchrun_2gpu" in figures:
        t = figures["torchrun_2gpu"]
        C.print_table(f"sd-vae, torchrun --nproc_per_node=2 ({'nccl' if settings['device'].startswith('cuda') else 'gloo, CPU'})", [
            ("return code", str(t["returncode"])), ("images/s (whole command)", f"{t['images_per_s']:.1f}"),
            ("summary identical to one process", str(t.get("identical_to_one_gpu"))),
            ("peak GPU memory per rank, tokenizer calls",
             f"{t['peak_gpu_memory_gib_per_rank']:.2f} GiB" if t.get("peak_gpu_memory_gib_per_rank") is not None else "-"),
            *([("stderr (tail)", t["stderr_tail"][-800:])] if "stderr_tail" in t else [])])
    C.print_table("total", [("setup (images, weights)", f"{figures['setup_s']:.1f} s"), ("whole check", f"{figures['total_s']:.1f} s")])


if __name__ == "__main__":
    main()
