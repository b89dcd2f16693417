"""``wetok-bench score``: metrics of reconstructions already on disk against their originals.

Two folders are walked recursively and their images paired by relative path without the
extension (``a/cat.JPEG`` pairs with ``a/cat.png``; :mod:`.score_pairs`). Unpaired files, pairs
of unequal size and ambiguous names are errors naming the files. An unreadable image (truncated,
empty, not an image) is skipped as ``run`` skips it: the pair is left out of every metric (the
set metrics' reference included), recorded in ``skipped_files`` with the reason and named on the
console; ``strict`` makes it an error instead. Metrics whose weights are missing are an error,
or with ``on_missing_weights="skip"`` left out and recorded in ``skipped_metrics``, as in ``run``.

Images of equal size are used as stored. An original of another size than its (square)
reconstruction, an uncropped ImageNet file against a 256 x 256 reconstruction, is brought to
that size by the protocol's own resize rule (``MetricProtocol.resize``: what ``run`` would have
given the tokenizer), counted in ``counts.preprocessed`` and said on the console; the rule is part
of the reference statistics' cache key. Reconstruction files are uint8, so they
enter the evaluator as floats ``u8 / 127.5 - 1`` (exact on the uint8 grid, so ``standard``'s
rounding gives the file's values back; ``wetok``'s float32 truncation then applies to both
images as in that protocol). Same-size images are batched together.

The result is the record ``run`` writes (:func:`~wetok_bench.results.finalize.finalize`): the
same ``summary.json`` schema, with tokenizer type ``score`` and no compression block (the images
alone do not say how they were coded). The reference (originals') states are cached by content
(sha256 of every original file, protocol, feature extractor and its weights;
:mod:`wetok_bench.metrics.reference_cache`), so scoring several reconstruction folders against
one reference folder runs the feature networks on the originals once.
"""

from __future__ import annotations

import hashlib
import socket
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from wetok_bench.commands.score_pairs import Skips, pair_images, same_size_batches
from wetok_bench.config.settings import DEFAULTS
from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import cached_sha256_many
from wetok_bench.core.names import check_name, job_folder, job_id, name_from
from wetok_bench.core.skips import format_skipped
from wetok_bench.core.versions import git_commit, library_versions
from wetok_bench.data.images import ImageError, load_rgb, load_u8
from wetok_bench.data.preprocess import preprocess
from wetok_bench.metrics import registry
from wetok_bench.metrics.evaluator import ReconstructionEvaluator, clamp_warning
from wetok_bench.metrics.reference_cache import cached_reference_stats
from wetok_bench.metrics.setup import MetricSetup, resolve_metric_weights
from wetok_bench.protocols import MetricProtocol, get_protocol, u8_to_signed_float
from wetok_bench.results.finalize import JobHeader, Measurement, finalize
from wetok_bench.results.records import JobSummary, Manifest, write_job, write_json

#: The ``suite`` of a score job and the ``type`` of its tokenizer.
SCORE = "score"


@dataclass
class ScoreOptions:
    """How to score (defaults: the suite settings' table, :data:`~wetok_bench.config.settings.DEFAULTS`).

    Attributes:
        protocol: metric protocol name or object.
        metrics: registered metric names (``psnr``, ``ssim``, ``lpips``, ``rfid``, ``kid`` ...).
        weights: weights files by slot (``inception``, ``lpips_alex``, ``lpips_vgg``, a plug-in
            metric's own); a slot not given resolves its known file offline first.
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        batch_size: images per batch (batches hold images of one size).
        strict: an unreadable image is an error instead of a recorded skip.
        on_missing_weights: ``error`` or ``skip`` (leave the metric out, recorded).
        metric_settings: suite-style settings blocks by key (``{"kid": {"subset_size": 100}}``).
        cache_dir: reference statistics cache folder (default ``<WETOK_BENCH_HOME>/cache``).
    """

    protocol: str | MetricProtocol = DEFAULTS["protocol"]
    metrics: Sequence[str] = tuple(DEFAULTS["metrics"])
    weights: Mapping[str, str | Path] = field(default_factory=dict)
    device: str = DEFAULTS["device"]
    batch_size: int = DEFAULTS["batch_size"]
    strict: bool = False
    on_missing_weights: str = DEFAULTS["on_missing_weights"]
    metric_settings: Mapping[str, Any] | None = None
    cache_dir: str | Path | None = None


