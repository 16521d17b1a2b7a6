"""The scenarios, one module each, in the order a run executes them.

Account scenarios run against today's ranvier; room and sync scenarios run against Synapse to
establish the baseline and report "not implemented in ranvier yet" for ranvier until its
endpoints exist (they answer ``M_UNRECOGNIZED``). Adding a scenario is adding a module with a
``SCENARIO`` and listing it here. ``idle_memory`` must stay first: it reports the RSS the runner
sampled when the server had just started.
"""

from __future__ import annotations

from . import (
    account_data,
    create_room,
    db_bytes,
    displayname,
    idle_longpolls,
    idle_memory,
    initial_sync,
    joins,
    login,
    messages_paging,
    register,
    send_messages,
    sync_latency,
    versions,
    whoami,
    wrk_load,
)
from .base import Scenario, Skip

ALL: tuple[Scenario, ...] = (
    idle_memory.SCENARIO,
    versions.SCENARIO,
    wrk_load.VERSIONS,
    register.SCENARIO,
    login.SCENARIO,
    whoami.SCENARIO,
    wrk_load.WHOAMI,
    displayname.SCENARIO,
    account_data.SCENARIO,
    create_room.SCENARIO,
    send_messages.SCENARIO,
    sync_latency.SCENARIO,
    messages_paging.SCENARIO,
    joins.SCENARIO,
    initial_sync.SCENARIO,
    idle_longpolls.SCENARIO,
    db_bytes.SCENARIO,
)

BY_NAME: dict[str, Scenario] = {s.name: s for s in ALL}

__all__ = ["ALL", "BY_NAME", "Scenario", "Skip"]
