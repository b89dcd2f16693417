"""Fixed start-up cost of a run: imports and metric-network construction, in fresh processes.

    .venv/bin/python benchmarks/startup.py --repeats 3

Each repeat starts a new Python process per protocol (``standard``: LPIPS-alex + torch-fidelity
Inception; ``wetok``: LPIPS alex + vgg + pytorch-fid Inception) and times, inside it:

``import_torch``
    ``import torch`` (with this CUDA build of torch most of it is loading its shared libraries).
``import_harness``
    ``import wetok_bench.cli.main`` and the metric modules (``wetok_bench.metrics.evaluator``).
``import_metric_libraries``
    lpips, torchvision, torch-fidelity, clean-fid (imported lazily by the builders).
``build_<network>``
    each network built through the harness's own builder from full-size weights files
    (``LPIPSMetric``, ``build_inception``): read the file, construct, load, hash (sidecar warm).
``total``
    everything from the first import to the last network built.

The process's own start (the interpreter, ``site``) is measured from outside as
``process_wall_s``; peak RSS is the child's ``ru_maxrss``. Weights files are random with the
real architectures and the real sizes (AlexNet 233 MiB, VGG16 528 MiB: classifiers included,
as in torchvision's files, although LPIPS uses only the features). Each figure is the best of
``--repeats``. ``--code DIR`` runs another copy of the package (a folder holding
``wetok_bench/``) for before/after comparisons.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

PROTOCOL_NETWORKS = {
    "standard": ("lpips_alex", "inception"),
    "wetok": ("lpips_alex", "lpips_vgg", "inception_pytorch_fid"),
}


def write_full_weights(folder: Path) -> dict[str, str]:
    """Random full-size weights files for every metric network of both protocols."""
    standard, wetok = C.write_metric_weights(folder, "standard"), C.write_metric_weights(folder, "wetok")
    return {**standard, "lpips_vgg": wetok["lpips_vgg"], "inception_pytorch_fid": wetok["inception"]}


def child(protocol: str, files: dict[str, str]) -> dict:
    """Runs in the fresh process: times the imports and each network's construction."""
    import resource

    times: dict[str, dict[str, float]] = {}
    rss: dict[str, float] = {}
    start_wall, start_cpu = time.perf_counter(), time.process_time()

    def phase(name, function):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        times[name] = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
        rss[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return result

    phase("import_torch", lambda: __import__("torch"))
    import torch

    torch.set_num_threads(1)

    def import_harness():
        import wetok_bench.cli.main  # noqa: F401
        import wetok_bench.metrics.evaluator  # noqa: F401

    def import_libraries():
        import cleanfid.inception_pytorch  # noqa: F401
        import lpips  # noqa: F401
        import torch_fidelity.feature_extractor_inceptionv3  # noqa: F401
        import torchvision  # noqa: F401

    phase("import_harness", import_harness)
    phase("import_metric_libraries", import_libraries)
    from wetok_bench.metrics.networks.inception import build_inception
    from wetok_bench.metrics.networks.lpips import LPIPSMetric

    builders = {
        "lpips_alex": lambda: LPIPSMetric("alex", files["lpips_alex"]),
        "lpips_vgg": lambda: LPIPSMetric("vgg", files["lpips_vgg"]),
        "inception": lambda: build_inception("inception-v3-compat", files["inception"]),
        "inception_pytorch_fid": lambda: build_inception("pytorch-fid", files["inception_pytorch_fid"]),
    }
    kept = [phase(f"build_{name}", builders[name]) for name in PROTOCOL_NETWORKS[protocol]]
    times["total"] = {"wall_s": time.perf_counter() - start_wall, "cpu_s": time.process_time() - start_cpu}
    times["build_networks"] = {key: sum(times[f"build_{n}"][key] for n in PROTOCOL_NETWORKS[protocol]) for key in ("wall_s", "cpu_s")}
    import wetok_bench

    del kept
    return {"times": times, "peak_rss_mib_after": rss,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "package": str(Path(wetok_bench.__file__).parent)}


def run_child(protocol: str, files: dict[str, str], code: Path | None) -> dict:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", protocol, json.dumps(files)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], json.loads(sys.argv[3]))))
        return
    parser = C.base_parser(__doc__.splitlines()[0], images=None)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per protocol; each figure is the best (default 3)")
    parser.add_argument("--code", type=Path, default=None, help="a folder holding another copy of wetok_bench/ to measure")
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOL_NETWORKS), choices=list(PROTOCOL_NETWORKS))
    args = parser.parse_args()
    env = C.environment()
    with C.workdir(args.workdir) as root:
        files = write_full_weights(root / "weights")
        # hash sidecars written once (a first run on a new machine pays this, later runs do not)
        from wetok_bench.core.hashing import cached_sha256

        for path in files.values():
            cached_sha256(path)
        samples: dict[str, list] = {p: [] for p in args.protocols}
        for repeat in range(args.repeats):
            for protocol in args.protocols:
                print(f"repeat {repeat + 1}/{args.repeats}: {protocol} ...", flush=True)
                samples[protocol].append(run_child(protocol, files, args.code))
    best = {p: C.best_of(s) for p, s in samples.items()}
    result = {"benchmark": "startup", "environment": env,
              "settings": {"repeats": args.repeats, "code": str(args.code) if args.code else None,
                           "figures": "best of the repeats, per figure", "torch_threads": 1},
              "best": best, "raw": samples}
    for protocol, figures in best.items():
        rows = [(name, f"{t['wall_s']:6.2f} / {t['cpu_s']:6.2f}") for name, t in figures["times"].items()]
        rows += [("process (from outside, wall)", f"{figures['process_wall_s']:6.2f}"),
                 ("peak RSS", f"{figures['peak_rss_mib']:.0f} MiB")]
        C.print_table(f"start-up, protocol {protocol} (wall s / cpu s), {figures['package']}", rows)
    path = C.write_figures("startup" + ("-" + args.code.name if args.code else ""), result, args.json)
    print(f"\nfigures written to {path}")


if __name__ == "__main__":
    main()