@dataclass
class ScoreResult:
    """What ``score`` measured: the ``summary.json`` record, the per-image rows (``key``: the
    original's path, ``recon_path``, one value per metric), the manifest, console warnings."""

    summary: JobSummary
    rows: list[dict[str, Any]]
    manifest: Manifest
    warnings: list[str]
    #: whether the set metrics' reference came from the cache (None without set metrics)
    reference_cache_hit: bool | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        return self.summary.metrics

    def write_job(self, results_dir: str | Path) -> Path:
        """Write ``<results_dir>/<name>__<dataset>__<resolution>/`` as a ``run`` job folder."""
        folder = job_folder(Path(results_dir), self.summary.tokenizer["name"], self.summary.dataset["name"],
                            self.summary.resolution)
        columns = ["key", *(k for k in (self.rows[0] if self.rows else {}) if k != "key")]
        write_job(folder, self.summary, self.rows, columns, self.manifest)
        return folder


def score_folders(ref_dir: str | Path, recon_dir: str | Path, *, name: str | None = None, dataset: str | None = None,
                  out: str | Path | None = None, **options: Any) -> ScoreResult:
    """Score every reconstruction in ``recon_dir`` against its original in ``ref_dir``.

    ``name`` / ``dataset``: the tokenizer and dataset names of the record (default: the
    reconstruction / reference folder's name). ``out``: write the ``summary.json`` record there
    (atomically), and the per-image rows beside it as ``<stem>.per_image.csv``. ``options``: the
    fields of :class:`ScoreOptions`.
    """
    try:
        opts = ScoreOptions(**options)
    except TypeError:
        known = ", ".join(f.name for f in fields(ScoreOptions))
        raise UsageError(f"score options: unknown keyword in {sorted(options)} (known: {known})") from None
    if opts.batch_size < 1:
        raise UsageError(f"batch size must be at least 1, got {opts.batch_size}")
    ref_dir, recon_dir = Path(ref_dir), Path(recon_dir)
    # a name given is checked; a default one is made from the folder's name
    name = check_name(name, "--name") if name is not None else name_from(recon_dir.resolve().name)
    dataset = check_name(dataset, "--dataset") if dataset is not None else name_from(ref_dir.resolve().name)
    protocol = get_protocol(opts.protocol) if isinstance(opts.protocol, str) else opts.protocol
    pairs = pair_images(ref_dir, recon_dir)  # missing folders first: the cheaper check, the likelier mistake
    setup = _resolve_metrics(protocol, opts)
    skips = Skips(pairs, opts.strict)
    batches, resized = same_size_batches(ref_dir, recon_dir, pairs, opts.batch_size, skips)
    evaluator = ReconstructionEvaluator(protocol, setup.metrics, opts.device, weights=setup.weights,
                                        settings=registry.metric_settings(setup.metrics, opts.metric_settings))
    scorer = _Scorer(ref_dir, recon_dir, pairs, skips, evaluator, resized)
    sets: dict[str, dict] = {}
    reference, cache_hit = None, None
    if evaluator.set_metrics:
        reference, cache_hit = scorer.reference_and_pass(batches, opts)
        sets = evaluator.compute_sets(evaluator.prepare_references(reference))
    else:
        scorer.run(batches, None)
    if not scorer.order:
        raise UsageError("no image pair could be read: " + format_skipped(skips.records(), total=len(pairs)))
    rows = scorer.rows()
    resolution = _resolution(recon_dir, [row["recon_path"] for row in rows])
    header = JobHeader(suite=SCORE, job=job_id(name, dataset, resolution),
                       tokenizer={"name": name, "type": SCORE, "display_name": name},
                       dataset={"name": dataset, "type": "folder"}, resolution=resolution)
    measurement = Measurement(rows=rows, value_keys=evaluator.value_keys, sets=sets, skipped_files=skips.records(),
                              selected=len(pairs), reference_images=reference.n if reference is not None else None,
                              clamp=evaluator.clamp_counts, skipped_metrics=setup.skipped,
                              preprocessed=len(scorer.preprocessed) if resized else None)
    if resized:
        header.dataset["preprocess"] = protocol.resize
    summary = finalize(header, protocol, measurement)
    manifest = Manifest(
        job=summary.job, protocol={**protocol.to_dict(), "fingerprint": protocol.fingerprint},
        metrics=evaluator.fingerprint(),
        dataset={"kind": "folder", "root": str(ref_dir), "count": len(pairs)},
        tokenizer={"spec": {"type": SCORE, "name": name, "recon_dir": str(recon_dir)}},
        versions=library_versions(), git_commit=git_commit(), host=socket.gethostname(),
        date=time.strftime("%Y-%m-%dT%H:%M:%S%z"), command=list(sys.argv), images=len(rows),
        extra={"ref_dir": str(ref_dir), "recon_dir": str(recon_dir), "reference_cache_hit": cache_hit})
    warnings = [clamp_warning("reconstructions", evaluator.clamp_counts)]
    if scorer.preprocessed:
        example = pairs[min(scorer.preprocessed)][0]
        warnings.append(f"{len(scorer.preprocessed)} of {len(rows)} originals differ in size from their reconstructions "
                        f"(e.g. {example}): each was brought to its reconstruction's size by protocol "
                        f"{protocol.name!r}'s rule '{protocol.resize}' (counts.preprocessed)")
    result = ScoreResult(summary, rows, manifest, [w for w in warnings if w], cache_hit)
    if out is not None:
        _write_out(Path(out), result)
    return result


