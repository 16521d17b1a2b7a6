"""Parsing wrk's report (the text below is wrk 4.1.0's output format)."""

from __future__ import annotations

import pytest
from ranvier_bench.wrk import parse_wrk

CLEAN = """Running 3s test @ http://127.0.0.1:8008/_matrix/client/versions
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.02ms    1.90ms  22.66ms   86.73%
    Req/Sec     2.02k   543.62     2.91k    63.33%
  Latency Distribution
     50%    4.11ms
     75%    5.99ms
     90%    7.27ms
     99%   11.80ms
  6028 requests in 3.00s, 11.60MB read
Requests/sec:   2006.21
Transfer/sec:      3.86MB
"""

ERRORS = """Running 2s test @ http://127.0.0.1:8008/_matrix/client/v3/account/whoami
  1 threads and 10 connections
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    1.53s
     99%    2.00m
  2814 requests in 2.00s, 1.43MB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 2814
Requests/sec:   1405.93
"""


def test_clean_report() -> None:
    report = parse_wrk(CLEAN)
    assert report.requests == 6028
    assert report.seconds == pytest.approx(3.0)
    assert report.throughput == pytest.approx(6028 / 3.0)
    assert report.percentiles_ms == {50.0: 4.11, 75.0: 5.99, 90.0: 7.27, 99.0: 11.80}
    assert report.non_2xx == 0
    assert report.socket_errors == 0


def test_units_and_errors() -> None:
    report = parse_wrk(ERRORS)
    assert report.percentiles_ms[50.0] == pytest.approx(0.812)
    assert report.percentiles_ms[90.0] == pytest.approx(1530.0)
    assert report.percentiles_ms[99.0] == pytest.approx(120_000.0)
    assert report.non_2xx == 2814
    assert report.socket_errors == 7


def test_missing_totals_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")
