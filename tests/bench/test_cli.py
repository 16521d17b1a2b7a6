"""Command-line pieces of the bench, and one real end-to-end run against ranvier."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest
from ranvier_bench.cli import results_path, select_scenarios
from ranvier_bench.core import find_scripts
from ranvier_bench.scenarios import ALL

REPO = Path(__file__).resolve().parents[2]


def test_select_scenarios() -> None:
    chosen, core = select_scenarios([], [])
    assert chosen == ALL and core
    chosen, core = select_scenarios(["whoami,versions"], [])
    assert [s.name for s in chosen] == ["versions", "whoami"]  # suite order, not flag order
    assert not core
    chosen, core = select_scenarios(["core"], [])
    assert chosen == () and core
    chosen, core = select_scenarios([], ["joins", "core"])
    assert "joins" not in [s.name for s in chosen] and not core
    with pytest.raises(SystemExit):
        select_scenarios(["no_such_scenario"], [])


def test_idle_memory_runs_first() -> None:
    assert ALL[0].name == "idle_memory"
    assert len({s.name for s in ALL}) == len(ALL)


def test_results_path_never_overwrites(tmp_path: Path) -> None:
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    first = results_path(tmp_path, "abc1234", now)
    assert first.name == "2026-01-02-abc1234.json"
    first.write_text("{}")
    second = results_path(tmp_path, "abc1234", now)
    assert second.name == "2026-01-02-abc1234-2.json"


def test_find_scripts(tmp_path: Path) -> None:
    for name in ("bench_zeta.py", "bench_db.py", "bench_signing.py", "other.py"):
        (tmp_path / name).write_text("")
    assert find_scripts(tmp_path) == ["bench_signing.py", "bench_db.py", "bench_zeta.py"]


def test_end_to_end_against_ranvier(tmp_path: Path) -> None:
    """./bench/run starts ranvier, measures /versions, writes a results file, stops it."""
    env = dict(os.environ, RANVIER_SYNAPSE_PYTHON=os.environ.get("RANVIER_SYNAPSE_PYTHON", "x"))
    done = subprocess.run(
        [
            str(REPO / "bench" / "run"),
            "--servers",
            "ranvier",
            "--only",
            "idle_memory,versions",
            "--repeat",
            "1",
            "--seconds",
            "0.5",
            "--results-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| versions " in done.stdout
    (path,) = tmp_path.glob("*.json")
    data = json.loads(path.read_text())
    assert data["options"]["servers"] == ["ranvier"]
    runs = {r["scenario"]: r for r in data["runs"]}
    assert runs["versions"]["status"] == "ok"
    assert runs["versions"]["raw"]["ops"] > 0
    (facts,) = data["server_runs"]
    assert facts["rss_after_start_mib"] > 0
    assert facts["exit_code"] is not None  # stopped, not left running
    with pytest.raises(ProcessLookupError):
        os.kill(facts["pid"], 0)
