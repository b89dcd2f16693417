"""Shared set-up of the benchmarks: image folders, random metric weights, timing, output.

No real weights exist offline, so every benchmark writes random but non-trivial weights files
with the real architectures and the real file sizes (the tests' builders, imported from
``tests/``): the networks run at the same speed as with the released weights, and hashing and
loading the files costs what it costs with the released ones. Values (rFID, LPIPS) are
therefore not the published ones; only times and memory are meaningful here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from unittest.mock import patch

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests" / "helpers"

# Offline, like the tests: nothing may download while a benchmark runs.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WETOK_BENCH_OFFLINE", "1")


def _threads_from_argv(argv: list[str], default: int = 1) -> int:
    for i, arg in enumerate(argv):
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
    return default


# numpy/scipy (BLAS, LAPACK) read their thread counts when first imported: fix them here,
# before any benchmark imports them, to the same ``--threads`` torch gets (0 = libraries' choice).
_THREADS = _threads_from_argv(sys.argv)
if _THREADS > 0:
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = str(_THREADS)


def base_parser(description: str, images: int | None, batch_size: int = 16) -> argparse.ArgumentParser:
    """Arguments every benchmark takes (``--images`` left to the caller when ``images`` is None)."""
    parser = argparse.ArgumentParser(description=description)
    if images is not None:
        parser.add_argument("--images", type=int, default=images, help=f"number of images (default {images})")
    parser.add_argument("--batch-size", type=int, default=batch_size, help=f"batch size of every pass (default {batch_size})")
    # One thread by default: on a machine shared with other jobs, a second torch thread mostly
    # waits for the first (a 2048 x 2048 eigh took 11 s with 2 threads, 3 s with 1, same load).
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1; 0 = torch's choice)")
    parser.add_argument("--workdir", type=Path, default=None, help="folder for images, weights and caches (default: a fresh temp folder, removed afterwards)")
    parser.add_argument("--json", type=Path, default=None, help="where to write the figures (default benchmarks/results/<name>-<torch>-<device>.json)")
    return parser


@contextlib.contextmanager
def workdir(path: Path | None) -> Iterator[Path]:
    """The given folder (kept), or a temporary one removed on exit."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="wetok_bench_bm_") as tmp:
        yield Path(tmp)


def isolate_home(root: Path) -> Path:
    """Point WETOK_BENCH_HOME (reference-statistics cache, samples) and TORCH_HOME at ``root``.

    A new ``root`` means a cold reference cache, as a first run on a new machine would see.
    """
    root.mkdir(parents=True, exist_ok=True)
    os.environ["WETOK_BENCH_HOME"] = str(root)
    os.environ["TORCH_HOME"] = str(root / "torch")
    os.environ.pop("WETOK_BENCH_WEIGHTS", None)
    return root


def setup_torch(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)
    # decoding happens in this process (num_workers 0), so these are all the threads used


# --- inputs ---------------------------------------------------------------------------------------


def write_photo_crops(folder: Path, count: int, min_side: int = 256, seed: int = 0) -> Path:
    """``count`` JPEG crops (quality 95) of the real photos of the ``samples`` dataset.

    Each crop has a random position and a random size with a short side of at least
    ``min_side`` (so preprocessing resizes most of them, as with ImageNet's ~500 x 375 JPEGs).
    Photos smaller than ``min_side`` are upscaled first.
    """
    import numpy as np
    from PIL import Image

    from wetok_bench.data.samples import SAMPLE_SOURCES

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = []
    for load in SAMPLE_SOURCES.values():
        image = Image.fromarray(load()).convert("RGB")
        if min(image.size) < min_side + 16:
            scale = (min_side + 16) / min(image.size)
            image = image.resize((round(image.width * scale) + 1, round(image.height * scale) + 1), Image.BICUBIC)
        photos.append(image)
    for i in range(count):
        photo = photos[i % len(photos)]
        width = int(rng.integers(min_side, photo.width + 1))
        height = int(rng.integers(min_side, photo.height + 1))
        left = int(rng.integers(0, photo.width - width + 1))
        top = int(rng.integers(0, photo.height - height + 1))
        photo.crop((left, top, left + width, top + height)).save(folder / f"crop_{i:05d}.jpg", quality=95)
    return folder


