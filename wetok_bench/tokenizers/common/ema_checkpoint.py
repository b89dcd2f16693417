"""Loading LitEma checkpoints (WeTok's, and SEED-Voken's Open-MAGVIT2 and IBQ releases) into a model.

Layout of the released files (``torch.save({"state_dict": sd})``, tensors only):

- ``encoder.*`` / ``decoder.*``: the raw training weights;
- ``model_ema.<parameter name without dots>`` (``model_ema.encoderconv_inweight``): the EMA
  weights, which the official evaluation decodes with (``ema_scope``);
- ``model_ema.decay``, ``model_ema.num_updates``, ``loss.*``, ``model_ema.loss*``: training
  state, ignored here.

Stage-2 checkpoints (generative decoder, trained with the encoder frozen) hold no
``model_ema.encoder*`` keys: the raw encoder weights are then the right ones (the official
script copies them into the EMA slots). Only the encoder may fall back like this; every other
gap is an error that lists the missing names, never random weights left in place.

Files are read with ``weights_only=True`` and ``mmap=True`` (the ImageNet f16 file is 3.76 GB):
only the tensors the model uses are copied into it, and the mapping is dropped afterwards.

The same layout (LitEma copies under ``model_ema.``) is used by the SEED-Voken releases
(Open-MAGVIT2, IBQ): :func:`load_weights` takes the model's top-level ``parts``, the parts that
may fall back to raw weights, and the family name its messages use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from wetok_bench.core.errors import UsageError
from wetok_bench.core.torch_files import listing, load_torch_file

EMA_PREFIX = "model_ema."
#: Parts whose EMA weights may be absent (frozen during stage-2 training): raw weights are used.
RAW_FALLBACK_PARTS = ("encoder",)
_PARTS = ("encoder", "decoder")


class CheckpointError(UsageError):
    """A WeTok checkpoint that cannot be read, lacks weights, or does not match its config."""


def ema_key(name: str) -> str:
    """Checkpoint key of the EMA copy of parameter ``name`` (dots removed, ``model_ema.`` prefix)."""
    return EMA_PREFIX + name.replace(".", "")


def read_state_dict(
    path: str | os.PathLike, *, parts: tuple[str, ...] = _PARTS, what: str = "WeTok"
) -> Mapping[str, torch.Tensor]:
    """The ``state_dict`` of a checkpoint (family ``what``), memory-mapped where the format allows."""
    path = Path(path)
    obj = load_torch_file(path, what=f"{what} checkpoint", mmap=True, error=CheckpointError)
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        return obj["state_dict"]
    if isinstance(obj, Mapping) and any(str(k).startswith(parts) for k in obj):
        return obj  # a bare state dict
    raise CheckpointError(f"{what} checkpoint {path} holds no 'state_dict' mapping")


def _choose_keys(
    names: list[str],
    state_dict: Mapping[str, torch.Tensor],
    use_ema: bool,
    parts: tuple[str, ...] = _PARTS,
    raw_fallback: tuple[str, ...] = RAW_FALLBACK_PARTS,
    what: str = "WeTok",
) -> tuple[dict[str, str], dict[str, str]]:
    """(parameter name -> checkpoint key, part -> 'ema' | 'raw')."""
    keys: dict[str, str] = {}
    sources: dict[str, str] = {}
    for part in parts:
        part_names = [n for n in names if n.startswith(part + ".")]
        source = "raw"
        if use_ema:
            if any(ema_key(n) in state_dict for n in part_names):
                source = "ema"
            elif part not in raw_fallback:
                raise CheckpointError(
                    f"{what} checkpoint holds no EMA weights for the {part} ({EMA_PREFIX}{part}*); "
                    f"the config says use_ema: true (set it to false to use the raw weights)"
                )
        chosen = {n: ema_key(n) if source == "ema" else n for n in part_names}
        missing = [key for key in chosen.values() if key not in state_dict]
        if missing:
            hint = " (nor EMA copies)" if source == "raw" and use_ema else ""
            raise CheckpointError(
                f"{what} checkpoint lacks {len(missing)} {source} {part} weights{hint}: {listing(missing)}; "
                f"is it the checkpoint this config describes?"
            )
        keys.update(chosen)
        sources[part] = source
    return keys, sources


def _check_against_config(
    params: dict[str, nn.Parameter],
    keys: dict[str, str],
    sources: dict[str, str],
    state_dict: Mapping,
    what: str = "WeTok",
) -> None:
    problems = []
    mismatched = [
        f"{name} (key {keys[name]}): checkpoint {tuple(state_dict[keys[name]].shape)}, config {tuple(p.shape)}"
        for name, p in params.items()
        if tuple(state_dict[keys[name]].shape) != tuple(p.shape)
    ]
    if mismatched:
        problems.append(f"shape mismatch for {listing(mismatched)}")
    used = set(keys.values())
    prefixes = tuple(EMA_PREFIX + part if src == "ema" else part + "." for part, src in sources.items())
    extra = sorted(k for k in state_dict if k.startswith(prefixes) and k not in used)
    if extra:
        problems.append(f"weights the config does not build: {listing(extra)}")
    if problems:
        raise CheckpointError(f"{what} checkpoint does not match its config: " + "; ".join(problems))


def load_weights(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    use_ema: bool = True,
    parts: tuple[str, ...] = _PARTS,
    raw_fallback: tuple[str, ...] = RAW_FALLBACK_PARTS,
    what: str = "WeTok",
) -> dict[str, str]:
    """Copy a checkpoint's weights into ``model``; returns part -> 'ema' | 'raw'.

    ``parts`` are the model's top-level modules (``encoder``, ``decoder`` for WeTok; every
    parameter must belong to one), ``raw_fallback`` those whose EMA copies may be absent (then
    the raw weights are used), ``what`` the family name in messages.

    ``model`` may be built on the meta device: it gets CPU storage only once the checkpoint is
    known to fit, so a mismatch costs no multi-GB random initialisation.

    Raises :class:`CheckpointError` when the file is unreadable, weights are missing, or
    names or shapes do not match the model built from the config.
    """
    state_dict = read_state_dict(path, parts=parts, what=what)
    params = dict(model.named_parameters())
    keys, sources = _choose_keys(list(params), state_dict, use_ema, parts, raw_fallback, what)
    unowned = [n for n in params if n not in keys]
    if unowned:  # a programming error: the caller's parts do not cover the model
        raise ValueError(f"parameters outside the parts {parts}: {listing(unowned)}")
    _check_against_config(params, keys, sources, state_dict, what)
    if any(p.is_meta for p in params.values()):
        # Built without storage (torch.device("meta")): every parameter is overwritten below.
        model.to_empty(device="cpu")
        params = dict(model.named_parameters())
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(state_dict[keys[name]])
    return sources
