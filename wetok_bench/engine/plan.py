"""The dry-run plan: the jobs with the weights and data each would use, and what is missing.

``wetok-bench run SUITE --dry-run`` prints :attr:`DryRun.text` and exits 1 when
:attr:`DryRun.missing` is not empty (a dataset, a checkpoint, a family's weights file, metric
weights), so it serves as a pre-flight check in CI. Nothing is downloaded or written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from wetok_bench.config.suite import Suite
from wetok_bench.core.errors import WetokBenchError
from wetok_bench.engine.selection import select_jobs

_WEIGHTS = "weights:"


@dataclass
class DryRun:
    """The printed plan (``text``) and one line per missing thing (``missing``)."""

    lines: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def dry_run(suite: Suite, only: Sequence[str] | None = None, num_images: int | None = None) -> DryRun:
    """The job list with the weights and data each would use, and what is missing."""
    from wetok_bench.data.registry import create_dataset
    from wetok_bench.metrics.registry import weights_needs

    plan = DryRun()
    plan.lines.append(f"suite {suite.name} ({suite.source}), protocol {suite.protocol.name} v{suite.protocol.version} "
                      f"[{suite.protocol.fingerprint[:12]}], metrics {', '.join(suite.metrics)}")
    if suite.includes:
        plan.lines.append(f"includes: {', '.join(suite.includes)} (their keys under this file's)")
    plan.lines.append("metric weights:")
    explicit = suite.settings.weights
    # every metric's files from the metric registry, each slot once (rFID and KID share the Inception)
    slots = {slot: name for needs in weights_needs(suite.protocol, suite.metrics).values() for slot, name in needs}
    needed = [(name, explicit.get(slot)) for slot, name in slots.items()]
    for name, path in needed:
        found, problem = _find_weights(name, path)
        plan.lines.append(f"  {name:24s} {found or 'MISSING (' + problem + ')'}")
        if not found:
            plan.missing.append(f"metric weights {name}")
    if plan.missing:
        plan.lines.append(f"  on_missing_weights: {suite.settings.on_missing_weights}")
    plan.lines.append("datasets:")
    for entry in suite.datasets:
        try:
            dataset = create_dataset(entry.spec)
            count = len(dataset.records())
            limit = num_images or suite.settings.num_images
            plan.lines.append(f"  {entry.name:24s} {dataset.describe()} ({count} images"
                              + (f", using {min(count, limit)})" if limit else ")"))
            if count == 0:
                plan.missing.append(f"dataset {entry.name}: no images")
        except WetokBenchError as error:
            plan.lines.append(f"  {entry.name:24s} MISSING: {error}")
            plan.missing.append(f"dataset {entry.name}")
    plan.lines.append("jobs:")
    described: dict[str, str] = {}
    for job in select_jobs(suite, only):
        name = job.tokenizer.name
        if name not in described:
            described[name], absent = _describe_spec(job.tokenizer.spec)
            plan.missing.extend(f"tokenizer {name}: {what}" for what in absent)
        plan.lines.append(f"  {job.id:44s} {job.tokenizer.type}: {described[name]}")
    if plan.missing:
        plan.lines.append(f"missing ({len(plan.missing)}): " + "; ".join(plan.missing))
    return plan


def describe_dry_run(suite: Suite, only: Sequence[str] | None = None, num_images: int | None = None) -> str:
    """The text of :func:`dry_run`."""
    return dry_run(suite, only, num_images).text


def _find_weights(name: str, path: str | None) -> tuple[str | None, str]:
    """``(where it is, "")`` or ``(None, why not)`` for a weights-registry file, without downloading."""
    from wetok_bench.core import weights as W

    try:
        return str(W.resolve_weights(name, path, download=False)), ""
    except WetokBenchError as error:
        return None, str(error).split("\n", 1)[0] if path else W.get_weights_file(name).url


def _describe_spec(spec: dict) -> tuple[str, list[str]]:
    """The entry's parameters with ``(MISSING)`` marks, and what is missing.

    What it loads comes from its family's declaration: its path parameters, the files its
    ``needs`` names (e.g. TAEF2's two ``.pth`` files), else its model card's source.
    """
    from wetok_bench.core.weights import checkpoint_present
    from wetok_bench.tokenizers.cards import known_cards
    from wetok_bench.tokenizers.registry import tokenizer_declaration

    declaration = tokenizer_declaration(spec["type"])
    paths = {p.name for p in declaration.params if p.path}
    parts, absent = [], []
    if declaration.needs is not None:
        for location in declaration.needs(spec):
            if location.startswith(_WEIGHTS):
                location = location[len(_WEIGHTS):]
                found, why = _find_weights(location, None)
                shown = f"{location} ({found or 'MISSING: ' + why})"
            else:
                found = location if checkpoint_present(location) else None
                shown = location + ("" if found else " (MISSING)")
            if location not in spec.values():
                parts.append(f"weights={shown}")
            if not found:
                absent.append(location)
    else:
        card = known_cards().get(spec.get("model")) if isinstance(spec.get("model"), str) else None
        if card is not None and card.source.startswith("hf://") and not any(k in spec for k in (*paths, "pretrained")):
            present = checkpoint_present(card.source)
            parts.append(f"weights={card.source}" + ("" if present else " (MISSING)"))
            if not present:
                absent.append(card.source)
    for key, value in spec.items():
        if key in ("type", "name"):
            continue
        text = f"{key}={value}"
        if key in paths and isinstance(value, str) and not checkpoint_present(value):
            text += " (MISSING)"
            if value not in absent:
                absent.append(value)
        parts.append(text)
    return ", ".join(parts) or "(defaults)", absent
