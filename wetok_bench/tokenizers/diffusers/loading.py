"""Finding a diffusers autoencoder's files and building the class its ``config.json`` names.

A model is a folder holding ``config.json`` and ``diffusion_pytorch_model.safetensors`` (local,
or a Hugging Face repo's snapshot in the HF cache, downloaded only when online), or an
original-format single file with a local folder holding the diffusers ``config.json``. The
class is ``config.json``'s ``_class_name`` (``AutoencoderKL``, ``AutoencoderDC``, ``VQModel``,
...); classes without an adapter are refused before any weights are read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from wetok_bench.core.envvars import expand_path
from wetok_bench.core.errors import MissingWeightsError, UsageError
from wetok_bench.core.torch_files import refuse_pickled_objects
from wetok_bench.core.weights import HF_PREFIX, offline, resolve_checkpoint
from wetok_bench.tokenizers.diffusers.adapters import ADAPTERS, Adapter, adapter_for

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_WEIGHTS_NAME = "diffusion_pytorch_model"
_SHARD = re.compile(rf"^{_WEIGHTS_NAME}-\d+-of-\d+\.safetensors$")


@dataclass
class Loaded:
    """A loaded model with what the tokenizer records about it.

    Attributes:
        vae: the diffusers model (float32, eval mode not yet set).
        adapter: how its class is encoded and decoded.
        weights: the weight files it was loaded from (hashed for the fingerprint).
        source: where it came from (repo id or folder, subfolder, single file), for the record.
    """

    vae: torch.nn.Module
    adapter: Adapter
    weights: list[Path]
    source: dict[str, Any]


def load_pretrained(pretrained: str, subfolder: str | None) -> Loaded:
    """The model in folder (or HF repo id) ``pretrained`` / ``subfolder``."""
    folder = local_folder(pretrained, subfolder)
    adapter, model_class = _model_class(folder)
    weights = weight_files(folder)
    if not weights:
        raise MissingWeightsError(
            f"{folder} holds no {_WEIGHTS_NAME}.safetensors (or .bin): not a diffusers model folder"
        )
    vae = model_class.from_pretrained(str(folder))
    return Loaded(vae, adapter, weights, {"pretrained": pretrained, "subfolder": subfolder})


def load_single_file(single_file: str, config: str | None, subfolder: str | None) -> Loaded:
    """An original-format checkpoint converted by diffusers' ``from_single_file`` with the local
    diffusers ``config.json`` in ``config`` / ``subfolder`` (no Hub access)."""
    if config is None:
        raise UsageError(
            f"single_file {single_file} needs config: a local folder holding the model's diffusers "
            f"config.json (e.g. the vae/ folder of the FLUX.1 repo); without it diffusers guesses the "
            f"architecture and fetches a config from the Hub"
        )
    config_dir = expand_path(config)
    config_folder = config_dir / subfolder if subfolder else config_dir
    if not (config_folder / "config.json").is_file():
        raise UsageError(f"config {config_folder} holds no config.json")
    adapter, model_class = _model_class(config_folder)
    if not hasattr(model_class, "from_single_file"):
        raise UsageError(
            f"diffusers' {adapter.class_name} cannot load original-format single files; give pretrained: "
            f"a diffusers folder instead"
        )
    path = resolve_checkpoint(single_file, what="VAE single file")
    if path.suffix != ".safetensors":  # a torch.save file: diffusers' own refusal says only "Unable to load"
        refuse_pickled_objects(path, what="VAE single file")
    vae = model_class.from_single_file(str(path), config=str(config_dir), subfolder=subfolder, local_files_only=True)
    return Loaded(vae, adapter, [path], {"single_file": single_file, "config": config, "subfolder": subfolder})


def _model_class(folder: Path) -> tuple[Adapter, type]:
    """(adapter, diffusers class) for the ``_class_name`` of ``folder/config.json``."""
    path = folder / "config.json"
    try:
        class_name = json.loads(path.read_text()).get("_class_name")
    except (OSError, ValueError, AttributeError) as error:
        raise UsageError(f"{path} is not a readable diffusers config ({error})") from None
    if class_name is None:
        raise UsageError(f"{path} has no _class_name: not a diffusers model config")
    adapter = adapter_for(str(class_name))
    if adapter is None:
        raise UsageError(
            f"{path}: _class_name {class_name!r} is not an image autoencoder this family supports "
            f"(supported: {', '.join(sorted(ADAPTERS))})"
        )
    import diffusers

    model_class = getattr(diffusers, adapter.class_name, None)
    if model_class is None:
        raise UsageError(
            f"{path}: the installed diffusers {diffusers.__version__} has no {adapter.class_name}; upgrade diffusers"
        )
    return adapter, model_class


def local_folder(pretrained: str, subfolder: str | None) -> Path:
    """The folder holding ``config.json`` for ``pretrained`` (local, or the HF cache's snapshot)."""
    text = pretrained.removeprefix(HF_PREFIX)
    local = expand_path(pretrained)
    if local.is_dir():
        folder = local / subfolder if subfolder else local
        if not (folder / "config.json").is_file():
            raise UsageError(f"no config.json in {folder}: not a diffusers model folder (wrong subfolder?)")
        return folder
    if not _REPO_ID.match(text):
        raise UsageError(f"pretrained {pretrained!r} is neither a folder nor a Hugging Face repo id (owner/name)")
    from huggingface_hub import snapshot_download

    prefix = f"{subfolder.strip('/')}/" if subfolder else ""
    # the config and the non-variant safetensors weights only (repos also hold .bin, fp16, ckpt)
    patterns = [
        f"{prefix}config.json",
        f"{prefix}{_WEIGHTS_NAME}.safetensors",
        f"{prefix}{_WEIGHTS_NAME}-*.safetensors",
        f"{prefix}{_WEIGHTS_NAME}.safetensors.index.json",
    ]
    problem = ""
    for local_only in (True, False):
        if not local_only and offline():
            break
        try:
            snapshot = Path(snapshot_download(text, allow_patterns=patterns, local_files_only=local_only))
        except Exception as error:  # noqa: BLE001 - any hub failure means "not available here"
            if not local_only:  # the cache miss says nothing useful; a download failure does
                problem = f" ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
            continue
        folder = snapshot / prefix if prefix else snapshot
        if (folder / "config.json").is_file() and weight_files(folder):
            return folder
    where = f"{text} (subfolder {subfolder})" if subfolder else text
    include = f' --include "{prefix}config.json" "{prefix}{_WEIGHTS_NAME}.safetensors"'
    raise MissingWeightsError(
        f"VAE weights {where} are not in the Hugging Face cache and "
        f"{'downloads are off (offline)' if offline() else 'could not be downloaded' + problem}; "
        f"where there is network run `huggingface-cli download {text}{include} --local-dir DIR` "
        f"(gated repos need their licence accepted on the Hub and `huggingface-cli login`), then set "
        f"pretrained: DIR" + (f" and subfolder: {subfolder}" if subfolder else "")
    )


def weight_files(folder: Path) -> list[Path]:
    """The weight files ``from_pretrained`` loads from ``folder`` (safetensors first, no variants)."""
    single = folder / f"{_WEIGHTS_NAME}.safetensors"
    if single.is_file():
        return [single]
    shards = sorted(p for p in folder.glob(f"{_WEIGHTS_NAME}-*.safetensors") if _SHARD.match(p.name))
    if shards:
        return shards
    legacy = folder / f"{_WEIGHTS_NAME}.bin"
    return [legacy] if legacy.is_file() else []
