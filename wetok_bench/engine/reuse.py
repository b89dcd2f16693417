"""Finished work kept: a job's fingerprint, reuse of a finished job, failures beside results.

A job's fingerprint is what decides its numbers: the tokenizer entry (with the size and full
sha256 of every file it names, and of the local weights behind it: the weights-registry files its family
declares, else its ``model:`` card's: :func:`card_files`),
protocol, metric set and metric weights, dataset (its ``kind``, ``count`` and ``sha256``, which
covers every byte of every image: :data:`wetok_bench.data.base.FINGERPRINT_RULE`) and image
selection, resolution, seed,
``on_nonfinite``, re-encoding ``cycles`` and the wetok-bench version. Settings that only change
speed or where files go (``num_workers``, ``output``, ``device`` spelling, the suite's name of other
jobs) are not in it. A finished job (``summary.json`` ok, ``per_image.csv`` present) whose manifest
holds the same fingerprint is reused; ``--force`` measures it again. The batch and shard sizes are
not in it either: per-image values do not depend on them, the float64 sums of rFID do in their last
bits (about 1e-12 relative).

A failed attempt never replaces a good result: it is written to ``last_failure.json`` beside it
(and removed by the next successful run of the job).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from wetok_bench.core.hashing import cached_sha256_many, sha256_json
from wetok_bench.core.versions import __version__
from wetok_bench.results.records import LAST_FAILURE_FILE, MANIFEST_FILE, PER_IMAGE_FILE, SUMMARY_FILE

#: How the files a tokenizer entry names and the local weights it loads enter its fingerprint
#: (``tokenizer.files_rule``, present whenever there is such a file): size and full sha256, so an
#: edit of the same size with its mtime set back is seen. A fingerprint without the rule (an older
#: one, CHANGELOG.md) never equals one with it, so such a job is measured again once.
FILES_RULE = "size, sha256(whole file)"


def _digests(path: Path) -> list:
    """``[path, size, sha256]`` of a file, or of every file under a folder (sorted): full digests
    through the shared cache (:func:`wetok_bench.core.hashing.cached_sha256_many`; a file is read again
    only when it changed), so a changed checkpoint changes the fingerprint whatever its stamps."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    # cached_sha256_many follows the Hugging Face cache's symlinks to the blob itself
    sized = cached_sha256_many(files, what=f"weights {path}")
    return [[str(file), size, digest] for file, (size, digest) in zip(files, sized)]


def _file_stats(spec: dict) -> dict[str, Any]:
    """``[size, sha256]`` of every existing file a tokenizer entry names (a checkpoint edited or
    replaced at the same path changes the fingerprint), :func:`_digests` of every folder; None for
    one that cannot be read (its job is measured again, and loading it fails loudly there)."""
    out: dict[str, Any] = {}
    for key, value in sorted(spec.items()):
        if isinstance(value, str) and value and os.path.exists(value):
            path = Path(value)
            try:
                out[key] = _digests(path) if path.is_dir() else _digests(path)[0][1:]
            except OSError:
                out[key] = None
    return out


_WEIGHTS = "weights:"


def _declared_weights(spec: dict) -> list | None:
    """``[path, size, sha256]`` of each weights-registry file the entry's family declares it
    loads (``needs``: ``weights:NAME``, e.g. TAEF2's two ``.pth`` files from the weights folder),
    ``["weights:NAME", None, None]`` for one that is missing or corrupt here (so the job is measured
    again and a failure is recorded beside the good result, never a silent reuse). None when the
    family declares no such file."""
    from wetok_bench.core.errors import WetokBenchError
    from wetok_bench.core.weights import resolve_weights
    from wetok_bench.tokenizers.registry import tokenizer_declaration

    try:
        declaration = tokenizer_declaration(spec["type"])
        needs = [n[len(_WEIGHTS):] for n in declaration.needs(spec) if n.startswith(_WEIGHTS)] if declaration.needs else []
    except (WetokBenchError, KeyError, TypeError):
        return None
    out = []
    for name in needs:
        try:
            out.extend(_digests(resolve_weights(name, download=False)))
        except (WetokBenchError, OSError):
            out.append([_WEIGHTS + name, None, None])
    return out or None


