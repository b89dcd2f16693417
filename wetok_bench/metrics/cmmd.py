"""CMMD: the maximum mean discrepancy of CLIP ViT-L/14@336 embeddings between reconstructions and
originals, Gaussian kernel sigma 10, scaled by 1000 (Jayasumana et al. 2024; google-research
``cmmd``): :func:`~wetok_bench.metrics.functional.mmd.cmmd` on the embeddings of
:func:`~wetok_bench.metrics.networks.vit_features.build_clip`, fed the protocol's uint8 views.

It keeps the embeddings, not sums: O(N x 768) float32 per side (3 KiB per image; 50,000 images:
150 MiB per side), merged across shards and ranks by concatenation in order. The distance costs
O(N^2 x 768): about 6 x 10^12 multiply-adds for 50,000 images per side (a GPU's minute, a CPU's
hours); the reference implementation drops the images beyond a multiple of its batch size, this
one uses all of them.
"""

from __future__ import annotations

from wetok_bench.core.errors import UsageError
from wetok_bench.metrics.base import SetMetric
from wetok_bench.metrics.functional.kid import FeatureBank
from wetok_bench.metrics.functional.mmd import SCALE, SIGMA, cmmd

EXTRACTOR = "clip-vit-l-14-336"


class CMMD(SetMetric):
    name = "cmmd"
    label = "CMMD"
    decimals = 4
    higher_is_better = False
    order = 70
    tolerance = (0.02, 0.05)
    description = f"MMD of CLIP ViT-L/14@336 embeddings, Gaussian kernel sigma {SIGMA:g}, x {SCALE:g} (google-research cmmd)"
    protocol_options = ("pixel_quantize", "u8_float")

    @classmethod
    def extractor(cls, protocol) -> str:
        return EXTRACTOR

    def new_state(self, dim: int) -> FeatureBank:
        return FeatureBank(dim)

    def state_from_dict(self, state: dict) -> FeatureBank:
        return FeatureBank.from_state_dict(state)

    def compute(self, reference: FeatureBank, state: FeatureBank | None = None) -> dict:
        """CMMD of the reconstructions' embeddings against the originals'."""
        state = state if state is not None else self.state
        if state.n < 1 or reference.n < 1:
            raise UsageError("no image measured")
        return {"cmmd": cmmd(reference.features(), state.features()), "n": state.n, "n_ref": reference.n}


METRIC = CMMD
