"""Token statistics, tokenizer cost and re-encoding cycles under the real runner.

References, independent of the code under test: token usage / entropy from ``np.unique`` over
the token ids the tokenizer itself gives for the run's preprocessed originals (the grid PNGs);
parameter counts summed by hand over the checkpoint's state dict; re-encoding cycles from k
successive Pillow JPEG round trips and scikit-image's PSNR / SSIM.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers_runs import CORRUPT, photo_folder, run_here
from PIL import Image

DATA = Path(__file__).resolve().parents[1] / "data"
WETOK = {"type": "wetok", "name": "wt", "checkpoint": str(DATA / "wetok_tiny_f2" / "WeTok.ckpt"),
         "config": str(DATA / "wetok_tiny_f2" / "config.yaml")}
VQ = {"type": "llamagen-vq", "name": "vq", "checkpoint": str(DATA / "llamagen_vq_tiny" / "vq_tiny.pt"),
      "model": "VQ-16", "codebook_size": 64, "codebook_embed_dim": 4, "encoder_ch_mult": [1, 1],
      "decoder_ch_mult": [1, 1], "z_channels": 32, "ch": 32, "num_res_blocks": 1}
JPEG = {"type": "codec", "format": "jpeg", "quality": 30}
#: The other discrete families' tiny official-format checkpoints (issue 11), and a diffusers VQModel
#: saved with save_pretrained in the run fixture.
OMV2 = {"type": "open-magvit2", "name": "omv2", "checkpoint": str(DATA / "open_magvit2_tiny" / "OpenMAGVIT2.ckpt"),
        "config": str(DATA / "open_magvit2_tiny" / "config.yaml")}
IBQ = {"type": "ibq", "name": "ibq", "checkpoint": str(DATA / "ibq_tiny" / "IBQ.ckpt"),
       "config": str(DATA / "ibq_tiny" / "config.yaml")}
VQGAN = {"type": "vqgan", "name": "vqgan", "checkpoint": str(DATA / "vqgan_tiny" / "last.ckpt"),
         "config": str(DATA / "vqgan_tiny" / "config.yaml")}
DIFFUSERS_VQ = {"type": "diffusers", "name": "dvq"}  # pretrained: the fixture's folder
COUNT = 4


def _images(root: Path, photos) -> Path:
    """COUNT photo crops (no corrupt file: every record is measured)."""
    folder = photo_folder(root, photos, COUNT, size=40)
    (folder / CORRUPT).unlink()
    return folder


def _suite(tmp: Path, folder: Path, tokenizers: list[dict], **settings) -> Path:
    suite = {"name": "x", "datasets": [{"type": "folder", "name": "imgs", "root": str(folder)}],
             "tokenizers": tokenizers, "metrics": ["psnr"], "resolution": 32, "num_workers": 0, "device": "cpu",
             "batch_size": 1, "grids": {"count": COUNT, "worst_k": 0}, **settings}
    path = tmp / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def _originals(job: Path) -> dict[str, np.ndarray]:
    """The run's preprocessed originals (uint8 H x W x 3) by key, from its grid PNGs."""
    index = json.loads((job / "grids" / "index.json").read_text())
    return {im["key"]: np.array(Image.open(job / "grids" / "original" / im["file"]).convert("RGB"))
            for im in index["images"]}


@pytest.fixture(scope="module")
def run(tmp_path_factory, photos) -> Path:
    tmp = tmp_path_factory.mktemp("extras")
    folder = _images(tmp / "imgs", photos)
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    diffusers.VQModel(
        block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, norm_num_groups=8, latent_channels=4,
        num_vq_embeddings=32, vq_embed_dim=4,
    ).save_pretrained(tmp / "vqmodel")
    DIFFUSERS_VQ["pretrained"] = str(tmp / "vqmodel")
    tokenizers = [WETOK, VQ, OMV2, IBQ, VQGAN, DIFFUSERS_VQ, JPEG]
    report = run_here(_suite(tmp, folder, tokenizers, shard_size=2), tmp / "out")
    assert report.exit_code == 0
    return tmp / "out" / "x"


def _summary(job: Path) -> dict:
    return json.loads((job / "summary.json").read_text())


@pytest.mark.parametrize("entry", [WETOK, VQ, OMV2, IBQ, VQGAN, DIFFUSERS_VQ],
                         ids=["wetok", "llamagen-vq", "open-magvit2", "ibq", "vqgan", "diffusers-vqmodel"])
