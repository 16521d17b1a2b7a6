"""The user directory index in the database (schema 1400), and how text becomes words.

Four tables (see ``1400_user_directory.*.sql``): ``user_directory`` (the profile of
every user the directory can return), ``user_directory_words`` (their searchable
words), ``user_directory_rooms`` (rooms this server is in, with whether each is public
for the directory) and ``user_directory_members`` (the joined members of those rooms).

Theory of operation: who may be returned is not stored per requester (Synapse keeps a
row per pair of users sharing a private room, which grows with the square of a room's
size); it is decided at search time from the members table. A candidate is visible
when it is joined to a public room, or shares a room with the requester (the
requester not counting as sharing a room with themselves), or, with
``search_all_users``, is a local user. A room going public or private is therefore
one row update, not a rewrite of its members.

Searching: text is lower-cased (``str.casefold``) and split into runs of word
characters (``\\w+``). A user's words are those of their display name and localpart,
the whole localpart, and the whole user id (which starts with ``@`` and so never
collides with the others). Each word of the search term must be a prefix of one of the
user's words; a term starting with ``@`` may instead be a prefix of the whole user id.
A prefix is a range scan ``word >= p AND word < p || U+10FFFF`` on the primary key,
which is a prefix search because the column compares bytewise (SQLite's BINARY, the
``C`` collation on PostgreSQL). Results are ranked by how many words matched exactly,
then users with a display name, then with an avatar, then by user id. To bound the
cost of a short prefix on a big directory, each search word reads at most
:data:`MAX_CANDIDATES` words (the first in byte order, exact matches first): on such
a directory a one- or two-letter term may miss users further down that range until
the term grows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ranvier.db.api import Connection, Database

MAX_WORD_CHARS = 64
"""Longer words are cut to this (a prefix search still finds them)."""
MAX_USER_WORDS = 48
MAX_QUERY_WORDS = 8
MAX_TERM_CHARS = 256
MAX_CANDIDATES = 2000
"""Words read per search word: a search costs at most this many candidates per word
(SQLite reads run on the event loop). A prefix of more words considers the first ones
in byte order, where exact matches come first."""
_TOP = "\U0010ffff"
"""Greater, in bytewise UTF-8 order, than any character that can follow a prefix."""
_WORD_RE = re.compile(r"\w+")


def split_words(text: str) -> list[str]:
    """The lower-cased words of ``text``, in order, without repeats."""
    seen: dict[str, None] = {}
    for match in _WORD_RE.finditer(text.casefold()):
        seen.setdefault(match.group()[:MAX_WORD_CHARS], None)
    return list(seen)


def user_words(user_id: str, display_name: str | None) -> set[str]:
    """The searchable words of a user (see the module docstring)."""
    localpart = user_id[1:].partition(":")[0].casefold()
    words = set(split_words(display_name or "")[:MAX_USER_WORDS])
    words.update(split_words(localpart)[:MAX_USER_WORDS])
    words.add(localpart[:MAX_WORD_CHARS])
    words.add(user_id.casefold()[: MAX_WORD_CHARS * 4])
    words.discard("")
    return words


def clean_value(value: Any) -> str | None:
    """A string profile value fit to store (PostgreSQL text holds no U+0000), else None."""
    if not isinstance(value, str) or not value:
        return None
    return value.replace("\x00", "")[:1000] or None


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """One search result."""

    user_id: str
    display_name: str | None
    avatar_url: str | None

    def to_json(self) -> dict[str, str]:
        """The result object of ``POST /user_directory/search``."""
        out = {"user_id": self.user_id}
        if self.display_name is not None:
            out["display_name"] = self.display_name
        if self.avatar_url is not None:
            out["avatar_url"] = self.avatar_url
        return out


class UserDirectoryStore:
    """Reads and writes the four user directory tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- rooms and members ----------------------------------------------------------

    async def room_public(self, room_id: str) -> bool | None:
        """Whether a tracked room is public; None when the room is not tracked."""
        row = await self.db.fetchone(
            "SELECT is_public FROM user_directory_rooms WHERE room_id = $1", room_id
        )
        return None if row is None else bool(row[0])

    async def tracked_rooms(self) -> list[str]:
        """Ids of every tracked room."""
        rows = await self.db.fetchall("SELECT room_id FROM user_directory_rooms")
        return [str(r[0]) for r in rows]

    async def track_room(
        self, room_id: str, is_public: bool, members: Iterable[tuple[str, bool]]
    ) -> None:
        """Track ``room_id`` with its joined ``(user_id, is_local)`` members (added to
        any already recorded)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO user_directory_rooms (room_id, is_public) VALUES ($1, $2)"
                " ON CONFLICT (room_id) DO UPDATE SET is_public = EXCLUDED.is_public",
                room_id,
                is_public,
            )
            rows = [(room_id, user_id, local) for user_id, local in members]
            if rows:
                await conn.executemany(
                    "INSERT INTO user_directory_members (room_id, user_id, is_local)"
                    " VALUES ($1, $2, $3) ON CONFLICT (room_id, user_id) DO NOTHING",
                    rows,
                )

    async def set_room_public(self, room_id: str, is_public: bool) -> None:
        """Record whether a tracked room is public."""
        await self.db.execute(
            "UPDATE user_directory_rooms SET is_public = $2 WHERE room_id = $1",
            room_id,
            is_public,
        )

    async def untrack_room(self, room_id: str) -> list[str]:
        """Forget a room and its members; return the users it listed."""
        async with self.db.transaction() as conn:
            rows = await conn.fetchall(
                "SELECT user_id FROM user_directory_members WHERE room_id = $1", room_id
            )
            await conn.execute("DELETE FROM user_directory_members WHERE room_id = $1", room_id)
            await conn.execute("DELETE FROM user_directory_rooms WHERE room_id = $1", room_id)
        return [str(r[0]) for r in rows]

    async def add_member(self, room_id: str, user_id: str, is_local: bool) -> None:
        """Record ``user_id`` as joined to a tracked room."""
        await self.db.execute(
            "INSERT INTO user_directory_members (room_id, user_id, is_local) VALUES ($1, $2, $3)"
            " ON CONFLICT (room_id, user_id) DO NOTHING",
            room_id,
            user_id,
            is_local,
        )

    async def remove_member(self, room_id: str, user_id: str) -> bool:
        """Record that ``user_id`` is no longer joined; return whether they were."""
        return (
            await self.db.execute(
                "DELETE FROM user_directory_members WHERE room_id = $1 AND user_id = $2",
                room_id,
                user_id,
            )
            > 0
        )

    async def is_member(self, room_id: str, user_id: str) -> bool:
        """Whether ``user_id`` is recorded as joined to the room."""
        row = await self.db.fetchone(
            "SELECT 1 FROM user_directory_members WHERE room_id = $1 AND user_id = $2",
            room_id,
            user_id,
        )
        return row is not None

    async def in_any_room(self, user_id: str) -> bool:
        """Whether ``user_id`` is joined to any tracked room."""
        row = await self.db.fetchone(
            "SELECT 1 FROM user_directory_members WHERE user_id = $1 LIMIT 1", user_id
        )
        return row is not None

    async def has_local_member(self, room_id: str) -> bool:
        """Whether a local user is joined to the room (the server is still in it)."""
        row = await self.db.fetchone(
            "SELECT 1 FROM user_directory_members WHERE room_id = $1 AND is_local LIMIT 1",
            room_id,
        )
        return row is not None

    async def rooms_with_local_members(self) -> list[str]:
        """Ids of the rooms (of the room tables) a local account is joined to."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT r.room_id FROM room_memberships m"
            " JOIN rooms r ON r.room_nid = m.room_nid"
            " JOIN accounts a ON a.user_id = m.user_id WHERE m.membership = 'join'"
        )
        return sorted(str(r[0]) for r in rows)

    async def deactivated(self, user_id: str) -> bool:
        """Whether ``user_id`` is a deactivated local account (never listed)."""
        row = await self.db.fetchone(
            "SELECT 1 FROM accounts WHERE user_id = $1 AND deactivated", user_id
        )
        return row is not None

    async def active_local_accounts(self) -> list[str]:
        """Every local account not deactivated."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM accounts WHERE NOT deactivated ORDER BY user_id"
        )
        return [str(r[0]) for r in rows]

    # -- profiles and words -----------------------------------------------------------

    async def profile(self, user_id: str) -> tuple[str | None, str | None] | None:
        """``(display_name, avatar_url)`` of a listed user, or None if not listed."""
        row = await self.db.fetchone(
            "SELECT display_name, avatar_url FROM user_directory WHERE user_id = $1", user_id
        )
        if row is None:
            return None
        return (
            None if row[0] is None else str(row[0]),
            None if row[1] is None else str(row[1]),
        )

    async def set_profile(
        self, user_id: str, display_name: Any, avatar_url: Any, is_local: bool
    ) -> None:
        """List ``user_id`` with this profile (non-strings are absent), words rewritten."""
        name, avatar = clean_value(display_name), clean_value(avatar_url)
        async with self.db.transaction() as conn:
            await _write_profile(conn, user_id, name, avatar, is_local)

    async def record(
        self,
        user_id: str,
        is_local: bool,
        *,
        room_id: str | None = None,
        profile: tuple[str | None, str | None] | None = None,
    ) -> None:
        """In one transaction: add ``user_id`` to the members of ``room_id`` (when
        given) and list them with ``profile`` (when given, values as
        :func:`clean_value` returns them)."""
        async with self.db.transaction() as conn:
            if room_id is not None:
                await conn.execute(
                    "INSERT INTO user_directory_members (room_id, user_id, is_local)"
                    " VALUES ($1, $2, $3) ON CONFLICT (room_id, user_id) DO NOTHING",
                    room_id,
                    user_id,
                    is_local,
                )
            if profile is not None:
                await _write_profile(conn, user_id, profile[0], profile[1], is_local)

    async def remove_user(self, user_id: str, *, memberships: bool = False) -> None:
        """Unlist ``user_id`` (and forget their room memberships when asked)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM user_directory_words WHERE user_id = $1", user_id)
            await conn.execute("DELETE FROM user_directory WHERE user_id = $1", user_id)
            if memberships:
                await conn.execute("DELETE FROM user_directory_members WHERE user_id = $1", user_id)

    # -- searching ----------------------------------------------------------------------

    async def search(
        self, requester: str, term: str, limit: int, *, search_all_local: bool = False
    ) -> tuple[list[DirectoryEntry], bool]:
        """The users visible to ``requester`` matching ``term``, best first, at most
        ``limit``; and whether more matched."""
        term = term[:MAX_TERM_CHARS]
        words = split_words(term)[:MAX_QUERY_WORDS]
        whole = term.strip().casefold()[: MAX_WORD_CHARS * 4]
        args: list[Any] = [requester, limit + 1]
        branches: list[str] = []
        if words:
            parts: list[str] = []
            for word in words:
                n = len(args)
                args += [word, word + _TOP]
                parts.append(
                    f"SELECT user_id, MAX(CASE WHEN word = ${n + 1} THEN 1 ELSE 0 END) AS e"
                    " FROM (SELECT word, user_id FROM user_directory_words"
                    f" WHERE word >= ${n + 1} AND word < ${n + 2}"
                    f" ORDER BY word LIMIT {MAX_CANDIDATES}) w GROUP BY user_id"
                )
            branches.append(
                "SELECT user_id, SUM(e) AS score FROM ("
                + " UNION ALL ".join(parts)
                + f") t GROUP BY user_id HAVING COUNT(*) = {len(words)}"
            )
        if whole.startswith("@") and len(whole) > 1:
            n = len(args)
            args += [whole, whole + _TOP]
            branches.append(
                f"SELECT user_id, {len(words) + 1} AS score FROM (SELECT user_id"
                f" FROM user_directory_words WHERE word >= ${n + 1} AND word < ${n + 2}"
                f" ORDER BY word LIMIT {MAX_CANDIDATES}) w"
            )
        if not branches or limit < 0:
            return [], False
        local_clause = " OR d.is_local" if search_all_local else ""
        sql = (
            "SELECT d.user_id, d.display_name, d.avatar_url, MAX(m.score) AS score"
            " FROM (" + " UNION ALL ".join(branches) + ") m"
            " JOIN user_directory d ON d.user_id = m.user_id"
            " WHERE (EXISTS (SELECT 1 FROM user_directory_members pm"
            " JOIN user_directory_rooms pr ON pr.room_id = pm.room_id"
            " WHERE pm.user_id = d.user_id AND pr.is_public)"
            " OR (d.user_id <> $1 AND EXISTS (SELECT 1 FROM user_directory_members a"
            " JOIN user_directory_members b ON b.room_id = a.room_id"
            " WHERE a.user_id = d.user_id AND b.user_id = $1))" + local_clause + ")"
            " GROUP BY d.user_id, d.display_name, d.avatar_url"
            " ORDER BY score DESC, CASE WHEN d.display_name IS NULL THEN 1 ELSE 0 END,"
            " CASE WHEN d.avatar_url IS NULL THEN 1 ELSE 0 END, d.user_id"
            " LIMIT $2"
        )
        rows = await self.db.fetchall(sql, *args)
        entries = [
            DirectoryEntry(
                str(r[0]), None if r[1] is None else str(r[1]), None if r[2] is None else str(r[2])
            )
            for r in rows
        ]
        return entries[:limit], len(entries) > limit


async def _write_profile(
    conn: Connection, user_id: str, name: str | None, avatar: str | None, is_local: bool
) -> None:
    await conn.execute(
        "INSERT INTO user_directory (user_id, display_name, avatar_url, is_local)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET"
        " display_name = EXCLUDED.display_name, avatar_url = EXCLUDED.avatar_url",
        user_id,
        name,
        avatar,
        is_local,
    )
    await _replace_words(conn, user_id, user_words(user_id, name))


async def _replace_words(conn: Connection, user_id: str, words: Sequence[str] | set[str]) -> None:
    await conn.execute("DELETE FROM user_directory_words WHERE user_id = $1", user_id)
    await conn.executemany(
        "INSERT INTO user_directory_words (word, user_id) VALUES ($1, $2)",
        [(w, user_id) for w in sorted(words)],
    )
