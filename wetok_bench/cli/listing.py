"""``wetok-bench list ...``, ``doctor`` and ``weights ...``: what is registered, installed and present."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wetok_bench.cli.group import cli
from wetok_bench.core.errors import WetokBenchError


@cli.group("list")
def list_group() -> None:
    """List tokenizers, datasets, protocols and shipped suites."""


@list_group.command("tokenizers")
def list_tokenizers() -> None:
    """Registered tokenizer types and known model cards, with their local availability."""
    from wetok_bench.tokenizers.cards import known_cards
    from wetok_bench.tokenizers.registry import alias_of, tokenizer_declaration, tokenizer_types

    click.echo("tokenizer types and their parameters:")
    for name in tokenizer_types():
        if alias_of(name):
            click.echo(f"  {name:16s} alias of {alias_of(name)}")
            continue
        click.echo(f"  {name}")
        try:
            lines = tokenizer_declaration(name).describe()
        except (ImportError, WetokBenchError) as error:
            lines = [f"(cannot load: {error})"]
        click.echo("".join(f"      {line}\n" for line in lines or ["(no parameters)"]), nl=False)
    click.echo("model cards:")
    cards = sorted(known_cards().values(), key=lambda c: (c.type, c.name))
    width = max((len(card.name) for card in cards), default=0)
    for card in cards:
        click.echo(f"  {card.name:{width}s} {card.type:14s} {_card_state(card):9s} {card.source}")


def _card_state(card) -> str:
    """``present`` / ``missing`` for checkpoints on the Hugging Face hub (looked up locally only)."""
    from wetok_bench.core.weights import checkpoint_present

    if not card.source.startswith("hf://"):
        return "-"
    return "present" if checkpoint_present(card.source) else "missing"


@list_group.command("protocols")
def list_protocols() -> None:
    """Metric protocols with their settings and fingerprints."""
    from wetok_bench.protocols import PROTOCOLS

    for protocol in PROTOCOLS.load_all().values():
        click.echo(f"{protocol.name} v{protocol.version} [{protocol.fingerprint[:12]}]: {protocol.notes}")
        for key, value in protocol.to_dict().items():
            if key not in ("name", "version"):
                click.echo(f"    {key}: {value}")


@list_group.command("metrics")
def list_metrics() -> None:
    """Registered metrics (built-in and plug-in): level, direction, result keys, weights."""
    from wetok_bench.metrics import registry

    for name in registry.metric_names():
        cls = registry.get_metric(name)
        keys = ", ".join(k.name for k in cls.result_keys())
        settings = f"; settings: {cls.settings_key}" if cls.settings_key else ""
        click.echo(f"{name} ({cls.level}, {'higher' if cls.higher_is_better else 'lower'} is better) -> {keys}{settings}")
        click.echo(f"    {cls.description}")


@list_group.command("datasets")
def list_datasets() -> None:
    """Dataset types and their parameters."""
    from wetok_bench.data.registry import dataset_declaration, dataset_types

    for name in dataset_types():
        click.echo(name)
        try:
            lines = dataset_declaration(name).describe()
        except (ImportError, WetokBenchError) as error:  # a broken plug-in: named, the others still listed
            lines = [f"(cannot load: {error})"]
        click.echo("".join(f"    {line}\n" for line in lines or ["(no parameters)"]), nl=False)


@list_group.command("suites")
def list_suites() -> None:
    """Suite files shipped in ./suites."""
    for path in sorted(Path("suites").glob("*.yaml")):
        click.echo(str(path))


@cli.command()
def doctor() -> None:
    """Environment report: versions, devices, folders, and which weights are present."""
    import torch

    from wetok_bench.core import weights as w
    from wetok_bench.core.paths import home_dir
    from wetok_bench.core.versions import git_commit, library_versions

    for name, version in library_versions().items():
        click.echo(f"{name:16s} {version}")
    click.echo(f"{'git commit':16s} {git_commit() or '-'}")
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    click.echo(f"{'cuda':16s} {', '.join(gpus) or 'not available (runs on the CPU)'}")
    click.echo(f"{'torch threads':16s} {torch.get_num_threads()}")
    click.echo(f"{'home':16s} {home_dir()}")
    click.echo(f"{'weights folder':16s} {w.weights_dir()}")
    click.echo(f"{'downloads':16s} {'disabled (offline switch set)' if w.offline() else 'allowed when the network answers'}")
    for spec in w.KNOWN_WEIGHTS.values():
        click.echo(f"  {spec.name:24s} {'present' if w.find_local(spec) else 'corrupt' if w.corrupt_copies(spec) else 'missing'}")


@cli.group()
def weights() -> None:
    """Weights files the harness knows: what is present, and fetching the rest."""


@weights.command("list")
def weights_list() -> None:
    """Show every known weights file and where it was found (or how to get it)."""
    from wetok_bench.core import weights as w

    click.echo(f"weights folder: {w.weights_dir()}")
    for spec in w.KNOWN_WEIGHTS.values():
        found = w.find_local(spec)
        corrupt = [] if found else w.corrupt_copies(spec)
        state = (f"present  {found}" if found else f"CORRUPT  {corrupt[0][0]} (sha256 {corrupt[0][1]}, expected "
                 f"{w.expected_checksum(spec)})" if corrupt else f"MISSING  {spec.url}")
        click.echo(f"{spec.name:24s} {state}\n{'':24s} used by: {spec.used_by}")


@weights.command("fetch")
@click.argument("names", nargs=-1, required=True)
def weights_fetch(names: tuple[str, ...]) -> None:
    """Download weights NAMES (or groups: taef2, lpips, inception, all) into the weights folder."""
    from wetok_bench.core import weights as w

    failed = 0
    for name in w.expand_names(list(names)):
        spec = w.get_weights_file(name)
        found = w.find_local(spec)
        if found:
            click.echo(f"{name}: already present at {found}")
            continue
        if w.offline():
            failed += 1
            click.echo(f"{name}: FAILED (downloads disabled by WETOK_BENCH_OFFLINE / HF_HUB_OFFLINE); "
                       f"{w.unavailable_message(spec)}", err=True)
            continue
        try:
            click.echo(f"{name}: fetched to {w.fetch(spec)}")
        except OSError as error:
            failed += 1
            click.echo(f"{name}: FAILED ({error}); {w.unavailable_message(spec)}", err=True)
    if failed:
        sys.exit(1)
