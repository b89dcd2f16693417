"""Record the official TiTok (bytedance/1d-tokenizer) reconstruction evaluation on a few photo crops (CPU).

Usage (outside the project; the official code is not part of the project):

    PYTHONPATH=/work/vectors/titok_vavae_tokenbench/site \\
    /work/main/.venv/bin/python make_vectors.py /work/official/1d-tokenizer \\
        --commit 942a96fbdd873780179d1b78d5462911528bf8c8

(recorded from commit 942a96fbdd873780179d1b78d5462911528bf8c8, an archive of it in /work/official/1d-tokenizer;
 webdataset 0.2.111, the newest release before that commit, from PYTHONPATH)

What runs is the official code itself, imported from the checkout given on the command line:

- ``data/convert_imagenet_to_wds.py``: the function ``convert_imagenet_to_wds`` is called whole. It
  writes the train and val webdataset shards with ``wds.ShardWriter`` and ``{"jpg": img.convert("RGB")}``,
  i.e. webdataset's own ``imageencoder`` (PIL ``save(format="JPEG", quality=100)``). Stand-in: the
  ``datasets`` module (its ``load_dataset`` streams the input PNGs, opened with PIL, with their index as
  label, instead of the Hugging Face ImageNet download).
- ``data/webdataset_reader.py``: ``SimpleImageDataset`` is built with the arguments ``create_dataloader``
  (``utils/train_utils.py``) passes, and its ``eval_dataloader`` (``SimpleShardList`` + ``split_by_worker``
  + autodecode "pil" + ``eval_transform`` = ``Resize(S, BICUBIC, antialias=True)``, ``CenterCrop(S)``,
  ``ToTensor``, ``Normalize([0,0,0],[1,1,1])`` + ``batched(partial=True)``) feeds the evaluation.
- ``utils/train_utils.py``: the function ``eval_reconstruction`` (L1015-1068) is read from the file with
  ``ast`` and executed whole (its module imports open_clip, transformers, ... which are not needed).
  Stand-ins: ``model`` (returns the recorded reconstruction of each input image, and codebook indices)
  and ``accelerator`` (device = CPU, ``unwrap_model`` = identity).
- ``evaluator/evaluator.py`` + ``evaluator/inception.py``: ``VQGANEvaluator`` built as
  ``create_evaluator`` builds it for a VQ model, on the CPU; its ``update`` and ``result`` run unchanged.
  Its Inception (torch-fidelity blocks, whole network cast to float64) loads its weights through
  ``load_state_dict_from_url(FID_WEIGHTS_URL)``, i.e. torch hub's cache: a random file is put there
  (``$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth``) and the call is wrapped to
  record the URL. Random but non-trivial (kaiming) weights from
  ``helpers_inception.write_fidelity_inception_weights`` (seed recorded with the sha256); the official
  ``load_state_dict`` is strict, so loading it proves the key/shape layout matches.

Per-image values are taken by wrapping the evaluator's Inception network: each call's uint8 input and
its float64 '2048' features are kept. mu/sigma are computed from the evaluator's own float64
accumulators with the official ``get_covariance``, as ``result()`` does; sigma (2048x2048 float64) is
stored as its diagonal, trace, Frobenius norm and top-left 64x64 block.

Reconstructions (in the tokenizer's [0, 1] space): a JPEG q50 round trip of the uint8 crop the eval
transform makes, float noise N(0, 0.05) (= 0.1 in [-1, 1] units) partly outside [0, 1], and "ties":
pixels exactly at (u +- 0.5)/255 in float32, where ``torch.round`` (half to even) and half-up differ.
Each kind is one full pass of ``eval_reconstruction`` over the val shards (so one rFID per kind).

Outputs (in this folder): ``inputs/*.png``, ``vectors.npz``, ``vectors.json``.
"""

from __future__ import annotations

import argparse
import ast
import glob
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import types
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HELPERS = Path(__file__).resolve().parents[3] / "helpers"  # tests/helpers
SIZE = 64  # the official crop_size for these vectors (eval: Resize(crop_size) + CenterCrop(crop_size))
BATCH = 3  # per_gpu_batch_size: 4 images -> batches of 3 and 1 (partial=True)
# (name in skimage.data, row, column, height, width): non-square crops larger than SIZE (downscaling)
CROPS = [("astronaut", 20, 140, 100, 84), ("chelsea", 40, 100, 90, 120), ("coffee", 120, 160, 96, 150),
         ("rocket", 100, 150, 140, 100)]
