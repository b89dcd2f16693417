"""The Python API (ReconstructionMetrics): the run's numbers on the same images, and exact under
torch.distributed (2 gloo processes give what one process gets from rank 0's then rank 1's
images). PSNR/SSIM per image are checked against scikit-image (independent reference).
KID/rFID through the API: tests/test_kid_metric.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers_runs import one_thread  # noqa: E402
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

CODEC = {"type": "codec", "format": "jpeg", "quality": 30}


def _images(photos, count: int = 10, size: int = 40) -> torch.Tensor:
    rng = np.random.default_rng(3)
    photos = list(photos.values())
    crops = []
    for i in range(count):
        photo = photos[i % len(photos)]
        top, left = rng.integers(0, photo.shape[0] - size), rng.integers(0, photo.shape[1] - size)
        crops.append(torch.from_numpy(np.ascontiguousarray(photo[top : top + size, left : left + size])).permute(2, 0, 1))
    return torch.stack(crops).contiguous()


def _feed(api, images: torch.Tensor, batch: int) -> None:
    from wetok_bench.tokenizers.registry import create_tokenizer

    codec = create_tokenizer(CODEC)
    for start in range(0, len(images), batch):
        originals = images[start : start + batch]
        recon, _ = codec.reconstruct(api.protocol.original_float(originals))
        api.update(originals, recon)


def test_api_equals_run(photos, tmp_path):
    from wetok_bench import ReconstructionMetrics
    from wetok_bench.config.suite import parse_suite
    from wetok_bench.engine import run_suite
    from wetok_bench.protocols import round_to_u8
    from wetok_bench.tokenizers.registry import create_tokenizer

    images = _images(photos)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:02d}.png")
    suite = parse_suite({"name": "a", "datasets": [{"type": "folder", "name": "imgs", "root": str(folder)}],
                         "tokenizers": [CODEC], "metrics": ["psnr", "ssim"], "resolution": 40, "batch_size": 4,
                         "num_workers": 0, "device": "cpu", "output": str(tmp_path / "out")})
    with one_thread():
        summary = run_suite(suite, progress=False).outcomes[0].summary
        api = ReconstructionMetrics("standard", ["psnr", "ssim"], "cpu")
        _feed(api, images, 4)
        values = api.compute()
    for key in ("psnr", "ssim", "psnr_finite_mean"):
        assert values[key] == summary["metrics"][key], key
    recon, _ = create_tokenizer(CODEC).reconstruct(api.protocol.original_float(images))
    expected = np.mean([peak_signal_noise_ratio(o.numpy(), r.numpy(), data_range=255)
                        for o, r in zip(images, round_to_u8(recon))])
    assert values["psnr"] == pytest.approx(expected, abs=1e-9)
    api.reset()
    with pytest.raises(Exception, match="update"):
        api.compute()


def _rank(rank: int, world: int, init: str, images: torch.Tensor, out: str) -> None:
    import torch.distributed as dist

    from wetok_bench import ReconstructionMetrics

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        api = ReconstructionMetrics("standard", ["psnr", "ssim"], "cpu")
        half = len(images) // world
        _feed(api, images[rank * half : (rank + 1) * half], 3)
        Path(out, f"{rank}.json").write_text(json.dumps(api.compute()))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_equal_one_process(photos, tmp_path):
    import torch.multiprocessing as mp

    from wetok_bench import ReconstructionMetrics

    images = _images(photos, count=12)
    mp.spawn(_rank, args=(2, f"file://{tmp_path / 'pg'}", images, str(tmp_path)), nprocs=2, join=True)
    with one_thread():
        single = ReconstructionMetrics("standard", ["psnr", "ssim"], "cpu")
        _feed(single, images[:6], 3)  # rank 0's images, then rank 1's, in the same batches
        _feed(single, images[6:], 3)
        expected = single.compute()
    for rank in (0, 1):
        got = json.loads((tmp_path / f"{rank}.json").read_text())
        assert got == expected, rank
