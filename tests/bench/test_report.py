"""Combining repeated runs into medians, and the Markdown report."""

from __future__ import annotations

from ranvier_bench.report import advantage, failures, render_table, target_text
from ranvier_bench.results import Metric, ScenarioRun, Status, combine


def _run(
    scenario: str,
    server: str,
    repeat: int,
    *metrics: Metric,
    status: Status = "ok",
    detail: str = "",
) -> ScenarioRun:
    return ScenarioRun(scenario, server, repeat, status, list(metrics), detail)


def _rss(v: float) -> Metric:
    return Metric("RSS after start", "MiB", v, "lower", 3.0)


def _tput(v: float) -> Metric:
    return Metric("throughput", "req/s", v, "higher")


RUNS = [
    _run("idle_memory", "synapse", 1, _rss(120.0)),
    _run("idle_memory", "ranvier", 1, _rss(30.0)),
    _run("idle_memory", "synapse", 2, _rss(100.0)),
    _run("idle_memory", "ranvier", 2, _rss(50.0)),
    _run("idle_memory", "synapse", 3, _rss(110.0)),
    _run("idle_memory", "ranvier", 3, _rss(40.0)),
    _run("versions", "synapse", 1, _tput(1000.0)),
    _run("versions", "ranvier", 1, _tput(4000.0)),
    _run("send_messages", "synapse", 1, Metric("server CPU", "ms/msg", 10.0, "lower", 15.0)),
    _run(
        "send_messages",
        "ranvier",
        1,
        status="not_implemented",
        detail="needs POST /_matrix/client/v3/createRoom",
    ),
    _run("whoami", "synapse", 1, _tput(900.0)),
    _run("whoami", "ranvier", 1, _tput(5000.0)),
    _run("whoami", "ranvier", 2, status="failed", detail="BadResponse: expected HTTP 200, got 500"),
    _run("db_bytes", "synapse", 2, status="skipped", detail="first repeat only"),
    _run("sync_latency", "synapse", 1, Metric("p50 delivery", "ms", 20.0)),
    _run("sync_latency", "ranvier", 1, status="not_implemented", detail="needs GET /sync"),
    _run("sync_latency", "ranvier", 2, Metric("p50 delivery", "ms", 4.0)),
    _run("sync_latency", "ranvier", 3, status="skipped", detail="first 2 repeats only"),
]


def test_combine_takes_medians_and_keeps_order() -> None:
    rows = combine(RUNS, ["synapse", "ranvier"])
    assert [(r.scenario, r.metric) for r in rows] == [
        ("idle_memory", "RSS after start"),
        ("versions", "throughput"),
        ("send_messages", "server CPU"),
        ("whoami", "throughput"),
        ("db_bytes", "(no metric)"),
        ("sync_latency", "p50 delivery"),
    ]
    idle = rows[0]
    assert idle.cells["synapse"].value == 110.0
    assert idle.cells["ranvier"].value == 40.0
    assert idle.cells["ranvier"].samples == 3


def test_statuses_win_over_numbers_where_they_must() -> None:
    rows = {r.scenario: r for r in combine(RUNS, ["synapse", "ranvier"])}
    send = rows["send_messages"]
    assert send.cells["synapse"].status == "ok"
    assert send.cells["ranvier"].status == "not_implemented"
    # one failed run hides the good one: no number for a server that gave wrong answers
    whoami = rows["whoami"]
    assert whoami.cells["ranvier"].status == "failed"
    assert whoami.cells["ranvier"].value is None
    assert rows["db_bytes"].cells["synapse"].status == "skipped"
    assert rows["db_bytes"].cells["ranvier"].status == "skipped"  # never run at all


def test_partly_implemented_cell_says_how_many_runs() -> None:
    rows = {r.scenario: r for r in combine(RUNS, ["synapse", "ranvier"])}
    cell = rows["sync_latency"].cells["ranvier"]
    assert (cell.status, cell.value, cell.detail) == ("ok", 4.0, "1 of 2 runs")
    table = render_table(list(rows.values()), ["synapse", "ranvier"])
    assert "| 4.00 (1 of 2 runs) " in table
    assert rows["idle_memory"].cells["ranvier"].detail == ""


def test_advantage_and_targets() -> None:
    rows = {r.scenario: r for r in combine(RUNS, ["synapse", "ranvier"])}
    assert advantage(rows["idle_memory"]) == 110.0 / 40.0  # lower is better
    assert target_text(rows["idle_memory"]) == ">= 3.00x better: missed"
    assert advantage(rows["versions"]) == 4.0  # higher is better: ranvier / Synapse
    assert target_text(rows["versions"]) == ""
    assert advantage(rows["send_messages"]) is None
    assert target_text(rows["send_messages"]) == ">= 15.0x better"


def test_render_table() -> None:
    rows = combine(RUNS, ["synapse", "ranvier"])
    table = render_table(rows, ["synapse", "ranvier"])
    lines = table.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == [
        "scenario",
        "metric",
        "Synapse",
        "ranvier",
        "Synapse/ranvier",
        "target (ranvier vs Synapse)",
    ]
    assert set(lines[1]) == {"|", "-"}
    body = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert body[0] == [
        "idle_memory",
        "RSS after start (MiB)",
        "110",
        "40.0",
        "2.75x",
        ">= 3.00x better: missed",
    ]
    assert body[1] == ["versions", "throughput (req/s)", "1000", "4000", "0.250x", ""]
    assert body[2][2:4] == ["10.0", "not implemented in ranvier yet"]
    assert body[3][2:5] == ["900", "FAILED", ""]
    # every line has the same width: the table is aligned
    assert len({len(line) for line in lines}) == 1


def test_single_server_table_has_no_ratio_column() -> None:
    rows = combine([r for r in RUNS if r.server == "synapse"], ["synapse"])
    header = render_table(rows, ["synapse"]).splitlines()[0]
    assert "Synapse/ranvier" not in header


def test_failures_lists_each_failed_cell_once() -> None:
    rows = combine(RUNS, ["synapse", "ranvier"])
    assert failures(rows) == ["whoami on ranvier: BadResponse: expected HTTP 200, got 500"]
