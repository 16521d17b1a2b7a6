"""Placeholder rewriting and statement classification (pure functions, no database)."""

from __future__ import annotations

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from ranvier.db.placeholders import is_read_only, split_script, to_sqlite


def test_rewrites_numbered_parameters() -> None:
    assert to_sqlite("SELECT a FROM t WHERE b = $1 AND c = $2") == (
        "SELECT a FROM t WHERE b = ?1 AND c = ?2"
    )
    assert to_sqlite("VALUES ($10, $1, $100)") == "VALUES (?10, ?1, ?100)"
    assert to_sqlite("SELECT 1") == "SELECT 1"


def test_leaves_literals_identifiers_and_comments() -> None:
    sql = (
        "SELECT '$1', 'it''s $2', \"col$3\", `x$4`, [y$5], $6 -- $7\n"
        "/* $8 */ FROM t WHERE a = $9 AND b = '$$' AND c = $ AND d = $x"
    )
    assert to_sqlite(sql) == (
        "SELECT '$1', 'it''s $2', \"col$3\", `x$4`, [y$5], ?6 -- $7\n"
        "/* $8 */ FROM t WHERE a = ?9 AND b = '$$' AND c = $ AND d = $x"
    )


def test_unterminated_tokens_do_not_crash() -> None:
    assert to_sqlite("SELECT '$1") == "SELECT '$1"
    assert to_sqlite("SELECT $1 /* $2") == "SELECT ?1 /* $2"
    assert to_sqlite("SELECT $1 -- $2") == "SELECT ?1 -- $2"


@given(st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=12))
def test_rewritten_sql_binds_like_postgres(indexes: list[int]) -> None:
    """Whatever order and repetition, ``$n`` takes the n-th argument on SQLite."""
    top = max(indexes)
    sql = "SELECT " + ", ".join(f"'$1' || ${i} || '$1'" for i in indexes)
    args = [f"a{i}" for i in range(1, top + 1)]
    row = sqlite3.connect(":memory:").execute(to_sqlite(sql), args).fetchone()
    assert row == tuple(f"$1a{i}$1" for i in indexes)


def test_read_only_classification() -> None:
    assert is_read_only("SELECT 1")
    assert is_read_only("  -- c\n /* x */ (SELECT 1) UNION SELECT 2")
    assert is_read_only("values (1)")
    assert not is_read_only("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x")
    assert not is_read_only("INSERT INTO t VALUES (1) RETURNING id")
    assert not is_read_only("UPDATE t SET a = 1")
    assert not is_read_only("SELECTED")  # not a keyword
    assert not is_read_only("")


def test_split_script() -> None:
    script = (
        "-- header; with a semicolon\n"
        "CREATE TABLE a (x TEXT);\n"
        "INSERT INTO a VALUES ('x;y');\n"
        "CREATE TRIGGER tr AFTER INSERT ON a BEGIN\n"
        "  UPDATE a SET x = x || ';';\n"
        "END;\n"
        "/* trailing */\n"
        "SELECT 1"
    )
    parts = split_script(script)
    assert len(parts) == 4
    assert parts[1].endswith("INSERT INTO a VALUES ('x;y');")
    assert parts[2].startswith("CREATE TRIGGER") and parts[2].endswith("END;")
    assert parts[3].endswith("SELECT 1;")
    assert split_script("  -- nothing\n;;") == []
