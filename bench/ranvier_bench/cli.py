"""Command line of the benchmark suite (``./bench/run --help``).

Parses the options, runs the servers (see :mod:`.runner`) and the core scripts (see
:mod:`.core`), prints the table on stdout, writes ``bench/results/<date>-<gitrev>.json``, and
exits 1 when any scenario failed (wrong answers are never turned into numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import machine
from .core import CoreResult, run_core
from .report import failures, render_table
from .results import combine
from .runner import BenchOutcome, RunOptions, log, run_all, source_versions
from .scenarios import ALL, BY_NAME, Scenario
from .servers import ServerSettings, kill_all_servers, remove_tree

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
SERVERS = ("synapse", "ranvier")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    p = argparse.ArgumentParser(
        prog="bench/run",
        description="Benchmark ranvier and Synapse side by side through the Client-Server API.",
    )
    p.add_argument(
        "--servers",
        default="synapse,ranvier",
        help="comma-separated, run in this order each repeat (default %(default)s)",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SCENARIO",
        help="run only these scenarios (repeatable or comma-separated); 'core' "
        "selects the core scripts",
    )
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="SCENARIO",
        help="leave these scenarios out (repeatable or comma-separated)",
    )
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--repeat", type=int, default=3, help="runs per server (default 3)")
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every count (users, rooms, messages, polls); default 1",
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=4.0,
        help="duration of time-bounded loads (default %(default)s)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=10,
        help="concurrent clients for throughput loads (default %(default)s)",
    )
    p.add_argument(
        "--bcrypt-cost",
        type=int,
        default=10,
        help="bcrypt cost for both servers (default %(default)s)",
    )
    p.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level for both servers (default %(default)s)",
    )
    p.add_argument(
        "--postgres",
        metavar="DSN",
        default=None,
        help="use PostgreSQL for both servers (a database per run is created)",
    )
    p.add_argument(
        "--synapse-python",
        type=Path,
        default=None,
        help="python of a virtualenv with matrix-synapse",
    )
    p.add_argument(
        "--ranvier",
        type=Path,
        default=REPO / ".venv" / "bin" / "ranvier",
        help="the ranvier executable (default %(default)s)",
    )
    p.add_argument("--no-core", action="store_true", help="do not run the core scripts")
    p.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    p.add_argument("--no-results", action="store_true", help="do not write a results file")
    p.add_argument("--keep", action="store_true", help="keep the servers' working directories")
    return p


def _names(values: list[str]) -> list[str]:
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def select_scenarios(only: list[str], skip: list[str]) -> tuple[tuple[Scenario, ...], bool]:
    """The scenarios to run (in suite order) and whether the core scripts run."""
    wanted, unwanted = _names(only), _names(skip)
    unknown = [n for n in wanted + unwanted if n not in BY_NAME and n != "core"]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)} (see --list)")
    chosen = tuple(s for s in ALL if (not wanted or s.name in wanted) and s.name not in unwanted)
    core = (not wanted or "core" in wanted) and "core" not in unwanted
    return chosen, core


def find_synapse_python(given: Path | None) -> Path | None:
    """``--synapse-python``, else $RANVIER_SYNAPSE_PYTHON, else a known virtualenv."""
    if given is not None:
        return given
    env = os.environ.get("RANVIER_SYNAPSE_PYTHON")
    if env:
        return Path(env)
    for candidate in (REPO / ".venv-synapse", BENCH_DIR / ".venv-synapse"):
        python = candidate / "bin" / "python"
        if python.exists():
            return python
    return None


def raise_fd_limit() -> None:
    """Allow as many open files as the hard limit permits (thousands of long-polls)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1_048_576
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def results_path(directory: Path, rev: str, now: dt.datetime) -> Path:
    """``<dir>/<date>-<gitrev>.json``, with ``-2``, ``-3``... when it already exists."""
    stem = f"{now:%Y-%m-%d}-{rev}"
    path = directory / f"{stem}.json"
    n = 2
    while path.exists():
        path = directory / f"{stem}-{n}.json"
        n += 1
    return path