NOISE_STD = 0.05
JPEG_QUALITY = 50
INCEPTION_SEED = 0
CODEBOOK = 16
FID_FILE = "pt_inception-2015-12-05-6726825d.pth"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def official_function(path: Path, name: str, namespace: dict):
    """Read one top-level function from an official file with ast and define it in ``namespace``."""
    tree = ast.parse(path.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    exec(compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec"), namespace)  # noqa: S102
    return namespace[name], node.lineno, node.end_lineno


class Recorder:
    """Wraps a callable; keeps what each call got and returned."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, *args, **kwargs):
        out = self.fn(*args, **kwargs)
        self.calls.append((args, kwargs, out))
        return out

    def __getattr__(self, name):
        return getattr(self.fn, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("official", type=Path, help="checkout of github.com/bytedance/1d-tokenizer")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--commit", help="the checkout's commit, recorded")
    args = parser.parse_args()
    official = args.official.resolve()

    torch_home = Path(tempfile.mkdtemp(prefix="official_titok_eval_"))
    os.environ["TORCH_HOME"] = str(torch_home)
    sys.path.insert(0, str(HELPERS))
    from helpers_inception import write_fidelity_inception_weights, pytorch_fid_inception_skeleton

    hub = torch_home / "hub" / "checkpoints"
    weights = write_fidelity_inception_weights(hub / FID_FILE, seed=INCEPTION_SEED)
    weights_sha256 = {"inception_fidelity_compat": sha256(weights)}

    import PIL
    import PIL.features
    import skimage.data
    import torch
    import torchvision
    from PIL import Image, JpegImagePlugin

    torch.set_num_threads(1)
    sys.path.insert(0, str(official))
    import webdataset as wds

    # --- inputs: photo crops as PNG files ------------------------------------------------------
    inputs = args.out / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, row, col, height, width in CROPS:
        path = inputs / f"{name}.png"
        Image.fromarray(getattr(skimage.data, name)()[row: row + height, col: col + width]).save(path)
        paths.append(path)

    # --- official shard writer: convert_imagenet_to_wds with a stand-in `datasets` ---------------
    def load_dataset(name, streaming, split, use_auth_token):
        assert name == "imagenet-1k" and streaming
        return [{"image": Image.open(p), "label": i} for i, p in enumerate(paths)]

    sys.modules["datasets"] = types.SimpleNamespace(load_dataset=load_dataset)
    from data import convert_imagenet_to_wds as convert_module
    from data.webdataset_reader import SimpleImageDataset

    shards = Path(tempfile.mkdtemp(prefix="titok_wds_"))
    convert_module.convert_imagenet_to_wds(str(shards), max_train_samples_per_shard=4, max_val_samples_per_shard=2)
    val_shards = sorted(glob.glob(str(shards / "imagenet-val-*.tar")))
    train_shards = sorted(glob.glob(str(shards / "imagenet-train-*.tar")))

    # the JPEG bytes webdataset wrote, as written (q100; sampling factors read back by PIL)
    jpeg_info, jpeg_decoded = [], []
    for shard in val_shards:
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".jpg"):
                    data = tar.extractfile(member).read()
                    img = Image.open(io.BytesIO(data))
                    q = img.quantization
                    jpeg_info.append({
                        "member": f"{Path(shard).name}:{member.name}",
                        "sampling": JpegImagePlugin.get_sampling(img),  # 2 = 4:2:0, 0 = 4:4:4
                        "layers": img.layer,
                        "luma_qtable_all_ones": bool(all(v == 1 for v in q[0])),
                        "bytes": len(data),
                    })
                    jpeg_decoded.append((int(member.name.split(".")[0]), np.array(img.convert("RGB"))))

    # --- official reader, with the arguments create_dataloader passes -----------------------------
    dataset = SimpleImageDataset(
        train_shards_path=train_shards, eval_shards_path=val_shards, num_train_examples=len(paths),
        per_gpu_batch_size=BATCH, global_batch_size=BATCH, num_workers_per_gpu=1,
        resize_shorter_edge=SIZE, crop_size=SIZE, random_crop=True, random_flip=True,
        dataset_with_class_label=True, dataset_with_text_label=False, res_ratio_filtering=False,
    )
    loader_images, loader_labels, loader_batches = [], [], []
    for batch in dataset.eval_dataloader:
        loader_images.append(batch["image"])
        loader_labels.extend(batch["class_id"].tolist())
        loader_batches.append(len(batch["class_id"]))
    loader_images = torch.cat(loader_images)
    order = np.asarray(loader_labels)
    originals = loader_images[np.argsort(order)]  # N x 3 x S x S float32, in input order
    assert originals.dtype == torch.float32

    # the same eval_transform on the PNG itself (no q100 re-encoding), and the uint8 crop it starts from
    from data.webdataset_reader import ImageTransform
    transform = ImageTransform(SIZE, SIZE, False, False).eval_transform
    no_jpeg = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
    resize_crop = torchvision.transforms.Compose(transform.transforms[:2])
    decoded_u8 = dict(jpeg_decoded)
    crops_u8 = np.stack([np.array(resize_crop(Image.fromarray(decoded_u8[i]))) for i in range(len(paths))])
    assert np.array_equal(np.round(originals.permute(0, 2, 3, 1).numpy() * 255), crops_u8)

    # --- the resize/crop rule, checked against the official transform's output -------------------------
    resize_rule = []
    for i in range(len(paths)):
        img = Image.fromarray(decoded_u8[i])
        w, h = img.size
        short, long_ = (w, h) if w <= h else (h, w)
        new_long = int(SIZE * long_ / short)  # torchvision: int() of the long side
        nw, nh = (SIZE, new_long) if w <= h else (new_long, SIZE)
        resized = img.resize((nw, nh), Image.BICUBIC)  # PIL bicubic (PIL filters are always antialiased)
        top, left = int(round((nh - SIZE) / 2.0)), int(round((nw - SIZE) / 2.0))  # Python round: half to even
        manual = np.array(resized)[top: top + SIZE, left: left + SIZE]
        resize_rule.append({"input_hw": [h, w], "resized_hw": [nh, nw], "crop_top_left": [top, left],
                            "crop_offsets_exact": [(nh - SIZE) / 2.0, (nw - SIZE) / 2.0],
                            "equals_official": bool(np.array_equal(manual, crops_u8[i]))})
    float_table = bool(np.array_equal(originals.permute(0, 2, 3, 1).numpy(), crops_u8.astype(np.float32) / np.float32(255)))

    # --- reconstructions in [0, 1] ---------------------------------------------------------------
    rng = np.random.default_rng(0)
    orig_hwc = originals.permute(0, 2, 3, 1).numpy()
    recons: dict[str, np.ndarray] = {}
    jpeg = []
    for u8 in crops_u8:
        buffer = io.BytesIO()
        Image.fromarray(u8).save(buffer, format="JPEG", quality=JPEG_QUALITY)
        jpeg.append(np.array(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")).astype(np.float32) / 255)
    recons[f"jpeg-q{JPEG_QUALITY}"] = np.stack(jpeg).astype(np.float32)
    recons["noisy"] = (orig_hwc + rng.normal(0.0, NOISE_STD, size=orig_hwc.shape)).astype(np.float32)
    sign = rng.choice([-1.0, 1.0], size=orig_hwc.shape)
    target = crops_u8.astype(np.float64) + 0.5 * sign
    tie = (target / 255).astype(np.float32)
    exact = (tie * np.float32(255)) == target.astype(np.float32)  # float32 x*255 lands exactly on u +- .5
    recons["ties"] = np.where(exact, tie, orig_hwc).astype(np.float32)
    ties_exact_fraction = float(exact.mean())

    # --- the official evaluator and eval_reconstruction --------------------------------------------
    from evaluator import evaluator as evaluator_module
    from evaluator import inception as inception_module

    url_recorder = Recorder(inception_module.load_state_dict_from_url)
    inception_module.load_state_dict_from_url = url_recorder
    ns = {"torch": torch, "imagenet_idx2classname": {}}
    eval_reconstruction, first, last = official_function(official / "utils" / "train_utils.py", "eval_reconstruction", ns)

    class Accelerator:
        device = torch.device("cpu")

        @staticmethod
        def unwrap_model(model):
            return model

    class Model:
        """Stand-in tokenizer: the recorded reconstruction of each input image."""

        def __init__(self, rec_hwc):
            self.rec = torch.from_numpy(rec_hwc).permute(0, 3, 1, 2).contiguous()
            self.inputs = []

        def eval(self):
            return self

        def train(self, mode=True):
            return self

        def __call__(self, images):
            ids = [next(i for i in range(len(originals)) if torch.equal(img, originals[i])) for img in images]
            self.inputs.append(images.clone())
            return self.rec[ids].clone(), {"min_encoding_indices": torch.tensor(ids)[:, None] * 3 % CODEBOOK}

    class InceptionRecorder:
        def __init__(self, net):
            self.net, self.calls = net, []

        def __call__(self, x):
            out = self.net(x)
            self.calls.append((x.clone(), {k: v.clone() for k, v in out.items()}))
            return out

    evaluator = evaluator_module.VQGANEvaluator(
        device=torch.device("cpu"), enable_rfid=True, enable_inception_score=True,
        enable_codebook_usage_measure=True, enable_codebook_entropy_measure=True, num_codebook_entries=CODEBOOK,
    )
    net = evaluator._inception_model
    dtypes = {"parameters": sorted({str(p.dtype) for p in net.parameters()}),
              "buffers": sorted({str(b.dtype) for b in net.buffers()}),
              "internal_dtype": str(net.feature_extractor_internal_dtype)}
    conv_in = []
    net.Conv2d_1a_3x3.register_forward_pre_hook(lambda m, a: conv_in.append(str(a[0].dtype)))
    # the random file's layout against the real pytorch-fid weights file TiTok downloads
    pf_state = pytorch_fid_inception_skeleton().state_dict()
    titok_state = net.state_dict()
    layout = {
        "fidelity_file_loads_strictly": True,  # VQGANEvaluator's constructor did load_state_dict(strict=True)
        "titok_keys_equal_pytorch_fid_file_keys": set(pf_state) == set(titok_state),
        "titok_shapes_equal_pytorch_fid_file_shapes": all(
            tuple(pf_state[k].shape) == tuple(v.shape) for k, v in titok_state.items() if k in pf_state),
        "keys_only_in_titok": sorted(set(titok_state) - set(pf_state)),
        "keys_only_in_pytorch_fid": sorted(set(pf_state) - set(titok_state)),
    }

    results, views, features, stats = {}, {}, {}, {}
    for kind, rec in recons.items():
        model = Model(rec)
        recorder = InceptionRecorder(net)
        evaluator._inception_model = recorder
        try:
            score = eval_reconstruction(model, dataset.eval_dataloader, Accelerator(), evaluator, model_type="titok")
            results[kind] = {k: float(v) for k, v in score.items()}
        except ValueError as err:  # e.g. "Imaginary component" from the official result()
            results[kind] = {"error": repr(err)}
        # update() calls the network on the fake images first, then on the real ones
        fake_calls, real_calls = recorder.calls[0::2], recorder.calls[1::2]
        fed = torch.cat(model.inputs)
        ids = [next(i for i in range(len(originals)) if torch.equal(img, originals[i])) for img in fed]
        inv = np.argsort(ids)
        fake_u8 = torch.cat([c[0] for c in fake_calls]).permute(0, 2, 3, 1).numpy()[inv]
        real_u8 = torch.cat([c[0] for c in real_calls]).permute(0, 2, 3, 1).numpy()[inv]
        f_fake = torch.cat([c[1]["2048"] for c in fake_calls]).numpy()[inv]
        f_real = torch.cat([c[1]["2048"] for c in real_calls]).numpy()[inv]
        views[kind] = (real_u8, fake_u8)
        features[kind] = (f_real, f_fake)
        n = evaluator._num_examples
        mu_r, mu_f = evaluator._rfid_real_total / n, evaluator._rfid_fake_total / n
        sig_r = evaluator_module.get_covariance(evaluator._rfid_real_sigma, evaluator._rfid_real_total, n)
        sig_f = evaluator_module.get_covariance(evaluator._rfid_fake_sigma, evaluator._rfid_fake_total, n)
        stats[kind] = {"mu_real": mu_r.numpy(), "mu_fake": mu_f.numpy(), "sigma_real": sig_r.numpy(),
                       "sigma_fake": sig_f.numpy(), "feature_dtype": str(fake_calls[0][1]["2048"].dtype),
                       "num_examples": n, "num_updates": evaluator._num_updates}
        # checks of the rules
        clamp_round = torch.round(torch.clamp(torch.from_numpy(rec), 0, 1) * 255)
        assert np.array_equal(fake_u8, clamp_round.numpy().astype(np.uint8)), kind
        assert np.array_equal(real_u8, crops_u8), kind
        print(kind, results[kind], flush=True)

    # float32 u/255 (ToTensor) * 255 -> uint8 never drops a level (the evaluator's real-image cast)
    table = (torch.arange(256, dtype=torch.uint8).to(torch.float32).div(255) * 255).to(torch.uint8)
    u8_table_exact = bool(torch.equal(table, torch.arange(256, dtype=torch.uint8)))
    # what torch.round does at the recorded ties (half to even) against half-up
    tie_u = crops_u8.astype(np.float64) + 0.5 * sign
    ties_fake = views["ties"][1]
    half_even = np.where(exact, np.round(tie_u), crops_u8)  # numpy rounds half to even
    half_up = np.where(exact, np.floor(tie_u + 0.5), crops_u8)
    ties_rule = {"equals_half_even": bool(np.array_equal(ties_fake, np.clip(half_even, 0, 255).astype(np.uint8))),
                 "equals_half_up": bool(np.array_equal(ties_fake, np.clip(half_up, 0, 255).astype(np.uint8))),
                 "exact_tie_fraction": ties_exact_fraction}

    # create_dataloader at this commit, with a TiTok ImageNet config (no `pretokenization` key)
    import math
    from torch.utils.data import DataLoader
    from data.webdataset_reader import PretoeknizedDataSetJSONL, PretokenizedWebDataset

    class Cfg(dict):
        __getattr__ = dict.__getitem__

    config = Cfg(
        training=Cfg(per_gpu_batch_size=BATCH, gradient_accumulation_steps=1),
        experiment=Cfg(max_train_examples=len(paths)),
        dataset=Cfg(params=Cfg(train_shards_path_or_url=train_shards, eval_shards_path_or_url=val_shards,
                               num_workers_per_gpu=1),
                    preprocessing=Cfg(resize_shorter_edge=SIZE, crop_size=SIZE, random_crop=True, random_flip=True)),
    )
    cd_ns = {"SimpleImageDataset": SimpleImageDataset, "PretokenizedWebDataset": PretokenizedWebDataset,
             "PretoeknizedDataSetJSONL": PretoeknizedDataSetJSONL, "DataLoader": DataLoader, "math": math}
    create_dataloader, _, _ = official_function(official / "utils" / "train_utils.py", "create_dataloader", cd_ns)
    try:
        create_dataloader(config, types.SimpleNamespace(info=lambda *a: None), types.SimpleNamespace(num_processes=1))
        create_dataloader_check = "returned"
    except Exception as err:  # noqa: BLE001 - recorded
        create_dataloader_check = f"{type(err).__name__}: {err}"

    kinds = list(recons)
    N = len(paths)
    np.savez_compressed(
        args.out / "vectors.npz",
        original_float=orig_hwc.astype(np.float32),  # N x S x S x 3: official tokenizer input (eval_transform of the q100 JPEG)
        original_float_no_jpeg=no_jpeg.permute(0, 2, 3, 1).numpy(),  # eval_transform of the PNG itself
        jpeg_q100_decoded_0=decoded_u8[0], jpeg_q100_decoded_1=decoded_u8[1],
        jpeg_q100_decoded_2=decoded_u8[2], jpeg_q100_decoded_3=decoded_u8[3],  # H x W x 3 uint8, original size
        recon_float=np.concatenate([recons[k] for k in kinds]),  # (K*N) x S x S x 3 float32, unclamped
        pair_original=np.tile(np.arange(N), len(kinds)),
        real_u8=np.concatenate([views[k][0] for k in kinds]),  # per pair: uint8 the Inception got (real)
        fake_u8=np.concatenate([views[k][1] for k in kinds]),  # per pair: uint8 the Inception got (fake)
        inception_real=np.concatenate([features[k][0] for k in kinds]),  # float64 '2048' features
        inception_fake=np.concatenate([features[k][1] for k in kinds]),
        **{f"mu_real_{k}": stats[k]["mu_real"] for k in kinds},
        **{f"mu_fake_{k}": stats[k]["mu_fake"] for k in kinds},
        **{f"sigma_real_diag_{k}": np.diag(stats[k]["sigma_real"]) for k in kinds},
        **{f"sigma_fake_diag_{k}": np.diag(stats[k]["sigma_fake"]) for k in kinds},
        **{f"sigma_real_block64_{k}": stats[k]["sigma_real"][:64, :64] for k in kinds},
        **{f"sigma_fake_block64_{k}": stats[k]["sigma_fake"][:64, :64] for k in kinds},
    )
    commit = args.commit or subprocess.run(["git", "-C", str(official), "rev-parse", "HEAD"],
                                           capture_output=True, text=True).stdout.strip()
    meta = {
        "source": "github.com/bytedance/1d-tokenizer: data/convert_imagenet_to_wds.py (convert_imagenet_to_wds), "
                  "data/webdataset_reader.py (SimpleImageDataset, ImageTransform), utils/train_utils.py "
                  f"(eval_reconstruction, L{first}-{last}), evaluator/evaluator.py (VQGANEvaluator, get_covariance), "
                  "evaluator/inception.py",
        "official_commit": commit or None,
        "size": SIZE,
        "per_gpu_batch_size": BATCH,
        "loader_batches": loader_batches,
        "loader_label_order": order.tolist(),
        "num_val_shards": len(val_shards),
        "crops": [dict(zip(("name", "row", "col", "height", "width"), c)) for c in CROPS],
        "pair_kind": [k for k in kinds for _ in range(N)],
        "kinds": kinds,
        "jpeg_quality": JPEG_QUALITY,
        "noise_std": NOISE_STD,
        "val_jpeg_encoding": jpeg_info,
        "jpeg_q100_psnr_vs_png_crop_float": [
            float(-10 * np.log10(np.mean((no_jpeg[i].numpy().astype(np.float64) - originals[i].numpy()) ** 2)))
            for i in range(N)],
        "weights_sha256": weights_sha256,
        "weights_seeds": {"inception_fidelity_compat": INCEPTION_SEED},
        "weights_builder": "helpers_inception.write_fidelity_inception_weights (kaiming_normal_ conv/linear, zero bias)",
        "weights_file_name": FID_FILE,
        "load_state_dict_from_url_calls": [c[0][0] if c[0] else c[1].get("url") for c in url_recorder.calls],
        "weights_layout": layout,
        "inception_dtypes": {**dtypes, "conv_input": sorted(set(conv_in)),
                             "features_2048": stats[kinds[0]]["feature_dtype"]},
        "results": results,
        "stats": {k: {"num_examples": stats[k]["num_examples"], "num_updates": stats[k]["num_updates"],
                      "trace_sigma_real": float(np.trace(stats[k]["sigma_real"])),
                      "trace_sigma_fake": float(np.trace(stats[k]["sigma_fake"])),
                      "fro_sigma_real": float(np.linalg.norm(stats[k]["sigma_real"])),
                      "fro_sigma_fake": float(np.linalg.norm(stats[k]["sigma_fake"]))} for k in kinds},
        "resize_rule": resize_rule,
        "checks": {"tokenizer_input_equals_float32_u_div_255": float_table,
                   "real_u8_equals_resized_crop_u8": True, "fake_u8_equals_round_half_even_of_clamped": True,
                   "u8_over_255_times_255_table_exact": u8_table_exact, "ties": ties_rule},
        "versions": {m: metadata.version(m) for m in ("torch", "torchvision", "numpy", "scipy", "torch-fidelity",
                                                      "webdataset", "Pillow")},
        "libjpeg": {"jpg": PIL.features.version("jpg"), "libjpeg_turbo": PIL.features.version("libjpeg_turbo")},
        "create_dataloader_with_titok_config": create_dataloader_check,
    }
    (args.out / "vectors.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps({"results": results, "checks": meta["checks"], "jpeg": jpeg_info[:1]}, indent=1))


if __name__ == "__main__":
    main()
