"""LPIPS v0.1 per image, one result key per backbone of the protocol (``lpips`` for the first,
``lpips_<net>`` for the others); :class:`wetok_bench.metrics.networks.lpips.LPIPSMetric`."""

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
    label = "LPIPS"
    higher_is_better = False
    order = 40
    tolerance = (0.002, 0.0)
    bd = True
    grid_rank = 0
    description = "LPIPS v0.1 with the protocol's first backbone (AlexNet); mean over images"
    protocol_options = ("lpips_nets", "lpips_input", "u8_float")

    @classmethod
    def result_keys(cls, protocol=None) -> tuple[ResultKey, ...]:
        nets = protocol.lpips_nets if protocol is not None else _NETS  # None: every key any protocol gives
        return tuple(cls.headline_key() if i == 0 else cls._other_backbone(net) for i, net in enumerate(nets))

    @classmethod
    def _other_backbone(cls, net: str) -> ResultKey:
        """The key of a backbone after the first: kept in the files, not a column, not ranked."""
        return cls.headline_key(name=f"lpips_{net}", label=f"LPIPS-{net.upper()}", order=cls.order + 1 + _NETS.index(net),
                                description=f"LPIPS v0.1 with the {_NAMES.get(net, net)} backbone; mean over images",
                                summary=False, bd=False, grid_rank=None)

    @classmethod
    def weights(cls, protocol) -> tuple[tuple[str, str], ...]:
        return tuple((f"lpips_{net}", f"lpips-{net}-backbone") for net in protocol.lpips_nets)

    def __init__(self, protocol, device, weights=None, settings=None) -> None:
        from wetok_bench.metrics.networks.lpips import LPIPSMetric

        super().__init__(protocol, device, weights, settings)
        self.nets = {net: LPIPSMetric(net, self.weights_files.get(f"lpips_{net}"), device) for net in protocol.lpips_nets}

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        view = batch.protocol.lpips_view_key
        ref, rec = batch.view(view, lambda: batch.protocol.lpips_views(batch.original_u8, batch.recon))
        # each backbone's values are kept by its weights and view: another protocol reading the same is served
        return {lpips_key(self.protocol, net): batch.view(f"{view}:{net}:{metric.backbone_sha256}:{metric.heads_sha256}",
                                                          lambda metric=metric: metric(ref, rec))
                for net, metric in self.nets.items()}

    def weights_fingerprint(self) -> dict[str, dict]:
        return {f"lpips_{net}": {"backbone_sha256": m.backbone_sha256, "heads_sha256": m.heads_sha256}
                for net, m in self.nets.items()}


METRIC = LPIPS
