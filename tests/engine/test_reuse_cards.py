"""Job reuse covers the weights behind a ``model:`` card: a replaced or edited local weights file
changes the job fingerprint (reference: the file's size and its sha256 from hashlib)."""

from __future__ import annotations

import hashlib
import os
from types import SimpleNamespace

from helpers_files import edit_middle_keep_mtime

from wetok_bench.engine.reuse import FILES_RULE, card_files, job_fingerprint
from wetok_bench.tokenizers import cards
from wetok_bench.tokenizers.cards import ModelCard


def _fingerprint(spec: dict) -> dict:
    # the parts of a run the fingerprint reads: protocol, metrics and their weights, seed, settings
    run = SimpleNamespace(protocol=SimpleNamespace(fingerprint="p"), setup=SimpleNamespace(metrics=["psnr"]),
                          evaluator=SimpleNamespace(fingerprint=dict),
                          suite=SimpleNamespace(settings=SimpleNamespace(seed=0, on_nonfinite="error", cycles=1)))
    job = SimpleNamespace(tokenizer=SimpleNamespace(spec=spec), resolution=32)
    return job_fingerprint(run, job, {"kind": "folder", "count": 1, "sha256": "x"}, ["a.png"])


def test_fake_card_with_a_local_source_file_is_in_the_fingerprint(tmp_path, monkeypatch):
    weights = tmp_path / "model.ckpt"
    weights.write_bytes(b"first weights")
    card = ModelCard(name="fake-card", type="identity", source=str(weights))
    monkeypatch.setattr(cards, "known_cards", lambda: {"fake-card": card})
    spec = {"type": "identity", "name": "fake", "model": "fake-card"}

    stat = os.stat(weights)
    assert card_files(spec) == [[str(weights), 13, hashlib.sha256(b"first weights").hexdigest()]]
    before = _fingerprint(spec)
    assert before == _fingerprint(spec)  # nothing changed: reused
    assert before["tokenizer"]["files_rule"] == FILES_RULE

    weights.write_bytes(b"other weights, longer")  # replaced at the same path
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    after = _fingerprint(spec)
    assert after != before
    assert after["tokenizer"]["card_files"][0][1:] == [21, hashlib.sha256(b"other weights, longer").hexdigest()]

    edited = edit_middle_keep_mtime(weights)  # same size, same mtime, same inode
    assert _fingerprint(spec)["tokenizer"]["card_files"] == [[str(weights), 21, hashlib.sha256(edited).hexdigest()]]


def test_no_card_or_an_unresolvable_source_adds_nothing(tmp_path, monkeypatch):
    card = ModelCard(name="remote-card", type="identity", source="hf://owner/repo/model.ckpt")
    monkeypatch.setattr(cards, "known_cards", lambda: {"remote-card": card})
    monkeypatch.setenv("WETOK_BENCH_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert card_files({"type": "identity", "model": "remote-card"}) is None
    plain = _fingerprint({"type": "identity", "name": "plain"})
    assert "card_files" not in plain["tokenizer"]
    assert "files_rule" not in plain["tokenizer"]  # no file: a fingerprint recorded before the rule stays equal


def test_weights_registry_files_a_family_declares_are_in_the_fingerprint(tmp_path, monkeypatch):
    # TAEF2 names no file: it loads taef2_encoder.pth / taef2_decoder.pth from the weights folder
    # (its declared needs). Replacing them, or losing them, must not reuse the finished job.
    from wetok_bench.core import weights as W

    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("WETOK_BENCH_WEIGHTS", str(folder))
    monkeypatch.setenv("WETOK_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WETOK_BENCH_OFFLINE", "1")
    monkeypatch.setattr(W, "verify", lambda spec, path: path.read_bytes().startswith(b"good"))
    for part in ("encoder", "decoder"):
        (folder / f"taef2_{part}.pth").write_bytes(b"good weights")
    spec = {"type": "taesd", "name": "taef2", "model": "taef2"}

    encoder = os.stat(folder / "taef2_encoder.pth")
    good = hashlib.sha256(b"good weights").hexdigest()
    assert card_files(spec) == [[str(folder / f"taef2_{part}.pth"), 12, good] for part in ("encoder", "decoder")]
    before = _fingerprint(spec)
    assert before == _fingerprint(spec)

    (folder / "taef2_encoder.pth").write_bytes(b"good weights, retrained")
    os.utime(folder / "taef2_encoder.pth", ns=(encoder.st_atime_ns, encoder.st_mtime_ns + 10**9))
    replaced = _fingerprint(spec)
    assert replaced != before

    monkeypatch.setenv("WETOK_BENCH_WEIGHTS", str(tmp_path / "elsewhere"))  # the weights folder not set
    assert _fingerprint(spec) not in (before, replaced)
