"""Record the historical SEED-Voken/Open-MAGVIT2 ``evaluation.py`` (2024-06 .. 2025-01) on real photo crops (CPU).

Usage (outside the project's test run; the official code is not part of the project):

    PYTHONPATH=/work/vectors/seed_voken/site /work/main/.venv/bin/python \
        /work/vectors/seed_voken/open-magvit2-v1/make_vectors.py /work/official/SEED-Voken_{ec8fba5,6bfab15,6515009,21e1f93} \
        --wetok /work/official/WeTok --head /work/official/SEED-Voken

Each positional argument is a `git archive` of TencentARC/SEED-Voken at one of the commits that carry
``evaluation.py`` with the batch-pooled PSNR line (full SHAs in vectors.json):
ec8fba5 (2024-06-17, "init commit", L215), 6bfab15 (2024-07-09, L225), 6515009 (2024-09-09, L231),
21e1f93 (2024-12-04, L245). ``site/`` holds albumentations 1.4.4 (imported by the data module, unused by
its torchvision rule) and omegaconf 2.3.0.

What runs is the official code, read from each historical ``evaluation.py`` with ``ast`` and executed:

- its module-level statements (imports of torch/numpy/scipy/tqdm/skimage ``peak_signal_noise_ratio as
  psnr_loss`` / ``structural_similarity as ssim_loss``/lpips/``metrics.inception.InceptionV3``, DEVICE, and
  the function definitions, ``calculate_frechet_distance`` included), except the model imports
  (``taming.models.lfqgan`` / ``src.*.models``), the ``MODEL_TYPE`` table and the ``__main__`` block;
- every statement of ``main()`` except the nine that read the config and build the model and the
  dataset (``config_data``/``config_model`` lines, ``model = load_vqgan_new(...)``, ``codebook_size``,
  ``dataset = instantiate_from_config(...)``, ``dataset.prepare_data()``, ``dataset.setup()``): the usage
  table, the Inception and LPIPS networks and accumulators, the whole ``with torch.no_grad(): for batch in
  tqdm(dataset._val_dataloader()): ...`` loop, the final concatenations/means/covariances, the Frechet
  distance, the divisions and the prints.

Stand-ins: ``model`` (use_ema True as in the configs, a no-op ``ema_scope``; ``encode`` records the
tokenizer input and returns the recorded reconstruction of each pair in loader order, ``decode`` is the
identity), ``codebook_size`` (the config's n_embed, 262144), ``args`` (21e1f93 only: ``model="Open-MAGVIT2"``),
``dataset`` (its ``_val_dataloader()`` is ``DataLoader(ImagePaths, batch_size=B, shuffle=False,
collate_fn=default_collate)``, what ``main.DataModuleFromConfig._val_dataloader`` returns, over the official
``ImagePaths`` of the same commit: ``taming/data/base.py``, ``src/Open_MAGVIT2/data/base.py`` at 21e1f93).
The configs' own sizes/batch sizes are read from the files and recorded; the runs use SIZE=48 and the
layouts below. ``calculate_frechet_distance`` is wrapped to memoise: it is computed once per distinct
(bit-identical) feature statistics.

Per-image/per-batch values are taken by wrapping the callables the official lines call (``psnr_loss``,
``ssim_loss``, the LPIPS modules, the Inception); ``print`` is captured for the aggregates.

Also run, for the report: WeTok's ``src/WeTok/data/base.py`` ``ImagePaths`` (zhuangshaobin/WeTok@caa2ad7)
on the same inputs, to compare its tokenizer input with the historical one bit for bit; and skimage's
per-image PSNR (HEAD's line) on the same views, for comparison with the pooled one.

Weights: random (kaiming) files from the project's test helpers (/work/vectors/_helpers), seeds recorded.
Outputs (this folder): ``inputs/*.png``, ``vectors.npz``, ``vectors.json``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import importlib.util
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
HELPERS = Path(__file__).resolve().parents[3] / "helpers"  # tests/helpers
MIRROR = Path("/work/.mirror/TencentARC+SEED-Voken/repo")
SIZE = 48
# the same crops as ../ibq (the resize rule here is torchvision's)
CROPS = [
    ("motorcycle_left", 100, 200, 100, 148),
    ("astronaut", 30, 150, 64, 90),
    ("chelsea", 40, 140, 90, 64),
    ("coffee", 150, 200, 64, 86),
]
NOISE_STD = 0.1
JPEG_QUALITY = 50
BATCH_SIZES = [8, 4, 3]  # 8: ec8fba5's hard-coded batch; 4: the --batch_size default afterwards; 3: batches 3, 3, 2
SKIP_MODULE_IMPORTS = ("taming.models", "src.")
SKIP_MAIN_TARGETS = {"config_data", "config_model", "model", "codebook_size", "dataset"}


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def photo(name: str) -> np.ndarray:
    import skimage.data

    if name == "motorcycle_left":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recorder:
    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, *args, **kwargs):
        out = self.fn(*args, **kwargs)
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


def stored_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def split_script(script: Path) -> dict:
    """Module-level statements to run, main()'s statements to run, and what the config lines say."""
    tree = ast.parse(script.read_text())
    module_nodes, skipped_module = [], []
    for node in tree.body:
        skip = (
            (isinstance(node, ast.ImportFrom) and node.module.startswith(SKIP_MODULE_IMPORTS))
            or (isinstance(node, ast.Assign) and stored_names(node) == {"MODEL_TYPE"})
            or (isinstance(node, ast.If) and "__name__" in ast.unparse(node.test))
        )
        (skipped_module if skip else module_nodes).append(node)
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    main_nodes, skipped_main = [], []
    for node in main.body:
        text = ast.unparse(node)
        skip = bool(stored_names(node) & SKIP_MAIN_TARGETS) or (
            isinstance(node, ast.Expr) and text.startswith(("config_data", "dataset."))
        ) or (isinstance(node, ast.Assign) and text.startswith("config_data"))
        (skipped_main if skip else main_nodes).append(node)
    loop = next(n for n in ast.walk(main) if isinstance(n, ast.For) and "_val_dataloader" in ast.unparse(n.iter))
    psnr_lines = [
        {"line": n.lineno, "code": ast.unparse(n)}
        for n in ast.walk(loop) if isinstance(n, ast.AugAssign) and "psnr_loss" in ast.unparse(n)
    ]
    return {
        "path": str(script), "module": module_nodes, "main": main_nodes,
        "skipped_module": [ast.unparse(n).splitlines()[0] for n in skipped_module],
        "skipped_main": [f"L{n.lineno}: {ast.unparse(n).splitlines()[0]}" for n in skipped_main],
        "psnr_lines": psnr_lines,
        "config_lines": [f"L{n.lineno}: {ast.unparse(n)}" for n in skipped_main if "config_data" in ast.unparse(n)],
        "main_args": [a.arg for a in main.args.args],
        "argparse_defaults": {
            ast.unparse(c.args[0]).strip("'\""): ast.unparse(k.value)
            for c in ast.walk(tree) if isinstance(c, ast.Call) and ast.unparse(c.func).endswith("add_argument")
            for k in c.keywords if k.arg == "default"
        },
        "loop_dump": ast.dump(loop),
        # the loop without its model call (`if model.use_ema: ...`), which 21e1f93 extends for IBQ
        "metric_loop_dump": ast.dump(ast.Module(body=[
            n for n in loop.body if not (isinstance(n, ast.If) and "use_ema" in ast.unparse(n.test))], type_ignores=[])),
    }


