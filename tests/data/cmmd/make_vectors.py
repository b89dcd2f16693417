"""Record the official CMMD code's own outputs (google-research/cmmd + scenic CLIP) on photo crops (CPU).

Usage (outside wetok-bench's test run; the official code is not part of the project):

    PYTHONPATH=/work/vectors/dinov2_cmmd/site_cmmd:/work/official/scenic:/work/official/google-research \
        /work/main/.venv/bin/python /work/vectors/dinov2_cmmd/cmmd/make_vectors.py

Official code (both on PYTHONPATH, imported, nothing retyped):

- github.com/google-research/google-research ``cmmd/`` (distance.py, embedding.py, io_util.py,
  main.py). The repository is too large for a snapshot here; the four files were taken from the
  search index's stored copies: distance.py, io_util.py, main.py at commit
  4c4299485319ed72ef782020c81784be5468924e, embedding.py at 5b09c22d73a9d35eb6c5d2a99b95677a45053466
  (same code as at 8d8a4f1b27753c7580d16261a1468b3d6ad2c3d3; only the copyright year differs).
  Their sha256 are recorded.
- github.com/google-research/scenic ``scenic/projects/baselines/clip`` (model.py, layers.py,
  download.py) at 4a38d475ee89cb821078c0e2bf2065ee030e1535: the Flax CLIP that embedding.py builds.

What runs: ``embedding.ClipEmbeddingModel()`` (scenic ``MODELS['vit_l14_336px']`` and
``load_model_vars``), ``io_util._read_image`` (centre crop + PIL bicubic to 336, float32),
``io_util.compute_embeddings_for_dir`` (tf.data batching with drop_remainder, /255, pmap'ed
``embed``: ``jax.image.resize`` bicubic + ``clip.normalize_image`` + the Flax CLIP with
``normalize=True``), ``embedding._clip_preprocess`` (recorded separately), ``distance.mmd``, and
``main.compute_cmmd`` end to end.

Stand-in: the weights. scenic's ``load_model_vars`` first looks for its converted-checkpoint cache
``~/.cache/scenic/clip/vit_l14_336px.npy`` (``np.save`` of the OpenAI state dict as numpy arrays)
and only downloads ``ViT-L-14-336px.pt`` when that file is missing. ``HOME`` is set to a temporary
folder holding a random cache file (``helpers_clip.write_scenic_npy``, seed 0, image tower +
``logit_scale`` only); scenic's own ``_convert_vars`` then converts it. Nothing is downloaded.

Outputs (in this folder): ``inputs/ref/*.png``, ``inputs/rec/*.png`` (JPEG q50 round trips),
``vectors.npz``, ``vectors.json``.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import os
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "helpers"))  # tests/helpers: helpers_dinov2, helpers_clip
from helpers_clip import write_scenic_npy  # noqa: E402

# (name in skimage.data, row, column, height, width): non-square, so the centre crop acts
CROPS = [("astronaut", 30, 150, 64, 81), ("chelsea", 60, 120, 70, 64), ("coffee", 150, 200, 64, 64)]
JPEG_QUALITY = 50
SEED = 0
GOOGLE_RESEARCH_COMMITS = {
    "cmmd/distance.py": "4c4299485319ed72ef782020c81784be5468924e",
    "cmmd/io_util.py": "4c4299485319ed72ef782020c81784be5468924e",
    "cmmd/main.py": "4c4299485319ed72ef782020c81784be5468924e",
    "cmmd/embedding.py": "5b09c22d73a9d35eb6c5d2a99b95677a45053466",
}
SCENIC_COMMIT = "4a38d475ee89cb821078c0e2bf2065ee030e1535"
# synthetic MMD cases: (name, n_x, n_y, l2-normalize rows, shift of y)
MMD_CASES = [("gaussian_20x768_vs_25x768", 20, 25, False, 0.0), ("unit_20x768_vs_25x768", 20, 25, True, 0.05),
             ("unit_identical_20x768", 20, 0, True, 0.0), ("gaussian_identical_20x768", 20, 0, False, 0.0)]


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="cmmd_home_"))
    os.environ["HOME"] = str(home)  # scenic's DEFAULT_DOWNLOAD_DIR = expanduser('~/.cache/scenic/clip')
    npy = home / ".cache" / "scenic" / "clip" / "vit_l14_336px.npy"
    t0 = time.time()
    _, arrays_sha = write_scenic_npy(npy, seed=SEED)
    build_s = time.time() - t0

    import jax
    import skimage.data
    from PIL import Image

    from cmmd import distance, embedding, io_util
    from cmmd import main as cmmd_main
    from scenic.projects.baselines.clip import model as clip

    # --- inputs ---------------------------------------------------------------------------
    ref_dir, rec_dir = HERE / "inputs" / "ref", HERE / "inputs" / "rec"
    ref_dir.mkdir(parents=True, exist_ok=True)
    rec_dir.mkdir(parents=True, exist_ok=True)
    for index, (name, row, col, height, width) in enumerate(CROPS):
        crop = getattr(skimage.data, name)()[row : row + height, col : col + width]
        Image.fromarray(crop).save(ref_dir / f"{index}_{name}.png")
        buffer = io.BytesIO()
        Image.fromarray(crop).save(buffer, format="JPEG", quality=JPEG_QUALITY)
        Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").save(rec_dir / f"{index}_{name}.png")
    pixels = {f"{s}_u8_{i}": np.array(Image.open(p)) for s, d in (("ref", ref_dir), ("rec", rec_dir))
              for i, p in enumerate(sorted(d.glob("*.png")))}  # per file: H x W x 3 uint8 (sizes differ)

    # --- the official embedding path ------------------------------------------------------
    t0 = time.time()
    model = embedding.ClipEmbeddingModel()
    load_s = time.time() - t0
    size = model.input_image_size
    out: dict[str, np.ndarray] = {}
    for set_name, folder in (("ref", ref_dir), ("rec", rec_dir)):
        paths = io_util._get_image_list(str(folder))
        read = np.stack([io_util._read_image(p, size) for p in paths])  # N x 336 x 336 x 3 float32, 0..255
        batch = read / 255.0  # as compute_embeddings_for_dir does
        out[f"read_{set_name}"] = read
        out[f"clip_input_{set_name}"] = np.asarray(embedding._clip_preprocess(batch, size))
        t0 = time.time()
        out[f"emb_{set_name}"] = io_util.compute_embeddings_for_dir(str(folder), model, batch_size=len(paths))
        embed_s = time.time() - t0
        direct = np.asarray(jax.jit(model.embed)(batch))
        assert np.allclose(direct, out[f"emb_{set_name}"], atol=1e-5), np.abs(direct - out[f"emb_{set_name}"]).max()
    dropped = io_util.compute_embeddings_for_dir(str(ref_dir), model, batch_size=2)  # drop_remainder=True
    mean_std = np.asarray(clip.IMAGE_MEAN), np.asarray(clip.IMAGE_STD)
    manual = ((out["read_ref"] / 255.0 - mean_std[0]) / mean_std[1]).astype(np.float32)
    cmmd_embeddings = float(distance.mmd(out["emb_ref"], out["emb_rec"]))
    cmmd_end_to_end = float(cmmd_main.compute_cmmd(str(ref_dir), str(rec_dir), batch_size=len(CROPS)))

    # --- distance.mmd on given arrays -------------------------------------------------------
    rng = np.random.default_rng(SEED)
    mmd_cases = {}
    for name, nx, ny, unit, shift in MMD_CASES:
        x = rng.standard_normal((nx, 768)).astype(np.float32)
        y = x.copy() if ny == 0 else (rng.standard_normal((ny, 768)) + shift).astype(np.float32)
        if unit:
            x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
            y = (y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float32)
        out[f"mmd_{name}_x"], out[f"mmd_{name}_y"] = x, y
        mmd_cases[name] = float(distance.mmd(x, y))

    np.savez_compressed(
        HERE / "vectors.npz",
        **pixels,
        emb_ref_batch2_dropped=dropped,
        **out,
    )
    meta = {
        "sources": {
            "google-research/cmmd": {f: {"commit": c, "sha256": sha256(Path("/work/official/google-research") / f)}
                                     for f, c in GOOGLE_RESEARCH_COMMITS.items()},
            "scenic": {"commit": SCENIC_COMMIT, "files": ["scenic/projects/baselines/clip/model.py", "layers.py", "download.py"]},
        },
        "crops": [dict(zip(("name", "row", "col", "height", "width"), c)) for c in CROPS],
        "jpeg_quality": JPEG_QUALITY,
        "input_image_size": size,
        "sigma": distance._SIGMA,
        "scale": distance._SCALE,
        "cmmd": {"distance.mmd(emb_ref, emb_rec)": cmmd_embeddings, "main.compute_cmmd(ref, rec, batch_size=3)": cmmd_end_to_end},
        "mmd_cases": mmd_cases,
        "rows_with_batch_size_2": int(len(dropped)),
        "clip_input_vs_numpy_normalize_max_abs": float(np.abs(out["clip_input_ref"] - manual).max()),
        "embedding_norms": np.linalg.norm(out["emb_ref"], axis=1).tolist(),
        "weights": {
            "file": "$HOME/.cache/scenic/clip/vit_l14_336px.npy",
            "builder": "helpers_clip.write_scenic_npy(path, seed)",
            "seed": SEED,
            "arrays_sha256": arrays_sha,
            "file_sha256": sha256(npy),
            "file_bytes": npy.stat().st_size,
            "build_and_save_seconds": round(build_s, 1),
            "load_and_convert_seconds": round(load_s, 1),
            "embed_3_images_seconds": round(embed_s, 1),
        },
        "jax_x64": bool(jax.config.jax_enable_x64),
        "versions": {m: metadata.version(m) for m in ("jax", "jaxlib", "flax", "tensorflow-cpu", "numpy", "Pillow", "torch")},
    }
    (HERE / "vectors.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps({k: meta[k] for k in ("cmmd", "mmd_cases", "rows_with_batch_size_2", "clip_input_vs_numpy_normalize_max_abs", "embedding_norms", "weights")}, indent=1))
    shutil.rmtree(home)  # the 1.2 GB random weights cache


if __name__ == "__main__":
    main()
