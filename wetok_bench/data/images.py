"""Reading image files into RGB, whatever their mode.

Every loader in the harness goes through :func:`load_rgb`, so odd files are handled one way:
grayscale, CMYK, palette and 16-bit images are converted to 8-bit RGB; alpha is dropped (as
PIL's ``convert("RGB")`` does, which is what torch-fidelity, clean-fid and the WeTok script
see); EXIF orientation is not applied (the reference implementations do not apply it either).
Unreadable files raise :class:`ImageError` with the reason, which callers record as a skip
instead of crashing or dropping the file silently: ``empty file (0 bytes)``, ``not a recognised
image format`` (e.g. a text file named ``.jpg``), ``corrupt or truncated image (...)``,
``file not found``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

#: File extensions treated as images when scanning folders (lower case).
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".gif", ".jfif"})


class ImageError(Exception):
    """An image file that cannot be read; ``str()`` is the reason recorded with the skip."""


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # PIL's convert("RGB") clips wide integer/float modes at 255 instead of rescaling.
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        if mode == "F" and array.max(initial=0) <= 1.0:
            peak = 1.0
        array = np.clip(np.round(array / peak * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(array, mode="L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def load_rgb(path: str | Path) -> Image.Image:
    """The image at ``path`` as an 8-bit RGB PIL image (fully decoded).

    Raises:
        ImageError: the file is missing, not an image, corrupt or truncated.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:  # PIL would only say "cannot identify image file"
            raise ImageError("empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                if getattr(image, "n_frames", 1) > 1:
                    image.seek(0)
                return _to_rgb(image).copy()
    except FileNotFoundError:
        raise ImageError("file not found") from None
    except UnidentifiedImageError:
        raise ImageError("not a recognised image format") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"corrupt or truncated image ({error})") from None


def pil_to_u8_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> uint8 tensor 3 x H x W."""
    return torch.from_numpy(np.array(image, dtype=np.uint8, copy=True)).permute(2, 0, 1).contiguous()


def load_u8(path: str | Path) -> torch.Tensor:
    """The image at ``path`` as a uint8 tensor 3 x H x W (no resizing); see :func:`load_rgb`."""
    return pil_to_u8_tensor(load_rgb(path))