def write_synthetic_images(folder: Path, count: int, size: int, seed: int = 0) -> Path:
    """``count`` small PNGs of smooth random colour fields (size x size)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        coarse = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((size, size), Image.BILINEAR)
        noise = rng.integers(-8, 9, size=(size, size, 3))
        array = np.clip(np.asarray(image).astype(int) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(array).save(folder / f"synth_{i:05d}.png")
    return folder


def write_metric_weights(folder: Path, protocol: str = "standard") -> dict[str, str]:
    """Random metric weights files at full size for ``protocol``; the suite's ``weights`` mapping.

    ``standard``: Inception ``inception-v3-compat`` and the LPIPS AlexNet backbone; ``wetok``:
    pytorch-fid's Inception and the AlexNet and VGG16 backbones. The backbones are written at
    full size (their classifiers as real tensors, 233 and 528 MiB like the released files): they
    are read and hashed by every run, which small test files would hide.
    """
    files = _write_standard_weights(folder)
    if protocol == "standard":
        return files
    return {"inception": _write_pytorch_fid_weights(folder), "lpips_alex": files["lpips_alex"],
            "lpips_vgg": _write_full_vgg(folder)}


def _write_pytorch_fid_weights(folder: Path) -> str:
    sys.path.insert(0, str(TESTS))
    from helpers_inception import write_pytorch_fid_inception_weights

    path = folder / "pt_inception_random.pth"
    if not path.is_file():
        write_pytorch_fid_inception_weights(path)
    return str(path)


def _write_full_vgg(folder: Path) -> str:
    import torch
    import torchvision

    path = folder / "vgg16_random_full.pth"
    if not path.is_file():
        torch.manual_seed(0)
        state = {}
        for name, tensor in torchvision.models.vgg16(weights=None).state_dict().items():
            if name.startswith("features.") and name.endswith("weight"):
                tensor = torch.nn.init.kaiming_normal_(torch.empty_like(tensor))
            elif name.startswith("features."):
                tensor = torch.randn_like(tensor) * 0.1
            state[name] = tensor.contiguous()
        torch.save(state, path)
    return str(path)


def _write_standard_weights(folder: Path) -> dict[str, str]:
    import torch

    sys.path.insert(0, str(TESTS))
    from helpers_inception import write_fidelity_inception_weights
    from helpers_lpips import random_backbone_file

    folder.mkdir(parents=True, exist_ok=True)
    inception = folder / "inception_v3_compat_random.pth"
    if not inception.is_file():
        write_fidelity_inception_weights(inception)
    alex = folder / "alexnet_random_full.pth"
    if not alex.is_file():
        small = random_backbone_file("alex", folder / "alexnet_random_small.pth")
        state = torch.load(small, weights_only=True)
        torch.save({name: tensor.clone().contiguous() for name, tensor in state.items()}, alex)
        small.unlink()
    return {"inception": str(inception), "lpips_alex": str(alex)}


def suite_data(name: str, image_folder: Path, out: Path, weights: dict[str, str], **overrides: Any) -> dict:
    """A one-job suite: the identity tokenizer on ``image_folder`` at 256 x 256, all metrics."""
    data = {
        "name": name,
        "datasets": [{"type": "folder", "name": "bench", "root": str(image_folder)}],
        "tokenizers": [{"type": "identity"}],
        "metrics": ["psnr", "ssim", "lpips", "rfid"],
        "resolution": 256,
        "batch_size": 16,
        "num_workers": 0,
        "device": "cpu",
        "output": str(out),
        "weights": weights,
    }
    data.update(overrides)
    return data


# --- measuring ------------------------------------------------------------------------------------


#: When True (GPU benchmarks), every timed block starts and ends with ``torch.cuda.synchronize()``,
#: so a block's time is its GPU work, not the time to queue it.
SYNC_CUDA = False


def _sync() -> None:
    if SYNC_CUDA:
        import torch

        torch.cuda.synchronize()


class Stopwatch:
    """Accumulates the wall time and this process's CPU time of the blocks it times.

    CPU time (all threads, ``time.process_time``) is the steadier figure on a shared machine:
    other processes lengthen the wall time of a pass but not the CPU time it needs.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def __enter__(self) -> "Stopwatch":
        _sync()
        self._start = time.perf_counter()
        self._cpu_start = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        _sync()
        self.seconds += time.perf_counter() - self._start
        self.cpu_seconds += time.process_time() - self._cpu_start

    def as_dict(self) -> dict[str, float]:
        return {"wall_s": self.seconds, "cpu_s": self.cpu_seconds}


#: Stages of ``run_suite`` timed separately: (label, owner in wetok_bench.engine.driver, attribute).
RUNNER_STAGES = (
    ("build_metrics", None, "build_evaluator"),  # metric networks: load + hash weights
    ("reference_pass", "ReferenceStore", "_compute"),  # Inception on the originals (cache miss only)
    ("job_pass", "JobRunner", "run"),  # decode, tokenizer, metrics, shards
    ("summary", None, "build_summary"),  # aggregation and the Frechet distance
    ("write_results", None, "write_job"),
)


#: Unavoidable calls timed *inside* a run (same moment, same load as the run itself).
#: ``shard_save`` is not unavoidable: it is timed to show where the rest of the time goes.
INSIDE_PARTS = ("decode", "tokenizer", "inception", "lpips", "pixel_metrics", "frechet", "shard_save")


