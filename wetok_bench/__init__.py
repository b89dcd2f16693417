"""wetok-bench: an evaluation harness for image tokenizers.

Measures how well a tokenizer reconstructs images (rFID, PSNR, SSIM, LPIPS ...) under a named,
versioned metric protocol, with every tokenizer's compression ratio accounted for.

The public API is the names in :data:`__all__`; each is imported on first use, so importing
``wetok_bench`` loads no torch::

    from wetok_bench import ReconstructionMetrics, load_suite, run_suite, score_folders
"""

from __future__ import annotations

import importlib
from typing import Any

from wetok_bench.core.versions import __version__

#: public name -> "module:attribute" (read on first use)
_API = {
    # measuring
    "load_suite": "wetok_bench.config.suite:load_suite",
    "run_suite": "wetok_bench.engine.driver:run_suite",
    "score_folders": "wetok_bench.commands.score:score_folders",
    "ReconstructionMetrics": "wetok_bench.engine.api:ReconstructionMetrics",
    # reading and judging results
    "load_results": "wetok_bench.results.records:load_results",
    "JobSummary": "wetok_bench.results.records:JobSummary",
    "build_report": "wetok_bench.report.build:build_report",
    "check_results": "wetok_bench.commands.check:check_results",
    # extending: one module plus one registration each
    "Tokenizer": "wetok_bench.tokenizers.base:Tokenizer",
    "create_tokenizer": "wetok_bench.tokenizers.registry:create_tokenizer",
    "register_tokenizer": "wetok_bench.tokenizers.registry:register_tokenizer",
    "Metric": "wetok_bench.metrics.base:Metric",
    "ImageMetric": "wetok_bench.metrics.base:ImageMetric",
    "SetMetric": "wetok_bench.metrics.base:SetMetric",
    "register_metric": "wetok_bench.metrics.registry:register_metric",
    "Dataset": "wetok_bench.data.base:Dataset",
    "register_dataset": "wetok_bench.data.registry:register_dataset",
    "MetricProtocol": "wetok_bench.protocols.base:MetricProtocol",
    "get_protocol": "wetok_bench.protocols:get_protocol",
    "PROTOCOLS": "wetok_bench.protocols:PROTOCOLS",
    "declare": "wetok_bench.core.params:declare",
    "Param": "wetok_bench.core.params:Param",
    "Registry": "wetok_bench.core.registry:Registry",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        module, _, attribute = _API[name].partition(":")
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wetok_bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
