"""The streaming input pipeline: records -> decoded, preprocessed uint8 batches, in order.

:func:`iterate_batches` runs a torch ``DataLoader`` (no shuffling, sequential sampler) over the
exact sequence it is given, so a rank that passes its slice gets exactly that slice, in that
order, with any number of workers. Each image is decoded once (in a worker when
``num_workers > 0``) by :func:`~wetok_bench.data.images.load_rgb` and preprocessed by
:func:`~wetok_bench.data.preprocess.preprocess`.

Files that cannot be read are never dropped silently: each one appears as ``(key, reason)`` in
the ``skipped`` list of the batch that covers its position, and a stretch of records with no
readable image still yields a batch (with zero images) carrying those skips.

Batching: the loader cuts the records into consecutive chunks of ``batch_size``. At an integer
resolution every image is R x R and each chunk gives one batch. At ``"original"`` resolution a
chunk is further split into runs of consecutive images of the same size, so a batch never mixes
sizes and never exceeds ``batch_size`` (a folder of equal-size images batches fully; a
mixed-size folder may give batches of one).

:func:`select_subset` picks a deterministic subset of records before loading.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from wetok_bench.core.errors import UsageError
from wetok_bench.data.base import ImageRecord
from wetok_bench.data.images import ImageError, load_rgb
from wetok_bench.data.preprocess import DEFAULT_RESIZE, ResizeRule, preprocess, resize_rule

Resolution = int | str

SUBSET_RULES = ("spread", "first", "random")


@dataclass
class Batch:
    """Consecutive images of the record sequence, decoded and preprocessed.

    Attributes:
        keys: record keys of the images in ``images``, in order.
        images: uint8 tensor B x 3 x H x W (H = W = R at an integer resolution); B may be 0
            when every record of the stretch was skipped.
        skipped: ``(key, reason)`` for the unreadable records of this stretch.
        meta: the records' ``meta`` dicts, aligned with ``keys``.
        indices: positions of the images in the sequence given to :func:`iterate_batches`.
        original_sizes: ``(height, width)`` of each image as decoded, before preprocessing.
    """

    keys: list[str]
    images: torch.Tensor
    skipped: list[tuple[str, str]] = field(default_factory=list)
    meta: list[dict[str, Any]] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    original_sizes: list[tuple[int, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def pin_memory(self) -> "Batch":
        """Called by the DataLoader's pinning thread when ``pin_memory=True``."""
        self.images = self.images.pin_memory()
        return self


@dataclass
class _Item:
    index: int
    key: str
    meta: dict[str, Any]
    image: torch.Tensor | None
    reason: str | None
    original_size: tuple[int, int] | None


class _DecodeDataset(TorchDataset):
    """Map-style view of the records: item i is record i decoded and preprocessed."""

    def __init__(self, records: Sequence[ImageRecord], resolution: Resolution, rule: ResizeRule) -> None:
        self.records = records
        self.resolution = resolution
        self.rule = rule

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> _Item:
        record = self.records[index]
        try:
            image = load_rgb(record.path)
            tensor = preprocess(image, self.resolution, self.rule)
        except ImageError as error:
            return _Item(index, record.key, record.meta, None, str(error), None)
        except Exception as error:  # noqa: BLE001 - one odd file must not end a 50k-image pass
            return _Item(index, record.key, record.meta, None, f"unexpected error: {type(error).__name__}: {error}", None)
        return _Item(index, record.key, record.meta, tensor, None, (image.height, image.width))


