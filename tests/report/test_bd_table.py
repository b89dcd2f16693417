"""BD curves grouped from synthetic results, and the BD table of the report.

Expected rates and qualities are read straight from the written per_image.csv files with pandas;
the BD values themselves come from report/bjontegaard.py, tested on its own (test_bjontegaard.py)."""

import json

import pandas as pd
import pytest
from _synthetic_results import TOKENIZERS, write_synthetic_suite

from wetok_bench.report import tables
from wetok_bench.report.bd_table import bd_table, build_curves
from wetok_bench.report.bjontegaard import bd_metric, bd_rate
from wetok_bench.report.leaderboard import build_leaderboards
from wetok_bench.results.records import load_results

RES = 256


def _codec(name, psnr, ssim, lpips, bits):
    return ("codec", "codec", name, psnr, ssim, lpips, 10.0, {"bits_mean": bits})


def _wetok(name, psnr, ssim, lpips, bits):
    return ("wetok", "discrete", name, psnr, ssim, lpips, 5.0,
            {"bits": bits, "tokens": 256, "bits_per_token": bits / 256, "latent_shape": [16, 16], "codebook": "x"})


# Quality steps far larger than the per-image noise of the synthetic writer, so every curve is monotonic.
SWEEP = ((22.0, 0.55, 0.40), (27.0, 0.72, 0.25), (32.0, 0.85, 0.14), (37.0, 0.94, 0.06))
MIX = {
    **{f"jpeg-q{q}": _codec(f"jpeg-q{q}", p, s, l, b) for q, (p, s, l), b in zip((10, 30, 50, 90), SWEEP, (20_000, 45_000, 90_000, 200_000))},
    **{f"webp-q{q}": _codec(f"webp-q{q}", p + 1.0, s, l, b) for q, (p, s, l), b in zip((10, 30, 50, 90), SWEEP, (16_000, 36_000, 75_000, 170_000))},
    **{f"wetok-r{i}": _wetok(f"WeTok r{i}", p - 1.0, s, l, b) for i, ((p, s, l), b) in enumerate(zip(SWEEP, (24_000, 50_000, 100_000, 220_000)))},
    "sd-vae-ft-mse": TOKENIZERS["sd-vae-ft-mse"],
    "identity": TOKENIZERS["identity"],
}


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    suite = write_synthetic_suite(tmp_path_factory.mktemp("results"), datasets={"coco-sample": ("coco", 12)}, tokenizers=MIX)
    # as the runner records it: the codec format only in the manifest's tokenizer spec/fingerprint
    for job in suite.iterdir():
        if job.name.startswith(("jpeg", "webp")):
            manifest = json.loads((job / "manifest.json").read_text())
            fmt = job.name[:4]
            manifest["tokenizer"] = {"spec": {"type": "codec", "format": fmt}, "fingerprint": {"family": "codec", "format": fmt}}
            (job / "manifest.json").write_text(json.dumps(manifest))
    (result,) = build_leaderboards(load_results([suite]), n_resamples=20)
    return suite, result


def _expected(suite, names, metric):
    """(bpp, mean metric) of each job, straight from its per_image.csv."""
    frames = [pd.read_csv(next(suite.glob(f"{name}__*")) / "per_image.csv") for name in names]
    return [f["bits"].mean() / (RES * RES) for f in frames], [f[metric].mean() for f in frames]


def test_curves_one_per_codec_format_and_family(board):
    suite, result = board
    curves, left_out = build_curves(result)
    by_key = {c.key: c for c in curves}
    assert set(by_key) == {"jpeg", "webp", "wetok", "diffusers-vae"}  # identity is no curve
    assert by_key["jpeg"].label == "JPEG" and by_key["webp"].label == "WebP"
    assert [p.tokenizer for p in by_key["wetok"].points] == [f"WeTok r{i}" for i in range(4)]
    bpp, psnr = _expected(suite, [f"jpeg-q{q}" for q in (10, 30, 50, 90)], "psnr")
    got_bpp, got_psnr = by_key["jpeg"].series("psnr")
    assert got_bpp == pytest.approx(sorted(bpp), rel=1e-12)
    assert got_psnr == pytest.approx([p for _, p in sorted(zip(bpp, psnr))], rel=1e-12)
    assert left_out == []


