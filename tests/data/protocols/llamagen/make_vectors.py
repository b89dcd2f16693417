"""Record the official LlamaGen tokenizer evaluation's own outputs on a few photo crops (CPU).

Usage (outside the project's test run; the official code is not part of the project):

    /work/main/.venv/bin/python make_vectors.py /work/official/LlamaGen /work/official/guided-diffusion \
        --llamagen-commit ce98ec41803a74a90ce68c40ababa9eaeffeb4ec \
        --adm-commit 22e0df8183507e13a7813f8d38d51b072ca1e67c

(recorded from FoundationVision/LlamaGen ce98ec41803a74a90ce68c40ababa9eaeffeb4ec, whose
``tokenizer/validation/val_ddp.py`` is byte-identical to the one at 5a50452, and from
openai/guided-diffusion 22e0df8183507e13a7813f8d38d51b072ca1e67c; archives of both under /work/official)

What runs is the official code itself, from the checkouts given on the command line:

- ``tokenizer/tokenizer_image/reconstruction_vq_ddp.py`` is loaded as a module (its imports, among
  them ``dataset.augmentation.center_crop_arr``, ``dataset.build.build_dataset`` and skimage's
  ``peak_signal_noise_ratio`` / ``structural_similarity``, and its ``create_npz_from_sample_folder``);
  then the statements of its ``main()`` from ``transform = transforms.Compose([...])`` to the end are
  read from the file with ``ast`` and executed: the transform (center_crop_arr + ToTensor +
  Normalize(.5, .5, inplace)), ``build_dataset(args, transform=transform)`` (a torchvision
  ``ImageFolder``), the ``DistributedSampler``/``DataLoader`` statements, the whole evaluation loop
  (the bicubic ``F.interpolate`` of GT and reconstruction when ``image_size_eval != image_size``,
  ``(x+1)/2`` for the GT, ``clamp(127.5*x+128, 0, 255)`` -> uint8, the PNG writes, ``/255.``, the
  skimage PSNR/SSIM calls with their arguments), the ``all_gather_object`` summary, the mean over
  all gathered values, the results file and ``create_npz_from_sample_folder``.
- ``tokenizer/validation/val_ddp.py`` (the reference npz maker) is loaded as a module and the
  statements of its ``main()`` from ``transform = ...`` on are executed the same way: its own copy
  of ``center_crop_arr``, ToTensor + Normalize, ``clamp(127.5*x+128)`` -> uint8 PNGs, and its
  ``create_npz_from_sample_folder`` (with its unseeded ``random.shuffle``; seeded here with
  ``random.seed(0)`` and the resulting order recorded).
- guided-diffusion ``evaluations/evaluator.py`` (the ADM evaluator, also copied as LlamaGen's
  ``evaluations/c2i/evaluator.py``) is loaded as a module with ``tensorflow`` replaced by an empty
  stand-in module. Its ``Evaluator.read_activations`` (npz streaming reader, batches, the
  ``astype(np.float32)``), ``read_statistics``/``compute_statistics`` (``np.mean`` on float32,
  ``np.cov``) and ``FIDStatistics.frechet_distance`` (``scipy.linalg.sqrtm``) run as they are.

Stand-ins (only for what needs a GPU, a process group, a checkpoint or a download):
``vq_model`` (``encode`` returns the pair ids of the batch, ``decode_code`` the recorded
reconstruction float, unclamped), ``device`` (the CPU), ``dist`` (world size, a no-op barrier and an
``all_gather_object`` that hands rank 0 the lists of every simulated rank), ``args`` (a namespace;
sizes are scaled down: ``image_size`` 48 stands for 256, 72 for 384, 96 for 512, ``image_size_eval`` 48
for 256), ``num_fid_samples`` (the number of pairs instead of 50000), and the ADM TF Inception graph
(``tf.Session.run`` replaced by torch-fidelity's ``inception-v3-compat`` network with random kaiming
weights, fed the evaluator's float32 NHWC batches cast back to uint8; no bit-level equivalence with
the TF graph is claimed, the spatial (sFID) output is a zero column and is not recorded).

Also recorded: the 256-value table of the val_ddp round trip u8 -> ToTensor+Normalize ->
clamp(127.5x+128) -> uint8, the ADM statistics and Frechet distance on fixed random features
(64 x 16, float32), and the geometry of every center_crop_arr call (PIL resize calls logged).

Outputs (in this folder): ``inputs/*.png`` (photo crops), ``vectors.npz``, ``vectors.json``.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import io
import json
import os
import random
import shutil
import sys
import tempfile
import types
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HELPERS = Path(__file__).resolve().parents[3] / "helpers"  # tests/helpers
SIZE = 48  # image_size_eval (stands for 256) and the reference size
# (image_size, image_size_eval): 48->48 is the 256 row; 72->48 and 96->48 are the 384 / 512 rows
BRANCHES = {"main": (48, 48), "from72": (72, 48), "from96": (96, 48)}
# (name in skimage.data, row, column, height, width); PIL size is (width, height).
CROPS = [
    ("astronaut", 10, 150, 230, 200),  # two BOX halvings (200x230 -> 100x115 -> 50x57), 57*0.96=54.72 -> 55, crop_y 3
    ("chelsea", 40, 100, 64, 86),  # 86*0.75 = 64.5 -> round() = 64 (half-even; half-up would give 65), crop_x 8
    ("coffee", 100, 250, 90, 64),  # 90*0.75 = 67.5 -> 68 (int() would give 67), crop_y 10
    ("rocket", 200, 150, 48, 71),  # min side = 48: BICUBIC to the same size, crop_x = 23 // 2 = 11 (round would be 12)
    ("coffee", 20, 40, 40, 61),  # upscaling: 61*1.2 = 73.2 -> 73, crop_x = 25 // 2 = 12
    ("astronaut", 300, 300, 48, 48),  # already 48x48
    ("rocket", 50, 300, 96, 130),  # min side exactly 2*48: one BOX halving to 65x48, crop_x 8
]
NOISE_STD = 0.1
JPEG_QUALITY = 50
KINDS = ("jpeg-q50", "noisy", "grid")
LAYOUTS = [(1, 64), (8, 2), (4, 3)]  # (world size, per-proc batch size)
RANDOM_FEATURES = (64, 16)


SIGMA_BLOCK = 32  # covariance matrices larger than this are stored as diagonal + top-left block + hashes


def reduce_sigmas(arrays: dict) -> dict:
    """Replace each large ``*_sigma`` matrix by its diagonal and [:32, :32] block; return its summary."""
    summaries = {}
    for name in [k for k in arrays if k.endswith("sigma") and arrays[k].ndim == 2 and arrays[k].shape[0] > SIGMA_BLOCK]:
        sigma = np.ascontiguousarray(arrays.pop(name))
        arrays[f"{name}_diag"] = np.diagonal(sigma).copy()
        arrays[f"{name}_block"] = sigma[:SIGMA_BLOCK, :SIGMA_BLOCK].copy()
        summaries[name] = {
            "shape": list(sigma.shape), "dtype": str(sigma.dtype), "trace": float(np.trace(sigma)),
            "frobenius": float(np.linalg.norm(sigma)), "sha256_of_bytes": hashlib.sha256(sigma.tobytes()).hexdigest(),
            "stored": f"{name}_diag, {name}_block (= sigma[:{SIGMA_BLOCK}, :{SIGMA_BLOCK}])",
        }
    return summaries


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_module(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main_statements(script: Path) -> tuple[str, list[ast.stmt], ast.For, list[ast.stmt]]:
    """main()'s statements from `transform = ...` up to its loop, the loop, and what follows it."""
    tree = ast.parse(script.read_text())
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    body = main.body
    start = next(i for i, n in enumerate(body) if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "transform")
    loop_at = next(i for i, n in enumerate(body) if isinstance(n, ast.For))
    return str(script), body[start:loop_at], body[loop_at], body[loop_at + 1 :]


