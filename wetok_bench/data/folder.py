"""``folder``: any folder of images, keys = paths relative to the root, sorted.

Files are chosen by extension (:data:`~wetok_bench.data.images.IMAGE_EXTENSIONS`, or the
suite's ``extensions``), case-insensitively; other files are ignored. Hidden files and folders
(names starting with ``.``) are skipped, so ``.DS_Store``, ``._x.jpg`` resource forks and
``.ipynb_checkpoints`` never become images. Symbolic links are followed, each folder once: a
link back to a folder already walked (a loop such as ``ln -s . again``) is not entered again and
is named in the dataset's warnings; a file link that leads nowhere (broken, or a loop) is listed
as missing, so it becomes a recorded skip of every job.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from wetok_bench.core.errors import UsageError
from wetok_bench.core.params import Param, declare
from wetok_bench.data.base import Dataset, ImageRecord, expand_path, relative_key, require_dir
from wetok_bench.data.images import IMAGE_EXTENSIONS


def normalise_extensions(extensions: Iterable[str] | None) -> frozenset[str]:
    """Lower-case ``.ext`` set; None means every known image extension."""
    if extensions is None:
        return IMAGE_EXTENSIONS
    if isinstance(extensions, str):
        extensions = [extensions]
    result = set()
    for ext in extensions:
        if not isinstance(ext, str) or not ext.strip(". "):
            raise UsageError(f"extensions must be strings such as '.png' or 'jpg', got {ext!r}")
        result.add("." + ext.strip().lstrip(".").lower())
    return frozenset(result)


def _folder_id(path: str) -> tuple[int, int] | None:
    """(device, inode) of the folder ``path`` leads to; None when it cannot be read."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _image_files(root: Path, recursive: bool, extensions: frozenset[str],
                 loops: list[str] | None = None) -> Iterator[Path]:
    """Image files under ``root``, every folder walked once (``loops`` collects the links that lead
    back to a folder already walked)."""
    seen = {_folder_id(str(root))}
    for directory, subdirs, files in os.walk(root, followlinks=True):
        keep = []
        for name in (d for d in subdirs if not d.startswith(".")) if recursive else ():
            target = _folder_id(os.path.join(directory, name))
            if target in seen:
                if loops is not None:
                    loops.append(os.path.relpath(os.path.join(directory, name), root))
                continue
            seen.add(target)
            keep.append(name)
        subdirs[:] = keep
        for filename in files:
            if not filename.startswith(".") and os.path.splitext(filename)[1].lower() in extensions:
                yield Path(directory) / filename


def scan_image_files(root: Path, *, recursive: bool = True, extensions: frozenset[str] = IMAGE_EXTENSIONS,
                     loops: list[str] | None = None) -> list[Path]:
    """Image files under ``root`` (not hidden, extension in ``extensions``), sorted by relative
    path; ``loops`` collects the folder links not entered again (see the module doc)."""
    return sorted(_image_files(root, recursive, extensions, loops), key=lambda p: relative_key(p, root))


def check_has_images(spec: dict) -> list[tuple[str, str]]:
    """Suite-time check of an entry's ``root``: a folder with at least one image file."""
    root = Path(os.fspath(spec["root"])).expanduser()
    extensions = normalise_extensions(spec.get("extensions"))
    if next(_image_files(root, bool(spec.get("recursive", True)), extensions), None) is None:
        return [("root", f"no image files ({', '.join(sorted(extensions))}) in {root}")]
    return []


@declare(
    Param("root", str, None, path="dir", required=True, doc="folder of image files"),
    Param("recursive", bool, True, doc="look into subfolders"),
    Param("extensions", (list, str), None, items=str, doc="file extensions (null: every known image type)"),
    check_files=check_has_images,
)

class FolderDataset(Dataset):
    """Every image file under ``root`` (recursively unless ``recursive=False``)."""

    kind = "folder"

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        name: str | None = None,
        recursive: bool = True,
        extensions: list[str] | None = None,
    ) -> None:
        path = require_dir(expand_path(root, what="folder root"), what="image folder", expected="a folder of image files")
        super().__init__(name, path)
        self.recursive = bool(recursive)
        self.extensions = normalise_extensions(extensions)

    def _scan(self) -> list[ImageRecord]:
        loops: list[str] = []
        files = scan_image_files(self.root, recursive=self.recursive, extensions=self.extensions, loops=loops)
        if loops:
            self._warnings.append(f"{len(loops)} folder link(s) lead back to a folder already listed and were not "
                                  f"entered again (each image counts once): {', '.join(sorted(loops)[:5])}")
        records = []
        for path in files:
            key = relative_key(path, self.root)
            if os.path.exists(path):
                records.append(ImageRecord(key, path, {}))
            else:  # a broken link or a link loop: a recorded skip, not a crash while reading
                self._missing.append((key, "a symbolic link that leads to no file (broken, or a loop)"))
        return records
