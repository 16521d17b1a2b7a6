"""The core micro-benchmarks other components ship as scripts ``bench/bench_*.py``.

For example ``bench_signing.py`` (event signing, hashing, canonical JSON; ranvier vs Synapse's
libraries), ``bench_state_res.py`` (state resolution of a big room; ranvier vs Synapse's
resolver in a subprocess), ``bench_http.py`` (the HTTP layer alone), ``bench_db.py`` (the
SQLite group commit), ``bench_state_storage.py`` (state storage bytes per event). Each compares
itself and prints its own figures; this module runs every such script, one at a time, with a
time limit, and keeps its output for the report and the results file. A script that fails or
times out is reported as failed (and makes the bench exit non-zero).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PREFERRED = ("bench_signing.py", "bench_state_res.py", "bench_http.py", "bench_db.py")


def find_scripts(bench_dir: Path) -> list[str]:
    """The ``bench_*.py`` scripts in ``bench_dir``: the well-known ones first, then the rest."""
    present = sorted(p.name for p in bench_dir.glob("bench_*.py"))
    return [n for n in PREFERRED if n in present] + [n for n in present if n not in PREFERRED]


@dataclass(frozen=True, slots=True)
class CoreResult:
    """One script's run."""

    script: str
    status: str  # "ok" or "failed"
    seconds: float
    output: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


async def run_core(
    bench_dir: Path, python: str, synapse_python: Path | None, timeout: float = 600.0
) -> list[CoreResult]:
    """Run each existing core script with ``python`` and collect its output."""
    results: list[CoreResult] = []
    env = dict(os.environ)
    if synapse_python is not None:
        env.setdefault("RANVIER_SYNAPSE_PYTHON", str(synapse_python))
    for name in find_scripts(bench_dir):
        path = bench_dir / name
        t0 = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            python,
            str(path),
            cwd=bench_dir.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            await _kill(proc)
            results.append(CoreResult(name, "failed", timeout, f"(no result in {timeout:.0f} s)"))
            continue
        except BaseException:
            await _kill(proc)
            raise
        status = "ok" if proc.returncode == 0 else "failed"
        text = out.decode(errors="replace")
        if status == "failed":
            text += f"\n(exit status {proc.returncode})"
        results.append(CoreResult(name, status, time.monotonic() - t0, text.strip()))
    return results


async def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
