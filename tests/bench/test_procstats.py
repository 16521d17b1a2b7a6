"""/proc parsing and process-tree accounting of the bench harness.

The parsing is checked on a prepared /proc-like directory (exact sums known), and the tree
accounting on real processes: a shell with a CPU-burning child, and peak-RSS reset.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ranvier_bench import procstats


def _stat_line(pid: int, comm: str, ppid: int, utime: int, stime: int, cu: int, cs: int) -> str:
    # fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    #              utime stime cutime cstime priority nice ...
    rest = ["S", ppid, pid, pid, 0, -1, 4194304, 10, 0, 0, 0, utime, stime, cu, cs, 20, 0, 1]
    return f"{pid} ({comm}) " + " ".join(str(x) for x in rest) + "\n"


def _status(rss_kb: int | None, hwm_kb: int | None) -> str:
    lines = ["Name:\tx", "State:\tS (sleeping)"]
    if hwm_kb is not None:
        lines.append(f"VmHWM:\t{hwm_kb:>8} kB")
    if rss_kb is not None:
        lines.append(f"VmRSS:\t{rss_kb:>8} kB")
    lines.append("Threads:\t3")
    return "\n".join(lines) + "\n"


def _make_proc(
    root: Path, procs: list[tuple[int, int, int, int, int, int | None, int | None]]
) -> None:
    for pid, ppid, utime, stime, cutime, rss, hwm in procs:
        d = root / str(pid)
        d.mkdir()
        (d / "stat").write_text(_stat_line(pid, f"srv {pid} (x)", ppid, utime, stime, cutime, 1))
        (d / "status").write_text(_status(rss, hwm))
    (root / "self").mkdir()  # non-numeric entries are ignored


def test_parse_stat_with_awkward_command_name() -> None:
    fields = procstats.parse_stat(_stat_line(42, "a) (b c", 7, 11, 22, 33, 44))
    assert fields.pid == 42
    assert fields.comm == "a) (b c"
    assert fields.ppid == 7
    assert (fields.utime, fields.stime, fields.cutime, fields.cstime) == (11, 22, 33, 44)
    assert fields.total_ticks == 110


def test_parse_stat_rejects_truncated_line() -> None:
    with pytest.raises(ValueError):
        procstats.parse_stat("42 (x) S 1 2 3")


def test_parse_status_kb() -> None:
    text = _status(1234, 5678)
    assert procstats.parse_status_kb(text, "VmRSS") == 1234
    assert procstats.parse_status_kb(text, "VmHWM") == 5678
    assert procstats.parse_status_kb(text, "VmSwap") is None
    assert procstats.parse_status_kb(_status(None, None), "VmRSS") is None


def test_tree_sums_descendants_only(tmp_path: Path) -> None:
    _make_proc(
        tmp_path,
        [
            # pid, ppid, utime, stime, cutime, rss, hwm
            (100, 1, 50, 10, 5, 1000, 1500),
            (101, 100, 20, 2, 0, 300, 400),
            (102, 100, 7, 1, 0, 200, 250),
            (103, 101, 3, 0, 0, 100, 100),
            (200, 1, 999, 999, 0, 9999, 9999),  # unrelated process
            (104, 103, 1, 1, 0, None, None),  # a zombie: no Vm lines
        ],
    )
    assert procstats.process_tree(100, tmp_path) == (100, 101, 103, 104, 102)
    sample = procstats.sample_tree(100, tmp_path)
    # CPU: utime + stime + cutime + cstime (cstime is 1 in every fake line)
    assert sample.cpu_ticks == (50 + 10 + 5 + 1) + (22 + 1) + (8 + 1) + (3 + 1) + (2 + 1)
    assert sample.rss_kb == 1000 + 300 + 200 + 100
    assert sample.hwm_kb == 1500 + 400 + 250 + 100
    assert sample.cpu_seconds == sample.cpu_ticks / procstats.CLOCK_TICKS


def test_missing_root(tmp_path: Path) -> None:
    _make_proc(tmp_path, [(5, 1, 1, 1, 0, 10, 10)])
    assert procstats.process_tree(6, tmp_path) == ()
    with pytest.raises(ProcessLookupError):
        procstats.sample_tree(6, tmp_path)


BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n"


def _poll(
    sample: Callable[[], procstats.TreeSample], done: Callable[[procstats.TreeSample], bool]
) -> procstats.TreeSample:
    """Sample until ``done`` holds (or 30 s pass): wall time on a loaded 2-core machine
    is not CPU time, so the test waits for the state it asserts instead of sleeping."""
    deadline = time.monotonic() + 30
    while True:
        s = sample()
        if done(s) or time.monotonic() > deadline:
            return s
        time.sleep(0.05)


def test_live_tree_counts_a_child_before_and_after_it_exits() -> None:
    """A shell runs a CPU-burning Python child twice; its CPU shows up in the shell's tree,
    first as the live child's utime, then (reaped) in the shell's cutime."""
    script = (
        f'"{sys.executable}" -c "$BURN" & wait; read line; "{sys.executable}" -c "$BURN"; read line'
    )
    proc = subprocess.Popen(
        ["sh", "-c", script], stdin=subprocess.PIPE, env={"BURN": BURN}, text=True
    )
    try:

        def sample() -> procstats.TreeSample:
            return procstats.sample_tree(proc.pid)

        during = _poll(sample, lambda s: len(s.pids) >= 2)
        assert len(during.pids) >= 2, "the burning child should be in the shell's tree"
        # the first child exits after 0.4 s of CPU and is waited for by the shell
        after_first = _poll(sample, lambda s: s.pids == (proc.pid,))
        assert after_first.pids == (proc.pid,)
        assert after_first.cpu_seconds >= 0.3  # the child's 0.4 s, now in cutime
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        after_second = _poll(
            sample,
            lambda s: s.pids == (proc.pid,) and s.cpu_seconds - after_first.cpu_seconds >= 0.3,
        )
        assert after_second.cpu_seconds - after_first.cpu_seconds >= 0.3
        assert after_second.rss_kb > 0
    finally:
        proc.kill()
        proc.wait()


GROW = (
    "import sys\n"
    "blob = bytearray(80 * 1024 * 1024)\n"
    "for i in range(0, len(blob), 4096): blob[i] = 1\n"
    "del blob\n"
    "print('freed', flush=True)\n"
    "sys.stdin.readline()\n"
)


def test_reset_peak_rss_forgets_an_earlier_peak() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", GROW], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "freed"
        before = procstats.sample_tree(proc.pid)
        assert before.hwm_kb - before.rss_kb > 60 * 1024  # the 80 MiB peak is remembered
        assert procstats.reset_peak_rss(proc.pid)
        after = procstats.sample_tree(proc.pid)
        assert after.hwm_kb - after.rss_kb < 8 * 1024
    finally:
        proc.kill()
        proc.wait()
