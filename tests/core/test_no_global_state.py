"""No global state: one device rule that changes nothing in torch, the float32 scope of the
metric networks restored after use, diagnostics through logging, no import-time side effects."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from wetok_bench.core.devices import fp32_strict, resolve_device
from wetok_bench.core.errors import UsageError

PACKAGE = Path(__file__).resolve().parents[2] / "wetok_bench"


def _precision_flags() -> tuple[str, str]:
    return torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision


@pytest.fixture
def fake_cuda(monkeypatch):
    """CUDA reported as available (nothing runs on it) and TF32 allowed, as a user may set it."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    before = _precision_flags()
    torch.backends.cuda.matmul.fp32_precision = "tf32"
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    yield
    torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision = before


def test_resolve_device_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("auto", local_rank=3) == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    for name in ("cuda", "cuda:1"):
        with pytest.raises(UsageError, match="CUDA is not available"):
            resolve_device(name)
    with pytest.raises(UsageError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")


def test_resolve_device_with_cuda_leaves_torch_settings_alone(fake_cuda):
    # the runner: one GPU per rank; the evaluator / Python API: torch's current device
    assert resolve_device("cuda", local_rank=2) == torch.device("cuda", 2)
    assert resolve_device("auto", local_rank=1) == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:3", local_rank=1) == torch.device("cuda", 3)  # an explicit index wins
    assert _precision_flags() == ("tf32", "tf32")  # the user's TF32 choice is untouched


def test_one_resolve_device_serves_runner_and_evaluator():
    from wetok_bench.engine import driver
    from wetok_bench.metrics import evaluator

    assert driver.resolve_device is evaluator.resolve_device is resolve_device
    defined = [path for path in PACKAGE.rglob("*.py") if "def resolve_device" in path.read_text()]
    assert [p.relative_to(PACKAGE).as_posix() for p in defined] == ["core/devices.py"]


def test_fp32_strict_turns_tf32_off_and_restores(fake_cuda):
    with fp32_strict():
        assert _precision_flags() == ("ieee", "ieee")
    assert _precision_flags() == ("tf32", "tf32")
    with pytest.raises(RuntimeError, match="inside"):
        with fp32_strict():
            raise RuntimeError("inside")
    assert _precision_flags() == ("tf32", "tf32")


def test_fp32_strict_restores_a_setting_made_through_the_legacy_api(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    before = (matmul.allow_tf32, cudnn.allow_tf32)
    try:
        matmul.allow_tf32, cudnn.allow_tf32 = True, True  # a user's own choice, the old way
        with fp32_strict():
            assert _precision_flags() == ("ieee", "ieee")
        assert (matmul.allow_tf32, cudnn.allow_tf32) == (True, True)  # readable and unchanged
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = before


def test_every_feature_extractor_call_is_in_float32_scope(fake_cuda):
    """A plug-in extractor called for reconstructions (Batch.features) and for originals
    (the evaluator's reference pass) sees TF32 off; afterwards the user's setting is back."""
    from wetok_bench.metrics.base import Batch
    from wetok_bench.metrics.evaluator import ReconstructionEvaluator
    from wetok_bench.protocols import get_protocol

    seen = []

    def extractor(images):
        seen.append(_precision_flags())
        return torch.zeros(images.shape[0], 4, dtype=torch.float64)

    protocol = get_protocol("standard")
    originals = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    Batch(protocol, originals, torch.zeros(2, 3, 8, 8), {"fake": extractor}).features("fake")
    evaluator = object.__new__(ReconstructionEvaluator)  # only the reference pass's fields
    evaluator.extractors, evaluator.protocol, evaluator.device = {"fake": extractor}, protocol, torch.device("cpu")
    evaluator.reference_features(originals)
    assert seen == [("ieee", "ieee"), ("ieee", "ieee")]
    assert _precision_flags() == ("tf32", "tf32")


def _module_level_calls(path: Path) -> list[str]:
    """Calls made when the module is imported (top-level statements, not inside def/class)."""
    found = []
    for statement in ast.parse(path.read_text()).body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Call):
                found.append(ast.unparse(node.func))
    return found


#: process-wide settings a library must not change on import
SIDE_EFFECTS = ("os.umask", "matplotlib.use", "torch.set_num_threads", "torch.set_default_dtype",
                "torch.manual_seed", "warnings.filterwarnings", "warnings.simplefilter", "logging.basicConfig",
                "os.chdir", "os.environ.setdefault", "torch.backends")


def test_no_import_time_side_effects():
    offenders = [f"{path.relative_to(PACKAGE)}: {call}()" for path in sorted(PACKAGE.rglob("*.py"))
                 for call in _module_level_calls(path) if call.startswith(SIDE_EFFECTS)]
    assert offenders == []


def test_importing_everything_keeps_umask_and_matplotlib_backend(tmp_path):
    script = (
        "import os, importlib, pkgutil, matplotlib\n"
        "os.umask(0o027)\n"
        "import wetok_bench\n"
        "for info in pkgutil.walk_packages(wetok_bench.__path__, 'wetok_bench.'):\n"
        "    if info.name != 'wetok_bench.__main__':\n"
        "        importlib.import_module(info.name)\n"
        "print(oct(os.umask(0)), matplotlib.get_backend())\n"
    )
    env = dict(os.environ, MPLBACKEND="svg", OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", WETOK_BENCH_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["0o27", "svg"]


#: where ``print`` is the output itself: the run's console (its warnings and table, on the run's
#: stderr/stdout like click.echo) and the ``main()`` of a ``python -m`` tool
CONSOLE_MODULES = {"engine/console.py"}


def test_diagnostics_use_logging_not_print():
    """``print`` belongs to console output (click.echo, the run's console); the library logs."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() in CONSOLE_MODULES:
            continue
        tree = ast.parse(path.read_text())
        tools = {id(node) for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "main" for node in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print" and id(node) not in tools:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_result_files_get_the_umask_in_force_when_written(tmp_path):
    from wetok_bench.results.records import atomic_write_text

    before = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        os.umask(0o002)  # changed after wetok_bench was imported
        atomic_write_text(tmp_path / "b.json", "{}")
    finally:
        os.umask(before)
    assert oct((tmp_path / "a.json").stat().st_mode & 0o777) == oct(0o640)
    assert oct((tmp_path / "b.json").stat().st_mode & 0o777) == oct(0o664)
