"""Running the ``ranvier`` command as a real subprocess, as an operator would."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
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


class RunningServer:
    """``ranvier run`` (or another command that execs it) as a child process."""

    def __init__(self, argv: list[str], port: int, cwd: Path | None = None) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def wait_ready(self, timeout: float = 30, scheme: str = "http") -> None:
        """Poll until the port accepts connections; fail with the output if it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.output()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.proc.kill()
        raise AssertionError(f"server not listening after {timeout}s:\n{self.output()}")

    def terminate(self, timeout: float = 15) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def output(self) -> str:
        """Everything the process printed (only after it exited)."""
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stdout is not None
        return self.proc.stdout.read()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def run_server(config: Path, port: int, *extra: str) -> RunningServer:
    """Start ``ranvier run --config CONFIG --http-bind-address 127.0.0.1:PORT EXTRA``."""
    argv = [sys.executable, "-m", "ranvier.cli.main", "run", "--config", str(config)]
    if not any(a.startswith("--http-bind-address") for a in extra):
        argv += ["--http-bind-address", f"127.0.0.1:{port}"]
    return RunningServer([*argv, *extra], port)
