"""User-Interactive Authentication (client-server-api "User-Interactive Authentication API").

Theory of operation
-------------------
An endpoint protected by UIA calls :meth:`UserInteractiveAuth.authenticate` with the
request's ``auth`` dict, the flows it offers and the checkers for each stage type.

* No ``auth``: a session is created and a 401 is raised carrying ``flows``,
  ``params`` and ``session`` (a UIA endpoint never succeeds without auth, even when
  the only stage is ``m.login.dummy``).
* ``auth`` with a ``type``: the stage must extend the session's completed stages
  along some offered flow (stages are completed in order); its checker runs; on
  failure the same 401 is raised with ``errcode``/``error`` added; on success the
  stage is recorded. A stage already completed is not checked again.
* When the completed stages equal a whole flow, the session is marked finished in
  one conditional UPDATE (so two concurrent requests cannot both spend it) and the
  call proceeds. A finished session cannot authorise another request: reusing it
  yields 400 ``M_UNKNOWN``.

Sessions live in the database (``uia_sessions``) so they survive restarts and work
across processes. A session is bound to the HTTP method and path that created it
and, for authenticated endpoints, to the requesting user: changing the operation
mid-session is refused (403 ``M_FORBIDDEN``). Sessions expire after
:data:`SESSION_LIFETIME_MS`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ranvier.db.api import Database
from ranvier.http.types import MatrixError, Response, json_response

SESSION_LIFETIME_MS = 30 * 60 * 1000

JsonDict = dict[str, Any]


@dataclass(slots=True)
class UiaSession:
    """One UIA session."""

    session_id: str
    method: str
    path: str
    user_id: str | None
    completed: list[str]
    finished: bool
    created_ts: int
    data: JsonDict = field(default_factory=dict)


class StageFailed(Exception):
    """A checker rejected the submitted stage; rendered inside the 401 body."""

    def __init__(self, errcode: str, error: str) -> None:
        super().__init__(error)
        self.errcode = errcode
        self.error = error


StageChecker = Callable[[JsonDict, UiaSession], Awaitable[None]]
"""``await checker(auth_dict, session)``; raise :class:`StageFailed` to reject."""


class UiaRequired(MatrixError):
    """The 401 "more authentication needed" response (errcode only after a failure)."""

    def __init__(self, body: JsonDict) -> None:
        super().__init__(
            401, str(body.get("errcode", "M_UNAUTHORIZED")), str(body.get("error", "")), **{}
        )
        self.body = body

    def to_response(self) -> Response:
        """Render the UIA body exactly (``flows``, ``params``, ``session``, ...)."""
        return json_response(self.body, 401)


class UiaStore:
    """Reads and writes ``uia_sessions``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, method: str, path: str, user_id: str | None) -> UiaSession:
        """Start a session bound to ``method path`` (and ``user_id`` when authenticated)."""
        now = int(time.time() * 1000)
        session = UiaSession(secrets.token_urlsafe(18), method, path, user_id, [], False, now)
        await self._db.execute(
            "DELETE FROM uia_sessions WHERE created_ts < $1", now - SESSION_LIFETIME_MS
        )
        await self._db.execute(
            "INSERT INTO uia_sessions (session_id, created_ts, method, path, user_id, completed, "
            "finished, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            session.session_id,
            now,
            method,
            path,
            user_id,
            "[]",
            False,
            "{}",
        )
        return session

    async def get(self, session_id: str) -> UiaSession | None:
        """A live (unexpired) session or None."""
        row = await self._db.fetchone(
            "SELECT session_id, method, path, user_id, completed, finished, created_ts, data "
            "FROM uia_sessions WHERE session_id = $1",
            session_id,
        )
        if row is None:
            return None
        created = int(row[6])
        if created + SESSION_LIFETIME_MS < int(time.time() * 1000):
            return None
        return UiaSession(
            session_id=str(row[0]),
            method=str(row[1]),
            path=str(row[2]),
            user_id=None if row[3] is None else str(row[3]),
            completed=list(orjson.loads(row[4])),
            finished=bool(row[5]),
            created_ts=created,
            data=dict(orjson.loads(row[7])),
        )

    async def save_progress(self, session: UiaSession) -> None:
        """Persist ``completed`` and ``data``."""
        await self._db.execute(
            "UPDATE uia_sessions SET completed = $2, data = $3 WHERE session_id = $1",
            session.session_id,
            orjson.dumps(session.completed).decode(),
            orjson.dumps(session.data).decode(),
        )

    async def finish(self, session_id: str) -> bool:
        """Mark finished; False if it already was (someone else spent it)."""
        changed = await self._db.execute(
            "UPDATE uia_sessions SET finished = $2 WHERE session_id = $1 AND finished = $3",
            session_id,
            True,
            False,
        )
        return changed == 1


