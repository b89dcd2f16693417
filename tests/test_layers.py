"""The package's shape, read from the source (every import, also the ones inside functions).

Every module lives in a folder that names its layer, and layers import downwards only:

    core < protocols < {data, tokenizers, metrics} < {config, results} < engine < {commands, report} < cli

A module may import its own layer and any layer below it; layers on the same level do not import
each other. No import cycle between modules either, counting imports inside functions (a deferred
import of a heavy optional dependency is of another package and does not count). At most three
modules besides ``__init__`` and ``__main__`` sit at the package root, and no module is over
about 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wetok_bench"

#: layer -> level; a module may import layers of a lower level, or its own layer
LEVELS = {
    "core": 0,
    "protocols": 1,
    "data": 2, "tokenizers": 2, "metrics": 2,
    "config": 3, "results": 3,
    "engine": 4,
    "commands": 5, "report": 5,
    "cli": 6,
}
#: root modules and what they may import: the public API (``__init__``) is read lazily and may
#: name anything; ``__main__`` starts the CLI
ROOT_MODULES = {"wetok_bench": 7, "wetok_bench.__main__": 7}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(source: str, module: str, known: set[str], *, is_package: bool = False) -> set[str]:
    """The wetok_bench modules that ``source`` (of module ``module``) imports, anywhere in it:
    relative imports resolved; ``from pkg import name`` is ``pkg.name`` when that is a module
    (in ``known``), else ``pkg``."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            for alias in node.names:
                full = f"{stem}.{alias.name}"
                names.add(full if full in known else stem)
    return {name for name in names if name == "wetok_bench" or name.startswith("wetok_bench.")}


def layer(module: str) -> str:
    """``wetok_bench.engine.setup`` -> ``engine``; a root module -> its own name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LEVELS) else module


def level(module: str) -> int:
    if module in ROOT_MODULES:
        return ROOT_MODULES[module]
    return LEVELS[layer(module)]


def package_imports() -> dict[str, set[str]]:
    """Every module of wetok_bench -> the wetok_bench modules it imports."""
    modules = all_modules()
    known = set(modules)
    return {name: imported_modules(path.read_text(), name, known, is_package=path.name == "__init__.py")
            for name, path in modules.items()}


def violations(imports: dict[str, set[str]]) -> list[str]:
    """``"A imports B"`` for each import against the layer order."""
    found = []
    for module, targets in sorted(imports.items()):
        here = level(module)
        for target in sorted(targets):
            if target == module or layer(target) == layer(module):
                continue
            if level(target) >= here:
                found.append(f"{module} ({layer(module)}) imports {target} ({layer(target)})")
    return found


def cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle between modules (strongly connected components of more than one)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(imports.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return found


def test_import_parser_sees_every_form():
    known = {"wetok_bench.engine.setup", "wetok_bench.report", "wetok_bench.report.build", "wetok_bench.cli",
             "wetok_bench.cli.main", "wetok_bench.metrics", "wetok_bench.metrics.registry"}
    text = ("import wetok_bench.engine.setup\nfrom wetok_bench.report import build\n"
            "from ..cli import main\ndef f():\n    from . import registry\n    import os\n"
            "from wetok_bench.metrics.registry import get_metric\n")
    found = imported_modules(text, "wetok_bench.metrics.probe", known)
    assert found == {"wetok_bench.engine.setup", "wetok_bench.report.build", "wetok_bench.cli.main",
                     "wetok_bench.metrics.registry"}
    assert violations({"wetok_bench.metrics.probe": found}) == [
        "wetok_bench.metrics.probe (metrics) imports wetok_bench.cli.main (cli)",
        "wetok_bench.metrics.probe (metrics) imports wetok_bench.engine.setup (engine)",
        "wetok_bench.metrics.probe (metrics) imports wetok_bench.report.build (report)"]
    # same level, other layer: refused; lower layer: fine
    assert violations({"wetok_bench.data.x": {"wetok_bench.metrics.y", "wetok_bench.core.z"}}) == [
        "wetok_bench.data.x (data) imports wetok_bench.metrics.y (metrics)"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_is_in_a_layer():
    strays = [name for name in all_modules() if name not in ROOT_MODULES and layer(name) not in LEVELS]
    assert strays == []


def test_at_most_three_modules_at_the_root():
    root = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(root) <= 3, root


def test_no_import_from_a_lower_layer_to_a_higher_one():
    assert violations(package_imports()) == []


def test_no_import_cycle():
    assert cycles(package_imports()) == []


@pytest.mark.parametrize("part", sorted(LEVELS))
def test_each_layer_exists(part):
    assert (PACKAGE / part / "__init__.py").is_file()


#: "No file in wetok_bench/ over about 400 lines" (style rule): split a module by job before this.
MAX_LINES = 420


def test_no_module_over_about_400_lines():
    long = {path.relative_to(PACKAGE).as_posix(): n for path in sorted(PACKAGE.rglob("*.py"))
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


#: Layers whose functions may take a parameter per setting: the CLI's click commands (one per
#: flag) and the tokenizer factories and constructors (one per suite-entry key of the family).
WIDE_SIGNATURES_ALLOWED = ("cli", "tokenizers")
MAX_PARAMETERS = 8


def test_no_pipeline_function_over_8_parameters():
    wide = []
    for name, path in all_modules().items():
        if layer(name) in WIDE_SIGNATURES_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                count = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs) + bool(args.vararg)
                count -= bool(args.args) and args.args[0].arg in ("self", "cls")
                if count > MAX_PARAMETERS:
                    wide.append(f"{name}.{node.name}: {count}")
    assert wide == []


#: String literals that equal a metric's result key but name something else: the ``lpips``
#: package (versions recorded) and the ``lpips`` group of weights files (``weights fetch lpips``).
NOT_METRIC_NAMES = {("wetok_bench.core.versions", "lpips"), ("wetok_bench.commands.record", "lpips"),
                    ("wetok_bench.core.weights", "lpips")}


def test_metric_names_are_written_only_in_metrics_and_protocols():
    """The metric classes are the one source of their names: no other module spells one (docstrings aside)."""
    from wetok_bench.metrics.registry import result_keys

    names = set(result_keys())
    found = []
    for module, path in all_modules().items():
        if layer(module) in ("metrics", "protocols"):
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
                    and id(node) not in docstrings and (module, node.value) not in NOT_METRIC_NAMES):
                found.append(f"{module}:{node.lineno} {node.value!r}")
    assert found == []
