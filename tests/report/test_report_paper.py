"""Paper tables: measured numbers beside published ones, difference, citation, 'not published' cells."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _synthetic_results import write_synthetic_suite
from conftest import REPO

from wetok_bench.report.leaderboard import build_leaderboards
from wetok_bench.report.paper import NOT_PUBLISHED, NOT_RUN, build_paper_tables, paper_table
from wetok_bench.report.tables import to_latex, to_markdown
from wetok_bench.results.baselines import load_published
from wetok_bench.results.records import SUMMARY_FILE, load_results


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    suite = write_synthetic_suite(tmp_path_factory.mktemp("results"))
    # a suite may name its job differently and map it onto the published name
    summary_path = suite / "jpeg-q50__coco-sample__256" / SUMMARY_FILE
    summary = json.loads(summary_path.read_text())
    summary["tokenizer"]["paper_name"] = "sdxl-vae"
    summary_path.write_text(json.dumps(summary))
    # a measured rFID away from the published 4.70, so the difference column can be wrong
    sd_path = suite / "sd-vae-ft-mse__coco-sample__256" / SUMMARY_FILE
    sd = json.loads(sd_path.read_text())
    sd["metrics"]["rfid"] = sd["rfid"]["rfid"] = 5.25
    sd_path.write_text(json.dumps(sd))
    rows = [r for b in build_leaderboards(load_results([suite])) for r in b.rows]
    tables = build_paper_tables(rows, load_published(REPO / "baselines"))
    return suite, {t.dataset: paper_table(t) for t in tables if t.resolution == 256}


def _row(table, label):
    return {h: c for h, c in zip(table.headers, next(r for r in table.rows if r[0].text == label))}


def test_a_number_of_another_convention_is_shown_not_subtracted(paper):
    suite, tables = paper
    coco = tables["coco-val2017"]
    per_image = pd.read_csv(suite / "sd-vae-ft-mse__coco-sample__256" / "per_image.csv")
    row = _row(coco, "SD-VAE ft-MSE")
    assert row["PSNR ours"].value == pytest.approx(per_image["psnr"].mean(), rel=1e-12)
    assert row["PSNR published"].value == 24.5  # sd-vae-ft-mse card, COCO 2017 val 256
    # the card's numbers come from Stability AI's own evaluation ("other"): no difference
    assert row["PSNR diff"].value is None and row["PSNR diff"].text == "under other"
    assert row["rFID published"].text.startswith("4.70 [") and row["rFID diff"].text == "under other"
    assert row["LPIPS published"].text == NOT_PUBLISHED and row["LPIPS diff"].text == "–"
    assert any("'under P'" in note for note in coco.notes)


def _as_protocol(job, name: str) -> None:
    """Make a synthetic job one measured under protocol ``name``."""
    from wetok_bench.protocols import get_protocol

    protocol = get_protocol(name)
    summary = json.loads((job / SUMMARY_FILE).read_text())
    summary["protocol"] = {"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint}
    (job / SUMMARY_FILE).write_text(json.dumps(summary))


def test_the_same_convention_is_subtracted_aggregated_as_the_sources_script(tmp_path):
    suite = write_synthetic_suite(tmp_path / "results")
    job = suite / "sd-vae-ft-mse__coco-sample__256"
    summary = json.loads((job / SUMMARY_FILE).read_text())
    summary["tokenizer"]["paper_name"] = "llamagen-vq16"  # SEED-Voken re-evaluated it: protocol seed-voken
    (job / SUMMARY_FILE).write_text(json.dumps(summary))
    _as_protocol(job, "wetok")  # the same convention as seed-voken, another aggregate
    rows = [r for b in build_leaderboards(load_results([suite])) for r in b.rows]
    tables = {(t.dataset, t.resolution): t for t in build_paper_tables(rows, load_published(REPO / "baselines"))}
    table = paper_table(tables[("coco-val2017", 256)])
    row = _row(table, "SD-VAE ft-MSE")
    psnr = pd.read_csv(job / "per_image.csv")["psnr"].to_numpy()
    # SEED-Voken's evaluation_image.py: one process, batches of 4, the mean of the batch means
    by_hand = np.mean([psnr[i : i + 4].mean() for i in range(0, psnr.size, 4)])
    assert row["PSNR ours"].value == pytest.approx(by_hand, rel=1e-12) and row["PSNR ours"].mark == "*"
    assert row["PSNR published"].value == 20.28  # LlamaGen on COCO, SEED-Voken docs/Open-MAGVIT2.md
    assert row["PSNR diff"].value == pytest.approx(by_hand - 20.28, rel=1e-12)
    assert row["rFID ours"].mark == ""  # rFID has no other aggregate
    assert any("aggregated as the source's evaluation script" in note for note in table.notes)


def test_paper_name_maps_a_result_and_unrun_models_are_listed(paper):
    _, tables = paper
    coco = tables["coco-val2017"]
    assert _row(coco, "JPEG q50")["SSIM published"].value == 0.73  # matched through paper_name: sdxl-vae
    llamagen = _row(coco, "LlamaGen")
    assert llamagen["rFID ours"].text == NOT_RUN and llamagen["rFID published"].value == 8.40
    imagenet = tables["imagenet-val"]
    assert _row(imagenet, "FLUX-VAE")["rFID published"].value == 0.18
    assert _row(imagenet, "Cosmos DI16x16")["LPIPS ours"].text == "–"  # skipped metric, not zero


def test_sources_are_cited_and_missing_tables_marked(paper):
    _, tables = paper
    text = to_markdown(tables["imagenet-val"])
    assert "https://arxiv.org/abs/2508.05599" in text and "https://github.com/TencentARC/SEED-Voken/blob/main/docs/Open-MAGVIT2.md" in text
    assert "to be filled from the paper" in text
    assert "Ours measured on: imagenet-sample (30 images)" in text
    cited = {c.text.split("[")[1].rstrip("]") for r in tables["imagenet-val"].rows for c in r if "[" in c.text}
    assert cited == {"1", "2", "3", "4"}  # WeTok abstract, SEED-Voken Open-MAGVIT2, IBQ and in-domain tables
    assert r"\toprule" in to_latex(tables["coco-val2017"])


def test_original_resolution_gets_its_own_table(paper):
    published = load_published(REPO / "baselines")
    tables = [t for t in build_paper_tables([], published) if t.resolution == "original"]
    assert {t.dataset for t in tables} == {"imagenet-val", "coco-val2017"}
    imagenet = paper_table(next(t for t in tables if t.dataset == "imagenet-val"))
    assert "original resolution" in imagenet.title
    # SEED-Voken docs/Open-MAGVIT2.md, "Original" rows: Open-MAGVIT2 2^18 rFID 0.78 on ImageNet
    assert _row(imagenet, "Open-MAGVIT2 (2^18)")["rFID published"].value == 0.78
    assert _row(imagenet, "Cosmos DI16x16")["PSNR published"].value == 20.56


def test_missing_per_image_file_is_noted_for_its_own_job(tmp_path):
    suite = write_synthetic_suite(tmp_path / "results")
    (suite / "sd-vae-ft-mse__coco-sample__256" / "per_image.csv").unlink()
    notes = [n for b in build_leaderboards(load_results([suite])) for n in b.notes if "per_image.csv missing" in n]
    assert len(notes) == 1 and notes[0].startswith("SD-VAE ft-MSE:")  # its display name


def test_a_job_of_a_model_card_at_original_resolution_sits_beside_its_published_numbers(tmp_path):
    """Issue 11's zero-shot table: a job run with ``model: <card>`` at ``resolution: original`` is
    matched by the card name (no paper_name) and shown beside SEED-Voken's "Original" row."""
    suite = write_synthetic_suite(tmp_path / "results")
    job = suite / "jpeg-q90__imagenet-sample__256"
    summary = json.loads((job / SUMMARY_FILE).read_text())
    summary["tokenizer"].update({"name": "omv2", "display_name": "omv2", "type": "open-magvit2",
                                 "kind": "discrete", "model": "open-magvit2-pretrain256-262144"})
    summary["resolution"] = "original"
    (job / SUMMARY_FILE).write_text(json.dumps(summary))
    _as_protocol(job, "seed-voken")  # the protocol of SEED-Voken's table
    per_image = pd.read_csv(job / "per_image.csv")
    rows = [r for b in build_leaderboards(load_results([suite])) for r in b.rows]
    tables = {(t.dataset, t.resolution): t for t in build_paper_tables(rows, load_published(REPO / "baselines"))}
    table = paper_table(tables[("imagenet-val", "original")])
    row = _row(table, "omv2")
    psnr = per_image["psnr"].to_numpy()
    official = np.mean([psnr[i : i + 4].mean() for i in range(0, psnr.size, 4)])  # batch 4, one process
    assert row["PSNR ours"].value == pytest.approx(official, rel=1e-12)
    # SEED-Voken docs/Open-MAGVIT2.md, ImageNet "Original": 2^18 pretrained, PSNR 22.24, SSIM 0.59, rFID 0.78
    assert row["PSNR published"].value == 22.24 and row["SSIM published"].value == 0.59
    assert row["rFID published"].text.startswith("0.78 [")
    assert row["PSNR diff"].value == pytest.approx(official - 22.24, rel=1e-12)
    assert not any(r[0].text == "Open-MAGVIT2 (2^18)" for r in table.rows)  # one row, not a second "not run" one


