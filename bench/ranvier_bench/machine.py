"""Facts about the machine and the software under test, recorded with every result file."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def _first(path: str, key: str, sep: str = ":") -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key) and sep in line:
                return line.split(sep, 1)[1].strip().strip('"')
    except OSError:
        return None
    return None


def _output(*argv: str, cwd: Path | None = None) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return (done.stdout or done.stderr).strip()


def machine_info() -> dict[str, Any]:
    """CPU model, core count, RAM, kernel and OS."""
    mem = _first("/proc/meminfo", "MemTotal")
    return {
        "cpu_model": _first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "ram_mib": int(mem.split()[0]) // 1024 if mem else None,
        "kernel": platform.release(),
        "os": _first("/etc/os-release", "PRETTY_NAME", "="),
    }


def git_revision(repo: Path) -> str:
    """Short git revision of ``repo``, with ``-dirty`` when tracked files changed."""
    rev = _output("git", "rev-parse", "--short", "HEAD", cwd=repo) or "unknown"
    dirty = _output("git", "status", "--porcelain", "--untracked-files=no", cwd=repo)
    return rev + ("-dirty" if dirty else "")


def versions(repo: Path, synapse_python: Path | None) -> dict[str, Any]:
    """Python, Synapse, ranvier (git) and wrk versions."""
    info: dict[str, Any] = {
        "bench_python": platform.python_version(),
        "ranvier_git": git_revision(repo),
    }
    if synapse_python is not None:
        info["synapse"] = _output(
            str(synapse_python),
            "-c",
            "import importlib.metadata as m; print(m.version('matrix-synapse'))",
            cwd=Path("/"),
        )
        info["synapse_python"] = _output(
            str(synapse_python), "-c", "import platform; print(platform.python_version())"
        )
    wrk = _output("sh", "-c", "command -v wrk >/dev/null && wrk -v 2>&1 | head -n 1; true")
    info["wrk"] = wrk or None
    return info


def source_digest(repo: Path) -> str:
    """A short SHA-256 over ranvier's source files (``ranvier/**/*.py`` and ``*.sql``).

    The git revision does not see uncommitted edits; this digest does, so the report can
    warn when the code under test changed between runs.
    """
    digest = hashlib.sha256()
    package = repo / "ranvier"
    files = sorted(p for p in package.rglob("*") if p.suffix in (".py", ".sql") and p.is_file())
    for path in files:
        digest.update(str(path.relative_to(repo)).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            continue
        digest.update(b"\0")
    return digest.hexdigest()[:12]
