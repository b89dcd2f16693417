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

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402
import unavoidable as U  # noqa: E402

#: Timed parts of the official-shape pass.
OFFICIAL_PARTS = ("decode", "tokenizer", "skimage_psnr_ssim", "lpips", "inception", "frechet_sqrtm")


def official_shape_pass(paths, resolution: int, batch_size: int, evaluator, tokenizer) -> tuple[dict, dict]:
    """One evaluation with the official script's shape; returns (times per part, metric values)."""
    import numpy as np
    import scipy.linalg
    import torch
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from wetok_bench.protocols import round_to_u8, u8_to_signed_float

    watches = {name: C.Stopwatch() for name in OFFICIAL_PARTS}
    lpips_net = evaluator.lpips["alex"].model
    psnrs, ssims, lpips_values = [], [], []
    features_ref, features_rec = [], []
    for start in range(0, len(paths), batch_size):
        (original,) = U.load_batches(paths[start : start + batch_size], resolution, batch_size, watches["decode"])
        with watches["tokenizer"], torch.inference_mode():
            recon, _ = tokenizer.reconstruct(u8_to_signed_float(original))
            recon = recon.clamp(-1, 1)
        recon_u8 = round_to_u8(recon)
        with watches["skimage_psnr_ssim"]:
            for ref, rec in zip(original.permute(0, 2, 3, 1).numpy(), recon_u8.permute(0, 2, 3, 1).numpy()):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # identical images: PSNR divides by 0
                    psnrs.append(peak_signal_noise_ratio(ref, rec, data_range=255))
                ssims.append(structural_similarity(ref, rec, channel_axis=-1, data_range=255, gaussian_weights=True,
                                                   sigma=1.5, use_sample_covariance=False))
        with torch.inference_mode():
            with watches["lpips"]:
                lpips_values.extend(lpips_net(u8_to_signed_float(original), u8_to_signed_float(recon_u8)).flatten().tolist())
            with watches["inception"]:
                features_ref.append(evaluator.inception._forward(original).flatten(1).numpy().astype(np.float64))
                features_rec.append(evaluator.inception._forward(recon_u8).flatten(1).numpy().astype(np.float64))
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
    values = {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "lpips": float(np.mean(lpips_values)), "rfid": fid}
    return {name: w.as_dict() for name, w in watches.items()}, values


def main() -> None:
    C.main_with_repeats("official_shape", __doc__.splitlines()[0], run, default_repeats=1)


def run(root: Path, n_images: int, batch_size: int, repeats: int) -> dict:
    setup = C.identity_setup(root, "official_shape", n_images, batch_size)
    env, data = setup.env, setup.data
    evaluator, tokenizer, paths = setup.evaluator, setup.tokenizer, setup.paths
    U.warm_up(evaluator, 256, batch_size)

    samples: dict[str, list] = {"official": [], "cold": [], "warm": []}
    values = {}
    for repeat in range(repeats):
        C.isolate_home(root / f"home_{n_images}_{repeat}")
        print(f"repeat {repeat + 1}/{repeats}, {n_images} images, batch {batch_size}: official-shape loop ...", flush=True)
        parts, values["official_shape"] = official_shape_pass(paths, 256, batch_size, evaluator, tokenizer)
        samples["official"].append({"parts": parts, "wall_s": U.total(parts, OFFICIAL_PARTS, "wall_s"),
                                    "cpu_s": U.total(parts, OFFICIAL_PARTS, "cpu_s")})
        print("  runner, cold reference cache ...", flush=True)
        samples["cold"].append(C.time_run_suite(data))
        print("  runner, warm reference cache ...", flush=True)
        samples["warm"].append(C.time_run_suite(data))
    values["runner"] = {k: samples["cold"][0].summary["metrics"].get(k) for k in ("psnr", "ssim", "lpips", "rfid")}
    official = C.best_of(samples["official"])
    runs = {label: C.best_of([t.as_dict() for t in samples[label]]) for label in ("cold", "warm")}
    result = {
        "benchmark": "official_shape",
        "environment": env,
        "settings": {"images": n_images, "batch_size": batch_size, "resolution": 256, "tokenizer": "identity",
                     "metrics": data["metrics"], "protocol": "standard", "repeats": repeats, "figures": "best of the repeats, per figure"},
        "official_shape": official,
        "runner": runs,
        "speedup": {  # official-shape time / runner time: > 1 means the runner is faster
            f"{label}_{key.removesuffix('_s')}": official[key] / runs[label][key]
            for label in ("cold", "warm") for key in ("wall_s", "cpu_s")
        },
        # the same without the runner's network build (the official script builds its networks too,
        # outside what is timed here)
        "speedup_runner_build_excluded": {
            f"{label}_{key.removesuffix('_s')}": official[key] / (runs[label][key] - runs[label]["stages"]["build_metrics"][key])
            for label in ("cold", "warm") for key in ("wall_s", "cpu_s")
        },
        "values": values,
        "raw": {"official": samples["official"], **{k: [t.as_dict() for t in samples[k]] for k in ("cold", "warm")}},
    }
    report(result, n_images)
    return result


def report(result: dict, n_images: int) -> None:
    official = result["official_shape"]
    rows = [(name, f"{t['wall_s']:8.2f} / {t['cpu_s']:8.2f}") for name, t in official["parts"].items()]
    rows.append(("total", f"{official['wall_s']:8.2f} / {official['cpu_s']:8.2f}   ({n_images / official['wall_s']:.2f} images/s)"))
    C.print_table("official-shape loop (wall s / cpu s)", rows)
    rows = []
    for label, run in result["runner"].items():
        rows.append((f"{label} reference cache", f"{run['wall_s']:8.2f} / {run['cpu_s']:8.2f}   ({n_images / run['wall_s']:.2f} images/s)"))
        rows += [(f"  {stage}", f"{t['wall_s']:8.2f} / {t['cpu_s']:8.2f}") for stage, t in run["stages"].items()]
    C.print_table("runner (wall s / cpu s)", rows)
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
        (metric, f"runner {values['runner'][metric]!s:>24s}   official shape {values['official_shape'][metric]!s:>24s}")
        for metric in ("psnr", "ssim", "lpips", "rfid")
    ])


if __name__ == "__main__":
    main()
