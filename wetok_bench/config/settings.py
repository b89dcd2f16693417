"""Suite settings: one table of every top-level key, and the typed :class:`Settings` built from it.

:data:`SETTINGS` is the only place a setting's type, default, range or choices are written
(torch-fidelity's ``defaults.py`` pattern). The suite loader validates a suite's keys with it,
:class:`Settings` takes its fields and defaults from it, and the CLI (``run`` help, ``score``
option defaults) and :func:`~wetok_bench.commands.score.score_folders` read their defaults from
:data:`DEFAULTS`. ``name``, ``datasets`` and ``tokenizers`` are the suite's structure
(:class:`~wetok_bench.config.suite.Suite` fields), not settings.

A :class:`Settings` checks itself when built (``Settings(batch_size=0)`` raises
:class:`SettingsError` listing every problem), so a component that receives one can trust it;
components receive the fields they need (``PassSettings.from_settings``), not the suite.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import Declaration, Param, choice_message
from wetok_bench.metrics.registry import CLASSIC, METRICS  # names only: imports no metric (no torch)

_CHOICES_ERROR_SKIP = ("error", "skip")

#: Top-level suite keys: type, default, choices or range (docs/suites.md mirrors it).
_BASE = (
    Param("name", object, None, doc="required; folder name of the results"),
    Param("description", str, ""),
    Param("version", int, 1, doc="the suite's own version, recorded in results"),
    Param("include", (list, str), None, items=str, doc="base suite file(s), relative to this one; local keys win"),
    # Its choices are checked by check_values: the protocol table imports torch, this module must not.
    Param("protocol", (str, list), "standard", items=str,
          doc="metric protocol, or a list of them measured in one pass (`wetok-bench list protocols`)"),
    Param("resolution", object, 256, doc="an int, a list of ints, or 'original'"),
    Param("datasets", object, None, doc="required list"),
    Param("tokenizers", object, None, doc="required list"),
    Param("metrics", list, list(CLASSIC), items=str, choices=METRICS, doc="metrics to compute (registered: `wetok-bench list metrics`)"),
    Param("batch_size", int, 16, range=(1, None), doc="images per batch"),
    Param("num_workers", int, 2, range=(0, None), doc="data-loader worker processes"),
    Param("device", object, "auto", doc="auto | cpu | cuda | cuda:N | mps"),
    Param("precision", str, "fp32", choices=("fp32", "bf16", "fp16"),
          doc="tokenizer precision for every entry that sets none"),
    Param("seed", int, 0, doc="seed of the generative decoders' per-image noise"),
    Param("num_images", int, None, range=(1, None), doc="deterministic subset size (null: all)"),
    Param("subset", str, "spread", choices=("first", "spread", "random"), doc="how the subset is chosen"),
    Param("on_missing_weights", str, "error", choices=_CHOICES_ERROR_SKIP, doc="metrics whose weights are missing"),
    Param("on_nonfinite", str, "error", choices=_CHOICES_ERROR_SKIP, doc="images whose reconstruction has NaN/Inf"),
    Param("output", str, "results", doc="results folder"),
    Param("weights", dict, {}, doc="explicit metric weights files by slot (inception, lpips_alex, ...)"),
    Param("grids", dict, None, doc="{count: N, keys: [...], worst_k: K}"),
    # Images per resumable shard. Each finished shard keeps its rows and a float64 d x d sum
    # (32 MiB at d = 2048) until the job ends; 1024 bounds that at 50k images to 1.6 GB.
    Param("shard_size", int, 1024, range=(1, None), doc="images per resumable shard"),
    Param("keep_features", bool, False,
          doc="write each set metric network's per-image features (features/<network>.npz: reconstructions and "
              "originals, float32; 16 KiB per image at d = 2048) for the report's paired set-metric comparisons"),
    Param("cycles", int, 1, range=(1, None),
          doc="re-encoding cycles: each reconstruction is encoded again K-1 times, every cycle scored"),
)
# Every metric's own settings block sits under its name (``kid: {subsets: ...}``) and is checked
# by the metric (``Metric.parse_settings``): registering a metric needs no line here.
SETTINGS = Declaration(_BASE + tuple(
    Param(name, dict, None, doc=f"settings block of metric {name!r} (`wetok-bench list metrics`)")
    for name in METRICS.names() if name not in {p.name for p in _BASE}
))
#: Every top-level key and its default (read-only).
DEFAULTS: Mapping[str, Any] = MappingProxyType({p.name: p.default for p in SETTINGS.params})
#: Keys that make the suite's structure (:class:`~wetok_bench.config.suite.Suite` fields) or are
#: consumed by loading (``include``), not settings.
STRUCTURE_KEYS = ("name", "datasets", "tokenizers", "include")


def weight_settings() -> Declaration:
    """The ``weights:`` block: one file path per weights slot the metric registry knows (read
    when a suite has the block: it imports the metric classes)."""
    from wetok_bench.metrics.registry import weight_names, weight_slots

    keys = list(dict.fromkeys([*weight_slots(), *weight_names()]))
    return Declaration(tuple(Param(key, str, None, path="file") for key in keys))


GRID_SETTINGS = Declaration((
    Param("count", int, 0, range=(0, None), doc="the first N images"),
    Param("keys", list, [], items=str, doc="these images"),
    Param("worst_k", int, 0, range=(0, None), doc="and the K worst"),
))
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|mps")

Problems = list[tuple[str, str]]


def default(name: str) -> Any:
    """The default of setting ``name`` (a copy: lists and mappings can be changed freely)."""
    return copy.deepcopy(DEFAULTS[name])


def help_text(name: str) -> str:
    """``doc [default: value]`` of a setting, for CLI help."""
    param = SETTINGS.by_name[name]
    value = ",".join(param.default) if isinstance(param.default, list) else "null" if param.default is None else param.default
    return f"{param.doc} [suite default: {value}]"


class SettingsError(UsageError):
    """Settings that do not validate; ``problems`` lists ``(yaml_path, message)`` pairs."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n" + "\n".join(f"  {path}: {message}" for path, message in problems))


