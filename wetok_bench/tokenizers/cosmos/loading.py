"""Finding and loading Cosmos TorchScript files, and reading what they are from their output.

TorchScript executes code from the file, so it is loaded only from a folder the user named (or
the card's Hugging Face repo the user chose); nothing is searched for.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from wetok_bench.core.envvars import expand_path
from wetok_bench.core.errors import UsageError
from wetok_bench.core.weights import HF_PREFIX, resolve_checkpoint
from wetok_bench.tokenizers.cosmos.tokenizer import first_tensor

#: The two TorchScript files of a release.
FILES = ("encoder.jit", "decoder.jit")


def locate_file(path: str, filename: str) -> Path:
    """``path/filename`` for a local folder or an ``hf://`` repo (the cache, then a download)."""
    text = os.fspath(path)
    if text.startswith(HF_PREFIX):
        return resolve_checkpoint(f"{text.rstrip('/')}/{filename}", what=f"Cosmos {filename}")
    folder = expand_path(text)
    if not folder.is_dir():
        raise UsageError(f"Cosmos tokenizer folder not found: {folder}")
    file = folder / filename
    if not file.is_file():
        raise UsageError(
            f"{folder} has no {filename}: a Cosmos tokenizer folder holds encoder.jit and decoder.jit "
            f"(e.g. `huggingface-cli download nvidia/Cosmos-0.1-Tokenizer-DI16x16 encoder.jit decoder.jit "
            f"--local-dir {folder}`)"
        )
    return file


def load_script(file: Path) -> torch.nn.Module:
    """The TorchScript module in ``file`` (on the CPU, in eval mode); an unreadable file is a UsageError."""
    try:
        with warnings.catch_warnings():
            # torch >= 2.14 deprecates TorchScript; NVIDIA ships only TorchScript, so the warning
            # would be noise the user cannot act on
            warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated", category=FutureWarning)
            return torch.jit.load(str(file), map_location="cpu").eval()
    except (RuntimeError, ValueError) as error:
        raise UsageError(f"{file} is not a TorchScript file torch.jit.load can read: {error}") from None


def probe_encoder(encoder: torch.nn.Module, dtype: torch.dtype, downsample: int | None) -> tuple[str, int, int]:
    """(kind, downsample, latent channels) read from the encoder's output on a blank image."""
    size = 64 if downsample is None else 4 * downsample
    with torch.inference_mode():
        out = first_tensor(encoder(torch.zeros(1, 3, size, size, dtype=dtype)))
    if out.is_floating_point():
        if out.ndim != 4:
            raise UsageError(f"Cosmos continuous encoder returned shape {tuple(out.shape)}, expected B x C x h x w")
        return "continuous", size // out.shape[-1], int(out.shape[1])
    if out.ndim != 3:
        raise UsageError(f"Cosmos discrete encoder returned indices of shape {tuple(out.shape)}, expected B x h x w")
    return "discrete", size // out.shape[-1], 0
