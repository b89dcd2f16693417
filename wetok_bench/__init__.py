"""wetok-bench: an evaluation harness for image tokenizers.

Measures how well a tokenizer reconstructs images (rFID, PSNR, SSIM, LPIPS) under a named,
versioned metric protocol, with every tokenizer's compression ratio accounted for.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # The Python API, imported on first use (importing wetok_bench loads no torch).
    if name == "ReconstructionMetrics":
        from wetok_bench.metrics.api import ReconstructionMetrics

        return ReconstructionMetrics
    raise AttributeError(f"module 'wetok_bench' has no attribute {name!r}")
