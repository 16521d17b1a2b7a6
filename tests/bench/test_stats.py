"""Percentiles, medians, ratios and number formatting of the bench harness."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ranvier_bench.stats import median, percentile, ratio, significant


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == 2.5
    # rank = 3 * 0.99 = 2.97 -> 3 + 0.97 * (4 - 3)
    assert percentile(values, 99) == pytest.approx(3.97)
    assert percentile(values, 25) == pytest.approx(1.75)


def test_percentile_single_value_and_median() -> None:
    assert percentile([7.5], 99) == 7.5
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([1.0, 2.0]) == 1.5


@pytest.mark.parametrize("pct", [-1.0, 100.5, math.nan])
def test_percentile_rejects_bad_percent(pct: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0], pct)


def test_percentile_rejects_empty() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50),
    st.floats(0, 100),
    st.floats(0, 100),
)
def test_percentile_bounded_and_monotonic(values: list[float], p: float, r: float) -> None:
    low, high = sorted((p, r))
    a, b = percentile(values, low), percentile(values, high)
    assert min(values) - 1e-6 <= a <= b + 1e-6
    assert b <= max(values) + 1e-6


def test_ratio() -> None:
    assert ratio(10.0, 2.0) == 5.0
    assert ratio(None, 2.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234.5, "1234"),
        (999.6, "1000"),
        (12.0, "12.0"),
        (1.5, "1.50"),
        (0.012345, "0.0123"),
        (0.0, "0"),
        (-2.5, "-2.50"),
        (3.2e-9, "3.20e-09"),
    ],
)
def test_significant(value: float, text: str) -> None:
    assert significant(value) == text
