"""`wetok-bench score` end to end on real photos and JPEG-degraded copies, offline."""

from __future__ import annotations

import io
import os
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers_inception import write_fidelity_inception_weights
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from test_lpips import lpips_package_reference, random_backbone_file

from wetok_bench.cli import cli


def jpeg(image: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture
def folders(tmp_path, photos) -> tuple[Path, Path]:
    """Originals (PNG, two sizes, one in a subfolder) and JPEG reconstructions (.jpg or .png)."""
    ref, rec = tmp_path / "ref", tmp_path / "rec"
    (ref / "sub").mkdir(parents=True)
    (rec / "sub").mkdir(parents=True)
    images = {
        "cat": photos["chelsea"][50:141, 100:221],  # 91 x 121
        "sub/coffee": photos["coffee"][:91, 200:321],
        "rocket": photos["rocket"][100:173, 300:357],  # 73 x 57
    }
    for i, (name, image) in enumerate(images.items()):
        Image.fromarray(image).save(ref / f"{name}.png")
        data = jpeg(image, quality=15 + 10 * i)
        if name == "rocket":  # a lossless copy of the JPEG decode: pairs by stem, any extension
            Image.open(io.BytesIO(data)).save(rec / f"{name}.png")
        else:
            (rec / f"{name}.jpg").write_bytes(data)
    return ref, rec


def load(path: Path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_score_standard_end_to_end(tmp_path, folders):
    ref, rec = folders
    inception = write_fidelity_inception_weights(tmp_path / "w" / "inception.pth")
    alex = random_backbone_file("alex", tmp_path / "w" / "alex.pth")
    out = tmp_path / "out" / "scores.json"
    args = ("score", ref, rec, "--inception-weights", inception, "--lpips-weights", alex, "--device", "cpu",
            "--batch-size", "2", "--out", out)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    data = strict_json(out.read_text())
    assert strict_json(result.stdout) == data["means"]
    assert [row["path"] for row in data["per_image"]] == ["cat.png", "rocket.png", "sub/coffee.png"]
    assert data["per_image"][1]["recon_path"] == "rocket.png"

    reference_lpips = lpips_package_reference("alex", alex)
    for row in data["per_image"]:
        a, b = load(ref / row["path"]), load(rec / row["recon_path"])
        assert row["psnr"] == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-4)
        expected_ssim = structural_similarity(a, b, channel_axis=-1, data_range=255, gaussian_weights=True, use_sample_covariance=False)
        assert row["ssim"] == pytest.approx(expected_ssim, abs=1e-5)
        to_t = lambda x: torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1  # noqa: E731
        assert row["lpips"] == pytest.approx(reference_lpips(to_t(a), to_t(b)).item(), abs=1e-6)
    for key in ("psnr", "ssim", "lpips"):
        assert data["means"][key] == pytest.approx(np.mean([row[key] for row in data["per_image"]]), abs=1e-12)
    assert data["means"]["psnr_inf_count"] == 0
    assert data["fid"]["n"] == data["fid"]["n_ref"] == 3 and data["fid"]["unreliable"] is True
    assert data["fid"]["reference_cache_hit"] is False and data["means"]["rfid"] > 0
    assert data["protocol"]["name"] == "standard"
    assert data["evaluator"]["weights"]["inception"]["kind"] == "inception-v3-compat"

    # The second run finds the originals' statistics in the cache and gives the same rFID.
    again = invoke(*args[:-1], tmp_path / "again.json")
    assert again.exit_code == 0, again.output
    second = strict_json((tmp_path / "again.json").read_text())
    assert second["fid"]["reference_cache_hit"] is True
    assert second["means"]["rfid"] == pytest.approx(data["means"]["rfid"], rel=1e-12)


def test_score_wetok_pixels_and_identical_image(tmp_path, folders):
    ref, rec = folders
    (rec / "cat.jpg").unlink()
    Image.open(ref / "cat.png").save(rec / "cat.png")  # identical: PSNR +inf
    out = tmp_path / "scores.json"
    result = invoke("score", ref, rec, "--protocol", "wetok", "--metrics", "psnr,ssim", "--out", out)
    assert result.exit_code == 0, result.output
    data = strict_json(out.read_text())

    # wetok: both images become floats as the official dataset makes them (division in float64,
    # one rounding to float32; test_official_wetok_eval.py checks that against the official
    # code's recorded outputs), then are truncated back to uint8 in float32 as its script does
    def trunc(u8: np.ndarray) -> np.ndarray:
        f = (u8 / 127.5 - 1.0).astype(np.float32)
        return ((f + np.float32(1)) / np.float32(2) * np.float32(255)).astype(np.uint8)

    rows = {row["path"]: row for row in data["per_image"]}
    assert rows["cat.png"]["psnr"] == "inf" and rows["cat.png"]["ssim"] == pytest.approx(1.0)
    for name in ("rocket.png", "sub/coffee.png"):
        a, b = trunc(load(ref / name)), trunc(load(rec / rows[name]["recon_path"]))
        assert rows[name]["psnr"] == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-4)
        assert rows[name]["ssim"] == pytest.approx(structural_similarity(a, b, channel_axis=-1, data_range=255), abs=1e-5)
    means = data["means"]
    assert means["psnr"] == "inf" and means["psnr_inf_count"] == 1
    finite = [rows[n]["psnr"] for n in ("rocket.png", "sub/coffee.png")]
    assert means["psnr_finite_mean"] == pytest.approx(np.mean(finite), abs=1e-12)
    assert "rfid" not in means and data["fid"] is None


