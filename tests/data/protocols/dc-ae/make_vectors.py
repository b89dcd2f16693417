"""Record the official DC-AE (efficientvit aecore) evaluation's own outputs on a few photo crops (CPU).

Usage (outside the project's test run; the official code is not part of the project):

    /work/main/.venv/bin/python make_vectors.py /work/official/efficientvit \
        --commit de7d7733cc0329f391b33f1f459271562ec27bd5 \
        --torchmetrics 1.8.2=site_tm1.8.2 --torchmetrics 1.4.1=site_tm1.4.1 \
        --torchmetrics 1.4.3=site_tm1.4.3 --torchmetrics 1.9.0=site_tm1.9.0

The first ``--torchmetrics`` is the primary run (FID included); each version runs in its own
subprocess (``--worker``) with ``PYTHONPATH=<site dir>:site:<checkout>``. ``site/`` holds omegaconf
2.3.0, lightning-utilities 0.15.2 and timm 1.0.19 (``pip install --target``); each ``site_tm<v>/``
one torchmetrics (``pip install --no-deps --target``).

(recorded from mit-han-lab/efficientvit de7d7733cc0329f391b33f1f459271562ec27bd5, an archive of it
in /work/official/efficientvit)

What runs is the official code itself, from the checkout:

- ``efficientvit.aecore.data_provider.imagenet.ImageNetDataProvider`` (its ``build_transform``:
  ``DMCrop`` from ``apps/utils/image.py`` + ``ToTensor`` + ``Normalize(image_mean, image_std)``, a
  torchvision ``ImageFolder`` on ``<data_dir>/val``, the ``DistributedRangedSampler`` and
  ``DataLoader`` of ``build_dataloader``) built from the official ``EvaluatorConfig`` dataclass (its
  class statement read from ``aecore/evaluator.py`` with ``ast``) through ``OmegaConf.structured`` /
  ``to_object`` as ``applications/dc_ae/eval_dc_ae_model.py`` does, with ``resolution`` 48 (it sets
  512) and ``batch_size`` per layout;
- the statements of ``Evaluator.evaluate_single_dataloader`` (``aecore/evaluator.py``), read with
  ``ast`` and executed: the metric constructors (``FIDStats``, ``PSNRStats``,
  ``StructuralSimilarityIndexMeasure(data_range=(0.0, 255.0))``,
  ``LearnedPerceptualImagePatchSimilarity(normalize=True)``), the loop body from ``images =
  images.cuda()`` and ``if compute_fid:`` to the LPIPS update (``output * 0.5 + 0.5`` into
  ``fid_stats.add_data``, both ``(255 * ((x + 1) / 2) + 0.5).clamp(0, 255).to(torch.uint8)`` views,
  ``psnr.add_data``, ``ssim.update``, ``lpips.update(ref / 255, pred / 255)``) and the final
  ``fid_stats.compute_fid()``, ``psnr.compute()``, ``ssim.compute().item()``, ``lpips.compute().item()``;
- ``applications/dc_ae/generate_reference.py``: loaded as a module; its ``main()`` statements from
  ``cfg = OmegaConf.to_object(...)`` (with ``sys.argv`` set to the README command line:
  ``dataset=imagenet imagenet.resolution=... imagenet.image_mean=[0.,0.,0.] imagenet.image_std=[1.,1.,1.]
  split=test fid.save_path=...``) through ``fid_stats.get_stats()``, which saves the reference npz;
  once more with the default mean/std (0.5) to show what the README's overrides prevent.

Stand-ins (only for what needs a GPU, a process group, a checkpoint or a download):
``.cuda()`` of modules and tensors returns them unchanged and ``Tensor.is_cuda`` reads True (the code
hard-codes CUDA; CPU bits differ from GPU bits, e.g. CUDA divides by 255 as a product with the
reciprocal); the model (``output_dict = {"output": <recorded reconstruction, unclamped>}``; the
``valid_loss`` meter, the image saving and tqdm lines are not executed); ``dist_init`` and
``torch.cuda.set_device`` are skipped (``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set per simulated rank);
``torch.distributed`` collectives for the final syncs (``is_initialized`` True, ``all_gather`` replays
what every simulated rank contributed, recorded in a first pass on copies of each rank's metrics,
so efficientvit's ``sync_tensor`` and torchmetrics' ``gather_all_tensors`` run as they are); weights
random (kaiming) from the project helpers, put where the official loaders look
(``$TORCH_HOME/hub/checkpoints``): pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (loaded by
efficientvit's ``fid_inception_v3`` via ``load_state_dict_from_url``) and torchvision's
``alexnet-owt-7be5be79.pth`` (loaded by torchmetrics' LPIPS backbone); the LPIPS linear heads are the
``lpips_models/alex.pth`` shipped inside the torchmetrics wheel (the real ones). ``onnx``/``onnxsim``
(imported by ``efficientvit.apps.utils.export`` through the package ``__init__``, unused here) are
empty stand-in modules.

Per-image values: PSNR from ``compute_psnr`` (wrapped, it returns the per-image tensor); SSIM and
LPIPS by running the official setup + loop + final statements on a one-pair loader (world size 1);
Inception features by wrapping ``fid_stats.model``.

Outputs (in this folder): ``inputs/*.png``, ``vectors.npz``, ``vectors.json``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import importlib.machinery
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
from contextlib import contextmanager, nullcontext
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HELPERS = Path(__file__).resolve().parents[3] / "helpers"  # tests/helpers
SIZE = 48  # the official resolution for these vectors (the README evaluates at 512)
CROPS = [  # the same crops as the llamagen vectors (PIL size = width x height)
    ("astronaut", 10, 150, 230, 200),  # two BOX halvings, 57*0.96 = 54.72 -> 55, crop_y 3
    ("chelsea", 40, 100, 64, 86),  # 86*0.75 = 64.5 -> round() = 64 (half-even), crop_x 8
    ("coffee", 100, 250, 90, 64),  # 90*0.75 = 67.5 -> 68, crop_y 10
    ("rocket", 200, 150, 48, 71),  # min side 48: BICUBIC to the same size, crop_x 23 // 2 = 11
    ("coffee", 20, 40, 40, 61),  # upscaling: 61*1.2 = 73.2 -> 73, crop_x 12
    ("astronaut", 300, 300, 48, 48),  # already 48x48: DMCrop returns the image unchanged
    ("rocket", 50, 300, 96, 130),  # min side exactly 2*48: one BOX halving, crop_x 8
]
NOISE_STD = 0.1
JPEG_QUALITY = 50
KINDS = ("jpeg-q50", "noisy", "grid")
LAYOUTS = [(1, 64), (2, 4), (8, 2)]  # (world size, batch size per rank)
REF_LAYOUTS = [(1, 64), (2, 4)]


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


def run(nodes, namespace: dict, filename: str) -> None:
    nodes = nodes if isinstance(nodes, list) else [nodes]
    exec(compile(ast.Module(body=list(nodes), type_ignores=[]), filename, "exec"), namespace)  # noqa: S102


def stub_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    sys.modules[name] = module
    return module


def load_module(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def evaluator_nodes(path: Path) -> dict:
    """The statements of aecore/evaluator.py that are executed (see the module docstring)."""
    tree = ast.parse(path.read_text())
    src = lambda n: ast.unparse(n)  # noqa: E731
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module in (
        "torchmetrics.image", "efficientvit.apps.metrics.fid.fid", "efficientvit.apps.metrics.psnr.psnr")]
    config_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "EvaluatorConfig")
    evaluator = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Evaluator")
    method = next(n for n in evaluator.body if isinstance(n, ast.FunctionDef) and n.name == "evaluate_single_dataloader")
    body = method.body
    with_node = next(n for n in body if isinstance(n, ast.With))
    before = body[: body.index(with_node)]
    setup = [n for n in before if isinstance(n, ast.Assign) and src(n.targets[0]) in ("compute_fid", "fid_stats")]
    setup += [n for n in before if isinstance(n, ast.If) and src(n.test) in (
        "self.cfg.compute_psnr", "self.cfg.compute_ssim", "self.cfg.compute_lpips")]
    loop = next(n for n in ast.walk(with_node) if isinstance(n, ast.For))
    first = next(i for i, n in enumerate(loop.body) if isinstance(n, ast.If) and src(n.test) == "compute_fid")
    last = next(i for i, n in enumerate(loop.body) if isinstance(n, ast.If) and src(n.test) == "self.cfg.compute_lpips")
    cuda = [n for n in loop.body if isinstance(n, ast.Assign) and src(n) == "images = images.cuda()"]
    loop_stmts = cuda + loop.body[first : last + 1]
    after = body[body.index(with_node) + 1 :]
    final = [n for n in after if isinstance(n, ast.If) or (isinstance(n, ast.Expr) and "empty_cache" in src(n))]
    assert len(setup) == 5 and len(cuda) == 1 and len(loop_stmts) == 7 and len(final) == 5, (len(setup), len(loop_stmts), len(final))
    return {"imports": imports, "config_class": config_class, "setup": setup, "loop": loop_stmts, "final": final,
            "loop_source": [src(n) for n in loop_stmts]}


class Recorder:
    def __init__(self, fn, copy_args: bool = False):
        self.fn, self.calls, self.copy_args = fn, [], copy_args

    def __call__(self, *args, **kwargs):
        inputs = [a.detach().clone() for a in args] if self.copy_args else None
        out = self.fn(*args, **kwargs)
        self.calls.append((inputs, out))
        return out

    def __getattr__(self, name):
        return getattr(self.fn, name)


class Collectives:
    """torch.distributed for simulated ranks: record each rank's all_gather inputs, then replay them."""

    def __init__(self, world_size: int):
        self.world_size, self.log, self.mode, self.rank, self.k = world_size, {r: [] for r in range(world_size)}, "record", 0, 0

    def all_gather(self, tensor_list, tensor, group=None, async_op=False):
        if self.mode == "record":
            self.log[self.rank].append(tensor.detach().clone())
            for t in tensor_list:
                t.copy_(tensor)
        else:
            for r, t in enumerate(tensor_list):
                t.copy_(self.log[r][self.k])
            self.k += 1

    def get_world_size(self, group=None):
        return self.world_size

    def get_rank(self, group=None):
        return self.rank

    def barrier(self, *args, **kwargs):
        pass


