"""`wetok-bench score` end to end on real photos and JPEG-degraded copies, offline."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers_inception import write_fidelity_inception_weights
from helpers_lpips import lpips_package_reference, random_backbone_file
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from wetok_bench.cli.main import cli


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


def per_image(out: Path) -> list[dict]:
    """The rows ``score --out FILE`` writes beside the summary (``<stem>.per_image.csv``), values as floats."""
    import csv

    with open(out.with_name(out.stem + ".per_image.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [{k: (v if k in ("key", "recon_path") else float(v)) for k, v in row.items()} for row in rows]


def manifest_of(results: Path) -> dict:
    """The manifest of the one job ``score --results DIR`` wrote."""
    (path,) = results.glob("*/manifest.json")
    return json.loads(path.read_text())


def test_score_standard_end_to_end(tmp_path, folders):
    ref, rec = folders
    inception = write_fidelity_inception_weights(tmp_path / "w" / "inception.pth")
    alex = random_backbone_file("alex", tmp_path / "w" / "alex.pth")
    out = tmp_path / "out" / "scores.json"
    args = ("score", ref, rec, "--inception-weights", inception, "--lpips-weights", alex, "--device", "cpu",
            "--batch-size", "2", "--out", out)
    result = invoke(*args, "--results", tmp_path / "results")
    assert result.exit_code == 0, result.output
    data = strict_json(out.read_text())
    rows = per_image(out)
    assert strict_json(result.stdout[: result.stdout.rindex("}") + 1]) == data["metrics"]  # then the results line
    assert [row["key"] for row in rows] == ["cat.png", "rocket.png", "sub/coffee.png"]
    assert rows[1]["recon_path"] == "rocket.png"

    reference_lpips = lpips_package_reference("alex", alex)
    for row in rows:
        a, b = load(ref / row["key"]), load(rec / row["recon_path"])
        assert row["psnr"] == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-4)
        expected_ssim = structural_similarity(a, b, channel_axis=-1, data_range=255, gaussian_weights=True, use_sample_covariance=False)
        assert row["ssim"] == pytest.approx(expected_ssim, abs=1e-5)
        to_t = lambda x: torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1  # noqa: E731
        assert row["lpips"] == pytest.approx(reference_lpips(to_t(a), to_t(b)).item(), abs=1e-6)
    for key in ("psnr", "ssim", "lpips"):
        assert data["metrics"][key] == pytest.approx(np.mean([row[key] for row in rows]), abs=1e-12)
    assert data["metrics"]["psnr_inf_count"] == 0
    assert data["rfid"]["n"] == data["rfid"]["n_ref"] == 3 and data["rfid"]["unreliable"] is True
    assert data["metrics"]["rfid"] > 0 and data["counts"]["reference_images"] == 3
    assert data["protocol"]["name"] == "standard" and data["tokenizer"]["type"] == "score"
    manifest = manifest_of(tmp_path / "results")
    assert manifest["reference_cache_hit"] is False
    assert manifest["metrics"]["weights"]["inception"]["kind"] == "inception-v3-compat"

    # The second run finds the originals' statistics in the cache and gives the same rFID.
    again = invoke(*args[:-1], tmp_path / "again.json", "--results", tmp_path / "again")
    assert again.exit_code == 0, again.output
    second = strict_json((tmp_path / "again.json").read_text())
    assert manifest_of(tmp_path / "again")["reference_cache_hit"] is True
    assert second["metrics"]["rfid"] == pytest.approx(data["metrics"]["rfid"], rel=1e-12)


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

    rows = {row["key"]: row for row in per_image(out)}
    assert rows["cat.png"]["psnr"] == float("inf") and rows["cat.png"]["ssim"] == pytest.approx(1.0)
    for name in ("rocket.png", "sub/coffee.png"):
        a, b = trunc(load(ref / name)), trunc(load(rec / rows[name]["recon_path"]))
        assert rows[name]["psnr"] == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-4)
        assert rows[name]["ssim"] == pytest.approx(structural_similarity(a, b, channel_axis=-1, data_range=255), abs=1e-5)
    means = data["metrics"]
    assert means["psnr"] == "inf" and means["psnr_inf_count"] == 1
    finite = [rows[n]["psnr"] for n in ("rocket.png", "sub/coffee.png")]
    assert means["psnr_finite_mean"] == pytest.approx(np.mean(finite), abs=1e-12)
    assert "rfid" not in means and "rfid" not in data


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
    assert "every metric is over the 2 pairs scored, not all 3" in result.stderr  # a skip would flatter the means
    written = strict_json(out.read_text())
    assert written["counts"] == {"images": 2, "skipped": 1, "selected": 3, "reference_images": None}
    assert [s["key"] for s in written["skipped_files"]] == ["cat.png"]
    assert [r["key"] for r in per_image(out)] == ["rocket.png", "sub/coffee.png"]
    # the means are over the two readable pairs, from skimage on the files as stored
    expected = [peak_signal_noise_ratio(load(ref / r), load(rec / c), data_range=255)
                for r, c in (("rocket.png", "rocket.png"), ("sub/coffee.png", "sub/coffee.jpg"))]
    assert written["metrics"]["psnr"] == pytest.approx(np.mean(expected), abs=1e-9)
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
    assert "lpips" not in written["metrics"] and "psnr" in written["metrics"]
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
    assert set(data["metrics"]) == {"lpips", "lpips_vgg"}
    to_t = lambda x: torch.from_numpy((x / 127.5 - 1.0).astype(np.float32)).permute(2, 0, 1)[None]  # noqa: E731  (official float)
    for net, key in (("alex", "lpips"), ("vgg", "lpips_vgg")):
        reference = lpips_package_reference(net, alex if net == "alex" else vgg)
        for row in per_image(out):
            expected = reference(to_t(load(ref / row["key"])), to_t(load(rec / row["recon_path"]))).item()
            assert row[key] == pytest.approx(expected, abs=1e-6), (net, row["key"])


def test_skipped_pair_leaves_rfid_reference_too(tmp_path, folders):
    """A truncated file is found only while decoding: rFID's reference must still leave its original
    out, whether the reference statistics are computed now or were cached by a full earlier score."""
    ref, rec = folders
    inception = write_fidelity_inception_weights(tmp_path / "w" / "inception.pth")
    common = ("--metrics", "psnr,rfid", "--inception-weights", inception, "--device", "cpu")
    assert invoke("score", ref, rec, *common, "--out", tmp_path / "full.json", "--results", tmp_path / "r0").exit_code == 0
    full = strict_json((tmp_path / "full.json").read_text())
    assert full["rfid"]["n_ref"] == 3 and manifest_of(tmp_path / "r0")["reference_cache_hit"] is False
    target = rec / "cat.jpg"
    target.write_bytes(target.read_bytes()[:1000])  # the header still reads: found only when decoding
    for attempt in ("cached reference of 3 images", "no cache"):
        if attempt == "no cache":
            for cached in (Path(os.environ["WETOK_BENCH_HOME"]) / "cache").rglob("*.pt"):
                cached.unlink()
        results = tmp_path / attempt.replace(" ", "_")
        result = invoke("score", ref, rec, *common, "--out", tmp_path / "cut.json", "--results", results)
        assert result.exit_code == 0, result.output
        cut = strict_json((tmp_path / "cut.json").read_text())
        assert cut["counts"]["images"] == 2 and cut["rfid"]["n"] == 2 and cut["rfid"]["n_ref"] == 2, attempt
        assert manifest_of(results)["reference_cache_hit"] is False
        assert "truncated" in cut["skipped_files"][0]["reason"]


def test_score_wetok_reports_the_official_layout_aggregate(tmp_path, folders):
    ref, rec = folders
    out = tmp_path / "scores.json"
    assert invoke("score", ref, rec, "--protocol", "wetok", "--metrics", "psnr,ssim", "--out", out).exit_code == 0
    data = strict_json(out.read_text())
    rows = per_image(out)
    # 3 images on the official 8 ranks x batch 100: DistributedSampler pads the sorted list
    # [a, b, c] to [a, b, c, a, b, c, a, b], one image per rank, and the script averages the
    # 8 batch means: (3a + 3b + 2c) / 8, by hand
    for metric in ("psnr", "ssim"):
        a, b, c = (row[metric] for row in rows)
        assert data["metrics"][f"{metric}_official"] == pytest.approx((3 * a + 3 * b + 2 * c) / 8, rel=1e-12)
    standard = tmp_path / "standard.json"
    assert invoke("score", ref, rec, "--metrics", "psnr", "--out", standard).exit_code == 0
    assert "psnr_official" not in strict_json(standard.read_text())["metrics"]
