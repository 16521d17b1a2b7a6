"""CPU time and memory of a server's whole process tree, read from Linux ``/proc``.

Theory of operation
-------------------
A homeserver may be one process (ranvier, Synapse on SQLite) or a process with helpers
(workers, a PostgreSQL client library forking, ...). The bench therefore always measures the
*tree* rooted at the server's pid: every process whose parent chain reaches the root.

CPU: ``/proc/<pid>/stat`` fields 14-17 are ``utime``, ``stime``, ``cutime`` and ``cstime`` in
clock ticks (``SC_CLK_TCK``, usually 100 per second); they already include every thread of the
process. ``cutime``/``cstime`` hold the time of children that exited and were waited for, which
are no longer in the tree, so summing all four over the live tree counts each CPU second once,
even when a helper process ends between two samples. A measurement is the difference between a
sample taken before and one taken after the workload; its resolution is one tick per process.

Memory: ``/proc/<pid>/status`` gives ``VmRSS`` (resident now) and ``VmHWM`` (peak resident, the
"high water mark"), in kB. Tree totals are sums over the processes (for VmHWM the sum of the
per-process peaks, an upper bound of the tree's simultaneous peak; equal to it for one process).
Writing ``5`` to ``/proc/<pid>/clear_refs`` resets VmHWM to the current RSS (Linux >= 4.0, own
processes), which lets the bench report the peak *during one scenario*.

Every function takes a ``proc`` root so tests can run the parsing on a prepared directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS: int = os.sysconf("SC_CLK_TCK")
DEFAULT_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class StatFields:
    """The fields of ``/proc/<pid>/stat`` the bench uses (CPU times in clock ticks)."""

    pid: int
    comm: str
    state: str
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int

    @property
    def total_ticks(self) -> int:
        """Own plus waited-for children's user and system time, in ticks."""
        return self.utime + self.stime + self.cutime + self.cstime


@dataclass(frozen=True, slots=True)
class TreeSample:
    """One reading of a process tree: pids, CPU ticks and memory in kB."""

    pids: tuple[int, ...]
    cpu_ticks: int
    rss_kb: int
    hwm_kb: int

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the tree in seconds."""
        return self.cpu_ticks / CLOCK_TICKS


def parse_stat(text: str) -> StatFields:
    """Parse the content of ``/proc/<pid>/stat``.

    The command name (field 2) is in parentheses and may itself contain spaces and
    parentheses, so it is delimited by the first ``(`` and the *last* ``)``.
    """
    open_paren = text.index("(")
    close_paren = text.rindex(")")
    pid = int(text[:open_paren].strip())
    comm = text[open_paren + 1 : close_paren]
    rest = text[close_paren + 1 :].split()
    # rest[0] is field 3 (state); field n is rest[n - 3].
    if len(rest) < 15:
        raise ValueError(f"truncated /proc stat line for pid {pid}")
    return StatFields(
        pid=pid,
        comm=comm,
        state=rest[0],
        ppid=int(rest[1]),
        utime=int(rest[11]),
        stime=int(rest[12]),
        cutime=int(rest[13]),
        cstime=int(rest[14]),
    )


def parse_status_kb(text: str, key: str) -> int | None:
    """Return the kB value of ``key`` (e.g. ``VmRSS``) in a ``/proc/<pid>/status`` text.

    Kernel threads and zombies have no ``Vm*`` lines: None then.
    """
    prefix = key + ":"
    for line in text.splitlines():
        if line.startswith(prefix):
            parts = line[len(prefix) :].split()
            if not parts:
                return None
            value = int(parts[0])
            unit = parts[1].lower() if len(parts) > 1 else "kb"
            if unit != "kb":
                raise ValueError(f"unexpected unit {unit!r} for {key}")
            return value
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def read_stat(pid: int, proc: Path = DEFAULT_PROC) -> StatFields | None:
    """Read and parse ``/proc/<pid>/stat``; None when the process is gone."""
    text = _read(proc / str(pid) / "stat")
    return parse_stat(text) if text else None


def process_tree(root: int, proc: Path = DEFAULT_PROC) -> tuple[int, ...]:
    """Return ``root`` and all its live descendants (root first), scanning ``proc``.

    Returns an empty tuple when ``root`` does not exist.
    """
    children: dict[int, list[int]] = {}
    seen_root = False
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        fields = read_stat(int(entry.name), proc)
        if fields is None:
            continue
        if fields.pid == root:
            seen_root = True
        children.setdefault(fields.ppid, []).append(fields.pid)
    if not seen_root:
        return ()
    tree: list[int] = []
    stack = [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(sorted(children.get(pid, ()), reverse=True))
    return tuple(tree)


def sample_tree(root: int, proc: Path = DEFAULT_PROC) -> TreeSample:
    """Read CPU ticks, VmRSS and VmHWM summed over the tree rooted at ``root``.

    Raises ``ProcessLookupError`` when the root process does not exist.
    """
    pids = process_tree(root, proc)
    if not pids:
        raise ProcessLookupError(f"process {root} is not running")
    ticks = rss = hwm = 0
    for pid in pids:
        fields = read_stat(pid, proc)
        if fields is not None:
            ticks += fields.total_ticks
        status = _read(proc / str(pid) / "status")
        if status:
            rss += parse_status_kb(status, "VmRSS") or 0
            hwm += parse_status_kb(status, "VmHWM") or 0
    return TreeSample(pids=pids, cpu_ticks=ticks, rss_kb=rss, hwm_kb=hwm)


def reset_peak_rss(root: int, proc: Path = DEFAULT_PROC) -> bool:
    """Reset VmHWM of every process in the tree to its current RSS.

    Returns False when the kernel refused for some process (then peaks stay cumulative).
    """
    ok = True
    for pid in process_tree(root, proc):
        try:
            (proc / str(pid) / "clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok
