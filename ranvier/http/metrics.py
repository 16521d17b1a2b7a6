"""A tiny Prometheus registry: counters, gauges and fixed-bucket histograms.

Rendered in the Prometheus text exposition format 0.0.4 (``# HELP``, ``# TYPE``, one
sample per line, label values escaped). No dependency on ``prometheus_client``: the
server needs a handful of series and wants them cheap to update on every request (one
dict lookup on a tuple of label values and a float add).

:class:`Metrics` bundles the server's standard series: requests and latency per route
name, method and status (recorded by the app in ``ranvier.http.app``), the event-loop lag
(sampled by a background task), and the time spent in the database (``db_seconds``,
observed by the DB layer). :func:`metrics_handler` serves them, typically at ``/metrics``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from ranvier.http.types import Request, Response

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

DEFAULT_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    kind = ""

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        if not name.replace("_", "a").replace(":", "a").isalnum() or name[0].isdigit():
            raise ValueError(f"bad metric name {name!r}")
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)

    def _check(self, labels: tuple[str, ...]) -> None:
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name} expects labels {self.labelnames}, got {labels}")

    def render(self) -> list[str]:
        help_text = self.help.replace("\\", "\\\\").replace("\n", "\\n")
        return [f"# HELP {self.name} {help_text}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    """A monotonically increasing value per label combination."""

    kind = "counter"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help, labelnames)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1.0, labels: tuple[str, ...] = ()) -> None:
        """Add ``amount`` (>= 0) to the series named by ``labels``."""
        if amount < 0:
            raise ValueError("counters only go up")
        values = self._values
        current = values.get(labels)
        if current is None:
            self._check(labels)
            current = 0.0
        values[labels] = current + amount

    def value(self, labels: tuple[str, ...] = ()) -> float:
        """Current value of one series (0 if never incremented)."""
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        lines = super().render()
        for labels, value in sorted(self._values.items()):
            lines.append(f"{self.name}{_labels(self.labelnames, labels)} {_format_value(value)}")
        return lines


class Gauge(_Metric):
    """A value that goes up and down; optionally read from a callback at render time."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        callback: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(name, help, labelnames)
        if callback is not None and self.labelnames:
            raise ValueError("a callback gauge has no labels")
        self._values: dict[tuple[str, ...], float] = {}
        self._callback = callback

    def set(self, value: float, labels: tuple[str, ...] = ()) -> None:
        """Set the series named by ``labels``."""
        if labels not in self._values:
            self._check(labels)
        self._values[labels] = value

    def inc(self, amount: float = 1.0, labels: tuple[str, ...] = ()) -> None:
        """Add ``amount`` (may be negative)."""
        self.set(self._values.get(labels, 0.0) + amount, labels)

    def value(self, labels: tuple[str, ...] = ()) -> float:
        """Current value of one series."""
        if self._callback is not None:
            return float(self._callback())
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        lines = super().render()
        if self._callback is not None:
            lines.append(f"{self.name} {_format_value(float(self._callback()))}")
            return lines
        for labels, value in sorted(self._values.items()):
            lines.append(f"{self.name}{_labels(self.labelnames, labels)} {_format_value(value)}")
        return lines


