"""The files a report wrote, so that writing a report again into the same folder replaces them.

``report --out DIR`` records every file it writes in ``DIR/report_files.json`` (paths relative
to ``DIR``). The next report into ``DIR`` first removes exactly those files (and the report's
own sub-folders when they are left empty), never anything else: a reader's notes, or files
another tool put there, stay. A file counts as written by the report when it is new or changed
(size or modification time) after the report ran.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

MANIFEST_FILE = "report_files.json"


def _files(out: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (size, mtime_ns) of every file under ``out``."""
    found = {}
    for path in out.rglob("*"):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            found[path.relative_to(out).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def remove_previous(out: Path) -> dict[str, tuple[int, int]]:
    """Remove the files the previous report listed; returns the files left (the snapshot to compare with)."""
    manifest = out / MANIFEST_FILE
    if manifest.is_file():
        try:
            listed = json.loads(manifest.read_text()).get("files", [])
        except (OSError, ValueError, AttributeError) as error:
            log.warning("%s is unreadable (%s): previous report files are left in place", manifest, error)
            listed = []
        root = out.resolve()
        for name in listed:
            path = (out / str(name)).resolve()
            if root not in path.parents or not path.is_file():
                continue  # only plain files inside the folder, as written
            path.unlink()
            parent = path.parent
            while parent != root and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
        manifest.unlink(missing_ok=True)  # it lists itself
    return _files(out) if out.is_dir() else {}


def record_written(out: Path, before: dict[str, tuple[int, int]]) -> list[str]:
    """Write ``report_files.json`` listing the files new or changed since ``before``; returns them."""
    written = sorted(name for name, stat in _files(out).items() if before.get(name) != stat)
    written = [name for name in written if name != MANIFEST_FILE]
    (out / MANIFEST_FILE).write_text(json.dumps({"files": written + [MANIFEST_FILE]}, indent=1) + "\n")
    return written
