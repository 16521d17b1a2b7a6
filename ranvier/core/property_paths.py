"""Dot-separated property paths (appendices "Dot-separated property paths").

Used by filters' ``event_fields`` (:mod:`ranvier.sync.filters`) and by push rule
conditions' ``key`` (:mod:`ranvier.core.push_eval`): ``content.m\\.relates_to`` names
the ``m.relates_to`` key of ``content``. ``\\.`` and ``\\\\`` are a literal dot and
backslash; any other backslash stays as written.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[str, ...]:
    """``content.m\\.relates_to`` -> ``("content", "m.relates_to")`` (cached: push
    rules and filters split the same few keys for every event)."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path) and path[i + 1] in ".\\":
            current.append(path[i + 1])
            i += 2
            continue
        if ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return tuple(parts)