@dataclass
class RunnerTiming:
    """One ``run_suite`` call: wall and CPU time, per-stage times, time spent inside the
    unavoidable calls, images decoded, summary."""

    wall_s: float
    cpu_s: float
    stages: dict[str, dict[str, float]]
    inside: dict[str, dict[str, float]]
    decodes: int
    summary: dict

    def as_dict(self) -> dict:
        """Times as plain data; ``other`` is the call's time outside the named stages (lock,
        dataset scan, tokenizer build, ...)."""
        other = {key: getattr(self, key) - sum(stage[key] for stage in self.stages.values()) for key in ("wall_s", "cpu_s")}
        return {"wall_s": self.wall_s, "cpu_s": self.cpu_s, "stages": {**self.stages, "other": other},
                "inside": self.inside, "decodes": self.decodes}


@contextlib.contextmanager
def _timed(owner: Any, attribute: str, watch: Stopwatch, on_call: Any = None) -> Iterator[None]:
    """Replace ``owner.attribute`` by a wrapper that times every call (instrumentation only)."""
    original = getattr(owner, attribute)

    def wrapper(*args, **kwargs):
        if on_call is not None:
            on_call()
        with watch:
            return original(*args, **kwargs)

    with patch.object(owner, attribute, wrapper):
        yield


_RUN_CALLS = [0]


def time_run_suite(data: dict) -> RunnerTiming:
    """Run the suite ``data`` once through ``run_suite`` (no progress bars) and time it.

    Two kinds of instrumentation, both thin timing wrappers (nothing else changes):
    the stages of :data:`RUNNER_STAGES`, and the unavoidable calls of :data:`INSIDE_PARTS`
    as the run makes them (decode = ``load_rgb`` + ``preprocess``; the tokenizer's
    ``reconstruct``; the Inception and LPIPS networks' forward; PSNR + SSIM; ``fid_result``).
    ``decodes`` counts the images decoded during the call.
    """
    from wetok_bench.config.suite import parse_suite
    from wetok_bench.data import loader
    from wetok_bench.engine import driver as runner
    from wetok_bench.engine.shards import ShardStore
    from wetok_bench.metrics import evaluator as evaluator_module
    from wetok_bench.metrics.functional import fid
    from wetok_bench.metrics.networks import lpips as perceptual

    # a fresh results folder per call: a finished job in the same folder would be skipped
    _RUN_CALLS[0] += 1
    data = {**data, "output": str(Path(data["output"]) / f"call_{time.strftime('%Y%m%d-%H%M%S')}_{os.getpid()}_{_RUN_CALLS[0]:03d}")}
    suite = parse_suite(data)
    watches = {label: Stopwatch() for label, _, _ in RUNNER_STAGES}
    inside = {label: Stopwatch() for label in INSIDE_PARTS}
    count = [0]
    build, load_tokenizer = runner.build_evaluator, runner._load_tokenizer

    def instrumented_evaluator(*args, **kwargs):
        ev = build(*args, **kwargs)
        if ev.inception is not None:
            forward = ev.inception._forward
            ev.inception._forward = lambda images: _call_timed(inside["inception"], forward, images)
        if not hasattr(perceptual, "lpips_forward"):
            for metric in ev.lpips.values():
                model_forward = metric.model.forward
                metric.model.forward = lambda *a, _f=model_forward, **k: _call_timed(inside["lpips"], _f, *a, **k)
        return ev

    def instrumented_tokenizer(*args, **kwargs):
        tok = load_tokenizer(*args, **kwargs)
        reconstruct = tok.reconstruct
        tok.reconstruct = lambda *a, **k: _call_timed(inside["tokenizer"], reconstruct, *a, **k)
        return tok

    with contextlib.ExitStack() as stack:
        stack.enter_context(patch.object(runner, "build_evaluator", instrumented_evaluator))
        stack.enter_context(patch.object(runner, "_load_tokenizer", instrumented_tokenizer))
        for label, owner, attribute in RUNNER_STAGES:  # after the two above, so it times them
            stack.enter_context(_timed(getattr(runner, owner) if owner else runner, attribute, watches[label]))
        stack.enter_context(_timed(loader, "load_rgb", inside["decode"], on_call=lambda: count.__setitem__(0, count[0] + 1)))
        stack.enter_context(_timed(loader, "preprocess", inside["decode"]))
        if hasattr(perceptual, "lpips_forward"):  # the network passes (older code: the module's forward)
            stack.enter_context(_timed(perceptual, "lpips_forward", inside["lpips"]))
        for name in ("psnr", "ssim"):  # where the evaluator looks them up (metric registry, or older code)
            owner = _pixel_metric_owner(name, evaluator_module)
            stack.enter_context(_timed(owner, name, inside["pixel_metrics"]))
        stack.enter_context(_timed(fid, "fid_result", inside["frechet"]))
        stack.enter_context(_timed(ShardStore, "save", inside["shard_save"]))
        with Stopwatch() as watch:
            report = runner.run_suite(suite, progress=False)
    if report.exit_code != 0:
        raise SystemExit(f"benchmark run failed: {[o.error for o in report.outcomes if o.error]}")
    (outcome,) = report.outcomes
    stages = {label: w.as_dict() for label, w in watches.items()}
    return RunnerTiming(watch.seconds, watch.cpu_seconds, stages, {k: w.as_dict() for k, w in inside.items()}, count[0], outcome.summary)


