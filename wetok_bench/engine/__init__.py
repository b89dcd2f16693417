"""The streaming pass: a suite's jobs measured in one pass each, resumable and distributed.

For each dataset x resolution the originals' Inception statistics come from the reference cache
(computed once, in parallel across ranks, on a miss). For each tokenizer, each job then streams
the images once: decode -> uint8 originals -> ``tokenizer.reconstruct`` -> the protocol's views
-> per-image PSNR/SSIM/LPIPS rows and the reconstructions' float64 Inception sums.

Shards: the sorted image list is cut into global shards of ``shard_size`` images (rounded up to
whole batches; :class:`~wetok_bench.core.distributed.ShardPlan`); each rank measures a contiguous
block of them, and finished shards are kept for a resumed run (:mod:`.shards`). Shards are
folded in shard order (:class:`~.fold.OrderedFold`), so 1 and N ranks give bit-identical
per-image values, statistics and rFID. Rank 0 alone writes results.

Modules, one job each:

- :mod:`.driver`     the suite's run (:func:`run_suite`): lock, set-up, jobs in turn
- :mod:`.context`    what every job of a run shares (:class:`~.context.RunContext`)
- :mod:`.selection`  ``--only`` and ``--num-images``
- :mod:`.reference`  the originals' set-metric states (memory, disk cache, pass)
- :mod:`.job`        one job's streaming pass over its shards
- :mod:`.state`      what the pass's stages hand each other (shard and pass results)
- :mod:`.shards`     a job's resumable ``.partial`` shards
- :mod:`.fold`       per-shard states folded in shard order
- :mod:`.groups`     a set metric per image group (rFID per COCO supercategory)
- :mod:`.tokens`     discrete tokenizers' codebook usage, entropy, perplexity (counts per shard)
- :mod:`.cost`       encode/decode time per image, peak device memory, parameter count
- :mod:`.cycles`     re-encoding cycles (``cycles: K``), each scored against the original
- :mod:`.grids`      the grid images of a job
- :mod:`.records`    the job's manifest and its tokenizer blocks (the summary: :mod:`wetok_bench.results.finalize`)
- :mod:`.reuse`      a job's fingerprint, reuse of a finished job, failures beside results
- :mod:`.plan`       the ``--dry-run`` plan
- :mod:`.console`    warnings and the results table
- :mod:`.setup`      the pass settings and the loader's options
- :mod:`.api`        :class:`~.api.ReconstructionMetrics`, the same metrics on your own batches
"""

from wetok_bench.engine.console import format_table
from wetok_bench.engine.driver import JobOutcome, RunReport, run_suite
from wetok_bench.engine.plan import describe_dry_run

__all__ = ["JobOutcome", "RunReport", "describe_dry_run", "format_table", "run_suite"]
