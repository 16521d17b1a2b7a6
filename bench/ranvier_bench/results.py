"""The result records of a bench run, and how repeated runs are combined.

A *run* is one server started fresh, driven through the selected scenarios, and stopped. Each
scenario in a run yields a :class:`ScenarioRun`: a status and, when it succeeded, a list of
:class:`Metric` values. Runs alternate between the servers (A B A B ...) and repeat; the report
combines the ``ok`` runs of one (scenario, metric, server) with the median.

Statuses: ``ok``; ``not_implemented`` (the server answered 404/405 ``M_UNRECOGNIZED`` for an
endpoint the scenario needs, which is expected for ranvier's rooms and sync today);
``failed`` (a wrong answer, an error status, a timeout: the bench exits non-zero and prints no
number for it); ``skipped`` (the scenario is limited to fewer repeats, or a tool is missing).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .stats import median

Better = Literal["higher", "lower"]
Status = Literal["ok", "not_implemented", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class Metric:
    """One measured value.

    ``better`` says which direction is an improvement. ``target``, when set, is the factor by
    which the issue wants ranvier to beat Synapse on this metric (e.g. 3.0 for idle RSS).
    """

    name: str
    unit: str
    value: float
    better: Better = "lower"
    target: float | None = None


@dataclass(slots=True)
class ScenarioRun:
    """The outcome of one scenario in one run of one server."""

    scenario: str
    server: str
    repeat: int
    status: Status
    metrics: list[Metric] = field(default_factory=list)
    detail: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of this record."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Cell:
    """What the report shows for one (scenario, metric, server)."""

    value: float | None
    status: Status
    detail: str = ""
    samples: int = 0


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the report table."""

    scenario: str
    metric: str
    unit: str
    better: Better
    target: float | None
    cells: dict[str, Cell]


def combine(runs: list[ScenarioRun], servers: list[str]) -> list[Row]:
    """Turn the runs into report rows: one per (scenario, metric), medians per server.

    Scenario and metric order follow their first appearance. A failure in any run of a server
    makes its cell ``failed`` (a number would hide the error); otherwise a cell is ``ok`` with
    the median of the ``ok`` values (its ``detail`` says "k of n runs" when other runs were
    ``not_implemented``, e.g. the endpoint appeared mid-bench); else ``not_implemented`` wins
    over ``skipped``.
    """
    scenario_order: list[str] = []
    metric_order: dict[str, list[tuple[str, str, Better, float | None]]] = {}
    by_key: dict[tuple[str, str, str], list[float]] = {}
    status_of: dict[tuple[str, str], list[ScenarioRun]] = {}
    for run in runs:
        if run.scenario not in scenario_order:
            scenario_order.append(run.scenario)
            metric_order[run.scenario] = []
        status_of.setdefault((run.scenario, run.server), []).append(run)
        for metric in run.metrics:
            spec = (metric.name, metric.unit, metric.better, metric.target)
            if spec[0] not in [m[0] for m in metric_order[run.scenario]]:
                metric_order[run.scenario].append(spec)
            if run.status == "ok":
                by_key.setdefault((run.scenario, metric.name, run.server), []).append(metric.value)
    rows: list[Row] = []
    for scenario in scenario_order:
        specs = metric_order[scenario] or [("(no metric)", "", "lower", None)]
        for name, unit, better, target in specs:
            cells: dict[str, Cell] = {}
            for server in servers:
                cells[server] = _cell(
                    status_of.get((scenario, server), []), by_key.get((scenario, name, server))
                )
            rows.append(Row(scenario, name, unit, better, target, cells))
    return rows


def _cell(runs: list[ScenarioRun], values: list[float] | None) -> Cell:
    if not runs:
        return Cell(None, "skipped", "not run")
    failed = [r for r in runs if r.status == "failed"]
    if failed:
        return Cell(None, "failed", failed[0].detail)
    if values:
        counted = [r for r in runs if r.status != "skipped"]
        partial = f"{len(values)} of {len(counted)} runs" if len(values) < len(counted) else ""
        return Cell(median(values), "ok", partial, samples=len(values))
    not_impl = [r for r in runs if r.status == "not_implemented"]
    if not_impl:
        return Cell(None, "not_implemented", not_impl[0].detail)
    skipped = [r for r in runs if r.status == "skipped"]
    detail = skipped[0].detail if skipped else "no value"
    return Cell(None, "skipped", detail)
