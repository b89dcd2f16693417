"""FD-DINOv2: the Frechet distance of DINOv2 ViT-L/14 features between reconstructions and
originals (EDM2's and ViTok's rFDD), streamed as float64 sums exactly as rFID is.

Feature space and preprocessing: torch-fidelity 0.4's ``dinov2-vit-l-14`` extractor
(:func:`~wetok_bench.metrics.networks.vit_features.build_dinov2`: TF1 bilinear to 224, ImageNet
normalisation, the class token after the final norm, 1024-d), fed the protocol's uint8 views.
dgm-eval (the code of the paper that introduced FD-DINOv2) resizes with PIL bicubic instead,
which moves features by up to 0.07 and FD by about 10 % on 64 px crops; this metric follows
torch-fidelity and is verified against it (``tests/data/fd_dinov2``).
"""

from __future__ import annotations

from wetok_bench.metrics.rfid import RFID

EXTRACTOR = "dinov2-vit-l-14"


class FDDINOv2(RFID):
    name = "fd_dinov2"
    label = "FD-DINOv2"
    decimals = 2
    higher_is_better = False
    order = 60
    per_group = False
    settings_key = None
    tolerance = (5.0, 0.05)  # FD-DINOv2 values run in the hundreds on small sets
    description = "Frechet distance of DINOv2 ViT-L/14 class-token features (torch-fidelity's convention)"
    protocol_options = ("pixel_quantize", "u8_float")

    @classmethod
    def extractor(cls, protocol) -> str:
        return EXTRACTOR


METRIC = FDDINOv2