class Histogram(_Metric):
    """Observations counted in fixed, cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = DEFAULT_LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, help, labelnames)
        bounds = sorted(float(b) for b in buckets if b != math.inf)
        if not bounds or len(set(bounds)) != len(bounds):
            raise ValueError("histogram buckets must be distinct and non-empty")
        self.bounds = tuple(bounds)
        # Per series: [count per bucket (non-cumulative, last = +Inf)..., sum]
        self._series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, value: float, labels: tuple[str, ...] = ()) -> None:
        """Record one observation."""
        series = self._series.get(labels)
        if series is None:
            self._check(labels)
            series = self._series[labels] = [0.0] * (len(self.bounds) + 2)
        series[bisect.bisect_left(self.bounds, value)] += 1
        series[-1] += value

    def count(self, labels: tuple[str, ...] = ()) -> int:
        """Number of observations of one series."""
        series = self._series.get(labels)
        return int(sum(series[:-1])) if series else 0

    def sum(self, labels: tuple[str, ...] = ()) -> float:
        """Sum of the observations of one series."""
        series = self._series.get(labels)
        return series[-1] if series else 0.0

    def render(self) -> list[str]:
        lines = super().render()
        names = self.labelnames
        for labels, series in sorted(self._series.items()):
            cumulative = 0.0
            for bound, n in zip((*self.bounds, math.inf), series[:-1], strict=True):
                cumulative += n
                le = f'le="{_format_value(bound)}"'
                lines.append(
                    f"{self.name}_bucket{_labels(names, labels, le)} {_format_value(cumulative)}"
                )
            tag = _labels(names, labels)
            lines.append(f"{self.name}_sum{tag} {_format_value(series[-1])}")
            lines.append(f"{self.name}_count{tag} {_format_value(cumulative)}")
        return lines


_M = TypeVar("_M", bound=_Metric)


class Registry:
    """A set of metrics rendered together."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def register(self, metric: _M) -> _M:
        """Add ``metric`` (names must be unique) and return it."""
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} already registered")
        self._metrics[metric.name] = metric
        return metric

    def render(self) -> bytes:
        """The whole registry in text format 0.0.4."""
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.extend(metric.render())
        return ("\n".join(lines) + "\n").encode("utf-8")


class Metrics:
    """The server's standard metrics, in one registry."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or Registry()
        reg = self.registry
        self.requests = reg.register(
            Counter(
                "ranvier_http_requests_total",
                "HTTP requests answered, by route name, method and status.",
                ("route", "method", "status"),
            )
        )
        self.request_seconds = reg.register(
            Histogram(
                "ranvier_http_request_duration_seconds",
                "Time to answer an HTTP request, by route name.",
                ("route",),
            )
        )
        self.response_bytes = reg.register(
            Counter("ranvier_http_response_body_bytes_total", "Bytes of response bodies sent.")
        )
        self.loop_lag = reg.register(
            Gauge("ranvier_event_loop_lag_seconds", "Latest measured event-loop scheduling lag.")
        )
        self.loop_lag_samples = reg.register(
            Histogram(
                "ranvier_event_loop_lag_sample_seconds",
                "Every event-loop lag sample, so that spikes between scrapes are kept.",
                buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
            )
        )
        self.db_seconds = reg.register(
            Histogram("ranvier_db_seconds", "Time spent in database operations.")
        )
        self._lag_task: asyncio.Task[None] | None = None

    def observe_request(
        self, route: str, method: str, status: int, seconds: float, body_bytes: int
    ) -> None:
        """Record one answered request."""
        self.requests.inc(1.0, (route, method, str(status)))
        self.request_seconds.observe(seconds, (route,))
        self.response_bytes.inc(body_bytes)

    def add_gauge(self, name: str, help: str, callback: Callable[[], float]) -> Gauge:
        """Register a gauge read from ``callback`` at render time (e.g. open connections)."""
        return self.registry.register(Gauge(name, help, callback=callback))

    def start_loop_lag_sampler(self, interval: float = 1.0) -> None:
        """Start a task measuring how late ``asyncio.sleep(interval)`` wakes up."""
        if self._lag_task is None:
            self._lag_task = asyncio.get_running_loop().create_task(self._sample_lag(interval))

    async def stop(self) -> None:
        """Stop the lag sampler."""
        task, self._lag_task = self._lag_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sample_lag(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(interval)
            lag = max(0.0, loop.time() - start - interval)
            self.loop_lag.set(lag)
            self.loop_lag_samples.observe(lag)

    def render(self) -> bytes:
        """The text exposition of every metric."""
        return self.registry.render()


def metrics_handler(metrics: Metrics) -> Callable[[Request], Awaitable[Response]]:
    """A handler serving ``metrics`` in the Prometheus text format (mount at ``/metrics``)."""

    async def handler(request: Request) -> Response:
        return Response(status=200, body=metrics.render(), content_type=CONTENT_TYPE)

    return handler
