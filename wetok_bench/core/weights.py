"""Weights files: a registry of known files and offline-first resolution.

Resolution order for a weights file (docs/weights.md):

1. a path given in the suite or on the command line;
2. the weights folder: ``$WETOK_BENCH_WEIGHTS``, else ``$WETOK_BENCH_HOME/weights``
   (default home: ``~/.cache/wetok_bench``);
3. the caches where torch hub / torch-fidelity / torchvision keep the same file
   (``<torch hub dir>/checkpoints/<filename>``);
4. a download into folder 2, checked against the recorded sha256 (skipped when
   ``WETOK_BENCH_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``, or when the network does not answer);
5. otherwise :class:`MissingWeightsError` naming the file, its sha256, its URL and the folder.

A file whose full sha256 is recorded is verified once and its digest cached under
``$WETOK_BENCH_HOME/cache/sha256`` (keyed by absolute path, size, mtime, ctime and inode:
:func:`wetok_bench.core.hashing.file_stamp`; nothing is written beside the file); a mismatch is
never trusted: a cached copy is re-fetched, and when none can be had the error says the file
is present but corrupt, with both hashes; an explicit path that fails is an error with both
hashes too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from wetok_bench.core.envvars import expand_path
from wetok_bench.core.errors import MissingWeightsError, UsageError, closest
from wetok_bench.core.hashing import cached_sha256, remember_sha256
from wetok_bench.core.paths import home_dir


@dataclass(frozen=True)
class WeightsFile:
    """A known weights file.

    Attributes:
        name: registry name used on the CLI (``wetok-bench weights fetch NAME``).
        filename: file name on disk and in caches.
        url: public download address.
        sha256: full hex sha256 when known; ``sha256_prefix`` alone otherwise.
        sha256_prefix: leading hex digits of the sha256 (torch hub's file-name convention).
        used_by: what needs the file (shown by ``weights list``).
        license: licence of the weights.
    """

    name: str
    filename: str
    url: str
    used_by: str
    sha256: str | None = None
    sha256_prefix: str | None = None
    license: str = ""


KNOWN_WEIGHTS: dict[str, WeightsFile] = {
    w.name: w
    for w in [
        WeightsFile(
            name="inception-v3-compat",
            filename="weights-inception-2015-12-05-6726825d.pth",
            url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
            "weights-inception-2015-12-05-6726825d.pth",
            used_by="rFID, protocol 'standard' (torch-fidelity InceptionV3 port)",
            license="Apache-2.0",
        ),
        WeightsFile(
            name="pytorch-fid-inception",
            filename="pt_inception-2015-12-05-6726825d.pth",
            url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
            used_by="rFID, protocol 'wetok' (pytorch-fid InceptionV3 port)",
            license="Apache-2.0",
        ),
        WeightsFile(
            name="lpips-alex-backbone",
            filename="alexnet-owt-7be5be79.pth",
            url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            used_by="LPIPS alex backbone (torchvision AlexNet)",
            sha256_prefix="7be5be79",
            license="BSD-3-Clause",
        ),
        WeightsFile(
            name="lpips-vgg-backbone",
            filename="vgg16-397923af.pth",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
            used_by="LPIPS vgg backbone (torchvision VGG16)",
            sha256_prefix="397923af",
            license="BSD-3-Clause",
        ),
        WeightsFile(
            name="dinov2-vitl14",
            filename="dinov2_vitl14_pretrain.pth",
            url="https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",
            used_by="fd_dinov2 (DINOv2 ViT-L/14, Meta's release as torch.hub loads it; no published sha256)",
            license="Apache-2.0",
        ),
        WeightsFile(
            name="clip-vit-l-14-336",
            filename="ViT-L-14-336px.pt",
            url="https://openaipublic.azureedge.net/clip/models/"
            "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02/ViT-L-14-336px.pt",
            used_by="cmmd (OpenAI CLIP ViT-L/14@336 image tower, TorchScript release; an explicit path may "
                    "also be a state dict of its visual.* tensors)",
            # the full digest (3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02, the
            # URL's folder) would refuse an explicit state dict converted from it; the prefix checks copies found
            sha256_prefix="3035c92b",
            license="MIT",
        ),
        WeightsFile(
            name="taef2-encoder",
            filename="taef2_encoder.pth",
            url="https://github.com/madebyollin/taesd/raw/main/taef2_encoder.pth",
            used_by="TAEF2 tokenizer (demo and CI suites)",
            sha256="10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6",
            license="MIT",
        ),
        WeightsFile(
            name="taef2-decoder",
            filename="taef2_decoder.pth",
            url="https://github.com/madebyollin/taesd/raw/main/taef2_decoder.pth",
            used_by="TAEF2 tokenizer (demo and CI suites)",
            sha256="0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5",
            license="MIT",
        ),
    ]
}

#: Aliases that fetch several files at once.
WEIGHT_GROUPS: dict[str, tuple[str, ...]] = {
    "taef2": ("taef2-encoder", "taef2-decoder"),
    "lpips": ("lpips-alex-backbone", "lpips-vgg-backbone"),
    "inception": ("inception-v3-compat", "pytorch-fid-inception"),
}


def weights_dir() -> Path:
    """Folder where weights are looked for and downloaded: ``$WETOK_BENCH_WEIGHTS``, else
    ``<home>/weights`` (point ``WETOK_BENCH_WEIGHTS`` at a shared read-only folder on clusters)."""
    explicit = os.environ.get("WETOK_BENCH_WEIGHTS")
    return Path(explicit).expanduser() if explicit else home_dir() / "weights"


def offline() -> bool:
    """True when downloads are disabled (``WETOK_BENCH_OFFLINE`` or ``HF_HUB_OFFLINE`` set)."""
    return any(os.environ.get(v, "") not in ("", "0") for v in ("WETOK_BENCH_OFFLINE", "HF_HUB_OFFLINE"))


def get_weights_file(name: str) -> WeightsFile:
    try:
        return KNOWN_WEIGHTS[name]
    except KeyError:
        raise UsageError(f"unknown weights {name!r}{closest(name, list(KNOWN_WEIGHTS) + list(WEIGHT_GROUPS))} "
                         f"(groups: {', '.join(WEIGHT_GROUPS)}; every file: `wetok-bench weights list`)") from None


def candidate_paths(spec: WeightsFile) -> list[Path]:
    """Local places searched for ``spec``, in order (explicit paths are not included)."""
    import torch.hub

    return [weights_dir() / spec.filename, Path(torch.hub.get_dir()) / "checkpoints" / spec.filename]


def find_local(spec: WeightsFile) -> Path | None:
    """The first verified local copy of ``spec``, or None."""
    for path in candidate_paths(spec):
        if path.is_file() and verify(spec, path):
            return path
    return None


def verify(spec: WeightsFile, path: Path) -> bool:
    """True when ``path`` matches the recorded sha256 (or its prefix); cached per size+mtime."""
    if spec.sha256 is None and spec.sha256_prefix is None:
        return path.stat().st_size > 0
    digest = cached_sha256(path)
    if spec.sha256 is not None:
        return digest == spec.sha256
    return digest.startswith(spec.sha256_prefix or "")


def expected_checksum(spec: WeightsFile) -> str:
    """The recorded sha256 of ``spec`` as shown in messages (a prefix is marked as such)."""
    return spec.sha256 or (f"{spec.sha256_prefix}... (prefix)" if spec.sha256_prefix else "not recorded")


def corrupt_copies(spec: WeightsFile) -> list[tuple[Path, str]]:
    """``(path, its sha256)`` of every local candidate that exists but fails verification."""
    return [(p, cached_sha256(p)) for p in candidate_paths(spec) if p.is_file() and not verify(spec, p)]


def corrupt_message(spec: WeightsFile, copies: list[tuple[Path, str]]) -> str:
    """Error text for weights that are present but fail their checksum (never "not found")."""
    found = "; ".join(f"{path} has sha256 {digest}" for path, digest in copies)
    return (
        f"weights '{spec.name}' ({spec.filename}) are present but corrupt: {found}, expected {expected_checksum(spec)}; "
        f"delete the file and run `wetok-bench weights fetch {spec.name}` where there is network, "
        f"or put a good copy from {spec.url} in {weights_dir()}"
    )


def unavailable_message(spec: WeightsFile) -> str:
    """Why no verified copy of ``spec`` is available: present but corrupt (both hashes), or not found."""
    corrupt = corrupt_copies(spec)
    return corrupt_message(spec, corrupt) if corrupt else missing_message(spec)


def missing_message(spec: WeightsFile) -> str:
    checksum = expected_checksum(spec)
    return (
        f"weights '{spec.name}' ({spec.filename}) not found and could not be downloaded; "
        f"download {spec.url} (sha256 {checksum}) and put it in {weights_dir()} "
        f"(the weights folder: $WETOK_BENCH_WEIGHTS, else $WETOK_BENCH_HOME/weights), or pass its path, "
        f"or run `wetok-bench weights fetch {spec.name}` "
        f"where there is network"
    )


def resolve_weights(name: str, path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Path of weights ``name``: explicit ``path``, local copies, then a download.

    Raises :class:`MissingWeightsError` (with what to download and where to put it) when none
    is found, and :class:`UsageError` when an explicit path is missing or fails its checksum.
    """
    spec = get_weights_file(name)
    if path is not None:
        explicit = expand_path(os.fspath(path))
        if not explicit.is_file():
            raise UsageError(f"weights file for '{name}' not found: {explicit}")
        if spec.sha256 is not None and not verify(spec, explicit):
            raise UsageError(
                f"weights file {explicit} is present but corrupt: its sha256 {cached_sha256(explicit)} does not match "
                f"the sha256 of '{name}' ({expected_checksum(spec)})"
            )
        return explicit
    found = find_local(spec)
    if found is not None:
        return found
    if download and not offline():
        try:
            return fetch(spec)
        except OSError:
            pass
    raise MissingWeightsError(unavailable_message(spec))


def fetch(spec: WeightsFile, timeout: float = 30.0) -> Path:
    """Download ``spec`` into :func:`weights_dir` atomically and verify it; returns the path."""
    target_dir = weights_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / spec.filename
    fd, tmp_name = tempfile.mkstemp(dir=target_dir, prefix=f".{spec.filename}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        tmp = Path(tmp_name)
        if not verify(spec, tmp):
            raise OSError(f"downloaded {spec.url} does not match its recorded sha256")
        digest = cached_sha256(tmp)
        os.replace(tmp, target)
        remember_sha256(target, digest)
        return target
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def expand_names(names: list[str]) -> list[str]:
    """Registry names with group aliases (``taef2``, ``lpips``, ``inception``, ``all``) expanded."""
    out: list[str] = []
    for name in names:
        if name == "all":
            out.extend(KNOWN_WEIGHTS)
        elif name in WEIGHT_GROUPS:
            out.extend(WEIGHT_GROUPS[name])
        else:
            out.append(get_weights_file(name).name)
    return list(dict.fromkeys(out))


HF_PREFIX = "hf://"


def resolve_checkpoint(location: str | os.PathLike, *, what: str = "checkpoint", download: bool = True) -> Path:
    """Local path of a tokenizer checkpoint given as a path or ``hf://owner/repo/path/in/repo``.

    Paths expand ``~`` and ``${VAR}``. ``hf://`` locations are looked up in the Hugging Face
    cache first and downloaded only when online; when neither works the error names the repo,
    the file and how to place it offline. ``download=False`` only looks locally.
    """
    text = os.fspath(location)
    if not text.startswith(HF_PREFIX):
        path = expand_path(text)
        if not path.exists():
            raise UsageError(f"{what} not found: {path}")
        return path
    parts = text[len(HF_PREFIX):].split("/")
    if len(parts) < 3:
        raise UsageError(f"{what} {text!r}: expected hf://OWNER/REPO/PATH/IN/REPO")
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
    local_copy = weights_dir() / repo_id.replace("/", "--") / filename
    if local_copy.is_file():
        return local_copy
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover - diffusers depends on huggingface_hub
        hf_hub_download = None
    if hf_hub_download is not None:
        for local_only in (True, False):
            if not local_only and (offline() or not download):
                break
            try:
                return Path(hf_hub_download(repo_id, filename, local_files_only=local_only))
            except Exception:  # noqa: BLE001 - any hub failure means "not available here"
                continue
    raise MissingWeightsError(
        f"{what} {text} is not in the Hugging Face cache and could not be downloaded; "
        f"download https://huggingface.co/{repo_id}/resolve/main/{filename} and put it at "
        f"{local_copy} (or give its local path in the suite)"
    )


def checkpoint_present(location: str) -> bool:
    """Whether a checkpoint location is available locally, without downloading anything.

    Paths must exist; ``hf://owner/repo/file`` must be in the Hugging Face cache (or under the
    weights folder); ``hf://owner/repo[/subfolder]`` (a repo or folder, as diffusers and Cosmos
    cards name them) needs a snapshot of that repo in the cache.
    """
    try:
        resolve_checkpoint(location, download=False)
        return True
    except (UsageError, MissingWeightsError):
        pass
    text = os.fspath(location)
    if not text.startswith(HF_PREFIX):
        return False
    owner_repo = text[len(HF_PREFIX):].split("/")[:2]
    if len(owner_repo) < 2:
        return False
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover
        return False
    snapshots = Path(constants.HF_HUB_CACHE) / f"models--{owner_repo[0]}--{owner_repo[1]}" / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())
