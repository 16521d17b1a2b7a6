"""The ``Date`` header's IMF-fixdate (RFC 9110 section 5.6.7) against the stdlib's formatter."""

from __future__ import annotations

from email.utils import formatdate

from hypothesis import given
from hypothesis import strategies as st

from ranvier.http.wire import http_date


def test_rfc_example() -> None:
    # The example of RFC 9110 section 5.6.7: 784111777 is 1994-11-06T08:49:37Z.
    assert http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"


@given(st.floats(min_value=0, max_value=2**33, allow_nan=False))
def test_same_as_email_utils(ts: float) -> None:
    assert http_date(ts) == formatdate(ts, usegmt=True)