class UserInteractiveAuth:
    """Runs the UIA protocol for one request against a set of flows."""

    def __init__(self, store: UiaStore) -> None:
        self.store = store

    async def authenticate(
        self,
        auth: object,
        *,
        method: str,
        path: str,
        flows: Sequence[Sequence[str]],
        checkers: Mapping[str, StageChecker],
        params: JsonDict | None = None,
        user_id: str | None = None,
    ) -> UiaSession:
        """Return the finished session, or raise :class:`UiaRequired` / :class:`MatrixError`."""
        params = params or {}
        if auth is None:
            session = await self.store.create(method, path, user_id)
            raise UiaRequired(self._body(session, flows, params))
        if not isinstance(auth, dict):
            raise MatrixError(400, "M_BAD_JSON", "'auth' must be an object")
        session_id = auth.get("session")
        if session_id is None:
            session = await self.store.create(method, path, user_id)
        else:
            if not isinstance(session_id, str):
                raise MatrixError(400, "M_BAD_JSON", "'auth.session' must be a string")
            found = await self.store.get(session_id)
            if found is None:
                raise MatrixError(400, "M_UNKNOWN", "Unknown or expired authentication session")
            session = found
        if session.finished:
            raise MatrixError(400, "M_UNKNOWN", "This authentication session was already used")
        if session.method != method or session.path != path:
            raise MatrixError(
                403, "M_FORBIDDEN", "Requested operation changed during the authentication session"
            )
        if session.user_id != user_id:
            raise MatrixError(403, "M_FORBIDDEN", "Authentication session belongs to another user")

        stage = auth.get("type")
        if stage is not None:
            if not isinstance(stage, str):
                raise MatrixError(400, "M_BAD_JSON", "'auth.type' must be a string")
            if stage not in session.completed:
                attempt = [*session.completed, stage]
                if not any(list(f[: len(attempt)]) == attempt for f in flows):
                    raise UiaRequired(
                        self._body(
                            session,
                            flows,
                            params,
                            errcode="M_UNRECOGNIZED" if _unknown(stage, flows) else "M_FORBIDDEN",
                            error=f"Stage {stage} is not expected next in any flow",
                        )
                    )
                checker = checkers.get(stage)
                if checker is None:
                    raise UiaRequired(
                        self._body(session, flows, params, "M_UNRECOGNIZED", "Unsupported stage")
                    )
                try:
                    await checker(auth, session)
                except StageFailed as failure:
                    await self.store.save_progress(session)
                    raise UiaRequired(
                        self._body(session, flows, params, failure.errcode, failure.error)
                    ) from None
                session.completed.append(stage)
                await self.store.save_progress(session)

        if any(list(f) == session.completed for f in flows):
            if not await self.store.finish(session.session_id):
                raise MatrixError(400, "M_UNKNOWN", "This authentication session was already used")
            session.finished = True
            return session
        raise UiaRequired(self._body(session, flows, params))

    @staticmethod
    def _body(
        session: UiaSession,
        flows: Sequence[Sequence[str]],
        params: JsonDict,
        errcode: str | None = None,
        error: str | None = None,
    ) -> JsonDict:
        body: JsonDict = {
            "flows": [{"stages": list(f)} for f in flows],
            "params": params,
            "session": session.session_id,
        }
        if session.completed:
            body["completed"] = list(session.completed)
        if errcode is not None:
            body["errcode"] = errcode
            body["error"] = error or ""
        return body


def _unknown(stage: str, flows: Sequence[Sequence[str]]) -> bool:
    return all(stage not in f for f in flows)
