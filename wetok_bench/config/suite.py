"""Suite files: YAML -> validated :class:`Suite` -> list of :class:`Job`.

A suite pairs tokenizers with datasets under one metric protocol (format in docs/suites.md,
"Suite files"). Validation happens before any work and reports every problem at once, each
with its YAML path (``tokenizers[2].qualty: unknown key; did you mean 'quality'?``); a
malformed suite raises :class:`SuiteError` (exit code 2) and nothing is written.

``${VAR}``, ``${VAR:-default}`` and ``$VAR`` in any string expand from the environment
(:mod:`wetok_bench.core.envvars`; an unset variable without default is a problem at its YAML path).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wetok_bench.config.includes import check_expanded_size, read_yaml
from wetok_bench.config.includes import resolve as resolve_includes
from wetok_bench.config.settings import DEFAULTS, Settings, check_values, parse_resolutions, protocol_names
from wetok_bench.core.envvars import expand_tree
from wetok_bench.core.errors import UsageError, WetokBenchError, closest
from wetok_bench.core.hashing import sha256_json
from wetok_bench.core.names import job_id, name_problem
from wetok_bench.metrics.registry import METRICS
from wetok_bench.protocols import PROTOCOLS, MetricProtocol, get_protocol

SUITE_VERSION = 1

#: Re-exported from :mod:`wetok_bench.config.settings` (the one table of top-level keys).
TOP_LEVEL_KEYS: dict[str, Any] = dict(DEFAULTS)
TOKENIZER_COMMON_KEYS = {"type", "name", "display_name", "paper_name"}
DATASET_COMMON_KEYS = {"type", "name"}


class SuiteError(UsageError):
    """A suite that does not validate; ``problems`` lists ``(yaml_path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {path}: {message}" for path, message in problems)
        super().__init__(f"suite {source} has {len(problems)} problem(s):\n{lines}")


@dataclass
class TokenizerEntry:
    """One tokenizer of a suite: registry ``spec`` (type + parameters) and names for reports."""

    name: str
    spec: dict[str, Any]
    display_name: str
    paper_name: str | None = None

    @property
    def type(self) -> str:
        return self.spec["type"]


@dataclass
class DatasetEntry:
    name: str
    spec: dict[str, Any]


@dataclass
class Suite:
    """A validated suite.

    ``settings``: the typed top-level settings (:class:`~wetok_bench.config.settings.Settings`).
    ``raw``: the expanded YAML mapping with its includes merged in (recorded in manifests; the
    suite hash covers it). ``includes``: the files included, in merge order
    (:mod:`wetok_bench.config.includes`).
    """

    name: str
    source: str
    protocol: MetricProtocol
    resolutions: list[int | str]
    datasets: list[DatasetEntry]
    tokenizers: list[TokenizerEntry]
    metrics: list[str]
    settings: Settings
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    includes: list[str] = field(default_factory=list)
    #: every protocol the suite measures, in its order (``protocol`` is the first); a list of
    #: several makes one pass per preprocessing and one results folder per protocol
    protocols: list[MetricProtocol] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.protocols and self.protocol is not None:
            self.protocols = [self.protocol]

    @property
    def multi_protocol(self) -> bool:
        """Whether results go to one folder per protocol (``protocol:`` was a list of several)."""
        return len(self.protocols) > 1

    def under(self, protocol: MetricProtocol) -> "Suite":
        """This suite as if it named ``protocol`` alone: its metrics are those the protocol
        defines, and its recorded mapping says ``protocol: <name>``, so that the results are
        those a run under that protocol alone writes."""
        raw = {**self.raw, "protocol": protocol.name}
        if "metrics" in raw:
            raw["metrics"] = [m for m in raw["metrics"] if protocol.defines(m)]
        metrics = [m for m in self.metrics if protocol.defines(m)]
        settings = dataclasses.replace(self.settings, protocol=protocol.name,
                                       metrics=[m for m in self.settings.metrics if protocol.defines(m)])
        return dataclasses.replace(self, protocol=protocol, protocols=[protocol], raw=raw, metrics=metrics,
                                   settings=settings)

    @property
    def suite_hash(self) -> str:
        """sha256 of the expanded suite: a changed suite invalidates partial (resumable) state."""
        return sha256_json(self.raw)

    def jobs(self) -> list["Job"]:
        return [
            Job(tokenizer=t, dataset=d, resolution=r)
            for t in self.tokenizers
            for d in self.datasets
            for r in self.resolutions
        ]


@dataclass
class Job:
    """One (tokenizer, dataset, resolution) measurement."""

    tokenizer: TokenizerEntry
    dataset: DatasetEntry
    resolution: int | str

    @property
    def id(self) -> str:
        return job_id(self.tokenizer.name, self.dataset.name, self.resolution)


# --- loading ----------------------------------------------------------------------------------


def load_suite(path: str | Path, *, check_paths: bool = True) -> Suite:
    """Read, expand, merge with its includes and validate a suite file; raises
    :class:`SuiteError` listing every problem."""
    path = Path(path)
    source = str(path)
    try:
        data = read_yaml(path)
    except FileNotFoundError:
        raise UsageError(f"suite file not found: {path}") from None
    except OSError as error:
        raise UsageError(f"cannot read suite file {path}: {error.strerror}") from None
    except ValueError as error:
        raise SuiteError(source, [("<file>", str(error))]) from None
    return parse_suite(data, source=source, base_dir=path.parent, check_paths=check_paths)


def parse_suite(data: Any, *, source: str = "<suite>", base_dir: Path | None = None, check_paths: bool = True) -> Suite:
    """Validate a suite mapping (already parsed YAML); ``include`` is relative to ``base_dir``."""
    problems: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        raise SuiteError(source, [("<root>", f"a suite is a mapping of keys, got {type(data).__name__}")])
    try:
        check_expanded_size(data, source)  # before any copy: a few aliased lines can stand for billions of values
    except ValueError as error:
        raise SuiteError(source, [("<root>", str(error))]) from None
    data = expand_tree(copy.deepcopy(data), "", problems)
    includes: list[str] = []
    if data.get("include") is not None:
        resolved = resolve_includes(data, base_dir, source=source)
        data, includes = resolved.data, resolved.files
        problems.extend(resolved.problems)
    values, found = check_values(data, base_dir=base_dir, check_paths=check_paths)
    problems.extend(found)

    name = data.get("name")
    if name_problem(name) is not None:
        problems.append(("name", "required: " + name_problem(name)))
    protocols = [get_protocol(n) for n in protocol_names(values["protocol"]) if n in PROTOCOLS]
    protocol = protocols[0] if protocols else None
    resolutions = parse_resolutions(values["resolution"])[0]
    metrics = [m for m in values["metrics"] if m in METRICS] if isinstance(values["metrics"], list) else []
    problems.extend(_ambiguous_weights(values.get("weights") or {}, metrics, protocols))
    if "metrics" in data:  # the default list is cut to what the protocols define
        problems.extend(_undefined_metrics(metrics, protocols))
    elif protocols:
        metrics = [m for m in metrics if any(p.defines(m) for p in protocols)]
    datasets = _parse_datasets(data.get("datasets"), base_dir, check_paths, problems)
    # A suite-wide precision overrides family defaults (Cosmos: bf16) only when written out.
    default_precision = data.get("precision")
    tokenizers = _parse_tokenizers(data.get("tokenizers"), default_precision, base_dir, check_paths, problems,
                                   resolutions)
    if problems:
        raise SuiteError(source, problems)
    return Suite(
        name=name,
        source=source,
        protocol=protocol,
        resolutions=resolutions,
        datasets=datasets,
        tokenizers=tokenizers,
        metrics=metrics,
        settings=Settings(**values),
        raw=data,
        includes=includes,
        protocols=protocols,
    )


def _ambiguous_weights(weights: dict, metrics: list[str], protocols: list[MetricProtocol]) -> list[tuple[str, str]]:
    """A ``weights:`` slot whose file differs between the suite's protocols must be given by file name."""
    from wetok_bench.metrics.registry import ambiguous_weight_slots

    return [(f"weights.{slot}", f"the protocols read different files in this slot ({', '.join(names)}): "
                                f"give each by its name instead (weights: {{{names[0]}: PATH, ...}})")
            for slot, names in ambiguous_weight_slots(weights, metrics, protocols)]


def _undefined_metrics(metrics: list[str], protocols: list[MetricProtocol]) -> list[tuple[str, str]]:
    """A metric no listed protocol defines (``lpips`` under ``llamagen`` alone) is a problem; one
    that some do is measured under those (the others record it as skipped)."""
    problems = []
    for metric in metrics:
        if protocols and not any(p.defines(metric) for p in protocols):
            names = ", ".join(p.name for p in protocols)
            problems.append(("metrics", f"{metric!r} is not defined by protocol {names} (its official evaluation "
                                        f"does not compute it); remove it or add a protocol that defines it"))
    return problems


# --- validation helpers -----------------------------------------------------------------------


def _named_entries(value: Any, section: str, problems) -> list[tuple[int, dict]]:
    if not isinstance(value, list) or not value:
        problems.append((section, "required: a non-empty list"))
        return []
    entries = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            problems.append((f"{section}[{i}]", f"expected a mapping, got {type(entry).__name__}"))
        elif "type" not in entry:
            problems.append((f"{section}[{i}]", "missing 'type'"))
        else:
            entries.append((i, entry))
    return entries


def _parse_entry(entry: dict, declaration, common: set[str], where: str, base_dir, check_paths: bool, problems) -> dict | None:
    """The entry checked against its family's (or kind's) declaration; None when it has problems."""
    spec, found = declaration.validate(entry, where, common=common, base_dir=base_dir, check_files=check_paths)
    problems.extend(found)
    return None if found else spec


def _parse_datasets(value: Any, base_dir, check_paths: bool, problems) -> list[DatasetEntry]:
    from wetok_bench.data.registry import dataset_declaration, dataset_types

    out: list[DatasetEntry] = []
    types = dataset_types()
    for i, entry in _named_entries(value, "datasets", problems):
        where = f"datasets[{i}]"
        if entry["type"] not in types:
            problems.append((f"{where}.type", f"unknown dataset type{closest(entry['type'], types)} (known: {', '.join(types)})"))
            continue
        spec = _parse_entry(entry, dataset_declaration(entry["type"]), DATASET_COMMON_KEYS, where, base_dir, check_paths, problems)
        if spec is None:
            continue
        name = str(spec.get("name", spec["type"]))
        spec["name"] = name
        if name_problem(name) is not None:
            problems.append((f"{where}.name", name_problem(name)))
            continue
        out.append(DatasetEntry(name=name, spec=spec))
    _check_unique([d.name for d in out], "datasets", problems)
    return out


def _parse_tokenizers(value: Any, default_precision, base_dir, check_paths: bool, problems,
                      resolutions: list) -> list[TokenizerEntry]:
    from wetok_bench.tokenizers.registry import tokenizer_declaration, tokenizer_types, unknown_type_message

    out: list[TokenizerEntry] = []
    types = tokenizer_types()
    for i, entry in _named_entries(value, "tokenizers", problems):
        where = f"tokenizers[{i}]"
        if entry["type"] not in types:
            problems.append((f"{where}.type", unknown_type_message(entry["type"])))
            continue
        try:
            declaration = tokenizer_declaration(entry["type"])
        except (ImportError, WetokBenchError) as error:
            problems.append((f"{where}.type", f"cannot load tokenizer family {entry['type']!r}: {error}"))
            continue
        spec = _parse_entry(entry, declaration, TOKENIZER_COMMON_KEYS, where, base_dir, check_paths, problems)
        if spec is None:
            continue
        display_name = spec.pop("display_name", None)
        paper_name = spec.pop("paper_name", None)
        if default_precision and "precision" not in spec and (declaration.open or "precision" in declaration.by_name):
            spec["precision"] = default_precision
        expanded = declaration.expand(spec)
        for sub in expanded:
            sub.setdefault("name", str(sub.get("model") or sub["type"]))
            if name_problem(sub["name"]) is not None:
                problems.append((f"{where}.name", name_problem(sub["name"])))
            problems.extend((where, message) for message in _factor_problems(declaration, sub, resolutions))
            display = display_name if (display_name and len(expanded) == 1) else sub["name"]
            out.append(TokenizerEntry(name=sub["name"], spec=sub, display_name=display, paper_name=paper_name))
    _check_unique([t.name for t in out], "tokenizers", problems)
    return out


def _factor_problems(declaration, spec: dict, resolutions: list) -> list[str]:
    """A resolution the entry's spatial factor does not divide (the family declares the factor,
    :attr:`Declaration.factor`) when the entry does not pad: refused here, not after hashing and loading."""
    if declaration.factor is None or spec.get("size_policy", "error") == "pad":
        return []
    try:
        factor = declaration.factor(spec)
    except Exception:  # noqa: BLE001 - a factor the declaration cannot tell is checked once the model is loaded
        return []
    return [f"{spec['name']}: resolution {r} is not a multiple of its spatial factor {factor}; choose a resolution "
            f"that is, or set size_policy: pad (pads by reflection, crops the output back)"
            for r in resolutions if factor and isinstance(r, int) and r % factor]


def _check_unique(names: list[str], section: str, problems) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append((section, f"two entries are named {name!r}; give each a unique 'name'"))
        seen.add(name)
