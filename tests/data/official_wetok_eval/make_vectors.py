"""Record the official WeTok evaluation's own outputs on a few real photo crops (CPU).

Usage (outside the project's test run; the official code is not part of the project):

    .venv/bin/python tests/data/official_wetok_eval/make_vectors.py /work/official/WeTok [--commit SHA]

(recorded from commit caa2ad7e709cdabe8432bead448f7514def13919, an archive of it in /work/official/WeTok)

What runs is the official code itself, from the checkout given on the command line:

- ``ImagePaths.preprocess_image`` (``src/WeTok/data/base.py``) turns the input PNGs into the
  float tokenizer input, and the JPEG round trips (saved as PNG) into their float reconstructions;
  its ``preprocessor`` (``Resize`` + ``CenterCrop``) gives the uint8 image the JPEG encodes;
- the statements of ``evaluation_image_ddp.py``: its imports of skimage's PSNR/SSIM, lpips and
  ``metrics.inception.InceptionV3``, the statements of ``main()`` that build the metric networks and
  the accumulators, every statement of the evaluation loop's body (clamp, LPIPS, Inception features,
  the truncation to uint8, the skimage calls, the per-batch means), the ``torch.stack`` of the
  accumulators and the final divisions. They are read from the file with ``ast`` and executed;
  nothing is retyped. Stand-ins replace only what needs a GPU, a process group or a checkpoint:
  ``model`` (returns the recorded reconstruction of each pair), ``device`` (the CPU), ``dist.reduce``
  (the sum over simulated ranks is taken here, which is what a SUM reduce does).
- the batches come from torch's ``DistributedSampler(shuffle=False, drop_last=False)`` and
  ``DataLoader`` over the official ``ImagePaths`` dataset, as in the script, for several
  (ranks, batch size) layouts.

Per-image values are taken by wrapping the callables the official lines call (``psnr_loss``,
``ssim_loss``, ``lpips_alex``, ``lpips_vgg``, ``inception``): each records what it returns.

Weights: random but non-trivial (kaiming) files of the real architectures, made by the project's
own test helpers with fixed seeds (``tests/helpers_lpips.py``, ``tests/helpers_inception.py``) and
put where torchvision / the official Inception look for them (``$TORCH_HOME/hub/checkpoints``);
their sha256 is recorded so the tests can check they rebuild the same files. ``albumentations``,
imported by ``base.py`` but unused by ``ImagePaths``, is replaced by an empty module when absent.

Outputs (in this folder): ``inputs/*.png`` (photo crops), ``vectors.npz``, ``vectors.json``.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import types
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[1] / "helpers"
SIZE = 48  # the official --image_size for these vectors
# (name in skimage.data, row, column, height, width): non-square crops, so Resize + CenterCrop act
CROPS = [("astronaut", 30, 150, 90, 72), ("chelsea", 60, 120, 64, 80), ("coffee", 150, 200, 70, 96)]
NOISE_STD = 0.1  # float noise of the "noisy" reconstruction, partly outside [-1, 1]
JPEG_QUALITY = 50
LAYOUTS = [(8, 100), (4, 1), (2, 2)]  # (ranks, batch size) of the simulated official runs
PAIR_BATCH = 16  # one batch holding every pair, for the per-image recording


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def official_statements(script: Path) -> tuple[str, list[ast.stmt], list[ast.stmt], ast.For, list[ast.stmt]]:
    """The script's metric imports, main()'s set-up statements, its loop, and its final lines."""
    source = script.read_text()
    tree = ast.parse(source)
    imports = [
        node
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        and (getattr(node, "module", None) in ("skimage.metrics", "metrics.inception") or any(a.name == "lpips" for a in node.names))
    ]
    main = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main")

    def targets(node: ast.stmt) -> set[str]:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}

    setup_names = {"dims", "block_idx", "inception", "lpips_alex", "lpips_vgg", "usage_tensor", "ssim_value",
                   "psnr_value", "lpips_alex_sum", "lpips_vgg_sum", "img_cnt", "iter_cnt", "feats_ref", "feats_rec"}
    with_node = next(n for n in main.body if isinstance(n, ast.With))
    before_loop = main.body[: main.body.index(with_node)]
    setup = [n for n in before_loop if isinstance(n, ast.Assign) and targets(n) and targets(n) <= setup_names]
    loop = next(n for n in ast.walk(with_node) if isinstance(n, ast.For))
    stack = [n for n in main.body if isinstance(n, ast.Assign) and targets(n) == {"lpips_t"}]
    final_if = next(n for n in main.body if isinstance(n, ast.If))
    final_names = {"lpips_alex_sum", "lpips_vgg_sum", "ssim_value", "psnr_value", "img_cnt", "iter_cnt",
                   "lpips_alex_val", "lpips_vgg_val", "ssim_val", "psnr_val"}
    final = [n for n in final_if.body if isinstance(n, ast.Assign) and targets(n) <= final_names]
    assert len(setup) == 13 and len(stack) == 1 and len(final) == 5, (len(setup), len(stack), len(final))
    return str(script), imports, setup, loop, stack + final


def run(nodes: list[ast.stmt], namespace: dict, filename: str) -> None:
    code = compile(ast.Module(body=list(nodes), type_ignores=[]), filename, "exec")
    exec(code, namespace)  # noqa: S102 - the official statements, read from the official file


class Recorder:
    """Wraps a callable; keeps what each call returned."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, *args, **kwargs):
        out = self.fn(*args, **kwargs)
        self.calls.append(out)
        return out

    def __getattr__(self, name):  # .to(device), .eval() of the wrapped module
        return getattr(self.fn, name)


