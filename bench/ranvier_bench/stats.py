"""Small, dependency-free statistics for benchmark samples.

Latencies are summarised with percentiles computed by linear interpolation between the two
closest ranks (the method numpy calls "linear"), so p50 of an even-sized sample is the mean of
the two middle values and p99 of a small sample is not simply its maximum. Repeated runs are
combined with the median, which one noisy run cannot drag around the way a mean can.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the ``pct``-th percentile (0..100) of ``values`` by linear interpolation.

    Raises ``ValueError`` for an empty sample or a percentage outside 0..100.
    """
    if not values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= pct <= 100.0 or math.isnan(pct):
        raise ValueError(f"percentile must be within 0..100, got {pct}")
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    fraction = rank - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


def median(values: Sequence[float]) -> float:
    """Return the median of ``values`` (the mean of the two middle ones for an even count)."""
    return percentile(values, 50.0)


def ratio(synapse: float | None, ranvier: float | None) -> float | None:
    """Return ``synapse / ranvier``, or None when either is missing or the divisor is zero."""
    if synapse is None or ranvier is None or ranvier == 0:
        return None
    return synapse / ranvier


def significant(value: float, digits: int = 3) -> str:
    """Format ``value`` with ``digits`` significant digits, without exponent for usual sizes.

    ``1234.5 -> '1234'``, ``0.012345 -> '0.0123'``, ``12.0 -> '12.0'``.
    """
    if value == 0 or not math.isfinite(value):
        return f"{value:g}" if value != 0 else "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= digits - 1:
        return f"{round(value):d}"
    if magnitude < -6:
        return f"{value:.{digits - 1}e}"
    decimals = digits - 1 - magnitude
    return f"{value:.{decimals}f}"
