"""``samples``: real photos that ship inside installed packages, so a demo needs no download.

Sources (all RGB, none needs pooch or the network): scikit-image's ``skimage.data`` astronaut,
chelsea, coffee, rocket, hubble_deep_field, retina, immunohistochemistry, colorwheel and the
two views of ``stereo_motorcycle`` (``motorcycle_left``, ``motorcycle_right``), and
matplotlib's sample ``grace_hopper.jpg``.

They are written once as lossless PNG files (atomically, so parallel ranks can race safely)
under ``<WETOK_BENCH_HOME>/cache/samples/<tag>/``, where ``<tag>`` is a hash of the
scikit-image, matplotlib and Pillow versions: the bundled JPEGs decode the same way for the
same versions, so the files, and the dataset fingerprint, are the same on every machine with
those versions, and a version change starts a fresh folder instead of mixing files. The cache is
not trusted blindly: each file's sha256, recorded when it was written, is checked on every use,
and a file that fails is re-extracted (see :func:`materialise`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from wetok_bench.core.errors import UsageError
from wetok_bench.core.hashing import sha256_file, sha256_json
from wetok_bench.core.params import Param, declare
from wetok_bench.data.base import Dataset, ImageRecord, unknown_names_message

logger = logging.getLogger(__name__)


def _skimage(name: str, index: int | None = None) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        value = getattr(skimage.data, name)()
        return value[index] if index is not None else value

    return load


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


#: Sample name -> function returning the photo as uint8 H x W x 3.
SAMPLE_SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "colorwheel": _skimage("colorwheel"),
    "grace_hopper": _grace_hopper,
    "hubble_deep_field": _skimage("hubble_deep_field"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "motorcycle_left": _skimage("stereo_motorcycle", 0),
    "motorcycle_right": _skimage("stereo_motorcycle", 1),
    "retina": _skimage("retina"),
    "rocket": _skimage("rocket"),
}


def sample_names() -> list[str]:
    """Every available sample name, sorted."""
    return sorted(SAMPLE_SOURCES)


def source_versions() -> dict[str, str]:
    """Versions of the packages the sample pixels depend on."""
    import matplotlib
    import PIL
    import skimage

    return {"scikit-image": skimage.__version__, "matplotlib": matplotlib.__version__, "Pillow": PIL.__version__}


def samples_dir() -> Path:
    """``<WETOK_BENCH_HOME>/cache/samples/<tag of the source versions>``."""
    from wetok_bench.core.paths import home_dir

    return home_dir() / "cache" / "samples" / sha256_json(source_versions())[:12]


def write_png_atomic(array: np.ndarray, path: Path) -> None:
    """Write uint8 H x W x 3 ``array`` as PNG at ``path`` via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp", delete=False)
    try:
        with handle:
            Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), mode="RGB").save(handle, format="PNG")
        os.chmod(handle.name, 0o644)  # a shared cache: readable by others, unlike mkstemp's 0600
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _source_array(name: str) -> np.ndarray:
    array = SAMPLE_SOURCES[name]()
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise UsageError(f"sample {name!r} is not an RGB uint8 photo (got {array.dtype} {array.shape})")
    return array


def _decodes_to(path: Path, array: np.ndarray) -> bool:
    """Whether the PNG at ``path`` decodes to exactly ``array``."""
    try:
        with Image.open(path) as image:
            return bool(np.array_equal(np.asarray(image.convert("RGB")), array))
    except Exception:  # noqa: BLE001 - any failure to decode means "not the sample"
        return False


def _write_digest(record: Path, digest: str) -> None:
    handle = tempfile.NamedTemporaryFile("w", dir=record.parent, prefix=f".{record.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(digest + "\n")
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, record)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def materialise(name: str, folder: Path) -> Path:
    """The PNG file of sample ``name`` in ``folder``, written on first use and verified on every use.

    Beside ``<name>.png`` the cache keeps ``<name>.png.sha256``, the file's sha256 recorded when it
    was written from its source package. A file whose sha256 differs (damaged on disk, edited) is
    re-extracted from the source, with a warning naming both hashes. A file without a record (a
    cache from before records were kept) is checked once against the source's pixels.
    """
    path = folder / f"{name}.png"
    record = folder / f"{name}.png.sha256"
    if path.is_file():
        digest = sha256_file(path)
        try:
            expected = record.read_text().strip()
        except OSError:
            expected = None
        if expected == digest:
            return path
        array = _source_array(name)
        if expected is None and _decodes_to(path, array):
            _write_digest(record, digest)
            return path
        logger.warning(
            "sample %r: cached file %s is corrupt (sha256 %s, %s); re-extracting it from its source package",
            name, path, digest, f"recorded {expected}" if expected else "pixels differ from the source",
        )
    else:
        array = _source_array(name)
    write_png_atomic(array, path)
    _write_digest(record, sha256_file(path))
    return path


@declare(Param("names", (list, str), None, choices=tuple(sorted(SAMPLE_SOURCES)), items=str, doc="a subset of the photos (null: all)"))
class SamplesDataset(Dataset):
    """The bundled photos (all, or ``names``) as PNG files in the samples cache."""

    kind = "samples"

    def __init__(self, *, name: str | None = None, names: list[str] | None = None) -> None:
        if isinstance(names, str):
            names = [names]
        if names is not None:
            unknown = [n for n in names if n not in SAMPLE_SOURCES]
            if unknown:
                raise UsageError(unknown_names_message("sample names", unknown, sample_names()) + f" (available: {', '.join(sample_names())})")
            if not names:
                raise UsageError("samples: names is empty; omit it to use every sample")
        self.names = sorted(set(names)) if names is not None else sample_names()
        super().__init__(name, samples_dir())

    def _scan(self) -> list[ImageRecord]:
        return [ImageRecord(f"{n}.png", materialise(n, self.root), {"source": n}) for n in self.names]

    def _fingerprint_extra(self) -> dict:
        return {"versions": source_versions()}