def test_columns_are_the_registry_metrics_the_rows_have_and_a_plugin_metric_follows_lpips(tmp_path, monkeypatch, fresh_plugins):
    import plugin_metrics

    monkeypatch.syspath_prepend(str(plugin_metrics.install_plugin(tmp_path / "site")))  # metric "mae"
    suite = write_synthetic_suite(tmp_path / "results")
    job = suite / "sd-vae-ft-mse__coco-sample__256"
    summary = json.loads((job / SUMMARY_FILE).read_text())
    summary["metrics"]["mae"] = 3.14159  # the plug-in measured in this job only
    (job / SUMMARY_FILE).write_text(json.dumps(summary))
    per_image = pd.read_csv(job / "per_image.csv")
    rows = [r for b in build_leaderboards(load_results([suite])) for r in b.rows]
    tables = {t.dataset: paper_table(t) for t in build_paper_tables(rows, load_published(REPO / "baselines")) if t.resolution == 256}
    coco = tables["coco-val2017"]
    # the papers' order for the four, then the plug-in; its label is its name, its decimals the default 4
    assert coco.headers[2::3] == ["rFID ours", "PSNR ours", "SSIM ours", "LPIPS ours", "mae ours"]
    row = _row(coco, "SD-VAE ft-MSE")
    assert row["mae ours"].text == "3.1416" and row["mae ours"].value == 3.14159
    assert row["mae published"].text == NOT_PUBLISHED and row["mae diff"].text == "–"
    assert _row(coco, "JPEG q50")["mae ours"].text == "–"  # not measured there
    # decimals from the registry: PSNR 2, SSIM 4
    assert row["PSNR ours"].text == f"{per_image['psnr'].mean():.2f}"
    assert row["SSIM ours"].text == f"{per_image['ssim'].mean():.4f}"
    assert "mae ours" not in tables["imagenet-val"].headers  # no row there has it
