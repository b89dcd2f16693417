"""Record torch-fidelity's and dgm-eval's own FD-DINOv2 outputs (ViT-L/14) on a few photo crops (CPU).

Usage (outside wetok-bench's test run; the official code is not part of the project):

    PYTHONPATH=/work/vectors/dinov2_cmmd/site_hf /work/main/.venv/bin/python \
        /work/vectors/dinov2_cmmd/fd_dinov2/make_vectors.py \
        --dinov2 /work/official/dinov2 --dgm-eval /work/official/dgm-eval

(recorded with torch-fidelity 0.4.0 from /work/main/.venv, the torch.hub repo
facebookresearch/dinov2 at b8931f7bf91576930313be2c6d6af376033b35f0 and
layer6ai-labs/dgm-eval at 74c79f7527fbf38fdccfbac51f25d759bc02ab07; site_hf only adds
scikit-learn, which dgm_eval/metrics/fd.py imports)

What runs is the official code itself:

- torch-fidelity: ``torch_fidelity.utils.create_feature_extractor('dinov2-vit-l-14', ['dinov2'])``
  (the constructor calls ``torch.hub.load('facebookresearch/dinov2', 'dinov2_vitl14')``), its
  ``forward`` on uint8 NCHW batches, ``interpolate_bilinear_2d_like_tensorflow1x`` (the resize step
  of that forward, recorded separately), ``metric_fid.fid_features_to_statistics`` /
  ``fid_statistics_to_metric`` for the FD, and ``torch_fidelity.calculate_metrics`` end to end
  on the same images (as uint8 tensor datasets) for the same FD.
- torch.hub runs offline: ``$TORCH_HOME/hub/facebookresearch_dinov2_main`` is the dinov2 checkout
  (a symlink; torch.hub's probe of github.com fails with URLError and it falls back to this
  cache), and ``$TORCH_HOME/hub/checkpoints/dinov2_vitl14_pretrain.pth`` is a random weights file
  (the hub code's ``load_state_dict_from_url`` finds it there and loads it with strict=True).
- dgm-eval: ``dgm_eval.models.dinov2.DINOv2Encoder`` (default arch vitl14; ``clean_resize``
  False, the CLI default, and True), its ``transform`` through dgm-eval's own
  ``dataloaders.get_dataloader`` over the PNG folders, ``representations.get_representations``
  and ``metrics.fd.compute_FD_with_reps``. Stand-ins: ``dgm_eval.models`` / ``dgm_eval.metrics``
  are empty package modules pointing at the checkout's folders, so their ``__init__`` files
  (which import every encoder/metric: open_clip, transformers, ...) are not executed; the
  DataLoader runs with ``num_workers=0``.

Weights: ``helpers_dinov2.dinov2_vitl14_state_dict(seed=0)`` (random, non-trivial, rebuilt
deterministically in a few seconds without the DINOv2 code); file sha256 and a tensor-content
sha256 are recorded.

Outputs (in this folder): ``inputs/ref64/*.png``, ``inputs/ref256/*.png`` (photo crops, 64 and 256
px), ``inputs/rec64``, ``inputs/rec256`` (their JPEG q50 round trips), ``vectors.npz``, ``vectors.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import os
import subprocess
import sys
import tempfile
import time
import types
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "helpers"))  # tests/helpers: helpers_dinov2, helpers_clip
from helpers_dinov2 import write_dinov2_vitl14_weights  # noqa: E402

# crop size tag -> [(name in skimage.data, row, column, height, width)]: 64 px (upsampled to 224) and
# 256 px (downsampled to 224, where antialiasing matters)
CROPS = {
    "64": [("astronaut", 30, 150, 64, 64), ("chelsea", 60, 120, 64, 64), ("coffee", 150, 200, 64, 64)],
    "256": [("astronaut", 0, 128, 256, 256), ("chelsea", 22, 100, 256, 256), ("coffee", 72, 172, 256, 256)],
}
JPEG_QUALITY = 50
SEED = 0


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


class Recorder:
    """Wraps a module's forward; keeps its inputs and outputs."""

    def __init__(self, module):
        self.module, self.inputs, self.outputs = module, [], []
        self._forward = module.forward

        def forward(x, *args, **kwargs):
            out = self._forward(x, *args, **kwargs)
            self.inputs.append(x.detach().clone())
            self.outputs.append(out.detach().clone())
            return out

        module.forward = forward


