"""benchmarks/gpu_check.py's peak GPU memory covers the whole job, although the runner's cost
meter resets torch's peak counter before every batch (simulated CUDA counters, no GPU needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import gpu_check  # noqa: E402

from wetok_bench.engine.cost import CostMeter  # noqa: E402

GIB = 2**30


class FakeCuda:
    """torch.cuda's allocated / peak counters, driven by hand."""

    def __init__(self) -> None:
        self.allocated = 0
        self.peak = 0

    def use(self, nbytes: int) -> None:  # allocate then free nbytes on top of what is resident
        self.peak = max(self.peak, self.allocated + nbytes)

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
        monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: self.allocated)
        monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: self.peak)
        monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", self._reset)

    def _reset(self, device=None) -> None:
        self.peak = self.allocated


def test_whole_job_peak_survives_the_cost_meters_resets(monkeypatch):
    cuda = FakeCuda()
    cuda.install(monkeypatch)
    cuda.allocated = 1 * GIB  # weights resident
    peak = gpu_check.GpuPeak()
    with peak.track():
        meter = CostMeter(torch.device("cuda"))
        for tokenizer_bytes, metric_bytes in [(2 * GIB, 6 * GIB), (2 * GIB, 1 * GIB)]:
            meter.batch(4)
            cuda.use(tokenizer_bytes)  # encode + decode
            meter.end_batch()
            cuda.use(metric_bytes)  # LPIPS / Inception on the batch, outside the meter
    # torch's counter alone now covers only the last batch (what gpu_check used to print)
    assert torch.cuda.max_memory_allocated() == 3 * GIB
    # the largest moment of the job: 1 GiB resident + 6 GiB of metric activations in batch 1
    assert peak.bytes == 7 * GIB
    # the meter's own figure (tokenizer calls only) is untouched by the tracking
    assert meter.state()["peak_bytes"] == 3 * GIB
    assert torch.cuda.reset_peak_memory_stats == cuda._reset  # restored after tracking


def test_job_peak_is_at_least_the_summaries_tokenizer_peak():
    summary = {"cost": {"peak_memory_bytes": 5 * GIB}}
    assert gpu_check.job_peak_bytes(2 * GIB, [summary]) == 5 * GIB
    assert gpu_check.job_peak_bytes(7 * GIB, [summary, {"cost": {"peak_memory_bytes": None}}]) == 7 * GIB
    assert gpu_check.job_peak_bytes(None, [{"cost": {"peak_memory_bytes": None}}]) is None
