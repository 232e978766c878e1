"""What produced an output: cpaudit's version and commit, the libraries' versions, Python, the platform and the
device. Every results.json, run.json and trained model's config records it under "provenance" (issue 36,
"Provenance"), so a figure can be traced to the code and the machine that computed it.

Nothing here may fail a run: a missing library, a missing git, or a package installed outside a checkout each
read as None. Versions come from the installed distributions' metadata, so no library is imported to read its
version.
"""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

# Distribution names whose version is recorded, by the name results.json gives them. faiss is published under
# several distribution names (the import name is always `faiss`); the first installed one is recorded.
LIBRARIES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "diffusers": ("diffusers",),
    "transformers": ("transformers",),
    "faiss": ("faiss-cpu", "faiss-gpu", "faiss-gpu-cu12", "faiss-gpu-cu11", "faiss"),
    "numpy": ("numpy",),
}
GIT_TIMEOUT_S = 5.0  # a hung git (a network filesystem, a credential prompt) must not hold up a run


def provenance(device: torch.device | str) -> dict:
    """The provenance record of an output computed on `device` (cpaudit/schemas/results.schema.json, $defs/provenance)."""
    commit, dirty = git_state()
    return {
        "cpaudit_version": cpaudit_version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "libraries": library_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device_record(torch.device(device)),
    }


def cpaudit_version() -> str:
    """The installed distribution's version; cpaudit.version.__version__ where cpaudit runs uninstalled."""
    try:
        return metadata.version("cpaudit")
    except metadata.PackageNotFoundError:
        from cpaudit.version import __version__

        return __version__


def library_versions() -> dict[str, str | None]:
    """Each library's installed version, None where it is not installed."""
    return {name: _first_installed(dists) for name, dists in LIBRARIES.items()}


def _first_installed(dists: tuple[str, ...]) -> str | None:
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


@functools.lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """(HEAD commit, whether tracked files differ from it) when cpaudit is imported from a git checkout, else
    (None, None). Cached: a process runs one checkout's code however many outputs it writes."""
    return checkout_state(Path(__file__).resolve().parent)


def checkout_state(package_dir: Path) -> tuple[str | None, bool | None]:
    """The git state of the checkout holding `package_dir`, where the package's own files are tracked there:
    a package installed into a virtual environment that lies inside some checkout is not from that checkout."""
    if _git(package_dir, "ls-files", "--error-unmatch", "__init__.py") is None:
        return None, None
    commit = _git(package_dir, "rev-parse", "HEAD")
    if commit is None:
        return None, None
    changes = _git(package_dir, "status", "--porcelain", "--untracked-files=no")
    return commit, None if changes is None else changes != ""


def _git(cwd: Path, *args: str) -> str | None:
    """git's stripped stdout, or None on any failure (no git, not a checkout, a timeout)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def device_record(device: torch.device) -> dict:
    """{"type", "name"}: the GPU's name for cuda, the CPU's brand (and architecture) otherwise."""
    if device.type == "cuda":
        try:
            return {"type": "cuda", "name": torch.cuda.get_device_name(device)}
        except (RuntimeError, AssertionError):  # CUDA unavailable: the record still says what was asked for
            return {"type": "cuda", "name": str(device)}
    return {"type": device.type, "name": cpu_name()}


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    """'AMD EPYC 7B13 (x86_64)': Linux's /proc/cpuinfo model name, else platform.processor(), with the architecture."""
    arch = platform.machine() or "unknown architecture"
    brand = _proc_cpuinfo_model() or platform.processor()
    return f"{brand} ({arch})" if brand and brand != arch else arch


def _proc_cpuinfo_model() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return None
