"""``score`` with the protocols' own preprocessing and with several protocols at once."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from wetok_bench.cli.main import cli
from wetok_bench.commands.score import score_folders
from wetok_bench.data.images import load_rgb
from wetok_bench.data.resize.adm import adm_center_crop_u8

SIDE = 48


def _jpeg_round_trip(array: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


@pytest.fixture
def uncropped(tmp_path, photos) -> tuple[Path, Path]:
    """Uncropped originals of several sizes (as ImageNet's files are) and 48 x 48 reconstructions
    made from the LlamaGen (ADM) crop of each: what a tokenizer evaluated elsewhere wrote."""
    ref, rec = tmp_path / "ref", tmp_path / "rec"
    ref.mkdir()
    rec.mkdir()
    crops = {"cat": photos["chelsea"][20:170, 40:251], "cup": photos["coffee"][:130, 100:190],
             "moon": photos["astronaut"][:96, :96]}
    for i, (name, array) in enumerate(crops.items()):
        Image.fromarray(array).save(ref / f"{name}.png")
        cropped = adm_center_crop_u8(Image.fromarray(array), SIDE).permute(1, 2, 0).numpy()
        Image.fromarray(_jpeg_round_trip(cropped, 30 + 10 * i)).save(rec / f"{name}.png")
    return ref, rec


def test_originals_of_another_size_get_the_protocols_preprocessing(uncropped):
    ref, rec = uncropped
    result = score_folders(ref, rec, protocol="llamagen", metrics=["psnr"], device="cpu")
    assert result.summary.counts["preprocessed"] == 3
    assert result.summary.resolution == SIDE and result.summary.dataset["preprocess"] == "adm-center-crop"
    assert any("differ in size from their reconstructions" in w and "adm-center-crop" in w for w in result.warnings)
    for row in result.rows:
        # the independent value: skimage on ADM's crop (PIL BOX/BICUBIC, round(), floor offsets) of the file
        original = adm_center_crop_u8(load_rgb(ref / row["key"]), SIDE).permute(1, 2, 0).numpy()
        expected = peak_signal_noise_ratio(original, np.asarray(Image.open(rec / row["recon_path"]).convert("RGB")),
                                           data_range=255)
        assert row["psnr"] == pytest.approx(expected, abs=1e-9)
    # under standard the rule is torchvision's bilinear resize and centre crop: other pixels, other values
    standard = score_folders(ref, rec, protocol="standard", metrics=["psnr"], device="cpu")
    assert [r["psnr"] for r in standard.rows] != [r["psnr"] for r in result.rows]


def test_equal_sizes_are_used_as_stored(uncropped, tmp_path):
    ref, rec = uncropped
    same = tmp_path / "same"
    same.mkdir()
    for path in sorted(ref.glob("*.png")):  # originals already at the reconstructions' size
        Image.fromarray(adm_center_crop_u8(load_rgb(path), SIDE).permute(1, 2, 0).numpy()).save(same / path.name)
    result = score_folders(same, rec, protocol="llamagen", metrics=["psnr"], device="cpu")
    assert "preprocessed" not in result.summary.counts and not result.warnings


def test_a_non_square_reconstruction_of_another_size_is_refused(uncropped):
    ref, rec = uncropped
    Image.open(rec / "cat.png").crop((0, 0, 40, 48)).save(rec / "cat.png")
    result = CliRunner().invoke(cli, ["score", str(ref), str(rec), "--metrics", "psnr", "--out", "o.json"])
    assert result.exit_code == 2 and "cat.png is 40x48" in result.stderr and "or be square" in result.stderr


def test_several_protocols_each_their_own_record(uncropped, tmp_path):
    ref, rec = uncropped
    out, results = tmp_path / "scores.json", tmp_path / "results"
    result = CliRunner().invoke(cli, ["score", str(ref), str(rec), "--protocol", "standard,llamagen,wetok",
                                      "--metrics", "psnr,ssim", "--device", "cpu", "--out", str(out),
                                      "--results", str(results)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert list(printed) == ["standard", "llamagen", "wetok"]
    for name in printed:
        alone = score_folders(ref, rec, protocol=name, metrics=["psnr", "ssim"], device="cpu")
        written = json.loads(out.with_name(f"scores.{name}.json").read_text())
        assert written["metrics"] == alone.metrics == printed[name]
        assert written["protocol"]["name"] == name
        assert (results / name / "rec__ref__48" / "summary.json").is_file()
    assert printed["llamagen"]["ssim"] > printed["standard"]["ssim"]  # data range 2 on [0, 1]


def test_several_protocols_leave_out_what_one_does_not_define(uncropped, tmp_path):
    ref, rec = uncropped
    result = CliRunner().invoke(cli, ["score", str(ref), str(rec), "--protocol", "llamagen,standard", "--metrics",
                                      "psnr,lpips", "--device", "cpu", "--out", str(tmp_path / "s.json"),
                                      "--on-missing-weights", "skip"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert "lpips" not in printed["llamagen"] and "psnr" in printed["llamagen"]
    bad = CliRunner().invoke(cli, ["score", str(ref), str(rec), "--protocol", "standard,nope", "--out", "x.json"])
    assert bad.exit_code == 2 and "unknown metric protocol 'nope'" in bad.stderr


def test_a_metric_the_protocol_does_not_define_is_refused_before_any_work(uncropped, tmp_path):
    ref, rec = uncropped
    result = CliRunner().invoke(cli, ["score", str(ref), str(rec), "--protocol", "llamagen", "--metrics", "lpips",
                                      "--out", str(tmp_path / "s.json")])
    assert result.exit_code == 2 and "protocol 'llamagen' does not define lpips" in result.stderr
    assert not (tmp_path / "s.json").exists()


def test_one_path_for_a_slot_two_protocols_read_differently_is_refused(uncropped, tmp_path):
    ref, rec = uncropped
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"not read: refused before any work")
    result = CliRunner().invoke(cli, ["score", str(ref), str(rec), "--protocol", "standard,wetok", "--metrics", "rfid",
                                      "--inception-weights", str(weights), "--out", str(tmp_path / "s.json")])
    assert result.exit_code == 2
    assert "read different files in slot 'inception' (inception-v3-compat, pytorch-fid-inception)" in result.stderr
    assert not list(tmp_path.glob("s*.json"))
