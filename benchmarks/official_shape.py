"""The runner against an evaluation loop shaped like the official WeTok script, same run.

    .venv/bin/python benchmarks/official_shape.py --images 32

The official WeTok evaluation (``evaluation_image_ddp.py``) has this shape: per batch it
reconstructs, then loops over the images calling scikit-image's PSNR and SSIM one image at a
time, computes LPIPS on the batch, and appends the Inception features of the originals and of
the reconstructions to Python lists; at the end it stacks the lists, takes ``np.cov`` and
computes the Frechet distance with ``scipy.linalg.sqrtm``. Nothing is cached, so every run
passes Inception over the originals again.

:func:`official_shape_pass` is that shape, written here from the description (not from the
WeTok code), with everything else held equal so that only the shape differs: the same images,
decoded and preprocessed by the same functions, the same batch size, the same tokenizer
(identity), the same Inception and LPIPS networks as the runner's, and the metric definitions
of protocol ``standard`` (skimage SSIM with the Gaussian window, population covariance,
data range 255; uint8 rounding). The runner is then timed on the same images in the same
process, with a cold and with a warm reference cache.
"""

from __future__ import annotations

import resource
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402
import unavoidable as U  # noqa: E402

#: Timed parts of the official-shape pass.
OFFICIAL_PARTS = ("decode", "tokenizer", "skimage_psnr_ssim", "lpips", "inception", "frechet_sqrtm")