def test_unpaired_files_are_named(tmp_path, folders):
    ref, rec = folders
    (rec / "sub" / "coffee.jpg").rename(rec / "sub" / "coffee2.jpg")
    result = CliRunner().invoke(cli, ["score", str(ref), str(rec), "--metrics", "psnr", "--out", str(tmp_path / "o.json")])
    assert result.exit_code == 2
    assert "sub/coffee.png" in result.stderr and "sub/coffee2.jpg" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "o.json").exists()


def test_unequal_sizes_are_named(tmp_path, folders):
    ref, rec = folders
    Image.open(rec / "rocket.png").crop((0, 0, 50, 70)).save(rec / "rocket.png")
    result = CliRunner().invoke(cli, ["score", str(ref), str(rec), "--metrics", "psnr", "--out", str(tmp_path / "o.json")])
    assert result.exit_code == 2
    assert "rocket.png is 50x70, its original 57x73" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_unreadable_image_is_skipped_recorded_and_named_or_an_error_with_strict(tmp_path, folders, damage):
    ref, rec = folders
    target = rec / "cat.jpg"
    data = target.read_bytes()
    target.write_bytes({"garbage": b"not an image", "truncated": data[: len(data) // 2], "empty": b""}[damage])
    out = tmp_path / "o.json"
    result = invoke("score", ref, rec, "--metrics", "psnr,ssim", "--out", out)
    assert result.exit_code == 0, result.output
    # keyed by the original, naming the damaged file itself (the reconstruction is cat.jpg)
    assert "skipped 1 of 3 image(s): cat.png (reconstruction cat.jpg unreadable: " in result.stderr
    written = strict_json(out.read_text())
    assert written["counts"] == {"images": 2, "skipped": 1, "pairs": 3}
    assert [s["key"] for s in written["skipped_files"]] == ["cat.png"]
    assert [r["path"] for r in written["per_image"]] == ["rocket.png", "sub/coffee.png"]
    # the means are over the two readable pairs, from skimage on the files as stored
    expected = [peak_signal_noise_ratio(load(ref / r), load(rec / c), data_range=255)
                for r, c in (("rocket.png", "rocket.png"), ("sub/coffee.png", "sub/coffee.jpg"))]
    assert written["means"]["psnr"] == pytest.approx(np.mean(expected), abs=1e-9)
    strict = CliRunner().invoke(cli, ["score", str(ref), str(rec), "--metrics", "psnr", "--strict", "--out", str(tmp_path / "s.json")])
    assert strict.exit_code == 2, strict.output
    assert "cat.jpg" in strict.stderr and "Traceback" not in strict.output and not (tmp_path / "s.json").exists()


def test_missing_weights_error_or_skip(tmp_path, folders):
    ref, rec = folders
    out = tmp_path / "o.json"
    failed = CliRunner().invoke(cli, ["score", str(ref), str(rec), "--metrics", "psnr,lpips", "--device", "cpu", "--out", str(out)])
    assert failed.exit_code != 0 and "alexnet-owt-7be5be79.pth" in failed.stderr and not out.exists()
    result = invoke("score", ref, rec, "--metrics", "psnr,lpips", "--device", "cpu", "--on-missing-weights", "skip", "--out", out)
    assert result.exit_code == 0, result.output
    written = strict_json(out.read_text())
    assert "lpips" not in written["means"] and "psnr" in written["means"]
    assert "alexnet-owt-7be5be79.pth" in written["skipped_metrics"]["lpips"]
    assert "warning: lpips skipped: weights missing" in result.stderr


def test_unknown_metric_lists_valid_ones(tmp_path, folders):
    ref, rec = folders
    result = CliRunner().invoke(cli, ["score", str(ref), str(rec), "--metrics", "psnr,fid", "--out", str(tmp_path / "o.json")])
    assert result.exit_code == 2
    assert "fid" in result.stderr and "psnr, ssim, lpips, rfid" in result.stderr


def test_score_wetok_lpips_both_backbones(tmp_path, folders):
    ref, rec = folders
    alex = random_backbone_file("alex", tmp_path / "w" / "alex.pth")
    vgg = random_backbone_file("vgg", tmp_path / "w" / "vgg.pth")
    base = ("score", ref, rec, "--protocol", "wetok", "--metrics", "lpips", "--device", "cpu")
    one = CliRunner().invoke(cli, [str(a) for a in (*base, "--lpips-weights", alex, "--out", tmp_path / "x.json")])
    assert one.exit_code == 2 and "one weights file per backbone" in one.stderr

    out = tmp_path / "scores.json"
    result = invoke(*base, "--lpips-weights", f"alex={alex}", "--lpips-weights", f"vgg={vgg}", "--out", out)
    assert result.exit_code == 0, result.output
    data = strict_json(out.read_text())
    assert set(data["means"]) == {"lpips", "lpips_vgg"}
    to_t = lambda x: torch.from_numpy((x / 127.5 - 1.0).astype(np.float32)).permute(2, 0, 1)[None]  # noqa: E731  (official float)
    for net, key in (("alex", "lpips"), ("vgg", "lpips_vgg")):
        reference = lpips_package_reference(net, alex if net == "alex" else vgg)
        for row in data["per_image"]:
            expected = reference(to_t(load(ref / row["path"])), to_t(load(rec / row["recon_path"]))).item()
            assert row[key] == pytest.approx(expected, abs=1e-6), (net, row["path"])


def test_skipped_pair_leaves_rfid_reference_too(tmp_path, folders):
    """A truncated file is found only while decoding: rFID's reference must still leave its original
    out, whether the reference statistics are computed now or were cached by a full earlier score."""
    ref, rec = folders
    inception = write_fidelity_inception_weights(tmp_path / "w" / "inception.pth")
    common = ("--metrics", "psnr,rfid", "--inception-weights", inception, "--device", "cpu")
    assert invoke("score", ref, rec, *common, "--out", tmp_path / "full.json").exit_code == 0
    full = strict_json((tmp_path / "full.json").read_text())
    assert full["fid"]["n_ref"] == 3 and full["fid"]["reference_cache_hit"] is False
    target = rec / "cat.jpg"
    target.write_bytes(target.read_bytes()[:1000])  # the header still reads: found only when decoding
    for attempt in ("cached reference of 3 images", "no cache"):
        if attempt == "no cache":
            for cached in (Path(os.environ["WETOK_BENCH_HOME"]) / "cache").rglob("*.pt"):
                cached.unlink()
        result = invoke("score", ref, rec, *common, "--out", tmp_path / "cut.json")
        assert result.exit_code == 0, result.output
        cut = strict_json((tmp_path / "cut.json").read_text())
        assert cut["counts"]["images"] == 2 and cut["fid"]["n"] == 2 and cut["fid"]["n_ref"] == 2, attempt
        assert cut["fid"]["reference_cache_hit"] is False
        assert "truncated" in cut["skipped_files"][0]["reason"]


def test_score_wetok_reports_the_official_layout_aggregate(tmp_path, folders):
    ref, rec = folders
    out = tmp_path / "scores.json"
    assert invoke("score", ref, rec, "--protocol", "wetok", "--metrics", "psnr,ssim", "--out", out).exit_code == 0
    data = strict_json(out.read_text())
    # 3 images on the official 8 ranks x batch 100: DistributedSampler pads the sorted list
    # [a, b, c] to [a, b, c, a, b, c, a, b], one image per rank, and the script averages the
    # 8 batch means: (3a + 3b + 2c) / 8, by hand
    for metric in ("psnr", "ssim"):
        a, b, c = (row[metric] for row in data["per_image"])
        assert data["means"][f"{metric}_official"] == pytest.approx((3 * a + 3 * b + 2 * c) / 8, rel=1e-12)
    standard = tmp_path / "standard.json"
    assert invoke("score", ref, rec, "--metrics", "psnr", "--out", standard).exit_code == 0
    assert "psnr_official" not in strict_json(standard.read_text())["means"]
