"""``wetok-bench score REF_DIR RECON_DIR``: metrics of reconstructions already on disk."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wetok_bench.cli.group import cli
from wetok_bench.config.settings import DEFAULTS
from wetok_bench.core.errors import UsageError


@cli.command()
@click.argument("ref_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("recon_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--protocol", default=DEFAULTS["protocol"], show_default=True,
              help="Metric protocol (`wetok-bench list protocols`), or several comma-separated: each scored in turn, "
                   "--out FILE becomes FILE's stem.PROTOCOL.json and --results DIR gets one folder per protocol.")
@click.option("--metrics", default=",".join(DEFAULTS["metrics"]), show_default=True,
              help="Comma-separated metrics to compute (`wetok-bench list metrics`).")
@click.option("--weights", "weights", multiple=True, metavar="SLOT=PATH",
              help="A metric network's weights file by slot (inception, lpips_alex, lpips_vgg, ...) or by file name "
                   "(inception-v3-compat, pytorch-fid-inception: protocols that read different files); repeatable.")
@click.option("--inception-weights", type=click.Path(dir_okay=False, path_type=Path),
              help="Same as --weights inception=PATH.")
@click.option("--lpips-weights", multiple=True,
              help="Same as --weights lpips_NET=PATH: PATH for the protocol's one backbone, or NET=PATH per backbone.")
@click.option("--device", default=DEFAULTS["device"], show_default=True, help="auto | cpu | cuda[:N].")
@click.option("--batch-size", default=DEFAULTS["batch_size"], show_default=True, type=click.IntRange(min=1),
              help="Images per batch.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the summary (summary.json's schema) here, and the per-image rows beside it (<stem>.per_image.csv).")
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write a results job folder under this folder (as `run` writes; `report` and `check` read it).")
@click.option("--strict", is_flag=True, help="An unreadable image is an error (default: skipped, recorded and named).")
@click.option("--on-missing-weights", type=click.Choice(["error", "skip"]), default=DEFAULTS["on_missing_weights"],
              show_default=True, help="skip: leave out metrics whose weights are missing (recorded), as `run` does.")
@click.option("--setting", "settings", multiple=True, metavar="METRIC.KEY=VALUE",
              help="A metric's setting, as in a suite's block for it (e.g. kid.subset_size=100); repeatable.")
@click.option("--name", help="Tokenizer name of the record [default: RECON_DIR's folder name].")
@click.option("--dataset", help="Dataset name of the record [default: REF_DIR's folder name].")
def score(ref_dir, recon_dir, out, results_dir, name, dataset, **options) -> None:
    """Score reconstructions in RECON_DIR against originals in REF_DIR (paired by relative path, extension ignored)."""
    from wetok_bench.commands.score import score_folders
    from wetok_bench.protocols import get_protocol

    if out is None and results_dir is None:
        raise UsageError("give --out FILE (the summary) and/or --results DIR (a job folder)")
    names = [p.strip() for p in options.pop("protocol").split(",") if p.strip()]
    if not names or len(set(names)) != len(names):
        raise UsageError(f"--protocol: give one protocol or several different ones, comma-separated (got {names})")
    protocols = [get_protocol(p) for p in names]  # every name checked before any work
    raw_weights = (options.pop("weights"), options.pop("inception_weights"), options.pop("lpips_weights"))
    metric_settings = settings_option(options.pop("settings"))
    options["metrics"] = [m.strip() for m in options["metrics"].split(",") if m.strip()]
    several = len(protocols) > 1
    if several:  # one path for a slot that means two files would be loaded into both networks
        from wetok_bench.metrics.registry import ambiguous_weight_slots

        given = weights_option(*raw_weights, protocols[0])
        for slot, names in ambiguous_weight_slots(given, options["metrics"], protocols):
            raise UsageError(f"--protocol {','.join(p.name for p in protocols)}: the protocols "
                             f"read different files in slot {slot!r} ({', '.join(names)}): give each by its name "
                             f"instead (--weights {names[0]}=PATH ...)")
    scored = {}
    for protocol in protocols:
        metrics = [m for m in options["metrics"] if protocol.defines(m)] if several else options["metrics"]
        result = score_folders(ref_dir, recon_dir, name=name, dataset=dataset,
                               out=out.with_name(f"{out.stem}.{protocol.name}{out.suffix}") if out and several else out,
                               weights=weights_option(*raw_weights, protocol), metric_settings=metric_settings or None,
                               **{**options, "metrics": metrics, "protocol": protocol})
        scored[protocol.name] = result
    metrics = {p: r.metrics for p, r in scored.items()} if several else next(iter(scored.values())).metrics
    click.echo(json.dumps(metrics, indent=2, default=str))
    for protocol_name, result in scored.items():
        _report(result, results_dir / protocol_name if results_dir and several else results_dir)


def _report(result, results_dir: Path | None) -> None:
    """The warnings of one protocol's score, and its job folder when asked for."""
    from wetok_bench.core.skips import format_skipped

    summary = result.summary
    for metric, reason in (summary.skipped_metrics or {}).items():
        click.echo(f"warning: {metric} skipped: {reason}", err=True)
    if summary.skipped_files:  # left out of every mean: say so, a skipped bad pair would flatter them
        counts = summary.counts
        click.echo(f"warning: {format_skipped(summary.skipped_files, total=counts['selected'])}; every metric is over "
                   f"the {counts['images']} pairs scored, not all {counts['selected']} (--strict makes this an error)",
                   err=True)
    for line in result.warnings:
        click.echo(f"warning: {line}", err=True)
    if results_dir is not None:
        click.echo(f"results: {result.write_job(results_dir)}")


