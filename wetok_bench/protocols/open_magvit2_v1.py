"""``open-magvit2-v1``: SEED-Voken ``evaluation.py`` as of 2024-06-17 .. 2025-01-21.

The script that produced the Open-MAGVIT2 numbers: ``wetok``'s preprocessing (bit for bit) and
metrics, except that PSNR is computed on whole batches: skimage's PSNR of the batch arrays, i.e.
the PSNR of the batch's mean MSE, then averaged over batches (``psnr_official``; batch 4, one
process; batch 8 at the first commit ec8fba5). That pooled value is always at most the mean of
per-image PSNRs (0.1 to 0.8 dB lower on the recorded vectors). Commit a0a83b4 (2025-01-21)
changed it to per image. The current ``evaluation_image.py`` cannot evaluate Open-MAGVIT2 as
committed: its line 30 rebinds ``VQModel`` to IBQ's class, which raises a ``TypeError`` on the
Open-MAGVIT2 configs at model construction (line 55).

Verified against the historical script executed on the CPU at four commits
(``tests/data/protocols/open-magvit2-v1``).
"""

from dataclasses import replace

from wetok_bench.protocols.base import OfficialAggregate
from wetok_bench.protocols.wetok import PROTOCOL as WETOK

PROTOCOL = replace(
    WETOK,
    name="open-magvit2-v1",
    version=1,
    official=OfficialAggregate(ranks=1, batch_size=4, padding="strided", reduce="batch-mean", psnr="pooled"),
    notes="SEED-Voken evaluation.py (2024-06..2025-01): wetok with PSNR pooled per batch of 4.",
)
