"""Shared test configuration.

Optional services: tests that need PostgreSQL or the Synapse oracle call
:func:`need_service`. On a developer machine without the service they are
skipped with a visible reason; under ``.ci/run`` (``RANVIER_TEST_REQUIRE_SERVICES=1``)
a missing service is a failure, so CI can never silently skip them.
"""

from __future__ import annotations

import os

import pytest


def need_service(env_var: str, what: str) -> str:
    """Return the value of ``env_var`` or skip (fail under CI) saying why."""
    value = os.environ.get(env_var, "")
    if value:
        return value
    reason = f"{what} not configured: set {env_var} (./.ci/run sets it)"
    if os.environ.get("RANVIER_TEST_REQUIRE_SERVICES"):
        pytest.fail(reason)
    pytest.skip(reason)


# The ``database`` / ``raw_database`` / ``database_url`` fixtures for store tests.
pytest_plugins = ["tests.db_fixtures"]
