"""Several protocols in one pass against one run per protocol.

    .venv/bin/python benchmarks/multi_protocol.py --images 32

One job (a tokenizer on real photo crops at 256 x 256, psnr + ssim + lpips + rfid) is measured
under the protocols ``standard, wetok, seed-voken, open-magvit2-v1, llamagen, dc-ae`` twice:

* ``separate``: one ``run_suite`` per protocol, each writing its own results folder;
* ``together``: one ``run_suite`` of the suite with ``protocol: [all six]``.

Both start from a cold reference-statistics cache. Reported: wall and CPU time of each, the
tokenizer's ``reconstruct`` calls, the feature-network forwards (Inception; LPIPS), and whether
every per-image value of the two agrees (it must: each protocol's folder of the ``together`` run
is what a run under that protocol alone writes). The tokenizer is TAEF2 when its real weights
are found (``WETOK_BENCH_SHARED_WEIGHTS`` or ``../shared/weights``), else the identity.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import time
from pathlib import Path
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

PROTOCOLS = ["standard", "wetok", "seed-voken", "open-magvit2-v1", "llamagen", "dc-ae"]


def main() -> None:
    C.main_with_repeats("multi_protocol", __doc__.splitlines()[0], run, default_repeats=1)


def _weights(root: Path) -> dict[str, str]:
    standard = C.write_metric_weights(root / "weights", "standard")
    wetok = C.write_metric_weights(root / "weights", "wetok")
    return {"inception-v3-compat": standard["inception"], "pytorch-fid-inception": wetok["inception"],
            "lpips_alex": standard["lpips_alex"], "lpips_vgg": wetok["lpips_vgg"]}


#: the real TAEF2 weights folder, when found (set again after each home is isolated)
_SHARED: list[str] = []


def _tokenizer() -> dict:
    shared = os.environ.get("WETOK_BENCH_SHARED_WEIGHTS") or str(Path(__file__).resolve().parents[2] / "shared" / "weights")
    if Path(shared).is_dir():
        _SHARED.append(shared)
        return {"type": "taesd", "model": "taef2", "name": "taef2"}
    return {"type": "identity"}


@contextlib.contextmanager
def _counting(counts: dict[str, int]):
    from wetok_bench.metrics.networks.inception import InceptionFeatures
    from wetok_bench.metrics.networks.lpips import LPIPSMetric
    from wetok_bench.tokenizers.base import Tokenizer

    originals = {"inception": InceptionFeatures.__call__, "lpips": LPIPSMetric.__call__,
                 "reconstruct": Tokenizer.reconstruct}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            counts[name] = counts.get(name, 0) + 1
            return function(*args, **kwargs)
        return wrapper

    with contextlib.ExitStack() as stack:
        stack.enter_context(patch.object(InceptionFeatures, "__call__", counted("inception", originals["inception"])))
        stack.enter_context(patch.object(LPIPSMetric, "__call__", counted("lpips", originals["lpips"])))
        stack.enter_context(patch.object(Tokenizer, "reconstruct", counted("reconstruct", originals["reconstruct"])))
        yield


def _timed_run(data: dict, home: Path) -> dict:
    from wetok_bench.config.suite import parse_suite
    from wetok_bench.engine import run_suite

    C.isolate_home(home)  # a cold reference cache
    if _SHARED:
        os.environ["WETOK_BENCH_WEIGHTS"] = _SHARED[0]
    counts: dict[str, int] = {}
    with _counting(counts):
        wall, cpu = time.perf_counter(), time.process_time()
        report = run_suite(parse_suite(data), progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if report.exit_code:
        raise SystemExit(f"run failed: {[o.error for o in report.outcomes if o.error]}")
    return {"wall_s": wall, "cpu_s": cpu, "calls": counts, "folders": [str(o.folder) for o in report.outcomes]}


def _rows(folder: str) -> list[dict]:
    with open(Path(folder) / "per_image.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def run(root: Path, n_images: int, batch_size: int, repeats: int) -> dict:
    env = C.environment()
    images = C.write_photo_crops(root / "images", n_images)
    weights = _weights(root)
    tokenizer = _tokenizer()
    base = dict(C.suite_data("multi", images, root / "results", weights, batch_size=batch_size), tokenizers=[tokenizer])
    samples = []
    for repeat in range(repeats):
        separate = {"wall_s": 0.0, "cpu_s": 0.0, "calls": {}, "folders": []}
        for protocol in PROTOCOLS:
            metrics = [m for m in base["metrics"] if not (protocol == "llamagen" and m == "lpips")]
            data = {**base, "protocol": protocol, "metrics": metrics, "output": str(root / f"sep_{repeat}" / protocol)}
            print(f"repeat {repeat + 1}: {protocol} alone ...", flush=True)
            one = _timed_run(data, root / f"home_sep_{repeat}_{protocol}")
            separate["wall_s"] += one["wall_s"]
            separate["cpu_s"] += one["cpu_s"]
            for name, n in one["calls"].items():
                separate["calls"][name] = separate["calls"].get(name, 0) + n
            separate["folders"] += one["folders"]
        print(f"repeat {repeat + 1}: all {len(PROTOCOLS)} protocols in one run ...", flush=True)
        together = _timed_run({**base, "protocol": PROTOCOLS, "output": str(root / f"tog_{repeat}")},
                              root / f"home_tog_{repeat}")
        same = all(_rows(a) == _rows(b) for a, b in zip(separate["folders"], together["folders"]))
        samples.append({"separate": separate, "together": together, "per_image_values_identical": same})
    best = {k: min(samples, key=lambda s: s[k]["wall_s"])[k] for k in ("separate", "together")}
    result = {"benchmark": "multi_protocol", "environment": env,
              "settings": {"images": n_images, "batch_size": batch_size, "resolution": 256, "tokenizer": tokenizer,
                           "protocols": PROTOCOLS, "metrics": base["metrics"], "repeats": repeats,
                           "cache": "cold reference statistics in every run"},
              "separate": best["separate"], "together": best["together"],
              "together_over_separate": {"wall": best["together"]["wall_s"] / best["separate"]["wall_s"],
                                         "cpu": best["together"]["cpu_s"] / best["separate"]["cpu_s"]},
              "per_image_values_identical": all(s["per_image_values_identical"] for s in samples),
              "raw": samples}
    C.print_table("multi_protocol", [
        ("separate runs: wall / CPU s", f"{best['separate']['wall_s']:.1f} / {best['separate']['cpu_s']:.1f}"),
        ("one run: wall / CPU s", f"{best['together']['wall_s']:.1f} / {best['together']['cpu_s']:.1f}"),
        ("one run / separate (wall)", f"{result['together_over_separate']['wall']:.2f}"),
        ("reconstruct calls separate / one run", f"{best['separate']['calls'].get('reconstruct', 0)} / "
                                                  f"{best['together']['calls'].get('reconstruct', 0)}"),
        ("Inception forwards separate / one run", f"{best['separate']['calls'].get('inception', 0)} / "
                                                   f"{best['together']['calls'].get('inception', 0)}"),
        ("LPIPS forwards separate / one run", f"{best['separate']['calls'].get('lpips', 0)} / "
                                               f"{best['together']['calls'].get('lpips', 0)}"),
        ("per-image values identical", str(result["per_image_values_identical"])),
    ])
    return result


if __name__ == "__main__":
    main()
