"""Several protocols in one pass: ``protocol: [standard, wetok, ...]``.

Each protocol's job folder must be what a run under that protocol alone writes (every value, bit
for bit); the tokenizer must run once per distinct preprocessing, and a network once per
distinct input view.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_lpips import random_backbone_file
from helpers_runs import photo_folder, read_rows

from wetok_bench.config.suite import SuiteError, parse_suite
from wetok_bench.engine import run_suite
from wetok_bench.metrics.networks.inception import InceptionFeatures

PROTOCOLS = ["standard", "wetok", "open-magvit2-v1", "llamagen", "dc-ae"]
#: what a run writes that differs between two runs of the same suite (times, dates, where)
VOLATILE = {"date", "host", "wall_time_s", "images_per_s", "compute_time_s", "command", "git_commit", "encode_s_per_image",
            "decode_s_per_image", "encode_s", "decode_s", "timed_images", "warmup_images", "warmup_batches", "elapsed_s",
            "seconds", "wall_s", "root", "reference_cache_hit", "output", "source"}


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@pytest.fixture(scope="module")
def setting(tmp_path_factory, photos, fidelity_inception_weights, pytorch_fid_inception_weights):
    root = tmp_path_factory.mktemp("multi")
    images = photo_folder(root / "images", photos, count=5, size=72)
    weights = {
        "inception-v3-compat": str(fidelity_inception_weights),
        "pytorch-fid-inception": str(pytorch_fid_inception_weights),
        "lpips_alex": str(random_backbone_file("alex", root / "w" / "alexnet-owt-7be5be79.pth", seed=0)),
        "lpips_vgg": str(random_backbone_file("vgg", root / "w" / "vgg16-397923af.pth", seed=0)),
    }
    return root, images, weights


def _suite(setting, protocol, out: Path, **extra):
    root, images, weights = setting
    data = {
        "name": "multi",
        "protocol": protocol,
        "datasets": [{"type": "folder", "name": "imgs", "root": str(images)}],
        "tokenizers": [{"type": "codec", "format": "jpeg", "quality": 30}],
        "metrics": ["psnr", "ssim", "lpips", "rfid"],
        "resolution": 48,
        "batch_size": 2,
        "num_workers": 0,
        "device": "cpu",
        "output": str(out),
        "weights": weights,
        **extra,
    }
    return parse_suite(data)


@pytest.fixture(scope="module")
def multi_run(setting, tmp_path_factory):
    out = tmp_path_factory.mktemp("multi_out")
    calls = {"reconstruct": 0, "inception": 0}
    from wetok_bench.tokenizers.codecs.tokenizer import CodecTokenizer

    reconstruct, extract = CodecTokenizer.reconstruct, InceptionFeatures.__call__

    def counting_reconstruct(self, *args, **kwargs):
        calls["reconstruct"] += 1
        return reconstruct(self, *args, **kwargs)

    def counting_extract(self, images):
        calls["inception"] += 1
        return extract(self, images)

    with pytest.MonkeyPatch.context() as patch:
        # a module fixture is set up before the per-test home: it gets one of its own
        patch.setenv("WETOK_BENCH_HOME", str(tmp_path_factory.mktemp("multi_home")))
        patch.setattr(CodecTokenizer, "reconstruct", counting_reconstruct)
        patch.setattr(InceptionFeatures, "__call__", counting_extract)
        report = run_suite(_suite(setting, PROTOCOLS, out), progress=False)
    assert report.exit_code == 0
    return out / "multi", report, calls


def test_each_protocols_folder_is_what_a_run_under_it_alone_writes(setting, multi_run, tmp_path):
    folder, report, _ = multi_run
    assert [o.protocol for o in report.outcomes] == PROTOCOLS
    job = "jpeg-q30__imgs__48"
    for protocol in PROTOCOLS:
        metrics = ["psnr", "ssim", "rfid"] if protocol == "llamagen" else ["psnr", "ssim", "lpips", "rfid"]
        alone = run_suite(_suite(setting, protocol, tmp_path / protocol, metrics=metrics), progress=False)
        assert alone.exit_code == 0
        ours, theirs = folder / protocol / job, tmp_path / protocol / "multi" / job
        assert read_rows(ours) == read_rows(theirs), protocol  # every per-image value, as text
        summary, single = (_clean(json.loads((f / "summary.json").read_text())) for f in (ours, theirs))
        skipped = summary.pop("skipped_metrics")
        if protocol == "llamagen":  # the visible difference: the suite asked for a metric it does not define
            assert "not defined by protocol llamagen" in skipped.pop("lpips")
        assert skipped == single.pop("skipped_metrics") == {}
        assert summary == single, protocol
        manifest, single = (_clean(json.loads((f / "manifest.json").read_text())) for f in (ours, theirs))
        for m in (manifest, single):  # the two runs wrote to different folders ("output"), hence the suite hash
            del m["suite"]["hash"]
        assert manifest == single, protocol


def test_values_differ_between_protocols_as_their_conventions_say(multi_run):
    folder, _, _ = multi_run
    job = "jpeg-q30__imgs__48"
    summaries = {p: json.loads((folder / p / job / "summary.json").read_text())["metrics"] for p in PROTOCOLS}
    assert summaries["llamagen"]["ssim"] > summaries["standard"]["ssim"]  # data range 2 on [0, 1]
    assert summaries["wetok"]["psnr"] == summaries["open-magvit2-v1"]["psnr"]  # the same per-image convention
    assert summaries["open-magvit2-v1"]["psnr_official"] <= summaries["open-magvit2-v1"]["psnr"]  # pooled per batch
    assert "psnr_official" not in summaries["standard"]


def test_the_tokenizer_runs_once_per_preprocessing(multi_run):
    _, _, calls = multi_run
    # preprocessings: (bilinear, float32) standard; (bilinear, float64) wetok + open-magvit2-v1;
    # (ADM crop, float32) llamagen + dc-ae. Five images in batches of 2: 3 batches each.
    assert calls["reconstruct"] == 3 * 3


def test_networks_run_once_per_distinct_input_view(multi_run):
    _, _, calls = multi_run
    # reconstructions and originals alike: standard, wetok (= open-magvit2-v1: one convention,
    # one reference pass), llamagen, dc-ae -> 4 views x 3 batches each
    assert calls["inception"] == 4 * 3 + 4 * 3


def test_a_finished_protocol_is_reused_and_a_new_one_measured(setting, multi_run, tmp_path):
    out = tmp_path / "grow"
    first = run_suite(_suite(setting, ["standard"], out), progress=False)
    assert first.exit_code == 0 and not first.outcomes[0].reused
    second = run_suite(_suite(setting, ["standard", "wetok"], out), progress=False)
    assert [(o.protocol, o.reused) for o in second.outcomes] == [("standard", False), ("wetok", False)]
    # one protocol alone writes <out>/<suite>/<job>; several write <out>/<suite>/<protocol>/<job>
    assert (out / "multi" / "jpeg-q30__imgs__48" / "summary.json").is_file()
    assert (out / "multi" / "wetok" / "jpeg-q30__imgs__48" / "summary.json").is_file()
    third = run_suite(_suite(setting, ["standard", "wetok"], out), progress=False)
    assert all(o.reused for o in third.outcomes)


def test_suite_errors_name_the_problem(setting, tmp_path):
    with pytest.raises(SuiteError, match="not defined by protocol llamagen"):
        _suite(setting, "llamagen", tmp_path)  # asks for lpips
    with pytest.raises(SuiteError, match="repeated protocol"):
        _suite(setting, ["wetok", "wetok"], tmp_path)
    with pytest.raises(SuiteError, match=r"weights.inception: the protocols read different files"):
        _suite(setting, ["standard", "wetok"], tmp_path, weights={"inception": setting[2]["inception-v3-compat"]})
    with pytest.raises(SuiteError, match="protocol"):
        _suite(setting, [], tmp_path)


def test_the_report_shows_every_convention_of_a_job_side_by_side(multi_run, tmp_path):
    from wetok_bench.report.build import build_report
    from wetok_bench.report.conventions import conventions_tables
    from wetok_bench.results.records import load_results

    folder, _, _ = multi_run
    build_report([folder], tmp_path / "report", baselines_dir=None)
    text = (tmp_path / "report" / "conventions.md").read_text()
    assert "Conventions: jpeg-q30 on imgs at 48" in text
    (table,) = conventions_tables(load_results([folder]))
    rows = {r[0].text: r for r in table.rows}
    assert list(rows) == ["standard", "dc-ae", "llamagen", "open-magvit2-v1", "wetok"]  # the base first
    job = "jpeg-q30__imgs__48"
    metrics = {p: json.loads((folder / p / job / "summary.json").read_text())["metrics"] for p in rows}
    column = {header: i for i, header in reversed(list(enumerate(table.headers)))}  # first of each header
    for protocol, cells in rows.items():
        for label, key in (("rFID", "rfid"), ("SSIM", "ssim"), ("PSNR", "psnr")):
            value, delta = cells[column[label]], cells[column[label] + 1]
            assert value.value == metrics[protocol][key]
            if protocol != "standard":
                assert delta.value == pytest.approx(metrics[protocol][key] - metrics["standard"][key], abs=1e-12)
    assert rows["llamagen"][column["LPIPS"]].text == "–"  # not defined by llamagen
    pooled = column["PSNR (script's aggregate)"]
    assert rows["open-magvit2-v1"][pooled].value == metrics["open-magvit2-v1"]["psnr_official"]
    assert rows["open-magvit2-v1"][pooled + 1].value == pytest.approx(
        metrics["open-magvit2-v1"]["psnr_official"] - metrics["standard"]["psnr"], abs=1e-12)
    assert rows["standard"][pooled].text == "–"  # standard reports the mean over images only