def _write_out(out: Path, result: ScoreResult) -> None:
    """``out``: the summary record; ``<stem>.per_image.csv`` beside it: the rows."""
    from wetok_bench.results.records import atomic_write_text, rows_to_csv

    columns = ["key", *(k for k in (result.rows[0] if result.rows else {}) if k != "key")]
    atomic_write_text(out.with_name(out.stem + ".per_image.csv"), rows_to_csv(result.rows, columns))
    write_json(out, result.summary.to_dict())


def _resolve_metrics(protocol: MetricProtocol, opts: ScoreOptions) -> MetricSetup:
    """The metric set with its weights (:func:`~wetok_bench.metrics.setup.resolve_metric_weights`)."""
    if opts.on_missing_weights not in ("error", "skip"):
        raise UsageError(f"on_missing_weights must be 'error' or 'skip', got {opts.on_missing_weights!r}")
    metrics = registry.check_metrics(list(opts.metrics) if not isinstance(opts.metrics, str) else [opts.metrics])
    undefined = [m for m in metrics if not protocol.defines(m)]
    if undefined:  # before any weights are looked for
        raise UsageError(f"protocol {protocol.name!r} does not define {', '.join(undefined)} (its official evaluation "
                         f"does not compute it); leave it out or choose another protocol")
    blocks = dict(opts.metric_settings or {})
    unknown = sorted(name for name in blocks if name not in registry.METRICS)
    problems = [(name, f"not a metric{registry.closest_metric(name)}") for name in unknown]
    problems += registry.settings_problems({**{k: v for k, v in blocks.items() if k not in unknown}, "metrics": list(metrics)})
    if problems:
        raise UsageError("metric settings: " + "; ".join(f"{key}: {message}" for key, message in problems))
    setup = resolve_metric_weights(protocol, list(metrics), explicit=dict(opts.weights), on_missing=opts.on_missing_weights)
    if not setup.metrics:
        raise UsageError("every requested metric was skipped: " + "; ".join(f"{m}: {r}" for m, r in setup.skipped.items()))
    return setup


def _resolution(folder: Path, paths: list[str]) -> int | str:
    """The images' side when every scored image (the reconstructions) is the same square size,
    else ``original``."""
    from PIL import Image

    sizes = set()
    for path in paths:
        with Image.open(folder / path) as image:
            sizes.add(image.size)
    if len(sizes) == 1:
        (width, height), = sizes
        if width == height:
            return width
    return "original"


def reference_key(ref_dir: Path, pairs: list[tuple[str, str]], evaluator: ReconstructionEvaluator,
                  skipped: list[dict[str, str]], resized: Mapping[int, int] | None = None) -> dict:
    """The reference cache's key of the originals ``pairs`` leaves after ``skipped``: the sha256 of
    every file through the digest cache the dataset fingerprint and weights use (scoring against
    the same reference folder again reads none of its unchanged files), the protocol, the feature
    extractor and the set metrics whose states the file keeps."""
    left_out = {s["key"] for s in skipped}
    used = [ref for ref, _ in pairs if ref not in left_out]
    digest = hashlib.sha256()
    digests = cached_sha256_many([ref_dir / ref for ref in used], what=f"reference folder {ref_dir}")
    sizes = {pairs[i][0]: f"@{side}" for i, side in (resized or {}).items()}
    for ref, (_, file_sha) in zip(used, digests):
        # a preprocessed original is named with the size it was brought to
        digest.update(f"{ref}\0{file_sha}{sizes.get(ref, '')}\n".encode())
    first = next(iter(evaluator.extractors.values()))
    return {
        "source": "score-folder",
        "images": digest.hexdigest(),
        "n_images": len(used),
        "preprocess": evaluator.protocol.resize if resized else "none (files as stored)",
        "protocol_fingerprint": evaluator.protocol.fingerprint,
        "features": first.fingerprint(),
        **evaluator.reference_cache_key(),
    }