def check_values(values: Mapping[str, Any], *, base_dir: Path | None = None, check_paths: bool = False
                 ) -> tuple[dict[str, Any], Problems]:
    """Every setting of ``values`` (absent keys: defaults) normalised, and every problem found.

    Normalising: ``weights`` files relative to ``base_dir`` (checked to exist with
    ``check_paths``), ``grids`` completed with its defaults, a null ``weights`` read as ``{}``.
    Unknown keys are problems (with the closest known key).
    """
    _, problems = SETTINGS.validate(dict(values), "", check_files=False)
    out = {name: copy.deepcopy(values[name]) if name in values else default(name)
           for name in DEFAULTS if name not in STRUCTURE_KEYS}
    from wetok_bench.protocols import PROTOCOLS

    problems.extend(protocol_problems(out["protocol"], PROTOCOLS))
    device = out["device"]
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        problems.append(("device", f"expected auto, cpu, cuda or cuda:N, got {device!r}"))
    if out["output"] == "":
        problems.append(("output", "expected a folder path"))
    if isinstance(out["weights"], Mapping):
        out["weights"], found = (weight_settings() if out["weights"] else Declaration(())).validate(dict(out["weights"]), "weights", base_dir=base_dir,
                                                         check_files=check_paths)
        problems.extend(found)
    elif out["weights"] is None:
        out["weights"] = {}
    if isinstance(out["grids"], Mapping):
        grids, found = GRID_SETTINGS.validate(dict(out["grids"]), "grids")
        problems.extend(found)
        out["grids"] = {**{p.name: copy.deepcopy(p.default) for p in GRID_SETTINGS.params}, **grids}
    problems.extend(parse_resolutions(out["resolution"])[1])
    if isinstance(out["metrics"], list) and not out["metrics"]:
        problems.append(("metrics", f"expected a non-empty list of {', '.join(METRICS)}"))
    from wetok_bench.metrics.registry import settings_problems

    problems.extend(settings_problems(out))  # metrics' own blocks (kid: ...), each checked by its metric
    return out, problems


def protocol_names(value: Any) -> list[str]:
    """The ``protocol`` setting as a list of names (one name, or a list of them)."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def protocol_problems(value: Any, known) -> Problems:
    """Unknown, repeated or missing protocols of the ``protocol`` setting."""
    if isinstance(value, list) and not value:
        return [("protocol", "expected a protocol name or a non-empty list of them")]
    problems: Problems = []
    names = protocol_names(value)
    for i, name in enumerate(names):
        if name not in known:
            problems.append((f"protocol[{i}]" if isinstance(value, list) else "protocol", choice_message(name, known)))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:  # each would measure every job again into the same folder
        problems.append(("protocol", f"repeated protocol(s) {', '.join(repeated)}: list each once"))
    return problems


def parse_resolutions(value: Any) -> tuple[list[int | str], Problems]:
    """The ``resolution`` setting as a list (an int from 8 to 8192 or ``original`` each)."""
    values = value if isinstance(value, list) else [value]
    out: list[int | str] = []
    problems: Problems = []
    for i, v in enumerate(values):
        where = f"resolution[{i}]" if isinstance(value, list) else "resolution"
        if v == "original" or (isinstance(v, int) and not isinstance(v, bool) and 8 <= v <= 8192):
            out.append(v)
        else:
            problems.append((where, f"expected an integer from 8 to 8192 or 'original', got {v!r}"))
    if not values:
        problems.append(("resolution", "at least one resolution is needed"))
    repeated = sorted({str(v) for v in out if out.count(v) > 1})
    if repeated:  # each would measure every job again into the same folder
        problems.append(("resolution", f"repeated value(s) {', '.join(repeated)}: list each resolution once"))
    return out, problems


class _SettingsMethods:
    """Behaviour of :class:`Settings` (its fields come from :data:`SETTINGS`)."""

    def __post_init__(self) -> None:
        _, problems = check_values(dataclasses.asdict(self))
        if problems:
            raise SettingsError(problems)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "Settings":
        """Settings from a mapping of top-level keys (structure keys ignored; absent: defaults)."""
        return cls(**{k: v for k, v in values.items() if k not in STRUCTURE_KEYS})

    def to_dict(self) -> dict[str, Any]:
        """Every setting by name (JSON-ready; recorded in manifests)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "Settings":
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)


_ANNOTATIONS = {int: "int", float: "float", str: "str", bool: "bool", list: "list", dict: "dict", object: "Any"}


def _field(param: Param) -> tuple[str, str, dataclasses.Field]:
    kind = " | ".join(_ANNOTATIONS.get(t, t.__name__) for t in param.types)
    if param.default is None and kind != "Any":
        kind += " | None"
    default = param.default
    made = (dataclasses.field(default_factory=lambda: copy.deepcopy(default)) if isinstance(default, (list, dict))
            else dataclasses.field(default=default))
    return param.name, kind, made


#: The typed, self-validating settings of a suite: one field per :data:`SETTINGS` key except
#: :data:`STRUCTURE_KEYS`, with its default. Frozen: a component cannot change what others read.
Settings = dataclasses.make_dataclass(
    "Settings",
    [_field(p) for p in SETTINGS.params if p.name not in STRUCTURE_KEYS],
    bases=(_SettingsMethods,),
    frozen=True,
    namespace={"__doc__": "The suite's top-level settings; fields and defaults from ``settings.SETTINGS``.",
               "__module__": __name__},
)
