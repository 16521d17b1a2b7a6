"""Rewrite PostgreSQL ``$n`` placeholders into SQLite's ``?n``, and classify statements.

Ranvier's SQL is written once in PostgreSQL style (``WHERE a = $1 AND b = $2``).
SQLite understands numbered parameters spelled ``?NNN``, bound by position from
a sequence, so ``$1`` becomes ``?1`` and the arguments pass through unchanged;
a parameter used twice (``$1 ... $1``) stays one argument, as on PostgreSQL.

Theory of operation: a single left-to-right scan with four states -- plain
SQL, a ``'single-quoted'`` string literal (``''`` is an escaped quote, which
the scan handles by leaving and re-entering the literal), a quoted identifier
(``"..."``, `````...````` or ``[...]``), and comments (``-- to end of line`` and
``/* ... */``). Only a ``$`` followed by digits in plain SQL is rewritten; the
whole digit run is taken, so ``$10`` is parameter ten, never ``$1`` then ``0``.
Results are cached per SQL string (statements are a small fixed set of
constants, so the cache stays small; it is bounded anyway).
"""

from __future__ import annotations

from functools import lru_cache

_CLOSERS = {"'": "'", '"': '"', "`": "`", "[": "]"}
_READ_KEYWORDS = frozenset({"SELECT", "VALUES", "EXPLAIN"})


@lru_cache(maxsize=4096)
def to_sqlite(sql: str) -> str:
    """Return ``sql`` with every ``$n`` outside literals, identifiers and comments as ``?n``."""
    if "$" not in sql:
        return sql
    out: list[str] = []
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        closer = _CLOSERS.get(ch)
        if closer is not None:
            end = sql.find(closer, i + 1)
            end = n if end < 0 else end + 1
            out.append(sql[i:end])
            i = end
        elif ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end + 1
            out.append(sql[i:end])
            i = end
        elif ch == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end])
            i = end
        elif ch == "$" and i + 1 < n and sql[i + 1].isdigit():
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            out.append("?" + sql[i + 1 : j])
            i = j
        else:
            # Copy the run of ordinary characters up to the next special one.
            j = i + 1
            while j < n and sql[j] not in "'\"`[-/$":
                j += 1
            out.append(sql[i:j])
            i = j
    return "".join(out)


@lru_cache(maxsize=4096)
def is_read_only(sql: str) -> bool:
    """Whether ``sql`` is a plain query (``SELECT``/``VALUES``/``EXPLAIN``).

    Conservative: anything else, including ``WITH`` (which may prefix an
    ``INSERT``) and ``INSERT ... RETURNING``, counts as a write.
    """
    i = _skip_blank(sql, 0, "(")
    n = len(sql)
    j = i
    while j < n and sql[j].isalpha():
        j += 1
    return sql[i:j].upper() in _READ_KEYWORDS


def split_script(script: str) -> list[str]:
    """Split a SQL script into complete statements, as SQLite would parse them.

    Uses :func:`sqlite3.complete_statement` so semicolons inside literals,
    comments and ``CREATE TRIGGER ... BEGIN ...; END;`` bodies do not split.
    Pieces holding only whitespace or comments are dropped.
    """
    import sqlite3

    statements: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if _has_code(buf):
                statements.append(buf.strip())
            buf = ""
    if _has_code(buf[:-1]):
        statements.append(buf[:-1].strip())
    return statements


def _has_code(sql: str) -> bool:
    """Whether ``sql`` holds anything besides whitespace, comments and ``;``."""
    return _skip_blank(sql, 0, ";") < len(sql)


def _skip_blank(sql: str, i: int, also: str) -> int:
    """The index of the first character from ``i`` on that is not whitespace, part of
    a ``--`` or ``/* */`` comment, or one of ``also``; ``len(sql)`` if there is none."""
    n = len(sql)
    while i < n:
        if sql[i].isspace() or sql[i] in also:
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            break
    return i