@contextmanager
def patched(obj, **attrs):
    own = getattr(obj, "__dict__", {})
    saved = {k: (k in own, own.get(k)) for k in attrs}
    for k, v in attrs.items():
        setattr(obj, k, v)
    try:
        yield
    finally:
        for k, (had, v) in saved.items():
            if had:
                setattr(obj, k, v)
            else:
                delattr(obj, k)


@contextmanager
def fake_cuda():
    import torch

    with patched(torch.nn.Module, cuda=lambda self, *a, **k: self), \
            patched(torch.Tensor, cuda=lambda self, *a, **k: self, is_cuda=property(lambda self: True)):
        yield


@contextmanager
def distributed(coll: Collectives, rank: int):
    import torch

    coll.rank = rank
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(coll.world_size), LOCAL_RANK=str(rank))
    with patched(torch.distributed, is_initialized=lambda: True, is_available=lambda: True, all_gather=coll.all_gather,
                 get_world_size=coll.get_world_size, get_rank=coll.get_rank, barrier=coll.barrier):
        yield


def grid_pixels(shape, rng) -> np.ndarray:
    levels = np.arange(-40, 1061) / 4.0
    return rng.permutation(np.resize(levels, int(np.prod(shape)))).reshape(shape)


# ----------------------------------------------------------------------------------------------
def worker(official: Path, out: Path, compute_fid: bool) -> None:
    """One torchmetrics version: every official computation; writes out/partial.npz and partial.json."""
    import torch
    import torchmetrics
    from PIL import Image

    torch.set_num_threads(1)
    stub_module("onnx")
    stub_module("onnxsim").simplify = None
    sys.path.insert(0, str(official))
    sys.path.insert(0, str(HELPERS))
    from omegaconf import OmegaConf

    import efficientvit.apps.metrics.psnr.psnr as psnr_module
    from efficientvit.aecore.data_provider.imagenet import ImageNetDataProvider, ImageNetDataProviderConfig
    from efficientvit.apps.metrics.fid.fid import FIDStats, FIDStatsConfig
    from efficientvit.apps.utils.image import DMCrop

    work = Path(tempfile.mkdtemp(prefix="dcae_vectors_"))
    os.environ["TORCH_HOME"] = str(work / "torch_home")
    from helpers_inception import write_pytorch_fid_inception_weights
    from helpers_lpips import random_backbone_file

    hub = work / "torch_home" / "hub" / "checkpoints"
    weight_files = {
        "pytorch_fid": write_pytorch_fid_inception_weights(hub / "pt_inception-2015-12-05-6726825d.pth", seed=1),
        "alex": random_backbone_file("alex", hub / "alexnet-owt-7be5be79.pth", seed=0),
    }

    filename = str(official / "efficientvit" / "aecore" / "evaluator.py")
    nodes = evaluator_nodes(Path(filename))
    base_ns: dict = {"torch": torch, "np": np, "__name__": "official_evaluator"}
    run(nodes["imports"], base_ns, filename)
    cfg_module = types.ModuleType("official_evaluator_cfg")  # dataclasses look their module up in sys.modules
    sys.modules[cfg_module.__name__] = cfg_module
    cfg_ns = cfg_module.__dict__
    exec("from dataclasses import dataclass, field\nfrom typing import Any, Optional\nfrom omegaconf import MISSING", cfg_ns)  # noqa: S102
    cfg_ns.update(ImageNetDataProviderConfig=ImageNetDataProviderConfig, FIDStatsConfig=FIDStatsConfig,
                  PSNRStatsConfig=psnr_module.PSNRStatsConfig)
    run(nodes["config_class"], cfg_ns, filename)
    EvaluatorConfig = cfg_ns["EvaluatorConfig"]

    paths = sorted((out.parent / "inputs").glob("*.png"), key=lambda p: int(p.name.split("_")[0]))
    n_orig = len(paths)

    # --- originals through the official transform; reconstructions --------------------------
    def data_provider(world_size: int, rank: int, batch_size: int, files, mean=None, std=None, resolution=SIZE):
        root = work / f"data_{len(files)}_{abs(hash(tuple(map(str, files)))) % 10**8}"
        if not root.exists():
            for split in ("train", "val"):
                (root / split / "class0").mkdir(parents=True)
                for k, p in enumerate(files):
                    shutil.copy(p, root / split / "class0" / f"{k:04d}.png")
        cfg = OmegaConf.structured(EvaluatorConfig)  # as eval_dc_ae_model.py builds it
        cfg.run_dir = str(work / "run")
        cfg.resolution = resolution
        cfg.dataset = "imagenet"
        cfg.imagenet.batch_size = batch_size
        cfg.imagenet.data_dir = str(root)
        cfg.imagenet.n_worker = 0
        if mean is not None:
            cfg.imagenet.image_mean, cfg.imagenet.image_std = mean, std
        cfg.fid.ref_path = None
        cfg.model = "stand-in"
        cfg = OmegaConf.to_object(cfg)
        os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
        return cfg, ImageNetDataProvider(cfg.imagenet)

    cfg, provider = data_provider(1, 0, 64, paths)
    transform = provider.test_dataset.transform
    dmcrop = transform.transforms[0]
    assert isinstance(dmcrop, DMCrop) and cfg.imagenet.resolution == SIZE
    orig_u8 = np.stack([np.array(dmcrop(Image.open(p).convert("RGB"))) for p in paths])
    orig_float = np.stack([provider.test_dataset[k][0].permute(1, 2, 0).numpy() for k in range(n_orig)])
    rng = np.random.default_rng(0)
    recons, pair_original, pair_kind = [], [], []
    for i in range(n_orig):
        buffer = io.BytesIO()
        Image.fromarray(orig_u8[i]).save(buffer, format="JPEG", quality=JPEG_QUALITY)
        recons.append(transform(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")).permute(1, 2, 0).numpy())
        pair_original.append(i), pair_kind.append(f"jpeg-q{JPEG_QUALITY}")
    for i in range(n_orig):
        recons.append(orig_float[i] + rng.normal(0.0, NOISE_STD, size=orig_float[i].shape).astype(np.float32))
        pair_original.append(i), pair_kind.append("noisy")
    for i in range(n_orig):  # pixel levels t with 255 * (x + 1) / 2 = t: ties at halves, clamped ends
        recons.append((2.0 * grid_pixels(orig_float[i].shape, rng) / 255.0 - 1.0).astype(np.float32))
        pair_original.append(i), pair_kind.append("grid")
    recons = np.stack(recons).astype(np.float32)
    pair_original = np.asarray(pair_original)
    recon_nchw = torch.from_numpy(recons).permute(0, 3, 1, 2).contiguous()
    pair_files = [paths[i] for i in pair_original]
    n_pairs = len(pair_files)

    # --- the reference statistics: generate_reference.py -----------------------------------
    gen_path = official / "applications" / "dc_ae" / "generate_reference.py"
    gen_mod = load_module("dcae_generate_reference", gen_path)
    gen_main = next(n for n in ast.parse(gen_path.read_text()).body if isinstance(n, ast.FunctionDef) and n.name == "main")
    gen_cfg_nodes = gen_main.body[:3]  # default_cfg, cli_cfg, cfg
    start = next(i for i, n in enumerate(gen_main.body) if isinstance(n, ast.If))
    gen_body, gen_final = gen_main.body[start:-1], gen_main.body[-1:]
    assert ast.unparse(gen_final[0]) == "fid_stats.get_stats()"

    def reference(world_size: int, batch_size: int, readme_overrides: bool, name: str, files=None, resolution=SIZE,
                  finalize=True):
        files = paths if files is None else files
        root = work / f"ref_data_{name}"
        for split in ("train", "val"):
            (root / split / "class0").mkdir(parents=True)
            for k, p in enumerate(files):
                shutil.copy(p, root / split / "class0" / f"{k:04d}.png")
        save = work / f"ref_{name}.npz"
        argv = ["generate_reference", "dataset=imagenet", f"imagenet.resolution={resolution}"]
        if readme_overrides:
            argv += ["imagenet.image_mean=[0.,0.,0.]", "imagenet.image_std=[1.,1.,1.]"]
        argv += ["split=test", f"fid.save_path={save}", f"imagenet.data_dir={root}", "imagenet.n_worker=0",
                 f"imagenet.batch_size={batch_size}"]
        coll, states, fed, feats = Collectives(world_size), [], [], []
        for rank in range(world_size):
            ns = dict(gen_mod.__dict__)
            with patched(sys, argv=argv):
                run(gen_cfg_nodes, ns, str(gen_path))
            os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
            with fake_cuda():
                ns["FIDStats"] = wrapped_fidstats(fed, feats)
                run(gen_body, ns, str(gen_path))
            states.append(ns)
        if not finalize:
            return {"fid_view": torch.cat(fed).permute(0, 2, 3, 1).numpy()}
        for rank in range(world_size):  # first pass: what each rank contributes to the collectives
            with fake_cuda(), distributed(coll, rank):
                copy.copy(states[rank]["fid_stats"]).get_stats() if world_size > 1 else None
        coll.mode = "replay"
        with fake_cuda(), (distributed(coll, 0) if world_size > 1 else nullcontext()):
            os.environ.update(RANK="0", WORLD_SIZE=str(world_size), LOCAL_RANK="0")
            run(gen_final, states[0], str(gen_path))
        data = np.load(save)
        return {"mu": data["mu"], "sigma": data["sigma"], "path": save, "fid_view": torch.cat(fed).permute(0, 2, 3, 1).numpy(),
                "features": np.concatenate(feats), "cfg": {"image_mean": list(states[0]["cfg"].imagenet.image_mean),
                                                         "image_std": list(states[0]["cfg"].imagenet.image_std)}}

    def wrapped_fidstats(fed: list, feats: list):
        class RecordingFIDStats(FIDStats):
            """The official FIDStats; its Normalize input and network output are recorded."""

            def __init__(self, cfg):
                super().__init__(cfg)
                normalize, model = self.transform, self.model

                def transform(batch):
                    fed.append(batch.detach().clone())  # batch / 255 (float32), before the in-place Normalize
                    return normalize(batch)

                def forward(batch):
                    out = model(batch)
                    feats.append(out[0].detach().squeeze(3).squeeze(2).numpy().copy())
                    return out

                self.transform, self.model = transform, forward

        return RecordingFIDStats

    refs = {}
    if compute_fid:
        for world_size, batch_size in REF_LAYOUTS:
            refs[f"readme_{world_size}x{batch_size}"] = reference(world_size, batch_size, True, f"readme_{world_size}x{batch_size}")
        refs["default_mean_std_1x64"] = reference(1, 64, False, "default")

    # --- the official evaluation ---------------------------------------------------------------
    def evaluate(world_size: int, batch_size: int, files, recon, ref_path, do_fid: bool, loaders=None, resolution=SIZE,
                 flags=None, finalize=True):
        coll, states = Collectives(world_size), []
        for rank in range(world_size):
            cfg, provider = data_provider(world_size, rank, batch_size, files, resolution=resolution)
            cfg.compute_fid = do_fid
            for key, value in (flags or {}).items():
                setattr(cfg, key, value)
            cfg.fid.ref_path = ref_path
            ns = dict(base_ns)
            ns.update(self=types.SimpleNamespace(cfg=cfg), device=torch.device("cpu"))
            fed, feats = [], []
            psnr_rec = Recorder(psnr_module.compute_psnr)
            with fake_cuda(), patched(psnr_module, compute_psnr=psnr_rec):
                ns["FIDStats"] = wrapped_fidstats(fed, feats)
                run(nodes["setup"], ns, filename)
                loader = loaders if loaders is not None else provider.test
                order = [int(i) for i in loader.sampler] if loaders is None else list(range(len(recon)))
                remaining = list(order)
                views = {"ref_u8": [], "pred_u8": []}
                for images, _ in loader:
                    ids = [remaining.pop(0) for _ in range(images.shape[0])]
                    ns["images"] = images
                    ns["output_dict"] = {"output": recon[ids].clone(), "loss": torch.zeros(())}
                    run(nodes["loop"], ns, filename)
                    views["ref_u8"].append(ns["images_ref_uint8"].permute(0, 2, 3, 1).numpy().copy())
                    views["pred_u8"].append(ns["images_pred_uint8"].permute(0, 2, 3, 1).numpy().copy())
            states.append({"ns": ns, "order": order, "fed": fed, "feats": feats, "psnr_calls": psnr_rec.calls, "views": views})
        if not finalize:
            return None, states
        metric_names = [k for k in ("fid_stats", "psnr", "ssim", "lpips") if k in states[0]["ns"]]
        if world_size > 1:
            for rank in range(world_size):  # first pass on copies: each rank's contributions to the collectives
                ns = dict(states[rank]["ns"])
                ns.update({k: (copy.copy(ns[k]) if k in ("fid_stats", "psnr") else copy.deepcopy(ns[k])) for k in metric_names})
                ns["valid_info_dict"] = {}
                with fake_cuda(), distributed(coll, rank):
                    run(nodes["final"], ns, filename)
            coll.mode = "replay"
        ns0 = states[0]["ns"]
        ns0["valid_info_dict"] = {}
        with fake_cuda(), (distributed(coll, 0) if world_size > 1 else nullcontext()):
            os.environ.update(RANK="0", WORLD_SIZE=str(world_size), LOCAL_RANK="0")
            run(nodes["final"], ns0, filename)
        return ns0["valid_info_dict"], states

    results = {"layouts": [], "per_pair": {}}
    arrays = {}
    ref_path = str(refs["readme_1x64"]["path"]) if compute_fid else None
    for world_size, batch_size in LAYOUTS:
        info, states = evaluate(world_size, batch_size, pair_files, recon_nchw, ref_path, compute_fid)
        entry = {"world_size": world_size, "batch_size": batch_size, **{k: float(v) for k, v in info.items()},
                 "evaluated_pair_ids": [s["order"] for s in states]}
        if compute_fid and world_size == 1:  # the same official compute_fid against the other reference files
            for name in ("readme_2x4", "default_mean_std_1x64"):
                entry[f"fid_vs_ref_{name}"] = float(gen_frechet(states[0]["ns"]["fid_stats"], refs[name]["path"]))
        results["layouts"].append(entry)
        if (world_size, batch_size) == LAYOUTS[0]:
            single = states[0]
            assert single["order"] == list(range(n_pairs))
            arrays["psnr"] = torch.cat([c[1] for c in single["psnr_calls"]]).numpy()
            arrays["ref_u8"] = np.concatenate(single["views"]["ref_u8"])
            arrays["pred_u8"] = np.concatenate(single["views"]["pred_u8"])
            if compute_fid:
                arrays["fid_view_rec"] = torch.cat(single["fed"]).permute(0, 2, 3, 1).numpy()
                arrays["inception_rec"] = np.concatenate(single["feats"]).astype(np.float32)
                mu, sigma = single["ns"]["fid_stats"].get_stats()
                arrays["rec_mu"], arrays["rec_sigma"] = mu, sigma
    # per pair: SSIM and LPIPS through the official lines on a one-pair loader
    ssim_pp, lpips_pp = [], []
    for k in range(n_pairs):
        images = torch.from_numpy(orig_float[pair_original[k]]).permute(2, 0, 1).unsqueeze(0).contiguous()
        info, _ = evaluate(1, 1, pair_files[k : k + 1], recon_nchw[k : k + 1], None, False, loaders=[(images, torch.zeros(1))])
        ssim_pp.append(info["ssim"]), lpips_pp.append(info["lpips"])
    arrays["ssim"] = np.asarray(ssim_pp, dtype=np.float64)
    arrays["lpips"] = np.asarray(lpips_pp, dtype=np.float64)
    arrays.update(original_u8=orig_u8, original_float=orig_float, recon_float=recons, pair_original=pair_original)
    # every uint8 value: a 16x16 image at resolution 16 (DMCrop returns it unchanged) through the official
    # transform, the loop's uint8 views (the reconstruction = the input float) and both FID views
    table_png = work / "table.png"
    Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)).save(table_png)
    _, table_provider = data_provider(1, 0, 64, [table_png], resolution=16)
    table_float = table_provider.test_dataset[0][0].unsqueeze(0)
    _, table_states = evaluate(1, 64, [table_png], table_float.clone(), None, compute_fid, resolution=16,
                               flags={"compute_ssim": False, "compute_lpips": False}, finalize=False)
    arrays["table_u8_to_float"] = table_float[0, 0].flatten().numpy()
    arrays["table_ref_u8"] = table_states[0]["views"]["ref_u8"][0][..., 0].flatten()
    arrays["table_pred_u8"] = table_states[0]["views"]["pred_u8"][0][..., 0].flatten()
    if compute_fid:
        arrays["table_rec_fid_view"] = table_states[0]["fed"][0][0, 0].flatten().numpy()
        table_ref = reference(1, 64, True, "table", files=[table_png], resolution=16, finalize=False)
        arrays["table_ref_fid_view"] = table_ref["fid_view"][0, ..., 0].flatten()
    if compute_fid:
        for name, ref in refs.items():
            arrays[f"ref_{name}_mu"], arrays[f"ref_{name}_sigma"] = ref["mu"], ref["sigma"]
            arrays[f"ref_{name}_fid_view"] = ref["fid_view"]
            arrays[f"ref_{name}_features"] = ref["features"].astype(np.float32)
        arrays["inception_ref"] = refs["readme_1x64"]["features"].astype(np.float32)
    np.savez_compressed(out / "partial.npz", **arrays)
    meta = {
        "torchmetrics": torchmetrics.__version__, "results": results, "pair_kind": pair_kind,
        "loop_source": nodes["loop_source"],
        "weights_sha256": {k: sha256(v) for k, v in weight_files.items()},
        "lpips_heads_sha256": sha256(Path(torchmetrics.__file__).parent / "functional" / "image" / "lpips_models" / "alex.pth"),
        "reference_cfg": {k: v["cfg"] for k, v in refs.items()},
    }
    (out / "partial.json").write_text(json.dumps(meta, indent=1) + "\n")


