"""The layer order of design.md's data flow, read from the source (every import, also the ones
inside functions): the building blocks (data/, tokenizers/, metrics/) never import the runner,
the report or the CLI; the runner never imports the report or the CLI; the report never imports
the runner or the CLI; nothing but the CLI's own entry points imports the CLI. And no module is
over about 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wetok_bench"

#: package part -> parts it must never import
FORBIDDEN = {
    "data": ("run", "report", "cli"),
    "tokenizers": ("run", "report", "cli"),
    "metrics": ("run", "report", "cli"),
    "run": ("report", "cli"),
    "report": ("run", "cli"),
}
CLI_IMPORTERS = {"__main__"}  # `python -m wetok_bench` is the CLI's entry point


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Absolute names of the wetok_bench modules that ``source`` (of module ``module``) imports:
    every ``import`` and ``from`` anywhere in it, relative imports resolved, and for
    ``from pkg import name`` both ``pkg`` and ``pkg.name`` (``name`` may be a module)."""
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
            names.add(stem)
            names.update(f"{stem}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "wetok_bench" or name.startswith("wetok_bench.")}


def _part(module: str) -> str:
    """``wetok_bench.run.setup`` -> ``run``; ``wetok_bench.cli`` -> ``cli``; ``wetok_bench`` -> ``""``."""
    return module.split(".")[1] if "." in module else ""


def violations(modules: dict[str, set[str]]) -> list[str]:
    """``"A imports B"`` for each import of ``modules`` (name -> imported names) against the order."""
    found = []
    for module, targets in sorted(modules.items()):
        here = _part(module)
        for target in sorted(targets):
            there = _part(target)
            if there in FORBIDDEN.get(here, ()) or (there == "cli" and here not in ("cli", *CLI_IMPORTERS)):
                found.append(f"{module} imports {target}")
    return found


def package_imports() -> dict[str, set[str]]:
    """Every module of wetok_bench -> the wetok_bench modules it imports."""
    return {_module_name(path): imported_modules(path.read_text(), _module_name(path), is_package=path.name == "__init__.py")
            for path in sorted(PACKAGE.rglob("*.py"))}


def test_import_parser_sees_every_form():
    text = ("import wetok_bench.run.setup\nfrom wetok_bench.report import build\n"
            "from ..cli import cli\ndef f():\n    from . import registry\n    import os\n")
    found = imported_modules(text, "wetok_bench.metrics.probe")
    assert found == {"wetok_bench.run.setup", "wetok_bench.report", "wetok_bench.report.build",
                     "wetok_bench.cli", "wetok_bench.cli.cli", "wetok_bench.metrics", "wetok_bench.metrics.registry"}
    assert imported_modules("from .. import protocols", "wetok_bench.run", is_package=True) == {
        "wetok_bench", "wetok_bench.protocols"}
    assert violations({"wetok_bench.metrics.probe": found}) == [
        "wetok_bench.metrics.probe imports wetok_bench.cli", "wetok_bench.metrics.probe imports wetok_bench.cli.cli",
        "wetok_bench.metrics.probe imports wetok_bench.report", "wetok_bench.metrics.probe imports wetok_bench.report.build",
        "wetok_bench.metrics.probe imports wetok_bench.run.setup"]
    assert violations({"wetok_bench.report.build": {"wetok_bench.results", "wetok_bench.metrics.registry"},
                       "wetok_bench.__main__": {"wetok_bench.cli"}}) == []


def test_no_import_from_a_lower_layer_to_a_higher_one():
    assert violations(package_imports()) == []


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_each_layer_exists(part):
    assert (PACKAGE / part).is_dir() or (PACKAGE / f"{part}.py").is_file()


#: "No file in wetok_bench/ over about 400 lines" (style rule): split a module by job before this.
MAX_LINES = 420


def test_no_module_over_about_400_lines():
    long = {path.relative_to(PACKAGE).as_posix(): n for path in sorted(PACKAGE.rglob("*.py"))
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}