def run(nodes, namespace: dict, filename: str) -> None:
    nodes = nodes if isinstance(nodes, list) else [nodes]
    exec(compile(ast.Module(body=list(nodes), type_ignores=[]), filename, "exec"), namespace)  # noqa: S102


class Recorder:
    """Wraps a callable; keeps the arguments (copied) and what each call returned."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, *args, **kwargs):
        out = self.fn(*args, **kwargs)
        self.calls.append(([np.array(a, copy=True) for a in args], dict(kwargs), out))
        return out


class FakeDist:
    """torch.distributed for simulated ranks: rank 0 receives the lists collected from every rank."""

    def __init__(self, world_size: int, gathered: list | None = None):
        self.world_size, self.gathered, self.calls = world_size, gathered, 0

    def get_world_size(self):
        return self.world_size

    def barrier(self):
        pass

    def destroy_process_group(self):
        pass

    def all_gather_object(self, out, obj):
        out[:] = [ranks[self.calls] for ranks in self.gathered]
        self.calls += 1


class StandInVQ:
    """Stand-in for the VQ model: returns the recorded reconstruction of each item of the batch."""

    def __init__(self, recon_nchw, order):
        self.recon, self.order = recon_nchw, list(order)

    def encode(self, x):
        ids = [self.order.pop(0) for _ in range(x.shape[0])]
        self.last = ids
        import torch

        return torch.zeros(len(ids), 1, 1, 1), None, [None, None, torch.tensor(ids)]

    def decode_code(self, indices, shape):
        return self.recon[indices].clone()


def grid_pixels(shape, rng) -> np.ndarray:
    """Pixel levels t = -10, -9.75, ..., 265 (integers, quarters and exact halves), tiled and shuffled."""
    levels = np.arange(-40, 1061) / 4.0
    flat = np.resize(levels, int(np.prod(shape)))
    return rng.permutation(flat).reshape(shape)


def log_center_crop(fn, pil_image, size):
    """Call center_crop_arr with PIL's resize logged; find the crop offset by matching."""
    from PIL import Image

    calls, original = [], Image.Image.resize

    def logged(self, new_size, resample=None, *a, **k):
        out = original(self, new_size, resample, *a, **k)
        calls.append({"from": list(self.size), "to": list(new_size), "resample": {Image.BOX: "BOX", Image.BICUBIC: "BICUBIC"}.get(resample, str(resample))})
        if resample == Image.BICUBIC:
            calls[-1]["_arr"] = np.array(out)
        return out

    Image.Image.resize = logged
    try:
        result = np.array(fn(pil_image, size))
    finally:
        Image.Image.resize = original
    resized = calls[-1].pop("_arr")
    matches = [(y, x) for y in range(resized.shape[0] - size + 1) for x in range(resized.shape[1] - size + 1)
               if np.array_equal(resized[y : y + size, x : x + size], result)]
    return result, {"resize_calls": calls, "crop_offset_yx_matching": [list(m) for m in matches]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("llamagen", type=Path, help="checkout of github.com/FoundationVision/LlamaGen")
    parser.add_argument("adm", type=Path, help="checkout of github.com/openai/guided-diffusion")
    parser.add_argument("--llamagen-commit", required=True)
    parser.add_argument("--adm-commit", required=True)
    parser.add_argument("--out", type=Path, default=HERE)
    args_cli = parser.parse_args()
    llamagen, adm = args_cli.llamagen.resolve(), args_cli.adm.resolve()
    out = args_cli.out

    import skimage.data
    import torch
    from PIL import Image

    torch.set_num_threads(1)
    sys.path.insert(0, str(llamagen))
    sys.path.insert(0, str(HELPERS))
    recon_script = llamagen / "tokenizer" / "tokenizer_image" / "reconstruction_vq_ddp.py"
    val_script = llamagen / "tokenizer" / "validation" / "val_ddp.py"
    recon_mod = load_module("llamagen_reconstruction_vq_ddp", recon_script)
    val_mod = load_module("llamagen_val_ddp", val_script)
    filename, setup, loop, summary = main_statements(recon_script)
    val_filename, val_setup, val_loop, val_summary = main_statements(val_script)

    # --- inputs ---------------------------------------------------------------------------
    inputs = out / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (name, row, col, height, width) in enumerate(CROPS):
        path = inputs / f"{index}_{name}_{width}x{height}.png"
        Image.fromarray(getattr(skimage.data, name)()[row : row + height, col : col + width]).save(path)
        paths.append(path)
    n_orig = len(paths)

    work = Path(tempfile.mkdtemp(prefix="llamagen_vectors_"))
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {}
    meta_branches, geometry = {}, {}

    # center_crop_arr geometry (the official function, PIL resize calls logged)
    for size in sorted({s for s, _ in BRANCHES.values()}):
        geometry[str(size)] = []
        for path in paths:
            arr, info = log_center_crop(recon_mod.center_crop_arr, Image.open(path).convert("RGB"), size)
            geometry[str(size)].append({"input": path.name, "input_size_wh": list(Image.open(path).size), **info})

    def official_eval(branch: str, world_size: int, batch_size: int, recon_nchw, pair_files, keep: bool):
        image_size, image_size_eval = BRANCHES[branch]
        root = work / f"data_{branch}"
        if not root.exists():
            (root / "class0").mkdir(parents=True)
            for p, src in enumerate(pair_files):
                shutil.copy(src, root / "class0" / f"{p:04d}.png")
        sample_dir = work / f"samples_{branch}_{world_size}x{batch_size}"
        sample_dir.mkdir()
        args = types.SimpleNamespace(
            data_path=str(root), dataset="imagenet", image_size=image_size, image_size_eval=image_size_eval,
            per_proc_batch_size=batch_size, global_seed=0, num_workers=0,
        )
        gathered, per_rank = [], []
        for rank in range(world_size):
            ns = dict(recon_mod.__dict__)
            rec_psnr, rec_ssim = Recorder(recon_mod.psnr_loss), Recorder(recon_mod.ssim_loss)
            ns.update(args=args, rank=rank, device="cpu", dist=FakeDist(world_size), sample_folder_dir=str(sample_dir),
                      psnr_loss=rec_psnr, ssim_loss=rec_ssim)
            run(setup, ns, filename)  # transform, dataset, sampler, loader, accumulators
            order = list(iter(ns["sampler"]))
            ns["vq_model"] = StandInVQ(recon_nchw, order)
            views = {"ids": [], "x": [], "rgb_gts": [], "samples": []}
            body_loop = loop
            # run the official loop; record the batch views after each iteration via a wrapped loader
            batches = list(ns["loader"])
            for batch in batches:
                ns["loader"] = [batch]
                ns["total"] = ns["total"]
                run(body_loop, ns, filename)
                views["ids"] += ns["vq_model"].last
                views["x"].append(batch[0].permute(0, 2, 3, 1).numpy().copy())
                views["rgb_gts"].append(np.array(ns["rgb_gts"], copy=True))
                views["samples"].append(np.array(ns["samples"], copy=True))
            gathered.append((list(ns["psnr_val_rgb"]), list(ns["ssim_val_rgb"])))
            per_rank.append({"rank": rank, "order": order, "views": views, "psnr": rec_psnr, "ssim": rec_ssim, "ns": ns})
        # the summary on rank 0: all_gather_object, means, results file, npz of the first N PNGs
        ns0 = per_rank[0]["ns"]
        ns0.update(rank=0, dist=FakeDist(world_size, gathered), num_fid_samples=len(pair_files))
        run(summary, ns0, filename)
        result = {
            "world_size": world_size, "batch_size": batch_size,
            "psnr_val_rgb": float(ns0["psnr_val_rgb"]), "ssim_val_rgb": float(ns0["ssim_val_rgb"]),
            "evaluated_pair_ids": [r["order"] for r in per_rank],
            "results_txt": (Path(f"{sample_dir}_results.txt")).read_text(),
        }
        npz_path = Path(f"{sample_dir}.npz")
        return result, per_rank, sample_dir, npz_path

    npz_samples = {}
    for branch, (image_size, image_size_eval) in BRANCHES.items():
        tag = branch
        # originals: the official transform applied through the official dataset
        transform_ns = dict(recon_mod.__dict__)
        transform_ns["args"] = types.SimpleNamespace(image_size=image_size)
        run(setup[:1], transform_ns, filename)
        transform = transform_ns["transform"]
        orig_u8 = np.stack([np.array(recon_mod.center_crop_arr(Image.open(p).convert("RGB"), image_size)) for p in paths])
        orig_float = np.stack([transform(Image.open(p).convert("RGB")).permute(1, 2, 0).numpy() for p in paths])
        recons, pair_original, pair_kind = [], [], []
        for i in range(n_orig):  # JPEG q50 of the uint8 center crop, decoded, through the official transform
            buffer = io.BytesIO()
            Image.fromarray(orig_u8[i]).save(buffer, format="JPEG", quality=JPEG_QUALITY)
            decoded = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
            recons.append(transform(decoded).permute(1, 2, 0).numpy())
            pair_original.append(i), pair_kind.append(f"jpeg-q{JPEG_QUALITY}")
        for i in range(n_orig):
            recons.append(orig_float[i] + rng.normal(0.0, NOISE_STD, size=orig_float[i].shape).astype(np.float32))
            pair_original.append(i), pair_kind.append("noisy")
        for i in range(n_orig):  # pixel levels t (127.5 x + 128 = t): exact integers, halves and quarters, clamped ones
            t = grid_pixels(orig_float[i].shape, rng)
            recons.append(((t - 128.0) / 127.5).astype(np.float32))
            pair_original.append(i), pair_kind.append("grid")
        recons = np.stack(recons).astype(np.float32)
        pair_original = np.asarray(pair_original)
        recon_nchw = torch.from_numpy(recons).permute(0, 3, 1, 2).contiguous()
        pair_files = [paths[i] for i in pair_original]

        layouts = []
        for world_size, batch_size in LAYOUTS:
            result, per_rank, sample_dir, npz_path = official_eval(branch, world_size, batch_size, recon_nchw, pair_files, True)
            layouts.append(result)
            if (world_size, batch_size) == LAYOUTS[0]:
                single = per_rank[0]
                ids = single["views"]["ids"]
                assert ids == list(range(len(pair_files)))
                x = np.concatenate(single["views"]["x"])
                assert np.array_equal(x, orig_float[pair_original])
                rgb_gts = np.concatenate(single["views"]["rgb_gts"])
                samples = np.concatenate(single["views"]["samples"])
                psnr = np.array([c[2] for c in single["psnr"].calls], dtype=np.float64)
                ssim = np.array([c[2] for c in single["ssim"].calls], dtype=np.float64)
                restored = np.stack([c[0][0] for c in single["psnr"].calls])
                gt_psnr = np.stack([c[0][1] for c in single["psnr"].calls])
                assert np.array_equal(gt_psnr, rgb_gts) and restored.dtype == np.float32 and gt_psnr.dtype == np.float32
                assert all(np.array_equal(c[0][0], restored[k]) and np.array_equal(c[0][1], rgb_gts[k]) for k, c in enumerate(single["ssim"].calls))
                ssim_kwargs = single["ssim"].calls[0][1]
                returned_types = {"psnr": type(single["psnr"].calls[0][2]).__name__, "ssim": type(single["ssim"].calls[0][2]).__name__,
                                  "psnr_val_rgb": type(single["ns"]["psnr_val_rgb"]).__name__,
                                  "ssim_val_rgb": type(single["ns"]["ssim_val_rgb"]).__name__}
                pngs = np.stack([np.array(Image.open(sample_dir / f"{k:06d}.png")) for k in range(len(ids))])
                png_lossless = bool(np.array_equal(pngs, samples))
                assert png_lossless
                npz_arr = np.load(npz_path)["arr_0"]
                assert np.array_equal(npz_arr, samples)
                kept = work / f"sample_batch_{branch}.npz"
                shutil.copy(npz_path, kept)
                npz_samples[branch] = kept
        arrays.update({
            f"{tag}_original_u8": orig_u8,  # center_crop_arr(pil, image_size) as uint8 HWC, per original
            f"{tag}_original_float": orig_float,  # tokenizer input (transform output) HWC float32, per original
            f"{tag}_recon_float": recons,  # what the model stand-in returned, HWC float32, unclamped, per pair
            f"{tag}_pair_original": pair_original,
            f"{tag}_rgb_gt": rgb_gts,  # GT the metrics consumed: (x or bicubic(x) + 1) / 2, float32, HWC
            f"{tag}_sample_u8": samples,  # clamp(127.5 x + 128) -> uint8 (== the PNG written), HWC
            f"{tag}_rgb_restored": restored,  # sample / 255. in float32, HWC (image_true of both metrics)
            f"{tag}_psnr": psnr,
            f"{tag}_ssim": ssim,
        })
        meta_branches[tag] = {
            "image_size": image_size, "image_size_eval": image_size_eval, "pair_kind": pair_kind,
            "png_lossless": png_lossless, "ssim_kwargs": {k: v for k, v in ssim_kwargs.items()},
            "returned_types": returned_types,
            "layouts": layouts,
        }

    # --- the reference npz: val_ddp.py -------------------------------------------------------
    def official_val(files, image_size: int, name: str, summary: bool):
        root = work / f"val_{name}"
        (root / "class0").mkdir(parents=True)
        for k, p in enumerate(files):
            shutil.copy(p, root / "class0" / f"{k:04d}.png")
        sample_dir = work / f"val_samples_{name}" / "val_imagenet"
        sample_dir.mkdir(parents=True)
        vns = dict(val_mod.__dict__)
        vns.update(args=types.SimpleNamespace(data_path=str(root), dataset="imagenet", image_size=image_size,
                                              sample_dir=str(sample_dir.parent), per_proc_batch_size=4, global_seed=0,
                                              num_workers=0),
                   rank=0, device="cpu", dist=FakeDist(1), sample_folder_dir=str(sample_dir))
        run(val_setup, vns, val_filename)
        xs = []
        for batch in list(vns["loader"]):
            vns["loader"] = [batch]
            run(val_loop, vns, val_filename)
            xs.append(batch[0].permute(0, 2, 3, 1).numpy().copy())
        pngs = np.stack([np.array(Image.open(sample_dir / f"{k:06d}.png")) for k in range(len(files))])
        if summary:
            vns["num_fid_samples"] = len(files)
            random.seed(0)  # the official create_npz_from_sample_folder shuffles with the unseeded `random`
            run(val_summary, vns, val_filename)
        return np.concatenate(xs), pngs, Path(f"{sample_dir}.npz")

    val_x, val_pngs, val_npz_path = official_val(paths, SIZE, "photos", True)
    val_npz = np.load(val_npz_path)["arr_0"]
    val_order = [next(j for j in range(n_orig) if np.array_equal(val_npz[r], val_pngs[j])) for r in range(n_orig)]
    ref_npz = work / "ref_batch_val.npz"
    shutil.copy(val_npz_path, ref_npz)
    assert np.array_equal(val_x, arrays["main_original_float"])
    val_equals_center_crop = bool(np.array_equal(val_pngs, arrays["main_original_u8"]))
    # every uint8 value through val_ddp's transform (16x16 image: center_crop_arr is the identity) and loop
    table_png = work / "table.png"
    Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)).save(table_png)
    table_x, table_png_u8, _ = official_val([table_png], 16, "table", False)
    arrays.update(val_u8=val_pngs, val_npz_arr_0=val_npz, val_npz_order=np.asarray(val_order),
                  u8_to_float_table=table_x[0, ..., 0].flatten(), val_roundtrip_table=table_png_u8[0, ..., 0].flatten())

    # --- the ADM evaluator's statistics and Frechet distance ---------------------------------
    for name in ("tensorflow", "tensorflow.compat", "tensorflow.compat.v1"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["tensorflow"].compat = sys.modules["tensorflow.compat"]
    sys.modules["tensorflow.compat"].v1 = sys.modules["tensorflow.compat.v1"]
    adm_mod = load_module("adm_evaluator", adm / "evaluations" / "evaluator.py")

    from helpers_inception import fidelity_inception_skeleton, write_fidelity_inception_weights  # noqa: F401
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    fid_weights = write_fidelity_inception_weights(work / "weights" / "inception_v3_compat_random.pth", seed=0)
    net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(fid_weights)).eval()
    fed = []

    class StandInSession:
        """tf.Session.run of the pool_3 / mixed_6 graph, replaced by torch-fidelity's compat network."""

        def run(self, fetches, feed_dict):
            (batch,) = feed_dict.values()
            fed.append(np.array(batch, copy=True))
            u8 = torch.from_numpy(batch)
            assert torch.equal(u8, u8.round()) and batch.dtype == np.float32
            with torch.no_grad():
                (pool,) = net(u8.to(torch.uint8).permute(0, 3, 1, 2).contiguous())
            return [pool.numpy().reshape(len(batch), 1, 1, -1), np.zeros((len(batch), 1), np.float32)]

    evaluator = adm_mod.Evaluator.__new__(adm_mod.Evaluator)
    evaluator.sess, evaluator.batch_size = StandInSession(), 64
    evaluator.image_input, evaluator.pool_features, evaluator.spatial_features = "image_input", "pool_3:0", "mixed_6/conv:0"
    ref_acts = evaluator.read_activations(str(ref_npz))
    ref_stats, _ = evaluator.read_statistics(str(ref_npz), ref_acts)
    assert np.array_equal(fed[-1], val_npz.astype(np.float32))
    adm_meta = {"inception_v3_compat_random": {}}
    arrays.update(adm_ref_features=ref_acts[0], adm_ref_mu=ref_stats.mu, adm_ref_sigma=ref_stats.sigma)
    for branch, npz_path in npz_samples.items():
        acts = evaluator.read_activations(str(npz_path))
        stats, _ = evaluator.read_statistics(str(npz_path), acts)
        try:
            fid = float(stats.frechet_distance(ref_stats))
            error = None
        except ValueError as exc:  # the official imaginary-component check
            fid, error = None, str(exc)
        arrays.update({f"adm_{branch}_sample_features": acts[0], f"adm_{branch}_mu": stats.mu, f"adm_{branch}_sigma": stats.sigma})
        adm_meta["inception_v3_compat_random"][branch] = {"fid": fid, "error": error}
    # precomputed statistics in the npz: read_statistics returns them as stored
    pre = work / "ref_with_stats.npz"
    np.savez(pre, arr_0=val_npz, mu=ref_stats.mu, sigma=ref_stats.sigma, mu_s=np.zeros(1), sigma_s=np.zeros((1, 1)))
    pre_stats, _ = evaluator.read_statistics(str(pre), (None, None))
    adm_meta["precomputed_stats_path_returns_stored_arrays"] = bool(
        np.array_equal(pre_stats.mu, ref_stats.mu) and np.array_equal(pre_stats.sigma, ref_stats.sigma))
    # fixed random features (well-conditioned 16-dim case)
    frng = np.random.default_rng(1234)
    n, d = RANDOM_FEATURES
    mix = frng.normal(size=(d, d))
    feats_ref = frng.normal(size=(n, d)).astype(np.float32)
    feats_sample = (frng.normal(size=(n, d)) @ (0.3 * mix + np.eye(d)) + 0.25).astype(np.float32)
    s_ref = adm_mod.Evaluator.compute_statistics(evaluator, feats_ref)
    s_sample = adm_mod.Evaluator.compute_statistics(evaluator, feats_sample)
    fid_random = float(s_sample.frechet_distance(s_ref))
    fid_random_swapped = float(s_ref.frechet_distance(s_sample))
    arrays.update(adm_random_ref_features=feats_ref, adm_random_sample_features=feats_sample,
                  adm_random_ref_mu=s_ref.mu, adm_random_ref_sigma=s_ref.sigma,
                  adm_random_sample_mu=s_sample.mu, adm_random_sample_sigma=s_sample.sigma)
    adm_meta["random_features"] = {
        "shape": [n, d], "generator": "numpy default_rng(1234): ref = normal(n,d); sample = normal(n,d) @ (0.3*normal(d,d) + I) + 0.25; float32",
        "fid_sample_vs_ref": fid_random, "fid_ref_vs_sample": fid_random_swapped,
        "mu_dtype": str(s_ref.mu.dtype), "sigma_dtype": str(s_ref.sigma.dtype),
    }
    adm_meta["dtypes"] = {"features": str(ref_acts[0].dtype), "mu": str(ref_stats.mu.dtype), "sigma": str(ref_stats.sigma.dtype)}

    sigma_summaries = reduce_sigmas(arrays)
    np.savez_compressed(out / "vectors.npz", **arrays)
    meta = {
        "source": {
            "llamagen": "github.com/FoundationVision/LlamaGen: tokenizer/tokenizer_image/reconstruction_vq_ddp.py, dataset/augmentation.py (center_crop_arr), dataset/build.py, tokenizer/validation/val_ddp.py",
            "adm": "github.com/openai/guided-diffusion: evaluations/evaluator.py",
        },
        "official_commit": {"llamagen": args_cli.llamagen_commit, "adm": args_cli.adm_commit},
        "size": SIZE,
        "size_note": "48 stands for 256, 72 for 384, 96 for 512 (the script's argparse choices are bypassed)",
        "crops": [dict(zip(("name", "row", "col", "height", "width"), c)) for c in CROPS],
        "inputs": [p.name for p in paths],
        "center_crop_arr_geometry": geometry,
        "kinds": list(KINDS), "jpeg_quality": JPEG_QUALITY, "noise_std": NOISE_STD,
        "grid": "pixel levels t = arange(-40, 1061)/4 tiled and permuted (default_rng(0) stream), x = float32((t - 128) / 127.5)",
        "rng": "numpy default_rng(0): noise then grid permutations, in branch order main, from72, from96",
        "branches": meta_branches,
        "val_ddp": {
            "world_size": 1, "per_proc_batch_size": 4, "pngs_equal_center_crop_arr_u8": val_equals_center_crop,
            "npz_shuffle": "random.shuffle (unseeded in the official code; random.seed(0) here); val_npz_order[r] = original of row r",
            "val_ddp_py_identical_at_5a50452": True,
        },
        "adm": adm_meta,
        "sigma_summaries": sigma_summaries,
        "weights": {
            "inception_v3_compat_random": {"builder": "helpers_inception.write_fidelity_inception_weights", "seed": 0, "sha256": sha256(fid_weights)},
        },
        "versions": {m: metadata.version(m) for m in ("torch", "torchvision", "numpy", "scipy", "scikit-image", "Pillow", "torch-fidelity")},
    }
    (out / "vectors.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps({b: meta_branches[b]["layouts"] for b in meta_branches}, indent=1, default=str)[:4000])
    print(json.dumps(adm_meta, indent=1))


if __name__ == "__main__":
    main()