async def _main(args: argparse.Namespace) -> int:
    servers = tuple(_names([args.servers]))
    bad = [s for s in servers if s not in SERVERS]
    if bad or not servers:
        raise SystemExit(f"--servers: choose from {', '.join(SERVERS)}")
    scenarios, core = select_scenarios(args.only, args.skip)
    if args.no_core:
        core = False
    synapse_python = find_synapse_python(args.synapse_python)
    if "synapse" in servers and synapse_python is None:
        raise SystemExit(
            "no Synapse virtualenv: run ./bench/run (it makes one) or pass --synapse-python"
        )
    settings = ServerSettings(
        bcrypt_cost=args.bcrypt_cost,
        log_level=args.log_level,
        postgres_dsn=args.postgres,
        synapse_python=synapse_python or Path("python3"),
        ranvier_bin=args.ranvier,
    )
    started = dt.datetime.now(dt.UTC)
    workroot = Path(tempfile.mkdtemp(prefix="ranvier-bench-"))
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    if main_task is not None:
        loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    options = RunOptions(
        servers=servers,
        scenarios=scenarios,
        repeat=args.repeat,
        scale=args.scale,
        seconds=args.seconds,
        concurrency=args.concurrency,
        settings=settings,
        workroot=workroot,
        keep=args.keep,
        repo=REPO,
    )
    outcome = BenchOutcome()
    core_results: list[CoreResult] = []
    try:
        if scenarios:
            outcome = await run_all(options)
        if core:
            log("running the core scripts in bench/ ...")
            core_results = await run_core(BENCH_DIR, sys.executable, synapse_python)
    finally:
        kill_all_servers()
        if not args.keep:
            remove_tree(workroot)
    rows = combine(outcome.runs, list(servers))
    info: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine.machine_info(),
        "versions": machine.versions(REPO, synapse_python),
    }
    info["versions"]["ranvier_source_digests"] = source_versions(outcome)
    table = render_table(rows, servers) if rows else "(no scenario selected)"
    text = render_text(info, args, table, failures(rows), core_results)
    print(text)
    if not args.no_results:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        path = results_path(args.results_dir, info["versions"]["ranvier_git"], started)
        payload = {
            **info,
            "options": _options_json(args, servers, scenarios, core),
            "server_runs": outcome.server_runs,
            "runs": [r.to_json() for r in outcome.runs],
            "core": [c.to_json() for c in core_results],
            "table": table,
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=1, default=str) + "\n")
        tmp.replace(path)
        log(f"raw results: {path}")
    failed = failures(rows) or [c.script for c in core_results if c.status == "failed"]
    return 1 if failed else 0


def render_text(
    info: dict[str, Any],
    args: argparse.Namespace,
    table: str,
    failed: list[str],
    core_results: list[CoreResult],
) -> str:
    """The report printed on stdout."""
    m, v = info["machine"], info["versions"]
    db = "PostgreSQL" if args.postgres else "SQLite"
    lines = [
        f"Benchmark {info['date']}: {m['cpu_model']}, {m['cores']} cores, "
        f"{m['ram_mib']} MiB RAM, {m['os']}",
        f"Synapse {v.get('synapse')} (Python {v.get('synapse_python')}) vs ranvier "
        f"{v['ranvier_git']} (Python {v['bench_python']}); {db}; bcrypt cost "
        f"{args.bcrypt_cost}; log level {args.log_level}; medians of {args.repeat} run(s); "
        f"scale {args.scale}; {args.seconds} s loads, concurrency {args.concurrency}",
        "",
        table,
    ]
    digests = v.get("ranvier_source_digests") or []
    if len(digests) > 1:
        lines += [
            "",
            f"WARNING: ranvier's source changed during the bench ({len(digests)} "
            "versions: " + ", ".join(digests) + "); the medians mix them.",
        ]
    if failed:
        lines += ["", "FAILED (no number shown for these):"] + [f"  {f}" for f in failed]
    for result in core_results:
        lines += [
            "",
            f"## {result.script}: {result.status} ({result.seconds:.0f} s)",
            result.output,
        ]
    return "\n".join(lines)


def _options_json(
    args: argparse.Namespace, servers: tuple[str, ...], scenarios: tuple[Scenario, ...], core: bool
) -> dict[str, Any]:
    return {
        "servers": list(servers),
        "scenarios": [s.name for s in scenarios],
        "core": core,
        "repeat": args.repeat,
        "scale": args.scale,
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "bcrypt_cost": args.bcrypt_cost,
        "log_level": args.log_level,
        "database": "postgresql" if args.postgres else "sqlite",
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, report; exit status 1 when something failed."""
    args = build_parser().parse_args(argv)
    if args.list:
        for s in ALL:
            limit = f" (first {s.max_repeats} repeat(s))" if s.max_repeats else ""
            print(f"{s.name:16} {s.title}{limit}")
        print(f"{'core':16} the core scripts in bench/ (signing, state res, http, db)")
        return 0
    if args.repeat < 1 or args.scale <= 0 or args.seconds <= 0 or args.concurrency < 1:
        raise SystemExit("--repeat, --scale, --seconds and --concurrency must be positive")
    raise_fd_limit()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    try:
        with runner:
            return runner.run(_main(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        kill_all_servers()
        log("interrupted; servers stopped")
        return 130