def test_token_usage_equals_np_unique_over_the_tokenizers_own_ids(run, entry):
    from wetok_bench.tokenizers import create_tokenizer

    job = run / f"{entry['name']}__imgs__32"
    originals = _originals(job)
    assert len(originals) == COUNT
    tok = create_tokenizer(entry)
    ids = []
    for array in originals.values():
        x = torch.from_numpy(array).permute(2, 0, 1)[None].float() / 127.5 - 1
        ids.append(tok.reconstruct(x, with_tokens=True)[2].numpy())
    ids = np.concatenate(ids)  # images x N x G
    tokens = _summary(job)["tokens"]
    groups = ids.shape[-1]
    assert tokens["groups"] == groups and tokens["codebook_size"] == tok.codebook_size
    assert tokens["codebook_scope"] == ("per-group" if groups > 1 else "codebook")
    assert tokens["tokens"] == ids.shape[0] * ids.shape[1]
    for g in range(groups):
        values, counts = np.unique(ids[..., g], return_counts=True)
        p = counts / counts.sum()
        entropy = float(-(p * np.log2(p)).sum())
        assert tokens["per_group"]["codebook_usage"][g] == len(values) / tok.codebook_size
        assert tokens["per_group"]["code_entropy_bits"][g] == pytest.approx(entropy, abs=1e-12)
        assert tokens["per_group"]["code_perplexity"][g] == pytest.approx(2**entropy, rel=1e-12)


def test_codecs_have_no_token_block_and_no_parameters(run):
    summary = _summary(run / "jpeg-q30__imgs__32")
    assert "tokens" not in summary
    assert summary["cost"]["parameters"] == 0


def test_parameter_count_is_the_checkpoints_tensor_count(run):
    # LlamaGen's checkpoint "model": the model's parameters plus one training buffer
    # (quantize.codebook_used, 65536 entries), which is not a parameter.
    state = torch.load(VQ["checkpoint"], map_location="cpu", weights_only=True)["model"]
    by_hand = sum(v.numel() for k, v in state.items() if k != "quantize.codebook_used")
    assert state["quantize.codebook_used"].numel() == 65536
    assert _summary(run / "vq__imgs__32")["cost"]["parameters"] == by_hand == 247111


def test_cost_timings_and_warmup_are_recorded(run):
    cost = _summary(run / "wt__imgs__32")["cost"]
    # 4 images, batch 1, shards of 2: the first batch of each of the 2 shards is warm-up.
    assert (cost["warmup_batches"], cost["warmup_images"], cost["timed_batches"], cost["timed_images"]) == (2, 2, 2, 2)
    assert cost["encode_s_per_image"] > 0 and cost["decode_s_per_image"] > 0 and cost["images_per_s"] > 0
    assert cost["peak_memory_bytes"] is None and "cpu" in cost["memory_note"]


