"""Run the selected scenarios against the selected servers, alternating and repeating.

Theory of operation
-------------------
For repeat ``r`` in ``0..N-1`` and for each server in the given order (A B A B ...): start a
fresh server (new directory, new database, new port), sample its process tree as soon as
``/versions`` answers (the "after start" RSS), open one aiohttp session, and run each scenario
in order with a bounded wall time. A scenario's outcome is one :class:`ScenarioRun`:

* ``ok`` with metrics;
* ``not_implemented`` when ranvier lacks an endpoint (for Synapse, the baseline, this is a
  failure);
* ``skipped`` (beyond the scenario's ``max_repeats``, or a missing tool such as wrk);
* ``failed`` for anything else: wrong answers, timeouts, a server that died. If the server
  died, the rest of that run is marked failed too.

The server is stopped in a ``finally`` (SIGTERM, then SIGKILL), so Ctrl-C, a SIGTERM to the
bench (turned into a cancellation by the CLI) or a bench bug never leaves it running.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from .client import Api, NotImplementedByServer
from .context import MIB, RunContext
from .machine import source_digest
from .results import Metric, ScenarioRun
from .scenarios import Scenario, Skip
from .servers import ServerProcess, ServerSettings, remove_tree
from .stats import significant


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Everything a bench run needs to know."""

    servers: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    repeat: int
    scale: float
    seconds: float
    concurrency: int
    settings: ServerSettings
    workroot: Path
    keep: bool = False
    repo: Path | None = None


@dataclass(slots=True)
class BenchOutcome:
    """All scenario runs, plus per-run facts (start time, RSS, server config, exit code)."""

    runs: list[ScenarioRun] = field(default_factory=list)
    server_runs: list[dict[str, Any]] = field(default_factory=list)


def log(message: str) -> None:
    """Progress output (stderr, so stdout holds only the report)."""
    print(message, file=sys.stderr, flush=True)


async def run_all(options: RunOptions) -> BenchOutcome:
    """Run every (repeat, server) combination in alternating order."""
    outcome = BenchOutcome()
    for repeat in range(options.repeat):
        for server in options.servers:
            await run_server(options, server, repeat, outcome)
    return outcome


async def run_server(options: RunOptions, server: str, repeat: int, outcome: BenchOutcome) -> None:
    """One run: start ``server``, run the scenarios, stop it."""
    workdir = options.workroot / f"{server}-{repeat + 1}"
    proc = ServerProcess(server, workdir, options.settings)
    facts: dict[str, Any] = {"server": server, "repeat": repeat + 1}
    outcome.server_runs.append(facts)
    tag = f"[{server} #{repeat + 1}]"
    if server == "ranvier" and options.repo is not None:
        facts["ranvier_source"] = source_digest(options.repo)
    try:
        t0 = time.monotonic()
        try:
            await proc.start()
        except Exception as exc:  # the server could not start: every scenario fails
            detail = f"server did not start: {exc}"
            log(f"{tag} {detail}")
            facts["start_error"] = str(exc)
            for scenario in options.scenarios:
                outcome.runs.append(
                    ScenarioRun(
                        scenario.name, server, repeat + 1, "failed", detail=detail.splitlines()[0]
                    )
                )
            return
        start_sample = proc.sample()
        facts.update(
            {
                "start_seconds": time.monotonic() - t0,
                "rss_after_start_mib": start_sample.rss_kb / MIB,
                "pid": proc.pid,
                "config": proc.config,
            }
        )
        log(
            f"{tag} started in {facts['start_seconds']:.1f} s, "
            f"RSS {significant(start_sample.rss_kb / MIB)} MiB"
        )
        connector = aiohttp.TCPConnector(limit=options.concurrency * 2 + 20)
        async with aiohttp.ClientSession(connector=connector) as session:
            ctx = RunContext(
                server=proc,
                api=Api(session, proc.base_url),
                repeat=repeat,
                scale=options.scale,
                seconds=options.seconds,
                concurrency=options.concurrency,
                start_sample=start_sample,
            )
            dead = ""
            for scenario in options.scenarios:
                if dead:
                    outcome.runs.append(
                        ScenarioRun(scenario.name, server, repeat + 1, "failed", detail=dead)
                    )
                    continue
                result = await run_scenario(ctx, scenario, options)
                outcome.runs.append(result)
                log(f"{tag} {scenario.name}: {summary(result)}")
                if proc.process is not None and proc.process.returncode is not None:
                    dead = f"server exited with {proc.process.returncode}"
                    log(f"{tag} {dead}:\n{proc.log_tail()}")
            facts["peak_rss_reset_supported"] = ctx.peak_reset_ok
        if not dead:
            end = proc.sample()
            facts["rss_at_end_mib"] = end.rss_kb / MIB
    finally:
        facts["exit_code"] = await proc.stop()
        facts["log_tail"] = proc.log_tail(10)
        if not options.keep:
            remove_tree(workdir)


async def run_scenario(ctx: RunContext, scenario: Scenario, options: RunOptions) -> ScenarioRun:
    """Run one scenario with its timeout and classify the outcome."""
    repeat = ctx.repeat + 1
    if scenario.max_repeats is not None and ctx.repeat >= scenario.max_repeats:
        return ScenarioRun(
            scenario.name,
            ctx.name,
            repeat,
            "skipped",
            detail=f"runs in the first {scenario.max_repeats} repeat(s) only",
        )
    ctx.raw = {}
    started = time.monotonic()
    timeout = scenario.timeout * max(1.0, options.scale) + 2 * options.seconds
    status: Any = "ok"
    metrics: list[Metric] = []
    detail = ""
    try:
        metrics = await asyncio.wait_for(scenario.run(ctx), timeout)
    except NotImplementedByServer as exc:
        if ctx.name == "synapse":
            status, detail = "failed", f"Synapse (the baseline) lacks {exc}"
        else:
            status, detail = "not_implemented", f"needs {exc}"
    except Skip as exc:
        status, detail = "skipped", str(exc)
    except TimeoutError:
        status, detail = "failed", f"did not finish within {timeout:.0f} s"
    except Exception as exc:
        status, detail = "failed", f"{type(exc).__name__}: {exc}"
    raw = dict(ctx.raw)
    raw["scenario_seconds"] = time.monotonic() - started
    return ScenarioRun(scenario.name, ctx.name, repeat, status, metrics, detail, raw)


def summary(run: ScenarioRun) -> str:
    """A one-line progress summary of a scenario run."""
    took = run.raw.get("scenario_seconds", 0.0)
    if run.status != "ok":
        return f"{run.status} after {took:.1f} s: {run.detail}"
    shown = ", ".join(f"{m.name} {significant(m.value)} {m.unit}" for m in run.metrics[:4])
    return f"ok in {took:.1f} s: {shown}"


def source_versions(outcome: BenchOutcome) -> list[str]:
    """The distinct ranvier source digests seen at the start of its runs, in order."""
    seen: list[str] = []
    for facts in outcome.server_runs:
        digest = facts.get("ranvier_source")
        if isinstance(digest, str) and digest not in seen:
            seen.append(digest)
    return seen
