"""User-Interactive Authentication (client-server-api "User-Interactive Authentication API").

Theory of operation
-------------------
An endpoint protected by UIA handles a request in two steps:

1. :meth:`UserInteractiveAuth.begin` finds the session named by ``auth.session`` (or
   starts one) and settles the request's *parameters*: the endpoint passes the
   parameters it read from the body (``auth`` excluded, secrets already hashed) and
   gets back, in ``session.params``, the parameters the operation must use. The
   first request that carries parameters has them remembered in the session; a
   later request that carries none (for example one that only says "the email link
   was clicked, here is my session", as the spec's UIA section describes) uses the
   remembered ones. The endpoint validates ``session.params`` next, so a request
   that would fail for a reason other than authentication fails before any stage
   runs (registration.yaml asks this for ``M_USER_IN_USE`` and friends).
2. :meth:`UserInteractiveAuth.complete` runs the submitted stage. No ``auth``: a 401
   carrying ``flows``, ``params`` and ``session`` (a UIA endpoint never succeeds
   without auth, even when the only stage is ``m.login.dummy``). ``auth`` with a
   ``type``: the stage must extend the session's completed stages along some
   offered flow (stages are completed in order, "Failing to follow the flows in
   order must result in an HTTP 401 response"); its checker runs; on failure the
   401 gets ``errcode``/``error``; on success the stage is recorded. When the
   completed stages equal a whole flow the session is marked finished and the
   call proceeds; otherwise a 401 lists what is ``completed``.

A finished session presented again is a *replay* (``session.replay``): the spec says
"Completed stages cannot be retried by clients, therefore servers must return ...
the result of the API call if all stages were completed when a client retries a
stage". :meth:`complete` then returns at once and the endpoint performs the *same*
API call again: ``session.params`` are then always the remembered parameters, never
the new request's, so a finished session can repeat the operation it authorised
but cannot authorise a different one. Endpoints whose operation is not idempotent
keep its outcome in ``session.data`` (:meth:`UserInteractiveAuth.save`) and answer
replays from it (registration does).

Some stages are completed outside the API, in a browser (``m.login.sso`` through
the fallback page): :meth:`UserInteractiveAuth.complete_out_of_band` records them, and
the client's next request, carrying only the session, proceeds.

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

_PARAMS_KEY = "params"
"""Key of the remembered request parameters inside ``UiaSession.data``."""
_REFUSED_KEY = "refused"
"""Set when an out-of-band stage proved another user: the session only yields 403."""


@dataclass(slots=True)
class UiaSession:
    """One UIA session.

    ``data`` holds what checkers and endpoints keep between requests (the remembered
    request parameters under ``"params"``, a registration token, an outcome);
    ``replay`` is True when the session had already finished before this request.
    """

    session_id: str
    method: str
    path: str
    user_id: str | None
    completed: list[str]
    finished: bool
    created_ts: int
    data: JsonDict = field(default_factory=dict)
    replay: bool = False

    @property
    def params(self) -> JsonDict:
        """The request parameters the operation must use (see the module docstring)."""
        remembered = self.data.get(_PARAMS_KEY)
        return dict(remembered) if isinstance(remembered, dict) else {}


class StageFailed(Exception):
    """A checker rejected the submitted stage; rendered inside the 401 body."""

    def __init__(self, errcode: str, error: str) -> None:
        super().__init__(error)
        self.errcode = errcode
        self.error = error


StageChecker = Callable[[JsonDict, UiaSession], Awaitable[None]]
"""``await checker(auth_dict, session)``; raise :class:`StageFailed` to reject the
attempt (401, may be retried) or :class:`MatrixError` to fail the request outright."""


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

    async def create(
        self, method: str, path: str, user_id: str | None, data: JsonDict | None = None
    ) -> UiaSession:
        """Start a session bound to ``method path`` (and ``user_id`` when authenticated)."""
        now = int(time.time() * 1000)
        session = UiaSession(
            secrets.token_urlsafe(18), method, path, user_id, [], False, now, dict(data or {})
        )
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
            orjson.dumps(session.data).decode(),
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

    async def finish(self, session_id: str) -> None:
        """Mark the session finished (its flow is complete)."""
        await self._db.execute(
            "UPDATE uia_sessions SET finished = $2 WHERE session_id = $1", session_id, True
        )


class UserInteractiveAuth:
    """Runs the UIA protocol for one request against a set of flows."""

    def __init__(self, store: UiaStore) -> None:
        self.store = store

    async def begin(
        self,
        auth: object,
        *,
        method: str,
        path: str,
        request: JsonDict | None = None,
        user_id: str | None = None,
    ) -> UiaSession:
        """Find or start the session for this request and settle its parameters.

        ``request`` is the operation's parameters as this request gives them (only
        keys the endpoint knows, secrets replaced by hashes). Raises 400 for a
        malformed ``auth`` or an unknown/expired session, 403 if the session was
        started for another operation or user.
        """
        request = request or {}
        if auth is None:
            return await self.store.create(method, path, user_id, {_PARAMS_KEY: request})
        if not isinstance(auth, dict):
            raise MatrixError(400, "M_BAD_JSON", "'auth' must be an object")
        session_id = auth.get("session")
        if session_id is None:
            return await self.store.create(method, path, user_id, {_PARAMS_KEY: request})
        if not isinstance(session_id, str):
            raise MatrixError(400, "M_BAD_JSON", "'auth.session' must be a string")
        session = await self.store.get(session_id)
        if session is None:
            raise MatrixError(400, "M_UNKNOWN", "Unknown or expired authentication session")
        if session.method != method or session.path != path:
            raise MatrixError(
                403, "M_FORBIDDEN", "Requested operation changed during the authentication session"
            )
        if session.user_id != user_id:
            raise MatrixError(403, "M_FORBIDDEN", "Authentication session belongs to another user")
        if session.finished:
            session.replay = True
        elif request and request != session.params:
            session.data[_PARAMS_KEY] = request
            await self.store.save_progress(session)
        return session

    async def complete(
        self,
        session: UiaSession,
        auth: object,
        *,
        flows: Sequence[Sequence[str]],
        checkers: Mapping[str, StageChecker],
        params: JsonDict | None = None,
    ) -> None:
        """Run the submitted stage; return once some flow is complete, else raise 401.

        ``params`` is the UIA ``params`` object of the 401 (per-stage information such
        as the captcha site key). A replayed session returns at once.
        """
        if session.replay:
            return
        refused = session.data.get(_REFUSED_KEY)
        if isinstance(refused, str):
            raise MatrixError(403, "M_FORBIDDEN", refused)
        params = params or {}
        if not isinstance(auth, dict):
            raise UiaRequired(self._body(session, flows, params, attempted=False))
        stage = auth.get("type")
        if stage is not None:
            if not isinstance(stage, str):
                raise MatrixError(400, "M_BAD_JSON", "'auth.type' must be a string")
            if stage not in session.completed:
                await self._run_stage(session, auth, stage, flows, checkers, params)
        if any(list(f) == session.completed for f in flows):
            await self.store.finish(session.session_id)
            session.finished = True
            return
        raise UiaRequired(self._body(session, flows, params))

    async def _run_stage(
        self,
        session: UiaSession,
        auth: JsonDict,
        stage: str,
        flows: Sequence[Sequence[str]],
        checkers: Mapping[str, StageChecker],
        params: JsonDict,
    ) -> None:
        attempt = [*session.completed, stage]
        if not any(list(f[: len(attempt)]) == attempt for f in flows):
            errcode = "M_UNRECOGNIZED" if _unknown(stage, flows) else "M_FORBIDDEN"
            error = f"Stage {stage} is not expected next in any flow"
            raise UiaRequired(self._body(session, flows, params, errcode, error))
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
        request: JsonDict | None = None,
    ) -> UiaSession:
        """:meth:`begin` then :meth:`complete`, for endpoints that validate nothing in
        between; returns the session (``session.params`` are the ones to use)."""
        session = await self.begin(auth, method=method, path=path, request=request, user_id=user_id)
        await self.complete(session, auth, flows=flows, checkers=checkers, params=params)
        return session

    async def complete_out_of_band(self, session_id: str, stage: str, user_id: str) -> UiaSession:
        """Record ``stage`` as done outside the API (a fallback page, an SSO callback)
        by someone who proved to be ``user_id``.

        The client then "retries the request with an auth dict containing only the
        session key" (UIA "Fallback"). If ``user_id`` is not the user the session was
        started for, the session is marked refused instead: its next request fails
        with 403, since the stage proved another identity. Raises 400 ``M_UNKNOWN``
        for an unknown, expired or finished session, and for unauthenticated sessions
        (no user to compare with).
        """
        session = await self.store.get(session_id)
        if session is None or session.finished or session.user_id is None:
            raise MatrixError(400, "M_UNKNOWN", "Unknown or expired authentication session")
        if user_id != session.user_id:
            session.data[_REFUSED_KEY] = "The user who authenticated is not the requesting user"
        elif stage not in session.completed:
            session.completed.append(stage)
        await self.store.save_progress(session)
        return session

    async def save(self, session: UiaSession) -> None:
        """Persist ``session.data`` (for example the outcome of the authorised call)."""
        await self.store.save_progress(session)

    @staticmethod
    def _body(
        session: UiaSession,
        flows: Sequence[Sequence[str]],
        params: JsonDict,
        errcode: str | None = None,
        error: str | None = None,
        *,
        attempted: bool = True,
    ) -> JsonDict:
        """The 401 body; ``completed`` is listed (possibly empty) once auth was tried."""
        body: JsonDict = {
            "flows": [{"stages": list(f)} for f in flows],
            "params": params,
            "session": session.session_id,
        }
        if attempted or session.completed:
            body["completed"] = list(session.completed)
        if errcode is not None:
            body["errcode"] = errcode
            body["error"] = error or ""
        return body


def _unknown(stage: str, flows: Sequence[Sequence[str]]) -> bool:
    return all(stage not in f for f in flows)
