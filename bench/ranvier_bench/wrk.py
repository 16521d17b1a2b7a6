"""Running the ``wrk`` HTTP load generator and parsing its report.

The aiohttp client in the bench process costs far more CPU per request than a fast server, so
for the cheapest endpoints it, not the server, limits throughput. ``wrk`` (C, epoll) removes
most of that bias. It is optional: scenarios using it are skipped when ``wrk`` is not on PATH.

``wrk --latency`` prints lines the parser relies on::

      Latency Distribution
         50%    4.11ms
         99%   11.80ms
      6028 requests in 3.00s, 11.60MB read
      Non-2xx or 3xx responses: 12          (only when there were some)
      Socket errors: connect 0, read 0, write 0, timeout 3   (only when there were some)
    Requests/sec:   2006.21
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from dataclasses import dataclass

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_PCT = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+(\d+(?:\.\d+)?)(us|ms|s|m)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in (\d+(?:\.\d+)?)(us|ms|s|m),", re.MULTILINE)
_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True, slots=True)
class WrkReport:
    """What the bench uses from one wrk run."""

    requests: int
    seconds: float
    percentiles_ms: dict[float, float]
    non_2xx: int
    socket_errors: int

    @property
    def throughput(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def parse_wrk(text: str) -> WrkReport:
    """Parse ``wrk --latency`` output; ``ValueError`` when the totals line is missing."""
    total = _TOTAL.search(text)
    if total is None:
        raise ValueError(f"no 'N requests in T' line in wrk output:\n{text}")
    seconds = float(total.group(2)) * _UNITS_MS[total.group(3)] / 1000.0
    pcts = {
        float(m.group(1)): float(m.group(2)) * _UNITS_MS[m.group(3)] for m in _PCT.finditer(text)
    }
    non_2xx = _NON2XX.search(text)
    sock = _SOCKET.search(text)
    return WrkReport(
        requests=int(total.group(1)),
        seconds=seconds,
        percentiles_ms=pcts,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(x) for x in sock.groups()) if sock else 0,
    )


def wrk_path() -> str | None:
    """The wrk executable, or None."""
    return shutil.which("wrk")


async def run_wrk(
    url: str, *, seconds: float, connections: int, headers: dict[str, str] | None = None
) -> WrkReport:
    """Run wrk (one thread) against ``url`` and return its parsed report."""
    binary = wrk_path()
    if binary is None:
        raise FileNotFoundError("wrk is not installed")
    argv = [
        binary,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), seconds + 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {text}")
    return parse_wrk(text)
