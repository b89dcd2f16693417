"""The dry-run plan: the jobs with the weights and data each would use, and what is missing."""

from __future__ import annotations

from typing import Sequence

from wetok_bench.errors import WetokBenchError
from wetok_bench.run.selection import select_jobs
from wetok_bench.suite import Suite


def describe_dry_run(suite: Suite, only: Sequence[str] | None = None, num_images: int | None = None) -> str:
    """The job list with the weights and data each would use, and what is missing."""
    from wetok_bench import weights as W
    from wetok_bench.data.registry import create_dataset

    lines = [f"suite {suite.name} ({suite.source}), protocol {suite.protocol.name} v{suite.protocol.version} "
             f"[{suite.protocol.fingerprint[:12]}], metrics {', '.join(suite.metrics)}"]
    lines.append("metric weights:")
    needed = []
    if "rfid" in suite.metrics:
        needed.append("inception-v3-compat" if suite.protocol.fid_extractor == "inception-v3-compat" else "pytorch-fid-inception")
    if "lpips" in suite.metrics:
        needed.extend(f"lpips-{net}-backbone" for net in suite.protocol.lpips_nets)
    for name in needed:
        found = W.find_local(W.get_weights_file(name))
        lines.append(f"  {name:24s} {found or 'MISSING (' + W.get_weights_file(name).url + ')'}")
    if any(not W.find_local(W.get_weights_file(n)) for n in needed):
        lines.append(f"  on_missing_weights: {suite.settings['on_missing_weights']}")
    lines.append("datasets:")
    for entry in suite.datasets:
        try:
            dataset = create_dataset(entry.spec)
            count = len(dataset.records())
            limit = num_images or suite.settings["num_images"]
            lines.append(f"  {entry.name:24s} {dataset.describe()} ({count} images" + (f", using {min(count, limit)})" if limit else ")"))
        except WetokBenchError as error:
            lines.append(f"  {entry.name:24s} MISSING: {error}")
    lines.append("jobs:")
    for job in select_jobs(suite, only):
        lines.append(f"  {job.id:44s} {job.tokenizer.type}: {_describe_spec(job.tokenizer.spec)}")
    return "\n".join(lines)


def _describe_spec(spec: dict) -> str:
    from wetok_bench.tokenizers.cards import known_cards
    from wetok_bench.weights import checkpoint_present

    parts = []
    card = known_cards().get(spec.get("model")) if isinstance(spec.get("model"), str) else None
    if card is not None and card.source.startswith("hf://") and not any(k in spec for k in ("checkpoint", "path", "pretrained")):
        parts.append(f"weights={card.source}" + ("" if checkpoint_present(card.source) else " (MISSING)"))
    for key, value in spec.items():
        if key in ("type", "name"):
            continue
        text = f"{key}={value}"
        if key in ("checkpoint", "encoder", "decoder", "path") and isinstance(value, str) and not checkpoint_present(value):
            text += " (MISSING)"
        parts.append(text)
    return ", ".join(parts) or "(defaults)"