def card_files(spec: dict) -> list | None:
    """``[path, size, sha256]`` of the local weights behind an entry: the weights-registry
    files its family declares (:func:`_declared_weights`), else those of its ``model:`` card when
    the card's source resolves locally (a path, or an ``hf://`` file in the cache / weights folder),
    so a replaced weights file changes the fingerprint. None without either, or when a card's source
    does not resolve to a local file or folder without downloading (an ``hf://`` repo snapshot
    that diffusers or Cosmos load by repo name is not covered: its files are not named)."""
    from wetok_bench.core.errors import MissingWeightsError, UsageError
    from wetok_bench.core.weights import resolve_checkpoint
    from wetok_bench.tokenizers import cards

    declared = _declared_weights(spec)
    if declared is not None:
        return declared
    name = spec.get("model")
    if not isinstance(name, str):
        return None
    try:
        source = cards.get_card(name).source
        return _digests(resolve_checkpoint(source, download=False)) if source else None
    except (UsageError, MissingWeightsError, OSError):
        return None


def job_fingerprint(run, job, dataset_fp: dict, keys: list[str]) -> dict:
    """What decides a job's numbers (see the module doc); JSON-able. ``run``: the run's
    :class:`~wetok_bench.engine.context.RunContext`; ``dataset_fp``: its dataset's fingerprint;
    ``keys``: the images selected, in order."""
    entry_spec, settings = job.tokenizer.spec, run.suite.settings
    tokenizer: dict[str, Any] = {"spec": entry_spec, "files": _file_stats(entry_spec)}
    weights = card_files(entry_spec)
    if weights is not None:  # absent without a card: earlier fingerprints stay equal
        tokenizer["card_files"] = weights
    if tokenizer["files"] or weights:  # absent without files: those fingerprints stay equal
        tokenizer["files_rule"] = FILES_RULE
    out = {
        "tokenizer": tokenizer,
        "protocol": run.protocol.fingerprint,
        "metrics": list(run.setup.metrics),
        "metric_weights": run.evaluator.fingerprint(),
        "dataset": {k: dataset_fp.get(k) for k in ("kind", "count", "sha256")},
        "selection": sha256_json(list(keys)),
        "resolution": job.resolution,
        "seed": settings.seed,
        "on_nonfinite": settings.on_nonfinite,
        "version": __version__,
    }
    if settings.cycles > 1:  # absent at the default: earlier fingerprints stay equal
        out["cycles"] = settings.cycles
    if getattr(settings, "keep_features", False):  # a finished job without its features is measured again
        out["keep_features"] = True
    return out


def _same(a: Any, b: Any) -> bool:
    return json.loads(json.dumps(a, default=str)) == json.loads(json.dumps(b, default=str))


def finished_summary(folder: Path, fingerprint: dict) -> dict | None:
    """The summary of a finished job in ``folder`` measured with ``fingerprint``; None otherwise."""
    with contextlib.suppress(OSError, ValueError):
        summary = json.loads((folder / SUMMARY_FILE).read_text())
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        if summary.get("status") == "ok" and (folder / PER_IMAGE_FILE).is_file() \
                and _same(manifest.get("job_fingerprint"), fingerprint):
            return summary
    return None


def has_good_result(folder: Path) -> bool:
    """Whether ``folder`` holds a finished job's results (which a failure must not replace)."""
    with contextlib.suppress(OSError, ValueError):
        return json.loads((folder / SUMMARY_FILE).read_text()).get("status") == "ok"
    return False


def clear_failure(folder: Path) -> None:
    """Remove ``last_failure.json`` once the job has finished again."""
    with contextlib.suppress(FileNotFoundError):
        (folder / LAST_FAILURE_FILE).unlink()


def clear_earlier_outputs(folder: Path, names: list[str]) -> None:
    """Remove the files or folders ``names`` an earlier measurement of the job left in ``folder``
    (its ``grids/``, its ``per_image_cycles.csv``), once the new results are written: this
    measurement writes them afresh or not at all, so none shows what the summary did not measure."""
    for name in names:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
