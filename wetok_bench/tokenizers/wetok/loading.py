"""Reading WeTok's official inference YAML (``configs/WeToK/Inference/*.yaml`` in zhuangshaobin/WeTok).

The official configs keep the architecture under ``model.init_args``: ``ddconfig`` (encoder/decoder
shape), ``n_embed`` (codebook size of one group), ``embed_dim`` (latent channels),
``num_codebooks`` (groups), ``use_ema`` and ``gan_decoder``. Training-only keys (loss, learning
rate, ...) are ignored. Checkpoints are read by :mod:`wetok_bench.tokenizers.common.ema_checkpoint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from wetok_bench.core.errors import UsageError
from wetok_bench.tokenizers.common.config_files import read_yaml_config
from wetok_bench.tokenizers.wetok.model import WeTokConfig


def load_config(config: str | Path | Mapping[str, Any]) -> WeTokConfig:
    """A :class:`WeTokConfig` from a YAML path or a mapping.

    A mapping may be the whole official config (``{"model": {"init_args": ...}}``), its
    ``init_args`` alone, or :meth:`WeTokConfig.to_dict` output. Model card names are resolved
    by the caller (``tokenizer.resolve_config``).
    """
    if isinstance(config, WeTokConfig):
        return config
    config = read_yaml_config(config, "WeTok")
    model = config.get("model")
    if isinstance(model, Mapping) and isinstance(model.get("init_args"), Mapping):
        return WeTokConfig.from_init_args(model["init_args"])
    if "ddconfig" in config:
        return WeTokConfig.from_init_args(config)
    if "ch_mult" in config:  # the flat form of WeTokConfig.to_dict()
        flat = dict(config)
        init_args = {k: flat.pop(k) for k in ("n_embed", "embed_dim", "num_codebooks", "gan_decoder", "use_ema") if k in flat}
        return WeTokConfig.from_init_args({**init_args, "ddconfig": flat})
    raise UsageError("WeTok config must hold model.init_args (the official YAML layout) or ddconfig")
