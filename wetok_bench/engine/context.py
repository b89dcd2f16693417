"""What every job of one run shares: the suite, the pass settings, the metrics and their
evaluator, the reference statistics, the process group, where results go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wetok_bench.config.suite import Suite
from wetok_bench.core import distributed as D
from wetok_bench.engine.setup import PassSettings
from wetok_bench.metrics.setup import MetricSetup

if TYPE_CHECKING:
    from wetok_bench.engine.reference import ReferenceStore
    from wetok_bench.metrics.evaluator import ReconstructionEvaluator


@dataclass
class RunContext:
    """One run's shared state, built once by :func:`~wetok_bench.engine.driver.run_suite`.

    Attributes:
        suite: the validated suite.
        settings: the settings a pass reads (:class:`PassSettings`).
        setup: the metrics that run, their weights, and those skipped with the reason.
        evaluator: the metrics' evaluator (networks loaded once for every job).
        refs: the originals' statistics per dataset and resolution, computed at most once.
        dist: this process's place in the process group (rank 0 writes results).
        out_dir: ``<output>/<suite name>``.
        progress: whether rank 0 shows progress lines.
        num_images: the image limit in force (``--num-images`` or the suite's), recorded.
    """

    suite: Suite
    settings: PassSettings
    setup: MetricSetup
    evaluator: "ReconstructionEvaluator"
    refs: "ReferenceStore"
    dist: D.DistContext
    out_dir: Path
    progress: bool
    num_images: int | None

    @property
    def protocol(self) -> Any:
        return self.suite.protocol
