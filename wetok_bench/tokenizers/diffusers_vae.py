"""Diffusers ``AutoencoderKL`` baselines: the SD-VAE family, SDXL-VAE, SD 3.5 VAE, FLUX.1 VAE.

Images in [-1, 1] go through the encoder; the code is the posterior's mode (deterministic, the
default) or, with ``sample: true``, a draw from the posterior with per-image noise. The
latent is decoded as is: the scaling and shift factors in the configs exist for diffusion
training and play no part in reconstruction.

These models silently crop inputs whose size is not a multiple of their downsample factor, so
the size is checked here (and by :meth:`Tokenizer.reconstruct`) before the encoder sees it.

``diffusers`` is imported inside functions: importing it takes seconds, and ``wetok-bench list``
imports this module only for :data:`CARDS`.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from wetok_bench.errors import MissingWeightsError, UsageError
from wetok_bench.hashing import sha256_file
from wetok_bench.tokenizers.base import (
    DEFAULT_BITS_PER_VALUE,
    Compression,
    ImageNoise,
    SizePolicy,
    Tokenizer,
    continuous_compression,
    parse_precision,
)
from wetok_bench.tokenizers.cards import ModelCard, get_card
from wetok_bench.weights import HF_PREFIX, offline, resolve_checkpoint

TYPE = "diffusers-vae"

_LDM_PAPER = "Rombach et al., High-Resolution Image Synthesis with Latent Diffusion Models, CVPR 2022 (arXiv:2112.10752)"
_FP16_NOTE = "fp16 overflows in some of these decoders (sdxl-vae gives NaN): use fp32 (default) or bf16."

CARDS: list[ModelCard] = [
    ModelCard(
        name="sd-vae-ft-mse",
        type=TYPE,
        params={"pretrained": "stabilityai/sd-vae-ft-mse"},
        source="hf://stabilityai/sd-vae-ft-mse",
        license="MIT",
        paper=_LDM_PAPER,
        notes="kl-f8, 4 latent channels: compression 24 at 16 bit/value. Model card, COCO 2017 val 5k "
        "at 256x256: rFID 4.70, PSNR 24.5, SSIM 0.71.",
    ),
    ModelCard(
        name="sd-vae-ft-ema",
        type=TYPE,
        params={"pretrained": "stabilityai/sd-vae-ft-ema"},
        source="hf://stabilityai/sd-vae-ft-ema",
        license="MIT",
        paper=_LDM_PAPER,
        notes="kl-f8, 4 latent channels: compression 24 at 16 bit/value. Model card, COCO 2017 val 5k "
        "at 256x256: rFID 4.42, PSNR 23.8, SSIM 0.69.",
    ),
    ModelCard(
        name="sdxl-vae",
        type=TYPE,
        params={"pretrained": "stabilityai/sdxl-vae"},
        source="hf://stabilityai/sdxl-vae",
        license="MIT",
        paper="Podell et al., SDXL (arXiv:2307.01952)",
        notes="f8, 4 latent channels: compression 24 at 16 bit/value. Model card, COCO 2017 val 5k at "
        "256x256: rFID 4.42, PSNR 24.7, SSIM 0.73. fp16 gives NaN: run fp32 (default) or bf16.",
    ),
    ModelCard(
        name="sd35-vae",
        type=TYPE,
        params={"pretrained": "stabilityai/stable-diffusion-3.5-large", "subfolder": "vae"},
        source="hf://stabilityai/stable-diffusion-3.5-large/vae",
        license="Stability AI Community License (gated: accept it on the Hub before downloading)",
        paper="Esser et al., Scaling Rectified Flow Transformers (arXiv:2403.03206)",
        notes="f8, 16 latent channels, no quant convs: compression 6 at 16 bit/value. WeTok paper, "
        "ImageNet-50k zero-shot rFID 0.19.",
    ),
    ModelCard(
        name="flux-vae",
        type=TYPE,
        params={"pretrained": "black-forest-labs/FLUX.1-dev", "subfolder": "vae"},
        source="hf://black-forest-labs/FLUX.1-dev/vae",
        license="Apache-2.0 for the autoencoder weights (black-forest-labs/flux README); the FLUX.1-dev "
        "repo itself is gated under the FLUX.1-dev Non-Commercial License",
        paper="https://github.com/black-forest-labs/flux",
        notes="f8, 16 latent channels: compression 6 at 16 bit/value. The same autoencoder ships in "
        "FLUX.1-schnell, and as the single file ae.safetensors (use single_file: <ae.safetensors> with "
        "config: <folder holding the vae/ config.json>). WeTok paper, ImageNet-50k zero-shot rFID 0.18.",
    ),
]

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_WEIGHTS_NAME = "diffusion_pytorch_model"
_SHARD = re.compile(rf"^{_WEIGHTS_NAME}-\d+-of-\d+\.safetensors$")


class DiffusersVAE(Tokenizer):
    """A diffusers ``AutoencoderKL`` as a continuous tokenizer.

    Args:
        name: the tokenizer's name in results.
        vae: the loaded model (moved to ``dtype`` here).
        weights: the weight files the model was loaded from (hashed for the fingerprint).
        source: where the weights came from (repo id, folder, or single file), for the record.
        dtype: compute dtype of the network.
        sample: draw the latent from the posterior instead of taking its mode.
        seed: seed of the posterior draw (``noise_seed``; None: the run's seed applies). The
            draw comes from the :class:`ImageNoise` that :meth:`encode` is given (the runner's:
            each image's own CPU generator, seeded by the seed and the image's key); without
            one, image ``i`` of the call gets the generator of key ``"#i"`` under this seed
            (0 when None), see :meth:`Tokenizer.seeded_noise`.
        bits_per_value: bits counted per latent value for the compression ratio.
    """

    kind = "continuous"

    def __init__(
        self,
        name: str,
        vae: torch.nn.Module,
        *,
        weights: list[Path],
        source: dict[str, Any],
        dtype: torch.dtype = torch.float32,
        sample: bool = False,
        seed: int | None = None,
        bits_per_value: float = DEFAULT_BITS_PER_VALUE,
        size_policy: SizePolicy = "error",
    ) -> None:
        super().__init__(name, size_policy=size_policy)
        self.vae = vae.to(dtype=dtype).eval()
        self.dtype = dtype
        self.weights = list(weights)
        self.source = dict(source)
        self.sample = sample
        self.seed = seed
        self.noise_seed = seed
        self.encode_uses_noise = sample
        self.bits_per_value = bits_per_value
        config = vae.config
        self.latent_channels = int(config.latent_channels)
        self.downsample = 2 ** (len(config.block_out_channels) - 1)
        self._weights_sha256: dict[str, str] | None = None

    def encode(self, x: torch.Tensor, *, noise: ImageNoise | None = None) -> torch.Tensor:
        """Latent (B x C x H/f x W/f, in the network's dtype) of images ``x`` in [-1, 1].

        ``noise`` (used with ``sample`` only) gives each image's posterior draw."""
        height, width = x.shape[-2:]
        if height % self.downsample or width % self.downsample:
            # the encoder would crop silently; never let it
            raise UsageError(
                f"tokenizer {self.name!r}: image size {height}x{width} is not a multiple of {self.downsample}"
            )
        posterior = self.vae.encode(x.to(self.device, self.dtype)).latent_dist
        if not self.sample:
            return posterior.mode()
        if noise is None:
            noise = self.seeded_noise(x.shape[0])
        if noise is None:
            noise = ImageNoise.for_images(0, [f"#{i}" for i in range(x.shape[0])])
        # drawn per image on the CPU, so an image's draw is the same in any batch and on any device
        eps = noise.randn(posterior.mean.shape[1:], device=posterior.mean.device, dtype=posterior.mean.dtype)
        return posterior.mean + posterior.std * eps

    def decode(self, code: torch.Tensor, *, noise: ImageNoise | None = None) -> torch.Tensor:
        """Images (B x 3 x H x W, nominally [-1, 1]) decoded from a latent."""
        return self.vae.decode(code.to(self.device, self.dtype)).sample

    def compression(self, height: int, width: int) -> Compression:
        return continuous_compression(height, width, self.downsample, self.latent_channels, self.bits_per_value)

    def modules(self) -> list[torch.nn.Module]:
        return [self.vae]

    def weights_sha256(self) -> dict[str, str]:
        """sha256 of each weight file, by file name (computed once)."""
        if self._weights_sha256 is None:
            self._weights_sha256 = {p.name: sha256_file(p) for p in self.weights}
        return self._weights_sha256

    def fingerprint(self) -> dict[str, Any]:
        import diffusers

        # _name_or_path is where the files sat on this machine: not part of the identity
        config = {k: v for k, v in dict(self.vae.config).items() if k not in ("_name_or_path", "_diffusers_version")}
        return {
            "family": TYPE,
            "source": self.source,
            "config": _jsonable(config),
            "weights_sha256": self.weights_sha256(),
            "precision": str(self.dtype).removeprefix("torch."),
            "latent": _latent_record(self.sample, self.seed),
            "bits_per_value": self.bits_per_value,
            "diffusers_version": diffusers.__version__,
        }


def _latent_record(sample: bool, seed: int | None) -> dict[str, Any]:
    """How the latent is taken, for the fingerprint."""
    if not sample:
        return {"mode": "posterior-mode"}
    return {
        "mode": "posterior-sample",
        "seed": seed,
        "noise": "per image from its own CPU generator seeded by (seed, image key); the run's seed when seed is null",
    }


def create_diffusers_vae(
    *,
    name: str = "vae",
    model: str | None = None,
    pretrained: str | None = None,
    subfolder: str | None = None,
    single_file: str | None = None,
    config: str | None = None,
    sample: bool = False,
    seed: int | None = None,
    precision: str = "fp32",
    bits_per_value: int = DEFAULT_BITS_PER_VALUE,
    size_policy: SizePolicy = "error",
) -> DiffusersVAE:
    """Build a diffusers VAE tokenizer (suite ``type: diffusers-vae``).

    Args:
        model: a card name (``sd-vae-ft-mse``, ``sd-vae-ft-ema``, ``sdxl-vae``, ``sd35-vae``,
            ``flux-vae``); explicit parameters override the card's.
        pretrained: a local diffusers folder (``config.json`` + ``diffusion_pytorch_model.safetensors``)
            or a Hugging Face repo id (looked up in the HF cache; downloaded only when online).
        subfolder: folder inside ``pretrained`` (``vae`` for SD 3.5 and FLUX.1 repos).
        single_file: an original-format checkpoint (e.g. FLUX ``ae.safetensors``), a path or
            ``hf://owner/repo/file``; needs ``config``.
        config: a local folder holding the diffusers ``config.json`` for ``single_file``
            (``subfolder`` applies inside it).
        sample: draw the latent from the posterior (seeded) instead of taking its mode.
        seed: seed of that draw (when not given: the run's seed; 0 for direct library calls).
        precision: ``fp32`` (default), ``bf16`` or ``fp16`` (NaN for sdxl-vae).
        bits_per_value: bits counted per latent value for the compression ratio.
        size_policy: ``error`` (default) or ``pad`` for sizes not a multiple of the factor.
    """
    given = {"pretrained": pretrained, "subfolder": subfolder, "single_file": single_file, "config": config}
    if model is not None:
        card = get_card(model, TYPE)
        # a card names one source; an explicit single_file replaces the card's repo
        card_params = {} if single_file is not None else dict(card.params)
        given = {**given, **card_params, **{k: v for k, v in given.items() if v is not None}}
    dtype = parse_precision(precision)
    if dtype == torch.float16:
        warnings.warn(f"tokenizer {name!r}: {_FP16_NOTE}", stacklevel=2)
    if given["single_file"] is not None:
        vae, weights, source = _load_single_file(given["single_file"], given["config"], given["subfolder"])
    elif given["pretrained"] is not None:
        vae, weights, source = _load_pretrained(given["pretrained"], given["subfolder"])
    else:
        raise UsageError(
            f"tokenizer {name!r} (type {TYPE}): give model (a card name), pretrained (a folder or "
            f"Hugging Face repo id) or single_file (with config)"
        )
    source["card"] = model
    return DiffusersVAE(
        name,
        vae,
        weights=weights,
        source=source,
        dtype=dtype,
        sample=sample,
        seed=seed,
        bits_per_value=bits_per_value,
        size_policy=size_policy,
    )


def _load_pretrained(pretrained: str, subfolder: str | None) -> tuple[torch.nn.Module, list[Path], dict[str, Any]]:
    from diffusers import AutoencoderKL

    folder = _local_folder(pretrained, subfolder)
    weights = _weight_files(folder)
    if not weights:
        raise MissingWeightsError(
            f"{folder} holds no {_WEIGHTS_NAME}.safetensors (or .bin): not a diffusers model folder"
        )
    vae = AutoencoderKL.from_pretrained(str(folder))
    return vae, weights, {"pretrained": pretrained, "subfolder": subfolder}


def _local_folder(pretrained: str, subfolder: str | None) -> Path:
    """The folder holding ``config.json`` for ``pretrained`` (local, or the HF cache's snapshot)."""
    text = pretrained.removeprefix(HF_PREFIX)
    local = Path(os.path.expandvars(pretrained)).expanduser()
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
        if (folder / "config.json").is_file() and _weight_files(folder):
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


def _weight_files(folder: Path) -> list[Path]:
    """The weight files ``from_pretrained`` loads from ``folder`` (safetensors first, no variants)."""
    single = folder / f"{_WEIGHTS_NAME}.safetensors"
    if single.is_file():
        return [single]
    shards = sorted(p for p in folder.glob(f"{_WEIGHTS_NAME}-*.safetensors") if _SHARD.match(p.name))
    if shards:
        return shards
    legacy = folder / f"{_WEIGHTS_NAME}.bin"
    return [legacy] if legacy.is_file() else []


def _load_single_file(
    single_file: str, config: str | None, subfolder: str | None
) -> tuple[torch.nn.Module, list[Path], dict[str, Any]]:
    from diffusers import AutoencoderKL

    path = resolve_checkpoint(single_file, what="VAE single file")
    if config is None:
        raise UsageError(
            f"single_file {single_file} needs config: a local folder holding the model's diffusers "
            f"config.json (e.g. the vae/ folder of the FLUX.1 repo); without it diffusers guesses the "
            f"architecture and fetches a config from the Hub"
        )
    config_dir = Path(os.path.expandvars(config)).expanduser()
    config_folder = config_dir / subfolder if subfolder else config_dir
    if not (config_folder / "config.json").is_file():
        raise UsageError(f"config {config_folder} holds no config.json")
    vae = AutoencoderKL.from_single_file(
        str(path), config=str(config_dir), subfolder=subfolder, local_files_only=True
    )
    return vae, [path], {"single_file": single_file, "config": config, "subfolder": subfolder}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