def _pixel_metric_owner(name: str, evaluator_module: Any) -> Any:
    """The module whose global ``name`` (psnr, ssim) the evaluator calls."""
    import importlib

    try:
        return importlib.import_module(f"wetok_bench.metrics.{name}")
    except ImportError:
        return evaluator_module


def _call_timed(watch: Stopwatch, function: Any, *args: Any, **kwargs: Any) -> Any:
    with watch:
        return function(*args, **kwargs)


def best_of(samples: list[Any]) -> Any:
    """Element-wise minimum over repeats of nested dicts of numbers (non-numbers: the first).

    On a shared machine other processes only ever add time, so the fastest repeat of each
    figure is the closest to the cost of the work itself.
    """
    first = samples[0]
    if isinstance(first, dict):
        return {key: best_of([s[key] for s in samples]) for key in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return min(samples)
    return first


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (``VmHWM``; Linux >= 4.0). False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_rss_since_reset_mib() -> float | None:
    """``VmHWM`` of this process in MiB: the peak since :func:`reset_peak_rss` (or the start)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def environment() -> dict:
    """torch version, device names, threads and load: what the figures depend on."""
    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_1m_at_start": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }


def device_tag() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0).lower().replace(" ", "-")
    return "cpu"


def write_figures(name: str, figures: dict, path: Path | None) -> Path:
    """Write ``figures`` as JSON; the default name carries torch version and device (timm style)."""
    import torch

    if path is None:
        tag = torch.__version__.split("+")[0].replace(".", "")
        path = REPO / "benchmarks" / "results" / f"{name}-pt{tag}-{device_tag()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    figures = {**figures, "environment": {**figures.get("environment", {}), "load_average_1m_at_end": os.getloadavg()[0]}}
    path.write_text(json.dumps(figures, indent=2, sort_keys=False) + "\n")
    return path


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    print(f"\n{title}\n" + "-" * (width + 20))
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def main_with_repeats(name: str, description: str, run: Any, default_repeats: int) -> None:
    """The shared ``main`` of the speed benchmarks: parse flags, run, write the figures JSON."""
    parser = base_parser(description, images=32)
    parser.add_argument("--repeats", type=int, default=default_repeats,
                        help=f"repeats of every measurement; each figure is the best (default {default_repeats})")
    args = parser.parse_args()
    setup_torch(args.threads)
    with workdir(args.workdir) as root:
        figures = run(root, args.images, args.batch_size, args.repeats)
    path = write_figures(name, figures, args.json)
    print(f"\nfigures written to {path}")


@dataclass
class IdentitySetup:
    """What the speed benchmarks share: photo crops, metric weights, the suite, its evaluator,
    the identity tokenizer and the image paths."""

    env: dict
    images: Path
    data: dict
    suite: Any
    evaluator: Any
    tokenizer: Any
    paths: list[Path]


def identity_setup(root: Path, name: str, n_images: int, batch_size: int, protocol: str = "standard",
                   device: str = "cpu") -> IdentitySetup:
    """Write the inputs and build the networks once, as ``run`` would, for the identity tokenizer."""
    import torch

    from wetok_bench.config.suite import parse_suite
    from wetok_bench.data.registry import create_dataset
    from wetok_bench.metrics.setup import build_evaluator, resolve_metric_weights
    from wetok_bench.tokenizers.registry import create_tokenizer

    env = environment()
    images = write_photo_crops(root / "images", n_images)
    weights = write_metric_weights(root / "weights", protocol)
    data = suite_data(name, images, root / "results", weights, batch_size=batch_size, protocol=protocol, device=device)
    suite = parse_suite(data)
    setup = resolve_metric_weights(suite.protocol, suite.metrics, explicit=suite.settings.weights,
                                   on_missing=suite.settings.on_missing_weights)
    evaluator = build_evaluator(suite.protocol, setup, torch.device(device))
    tokenizer = create_tokenizer({"type": "identity"})
    paths = [r.path for r in create_dataset(data["datasets"][0]).records()]
    return IdentitySetup(env, images, data, suite, evaluator, tokenizer, paths)