def run(nodes: list[ast.stmt], namespace: dict, filename: str) -> None:
    exec(compile(ast.Module(body=list(nodes), type_ignores=[]), filename, "exec"), namespace)  # noqa: S102


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("official", type=Path, nargs="+", help="archives of SEED-Voken at the historical commits")
    parser.add_argument("--wetok", type=Path, required=True, help="archive of zhuangshaobin/WeTok@caa2ad7")
    parser.add_argument("--head", type=Path, default=Path("/work/official/SEED-Voken"),
                        help="archive of SEED-Voken@b9a17ea (its ImagePaths(original_reso=True) reads the JPEG round trips)")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--numpy1-site", default=str(HERE.parent / "site_np1"),
                        help="a --target folder holding numpy 1.26.4: the runs are repeated there ('' to skip)")
    args = parser.parse_args()
    out = args.out.resolve()
    checkouts = [p.resolve() for p in args.official]

    work = Path(tempfile.mkdtemp(prefix="seed_voken_om2v1_"))
    os.environ["TORCH_HOME"] = str(work / "torch_home")
    weights_sha256 = write_weights(work / "torch_home")

    import torch
    from PIL import Image
    from torch.utils.data import DataLoader
    from torch.utils.data.dataloader import default_collate

    torch.set_num_threads(1)

    def commit_of(checkout: Path) -> str:
        short = checkout.name.rsplit("_", 1)[-1]
        return subprocess.run(["git", "--git-dir", str(MIRROR), "rev-parse", short], capture_output=True,
                              text=True, check=True).stdout.strip()

    # --- inputs --------------------------------------------------------------------------------
    inputs = out / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, row, col, height, width in CROPS:
        path = inputs / f"{name}.png"
        Image.fromarray(photo(name)[row : row + height, col : col + width]).save(path)
        paths.append(path)

    def data_module(checkout: Path):
        legacy = checkout / "taming" / "data" / "base.py"
        path = legacy if legacy.exists() else checkout / "src" / "Open_MAGVIT2" / "data" / "base.py"
        return path, load_module(f"base_{checkout.name}", path)

    first_path, first_base = data_module(checkouts[0])
    dataset = first_base.ImagePaths([str(p) for p in paths], size=SIZE)
    originals = np.stack([dataset.preprocess_image(str(p)) for p in paths])
    originals_u8 = np.stack([np.array(dataset.preprocessor(Image.open(p).convert("RGB"))) for p in paths])
    assert np.array_equal(originals, (originals_u8 / 127.5 - 1.0).astype(np.float32))
    preprocessing = {}
    for checkout in checkouts:
        path, base = data_module(checkout)
        theirs = np.stack([base.ImagePaths([str(p)], size=SIZE).preprocess_image(str(p)) for p in paths])
        preprocessing[checkout.name] = {"file": str(path.relative_to(checkout)), "bit_equal_to_first": bool(np.array_equal(theirs, originals))}
    wetok_base = load_module("wetok_base", args.wetok.resolve() / "src" / "WeTok" / "data" / "base.py")
    wetok = np.stack([wetok_base.ImagePaths([str(p)], size=SIZE).preprocess_image(str(p)) for p in paths])
    preprocessing["WeTok@caa2ad7 src/WeTok/data/base.py"] = {"bit_equal_to_first": bool(np.array_equal(wetok, originals))}

    # --- reconstructions: JPEG round trip of the official uint8 crop (saved as PNG, read back with
    # SEED-Voken HEAD's src/Open_MAGVIT2/data/base.py ImagePaths(original_reso=True): the historical
    # files have no original_reso, and their (u/127.5 - 1.0).astype(float32) line is the same) and float noise
    recon_base = load_module("head_base", args.head.resolve() / "src" / "Open_MAGVIT2" / "data" / "base.py")
    recon_dataset = recon_base.ImagePaths([], original_reso=True)
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

    # --- the historical scripts --------------------------------------------------------------------
    frechet_cache: list = []

    def run_commit(checkout: Path, batch_size: int) -> dict:
        parts = split_script(checkout / "evaluation.py")
        base_path, base = data_module(checkout)
        pair_dataset = base.ImagePaths([str(paths[i]) for i in pair_original], size=SIZE)
        state = {"cursor": 0, "seen": []}

        class StandInModel(torch.nn.Module):
            use_ema = True

            @contextlib.contextmanager
            def ema_scope(self, context=None):
                yield

            def encode(self, images):
                ids = list(range(state["cursor"], state["cursor"] + images.shape[0]))
                state["cursor"] += len(ids)
                state["seen"].append(images.detach().clone())
                quant = torch.from_numpy(recons[ids]).permute(0, 3, 1, 2).contiguous()
                return quant, torch.zeros(()), torch.zeros(len(ids), dtype=torch.long), None

            def decode(self, quant):
                return quant

        cwd = os.getcwd()
        os.chdir(checkout)  # sys.path.append(os.getcwd()) -> metrics.inception (identical at every commit)
        namespace: dict = {"__name__": "historical_evaluation"}
        run(parts["module"], namespace, parts["path"])
        os.chdir(cwd)
        printed, lpips_made, inception_made = [], [], []
        real_lpips, real_inception = namespace["lpips"], namespace["InceptionV3"]
        real_frechet = namespace["calculate_frechet_distance"]

        def make_lpips(**kwargs):
            lpips_made.append(Recorder(real_lpips.LPIPS(**kwargs)))
            return lpips_made[-1]

        class RecordingInception:
            BLOCK_INDEX_BY_DIM = real_inception.BLOCK_INDEX_BY_DIM

            def __new__(cls, *a, **k):
                inception_made.append(Recorder(real_inception(*a, **k)))
                return inception_made[-1]

        def frechet(*stats):
            for cached, value in frechet_cache:
                if all(np.array_equal(a, b) for a, b in zip(cached, stats)):
                    return value
            value = real_frechet(*stats)
            frechet_cache.append((stats, value))
            return value

        rec = {"psnr_loss": Recorder(namespace["psnr_loss"]), "ssim_loss": Recorder(namespace["ssim_loss"])}
        namespace.update(
            rec,
            lpips=types.SimpleNamespace(LPIPS=make_lpips),
            InceptionV3=RecordingInception,
            calculate_frechet_distance=frechet,
            print=lambda *a, **k: printed.append(a),
            model=StandInModel().eval(),
            codebook_size=262144,
            args=argparse.Namespace(model="Open-MAGVIT2", batch_size=batch_size, image_size=SIZE),
            dataset=types.SimpleNamespace(_val_dataloader=lambda: DataLoader(
                pair_dataset, batch_size=batch_size, shuffle=False, collate_fn=default_collate)),
        )
        run(parts["main"], namespace, parts["path"])
        assert state["cursor"] == num_pairs
        values = {a[0].strip().rstrip(":"): a[1] for a in printed if len(a) == 2 and isinstance(a[0], str)}
        # per batch: psnr_loss was called B times on the whole batch
        batches = [min(batch_size, num_pairs - s) for s in range(0, num_pairs, batch_size)]
        psnr_calls, position, per_batch = rec["psnr_loss"].calls, 0, []
        for b in batches:
            calls = psnr_calls[position : position + b]
            position += b
            assert all(c[0][0].shape == (b, SIZE, SIZE, 3) and c[0][0].dtype == np.float32 for c in calls)
            assert all(np.array_equal(c[0][0], calls[0][0][0]) and np.array_equal(c[0][1], calls[0][0][1]) for c in calls)
            assert len({c[2] for c in calls}) == 1 and all(c[1] == {} for c in calls)
            per_batch.append({"gt": calls[0][0][0], "rec": calls[0][0][1], "psnr": float(calls[0][2])})
        assert position == len(psnr_calls)
        return {
            "parts": parts, "printed": values, "rec": rec, "lpips": lpips_made, "inception": inception_made,
            "seen": np.concatenate([s.permute(0, 2, 3, 1).numpy() for s in state["seen"]]),
            "batches": batches, "per_batch": per_batch,
        }

    layouts, per_batch_rows, runs = [], {}, {}
    for checkout in checkouts:
        for batch_size in BATCH_SIZES:
            result = run_commit(checkout, batch_size)
            runs[(checkout.name, batch_size)] = result
            p = result["printed"]
            layouts.append({
                "numpy": np.__version__, "commit": commit_of(checkout), "batch_size": batch_size, "batches": result["batches"], "processes": 1,
                "PSNR": float(p["PSNR"]), "SSIM": float(p["SSIM"]),
                "LPIPS_ALEX": float(p["LPIPS_ALEX"]), "LPIPS_VGG": float(p["LPIPS_VGG"]),
                "FID": float(p["FID"]), "utilization": float(p["utilization"]),
                "per_batch_pooled_psnr": [row["psnr"] for row in result["per_batch"]],
            })
            print(json.dumps(layouts[-1]))

    first = runs[(checkouts[0].name, 4)]
    loops_identical = {
        c.name: runs[(c.name, 4)]["parts"]["loop_dump"] == first["parts"]["loop_dump"] for c in checkouts
    }
    metric_loops_identical = {
        c.name: runs[(c.name, 4)]["parts"]["metric_loop_dump"] == first["parts"]["metric_loop_dump"] for c in checkouts
    }
    gt_f32 = np.concatenate([row["gt"] for row in first["per_batch"]])
    rec_f32 = np.concatenate([row["rec"] for row in first["per_batch"]])
    ssim_calls = first["rec"]["ssim_loss"].calls
    assert all(np.array_equal(c[0][0], r) and np.array_equal(c[0][1], g) for c, g, r in zip(ssim_calls, gt_f32, rec_f32))
    assert all(c[1] == {"data_range": 1.0, "channel_axis": -1} for c in ssim_calls)
    gt_u8, rec_u8 = (np.rint(v * 255).astype(np.uint8) for v in (gt_f32, rec_f32))
    assert np.array_equal(gt_u8.astype(np.float32) / 255.0, gt_f32) and np.array_equal(rec_u8.astype(np.float32) / 255.0, rec_f32)
    assert np.array_equal(first["seen"], originals[pair_original])
    alex, vgg = first["lpips"]
    inception_calls = first["inception"][0].calls
    lpips_ref = np.concatenate([c[0][0].permute(0, 2, 3, 1).numpy() for c in alex.calls])
    lpips_rec = np.concatenate([c[0][1].permute(0, 2, 3, 1).numpy() for c in alex.calls])
    assert all(torch.equal(a[0][0], v[0][0]) and torch.equal(a[0][1], v[0][1]) for a, v in zip(alex.calls, vgg.calls))
    assert np.array_equal(lpips_ref, originals[pair_original]) and np.array_equal(lpips_rec, np.clip(recons, -1, 1))
    fid_in_ref = np.concatenate([c[0][0].permute(0, 2, 3, 1).numpy() for c in inception_calls[0::2]])
    fid_in_rec = np.concatenate([c[0][0].permute(0, 2, 3, 1).numpy() for c in inception_calls[1::2]])
    inception_ref = np.concatenate([c[2][0].flatten(1).numpy() for c in inception_calls[0::2]])
    inception_rec = np.concatenate([c[2][0].flatten(1).numpy() for c in inception_calls[1::2]])
    psnr_fn = first["rec"]["psnr_loss"].fn  # skimage's peak_signal_noise_ratio, as the script imported it
    psnr_per_image = np.asarray([psnr_fn(g, r) for g, r in zip(gt_f32, rec_f32)], dtype=np.float64)
    # how the pooled value is made (checked here, not a reference): data_range 1, MSE over all B*H*W*3 values
    for batch_size in BATCH_SIZES:
        start = 0
        for row in runs[(checkouts[0].name, batch_size)]["per_batch"]:
            d = row["gt"] - row["rec"]  # float32 difference, squared in float32, averaged in float64
            assert row["psnr"] == 10 * np.log10(1.0 / np.mean(d ** 2, dtype=np.float64))
            start += len(row["gt"])
    per_batch_rows = {
        f"pooled_psnr_B{b}": np.asarray([row["psnr"] for row in runs[(checkouts[0].name, b)]["per_batch"]])
        for b in BATCH_SIZES
    }

    np.savez_compressed(
        out / "vectors.npz",
        original_u8=originals_u8,  # torchvision Resize + CenterCrop (taming/data/base.py), N x S x S x 3
        original_float=originals,  # official tokenizer input per original (float32 HWC)
        original_float_wetok=wetok,  # WeTok's ImagePaths on the same inputs
        recon_float=recons,
        pair_original=pair_original,
        tokenizer_input=first["seen"],
        lpips_input_ref=lpips_ref,  # floats in [-1, 1] given to both LPIPS nets
        lpips_input_rec=lpips_rec,  # the clamped reconstruction
        fid_input_ref=fid_in_ref,  # (x + 1) / 2, given to the Inception
        fid_input_rec=fid_in_rec,
        gt_f32=gt_f32, rec_f32=rec_f32, gt_u8=gt_u8, rec_u8=rec_u8,  # whole-batch arrays psnr_loss got, concatenated
        ssim=np.asarray([c[2] for c in ssim_calls], dtype=np.float64),
        psnr_per_image_skimage=psnr_per_image,  # NOT what this script averages: for comparison
        lpips_alex=np.concatenate([c[2].detach().flatten().double().numpy() for c in alex.calls]),
        lpips_vgg=np.concatenate([c[2].detach().flatten().double().numpy() for c in vgg.calls]),
        inception_ref=inception_ref.astype(np.float32),
        inception_rec=inception_rec.astype(np.float32),
        **per_batch_rows,
    )
    # --- the same runs under numpy 1.x (the authors' torch needs numpy < 2): NEP 50 scalar promotion
    # changes the dtype of the script's SSIM accumulators --------------------------------------------------
    numpy1 = None
    if args.numpy1_site and int(np.__version__.split(".")[0]) >= 2:
        child_out = work / "numpy1"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([args.numpy1_site, os.environ.get("PYTHONPATH", "")]))
        subprocess.run([sys.executable, str(Path(__file__).resolve()), *map(str, checkouts), "--wetok",
                        str(args.wetok.resolve()), "--head", str(args.head.resolve()), "--out", str(child_out), "--numpy1-site", ""], env=env, check=True)
        child_meta = json.loads((child_out / "vectors.json").read_text())
        child_vec, mine = np.load(child_out / "vectors.npz"), np.load(out / "vectors.npz")
        numpy1 = {
            "numpy": child_meta["versions"]["numpy"],
            "arrays_equal_to_numpy2_run": sorted(k for k in mine.files if np.array_equal(mine[k], child_vec[k])),
            "arrays_different": sorted(k for k in mine.files if not np.array_equal(mine[k], child_vec[k])),
        }
        layouts = layouts + child_meta["layouts"]
    scripts = {}
    for checkout in checkouts:
        parts = runs[(checkout.name, 4)]["parts"]
        scripts[commit_of(checkout)] = {
            "file": "evaluation.py", "checkout": str(checkout), "psnr_lines": parts["psnr_lines"],
            "config_lines": parts["config_lines"], "main_args": parts["main_args"],
            "argparse_defaults": parts["argparse_defaults"], "skipped_module_statements": parts["skipped_module"],
            "skipped_main_statements": parts["skipped_main"], "loop_ast_identical_to_first": loops_identical[checkout.name],
            "loop_ast_identical_to_first_except_model_call": metric_loops_identical[checkout.name],
            "data_module": preprocessing[checkout.name],
        }
    meta = {
        "source": "github.com/TencentARC/SEED-Voken: evaluation.py at the historical commits (module + main() "
                  "statements via ast), taming/data/base.py | src/Open_MAGVIT2/data/base.py (ImagePaths), metrics/inception.py",
        "scripts": scripts,
        "wetok_preprocessing": preprocessing["WeTok@caa2ad7 src/WeTok/data/base.py"],
        "size": SIZE,
        "crops": [dict(zip(("name", "row", "col", "height", "width"), c)) for c in CROPS],
        "pair_kind": pair_kind,
        "jpeg_quality": JPEG_QUALITY,
        "noise_std": NOISE_STD,
        "weights_sha256": weights_sha256,
        "weights_seeds": {"alex": 0, "vgg": 0, "pytorch_fid": 1},
        "layouts": layouts,
        "numpy1_rerun": numpy1,
        "mean_of_per_image_psnr": float(psnr_per_image.mean()),
        "aggregation": "one process; PSNR: per batch, psnr_loss(whole batch) added B times then / B; "
                       "sum over batches / number of batches. SSIM: per-image, mean of batch means. LPIPS: sum / images",
        "versions": {m: metadata.version(m) for m in (
            "torch", "torchvision", "numpy", "scipy", "scikit-image", "lpips", "Pillow", "albumentations", "omegaconf")},
    }
    (out / "vectors.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
