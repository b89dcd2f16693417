"""Every file in baselines/ follows its documented schema; invalid files are refused with the field named."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import REPO

from wetok_bench.core.errors import UsageError
from wetok_bench.results.baselines import (
    PAPER_DATASETS,
    baseline_files,
    known_metrics,
    load_published,
    match_model,
    read_data_file,
    result_paper_dataset,
    validate_file,
    validate_published,
)

BASELINES = REPO / "baselines"


@pytest.mark.parametrize("path", baseline_files(BASELINES), ids=lambda p: str(p.relative_to(BASELINES)))
def test_every_baseline_file_is_valid(path):
    assert validate_file(path) == []
    data = read_data_file(path)
    if data["kind"] == "published":
        for record in data["records"]:
            assert record["metric"] in known_metrics() and record["dataset"] in PAPER_DATASETS
            assert isinstance(record["value"], (int, float))


def test_published_records_carry_their_source():
    published = load_published(BASELINES)
    assert len(baseline_files(BASELINES)) >= 4
    assert {r.source for r in published.records} >= {
        "wetok-paper", "sd-vae-model-cards", "seed-voken-open-magvit2-docs", "seed-voken-ibq-docs", "seed-voken-in-domain"
    }
    for record in published.records:
        assert record.citation and record.url.startswith("https://") and record.protocol_notes
    # each number says the convention it was produced under (protocols.md's "published numbers" column)
    by_source = {}
    for record in published.records:
        by_source.setdefault(record.source, set()).add(record.protocol)
    assert by_source["wetok-paper"] == {"wetok"}
    assert by_source["seed-voken-open-magvit2-docs"] == by_source["seed-voken-ibq-docs"] == {"seed-voken"}
    assert by_source["seed-voken-in-domain"] == {"ibq", "open-magvit2-v1"}  # IBQ ImageNet configs; the pooled PSNR era
    assert by_source["sd-vae-model-cards"] == {"other"}
    # the figures of the WeTok abstract (references.md), as recorded
    wetok = {(r.model, r.metric): r.value for r in published.records if r.source == "wetok-paper"}
    assert wetok[("flux-vae", "rfid")] == 0.18 and wetok[("wetok-general-c768", "rfid")] == 3.49
    assert any("to be filled from the paper" in what for _, what in published.pending)
    # SEED-Voken docs/Open-MAGVIT2.md "Performance comparison" table, 256 and original resolution
    om = {(r.model, r.dataset, r.resolution, r.metric): r.value for r in published.records
          if r.source == "seed-voken-open-magvit2-docs"}
    assert om[("open-magvit2-pretrain256-262144", "imagenet-val", "original", "rfid")] == 0.78
    assert om[("cosmos-di16x16", "coco-val2017", "original", "psnr")] == 20.45
    assert om[("show-o-lfq-8192", "imagenet-val", 256, "ssim")] == 0.59


def test_original_resolution_is_a_published_resolution():
    from wetok_bench.results.baselines import validate_published

    ok = {**GOOD, "records": [{**GOOD["records"][0], "resolution": "original"}]}
    assert validate_published(ok) == []
    bad = {**GOOD, "records": [{**GOOD["records"][0], "resolution": "native"}]}
    assert any("'original'" in p for p in validate_published(bad))


GOOD = {
    "kind": "published",
    "source": {"id": "x", "citation": "X et al.", "url": "https://x", "protocol": "other", "protocol_notes": "256, COCO"},
    "records": [{"model": "m", "label": "M", "dataset": "coco-val2017", "resolution": 256, "metric": "psnr", "value": 24.5}],
}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["records"][0].pop("value"), "missing 'value'"),
        (lambda d: d["records"][0].update(value="24.5"), "not a finite number"),
        (lambda d: d["records"][0].update(metric="fid"), "metric 'fid' not one of"),
        (lambda d: d["records"][0].update(dataset="cifar"), "dataset 'cifar' not one of"),
        (lambda d: d["source"].pop("citation"), "source.citation missing"),
        (lambda d: d["records"].append(dict(d["records"][0])), "duplicate record"),
        (lambda d: d["records"][0].update(resolution="256"), "resolution '256'"),
        (lambda d: d["records"][0].update(extra=1), "unknown fields ['extra']"),
        (lambda d: d["source"].pop("protocol"), "source.protocol missing or empty (the convention"),
        (lambda d: d["source"].update(protocol="wetk"), "source.protocol 'wetk' is not a registered protocol"),
        (lambda d: d["records"][0].update(protocol="nope"), "records[0]: protocol 'nope' is not a registered"),
    ],
)
def test_invalid_published_documents_name_the_problem(mutate, message):
    data = json.loads(json.dumps(GOOD))
    assert validate_published(data) == []
    mutate(data)
    assert any(message in p for p in validate_published(data)), validate_published(data)


def test_load_published_refuses_an_invalid_file(tmp_path):
    bad = json.loads(json.dumps(GOOD))
    bad["records"][0]["value"] = None
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(UsageError, match="bad.yaml: invalid published baseline"):
        load_published(tmp_path)
    (tmp_path / "bad.yaml").write_text("kind: [unclosed")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_published(tmp_path)


def test_matching_rule():
    summary = {"tokenizer": {"name": "my-vae", "paper_name": "sd-vae-ft-mse"}, "dataset": {"name": "val", "type": "coco"}}
    assert match_model(summary, {"sd-vae-ft-mse", "my-vae"}) == "sd-vae-ft-mse"  # paper_name first
    assert match_model({"tokenizer": {"name": "my-vae"}}, {"sd-vae-ft-mse"}) is None
    assert result_paper_dataset(summary) == "coco-val2017"
    assert result_paper_dataset({"dataset": {"name": "imagenet-val-50k", "type": "folder"}}) == "imagenet-val"
    assert result_paper_dataset({"dataset": {"name": "faces", "type": "folder"}}) is None
    assert result_paper_dataset({"dataset": {"name": "x", "paper_name": "coco-val2017"}}) == "coco-val2017"


def test_published_models_are_model_cards():
    """Results match published records by card name: a renamed card must not orphan its numbers."""
    from wetok_bench.tokenizers.cards import known_cards

    no_family_here = {"sd-vae-kl-f8", "show-o-lfq-8192"}  # published, but no loader in wetok-bench
    models = {r.model for r in load_published(BASELINES).records}
    assert models - no_family_here <= set(known_cards())
    assert {"llamagen-vq16", "open-magvit2-pretrain256-262144", "ibq-pretrain256-262144", "cosmos-di16x16"} <= models
