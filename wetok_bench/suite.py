"""Suite files: YAML -> validated :class:`Suite` -> list of :class:`Job`.

A suite pairs tokenizers with datasets under one metric protocol (format in the README,
"Suite files"). Validation happens before any work and reports every problem at once, each
with its YAML path (``tokenizers[2].qualty: unknown key; did you mean 'quality'?``); a
malformed suite raises :class:`SuiteError` (exit code 2) and nothing is written.

``${VAR}``, ``${VAR:-default}`` and ``$VAR`` in any string expand from the environment
(:mod:`wetok_bench.envvars`; an unset variable without default is a problem at its YAML path).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wetok_bench.envvars import expand_tree
from wetok_bench.errors import UsageError, WetokBenchError
from wetok_bench.hashing import sha256_json
from wetok_bench.params import Declaration, Param, closest
from wetok_bench.protocols import PROTOCOLS, MetricProtocol, get_protocol

SUITE_VERSION = 1

KNOWN_METRICS = ("psnr", "ssim", "lpips", "rfid")
_CHOICES_ERROR_SKIP = ("error", "skip")

#: Top-level settings: type, default, choices or range, one table (the README's suite
#: reference mirrors it). ``name``, ``resolution``, ``device``, ``datasets`` and ``tokenizers``
#: have their own checks below.
SETTINGS = Declaration((
    Param("name", object, None, doc="required; folder name of the results"),
    Param("description", str, ""),
    Param("version", int, 1, doc="the suite's own version, recorded in results"),
    Param("protocol", str, "standard", choices=tuple(PROTOCOLS)),
    Param("resolution", object, 256, doc="an int, a list of ints, or 'original'"),
    Param("datasets", object, None, doc="required list"),
    Param("tokenizers", object, None, doc="required list"),
    Param("metrics", list, ["psnr", "ssim", "lpips", "rfid"], items=str, choices=KNOWN_METRICS),
    Param("batch_size", int, 16, range=(1, None)),
    Param("num_workers", int, 2, range=(0, None)),
    Param("device", object, "auto", doc="auto | cpu | cuda | cuda:N | mps"),
    Param("precision", str, "fp32", choices=("fp32", "bf16", "fp16"),
          doc="tokenizer precision for every entry that sets none"),
    Param("seed", int, 0),
    Param("num_images", int, None, range=(1, None), doc="deterministic subset size (null: all)"),
    Param("subset", str, "spread", choices=("first", "spread", "random")),
    Param("on_missing_weights", str, "error", choices=_CHOICES_ERROR_SKIP, doc="metrics whose weights are missing"),
    Param("on_nonfinite", str, "error", choices=_CHOICES_ERROR_SKIP, doc="images whose reconstruction has NaN/Inf"),
    Param("output", str, "results", doc="results folder"),
    Param("weights", dict, {}, doc="explicit metric weights: inception, lpips_alex, lpips_vgg"),
    Param("grids", dict, None, doc="{count: N, keys: [...], worst_k: K}"),
    # Images per resumable shard. Each finished shard keeps its rows and a float64 d x d sum
    # (32 MiB at d = 2048) until the job ends; 1024 bounds that at 50k images to 1.6 GB.
    Param("shard_size", int, 1024, range=(1, None)),
))
#: Every top-level key and its default.
TOP_LEVEL_KEYS: dict[str, Any] = {p.name: p.default for p in SETTINGS.params}
WEIGHT_SETTINGS = Declaration(tuple(Param(slot, str, None, path="file") for slot in ("inception", "lpips_alex", "lpips_vgg")))
GRID_SETTINGS = Declaration((
    Param("count", int, 0, range=(0, None), doc="the first N images"),
    Param("keys", list, [], items=str, doc="these images"),
    Param("worst_k", int, 0, range=(0, None), doc="and the K worst"),
))
WEIGHT_KEYS = {p.name: p.default for p in WEIGHT_SETTINGS.params}
GRID_KEYS = {p.name: p.default for p in GRID_SETTINGS.params}
TOKENIZER_COMMON_KEYS = {"type", "name", "display_name", "paper_name"}
DATASET_COMMON_KEYS = {"type", "name"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


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
    """A validated suite. ``raw`` is the expanded YAML mapping (recorded in manifests)."""

    name: str
    source: str
    protocol: MetricProtocol
    resolutions: list[int | str]
    datasets: list[DatasetEntry]
    tokenizers: list[TokenizerEntry]
    metrics: list[str]
    settings: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

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
        from wetok_bench.results import job_id

        return job_id(self.tokenizer.name, self.dataset.name, self.resolution)


# --- loading ----------------------------------------------------------------------------------


def load_suite(path: str | Path, *, check_paths: bool = True) -> Suite:
    """Read, expand and validate a suite file; raises :class:`SuiteError` listing every problem."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"suite file not found: {path}") from None
    except OSError as error:
        raise UsageError(f"cannot read suite file {path}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SuiteError(source, [("<file>", f"not valid YAML{where}: {getattr(error, 'problem', error)}")]) from None
    return parse_suite(data, source=source, base_dir=path.parent, check_paths=check_paths)


def parse_suite(data: Any, *, source: str = "<suite>", base_dir: Path | None = None, check_paths: bool = True) -> Suite:
    """Validate a suite mapping (already parsed YAML)."""
    problems: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        raise SuiteError(source, [("<root>", f"a suite is a mapping of keys, got {type(data).__name__}")])
    data = expand_tree(copy.deepcopy(data), "", problems)
    problems.extend(SETTINGS.validate(data, "", check_files=False)[1])
    settings = {k: data.get(k, copy.deepcopy(v)) for k, v in TOP_LEVEL_KEYS.items()}

    name = settings["name"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        problems.append(("name", "required: letters, digits, '.', '_', '+', '-' (it names the results folder)"))
    protocol = get_protocol(settings["protocol"]) if settings["protocol"] in PROTOCOLS else None
    resolutions = _parse_resolutions(settings["resolution"], problems)
    metrics = _parse_metrics(settings["metrics"], problems)
    _check_settings(settings, base_dir, check_paths, problems)
    datasets = _parse_datasets(data.get("datasets"), base_dir, check_paths, problems)
    # A suite-wide precision overrides family defaults (Cosmos: bf16) only when written out.
    default_precision = data.get("precision")
    tokenizers = _parse_tokenizers(data.get("tokenizers"), default_precision, base_dir, check_paths, problems)
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
        settings=settings,
        raw=data,
    )


# --- validation helpers -----------------------------------------------------------------------


def _parse_resolutions(value: Any, problems) -> list[int | str]:
    values = value if isinstance(value, list) else [value]
    out: list[int | str] = []
    for i, v in enumerate(values):
        where = f"resolution[{i}]" if isinstance(value, list) else "resolution"
        if v == "original" or (isinstance(v, int) and not isinstance(v, bool) and 8 <= v <= 8192):
            out.append(v)
        else:
            problems.append((where, f"expected an integer from 8 to 8192 or 'original', got {v!r}"))
    if not values:
        problems.append(("resolution", "at least one resolution is needed"))
    return out


def _parse_metrics(value: Any, problems) -> list[str]:
    """The known metrics of the list (SETTINGS reports the unknown ones)."""
    if isinstance(value, list) and not value:
        problems.append(("metrics", f"expected a non-empty list of {', '.join(KNOWN_METRICS)}"))
    return [m for m in value if m in KNOWN_METRICS] if isinstance(value, list) else []


def _check_settings(s: dict, base_dir, check_paths: bool, problems) -> None:
    """The settings SETTINGS cannot say by type and range; ``weights`` and ``grids`` mappings."""
    device = s["device"]
    if not isinstance(device, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", device):
        problems.append(("device", f"expected auto, cpu, cuda or cuda:N, got {device!r}"))
    if s["output"] == "":
        problems.append(("output", "expected a folder path"))
    if isinstance(s["weights"], dict):
        s["weights"], found = WEIGHT_SETTINGS.validate(s["weights"], "weights", base_dir=base_dir, check_files=check_paths)
        problems.extend(found)
    elif s["weights"] is None:
        s["weights"] = {}
    if isinstance(s["grids"], dict):
        grids, found = GRID_SETTINGS.validate(s["grids"], "grids")
        problems.extend(found)
        s["grids"] = {**copy.deepcopy(GRID_KEYS), **grids}


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
        out.append(DatasetEntry(name=name, spec=spec))
    _check_unique([d.name for d in out], "datasets", problems)
    return out


def _parse_tokenizers(value: Any, default_precision, base_dir, check_paths: bool, problems) -> list[TokenizerEntry]:
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
            if not _NAME_RE.match(sub["name"]):
                problems.append((f"{where}.name", f"{sub['name']!r}: use letters, digits, '.', '_', '+', '-'"))
            display = display_name if (display_name and len(expanded) == 1) else sub["name"]
            out.append(TokenizerEntry(name=sub["name"], spec=sub, display_name=display, paper_name=paper_name))
    _check_unique([t.name for t in out], "tokenizers", problems)
    return out


def _check_unique(names: list[str], section: str, problems) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append((section, f"two entries are named {name!r}; give each a unique 'name'"))
        seen.add(name)
