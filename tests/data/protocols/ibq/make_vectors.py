"""Record the official SEED-Voken evaluation (IBQ ImageNet configs) on a few real photo crops (CPU).

Usage (outside the project's test run; the official code is not part of the project):

    PYTHONPATH=/work/vectors/seed_voken/site /work/main/.venv/bin/python \
        /work/vectors/seed_voken/ibq/make_vectors.py /work/official/SEED-Voken [--commit SHA]

(recorded from TencentARC/SEED-Voken commit b9a17eac8e2c0779c12a5429b0bfd6c502788484, a `git archive`
of it in /work/official/SEED-Voken). ``site/`` holds the pinned extras: albumentations 1.4.4 (the pin of
the repository's requirements.txt at every commit, ec8fba5 .. b9a17ea), opencv-python-headless 4.10.0.84
(not pinned by the repository; albumentations 1.4.4 asks for >=4.9.0; 4.10.0.84 was the current release
when IBQ was published, 2024-12), omegaconf 2.3.0, lightning / pytorch-lightning 2.2.0 (the repository's
pin), and what these need to import (see vectors.json "versions").

What runs is the official code itself, from the checkout given on the command line, start to end:

- the whole module ``evaluation_image.py`` is imported (its own imports: the real
  ``src.Open_MAGVIT2.models.lfqgan``, ``src.IBQ.models.ibqgan``, ``src.IBQ.models.ibqgan_pretrain``,
  ``metrics.inception``, lpips, skimage) and its ``main(args)`` is called as ``python evaluation_image.py
  --config_file ... --ckpt_path ... --image_size 48 --batch_size B --model IBQ`` would call it;
- the config is the official ``configs/IBQ/gpu/imagenet_ibqgan_262144.yaml``, loaded with OmegaConf and
  saved again with one change: ``data.init_args.num_workers`` 16 -> 0 (worker processes do not change
  any value; this machine has 2 cores);
- the data come through the official path: ``main.DataModuleFromConfig`` (prepare_data, setup,
  ``_val_dataloader``: shuffle=False, default_collate) -> ``src.IBQ.data.imagenet.ImageNetValidation``
  -> ``src.IBQ.data.base.ImagePaths`` (albumentations ``SmallestMaxSize`` + ``CenterCrop``, then
  ``(image/127.5 - 1.0).astype(np.float32)``). The "ImageNet" it reads is a prepared cache folder made
  here ($XDG_CACHE_HOME/{val,train}: ``.ready``, ``filelist.txt``, a ``synset_human.txt`` of the size
  the code checks, ``imagenet_idx_to_synset.yaml``) holding the photo crops, one synset folder per pair;
- the JPEG round trips are decoded and converted with the official ``ImagePaths(original_reso=True)``.

Stand-ins replace only what needs a checkpoint: ``MODEL_TYPE["IBQ"]`` is a class whose ``encode``
records the tokenizer input and returns the recorded reconstruction of each pair in loader order
(``decode`` is the identity); ``ema_scope`` is a no-op (the config has use_ema: True). The official
``load_vqgan_new`` builds it and loads an empty ``{"state_dict": {}}`` file with strict=False.

Per-image values and the pixel arrays each metric consumed are taken by wrapping the callables the
official lines call (``psnr_loss``, ``ssim_loss``, the two ``lpips.LPIPS`` modules, ``InceptionV3``),
each records its arguments and what it returns; the aggregates are what ``main`` prints (``print`` is
captured). ``calculate_frechet_distance`` is wrapped only to record a ValueError (a few random-weight
features give a singular covariance) instead of losing the other printed values.

Weights: random but non-trivial (kaiming) files of the real architectures made by the project's test
helpers (copied to /work/vectors/_helpers) with fixed seeds, put where torchvision / the official
Inception look ($TORCH_HOME/hub/checkpoints); sha256 recorded.

For comparison the torchvision rule of ``src/Open_MAGVIT2/data/base.py`` (the same checkout) is also run
on the same inputs (``original_u8_torchvision``, ``original_float_torchvision``).

Outputs (this folder): ``inputs/*.png``, ``vectors.npz``, ``vectors.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HELPERS = Path(__file__).resolve().parents[3] / "helpers"  # tests/helpers
SIZE = 48  # the official --image_size for these vectors
CONFIG = "configs/IBQ/gpu/imagenet_ibqgan_262144.yaml"
# (image, row, col, height, width): chosen so that albumentations (round() long side, floor offset)
# and torchvision (int() long side, round() offset) differ at SIZE=48:
#  motorcycle_left 100x148 (the photo's own 500x741 aspect): long side 71.04 -> 71 in both, offset
#    11.5 -> albumentations 11, torchvision round(11.5)=12 (the 61 vs 62 of the full photo at 256);
#  astronaut 64x90: long side 67.5 -> albumentations round()=68, torchvision int()=67;
#  chelsea 90x64: the same, in height (portrait);
#  coffee 64x86: long side 64.5 -> albumentations round(64.5)=64 (Python's half-even), torchvision 64.
CROPS = [
    ("motorcycle_left", 100, 200, 100, 148),
    ("astronaut", 30, 150, 64, 90),
    ("chelsea", 40, 140, 90, 64),
    ("coffee", 150, 200, 64, 86),
]
NOISE_STD = 0.1
JPEG_QUALITY = 50
NUMPY1_SITE = HERE.parent / "site_np1"
BATCH_SIZES = [4, 3, 1]  # 4 = the script's default --batch_size; 3 leaves a short last batch (3, 3, 2)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def photo(name: str) -> np.ndarray:
    import skimage.data

    if name == "motorcycle_left":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


class Recorder:
    """Wraps a callable; keeps its arguments and what it returned. ``.to()``/``.eval()`` keep the wrapper."""

    def __init__(self, fn, catch=()):
        self.fn, self.calls, self.catch, self.errors = fn, [], catch, []

    def __call__(self, *args, **kwargs):
        try:
            out = self.fn(*args, **kwargs)
        except self.catch as error:  # only for calculate_frechet_distance
            self.errors.append(repr(error))
            out = float("nan")
        self.calls.append((args, kwargs, out))
        return out

    def to(self, *args, **kwargs):
        self.fn = self.fn.to(*args, **kwargs)
        return self

    def eval(self):
        self.fn.eval()
        return self

    def __getattr__(self, name):
        return getattr(self.fn, name)


def write_weights(torch_home: Path) -> dict[str, str]:
    sys.path.insert(0, str(HELPERS))
    from helpers_inception import write_pytorch_fid_inception_weights
    from helpers_lpips import random_backbone_file

    hub = torch_home / "hub" / "checkpoints"
    files = {
        "alex": random_backbone_file("alex", hub / "alexnet-owt-7be5be79.pth", seed=0),
        "vgg": random_backbone_file("vgg", hub / "vgg16-397923af.pth", seed=0),
        "pytorch_fid": write_pytorch_fid_inception_weights(hub / "pt_inception-2015-12-05-6726825d.pth", seed=1),
    }
    return {name: sha256(path) for name, path in files.items()}


def fake_imagenet(cache: Path, pair_files: list[Path]) -> list[str]:
    """A prepared ImageNet cache folder as src/IBQ/data/imagenet.py expects it (no download)."""
    relpaths = [f"n{j:08d}/{p.stem}.png" for j, p in enumerate(pair_files)]
    for split in ("val", "train"):
        root = cache / split
        for rel, src in zip(relpaths, pair_files):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, root / rel)
        (root / ".ready").touch()
        (root / "filelist.txt").write_text("\n".join(relpaths) + "\n")
        (root / "imagenet_idx_to_synset.yaml").write_text("0: n00000000\n")
        human = "".join(f"{rel.split('/')[0]} pair {j}\n" for j, rel in enumerate(relpaths))
        pad = 2655750 - len(human) - len("zzpad \n")  # the size ImageNetBase checks before downloading
        (root / "synset_human.txt").write_text(human + "zzpad " + "x" * pad + "\n")
        assert (root / "synset_human.txt").stat().st_size == 2655750
    return relpaths


def find_offset(big: np.ndarray, crop: np.ndarray) -> list[int]:
    hits = [
        [y, x]
        for y in range(big.shape[0] - crop.shape[0] + 1)
        for x in range(big.shape[1] - crop.shape[1] + 1)
        if np.array_equal(big[y : y + crop.shape[0], x : x + crop.shape[1]], crop)
    ]
    assert len(hits) == 1, hits
    return hits[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("official", type=Path, help="checkout of github.com/TencentARC/SEED-Voken")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--commit", default="b9a17eac8e2c0779c12a5429b0bfd6c502788484")
    parser.add_argument("--numpy1-site", default=str(NUMPY1_SITE),
                        help="a --target folder holding numpy 1.26.4: the run is repeated there ('' to skip)")
    args = parser.parse_args()
    official = args.official.resolve()
    out = args.out.resolve()

    work = Path(tempfile.mkdtemp(prefix="seed_voken_ibq_"))
    os.environ["TORCH_HOME"] = str(work / "torch_home")
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")
    weights_sha256 = write_weights(work / "torch_home")

    import torch
    from omegaconf import OmegaConf
    from PIL import Image

    torch.set_num_threads(1)
    os.chdir(official)  # the script does sys.path.append(os.getcwd()); config paths are relative
    sys.path.insert(0, str(official))
    from src.IBQ.data.base import ImagePaths
    from src.Open_MAGVIT2.data.base import ImagePaths as TorchvisionImagePaths

    # --- inputs: photo crops as PNG files ------------------------------------------------------
    inputs = out / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, row, col, height, width in CROPS:
        path = inputs / f"{name}.png"
        Image.fromarray(photo(name)[row : row + height, col : col + width]).save(path)
        paths.append(path)

    dataset = ImagePaths([str(p) for p in paths], size=SIZE)  # the official IBQ rule
    tv_dataset = TorchvisionImagePaths([str(p) for p in paths], size=SIZE)  # Open-MAGVIT2's rule
    originals = np.stack([dataset.preprocess_image(str(p)) for p in paths])
    tv_originals = np.stack([tv_dataset.preprocess_image(str(p)) for p in paths])
    originals_u8, tv_u8, resize_rows = [], [], []
    for path, (name, *_), in zip(paths, CROPS):
        u8 = np.array(Image.open(path).convert("RGB")).astype(np.uint8)
        rescaled = dataset.rescaler(image=u8)["image"]
        cropped = dataset.cropper(image=rescaled)["image"]
        assert np.array_equal(cropped, dataset.preprocessor(image=u8)["image"])
        tv_resized = tv_dataset.rescaler(Image.open(path).convert("RGB"))
        tv_cropped = np.array(tv_dataset.cropper(tv_resized))
        originals_u8.append(cropped)
        tv_u8.append(tv_cropped)
        resize_rows.append({
            "name": name, "input_hw": list(u8.shape[:2]),
            "albumentations_resized_hw": list(rescaled.shape[:2]),
            "albumentations_crop_offset_yx": find_offset(rescaled, cropped),
            "torchvision_resized_hw": [tv_resized.height, tv_resized.width],
            "torchvision_crop_offset_yx": find_offset(np.array(tv_resized), tv_cropped),
            "max_abs_u8_difference_vs_torchvision": int(np.abs(cropped.astype(int) - tv_cropped.astype(int)).max()),
        })
    originals_u8, tv_u8 = np.stack(originals_u8), np.stack(tv_u8)
    assert np.array_equal(originals, (originals_u8 / 127.5 - 1.0).astype(np.float32))

    # --- reconstructions: JPEG round trip of the official uint8 crop, and float noise ----------
    recon_dataset = ImagePaths([], original_reso=True)
    recons, pair_original, pair_kind = [], [], []
    rng = np.random.default_rng(0)
    for index in range(len(paths)):
        buffer = io.BytesIO()
        Image.fromarray(originals_u8[index]).save(buffer, format="JPEG", quality=JPEG_QUALITY)
        decoded = work / f"jpeg_{index}.png"
        Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").save(decoded)
        recons.append(recon_dataset.preprocess_image(str(decoded)))
        pair_original.append(index)
        pair_kind.append(f"jpeg-q{JPEG_QUALITY}")
    for index in range(len(paths)):
        noise = rng.normal(0.0, NOISE_STD, size=originals[index].shape).astype(np.float32)
        recons.append(originals[index] + noise)
        pair_original.append(index)
        pair_kind.append("noisy")
    recons = np.stack(recons).astype(np.float32)
    pair_original = np.asarray(pair_original)
    num_pairs = len(pair_original)

    pair_files = []
    for j, i in enumerate(pair_original):
        pair_files.append(work / "pairs" / f"pair{j}_{CROPS[i][0]}.png")
        pair_files[-1].parent.mkdir(exist_ok=True)
        shutil.copyfile(paths[i], pair_files[-1])
    relpaths = fake_imagenet(work / "cache", pair_files)

    # --- the official config, num_workers 16 -> 0 ----------------------------------------------
    config = OmegaConf.load(official / CONFIG)
    assert config.data.init_args.num_workers == 16
    config.data.init_args.num_workers = 0
    config_file = work / "config.yaml"
    OmegaConf.save(config, config_file)
    ckpt = work / "standin.ckpt"
    torch.save({"state_dict": {}}, ckpt)

    # --- the official module --------------------------------------------------------------------
    spec = importlib.util.spec_from_file_location("evaluation_image", official / "evaluation_image.py")
    evaluation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evaluation)
    model_type_classes = {k: f"{v.__module__}.{v.__qualname__}" for k, v in evaluation.MODEL_TYPE.items()}

    state = {"cursor": 0, "seen": []}

    class StandInIBQ(torch.nn.Module):
        """Stands in for src.IBQ.models.ibqgan.IBQ: the recorded reconstruction of each pair, in order."""

        def __init__(self, use_ema=False, **init_args):
            super().__init__()
            self.use_ema = use_ema

        @contextlib.contextmanager
        def ema_scope(self, context=None):
            yield

        def encode(self, images):
            batch = images.shape[0]
            ids = list(range(state["cursor"], state["cursor"] + batch))
            state["cursor"] += batch
            state["seen"].append(images.detach().clone())
            quant = torch.from_numpy(recons[ids]).permute(0, 3, 1, 2).contiguous()
            return quant, torch.zeros(()), (None, None, torch.zeros(batch, dtype=torch.long))

        def decode(self, quant):
            return quant

    evaluation.MODEL_TYPE["IBQ"] = StandInIBQ
    real_lpips, real_inception = evaluation.lpips, evaluation.InceptionV3

    def run_official(batch_size: int) -> dict:
        state.update(cursor=0, seen=[])
        printed = []
        rec = {
            "psnr_loss": Recorder(real_psnr), "ssim_loss": Recorder(real_ssim),
            "calculate_frechet_distance": Recorder(real_frechet, catch=(ValueError,)),
        }
        lpips_made = []

        def make_lpips(**kwargs):
            lpips_made.append(Recorder(real_lpips.LPIPS(**kwargs)))
            return lpips_made[-1]

        inception_made = []

        class RecordingInception:
            BLOCK_INDEX_BY_DIM = real_inception.BLOCK_INDEX_BY_DIM

            def __new__(cls, *a, **k):
                inception_made.append(Recorder(real_inception(*a, **k)))
                return inception_made[-1]

        for name, fn in rec.items():
            setattr(evaluation, name, fn)
        evaluation.lpips = types.SimpleNamespace(LPIPS=make_lpips)
        evaluation.InceptionV3 = RecordingInception
        evaluation.print = lambda *a, **k: printed.append(a)
        cli = argparse.Namespace(config_file=str(config_file), ckpt_path=str(ckpt), image_size=SIZE,
                                 batch_size=batch_size, model="IBQ")
        evaluation.main(cli)
        del evaluation.print
        assert state["cursor"] == num_pairs
        values = {a[0].strip().rstrip(":"): a[1] for a in printed if len(a) == 2 and isinstance(a[0], str)}
        return {"rec": rec, "lpips": lpips_made, "inception": inception_made, "printed": values}

    real_psnr, real_ssim = evaluation.psnr_loss, evaluation.ssim_loss
    real_frechet = evaluation.calculate_frechet_distance

    layouts, per_layout = [], {}
    for batch_size in BATCH_SIZES:
        result = run_official(batch_size)
        per_layout[batch_size] = result
        p = result["printed"]
        batches = [len(range(s, min(s + batch_size, num_pairs))) for s in range(0, num_pairs, batch_size)]
        layouts.append({
            "numpy": np.__version__, "batch_size": batch_size, "batches": batches, "processes": 1,
            "PSNR": float(p["PSNR"]), "SSIM": float(p["SSIM"]),
            "LPIPS_ALEX": float(p["LPIPS_ALEX"]), "LPIPS_VGG": float(p["LPIPS_VGG"]),
            "FID": float(p["FID"]), "fid_error": result["rec"]["calculate_frechet_distance"].errors,
            "utilization": float(p["utilization"]),
        })
        print(json.dumps(layouts[-1]))

    # --- per-image values and the views, from the default-batch run ------------------------------
    run = per_layout[4]
    psnr_calls, ssim_calls = run["rec"]["psnr_loss"].calls, run["rec"]["ssim_loss"].calls
    assert len(psnr_calls) == len(ssim_calls) == num_pairs
    gt_f32 = np.stack([c[0][0] for c in psnr_calls])  # psnr_loss(rgb_gt_s, rgb_restored_s)
    rec_f32 = np.stack([c[0][1] for c in psnr_calls])
    assert all(np.array_equal(c[0][0], r) and np.array_equal(c[0][1], g) for c, g, r in zip(ssim_calls, gt_f32, rec_f32))
    assert all(c[1] == {"data_range": 1.0, "channel_axis": -1} for c in ssim_calls) and all(c[1] == {} for c in psnr_calls)
    assert gt_f32.dtype == rec_f32.dtype == np.float32
    gt_u8, rec_u8 = (np.rint(v * 255).astype(np.uint8) for v in (gt_f32, rec_f32))
    assert np.array_equal(gt_u8.astype(np.float32) / 255.0, gt_f32) and np.array_equal(rec_u8.astype(np.float32) / 255.0, rec_f32)
    alex, vgg = run["lpips"]
    assert alex.fn.pnet_type == "alex" and vgg.fn.pnet_type == "vgg"
    lpips_ref = np.concatenate([c[0][0].permute(0, 2, 3, 1).numpy() for c in alex.calls])
    lpips_rec = np.concatenate([c[0][1].permute(0, 2, 3, 1).numpy() for c in alex.calls])
    inception_calls = run["inception"][0].calls
    fid_in_ref = np.concatenate([c[0][0].permute(0, 2, 3, 1).numpy() for c in inception_calls[0::2]])
    fid_in_rec = np.concatenate([c[0][0].permute(0, 2, 3, 1).numpy() for c in inception_calls[1::2]])
    inception_ref = np.concatenate([c[2][0].flatten(1).numpy() for c in inception_calls[0::2]])
    inception_rec = np.concatenate([c[2][0].flatten(1).numpy() for c in inception_calls[1::2]])
    # the last run's tokenizer inputs (every layout feeds the same): the official float of each pair
    seen = np.concatenate([s.permute(0, 2, 3, 1).numpy() for s in state["seen"]])
    assert np.array_equal(seen, originals[pair_original])
    assert np.array_equal(lpips_ref, originals[pair_original])
    assert np.array_equal(lpips_rec, np.clip(recons, -1, 1))
    per_image = {
        "psnr": np.asarray([c[2] for c in psnr_calls], dtype=np.float64),
        "ssim": np.asarray([c[2] for c in ssim_calls], dtype=np.float64),
        "lpips_alex": np.concatenate([c[2].detach().flatten().double().numpy() for c in alex.calls]),
        "lpips_vgg": np.concatenate([c[2].detach().flatten().double().numpy() for c in vgg.calls]),
    }
    for batch_size in BATCH_SIZES[1:]:  # per-image values do not depend on the layout
        other = per_layout[batch_size]
        assert np.array_equal([c[2] for c in other["rec"]["psnr_loss"].calls], per_image["psnr"])
        assert np.array_equal([c[2] for c in other["rec"]["ssim_loss"].calls], per_image["ssim"])

    np.savez_compressed(
        out / "vectors.npz",
        original_u8=originals_u8,  # albumentations SmallestMaxSize + CenterCrop output, N x S x S x 3
        original_float=originals,  # official tokenizer input per original (float32 HWC)
        original_u8_torchvision=tv_u8,  # src/Open_MAGVIT2/data/base.py rule on the same inputs
        original_float_torchvision=tv_originals,
        recon_float=recons,  # per pair, float32, not clamped
        pair_original=pair_original,
        tokenizer_input=seen,  # what the stand-in model's encode received (HWC)
        lpips_input_ref=lpips_ref,  # floats in [-1, 1] given to both LPIPS nets
        lpips_input_rec=lpips_rec,  # the clamped reconstruction
        fid_input_ref=fid_in_ref,  # (x + 1) / 2, given to the Inception
        fid_input_rec=fid_in_rec,
        gt_f32=gt_f32,  # uint8 truncation / 255. in float32: what skimage PSNR/SSIM consumed
        rec_f32=rec_f32,
        gt_u8=gt_u8,  # the truncated uint8 behind those floats
        rec_u8=rec_u8,
        inception_ref=inception_ref.astype(np.float32),
        inception_rec=inception_rec.astype(np.float32),
        **per_image,
    )
    # --- the same run under numpy 1.x (the authors' torch 2.1.1 needs numpy < 2): scalar promotion
    # differs (NEP 50), which changes the dtype of the script's SSIM accumulators -------------------
    numpy1 = None
    if args.numpy1_site and int(np.__version__.split(".")[0]) >= 2:
        child_out = work / "numpy1"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([args.numpy1_site, os.environ.get("PYTHONPATH", "")]))
        subprocess.run([sys.executable, str(Path(__file__).resolve()), str(official), "--out", str(child_out),
                        "--commit", args.commit, "--numpy1-site", ""], env=env, check=True)
        child_meta = json.loads((child_out / "vectors.json").read_text())
        child_vec = np.load(child_out / "vectors.npz")
        mine = np.load(out / "vectors.npz")
        numpy1 = {
            "numpy": child_meta["versions"]["numpy"],
            "layouts": child_meta["layouts"],
            "arrays_equal_to_numpy2_run": sorted(k for k in mine.files if np.array_equal(mine[k], child_vec[k])),
            "arrays_different": sorted(k for k in mine.files if not np.array_equal(mine[k], child_vec[k])),
        }
        layouts = layouts + child_meta["layouts"]
    versions = {m: metadata.version(m) for m in (
        "torch", "torchvision", "numpy", "scipy", "scikit-image", "lpips", "Pillow", "albumentations",
        "opencv-python-headless", "omegaconf", "lightning", "pytorch-lightning", "lightning-utilities",
        "torchmetrics", "einops", "scikit-learn", "pydantic", "setuptools")}
    import cv2

    versions["cv2.__version__"] = cv2.__version__
    meta = {
        "source": "github.com/TencentARC/SEED-Voken: evaluation_image.py (main, whole), main.py "
                  "(DataModuleFromConfig), src/IBQ/data/imagenet.py (ImageNetValidation), src/IBQ/data/base.py "
                  f"(ImagePaths), metrics/inception.py; config {CONFIG} (num_workers 16 -> 0)",
        "official_commit": args.commit,
        "size": SIZE,
        "crops": [dict(zip(("name", "row", "col", "height", "width"), c)) for c in CROPS],
        "resize": resize_rows,
        "pair_kind": pair_kind,
        "pair_relpath": relpaths,
        "jpeg_quality": JPEG_QUALITY,
        "noise_std": NOISE_STD,
        "weights_sha256": weights_sha256,
        "weights_seeds": {"alex": 0, "vgg": 0, "pytorch_fid": 1},
        "model_type_classes_at_import": model_type_classes,
        "layouts": layouts,
        "numpy1_rerun": numpy1,
        "aggregation": "one process; PSNR/SSIM: sum over batches of (sum of per-image values / B) / number of "
                       "batches; LPIPS: sum of per-image values / number of images",
        "versions": versions,
    }
    (out / "vectors.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps(resize_rows, indent=1))


if __name__ == "__main__":
    main()
