"""The leaky-bucket rate limiter with a controlled clock."""

from __future__ import annotations

import pytest

from ranvier.http.ratelimit import RateLimiter
from ranvier.http.types import MatrixError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refusal_with_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(threshold=3, cooloff_ms=500, clock=clock)
    for _ in range(3):
        limiter.check("@a:hs")
    with pytest.raises(MatrixError) as info:
        limiter.check("@a:hs")
    error = info.value
    assert (error.status, error.errcode) == (429, "M_LIMIT_EXCEEDED")
    assert error.extra["retry_after_ms"] == 500
    assert ("Retry-After", "1") in error.headers
    body = error.to_response().body
    assert b'"retry_after_ms":500' in body
    # Other keys are independent.
    limiter.check("@b:hs")


def test_bucket_drains_over_time() -> None:
    clock = Clock()
    limiter = RateLimiter(threshold=2, cooloff_ms=1000, clock=clock)
    limiter.check("k")
    limiter.check("k")
    clock.now += 0.4
    with pytest.raises(MatrixError) as info:
        limiter.check("k")
    assert info.value.extra["retry_after_ms"] == 600
    clock.now += 0.6
    limiter.check("k")  # one slot drained
    with pytest.raises(MatrixError):
        limiter.check("k")
    clock.now += 10
    limiter.check("k")
    limiter.check("k")


def test_refused_actions_do_not_extend_the_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(threshold=1, cooloff_ms=1000, clock=clock)
    limiter.check("k")
    for _ in range(50):
        with pytest.raises(MatrixError):
            limiter.check("k")
    clock.now += 1.0
    limiter.check("k")


def test_retry_after_header_rounds_up_seconds() -> None:
    clock = Clock()
    limiter = RateLimiter(threshold=1, cooloff_ms=2500, clock=clock)
    limiter.check("k")
    clock.now += 0.1
    with pytest.raises(MatrixError) as info:
        limiter.check("k")
    assert info.value.extra["retry_after_ms"] == 2400
    assert ("Retry-After", "3") in info.value.headers


def test_exempt_keys_never_limited() -> None:
    limiter = RateLimiter(threshold=1, cooloff_ms=1000, exempt=frozenset({"@admin:hs"}))
    for _ in range(100):
        limiter.check("@admin:hs")
    assert len(limiter) == 0


def test_memory_is_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(threshold=5, cooloff_ms=1000, max_keys=1000, clock=clock)
    for i in range(20_000):
        limiter.check(f"user{i}")
        if i % 100 == 0:
            clock.now += 0.01
    assert len(limiter) <= 1000
    # A recently active key survives eviction and is still limited.
    for _ in range(4):
        limiter.check("user19999")
    with pytest.raises(MatrixError):
        limiter.check("user19999")


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        RateLimiter(threshold=0, cooloff_ms=1)