def gen_frechet(fid_stats, ref_path) -> float:
    """fid_stats.compute_fid() against another reference file (the official method, cfg.ref_path swapped)."""
    other = copy.copy(fid_stats)
    other.cfg = copy.copy(fid_stats.cfg)
    other.cfg.ref_path = str(ref_path)
    with fake_cuda():
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
        return other.compute_fid()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("official", type=Path, help="checkout of github.com/mit-han-lab/efficientvit")
    parser.add_argument("--commit", help="the checkout's commit, recorded")
    parser.add_argument("--torchmetrics", action="append", default=[], help="VERSION=SITE_DIR; the first is primary")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--compute-fid", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    official = args.official.resolve()
    if args.worker:
        worker(official, args.worker, bool(args.compute_fid))
        return

    import skimage.data
    from PIL import Image

    inputs = args.out / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    for index, (name, row, col, height, width) in enumerate(CROPS):
        Image.fromarray(getattr(skimage.data, name)()[row : row + height, col : col + width]).save(
            inputs / f"{index}_{name}_{width}x{height}.png")

    partials = {}
    for position, spec in enumerate(args.torchmetrics):
        version, site = spec.split("=", 1)
        wdir = args.out / f"_worker_{version}"
        wdir.mkdir(exist_ok=True)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str((HERE / site).resolve()), str(HERE / "site"), str(official)]))
        subprocess.run([sys.executable, __file__, str(official), "--worker", str(wdir), "--compute-fid", str(int(position == 0))],
                       env=env, check=True)
        meta = json.loads((wdir / "partial.json").read_text())
        assert meta["torchmetrics"] == version, (meta["torchmetrics"], version)
        partials[version] = (meta, dict(np.load(wdir / "partial.npz")))

    primary = args.torchmetrics[0].split("=", 1)[0]
    meta0, arrays = partials[primary]
    arrays = dict(arrays)
    versions_meta = {}
    for version, (meta, arr) in partials.items():
        for key in ("original_float", "recon_float", "ref_u8", "pred_u8", "psnr"):
            assert np.array_equal(arr[key], arrays[key]), (version, key)
        tag = "tm" + version.replace(".", "")
        arrays[f"ssim_{tag}"], arrays[f"lpips_{tag}"] = arr["ssim"], arr["lpips"]
        versions_meta[version] = {
            "array_suffix": tag,
            "layouts": [{k: v for k, v in layout.items() if k in ("world_size", "batch_size", "ssim", "lpips")}
                        for layout in meta["results"]["layouts"]],
            "lpips_heads_sha256": meta["lpips_heads_sha256"],
        }
    del arrays["ssim"], arrays["lpips"]
    sigma_summaries = reduce_sigmas(arrays)
    np.savez_compressed(args.out / "vectors.npz", **arrays)
    out_meta = {
        "source": "github.com/mit-han-lab/efficientvit: efficientvit/aecore/evaluator.py, efficientvit/aecore/data_provider/{base,imagenet}.py, "
                  "efficientvit/apps/utils/image.py (DMCrop), efficientvit/apps/data_provider/sampler.py, efficientvit/apps/metrics/fid/{fid,inception}.py, "
                  "efficientvit/apps/metrics/psnr/psnr.py, efficientvit/apps/utils/dist.py, applications/dc_ae/generate_reference.py",
        "official_commit": args.commit,
        "size": SIZE,
        "crops": [dict(zip(("name", "row", "col", "height", "width"), c)) for c in CROPS],
        "pair_kind": meta0["pair_kind"], "jpeg_quality": JPEG_QUALITY, "noise_std": NOISE_STD,
        "grid": "pixel levels t = arange(-40, 1061)/4 tiled and permuted (default_rng(0) stream after the noise), x = float32(2 t / 255 - 1)",
        "primary_torchmetrics": primary,
        "layouts_primary": meta0["results"]["layouts"],
        "torchmetrics_versions": versions_meta,
        "loop_source": meta0["loop_source"],
        "reference_cfg": meta0["reference_cfg"],
        "sigma_summaries": sigma_summaries,
        "weights": {
            "pytorch_fid": {"builder": "helpers_inception.write_pytorch_fid_inception_weights", "seed": 1, "sha256": meta0["weights_sha256"]["pytorch_fid"],
                            "file": "$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth"},
            "alex": {"builder": "helpers_lpips.random_backbone_file('alex')", "seed": 0, "sha256": meta0["weights_sha256"]["alex"],
                     "file": "$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth"},
            "lpips_alex_heads": {"file": "torchmetrics/functional/image/lpips_models/alex.pth (shipped in the wheel)", "sha256": meta0["lpips_heads_sha256"]},
        },
        "versions": {**{m: metadata.version(m) for m in ("torch", "torchvision", "numpy", "scipy", "Pillow")},
                     "omegaconf": "2.3.0", "lightning-utilities": "0.15.2", "timm": "1.0.19 (imported, unused)",
                     "torchmetrics": list(partials)},
    }
    (args.out / "vectors.json").write_text(json.dumps(out_meta, indent=1) + "\n")
    for version in partials:
        shutil.rmtree(args.out / f"_worker_{version}")
    print(json.dumps({"primary": meta0["results"]["layouts"], "versions": versions_meta}, indent=1)[:6000])


if __name__ == "__main__":
    main()
