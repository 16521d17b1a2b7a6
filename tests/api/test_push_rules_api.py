"""The push rules API over real HTTP, and ``m.push_rules`` in ``/sync``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.api.conftest import Client
from tests.api.sync_helpers import V3, register, sync

PR = f"{V3}/pushrules"


async def test_defaults_are_listed_in_spec_order(client: Client) -> None:
    _, tok = await register(client, "alice")
    status, body = await client.request("GET", f"{PR}/", token=tok)
    assert status == 200
    glob = body["global"]
    assert set(glob) == {"override", "content", "room", "sender", "underride"}
    assert glob["override"][0]["rule_id"] == ".m.rule.master"
    assert glob["override"][0]["enabled"] is False
    assert [r["rule_id"] for r in glob["underride"]][-2:] == [
        ".m.rule.message",
        ".m.rule.encrypted",
    ]
    assert all(r["default"] is True for kind in glob.values() for r in kind)
    status, scoped = await client.request("GET", f"{PR}/global/", token=tok)
    assert (status, scoped) == (200, glob)
    status, kind = await client.request("GET", f"{PR}/global/underride/", token=tok)
    assert (status, kind) == (200, glob["underride"])
    status, rule = await client.request("GET", f"{PR}/global/override/.m.rule.master", token=tok)
    assert status == 200 and rule["rule_id"] == ".m.rule.master"


async def test_add_place_change_and_delete_rules(client: Client) -> None:
    _, tok = await register(client, "alice")

    async def put(kind: str, rule_id: str, body: dict[str, Any], query: str = "") -> Any:
        path = f"{PR}/global/{kind}/{quote(rule_id, safe='')}{query}"
        return await client.request("PUT", path, body, token=tok)

    for room in ("!a:x", "!b:x"):
        assert await put("room", room, {"actions": ["notify"]}) == (200, {})
    assert await put("room", "!c:x", {"actions": ["notify"]}, "?before=!a:x") == (200, {})
    status, rooms = await client.request("GET", f"{PR}/global/room/", token=tok)
    assert [r["rule_id"] for r in rooms] == ["!b:x", "!c:x", "!a:x"]
    assert rooms[0] == {"rule_id": "!b:x", "actions": ["notify"], "enabled": True, "default": False}
    status, _ = await put("room", "!d:x", {"actions": []}, "?after=!nope:x")
    assert status == 400
    # Content rules with a non-ASCII id; override with conditions.
    assert (await put("content", "тест", {"pattern": "тест", "actions": ["notify"]}))[0] == 200
    status, rule = await client.request("GET", f"{PR}/global/content/{quote('тест')}", token=tok)
    assert status == 200 and rule["pattern"] == "тест"
    cond = {"kind": "event_match", "key": "content.msgtype", "pattern": "m.notice"}
    assert (await put("override", "mine", {"conditions": [cond], "actions": []}))[0] == 200
    # enabled / actions of user and default rules.
    path = f"{PR}/global/room/{quote('!a:x')}"
    assert (await client.request("PUT", f"{path}/enabled", {"enabled": False}, token=tok))[0] == 200
    assert await client.request("GET", f"{path}/enabled", token=tok) == (200, {"enabled": False})
    dflt = f"{PR}/global/underride/.m.rule.message"
    status, _ = await client.request(
        "PUT", f"{dflt}/actions", {"actions": ["dont_notify"]}, token=tok
    )
    assert status == 200
    assert await client.request("GET", f"{dflt}/actions", token=tok) == (
        200,
        {"actions": ["dont_notify"]},
    )
    assert (await client.request("DELETE", path, token=tok))[0] == 200
    assert (await client.request("GET", path, token=tok))[0] == 404
    assert (await client.request("DELETE", path, token=tok))[0] == 404


async def test_errors(client: Client) -> None:
    _, tok = await register(client, "alice")
    put_400 = [
        ("/", {}),
        ("/not_a_scope/room/!r:x", {"actions": []}),
        ("/global", {}),
        ("/global/room", {}),
        ("/global/room/", {"actions": []}),
        ("/global/not_a_template/foo", {"actions": []}),
        ("/global/room/" + quote("#fo\\o:example.com", safe=""), {"actions": []}),
        ("/global/override/my_id", {"actions": []}),
        ("/global/underride/my_id", {"actions": [], "conditions": [{}]}),
        ("/global/content/my_id", {"actions": []}),
        ("/global/room/" + quote("!r:x"), {}),
        ("/global/room/" + quote("!r:x"), {"actions": ["not_an_action"]}),
        ("/global/override/.m.rule.master/not_an_attr", {"enabled": True}),
        ("/global/override/.m.rule.master/enabled", {"enabled": "not a boolean"}),
        ("/global/underride/.m.rule.message", {"actions": []}),
    ]
    for path, body in put_400:
        status, err = await client.request("PUT", f"{PR}{path}", body, token=tok)
        assert status == 400, (path, err)
        assert err["errcode"].startswith("M_"), err
    for path in ("/global", "/global/room", "/not_a_scope/", "/global/not_a_template/"):
        assert (await client.request("GET", f"{PR}{path}", token=tok))[0] == 400, path
    assert (await client.request("GET", f"{PR}/global/override/.m.rule.master/x", token=tok))[
        0
    ] == 400
    assert (await client.request("GET", PR, token=tok))[0] == 404
    status, err = await client.request("GET", f"{PR}/global/override/not_a_rule_id", token=tok)
    assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
    status, err = await client.request(
        "PUT", f"{PR}/global/override/.not.a.default.rule/actions", {"actions": []}, token=tok
    )
    assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
    status, err = await client.request(
        "PUT",
        f"{PR}/global/room/{quote('!r:x')}",
        raw=b"{not json",
        token=tok,
    )
    assert (status, err["errcode"]) == (400, "M_NOT_JSON")
    assert (await client.request("GET", f"{PR}/"))[0] == 401


async def test_push_rules_account_data_in_sync(client: Client) -> None:
    me, tok = await register(client, "alice")
    first = await sync(client, tok)
    rules = [e for e in first["account_data"]["events"] if e["type"] == "m.push_rules"]
    assert len(rules) == 1 and rules[0]["content"]["global"]["override"][0]["rule_id"] == (
        ".m.rule.master"
    )
    # Clients may not set it through the account data API.
    status, _ = await client.request(
        "PUT", f"{V3}/user/{quote(me)}/account_data/m.push_rules", {}, token=tok
    )
    assert status == 405
    status, _ = await client.request(
        "PUT", f"{PR}/global/sender/{quote('@spam:x')}", {"actions": []}, token=tok
    )
    assert status == 200
    later = await sync(client, tok, since=first["next_batch"])
    changed = [e for e in later["account_data"]["events"] if e["type"] == "m.push_rules"]
    assert len(changed) == 1
    assert changed[0]["content"]["global"]["sender"][0]["rule_id"] == "@spam:x"
    again = await sync(client, tok)
    stored = [e for e in again["account_data"]["events"] if e["type"] == "m.push_rules"]
    assert len(stored) == 1 and stored[0]["content"]["global"]["sender"]