class _Collate:
    """Turns a chunk of items into batches of equal-size images (see the module docstring)."""

    def __init__(self, resolution: Resolution) -> None:
        self.empty_shape = (0, 3, 0, 0) if resolution == "original" else (0, 3, int(resolution), int(resolution))

    def __call__(self, items: list[_Item]) -> list[Batch]:
        runs: list[tuple[list[_Item], list[tuple[str, str]]]] = []
        pending_skips: list[tuple[str, str]] = []
        for item in items:
            if item.image is None:
                (runs[-1][1] if runs else pending_skips).append((item.key, item.reason or "unreadable"))
            elif runs and runs[-1][0][-1].image.shape == item.image.shape:  # type: ignore[union-attr]
                runs[-1][0].append(item)
            else:
                runs.append(([item], []))
        if not runs:
            return [Batch([], torch.empty(self.empty_shape, dtype=torch.uint8), pending_skips)]
        runs[0][1][:0] = pending_skips
        return [
            Batch(
                keys=[i.key for i in run],
                images=torch.stack([i.image for i in run]),  # type: ignore[misc]
                skipped=skips,
                meta=[i.meta for i in run],
                indices=[i.index for i in run],
                original_sizes=[i.original_size for i in run],  # type: ignore[misc]
            )
            for run, skips in runs
        ]


def _worker_init(_worker_id: int) -> None:
    # Decoding is single-threaded per worker; torch's intra-op pool would oversubscribe cores.
    torch.set_num_threads(1)


def check_resolution(resolution: Any) -> Resolution:
    """``resolution`` if it is a positive int or ``"original"``; otherwise a UsageError."""
    if resolution == "original":
        return "original"
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise UsageError(f"resolution must be a positive integer or 'original', got {resolution!r}")
    return resolution


def iterate_batches(
    records: Sequence[ImageRecord],
    resolution: Resolution,
    batch_size: int,
    *,
    num_workers: int = 0,
    pin_memory: bool = False,
    resize: str = DEFAULT_RESIZE,
) -> Iterator[Batch]:
    """Decode ``records`` in order and yield :class:`Batch` objects (see the module docstring).

    Args:
        records: the exact sequence to load (e.g. one rank's slice); order is kept.
        resolution: R for resize-short-side + centre crop to R x R, or ``"original"``.
        batch_size: the largest number of records per batch.
        num_workers: DataLoader worker processes (0 decodes in this process).
        pin_memory: pin the image tensors (only when CUDA is available).
        resize: the protocol's resize rule (``MetricProtocol.resize``, a name in
            :data:`~wetok_bench.data.preprocess.RESIZE_RULES`); unknown names fail here, before
            any image is read.
    """
    resolution = check_resolution(resolution)
    rule = resize_rule(resize)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UsageError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise UsageError(f"num_workers must be a non-negative integer, got {num_workers!r}")
    if len(records) == 0:
        return
    loader = DataLoader(
        _DecodeDataset(records, resolution, rule),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_Collate(resolution),
        pin_memory=bool(pin_memory and torch.cuda.is_available()),
        worker_init_fn=_worker_init if num_workers > 0 else None,
    )
    for chunk in loader:
        yield from chunk


def select_subset(
    records: Sequence[ImageRecord],
    num_images: int | None,
    rule: str = "spread",
    *,
    seed: int = 0,
) -> list[ImageRecord]:
    """A deterministic subset of ``num_images`` records, returned in the original order.

    Rules (``N = len(records)``, ``n = num_images``):

    * ``"spread"`` (default): record ``floor((2i + 1) N / 2n)`` for i = 0..n-1, the middle of
      each of n equal strides over the sorted list. With ImageNet class folders (50 images per
      class) and n = 1000 this takes one image from every class.
    * ``"first"``: the first n records.
    * ``"random"``: ``random.Random(seed).sample`` of n positions (Python's Mersenne Twister,
      the same on every platform for the same seed), kept in list order.

    ``num_images`` None or at least N returns every record.
    """
    if rule not in SUBSET_RULES:
        raise UsageError(f"unknown subset rule {rule!r}; choose one of {', '.join(SUBSET_RULES)}")
    total = len(records)
    if num_images is None or (isinstance(num_images, int) and not isinstance(num_images, bool) and num_images >= total):
        return list(records)
    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1:
        raise UsageError(f"num_images must be a positive integer or null, got {num_images!r}")
    if rule == "first":
        positions = list(range(num_images))
    elif rule == "spread":
        positions = [(2 * i + 1) * total // (2 * num_images) for i in range(num_images)]
    else:
        positions = sorted(random.Random(seed).sample(range(total), num_images))
    return [records[p] for p in positions]