def settings_option(values: tuple[str, ...]) -> dict[str, dict]:
    """``--setting METRIC.KEY=VALUE`` values as suite-style blocks (``{"kid": {"subset_size": 100}}``);
    a VALUE is read as YAML (``100`` is a number, ``true`` a boolean)."""
    import yaml

    blocks: dict[str, dict] = {}
    for value in values:
        target, sep, text = value.partition("=")
        metric, dot, key = target.partition(".")
        if not sep or not dot or not metric.strip() or not key.strip():
            raise click.BadParameter(f"{value!r}: write METRIC.KEY=VALUE (e.g. kid.subset_size=100)", param_hint="--setting")
        blocks.setdefault(metric.strip(), {})[key.strip()] = yaml.safe_load(text)
    return blocks


def weights_option(values: tuple[str, ...], inception: Path | None, lpips: tuple[str, ...], protocol) -> dict[str, Path]:
    """Weights files by slot from ``--weights SLOT=PATH``, ``--inception-weights`` and ``--lpips-weights``."""
    slots: dict[str, Path] = {}
    for value in values:
        slot, sep, path = value.partition("=")
        if not sep or not slot.strip() or not path:
            raise click.BadParameter(f"{value!r}: write SLOT=PATH (e.g. inception=weights.pth)", param_hint="--weights")
        slots[slot.strip()] = Path(path)
    if inception is not None:
        slots["inception"] = inception
    nets = protocol.lpips_nets
    for value in lpips:
        net, sep, path = value.partition("=")
        if sep and net in ("alex", "vgg"):
            slots[f"lpips_{net}"] = Path(path)
        elif len(lpips) == 1 and len(nets) == 1:
            slots[f"lpips_{nets[0]}"] = Path(value)
        elif len(lpips) == 1:
            raise UsageError(f"protocol {protocol.name!r} uses LPIPS backbones {list(nets)}: give one weights file per "
                             f"backbone (e.g. --lpips-weights alex=PATH --lpips-weights vgg=PATH)")
        else:
            raise click.BadParameter(f"{value!r}: with several files, write NET=PATH (NET: alex or vgg)")
    return slots