def write_weights(torch_home: Path) -> dict[str, str]:
    sys.path.insert(0, str(TESTS))
    from helpers_inception import write_pytorch_fid_inception_weights
    from helpers_lpips import random_backbone_file

    hub = torch_home / "hub" / "checkpoints"
    files = {
        "alex": random_backbone_file("alex", hub / "alexnet-owt-7be5be79.pth", seed=0),
        "vgg": random_backbone_file("vgg", hub / "vgg16-397923af.pth", seed=0),
        "pytorch_fid": write_pytorch_fid_inception_weights(hub / "pt_inception-2015-12-05-6726825d.pth", seed=1),
    }
    return {name: sha256(path) for name, path in files.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("official", type=Path, help="checkout of github.com/zhuangshaobin/WeTok")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--commit", help="the checkout's commit, recorded (read with git when it is a clone)")
    args = parser.parse_args()
    official = args.official.resolve()

    torch_home = Path(tempfile.mkdtemp(prefix="official_wetok_eval_"))
    os.environ["TORCH_HOME"] = str(torch_home)
    weights_sha256 = write_weights(torch_home)

    import skimage.data
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, DistributedSampler

    torch.set_num_threads(1)
    sys.path.insert(0, str(official))
    try:
        import albumentations  # noqa: F401
    except ImportError:
        sys.modules["albumentations"] = types.ModuleType("albumentations")  # imported, unused by ImagePaths
    from src.WeTok.data.base import ImagePaths

    # --- inputs: photo crops as PNG files; the official loader reads them --------------------
    inputs = args.out / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, row, col, height, width in CROPS:
        path = inputs / f"{name}.png"
        Image.fromarray(getattr(skimage.data, name)()[row : row + height, col : col + width]).save(path)
        paths.append(path)
    dataset = ImagePaths([str(p) for p in paths], size=SIZE)
    originals = np.stack([dataset.preprocess_image(str(p)) for p in paths])  # N x S x S x 3 float32

    # --- reconstructions: a JPEG round trip (through the official loader) and float noise ----
    recon_dataset = ImagePaths([], original_reso=True)
    recons, pair_original, pair_kind = [], [], []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for index, path in enumerate(paths):
            u8 = np.array(dataset.preprocessor(Image.open(path).convert("RGB")))
            buffer = io.BytesIO()
            Image.fromarray(u8).save(buffer, format="JPEG", quality=JPEG_QUALITY)
            decoded = Path(tmp) / f"{index}.png"
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

    # --- the official metric lines -------------------------------------------------------
    filename, imports, setup, loop, final = official_statements(official / "evaluation_image_ddp.py")
    cwd = os.getcwd()
    os.chdir(official)  # `from metrics.inception import ...` resolves from the checkout
    namespace: dict = {"__name__": "official_eval", "torch": torch, "np": np}
    run(imports, namespace, filename)
    os.chdir(cwd)
    namespace.update(device=torch.device("cpu"), codebook_size=1)
    run(setup, namespace, filename)  # builds inception, lpips_alex, lpips_vgg and the accumulators
    networks = {name: namespace[name] for name in ("inception", "lpips_alex", "lpips_vgg")}
    metric_fns = {name: namespace[name] for name in ("psnr_loss", "ssim_loss")}

    pair_dataset = ImagePaths([str(paths[i]) for i in pair_original], size=SIZE, labels={"pair": list(range(num_pairs))})

    def official_model(images):
        ids = namespace["batch"]["pair"].tolist()
        rec = torch.from_numpy(recons[ids]).permute(0, 3, 1, 2)
        return rec, torch.zeros(len(ids), 1, dtype=torch.long)

    def evaluate(world_size: int, batch_size: int) -> dict:
        """The official loop on every simulated rank, then the SUM reduce and the final lines."""
        totals, recorders, views = None, {}, {"img_np": [], "rec_np": [], "images": [], "rec": []}
        for rank in range(world_size):
            recorders = {name: Recorder(fn) for name, fn in {**networks, **metric_fns}.items()}
            namespace.update(recorders, model=official_model)
            run([n for n in setup if not any(isinstance(t, ast.Name) and t.id in networks for t in n.targets)], namespace, filename)
            sampler = DistributedSampler(pair_dataset, num_replicas=world_size, rank=rank, shuffle=False, drop_last=False)
            loader = DataLoader(pair_dataset, batch_size=batch_size, sampler=sampler, drop_last=False)
            with torch.no_grad():
                for batch in loader:
                    namespace["batch"] = batch
                    run(loop.body, namespace, filename)
                    for key in views:
                        value = namespace[key]
                        views[key].append(value if isinstance(value, np.ndarray) else value.numpy())
            run(final[:1], namespace, filename)  # lpips_t = torch.stack([...])
            totals = namespace["lpips_t"].clone() if totals is None else totals + namespace["lpips_t"]
        namespace["lpips_t"] = totals  # what dist.reduce(op=SUM) leaves on rank 0
        run(final[1:], namespace, filename)
        return {
            "aggregate": {key: float(namespace[key]) for key in ("psnr_val", "ssim_val", "lpips_alex_val", "lpips_vgg_val")},
            "recorders": recorders,
            "views": views,
        }

    # per image: all pairs in one batch on one rank
    single = evaluate(1, PAIR_BATCH)
    rec = single["recorders"]
    per_image = {
        "psnr": np.asarray(rec["psnr_loss"].calls, dtype=np.float64),
        "ssim": np.asarray(rec["ssim_loss"].calls, dtype=np.float64),
        "lpips_alex": rec["lpips_alex"].calls[0].detach().flatten().double().numpy(),
        "lpips_vgg": rec["lpips_vgg"].calls[0].detach().flatten().double().numpy(),
    }
    inception_ref, inception_rec = (c[0].detach().flatten(1).numpy() for c in rec["inception"].calls)
    views = {key: np.concatenate(value) for key, value in single["views"].items()}
    # the loop's float tensors are the dataset's floats and the clamped reconstructions
    assert np.array_equal(views["images"], originals[pair_original].transpose(0, 3, 1, 2))
    assert np.array_equal(views["rec"], np.clip(recons, -1, 1).transpose(0, 3, 1, 2))
    layouts = [{"world_size": w, "batch_size": b, **evaluate(w, b)["aggregate"]} for w, b in LAYOUTS]

    np.savez_compressed(
        args.out / "vectors.npz",
        original_float=originals,  # official tokenizer input per original, S x S x 3 (HWC)
        recon_float=recons,  # the reconstruction of each pair, float32, not clamped
        pair_original=pair_original,
        img_np=views["img_np"],  # per pair: the official loop's uint8 views (S x S x 3)
        rec_np=views["rec_np"],
        inception_ref=inception_ref.astype(np.float32),
        inception_rec=inception_rec.astype(np.float32),
        **{key: value for key, value in per_image.items()},
    )
    commit = args.commit or subprocess.run(
        ["git", "-C", str(official), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    meta = {
        "source": "github.com/zhuangshaobin/WeTok: src/WeTok/data/base.py (ImagePaths), evaluation_image_ddp.py",
        "official_commit": commit or None,
        "size": SIZE,
        "crops": [dict(zip(("name", "row", "col", "height", "width"), c)) for c in CROPS],
        "pair_kind": pair_kind,
        "jpeg_quality": JPEG_QUALITY,
        "noise_std": NOISE_STD,
        "weights_sha256": weights_sha256,
        "weights_seeds": {"alex": 0, "vgg": 0, "pytorch_fid": 1},
        "layouts": layouts,
        "versions": {m: metadata.version(m) for m in ("torch", "torchvision", "numpy", "scikit-image", "lpips", "Pillow")},
    }
    (args.out / "vectors.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps(layouts, indent=1))


if __name__ == "__main__":
    main()