def official_shape_pass(paths, resolution: int, batch_size: int, evaluator, tokenizer) -> tuple[dict, dict]:
    """One evaluation with the official script's shape; returns (times per part, metric values).

    The views each metric sees are the protocol's (``evaluator.protocol``): under ``standard``
    uint8 rounding, skimage's Gaussian SSIM and LPIPS-alex; under ``wetok`` the truncated uint8,
    skimage's default 7 x 7 SSIM with sample covariance, LPIPS alex and vgg on the float images
    and pytorch-fid's Inception on ``(x + 1) / 2``. LPIPS is the package's own forward on the
    whole batch; the images go to the evaluator's device, skimage gets them back on the CPU.
    """
    import numpy as np
    import scipy.linalg
    import torch
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    protocol, device = evaluator.protocol, evaluator.device
    ssim_args = ({"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}
                 if protocol.ssim_window == "gaussian" else {})
    watches = {name: C.Stopwatch() for name in OFFICIAL_PARTS}
    psnrs, ssims = [], []
    lpips_values: dict[str, list[float]] = {net: [] for net in evaluator.lpips}
    features_ref, features_rec = [], []
    for start in range(0, len(paths), batch_size):
        (original,) = U.load_batches(paths[start : start + batch_size], resolution, batch_size, watches["decode"])
        with watches["tokenizer"], torch.inference_mode():
            original = original.to(device)
            recon, _ = tokenizer.reconstruct(protocol.original_float(original))
            recon = recon.clamp(-1, 1)
        with watches["skimage_psnr_ssim"]:
            ref_px, rec_px = protocol.pixel_views(original, recon)
            for ref, rec in zip(ref_px.permute(0, 2, 3, 1).cpu().numpy(), rec_px.permute(0, 2, 3, 1).cpu().numpy()):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # identical images: PSNR divides by 0
                    psnrs.append(peak_signal_noise_ratio(ref, rec, data_range=255))
                ssims.append(structural_similarity(ref, rec, channel_axis=-1, data_range=255, **ssim_args))
        with torch.inference_mode():
            with watches["lpips"]:
                ref_lp, rec_lp = protocol.lpips_views(original, recon)
                for net, metric in evaluator.lpips.items():
                    lpips_values[net].extend(metric.model(ref_lp, rec_lp).flatten().tolist())
            with watches["inception"]:
                for view, bank in ((protocol.fid_view_original(original), features_ref), (protocol.fid_view_recon(recon), features_rec)):
                    bank.append(evaluator.inception._forward(view).flatten(1).cpu().numpy().astype(np.float64))
    with watches["frechet_sqrtm"]:
        ref, rec = np.concatenate(features_ref), np.concatenate(features_rec)
        mu1, mu2 = ref.mean(axis=0), rec.mean(axis=0)
        sigma1, sigma2 = np.cov(ref, rowvar=False), np.cov(rec, rowvar=False)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():  # the usual fallback: nudge both covariances off singularity
            offset = np.eye(sigma1.shape[0]) * 1e-6
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
        covmean = covmean.real
        diff = mu1 - mu2
        fid = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
    values = {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "rfid": fid}
    values.update({("lpips" if i == 0 else f"lpips_{net}"): float(np.mean(v)) for i, (net, v) in enumerate(lpips_values.items())})
    return {name: w.as_dict() for name, w in watches.items()}, values


def main() -> None:
    parser = C.base_parser(__doc__.splitlines()[0], images=32)
    parser.add_argument("--repeats", type=int, default=1, help="repeats of every measurement; each figure is the best (default 1)")
    parser.add_argument("--protocol", choices=("standard", "wetok"), default="standard",
                        help="metric protocol of both sides (wetok: LPIPS alex + vgg, pytorch-fid Inception, 7x7 SSIM)")
    parser.add_argument("--part", choices=("both", "official", "runner"), default="both",
                        help="run only one side (its peak RSS is then this process's)")
    parser.add_argument("--device", default="cpu", help="where the networks run (cpu, cuda)")
    args = parser.parse_args()
    C.setup_torch(args.threads)
    with C.workdir(args.workdir) as root:
        figures = run(root, args.images, args.batch_size, args.repeats, args.protocol, args.part, args.device)
    path = args.json
    if path is None and (args.protocol != "standard" or args.part != "both"):
        tag = "-".join(x for x in (args.protocol if args.protocol != "standard" else "", args.part if args.part != "both" else "") if x)
        path = C.write_figures(f"official_shape-{tag}", figures, None)
    else:
        path = C.write_figures("official_shape", figures, path)
    print(f"\nfigures written to {path}")


def _usage() -> tuple[float, float, int]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime, usage.ru_minflt


def _with_usage(function, *args):
    """``function(*args)`` and the user / system seconds and minor page faults it took."""
    before = _usage()
    result = function(*args)
    after = _usage()
    return result, {"user_s": after[0] - before[0], "sys_s": after[1] - before[1], "minor_faults": after[2] - before[2]}


def run(root: Path, n_images: int, batch_size: int, repeats: int, protocol: str = "standard", part: str = "both",
        device: str = "cpu") -> dict:
    setup = C.identity_setup(root, "official_shape", n_images, batch_size, protocol=protocol, device=device)
    env, data = setup.env, setup.data
    evaluator, tokenizer, paths = setup.evaluator, setup.tokenizer, setup.paths
    U.warm_up(evaluator, 256, batch_size)
    labels = [label for label, on in (("official", part != "runner"), ("cold", part != "official"), ("warm", part != "official")) if on]
    samples: dict[str, list] = {label: [] for label in labels}
    usage: dict[str, list] = {label: [] for label in labels}
    values = {}
    for repeat in range(repeats):
        C.isolate_home(root / f"home_{n_images}_{repeat}")
        print(f"repeat {repeat + 1}/{repeats}, {n_images} images, batch {batch_size}, protocol {protocol}", flush=True)
        if "official" in samples:
            print("  official-shape loop ...", flush=True)
            (parts, values["official_shape"]), used = _with_usage(official_shape_pass, paths, 256, batch_size, evaluator, tokenizer)
            samples["official"].append({"parts": parts, "wall_s": U.total(parts, OFFICIAL_PARTS, "wall_s"),
                                        "cpu_s": U.total(parts, OFFICIAL_PARTS, "cpu_s")})
            usage["official"].append(used)
        for label in ("cold", "warm"):
            if label in samples:
                print(f"  runner, {label} reference cache ...", flush=True)
                timing, used = _with_usage(C.time_run_suite, data)
                samples[label].append(timing)
                usage[label].append(used)
    if "cold" in samples:
        keys = ("psnr", "ssim", *(k for k in samples["cold"][0].summary["metrics"] if k.startswith("lpips")), "rfid")
        values["runner"] = {k: samples["cold"][0].summary["metrics"].get(k) for k in keys}
    official = C.best_of(samples["official"]) if "official" in samples else None
    runs = {label: C.best_of([t.as_dict() for t in samples[label]]) for label in ("cold", "warm") if label in samples}
    result = {
        "benchmark": "official_shape",
        "environment": env,
        "settings": {"images": n_images, "batch_size": batch_size, "resolution": 256, "tokenizer": "identity",
                     "metrics": data["metrics"], "protocol": protocol, "device": device, "part": part, "repeats": repeats,
                     "figures": "best of the repeats, per figure"},
        "official_shape": official,
        "runner": runs,
        "usage": {label: C.best_of(u) for label, u in usage.items()},
        "peak_rss_mib": C.peak_rss_mib(),
        "values": values,
        "raw": {"official": samples.get("official", []), **{k: [t.as_dict() for t in samples[k]] for k in runs}},
    }
    if official and runs:
        # official-shape time / runner time: > 1 means the runner is faster
        result["speedup"] = {f"{label}_{key.removesuffix('_s')}": official[key] / runs[label][key]
                             for label in runs for key in ("wall_s", "cpu_s")}
        # the same without the runner's network build (the official script builds its networks too,
        # outside what is timed here)
        result["speedup_runner_build_excluded"] = {
            f"{label}_{key.removesuffix('_s')}": official[key] / (runs[label][key] - runs[label]["stages"]["build_metrics"][key])
            for label in runs for key in ("wall_s", "cpu_s")
        }
    report(result, n_images)
    return result


def report(result: dict, n_images: int) -> None:
    official, usage = result["official_shape"], result["usage"]
    if official:
        rows = [(name, f"{t['wall_s']:8.2f} / {t['cpu_s']:8.2f}") for name, t in official["parts"].items()]
        rows.append(("total", f"{official['wall_s']:8.2f} / {official['cpu_s']:8.2f}   ({n_images / official['wall_s']:.2f} images/s)"))
        rows.append(("system time, minor page faults", f"{usage['official']['sys_s']:8.2f} s, {usage['official']['minor_faults']}"))
        C.print_table("official-shape loop (wall s / cpu s)", rows)
    rows = []
    for label, run in result["runner"].items():
        rows.append((f"{label} reference cache", f"{run['wall_s']:8.2f} / {run['cpu_s']:8.2f}   ({n_images / run['wall_s']:.2f} images/s)"))
        rows += [(f"  {stage}", f"{t['wall_s']:8.2f} / {t['cpu_s']:8.2f}") for stage, t in run["stages"].items()]
        rows.append(("  system time, minor page faults", f"{usage[label]['sys_s']:8.2f} s, {usage[label]['minor_faults']}"))
    if rows:
        C.print_table("runner (wall s / cpu s)", rows)
    C.print_table("process", [("peak RSS", f"{result['peak_rss_mib']:.0f} MiB")])
    if "speedup" not in result:
        return
    speed = result["speedup"]
    C.print_table("official-shape time / runner time (wall / cpu)", [
        ("runner, cold reference cache", f"{speed['cold_wall']:.2f}x / {speed['cold_cpu']:.2f}x"),
        ("runner, warm reference cache", f"{speed['warm_wall']:.2f}x / {speed['warm_cpu']:.2f}x"),
        *[(f"runner, {label} reference cache, its network build excluded",
           f"{result['speedup_runner_build_excluded'][label + '_wall']:.2f}x / {result['speedup_runner_build_excluded'][label + '_cpu']:.2f}x")
          for label in ("cold", "warm")],
    ])
    values = result["values"]
    C.print_table("values (same images; identity tokenizer)", [
        (metric, f"runner {values['runner'].get(metric)!s:>24s}   official shape {values['official_shape'].get(metric)!s:>24s}")
        for metric in values["runner"]
    ])


if __name__ == "__main__":
    main()
