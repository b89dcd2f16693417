"""Synthetic but realistic job results: the real records (``results.JobSummary``, ``Manifest``)
written with the real ``results.write_job``.

Two datasets (a COCO sample of 40 images, an ImageNet sample of 30), and per dataset: a JPEG
quality sweep (codec, bits vary per image), SD-VAE ft-MSE (continuous, 4x32x32 latent),
Cosmos DI16x16 (discrete, 256 tokens of log2(64000) bits; on ImageNet its LPIPS is skipped),
and identity (lossless: PSNR inf). rFID over so few images is marked unreliable, as the runner
does. Values are drawn from a seeded generator; the tests recompute every figure from the
written files, never from these parameters.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from wetok_bench.core.names import job_id
from wetok_bench.metrics.evaluator import CLAMP_THRESHOLD
from wetok_bench.protocols import get_protocol
from wetok_bench.results.records import JobSummary, Manifest, write_job

RES = 256
PIXEL_BITS = RES * RES * 24
DATASETS = {"coco-sample": ("coco", 40), "imagenet-sample": ("imagenet", 30)}

# name: (type, kind, display, psnr mean, ssim mean, lpips mean, rfid, compression)
TOKENIZERS = {
    "jpeg-q10": ("jpeg", "codec", "JPEG q10", 24.0, 0.70, 0.30, 60.0, {"bits_mean": 60_000}),
    "jpeg-q30": ("jpeg", "codec", "JPEG q30", 27.0, 0.80, 0.18, 25.0, {"bits_mean": 110_000}),
    "jpeg-q50": ("jpeg", "codec", "JPEG q50", 28.5, 0.85, 0.12, 14.0, {"bits_mean": 150_000}),
    "jpeg-q90": ("jpeg", "codec", "JPEG q90", 34.0, 0.95, 0.04, 3.0, {"bits_mean": 380_000}),
    "sd-vae-ft-mse": (
        "diffusers-vae", "continuous", "SD-VAE ft-MSE", 24.5, 0.71, 0.09, 4.7,
        {"bits": 4 * 32 * 32 * 16, "tokens": 1024, "bits_per_token": 64, "latent_shape": [4, 32, 32], "codebook": "4 ch x 16 bit"},
    ),
    "cosmos-di16x16": (
        "cosmos", "discrete", "Cosmos DI16x16", 19.5, 0.49, 0.21, 4.6,
        {"bits": 256 * math.log2(64000), "tokens": 256, "bits_per_token": math.log2(64000), "latent_shape": [16, 16], "codebook": "64000"},
    ),
    "identity": (
        "identity", "identity", "Identity", math.inf, 1.0, 0.0, 0.0,
        {"bits": PIXEL_BITS, "tokens": None, "bits_per_token": None, "latent_shape": [], "codebook": ""},
    ),
}

# The demo's mix (suites/demo.yaml): JPEG and WebP sweeps of registry type "codec" (the format only
# in the manifest's tokenizer spec, as the runner records it), TAEF2 and identity.
DEMO_TOKENIZERS = {
    **{f"jpeg-q{q}": ("codec", "codec", f"jpeg-q{q}", p, s, l, f, {"bits_mean": b})
       for q, p, s, l, f, b in ((10, 26.9, 0.77, 0.30, 60.0, 27_000), (50, 32.6, 0.91, 0.12, 14.0, 63_000),
                                (90, 37.3, 0.96, 0.04, 3.0, 150_000))},
    **{f"webp-q{q}": ("codec", "codec", f"webp-q{q}", p, s, l, f, {"bits_mean": b})
       for q, p, s, l, f, b in ((10, 29.6, 0.85, 0.25, 40.0, 21_000), (50, 33.2, 0.92, 0.10, 10.0, 45_000),
                                (90, 38.3, 0.97, 0.03, 2.0, 118_000))},
    "taef2": ("taesd", "continuous", "taef2", 31.7, 0.93, 0.08, 5.0,
              {"bits": 32 * 32 * 32 * 16, "tokens": 1024, "bits_per_token": 512, "latent_shape": [32, 32, 32], "codebook": "32 ch x 16 bit"}),
    "identity": TOKENIZERS["identity"],
}

METRIC_INFO = {
    "psnr": {"higher_is_better": True, "unit": "dB", "description": "per-image PSNR, data range 255"},
    "ssim": {"higher_is_better": True, "unit": "", "description": "per-image SSIM"},
    "lpips": {"higher_is_better": False, "unit": "", "description": "LPIPS alex"},
    "rfid": {"higher_is_better": False, "unit": "", "description": "FID between reconstructions and originals"},
}


def _per_image(rng, name, n, spec, degrade):
    _, kind, _, psnr, ssim, lpips, _, comp = spec
    rows = []
    for i in range(n):
        if math.isinf(psnr):
            p, s, l = math.inf, 1.0, 0.0
        else:
            p = float(psnr + rng.normal(0, 2.0)) - degrade.get("psnr", 0.0)
            s = float(np.clip(ssim + rng.normal(0, 0.05), 0.01, 0.999)) - degrade.get("ssim", 0.0)
            l = float(np.clip(lpips + rng.normal(0, 0.03), 0.001, 0.99)) + degrade.get("lpips", 0.0)
        bits = float(rng.normal(comp["bits_mean"], comp["bits_mean"] * 0.2)) if kind == "codec" else float(comp["bits"])
        rows.append({"key": f"img_{i:04d}.jpg", "psnr": p, "ssim": s, "lpips": l, "bits": round(bits)})
    return rows


def write_synthetic_suite(root: Path, *, suite: str = "synthetic", seed: int = 0, degrade: dict | None = None,
                          datasets: dict | None = None, tokenizers: dict | None = None, protocol: str = "standard") -> Path:
    """Write every (tokenizer, dataset) job under ``root/suite``; ``degrade`` maps a tokenizer
    name to metric worsenings ({"psnr": dB lower, "lpips": higher, "rfid": higher})."""
    rng = np.random.default_rng(seed)
    degrade = degrade or {}
    proto = get_protocol(protocol)
    out = Path(root) / suite
    for dataset, (dtype, n) in (datasets or DATASETS).items():
        for name, spec in (tokenizers or TOKENIZERS).items():
            ttype, kind, display, *_rest = spec
            worse = degrade.get(name, {})
            rows = _per_image(rng, name, n, spec, worse)
            skipped = {}
            columns = ["key", "psnr", "ssim", "lpips", "bits"]
            if name == "cosmos-di16x16" and dtype == "imagenet":
                skipped = {"lpips": "weights missing: alexnet-owt-7be5be79.pth (on_missing_weights: skip)"}
                columns = ["key", "psnr", "ssim", "bits"]
                for r in rows:
                    r.pop("lpips")
            comp = spec[7]
            bits = np.array([r["bits"] for r in rows], dtype=float)
            metrics = {m: float(np.mean([r[m] for r in rows])) for m in ("psnr", "ssim", "lpips") if m in columns}
            rfid = spec[6] + worse.get("rfid", 0.0)
            summary = JobSummary(
                suite=suite,
                job=job_id(name, dataset, RES),
                status="ok",
                tokenizer={"name": name, "type": ttype, "kind": kind, "display_name": display},
                dataset={"name": dataset, "type": dtype},
                resolution=RES,
                protocol={"name": proto.name, "version": proto.version, "fingerprint": proto.fingerprint},
                metrics={**metrics, "rfid": rfid},
                metric_info={k: v for k, v in METRIC_INFO.items() if k not in skipped},
                skipped_metrics=skipped,
                rfid={"rfid": rfid, "n": n, "n_ref": n, "feature_dim": 2048, "unreliable": True,
                      "reason": f"N = {n} images < feature dimension 2048"},
                compression={
                    "bits_per_image": float(bits.mean()),
                    "ratio": float(np.mean(PIXEL_BITS / bits)),
                    "tokens": comp.get("tokens"),
                    "bits_per_token": comp.get("bits_per_token"),
                    "latent_shape": comp.get("latent_shape", []),
                    "codebook": comp.get("codebook", ""),
                    "per_image": kind == "codec",
                },
                counts={"images": n, "skipped": 0, "selected": n, "reference_images": n},
                skipped_files=[],
                clamped={"values": 0, "total": n * 3 * RES * RES, "fraction": 0.0, "threshold": CLAMP_THRESHOLD},
                cost=_cost(kind, n),
            )
            manifest = Manifest(
                job=summary.job,
                suite={"name": suite, "source": "synthetic", "hash": "0" * 64, "config": {}, "includes": []},
                protocol={**proto.to_dict(), "fingerprint": proto.fingerprint},
                seed=seed,
                num_images_limit=None,
                device="cpu",
                world_size=1,
                versions={"torch": "2.14.1", "wetok_bench": "0.1.0"},
                images=n,
            )
            write_job(out / job_id(name, dataset, RES), summary, rows, columns, manifest)
    return out


def _cost(kind: str, n: int) -> dict:
    """A cost block as the runner writes it (1 ms encode, 2 ms decode per image; no parameters
    for codecs and identity, 50 M otherwise; CPU, so no peak memory)."""
    import torch

    from wetok_bench.engine.cost import cost_summary, merge_cost
    from wetok_bench.engine.records import JobTiming

    state = {**merge_cost([]), "encode_s": 0.001 * n, "decode_s": 0.002 * n, "timed_images": n, "timed_batches": n}
    return cost_summary(state, parameters=0 if kind in ("codec", "identity") else 50_000_000,
                        timing=JobTiming(wall=0.01 * n, compute=0.01 * n, images=n, measured=n), device=torch.device("cpu"))


def skip_metrics(suite_dir: Path, metrics: tuple[str, ...] = ("lpips", "rfid")) -> None:
    """Rewrite every job under ``suite_dir`` as if ``metrics`` had been skipped (weights missing),
    as the offline demo records it: gone from ``per_image.csv``, ``metrics`` and ``rfid``."""
    import json

    import pandas as pd

    for summary_path in Path(suite_dir).glob("*/summary.json"):
        summary = json.loads(summary_path.read_text())
        for metric in metrics:
            summary["metrics"].pop(metric, None)
            summary["metric_info"].pop(metric, None)
            summary["skipped_metrics"][metric] = f"weights missing: {metric} weights (on_missing_weights: skip)"
        if "rfid" in metrics:
            summary.pop("rfid", None)
        summary_path.write_text(json.dumps(summary))
        per_image = summary_path.parent / "per_image.csv"
        frame = pd.read_csv(per_image)
        frame.drop(columns=[m for m in metrics if m in frame.columns]).to_csv(per_image, index=False)


def _photo_crops(size: int = 64) -> np.ndarray:
    """Three real photos (skimage), centre-cropped and reduced to size x size: N x 3 x H x W uint8."""
    import skimage.data
    from PIL import Image

    crops = []
    for photo in (skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()):
        side = min(photo.shape[:2])
        top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
        image = Image.fromarray(photo[top : top + side, left : left + side]).resize((size, size), Image.BILINEAR)
        crops.append(np.asarray(image).transpose(2, 0, 1))
    return np.stack(crops)


def _degrade(images: np.ndarray, name: str) -> np.ndarray:
    """A stand-in reconstruction: JPEG at the job's quality, a blur for the VAE, posterised for Cosmos."""
    import io

    from PIL import Image, ImageFilter

    out = []
    for chw in images:
        image = Image.fromarray(chw.transpose(1, 2, 0))
        if name.startswith("jpeg-q"):
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=int(name[6:]))
            image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
        elif name == "sd-vae-ft-mse":
            image = image.filter(ImageFilter.GaussianBlur(1.0))
        elif name == "cosmos-di16x16":
            image = Image.fromarray((np.asarray(image) // 32 * 32).astype(np.uint8))
        out.append(np.asarray(image).transpose(2, 0, 1))
    return np.stack(out)


def add_grids(suite_dir: Path, names=("jpeg-q10", "sd-vae-ft-mse", "identity"), dataset: str = "coco-sample") -> list[Path]:
    """Save grid images (3 real photos, two fixed and one worst) for some jobs with ``save_grid``."""
    from wetok_bench.results.grid_files import save_grid

    originals = _photo_crops()
    written = []
    for name in names:
        recon = _degrade(originals, name)
        written.append(save_grid(
            Path(suite_dir) / job_id(name, dataset, RES), originals, recon, ["astronaut", "chelsea", "coffee"],
            fixed=[True, True, False], worst=[False, False, True], values=[{"lpips": 0.1}, {"lpips": 0.2}, {"lpips": 0.5}],
            rank_metric="lpips",
        ))
    return written
