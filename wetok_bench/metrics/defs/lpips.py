"""LPIPS v0.1 per image, one result key per backbone of the protocol (``lpips`` for the first,
``lpips_<net>`` for the others); :class:`wetok_bench.metrics.perceptual.LPIPSMetric`."""

from __future__ import annotations

import torch

from wetok_bench.metrics.base import Batch, ImageMetric, ResultKey

_NETS = ("alex", "vgg")
_NAMES = {"alex": "AlexNet", "vgg": "VGG16"}


def lpips_key(protocol, net: str) -> str:
    """Result key of LPIPS with backbone ``net``: ``lpips`` for the protocol's first, ``lpips_<net>`` otherwise."""
    return "lpips" if net == protocol.lpips_nets[0] else f"lpips_{net}"


class LPIPS(ImageMetric):
    name = "lpips"
    higher_is_better = False
    description = "LPIPS v0.1 with the protocol's first backbone (AlexNet); mean over images"
    protocol_options = ("lpips_nets", "lpips_input", "u8_float")

    @classmethod
    def result_keys(cls, protocol=None) -> tuple[ResultKey, ...]:
        if protocol is None:  # every key any protocol gives: lpips (first backbone) and lpips_vgg
            return (ResultKey("lpips", False, "", cls.description, label="LPIPS"),
                    ResultKey("lpips_vgg", False, "", "LPIPS v0.1 with the VGG16 backbone; mean over images", label="LPIPS-VGG"))
        return tuple(
            ResultKey(lpips_key(protocol, net), False, "", cls.description if i == 0 else
                      f"LPIPS v0.1 with the {_NAMES.get(net, net)} backbone; mean over images",
                      label="LPIPS" if i == 0 else f"LPIPS-{net.upper()}")
            for i, net in enumerate(protocol.lpips_nets)
        )

    @classmethod
    def weights(cls, protocol) -> tuple[tuple[str, str], ...]:
        return tuple((f"lpips_{net}", f"lpips-{net}-backbone") for net in protocol.lpips_nets)

    def __init__(self, protocol, device, weights=None, settings=None) -> None:
        from wetok_bench.metrics.perceptual import LPIPSMetric

        super().__init__(protocol, device, weights, settings)
        self.nets = {net: LPIPSMetric(net, self.weights_files.get(f"lpips_{net}"), device) for net in protocol.lpips_nets}

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        ref, rec = batch.view("lpips", lambda: batch.protocol.lpips_views(batch.original_u8, batch.recon))
        return {lpips_key(self.protocol, net): metric(ref, rec) for net, metric in self.nets.items()}

    def weights_fingerprint(self) -> dict[str, dict]:
        return {f"lpips_{net}": {"backbone_sha256": m.backbone_sha256, "heads_sha256": m.heads_sha256}
                for net, m in self.nets.items()}


METRIC = LPIPS
