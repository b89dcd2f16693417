"""The streaming pass: a suite's jobs measured in one pass each, resumable and distributed.

For each dataset x resolution the originals' Inception statistics come from the reference cache
(computed once, in parallel across ranks, on a miss). For each tokenizer, each job then streams
the images once: decode -> uint8 originals -> ``tokenizer.reconstruct`` -> the protocol's views
-> per-image PSNR/SSIM/LPIPS rows and the reconstructions' float64 Inception sums.

Shards: the sorted image list is cut into global shards of ``shard_size`` images (rounded up to
whole batches; :class:`~wetok_bench.distributed.ShardPlan`); each rank measures a contiguous
block of them, and finished shards are kept for a resumed run (:mod:`.shards`). Shards are
folded in shard order (:class:`~.fold.OrderedFold`), so 1 and N ranks give bit-identical
per-image values, statistics and rFID. Rank 0 alone writes results.

Modules, one job each:

- :mod:`.setup`      device, metric weights, evaluator, the pass settings
- :mod:`.reference`  the originals' statistics (memory, disk cache, pass)
- :mod:`.fold`       per-shard statistics folded in shard order
- :mod:`.shards`     a job's resumable ``.partial`` shards
- :mod:`.job`        one job's streaming pass
- :mod:`.tokens`     discrete tokenizers' codebook usage, entropy, perplexity (counts per shard)
- :mod:`.cost`       encode/decode time per image, peak device memory, parameter count
- :mod:`.cycles`     re-encoding cycles (``cycles: K``), each scored against the original
- :mod:`.records`    the content of ``summary.json`` and ``manifest.json``
- :mod:`.versions`   library versions and git commit
- :mod:`.grids`      the grid images of a job
- :mod:`.selection`  ``--only`` and ``--num-images``
- :mod:`.plan`       the ``--dry-run`` plan
- :mod:`.console`    warnings and the results table
- :mod:`.driver`     the suite's run (:func:`run_suite`)
"""

from wetok_bench.run.console import format_table
from wetok_bench.run.driver import JobOutcome, RunReport, run_suite
from wetok_bench.run.plan import describe_dry_run

__all__ = ["JobOutcome", "RunReport", "describe_dry_run", "format_table", "run_suite"]
