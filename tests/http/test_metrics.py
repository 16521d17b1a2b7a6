"""The Prometheus registry, checked by parsing its text output back."""

from __future__ import annotations

import asyncio
import math
import re

import pytest

from ranvier.http.metrics import Counter, Gauge, Histogram, Metrics, Registry

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse_exposition(text: str) -> tuple[Samples, dict[str, str]]:
    """Parse text format 0.0.4 strictly enough to catch malformed output."""
    samples: Samples = {}
    types: dict[str, str] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped")
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        match = _SAMPLE.match(line)
        assert match, f"bad sample line {line!r}"
        name, _, label_text, value = match.groups()
        labels: list[tuple[str, str]] = []
        if label_text:
            consumed = ",".join(m.group(0) for m in _LABEL.finditer(label_text))
            assert consumed == label_text, f"bad labels in {line!r}"
            labels = [(m.group(1), _unescape(m.group(2))) for m in _LABEL.finditer(label_text)]
        samples[(name, tuple(sorted(labels)))] = float(value)
    return samples, types


def test_counter_gauge_histogram_round_trip() -> None:
    reg = Registry()
    c = reg.register(Counter("t_requests_total", "Requests.", ("route",)))
    g = reg.register(Gauge("t_queue", "Queue length."))
    h = reg.register(Histogram("t_latency_seconds", "Latency.", ("route",), buckets=(0.1, 1.0)))
    c.inc(labels=('we"ird\\ro\nute',))
    c.inc(2.5, labels=("b",))
    g.set(7)
    g.inc(-2)
    for v in (0.05, 0.1, 0.5, 3.0):
        h.observe(v, ("b",))
    samples, types = parse_exposition(reg.render().decode())
    assert types == {
        "t_requests_total": "counter",
        "t_queue": "gauge",
        "t_latency_seconds": "histogram",
    }
    assert samples[("t_requests_total", (("route", 'we"ird\\ro\nute'),))] == 1
    assert samples[("t_requests_total", (("route", "b"),))] == 2.5
    assert samples[("t_queue", ())] == 5
    bucket = "t_latency_seconds_bucket"
    assert samples[(bucket, (("le", "0.1"), ("route", "b")))] == 2  # le is inclusive
    assert samples[(bucket, (("le", "1"), ("route", "b")))] == 3
    assert samples[(bucket, (("le", "+Inf"), ("route", "b")))] == 4
    assert samples[("t_latency_seconds_count", (("route", "b"),))] == 4
    assert math.isclose(samples[("t_latency_seconds_sum", (("route", "b"),))], 3.65)
    assert h.count(("b",)) == 4


def test_misuse_is_rejected() -> None:
    reg = Registry()
    c = reg.register(Counter("x_total", "X.", ("a",)))
    with pytest.raises(ValueError):
        c.inc(-1, ("v",))
    with pytest.raises(ValueError):
        c.inc(1, ())
    with pytest.raises(ValueError):
        reg.register(Counter("x_total", "dup"))
    with pytest.raises(ValueError):
        Counter("bad-name", "x")


async def test_loop_lag_sampler_reports_a_blocked_loop() -> None:
    import time

    metrics = Metrics()
    metrics.start_loop_lag_sampler(0.02)
    await asyncio.sleep(0.05)
    time.sleep(0.2)  # block the loop on purpose
    await asyncio.sleep(0.05)
    await metrics.stop()
    samples, _ = parse_exposition(metrics.render().decode())
    hist = "ranvier_event_loop_lag_sample_seconds"
    total = samples[(hist + "_count", ())]
    under_100ms = samples[(hist + "_bucket", (("le", "0.1"),))]
    assert total >= 3
    assert total - under_100ms >= 1  # the blocked interval was seen
    assert samples[(hist + "_sum", ())] >= 0.15
