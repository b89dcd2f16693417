"""WeTok architecture settings, read from the official inference YAML layout.

The official configs (``configs/WeToK/Inference/*.yaml`` in zhuangshaobin/WeTok) keep the
architecture under ``model.init_args``: ``ddconfig`` (encoder/decoder shape), ``n_embed``
(codebook size of one group), ``embed_dim`` (latent channels), ``num_codebooks`` (groups),
``use_ema`` and ``gan_decoder``. Training-only keys (loss, learning rate, ...) are ignored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from wetok_bench.errors import UsageError
from wetok_bench.tokenizers.config_files import read_yaml_config

#: GroupNorm in the official blocks always uses 32 groups, so every width must divide by 32.
NORM_GROUPS = 32


@dataclass(frozen=True)
class WeTokConfig:
    """The architecture of one WeTok model.

    Attributes:
        ch: base width of the encoder/decoder.
        ch_mult: width multipliers per resolution level; ``len(ch_mult) - 1`` halvings.
        num_res_blocks: residual blocks per level (and in the middle stage).
        z_channels: latent channels the encoder emits and the decoder takes.
        in_channels, out_ch: image channels in and out (3).
        n_embed: codebook size of one group (a power of two; 256 = 8 bits in all releases).
        embed_dim: channels the quantizer sees (equals ``z_channels``).
        num_codebooks: groups the latent channels are split into.
        gan_decoder: the generative decoder, which takes noise beside the latent.
        use_ema: decode and encode with the EMA weights, as the official evaluation does.
    """

    ch: int
    ch_mult: tuple[int, ...]
    num_res_blocks: int
    z_channels: int
    n_embed: int
    embed_dim: int
    num_codebooks: int = 1
    in_channels: int = 3
    out_ch: int = 3
    gan_decoder: bool = False
    use_ema: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not self.ch_mult:
            problems.append("ddconfig.ch_mult is empty")
        if self.n_embed < 2 or not math.log2(self.n_embed).is_integer():
            problems.append(f"n_embed {self.n_embed} is not a power of two")
        elif self.embed_dim != self.num_codebooks * self.bits_per_group:
            problems.append(
                f"embed_dim {self.embed_dim} must equal num_codebooks {self.num_codebooks} x "
                f"log2(n_embed) {self.bits_per_group}"
            )
        if self.z_channels != self.embed_dim:
            problems.append(f"ddconfig.z_channels {self.z_channels} must equal embed_dim {self.embed_dim}")
        bad_widths = sorted({self.ch * m for m in self.ch_mult if (self.ch * m) % NORM_GROUPS})
        if bad_widths:
            problems.append(f"block widths {bad_widths} (ch x ch_mult) are not multiples of {NORM_GROUPS}")
        if self.num_res_blocks < 1:
            problems.append("ddconfig.num_res_blocks must be at least 1")
        if problems:
            raise UsageError("invalid WeTok config: " + "; ".join(problems))

    @property
    def downsample(self) -> int:
        """Spatial factor: each level but the last halves the resolution."""
        return 2 ** (len(self.ch_mult) - 1)

    @property
    def bits_per_group(self) -> int:
        """Bits of one group's code: log2(n_embed)."""
        return int(math.log2(self.n_embed))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ch_mult"] = list(self.ch_mult)
        return data

    @classmethod
    def from_init_args(cls, init_args: Mapping[str, Any]) -> "WeTokConfig":
        """Build from an official ``model.init_args`` mapping (extra keys are ignored)."""
        if init_args.get("token_factorization") or init_args.get("use_GFQ"):
            raise UsageError("WeTok configs with token_factorization or use_GFQ are not supported")
        ddconfig = init_args.get("ddconfig")
        if not isinstance(ddconfig, Mapping):
            raise UsageError("WeTok config has no model.init_args.ddconfig mapping")
        try:
            return cls(
                ch=int(ddconfig["ch"]),
                ch_mult=tuple(int(m) for m in ddconfig["ch_mult"]),
                num_res_blocks=int(ddconfig["num_res_blocks"]),
                z_channels=int(ddconfig["z_channels"]),
                in_channels=int(ddconfig.get("in_channels", 3)),
                out_ch=int(ddconfig.get("out_ch", 3)),
                n_embed=int(init_args["n_embed"]),
                embed_dim=int(init_args["embed_dim"]),
                num_codebooks=int(init_args.get("num_codebooks", 1)),
                gan_decoder=bool(init_args.get("gan_decoder", False)),
                use_ema=bool(init_args.get("use_ema", False)),
            )
        except KeyError as missing:
            raise UsageError(f"WeTok config lacks {missing.args[0]!r} (ddconfig or model.init_args)") from None
        except (TypeError, ValueError) as bad:
            raise UsageError(f"WeTok config has a malformed value: {bad}") from None


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
