"""Running the ``ranvier`` command as a real subprocess, as an operator would."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def ranvier(
    *args: str, cwd: Path | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m ranvier.cli.main ARGS`` with this interpreter; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "ranvier.cli.main", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_config(directory: Path, server_name: str = "localhost", **extra: str) -> Path:
    """A generated config (plus low bcrypt cost for speed) and a signing key in ``directory``."""
    database = extra.pop("database", "file:ranvier.db")
    out = ranvier(
        "generate-config", "--server-name", server_name, "--database", database,
        "--output", str(directory / "ranvier.yaml"),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = (directory / "ranvier.yaml").read_text().replace("bcrypt_cost: 10", "bcrypt_cost: 4")
    (directory / "ranvier.yaml").write_text(text)
    out = ranvier("generate-keys", "--private-key", str(directory / "matrix_key.pem"))
    assert out.returncode == 0, out.stderr
    return directory / "ranvier.yaml"