class _LateSkips(Exception):
    """Raised out of the reference cache's compute when skips appeared that its key did not name."""


class _Scorer:
    """One decode of every pair: per-image values, the set states, the originals' states."""

    def __init__(self, ref_dir: Path, recon_dir: Path, pairs: list[tuple[str, str]], skips: Skips,
                 evaluator: ReconstructionEvaluator, resized: Mapping[int, int] | None = None) -> None:
        self.ref_dir, self.recon_dir, self.pairs, self.skips, self.evaluator = ref_dir, recon_dir, pairs, skips, evaluator
        #: pairs whose original is brought to its reconstruction's side by the protocol's rule (index -> side)
        self.resized = dict(resized or {})
        self.preprocessed: set[int] = set()
        self.values: dict[str, list[np.ndarray]] = defaultdict(list)
        self.order: list[int] = []
        self.late_skips: list[int] = []  # unreadable beyond the header (e.g. truncated): found while decoding

    def _load(self, batch: list[int]) -> tuple[list[int], list[torch.Tensor], list[torch.Tensor]]:
        kept, refs, recs = [], [], []
        for i in batch:
            try:
                side, path = "reconstruction", self.recon_dir / self.pairs[i][1]
                rec = load_u8(path)
                side, path = "original", self.ref_dir / self.pairs[i][0]
                ref = self._original(i)
            except ImageError as error:
                self.skips.add(i, side, path, error)
                self.late_skips.append(i)
                continue
            kept.append(i)
            refs.append(ref)
            recs.append(rec)
        return kept, refs, recs

    def _original(self, index: int) -> torch.Tensor:
        """The original of pair ``index`` as stored, or brought to its reconstruction's side by the protocol's rule."""
        path = self.ref_dir / self.pairs[index][0]
        if index not in self.resized:
            return load_u8(path)
        self.preprocessed.add(index)
        return preprocess(load_rgb(path), self.resized[index], self.evaluator.protocol.resize)

    def run(self, batches: list[list[int]], reference) -> None:
        """Score every batch; the originals' features go into ``reference`` from the same batches
        when the cache has no states for these originals."""
        for batch in batches:
            kept, refs, recs = self._load(batch)
            if not kept:
                continue
            originals = torch.stack(refs)
            if reference is not None:
                self.evaluator.update_reference(reference, originals)
            for key, values in self.evaluator.update(originals, u8_to_signed_float(torch.stack(recs))).items():
                self.values[key].append(values.numpy())
            self.order.extend(kept)

    def reference_and_pass(self, batches: list[list[int]], opts: ScoreOptions) -> tuple[Any, bool]:
        """Score every batch and return the originals' states with whether they came from the cache."""
        passes = []

        def compute():
            states = self.evaluator.new_reference()
            self.run(batches, states)
            passes.append(states)
            if self.late_skips:  # the key did not know these skips: use the states, do not store them
                raise _LateSkips
            return states

        key = reference_key(self.ref_dir, self.pairs, self.evaluator, self.skips.records(), self.resized)
        try:
            reference, hit = cached_reference_stats(key, compute, Path(opts.cache_dir) if opts.cache_dir else None,
                                                    encode=self.evaluator.encode_reference,
                                                    decode=self.evaluator.decode_reference)
        except _LateSkips:
            reference, hit = passes[0], False
        if not passes:
            self.run(batches, None)
            if self.late_skips:  # cached states include originals skipped since: recompute them
                reference, hit = self._reference_of(sorted(self.order), opts.batch_size), False
        return reference, hit

    def _reference_of(self, indices: list[int], batch_size: int):
        """Originals' states over the pairs ``indices`` (all readable), in batches of one size."""
        states = self.evaluator.new_reference()
        by_size: dict[tuple[int, ...], list[torch.Tensor]] = defaultdict(list)
        for i in indices:
            image = self._original(i)
            by_size[tuple(image.shape)].append(image)
        for images in by_size.values():
            for start in range(0, len(images), batch_size):
                self.evaluator.update_reference(states, torch.stack(images[start : start + batch_size]))
        return states

    def rows(self) -> list[dict[str, Any]]:
        """Per-image rows in path order (batches come grouped by size)."""
        position = np.argsort(np.asarray(self.order), kind="stable")
        values = {key: np.concatenate(parts)[position] for key, parts in self.values.items()}
        return [{"key": self.pairs[i][0], "recon_path": self.pairs[i][1], **{k: float(values[k][n]) for k in values}}
                for n, i in enumerate(sorted(self.order))]
