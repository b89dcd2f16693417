"""Reading VQ checkpoints without running code, and copying them into a model.

Files are opened with ``torch.load(weights_only=True)``: tensors, containers and plain values
only. Some releases pickle a few harmless objects too; a family lists them as an allow-list of
``(stand-in class, "module.Name")`` pairs (``torch.serialization.safe_globals``), so the name
unpickles to an inert stand-in and nothing of the original library is imported or run. Any
other object is a :class:`VQCheckpointError` naming it: a file that needs code is refused,
never loaded with ``weights_only=False``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from wetok_bench.core.errors import UsageError
from wetok_bench.core.torch_files import listing, load_torch_file

_LISTED = 8  # names shown in an error before "... and N more"


class VQCheckpointError(UsageError):
    """A VQ checkpoint that cannot be read safely, lacks weights, or does not match its config."""


class LightningModelCheckpoint:
    """Stand-in for ``pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint``.

    Lightning 1.0 ``last.ckpt`` files key their ``callbacks`` state by that class object; only
    the name is unpickled, into this inert class. Lightning is not needed.
    """


#: Lightning 1.0 training checkpoints (taming-transformers' ``last.ckpt``).
LIGHTNING_ALLOW: tuple[tuple[type, str], ...] = (
    (LightningModelCheckpoint, "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint"),
)
#: LlamaGen training checkpoints store their ``argparse.Namespace`` under ``"args"``; a Namespace
#: only holds attributes, so unpickling one runs nothing.
NAMESPACE_ALLOW: tuple[tuple[type, str], ...] = ((argparse.Namespace, "argparse.Namespace"),)


def read_checkpoint(path: str | os.PathLike, *, what: str, allow: Sequence[tuple[type, str]] = ()) -> object:
    """The unpickled object of a ``torch.save`` file, read with ``weights_only=True``.

    ``allow`` maps pickled global names to stand-ins (:func:`wetok_bench.core.torch_files.load_torch_file`).
    Raises :class:`VQCheckpointError` for a missing or unreadable file and, naming them, for
    pickled objects outside the allow-list.
    """
    return load_torch_file(path, what=what, mmap=True, error=VQCheckpointError, allow=allow)


def pick_state_dict(obj: object, keys: Sequence[str], *, what: str, path: str | os.PathLike) -> tuple[Mapping, str]:
    """(state dict, where it was) from a loaded checkpoint: the first of ``keys`` holding a
    mapping, else the object itself when it is a bare state dict of tensors."""
    if isinstance(obj, Mapping):
        for key in keys:
            if isinstance(obj.get(key), Mapping):
                return obj[key], key
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj, "(top level)"
        found = ", ".join(sorted(map(str, obj))[:_LISTED])
        raise VQCheckpointError(f"{what} {path} holds none of {', '.join(map(repr, keys))} (top-level keys: {found})")
    raise VQCheckpointError(f"{what} {path} is a {type(obj).__name__}, not a checkpoint mapping")


def load_into(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    what: str,
    rename: Callable[[str], str] = lambda key: key,
    ignore: Callable[[str], bool] = lambda key: False,
) -> None:
    """Copy ``state_dict`` into ``model`` (possibly built on the meta device), all or nothing.

    Checkpoint keys pass through ``rename`` into the model's names; keys for which ``ignore``
    is true (training state) are skipped. Missing weights, shape mismatches and weights the
    model does not have are a :class:`VQCheckpointError` listing them, raised before the model
    gets any storage.
    """
    tensors = {rename(key): value for key, value in state_dict.items() if not ignore(key)}
    params = dict(model.named_parameters())
    extra = sorted(k for k in tensors if k not in params)
    missing = sorted(k for k in params if k not in tensors)
    mismatched = [
        f"{name}: checkpoint {tuple(tensors[name].shape)}, config {tuple(p.shape)}"
        for name, p in params.items()
        if name in tensors and tuple(tensors[name].shape) != tuple(p.shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} weights missing: {listing(missing)}")
    if mismatched:
        problems.append(f"shape mismatch for {listing(mismatched)}")
    if extra:
        problems.append(f"weights the config does not build: {listing(extra)}")
    if problems:
        raise VQCheckpointError(f"{what} does not match its config: " + "; ".join(problems))
    if any(p.is_meta for p in params.values()):
        model.to_empty(device="cpu")  # every parameter is overwritten below
        params = dict(model.named_parameters())
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(tensors[name])