def git_head(path: Path) -> str | None:
    out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dinov2", type=Path, required=True, help="checkout of github.com/facebookresearch/dinov2")
    parser.add_argument("--dgm-eval", type=Path, required=True, help="checkout of github.com/layer6ai-labs/dgm-eval")
    parser.add_argument("--dinov2-commit", default="b8931f7bf91576930313be2c6d6af376033b35f0")
    parser.add_argument("--dgm-eval-commit", default="74c79f7527fbf38fdccfbac51f25d759bc02ab07")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()

    torch_home = Path(tempfile.mkdtemp(prefix="fd_dinov2_"))
    os.environ["TORCH_HOME"] = str(torch_home)
    (torch_home / "hub").mkdir()
    os.symlink(args.dinov2.resolve(), torch_home / "hub" / "facebookresearch_dinov2_main")
    weights = torch_home / "hub" / "checkpoints" / "dinov2_vitl14_pretrain.pth"
    t0 = time.time()
    _, tensors_sha = write_dinov2_vitl14_weights(weights, seed=SEED)
    build_s = time.time() - t0

    import skimage.data
    import torch
    from PIL import Image

    torch.set_num_threads(1)

    # --- inputs: photo crops (ref) and their JPEG round trips (rec), as PNG folders ----------
    sets = {}  # tag -> {"ref": (dir, u8), "rec": (dir, u8)}
    for tag, crops in CROPS.items():
        dirs = {k: args.out / "inputs" / f"{k}{tag}" for k in ("ref", "rec")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        u8 = {"ref": [], "rec": []}
        for index, (name, row, col, height, width) in enumerate(crops):
            crop = getattr(skimage.data, name)()[row : row + height, col : col + width]
            Image.fromarray(crop).save(dirs["ref"] / f"{index}_{name}.png")
            buffer = io.BytesIO()
            Image.fromarray(crop).save(buffer, format="JPEG", quality=JPEG_QUALITY)
            decoded = np.array(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
            Image.fromarray(decoded).save(dirs["rec"] / f"{index}_{name}.png")
            for k in ("ref", "rec"):
                u8[k].append(np.array(Image.open(dirs[k] / f"{index}_{name}.png").convert("RGB")))
        sets[tag] = {k: (dirs[k], np.stack(u8[k])) for k in ("ref", "rec")}  # N x H x W x 3 uint8

    # --- torch-fidelity -------------------------------------------------------------------
    import torch_fidelity
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.utils import create_feature_extractor

    t0 = time.time()
    extractor = create_feature_extractor("dinov2-vit-l-14", ["dinov2"], cuda=False)
    load_s = time.time() - t0
    recorder = Recorder(extractor.model)

    def nchw(u8):
        return torch.from_numpy(u8).permute(0, 3, 1, 2).contiguous()

    class U8Dataset(torch.utils.data.Dataset):
        def __init__(self, u8):
            self.x = nchw(u8)

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]

    arrays, fds = {}, {}
    for tag, pair in sets.items():
        feats = {}
        for k in ("ref", "rec"):
            u8 = pair[k][1]
            with torch.no_grad():
                (feat,) = extractor(nchw(u8))
                resized = interpolate_bilinear_2d_like_tensorflow1x(nchw(u8).float(), size=(224, 224), align_corners=False)
            assert torch.equal(recorder.outputs[-1], feat)
            feats[k] = feat.numpy()
            arrays[f"{k}{tag}_u8"] = u8  # N x H x W x 3 uint8 (the PNG files' pixels)
            arrays[f"fidelity_resized_{k}{tag}"] = resized.numpy()  # N x 3 x 224 x 224 float32, 0..255, TF1 bilinear
            arrays[f"fidelity_model_input_{k}{tag}"] = recorder.inputs[-1].numpy()  # normalized, what the ViT consumed
            arrays[f"fidelity_features_{k}{tag}"] = feats[k]  # N x 1024 float32 (CLS after the final norm)
        stats = {k: fid_features_to_statistics(torch.from_numpy(feats[k])) for k in feats}
        for k in stats:  # sigma (1024 x 1024 float64) is np.cov(features, rowvar=False): not stored
            arrays[f"fidelity_mu_{k}{tag}"] = stats[k]["mu"]
        fds[f"torch_fidelity_fid_statistics_to_metric[{tag}]"] = fid_statistics_to_metric(stats["ref"], stats["rec"], verbose=False)[KEY_METRIC_FID]
        metrics = torch_fidelity.calculate_metrics(
            input1=U8Dataset(pair["ref"][1]), input2=U8Dataset(pair["rec"][1]), fid=True,
            feature_extractor="dinov2-vit-l-14", cuda=False, batch_size=len(pair["ref"][1]), cache=False,
            verbose=False, save_cpu_ram=True,
        )
        fds[f"torch_fidelity_calculate_metrics[{tag}]"] = float(metrics[KEY_METRIC_FID])
    del extractor, recorder

    # --- dgm-eval -------------------------------------------------------------------------
    dgm = args.dgm_eval.resolve()
    sys.path.insert(0, str(dgm))
    import dgm_eval  # noqa: F401  (its __init__ only sets __version__)

    for sub in ("models", "metrics"):  # package stand-ins: skip the __init__ files' heavy imports
        module = types.ModuleType(f"dgm_eval.{sub}")
        module.__path__ = [str(dgm / "dgm_eval" / sub)]
        sys.modules[f"dgm_eval.{sub}"] = module
    from dgm_eval.dataloaders import get_dataloader
    from dgm_eval.metrics.fd import compute_FD_with_reps
    from dgm_eval.models.dinov2 import DINOv2Encoder
    from dgm_eval.representations import get_representations

    for clean_resize in (False, True):
        encoder = DINOv2Encoder(arch=None, clean_resize=clean_resize)
        prefix = "dgm_clean" if clean_resize else "dgm"
        for tag, pair in sets.items():
            reps = {}
            for k in ("ref", "rec"):
                folder = pair[k][0]
                n = len(pair[k][1])
                loader = get_dataloader(str(folder), nsample=-1, batch_size=n, num_workers=0,
                                        transform=lambda x, e=encoder: e.transform(x))
                assert [Path(f).name for f in loader.files] == sorted(p.name for p in folder.glob("*.png"))
                arrays[f"{prefix}_model_input_{k}{tag}"] = np.stack([loader.data_set[i].numpy() for i in range(n)])
                reps[k] = get_representations(encoder, loader, "cpu", normalized=False)  # float64 array
                arrays[f"{prefix}_features_{k}{tag}"] = reps[k]
            fds[f"dgm_eval{'_clean_resize' if clean_resize else '_default'}[{tag}]"] = float(compute_FD_with_reps(reps["ref"], reps["rec"]))
        del encoder

    # --- save -----------------------------------------------------------------------------
    np.savez_compressed(args.out / "vectors.npz", **arrays)
    meta = {
        "sources": {
            "torch-fidelity": "torch_fidelity/feature_extractor_dinov2.py, interpolate_compat_tensorflow.py, metric_fid.py, metrics.py (installed package)",
            "dinov2 (torch.hub repo)": "github.com/facebookresearch/dinov2: hubconf.py, dinov2/hub/backbones.py, dinov2/models/vision_transformer.py",
            "dgm-eval": "github.com/layer6ai-labs/dgm-eval: dgm_eval/models/dinov2.py, resizer.py, dataloaders.py, representations.py, metrics/fd.py",
        },
        "commits": {
            "dinov2": git_head(args.dinov2) or args.dinov2_commit,
            "dgm-eval": git_head(args.dgm_eval) or args.dgm_eval_commit,
        },
        "crops": {tag: [dict(zip(("name", "row", "col", "height", "width"), c)) for c in crops] for tag, crops in CROPS.items()},
        "jpeg_quality": JPEG_QUALITY,
        "weights": {
            "file": "$TORCH_HOME/hub/checkpoints/dinov2_vitl14_pretrain.pth",
            "builder": "helpers_dinov2.dinov2_vitl14_state_dict(seed)",
            "seed": SEED,
            "file_sha256": sha256(weights),
            "file_bytes": weights.stat().st_size,
            "tensors_sha256": tensors_sha,
            "build_and_save_seconds": round(build_s, 1),
            "hub_load_seconds": round(load_s, 1),
        },
        "fd": fds,
        "layout": "per crop size TAG (64: upsampled to 224, 256: downsampled): refTAG = inputs/refTAG (3 crops), recTAG = inputs/recTAG (JPEG q50 of each); rows in file-name order; arrays named <source>_<what>_<set><TAG>",
        "versions": {m: metadata.version(m) for m in ("torch", "torchvision", "torch-fidelity", "numpy", "scipy", "Pillow", "scikit-learn")},
    }
    (args.out / "vectors.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps(meta["fd"], indent=1), json.dumps(meta["weights"], indent=1))
    shutil.rmtree(torch_home)  # the 1.2 GB random weights file


if __name__ == "__main__":
    main()
