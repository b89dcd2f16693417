"""CMMD against google-research ``cmmd`` (scenic CLIP in JAX) run outside the project
(``tests/data/cmmd``), on the same random weights."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.evaluator import ReconstructionEvaluator
from wetok_bench.metrics.functional.mmd import cmmd
from wetok_bench.metrics.networks.vit_features import build_clip, clip_square_336

DATA = Path(__file__).resolve().parents[1] / "data" / "cmmd"
VEC = dict(np.load(DATA / "vectors.npz"))
META = json.loads((DATA / "vectors.json").read_text())
#: the same official distance code run in float64 (JAX x64; tests/data/cmmd/make_x64.py)
EXACT = json.loads((DATA / "vectors_x64.json").read_text())
#: the official code's own float32 rounding: sums of n^2 kernel values near 1 (measured 2.8e-4)
FLOAT32 = 5e-4


def _image(side: str, i: int) -> torch.Tensor:
    return torch.from_numpy(VEC[f"{side}_u8_{i}"]).permute(2, 0, 1).contiguous()[None]


@pytest.fixture(scope="module")
def clip(clip_weights):
    return build_clip(clip_weights)


@pytest.mark.parametrize("side", ["ref", "rec"])
def test_crop_and_resize_are_the_official_pixels(side):
    # non-square crops: the centred square at floor offsets, then PIL bicubic to 336
    for i in range(3):
        ours = (clip_square_336(_image(side, i))[0].permute(1, 2, 0).numpy() * 255.0).round()
        assert np.array_equal(ours.astype(np.uint8), VEC[f"read_{side}_u8"][i])


@pytest.mark.parametrize("side", ["ref", "rec"])
def test_embeddings_are_the_official_ones(clip, side):
    ours = torch.cat([clip(_image(side, i)) for i in range(3)]).numpy()
    np.testing.assert_allclose(ours, VEC[f"emb_{side}"], rtol=0, atol=1e-6)  # measured 1.3e-7 (float32 JAX)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=0, atol=1e-6)  # normalised in float32


@pytest.mark.parametrize("case", sorted(META["mmd_cases"]))
def test_mmd_equals_the_official_distance(case):
    x, y = (torch.from_numpy(VEC[f"mmd_{case}_{side}"]) for side in ("x", "y"))
    ours = cmmd(x, y)
    assert ours == pytest.approx(EXACT["mmd_cases"][case], rel=1e-10, abs=1e-12)  # the official code in float64
    assert ours == pytest.approx(META["mmd_cases"][case], rel=1e-5, abs=FLOAT32)  # as the official code prints it
    if "identical" in case:  # float32 gives the official code -8e-6 here
        assert ours == pytest.approx(0.0, abs=1e-12)


def test_cmmd_of_the_recorded_images_through_the_metric(clip_weights):
    evaluator = ReconstructionEvaluator("standard", metrics=["cmmd"], weights={"clip": clip_weights})
    reference = evaluator.new_reference()
    for i in range(3):  # images of different sizes: one batch each
        original, recon = _image("ref", i), _image("rec", i)
        evaluator.update_reference(reference, original)
        evaluator.update(original, recon.float() / 127.5 - 1.0)
    value = evaluator.compute_sets(reference)["cmmd"]
    assert value["n"] == value["n_ref"] == 3
    # our embeddings are within 1.3e-7 of scenic's: the distance within 1e-8 of the official code in float64 on them
    assert value["cmmd"] == pytest.approx(EXACT["cmmd"]["distance.mmd(emb_ref, emb_rec)"], abs=1e-8)
    assert value["cmmd"] == pytest.approx(META["cmmd"]["main.compute_cmmd(ref, rec, batch_size=3)"], abs=FLOAT32)


def test_a_torchscript_archive_is_read_and_checked(tmp_path):
    class Visual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.class_embedding = torch.nn.Parameter(torch.zeros(8))

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.visual = Visual()

        def forward(self, x):
            return x + self.visual.class_embedding

    path = tmp_path / "ViT-L-14-336px.pt"
    with warnings.catch_warnings():  # torch deprecates scripting; OpenAI's release is such an archive
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(Model()).save(str(path))
    with pytest.raises(UsageError, match="do not fit the architecture"):  # read, then refused by shape
        build_clip(path)
