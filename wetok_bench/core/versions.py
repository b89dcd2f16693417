"""What produced a result: library versions and the wetok-bench git commit."""

from __future__ import annotations

import contextlib
import platform
import subprocess
from pathlib import Path

#: The wetok-bench version (the package's ``__version__``; recorded in every result).
__version__ = "0.1.0"

#: Packages whose versions a manifest records.
PACKAGES = ("torch", "torchvision", "torch-fidelity", "clean-fid", "lpips", "scikit-image", "numpy", "Pillow",
            "diffusers", "safetensors")


def library_versions() -> dict[str, str]:
    """wetok-bench, Python and every installed package of :data:`PACKAGES`, name -> version."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"wetok-bench": __version__, "python": platform.python_version()}
    for package in PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            out[package] = version(package)
    return out


def git_commit(repo: Path | None = None) -> str | None:
    """Commit of the wetok-bench checkout when it runs from one (``+dirty`` with local changes;
    None for an installed wheel; ``repo``: another checkout). Read without git's optional locks (``--no-optional-locks``):
    ``git status`` would otherwise refresh the index and take ``.git/index.lock``, which can
    collide with the user's own git commands in that checkout."""
    here = Path(repo) if repo is not None else Path(__file__).resolve().parents[2]
    if not (here / ".git").exists():
        return None
    with contextlib.suppress(Exception):
        result = subprocess.run(["git", "--no-optional-locks", "-C", str(here), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=5)
        if result.returncode == 0:
            dirty = subprocess.run(["git", "--no-optional-locks", "-C", str(here), "status", "--porcelain",
                                    "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return result.stdout.strip() + ("+dirty" if dirty else "")
    return None