def test_bd_table_against_jpeg(board):
    suite, result = board
    table = bd_table(result)
    assert table is not None
    rows = {r[0].text: r for r in table.rows}
    assert set(rows) == {"JPEG", "WebP", "wetok"}  # SD-VAE has 1 point: only in the notes
    assert rows["JPEG"][4].text == "anchor"
    jpeg = [f"jpeg-q{q}" for q in (10, 30, 50, 90)]
    webp = [f"webp-q{q}" for q in (10, 30, 50, 90)]
    for metric, column in (("psnr", 5), ("ssim", 6), ("lpips", 7)):
        expected = bd_metric(*_expected(suite, jpeg, metric), *_expected(suite, webp, metric), metric=metric)
        assert rows["WebP"][column].value == pytest.approx(expected.value, rel=1e-12)
    rate = bd_rate(*_expected(suite, jpeg, "psnr"), *_expected(suite, webp, "psnr"), metric="psnr")
    assert rows["WebP"][4].value == pytest.approx(rate.value, rel=1e-12)
    assert rows["WebP"][4].value < 0  # fewer bits and higher PSNR than JPEG
    assert rows["WebP"][3].text == f"{rate.quality_overlap[0]:.2f}–{rate.quality_overlap[1]:.2f}"
    notes = " ".join(table.notes)
    assert "Anchor: JPEG" in notes and "PCHIP" in notes and "diffusers-vae (1)" in notes
    assert "BD-rate" in tables.to_markdown(table)


def test_named_anchor_and_cubic(board):
    _, result = board
    table = bd_table(result, anchor="webp", interpolation="cubic")
    rows = {r[0].text: r for r in table.rows}
    assert rows["WebP"][4].text == "anchor"
    assert rows["JPEG"][4].value > 0  # JPEG needs more bits than WebP
    assert any("VCEG-M33" in n for n in table.notes)


def test_unknown_anchor_and_refusal_reasons(tmp_path):
    # three JPEG points and four WeTok ones: the anchor is too short, each cell says so
    mix = {k: v for k, v in MIX.items() if k.startswith("wetok") or k in ("jpeg-q10", "jpeg-q50", "jpeg-q90")}
    suite = write_synthetic_suite(tmp_path, datasets={"coco-sample": ("coco", 6)}, tokenizers=mix)
    (result,) = build_leaderboards(load_results([suite]), n_resamples=10)
    table = bd_table(result, anchor="jpeg")
    (row,) = table.rows  # only WeTok has 4 points
    assert row[4].text == "too few points"
    assert any("anchor: 3 point(s)" in n for n in table.notes)
    missing = bd_table(result, anchor="avif")
    assert "'avif' is not a curve here" in missing.notes[0]


def test_report_has_bd_section(board, tmp_path):
    from wetok_bench.report.build import build_report

    suite, result = board
    index = build_report([suite], tmp_path / "report", n_resamples=10)
    page = index.read_text()
    assert "Bjontegaard delta" in page and "BD-rate (PSNR) %" in page
    written = (tmp_path / "report" / "bd" / f"{result.slug}.md").read_text()
    assert "| WebP |" in written and "anchor" in written


def _drop_lpips(suite, prefixes):
    for job in suite.iterdir():
        if job.name.startswith(prefixes):
            frame = pd.read_csv(job / "per_image.csv")
            frame.drop(columns=["lpips"]).to_csv(job / "per_image.csv", index=False)
            summary = json.loads((job / "summary.json").read_text())
            summary["metrics"].pop("lpips")
            (job / "summary.json").write_text(json.dumps(summary))


def test_metric_not_measured(tmp_path):
    mix = {k: v for k, v in MIX.items() if k.startswith(("jpeg", "webp"))}
    suite = write_synthetic_suite(tmp_path / "a", datasets={"coco-sample": ("coco", 6)}, tokenizers=mix)
    _drop_lpips(suite, ("webp",))
    (result,) = build_leaderboards(load_results([suite]), n_resamples=10)
    table = bd_table(result)
    rows = {r[0].text: r for r in table.rows}
    assert table.headers[-1] == "BD-LPIPS (lower better)" and rows["WebP"][-1].text == "not measured"
    assert any("lpips not measured for WebP" in n for n in table.notes)
    _drop_lpips(suite, ("jpeg",))  # no curve has LPIPS: no column
    (result,) = build_leaderboards(load_results([suite]), n_resamples=10)
    table = bd_table(result)
    assert table.headers[-1] == "BD-SSIM" and len(table.rows[0]) == len(table.headers)
