"""Render combined results as a Markdown table (readable on a terminal, pasteable in a README).

Columns: scenario, metric (with unit), Synapse, ranvier, Synapse/ranvier, and the issue's
target for the metric. The ratio is literally Synapse's median divided by ranvier's: for
"lower is better" metrics (latency, CPU, memory, bytes) a ratio above 1 means ranvier is
better; for throughput (higher is better) a ratio below 1 means ranvier is better. The target
column states the goal as "ranvier N x better" and whether the medians meet it.

Cells that are not numbers say why: ``not implemented in ranvier yet`` (the server answered
``M_UNRECOGNIZED`` for a needed endpoint), ``FAILED`` (wrong answers; the details are listed
under the table and the bench exits non-zero), ``skipped``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .results import Cell, Row
from .stats import ratio, significant

SERVER_TITLES = {"synapse": "Synapse", "ranvier": "ranvier"}


def cell_text(cell: Cell, server: str) -> str:
    """The text of one server's cell."""
    if cell.status == "ok" and cell.value is not None:
        text = significant(cell.value)
        return f"{text} ({cell.detail})" if cell.detail else text
    if cell.status == "not_implemented":
        return f"not implemented in {server} yet"
    if cell.status == "failed":
        return "FAILED"
    return "skipped"


def advantage(row: Row) -> float | None:
    """How many times better ranvier's median is than Synapse's (None when not comparable)."""
    syn = row.cells.get("synapse")
    ran = row.cells.get("ranvier")
    if syn is None or ran is None or syn.status != "ok" or ran.status != "ok":
        return None
    if row.better == "lower":
        return ratio(syn.value, ran.value)
    return ratio(ran.value, syn.value)


def ratio_text(row: Row) -> str:
    """The literal Synapse/ranvier ratio of the medians, or empty."""
    syn = row.cells.get("synapse")
    ran = row.cells.get("ranvier")
    if syn is None or ran is None or syn.status != "ok" or ran.status != "ok":
        return ""
    value = ratio(syn.value, ran.value)
    return "" if value is None else significant(value) + "x"


def target_text(row: Row) -> str:
    """``ranvier >= N x better: met``/``missed``, or empty when the metric has no target."""
    if row.target is None:
        return ""
    goal = f">= {significant(row.target)}x better"
    adv = advantage(row)
    if adv is None:
        return goal
    return f"{goal}: {'met' if adv >= row.target else 'missed'}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(rows: Sequence[Row], servers: Sequence[str]) -> str:
    """Render ``rows`` as an aligned Markdown table."""
    header = ["scenario", "metric"]
    header += [SERVER_TITLES.get(s, s) for s in servers]
    both = "synapse" in servers and "ranvier" in servers
    if both:
        header.append("Synapse/ranvier")
    header.append("target (ranvier vs Synapse)")
    lines: list[list[str]] = [header]
    previous = ""
    for row in rows:
        label = row.scenario if row.scenario != previous else ""
        previous = row.scenario
        metric = f"{row.metric} ({row.unit})" if row.unit else row.metric
        line = [label, metric] + [cell_text(row.cells[s], s) for s in servers]
        if both:
            line.append(ratio_text(row))
        line.append(target_text(row))
        lines.append([_escape(x) for x in line])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if index == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def failures(rows: Iterable[Row]) -> list[str]:
    """One line per failed cell, with its reason, for printing under the table."""
    seen: set[tuple[str, str]] = set()
    out: list[str] = []
    for row in rows:
        for server, cell in row.cells.items():
            if cell.status == "failed" and (row.scenario, server) not in seen:
                seen.add((row.scenario, server))
                out.append(f"{row.scenario} on {server}: {cell.detail}")
    return out
