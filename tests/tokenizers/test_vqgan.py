"""taming-transformers VQGAN family (``type: vqgan``): official vectors, Lightning checkpoints, cards.

References: ``tests/data/vqgan_tiny`` (a tiny model saved like a released Lightning 1.0
``last.ckpt``, its official YAML config, and the outputs of the official ``VQModel`` for it,
recorded by its ``make_vectors.py``) and hand-computed bit counts.
"""

from __future__ import annotations

import copy
import math
import pickle
import sys
from pathlib import Path

import pytest
import torch
import yaml
from helpers_vectors import CodePayload, from_suite

from wetok_bench.config.suite import parse_suite
from wetok_bench.core.errors import UsageError
from wetok_bench.tokenizers import create_tokenizer
from wetok_bench.tokenizers.cards import get_card
from wetok_bench.tokenizers.common.vq_checkpoint import LightningModelCheckpoint, VQCheckpointError
from wetok_bench.tokenizers.common.vq_model import VQAutoencoder
from wetok_bench.tokenizers.common.vq_tokenizer import VQTokenizer
from wetok_bench.tokenizers.vqgan import create_vqgan
from wetok_bench.tokenizers.vqgan.loading import load_vqgan_config

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vqgan_tiny"
CKPT, CONFIG = VECTORS / "last.ckpt", VECTORS / "config.yaml"
TOL = 1e-4


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    return torch.load(VECTORS / "expected.pt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def lightning_ckpt() -> dict:
    """The tiny last.ckpt as loaded with the Lightning class name allowed (to build variants)."""
    with torch.serialization.safe_globals(
        [(LightningModelCheckpoint, "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint")]
    ):
        return torch.load(CKPT, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def tiny() -> VQTokenizer:
    return create_vqgan(checkpoint=str(CKPT), config=str(CONFIG))


def _config(**params) -> dict:
    config = yaml.safe_load(CONFIG.read_text())
    ddconfig = params.pop("ddconfig", {})
    config["model"]["params"].update(params)
    config["model"]["params"]["ddconfig"].update(ddconfig)
    return config


def test_vectors_latent_codes_and_recon(tiny, expected):
    latent = tiny.encode_latent(expected["input"])
    assert latent.shape == expected["latent"].shape == (2, 8, 12, 8)
    assert (latent - expected["latent"]).abs().max() < TOL

    codes = tiny.encode(expected["input"])
    decidable = expected["code_margin"] >= TOL
    assert decidable.float().mean() > 0.9
    assert codes.dtype == torch.int64 and torch.equal(codes[decidable], expected["codes"][decidable])

    recon = tiny.decode(expected["codes"])
    assert recon.shape == expected["recon"].shape
    assert (recon - expected["recon"]).abs().max() < TOL


def test_reconstruct_tokens_and_bits(tiny, expected):
    recon, bits, tokens = tiny.reconstruct(expected["input"], with_tokens=True)
    assert (recon - expected["recon"]).abs().max() < TOL
    assert bits.tolist() == [12 * 8 * 5.0] * 2  # 12 x 8 tokens x log2(32)
    assert tiny.codebook_size == 32
    assert tokens.shape == (2, 96, 1) and tokens.dtype == torch.int64
    decidable = (expected["code_margin"] >= TOL).reshape(2, 96)
    assert torch.equal(tokens[..., 0][decidable], expected["codes"].reshape(2, 96)[decidable])


def test_suite_entry_builds_it(expected):
    tok = from_suite({"name": "vqgan-tiny", "type": "vqgan", "checkpoint": str(CKPT), "config": str(CONFIG)})
    assert isinstance(tok, VQTokenizer) and tok.name == "vqgan-tiny" and tok.weights == "state_dict"
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < TOL


def test_lightning_checkpoint_loads_without_lightning(lightning_ckpt):
    # the file is a real Lightning 1.0 layout: plain weights_only loading refuses it ...
    with pytest.raises(pickle.UnpicklingError, match="ModelCheckpoint"):
        torch.load(CKPT, map_location="cpu", weights_only=True)
    # ... its callbacks are keyed by the class, and the state dict carries loss weights
    assert list(lightning_ckpt["callbacks"]) == [LightningModelCheckpoint]
    assert {"optimizer_states", "epoch", "global_step"} <= set(lightning_ckpt)
    assert any(k.startswith("loss.") for k in lightning_ckpt["state_dict"])

def test_loading_imports_no_lightning(tiny):
    assert tiny.weights == "state_dict"
    assert "pytorch_lightning" not in sys.modules and "lightning" not in sys.modules


class _Callback:
    """A callback class outside the allow-list."""


def test_checkpoint_needing_code_is_refused(lightning_ckpt, tmp_path):
    other = dict(lightning_ckpt, callbacks={_Callback: {}})
    torch.save(other, tmp_path / "other.ckpt")
    with pytest.raises(VQCheckpointError, match=r"is not a tensor-only file: it pickles [^;]*_Callback") as info:
        create_vqgan(checkpoint=str(tmp_path / "other.ckpt"), config=str(CONFIG))
    assert "ModelCheckpoint" not in str(info.value)  # on the allow-list: not what is wrong
    marker = tmp_path / "ran"
    torch.save(dict(lightning_ckpt, hparams=CodePayload(marker)), tmp_path / "payload.ckpt")
    with pytest.raises(VQCheckpointError, match="is not a tensor-only file: it pickles"):
        create_vqgan(checkpoint=str(tmp_path / "payload.ckpt"), config=str(CONFIG))
    assert not marker.exists()


def test_plain_state_dict_file_and_missing_weights(expected, lightning_ckpt, tmp_path):
    sd = lightning_ckpt["state_dict"]
    torch.save({"state_dict": sd}, tmp_path / "plain.pth")  # what LlamaGen's conversion script writes
    tok = create_vqgan(checkpoint=str(tmp_path / "plain.pth"), config=str(CONFIG))
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < TOL
    # the official loader (strict=False) would keep a random layer here; this is an error
    torch.save({"state_dict": {k: v for k, v in sd.items() if k != "decoder.up.1.attn.0.q.weight"}},
               tmp_path / "partial.ckpt")
    with pytest.raises(VQCheckpointError, match=r"1 weights missing: decoder\.up\.1\.attn\.0\.q\.weight"):
        create_vqgan(checkpoint=str(tmp_path / "partial.ckpt"), config=str(CONFIG))


def test_config_mismatch_and_attention_placed_by_config_resolution():
    with pytest.raises(VQCheckpointError, match=r"quantize\.embedding\.weight: checkpoint \(32, 8\), config \(64, 8\)"):
        create_vqgan(checkpoint=str(CKPT), config=_config(n_embed=64))
    # resolution 32 moves the 8x8 level (attention) out of the model: its weights no longer fit,
    # whatever the input size
    with pytest.raises(VQCheckpointError, match=r"does not build: decoder\.up\.1\.attn\.0"):
        create_vqgan(checkpoint=str(CKPT), config=_config(ddconfig={"resolution": 32}))


def test_config_errors(tmp_path):
    gumbel = _config()
    gumbel["model"]["target"] = "taming.models.vqgan.GumbelVQ"
    with pytest.raises(UsageError, match="only taming.models.vqgan.VQModel"):
        load_vqgan_config(gumbel)
    with pytest.raises(UsageError, match="lacks 'n_embed'"):
        broken = copy.deepcopy(_config())
        del broken["model"]["params"]["n_embed"]
        load_vqgan_config(broken)
    with pytest.raises(UsageError, match="remap"):
        load_vqgan_config(_config(remap="used.npy"))
    with pytest.raises(UsageError, match="KL autoencoder"):
        load_vqgan_config(_config(ddconfig={"double_z": True}))
    with pytest.raises(UsageError, match="VQGAN config file not found"):
        load_vqgan_config(tmp_path / "none.yaml")
    with pytest.raises(UsageError, match="exactly one of 'config'"):
        create_vqgan(checkpoint=str(CKPT))


@pytest.mark.parametrize("family", ["VQGAN", "WeTok", "Open-MAGVIT2"])
def test_config_file_errors_name_the_family_and_file(family, tmp_path):
    """Every family reads its official YAML the same way: a missing file, bad YAML or a non-mapping
    is a one-line usage error naming the family and the file."""
    from wetok_bench.tokenizers.seed_voken.loading import read_init_args
    from wetok_bench.tokenizers.wetok.loading import load_config

    load = {"VQGAN": load_vqgan_config, "WeTok": load_config,
            "Open-MAGVIT2": lambda path: read_init_args(path, "Open-MAGVIT2")}[family]
    with pytest.raises(UsageError, match=f"^{family} config file not found: .*none.yaml$"):
        load(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("model: [unclosed\n")
    with pytest.raises(UsageError, match=f"^{family} config .*bad.yaml is not valid YAML: [^\n]*$"):
        load(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(UsageError, match=f"^{family} config .*list.yaml is not a YAML mapping$"):
        load(tmp_path / "list.yaml")


def test_bf16_stays_close(expected):
    tok = create_vqgan(checkpoint=str(CKPT), config=str(CONFIG), precision="bf16")
    assert (tok.decode(expected["codes"]) - expected["recon"]).abs().max() < 0.1
    with pytest.raises(UsageError, match="bf16"):
        create_vqgan(checkpoint=str(CKPT), config=str(CONFIG), precision="fp16")


@pytest.mark.parametrize("card, n_embed, bits", [
    ("vqgan-imagenet-f16-1024", 1024, 16 * 16 * 10),      # log2(1024) = 10
    ("vqgan-imagenet-f16-16384", 16384, 16 * 16 * 14),    # log2(16384) = 14
])
def test_cards_compression_at_256(card, n_embed, bits):
    entry = get_card(card, "vqgan")
    assert entry.source.startswith("https://heibox.uni-heidelberg.de/d/") and "last.ckpt" in entry.source
    arch = load_vqgan_config(entry.params["config"])
    assert arch.n_embed == n_embed and arch.embed_dim == 256 and arch.downsample == 16
    with torch.device("meta"):
        tok = VQTokenizer(VQAutoencoder(arch), name=card, family="vqgan")
    comp = tok.compression(256, 256)
    assert comp.bits_per_image == bits and comp.tokens == 256
    assert math.isclose(comp.ratio, 256 * 256 * 24 / bits)  # 614.4 and 438.86
    # not on the hub: a card alone says where to download the checkpoint
    with pytest.raises(UsageError, match="download it from https://heibox"):
        create_tokenizer({"type": "vqgan", "model": card})
    # a card's architecture does not fit the tiny checkpoint: clear error, no random weights
    with pytest.raises(VQCheckpointError, match="does not match its config"):
        create_tokenizer({"type": "vqgan", "model": card, "checkpoint": str(CKPT)})


@pytest.mark.parametrize("card, n_embed", [("vqgan-imagenet-f16-1024", "1024"), ("vqgan-imagenet-f16-16384", "16384")])
def test_card_architectures_have_the_official_names_and_shapes(card, n_embed):
    """The official full-size model (recorded by record_shapes.py) has exactly our parameters."""
    import json

    from wetok_bench.tokenizers.vqgan.loading import MODEL_PREFIXES

    official = json.loads((VECTORS / "official_shapes.json").read_text())[n_embed]
    assert all(key.startswith(MODEL_PREFIXES) for key in official)
    with torch.device("meta"):
        model = VQAutoencoder(load_vqgan_config(get_card(card, "vqgan").params["config"]))
    assert {name: list(p.shape) for name, p in model.named_parameters()} == official


def test_suite_validation_says_what_is_missing():
    from wetok_bench.config.suite import SuiteError

    def problems(entry: dict) -> str:
        with pytest.raises(SuiteError) as err:
            parse_suite({"name": "t", "datasets": [{"name": "samples", "type": "samples"}],
                         "tokenizers": [{"type": "vqgan", **entry}]})
        return str(err.value)

    assert "tokenizers[0].checkpoint: required; download it from https://heibox" in problems(
        {"model": "vqgan-imagenet-f16-16384"})
    assert "tokenizers[0].config: give exactly one of 'config'" in problems(
        {"checkpoint": str(CKPT), "config": str(CONFIG), "model": "vqgan-imagenet-f16-1024"})
    assert "tokenizers[0].model" in problems({"checkpoint": str(CKPT), "model": "vqgan-f8"})


def test_fingerprint_hashes_the_checkpoint(tmp_path):
    import hashlib
    import shutil

    path = tmp_path / "last.ckpt"
    shutil.copyfile(CKPT, path)  # the hash is cached beside the file: keep it out of tests/data
    fp = create_vqgan(checkpoint=str(path), config=str(CONFIG)).fingerprint()
    assert fp["checkpoint"] == {"file": "last.ckpt", "size": path.stat().st_size, "weights": "state_dict",
                                "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert fp["family"] == "vqgan" and fp["arch"]["n_embed"] == 32 and fp["arch"]["encoder"]["attn_resolutions"] == [8]


def test_a_tiny_run_counts_its_bits(tmp_path):
    """The suite runner end to end on two real photos at 32 x 32."""
    import json

    from helpers_runs import one_thread

    from wetok_bench.engine import run_suite

    suite = parse_suite({
        "name": "vq", "resolution": 32, "metrics": ["psnr"], "num_images": 2, "batch_size": 2,
        "datasets": [{"name": "samples", "type": "samples"}],
        "tokenizers": [{"name": "vqgan-tiny", "type": "vqgan", "checkpoint": str(CKPT), "config": str(CONFIG)}],
    })
    with one_thread():
        run_suite(suite, out=tmp_path, progress=False)
    summary = json.loads((tmp_path / "vq" / "vqgan-tiny__samples__32" / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["counts"]["images"] == 2 and summary["counts"]["skipped"] == 0
    # 32 / 2 = 16 x 16 tokens x log2(32) = 5 bits = 1280 bits; 32 * 32 * 24 / 1280 = 19.2
    assert summary["compression"]["bits_per_image"] == 1280.0 and summary["compression"]["ratio"] == 19.2
    assert summary["compression"]["tokens"] == 256 and summary["compression"]["codebook"] == "32"
