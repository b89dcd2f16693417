"""Codebook statistics of a discrete tokenizer over a whole dataset: usage, entropy, perplexity.

The WeTok paper's tables report codebook usage beside rFID and PSNR. :class:`TokenStats` counts
how often each code occurs, streaming: its state is one int64 histogram per group, so shards and
ranks merge exactly by adding counts (no floating point until :meth:`TokenStats.compute`).

Definitions, per group g with counts c_g over its K entries and n = sum(c_g) tokens:

* usage: the fraction of the K entries that occur at least once (in [0, 1]);
* entropy: -sum p log2 p with p = c_g / n, in bits (in [0, log2 K]);
* perplexity: 2 ** entropy (in [1, K]), the effective number of entries in use.

Group-wise codes (WeTok's group-wise LFQ: G groups of 2^8 entries) are counted per group: their
joint codebook (2^(8G), 2^64 for 8 groups) cannot be enumerated, and the figures reported are the
per-group ones and their mean over groups (``codebook_scope: "per-group"``). For G = 1 the figures
are those of the whole codebook (``codebook_scope: "codebook"``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from wetok_bench.core.errors import UsageError

#: Largest codebook per group that is counted (a 2^24-entry histogram is 128 MiB of int64).
MAX_COUNTED_ENTRIES = 2**24


class TokenStats:
    """Streaming per-group histograms of discrete codes.

    Args:
        codebook_size: entries per group (K).
        groups: codes per token position (G).
    """

    def __init__(self, codebook_size: int, groups: int = 1) -> None:
        if codebook_size < 1 or groups < 1:
            raise UsageError(f"codebook size and groups must be positive, got {codebook_size} and {groups}")
        if codebook_size > MAX_COUNTED_ENTRIES:
            raise UsageError(
                f"codebook of {codebook_size} entries per group is too large to count "
                f"(at most {MAX_COUNTED_ENTRIES}); report per-group figures instead"
            )
        self.codebook_size = int(codebook_size)
        self.groups = int(groups)
        self.counts = torch.zeros(self.groups, self.codebook_size, dtype=torch.int64)

    def update(self, token_ids: torch.Tensor) -> None:
        """Count the codes of a batch: int64 B x N x G (see ``Tokenizer.token_ids``)."""
        if token_ids.dim() != 3 or token_ids.shape[-1] != self.groups:
            raise UsageError(f"token ids must be B x N x {self.groups}, got {tuple(token_ids.shape)}")
        ids = token_ids.detach().to("cpu", torch.int64).reshape(-1, self.groups)
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.codebook_size):
            raise UsageError(
                f"token ids outside [0, {self.codebook_size}): min {int(ids.min())}, max {int(ids.max())}"
            )
        for g in range(self.groups):
            self.counts[g] += torch.bincount(ids[:, g], minlength=self.codebook_size)

    def merge(self, other: "TokenStats") -> "TokenStats":
        """Add ``other``'s counts (another shard or rank) into this one; returns self."""
        if (other.codebook_size, other.groups) != (self.codebook_size, self.groups):
            raise UsageError("cannot merge token statistics of different codebooks")
        self.counts += other.counts
        return self

    def state_dict(self) -> dict[str, Any]:
        return {"codebook_size": self.codebook_size, "groups": self.groups, "counts": self.counts.clone()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "TokenStats":
        stats = cls(int(state["codebook_size"]), int(state["groups"]))
        stats.counts = state["counts"].to(torch.int64).clone()
        return stats

    @property
    def tokens(self) -> int:
        """Tokens counted per group (every group sees the same positions)."""
        return int(self.counts[0].sum())

    def compute(self) -> dict[str, Any]:
        """Usage, entropy (bits) and perplexity: the mean over groups plus the per-group lists."""
        n = self.counts.sum(dim=1).to(torch.float64)
        if int(n.min()) == 0:
            raise UsageError("no tokens counted")
        used = (self.counts > 0).sum(dim=1).to(torch.float64)
        p = self.counts.to(torch.float64) / n[:, None]
        entropy = -(torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p))).sum(dim=1)
        perplexity = torch.pow(2.0, entropy)
        usage = used / self.codebook_size
        return {
            "codebook_usage": float(usage.mean()),
            "code_entropy_bits": float(entropy.mean()),
            "code_perplexity": float(perplexity.mean()),
            "per_group": {
                "codebook_usage": usage.tolist(),
                "code_entropy_bits": entropy.tolist(),
                "code_perplexity": perplexity.tolist(),
            },
            "codebook_size": self.codebook_size,
            "groups": self.groups,
            "codebook_scope": "per-group" if self.groups > 1 else "codebook",
            "max_entropy_bits": math.log2(self.codebook_size),
            "tokens": self.tokens,
        }
