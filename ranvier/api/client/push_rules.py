"""The push rules API (client-server-api "Push Rules: API", pushrules.yaml):
``GET /pushrules/``, ``GET /pushrules/global/``, ``GET /pushrules/global/{kind}/``,
``GET|PUT|DELETE /pushrules/global/{kind}/{ruleId}`` and
``GET|PUT /pushrules/global/{kind}/{ruleId}/{enabled|actions}``.

Everything under ``/pushrules/`` goes to one handler that splits the still-encoded
path itself (so an encoded ``/`` in a rule id cannot become a path separator), then:
a path ending before the rule id without its trailing slash, an unknown scope, kind
or attribute, or an empty rule id is 400 ``M_INVALID_PARAM`` (``/pushrules`` without
the slash is not routed at all: 404); an unknown rule is 404 ``M_NOT_FOUND``; rule
bodies are validated by :mod:`ranvier.core.push_rules`, whose errors carry their
status. Changes go through :class:`ranvier.push.rules.PushRules`, which also
publishes the new ``m.push_rules`` account data.
"""

from __future__ import annotations

from urllib.parse import unquote

from ranvier.api.auth import require_user
from ranvier.api.client.common import V3, RouteDef
from ranvier.core.push_rules import KINDS, PushRuleError, UserRules
from ranvier.http.parse import parse_json_body
from ranvier.http.types import MatrixError, Request, Response, json_response
from ranvier.push.rules import PushRules

PREFIX = f"{V3}/pushrules/"
ATTRIBUTES = ("enabled", "actions")


def _segments(request: Request) -> list[str]:
    raw = request.raw_path
    at = raw.find("/pushrules/")
    rest = raw[at + len("/pushrules/") :] if at >= 0 else ""
    try:
        return [unquote(s, errors="strict") for s in rest.split("/")]
    except UnicodeDecodeError:
        raise MatrixError(400, "M_INVALID_PARAM", "Invalid percent-encoding in path") from None


def _bad(message: str) -> MatrixError:
    return MatrixError(400, "M_INVALID_PARAM", message)


class PushRulesApi:
    """Serves the push rules API."""

    def __init__(self, rules: PushRules) -> None:
        self.rules = rules

    async def handle(self, request: Request) -> Response:
        """Every method on every path under ``/pushrules/``."""
        requester = await require_user(request, allow_guest=False)
        user_id = requester.user_id
        segs = _segments(request)
        method = request.method if request.method != "HEAD" else "GET"
        try:
            if segs == [""]:
                if method != "GET":
                    raise _bad("Missing scope")
                return json_response(await self.rules.ruleset(user_id))
            scope = segs[0]
            if scope != "global":
                raise _bad(f"Unknown scope {scope!r}")
            if len(segs) == 1:
                raise _bad("Missing trailing slash after the scope")
            if len(segs) == 2 and segs[1] == "":
                if method != "GET":
                    raise _bad("Missing kind")
                return json_response((await self.rules.ruleset(user_id))["global"])
            kind = segs[1]
            if kind not in KINDS:
                raise _bad(f"Unknown push rule kind {kind!r}")
            if len(segs) == 2:
                raise _bad("Missing trailing slash after the kind")
            rule_id = segs[2]
            if len(segs) == 3 and rule_id == "":
                if method != "GET":
                    raise _bad("Missing rule_id")
                return json_response((await self.rules.ruleset(user_id))["global"][kind])
            if rule_id == "":
                raise _bad("Empty rule_id")
            if len(segs) == 3:
                return await self._rule(request, method, user_id, kind, rule_id)
            if len(segs) == 4 and segs[3] in ATTRIBUTES:
                return await self._attribute(request, method, user_id, kind, rule_id, segs[3])
            raise _bad("Unknown push rule attribute")
        except PushRuleError as exc:
            raise MatrixError(exc.status, exc.errcode, str(exc)) from None

    async def _rule(
        self, request: Request, method: str, user_id: str, kind: str, rule_id: str
    ) -> Response:
        if method == "GET":
            return json_response(await self.rules.rule(user_id, kind, rule_id))
        if method == "DELETE":
            await self.rules.modify(user_id, lambda r: r.delete(kind, rule_id))
            return json_response({})
        if method == "PUT":
            body = parse_json_body(request)
            before = request.query_one("before")
            after = request.query_one("after")

            def put(rules: UserRules) -> None:
                rules.put(kind, rule_id, body, before, after)

            await self.rules.modify(user_id, put)
            return json_response({})
        raise MatrixError(405, "M_UNRECOGNIZED", "Unsupported method")

    async def _attribute(
        self, request: Request, method: str, user_id: str, kind: str, rule_id: str, attr: str
    ) -> Response:
        if method == "GET":
            rule = await self.rules.rule(user_id, kind, rule_id)
            return json_response({attr: rule[attr]})
        if method != "PUT":
            raise MatrixError(405, "M_UNRECOGNIZED", "Unsupported method")
        body = parse_json_body(request)
        if attr not in body:
            raise MatrixError(400, "M_MISSING_PARAM", f"Missing parameter: {attr}")
        value = body[attr]

        def change(rules: UserRules) -> None:
            if attr == "enabled":
                rules.set_enabled(kind, rule_id, value)
            else:
                rules.set_actions(kind, rule_id, value)

        await self.rules.modify(user_id, change)
        return json_response({})

    def routes(self) -> list[RouteDef]:
        """The routes of this module."""
        tail = f"{V3}/pushrules/{{path:path}}"
        return [
            (method, pattern, self.handle)
            for pattern in (PREFIX, tail)
            for method in ("GET", "PUT", "DELETE")
        ]