def test_token_counts_survive_a_resume(tmp_path, photos, monkeypatch):
    from wetok_bench.tokenizers.wetok.tokenizer import WeTokTokenizer

    folder = _images(tmp_path / "imgs", photos)
    suite = _suite(tmp_path, folder, [WETOK], shard_size=1)
    whole = run_here(suite, tmp_path / "whole")
    assert whole.exit_code == 0
    original = WeTokTokenizer.reconstruct
    calls = []

    def crash_on_third(self, x, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return original(self, x, **kwargs)

    monkeypatch.setattr(WeTokTokenizer, "reconstruct", crash_on_third)
    assert run_here(suite, tmp_path / "resumed").exit_code == 1
    partial = tmp_path / "resumed" / "x" / "wt__imgs__32" / ".partial"
    assert len(list(partial.glob("shard*.pt"))) == 2
    monkeypatch.setattr(WeTokTokenizer, "reconstruct", original)
    assert run_here(suite, tmp_path / "resumed").exit_code == 0
    a, b = (_summary(p / "x" / "wt__imgs__32")["tokens"] for p in (tmp_path / "whole", tmp_path / "resumed"))
    assert a == b and a["tokens"] == COUNT * 16 * 16


def _round_trip(array: np.ndarray, fmt: str) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt.upper(), quality=30)
    return np.array(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


# JPEG (libjpeg-turbo) at one quality is idempotent on these crops after the first round trip;
# WebP is not (its second round trip changes pixels): both must match Pillow exactly.
@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_codec_cycle_k_is_k_pillow_round_trips(tmp_path, photos, fmt):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    folder = _images(tmp_path / "imgs", photos)
    entry = {**JPEG, "format": fmt}
    assert run_here(_suite(tmp_path, folder, [entry], cycles=3, metrics=["psnr", "ssim"]), tmp_path / "out").exit_code == 0
    job = tmp_path / "out" / "x" / f"{fmt}-q30__imgs__32"
    summary = _summary(job)
    with open(job / "per_image_cycles.csv", newline="") as handle:
        cycle_rows = list(csv.DictReader(handle))
    assert [int(r["cycle"]) for r in cycle_rows] == [2] * COUNT + [3] * COUNT
    with open(job / "per_image.csv", newline="") as handle:
        main_rows = {r["key"]: r for r in csv.DictReader(handle)}
    expected: dict[int, dict[str, list[float]]] = {k: {"psnr": [], "ssim": []} for k in (1, 2, 3)}
    for key, original in _originals(job).items():
        image = original
        for cycle in (1, 2, 3):
            image = _round_trip(image, fmt)
            psnr = peak_signal_noise_ratio(original, image, data_range=255)
            ssim = structural_similarity(original, image, channel_axis=2, data_range=255, gaussian_weights=True,
                                         sigma=1.5, use_sample_covariance=False)
            expected[cycle]["psnr"].append(psnr)
            expected[cycle]["ssim"].append(ssim)
            row = main_rows[key] if cycle == 1 else next(r for r in cycle_rows if r["key"] == key and int(r["cycle"]) == cycle)
            assert float(row["psnr"]) == pytest.approx(psnr, abs=1e-6)
            assert float(row["ssim"]) == pytest.approx(ssim, abs=1e-6)
    cycles = summary["cycles"]
    assert [c["cycle"] for c in cycles] == [1, 2, 3]
    assert cycles[0]["psnr"] == summary["metrics"]["psnr"] and cycles[0]["ssim"] == summary["metrics"]["ssim"]
    for entry in cycles:
        assert entry["psnr"] == pytest.approx(float(np.mean(expected[entry["cycle"]]["psnr"])), abs=1e-6)
        assert entry["ssim"] == pytest.approx(float(np.mean(expected[entry["cycle"]]["ssim"])), abs=1e-6)
    if fmt == "webp":
        assert not math.isclose(cycles[1]["psnr"], cycles[0]["psnr"])
        _report_draws_the_cycles(tmp_path, summary, "webp-q30")


def _report_draws_the_cycles(tmp_path: Path, summary: dict, tokenizer: str) -> None:
    """The report's cycles figure draws exactly the summary's per-cycle values."""
    from wetok_bench.report.build import build_report

    index = build_report([tmp_path / "out"], tmp_path / "report")
    assert "Re-encoding stability" in index.read_text()
    (data,) = (tmp_path / "report" / "plots").glob("cycles_*.csv")
    assert (tmp_path / "report" / "plots" / data.name.replace(".csv", ".png")).is_file()
    with open(data, newline="") as handle:
        drawn = {(r["tokenizer"], r["metric"], int(r["cycle"])): float(r["value"]) for r in csv.DictReader(handle)}
    expected = {(tokenizer, m, c["cycle"]): c[m] for c in summary["cycles"] for m in ("psnr", "ssim")}
    assert drawn == expected


def test_cycles_must_be_a_positive_integer():
    from wetok_bench.config.settings import Settings, SettingsError

    assert Settings().cycles == 1
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(SettingsError, match="cycles"):
            Settings(cycles=bad)


def test_leaderboard_and_console_show_usage_and_cost(run):
    from types import SimpleNamespace

    from wetok_bench.engine.console import format_table
    from wetok_bench.report.leaderboard import build_leaderboards
    from wetok_bench.results.records import load_results

    (board,) = build_leaderboards(load_results([run]))
    keys = [c.key for c in board.columns]
    assert {"code_usage", "code_perplexity", "encode_ms", "decode_ms", "params_m"} <= set(keys)
    assert "peak_mem_mib" not in keys  # CPU: not measured, no column
    rows = {row.name: row for row in board.rows}
    wt = _summary(run / "wt__imgs__32")
    assert rows["wt"].value("code_usage") == pytest.approx(100 * wt["tokens"]["codebook_usage"])
    assert rows["wt"].value("params_m") == pytest.approx(wt["cost"]["parameters"] / 1e6)
    assert rows["jpeg-q30"].value("code_usage") is None and rows["jpeg-q30"].value("params_m") == 0
    assert any(n.startswith("Code usage and perplexity of wt: per group") for n in board.notes)
    assert not any("vq" in n for n in board.notes if n.startswith("Code usage"))  # one codebook: not per group

    outcomes = [SimpleNamespace(job=SimpleNamespace(id=name), summary=_summary(run / f"{name}__imgs__32"), status="ok",
                                error=None) for name in ("wt", "jpeg-q30")]
    lines = format_table(outcomes).splitlines()
    header = lines[0].split()
    at = header.index("usage%")  # after the job, the ratio and the metric columns measured
    assert header[at:at + 4] == ["usage%", "enc", "ms", "dec"]
    wt_cells = lines[2].split()
    assert wt_cells[at] == f"{100 * wt['tokens']['codebook_usage']:.1f}"
    assert wt_cells[at + 3] == f"{wt['cost']['parameters'] / 1e6:.2f}"
    assert lines[3].split()[at] == "-" and lines[3].split()[at + 3] == "0.00"


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="torch built without gloo")
def test_two_ranks_give_the_token_counts_and_cycles_of_one_process(tmp_path, photos):
    import subprocess
    import sys

    from helpers_inception import write_fidelity_inception_weights
    from helpers_runs import TESTS, cli_env

    folder = _images(tmp_path / "imgs", photos)
    # 4 images, batch 1, shards of 1: each rank measures two shards; rFID of every cycle folded in shard order
    suite = _suite(tmp_path, folder, [WETOK, {**JPEG, "format": "webp"}], shard_size=1, cycles=2,
                   metrics=["psnr", "rfid"], grids=None,
                   weights={"inception": str(write_fidelity_inception_weights(tmp_path / "w" / "inception.pth"))})
    assert run_here(suite, tmp_path / "one").exit_code == 0
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "wetok_bench", "run", str(suite), "--quiet", "--out", str(tmp_path / "two")]
    result = subprocess.run(command, env=cli_env(tmp_path / "home2", TESTS), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for job in ("wt__imgs__32", "webp-q30__imgs__32"):
        one, two = (_summary(tmp_path / side / "x" / job) for side in ("one", "two"))
        assert two.get("tokens") == one.get("tokens")
        assert len(one["cycles"]) == 2 and one["cycles"][1]["rfid"] is not None
        for a, b in zip(one["cycles"], two["cycles"]):
            assert a["psnr"] == b["psnr"] and a["rfid"] == pytest.approx(b["rfid"], rel=1e-9)
        assert (tmp_path / "two" / "x" / job / "per_image_cycles.csv").read_text() == \
            (tmp_path / "one" / "x" / job / "per_image_cycles.csv").read_text()
    assert _summary(tmp_path / "two" / "x" / "wt__imgs__32")["tokens"]["tokens"] == COUNT * 16 * 16


def test_a_resume_from_shards_without_token_counts_says_so(tmp_path, photos, monkeypatch):
    from wetok_bench.engine.shards import ShardStore

    folder = _images(tmp_path / "imgs", photos)
    suite = _suite(tmp_path, folder, [WETOK], shard_size=2, grids=None)
    original_save = ShardStore.save

    def save_then_stop(self, index, shard):  # shards as an earlier version wrote them, then a crash
        original_save(self, index, {k: v for k, v in shard.items() if k != "tokens"})
        if index == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(ShardStore, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_here(suite, tmp_path / "out")
    monkeypatch.setattr(ShardStore, "save", original_save)
    assert run_here(suite, tmp_path / "out").exit_code == 0
    tokens = _summary(tmp_path / "out" / "x" / "wt__imgs__32")["tokens"]
    assert set(tokens) == {"skipped"} and "--force" in tokens["skipped"]


@pytest.mark.slow  # ~40 s on 2 shared cores: rFID of 3 cycles, twice
def test_cycles_survive_a_resume(tmp_path, photos, monkeypatch):
    from helpers_inception import write_fidelity_inception_weights

    from wetok_bench.tokenizers.codecs import CodecTokenizer

    folder = _images(tmp_path / "imgs", photos)
    weights = {"inception": str(write_fidelity_inception_weights(tmp_path / "w" / "inception.pth"))}
    suite = _suite(tmp_path, folder, [{**JPEG, "format": "webp"}], shard_size=1, cycles=3, grids=None,
                   metrics=["psnr", "rfid"], weights=weights)
    assert run_here(suite, tmp_path / "whole").exit_code == 0
    original, calls = CodecTokenizer.reconstruct, []

    def crash(self, x, **kwargs):  # 3 calls per image (cycles 1..3): crash on the third image
        calls.append(1)
        if len(calls) == 7:
            raise RuntimeError("simulated crash")
        return original(self, x, **kwargs)

    monkeypatch.setattr(CodecTokenizer, "reconstruct", crash)
    assert run_here(suite, tmp_path / "resumed").exit_code == 1
    monkeypatch.setattr(CodecTokenizer, "reconstruct", original)
    assert run_here(suite, tmp_path / "resumed").exit_code == 0
    job = "x/webp-q30__imgs__32"
    whole, resumed = (_summary(tmp_path / side / job) for side in ("whole", "resumed"))
    assert resumed["cycles"] == whole["cycles"] and whole["cycles"][2]["rfid"] is not None
    assert (tmp_path / "resumed" / job / "per_image_cycles.csv").read_text() == \
        (tmp_path / "whole" / job / "per_image_cycles.csv").read_text()
