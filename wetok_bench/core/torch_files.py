"""Reading ``torch.save`` files safely, with errors that say what is wrong and what to do.

Every weights file and checkpoint is opened with ``torch.load(weights_only=True)``: tensors,
containers and plain values only, never code. When a file pickles anything else, torch's own
error advises rerunning with ``weights_only=False``, which would run whatever code the file
carries; that advice is never passed on. The error here names the pickled objects and says to
re-save the state dict alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from wetok_bench.core.errors import UsageError

_LISTED = 8  # pickled names shown before "... and N more"


def listing(names: Sequence[str]) -> str:
    """``a, b, c, ... and N more``: the first few of ``names`` for an error message."""
    shown = ", ".join(names[:_LISTED])
    return shown + (f", ... and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def unsafe_globals(path: Path) -> list[str]:
    """Pickled globals of a zip-format file outside torch's tensor-only allow-list (empty when it cannot tell)."""
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # noqa: BLE001 - legacy files cannot be inspected
        return []


def refuse_pickled_objects(path: str | os.PathLike, *, what: str, error: type[UsageError] = UsageError) -> None:
    """Raise ``error`` naming them when the ``torch.save`` file ``path`` pickles objects other than
    tensors and plain containers: for files another library reads (diffusers' single files), checked
    before it does. Nothing is unpickled here."""
    names = unsafe_globals(Path(path))
    if names:
        raise error(_pickle_message(Path(path), what, names))


def load_torch_file(
    path: str | os.PathLike,
    *,
    what: str,
    mmap: bool = False,
    error: type[UsageError] = UsageError,
    allow: Sequence[tuple[type, str]] = (),
) -> object:
    """The object stored in ``path`` by ``torch.save``, read with ``weights_only=True`` on the CPU.

    Args:
        path: the file.
        what: what the file is, for messages (``"WeTok checkpoint"``, ``"Inception weights"``).
        mmap: memory-map zip-format files (multi-GB checkpoints); legacy files are read normally.
        error: the :class:`UsageError` subclass raised.
        allow: ``(stand-in class, pickled global name)`` pairs a family allows (a training
            checkpoint's callback state): unpickled as the stand-in, which holds data and runs nothing.

    Raises:
        error: the file is missing, is not a ``torch.save`` file, is damaged, or pickles objects
            other than tensors and plain containers (named in the message).
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    try:
        with torch.serialization.safe_globals(list(allow)):
            if mmap:
                try:
                    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
                except RuntimeError as err:
                    if "mmap" not in str(err):
                        raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a truncated or foreign file fails in many ways
        allowed = {name for _, name in allow}
        names = [name for name in unsafe_globals(path) if name not in allowed]
        if names:
            raise error(_pickle_message(path, what, names)) from None
        # torch's unpickling errors advise weights_only=False whatever the cause: not passed on
        first = str(err).splitlines()[0] if str(err) else ""
        detail = type(err).__name__ if "weights_only" in str(err) else f"{type(err).__name__}: {first}"
        raise error(f"cannot read {what} {path}: not a torch.save file of tensors, or damaged ({detail})") from None


def _pickle_message(path: Path, what: str, names: list[str]) -> str:
    """The refusal of a file that pickles objects other than tensors, naming them."""
    pickled = listing(names)
    return (
        f"{what} {path} is not a tensor-only file: it pickles {pickled}; files are read with "
        "weights_only=True, which never runs code from a file: re-save the state dict alone "
        "(torch.save(model.state_dict(), PATH))"
    )
