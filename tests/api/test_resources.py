"""Discovery, capabilities, devices, profiles, account data, tags, filters, 3PIDs and
metrics, over HTTP against the whole server."""

from __future__ import annotations

from ranvier.api.client.versions import REQUIREMENTS, supported_versions
from ranvier.api.client.well_known import WellKnownApi
from ranvier.core.room_versions import DEFAULT_ROOM_VERSION, KNOWN_ROOM_VERSIONS
from ranvier.http.types import MatrixError, Request
from tests.api.conftest import SERVER_NAME, Client

V3 = "/_matrix/client/v3"


async def test_versions_are_honest(client: Client) -> None:
    status, body = await client.request("GET", "/_matrix/client/versions")
    assert status == 200 and body["unstable_features"] == {}
    assert body["versions"] == supported_versions(client.server._routed)
    # This server alone (no /sync, no rooms yet) cannot claim v1.1.
    assert "v1.1" not in body["versions"]
    everything = supported_versions(lambda method, path: True)
    assert everything == [v for v, _ in REQUIREMENTS]
    no_refresh = supported_versions(lambda method, path: not path.endswith("/refresh"))
    assert no_refresh == ["v1.1", "v1.2"]


async def test_well_known_and_capabilities(client: Client) -> None:
    status, body = await client.request("GET", "/.well-known/matrix/client")
    assert (status, body) == (200, {"m.homeserver": {"base_url": "https://matrix.test.local"}})
    status, body = await client.request("GET", "/.well-known/matrix/server")
    assert (status, body) == (200, {"m.server": "matrix.test.local:443"})
    unconfigured = WellKnownApi("", "")
    req = Request("GET", "/", "/", {}, {}, b"", "127.0.0.1")
    for handler in (unconfigured.client, unconfigured.server):
        try:
            await handler(req)
        except MatrixError as e:
            assert (e.status, e.errcode) == (404, "M_NOT_FOUND")
        else:
            raise AssertionError("expected 404")

    reg = await client.register("cap")
    status, body = await client.request("GET", f"{V3}/capabilities")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    status, body = await client.request("GET", f"{V3}/capabilities", token=reg["access_token"])
    caps = body["capabilities"]
    assert caps["m.change_password"] == {"enabled": True}
    assert caps["m.3pid_changes"] == {"enabled": False}
    assert caps["m.room_versions"]["default"] == DEFAULT_ROOM_VERSION.identifier
    assert set(caps["m.room_versions"]["available"]) == set(KNOWN_ROOM_VERSIONS)


async def test_devices_endpoints(client: Client) -> None:
    reg = await client.register("dora", device_id="D1")
    t = reg["access_token"]
    status, body = await client.request("GET", f"{V3}/devices/D1", token=t)
    assert status == 200 and body["device_id"] == "D1"
    status, body = await client.request("GET", f"{V3}/devices/NOPE", token=t)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    assert (await client.request("PUT", f"{V3}/devices/D1", {"display_name": "Tab"}, token=t))[
        0
    ] == 200
    status, body = await client.request("GET", f"{V3}/devices/D1", token=t)
    assert body["display_name"] == "Tab"
    status, body = await client.request("PUT", f"{V3}/devices/NOPE", {"display_name": "x"}, token=t)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await client.request("PUT", f"{V3}/devices/D1", {"display_name": 3}, token=t)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await client.request("POST", f"{V3}/delete_devices", {"devices": "D1"}, token=t)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await client.request("POST", f"{V3}/delete_devices", {}, token=t)
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")

    status, other = await client.request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": "dora", "password": "pw"}
    )
    status, first = await client.request("DELETE", f"{V3}/devices/{other['device_id']}", token=t)
    assert status == 401 and "session" in first
    auth = {
        "type": "m.login.password",
        "user": "dora",
        "password": "pw",
        "session": first["session"],
    }
    # The session is bound to the request that opened it.
    status, body = await client.request(
        "POST", f"{V3}/delete_devices", {"devices": ["D1"], "auth": auth}, token=t
    )
    assert status == 403
    status, body = await client.request(
        "DELETE", f"{V3}/devices/{other['device_id']}", {"auth": auth}, token=t
    )
    assert status == 200
    assert (await client.request("GET", f"{V3}/account/whoami", token=other["access_token"]))[
        0
    ] == 401
    # Another user's password does not authorise.
    mallory = await client.register("mallory", "mpw")
    status, first = await client.request(
        "POST", f"{V3}/delete_devices", {"devices": ["D1"]}, token=t
    )
    auth = {
        "type": "m.login.password",
        "user": "mallory",
        "password": "mpw",
        "session": first["session"],
    }
    status, body = await client.request(
        "POST", f"{V3}/delete_devices", {"devices": ["D1"], "auth": auth}, token=t
    )
    # Right credentials of another user: the request is refused outright (403, not the
    # retryable 401 of a wrong password), and the device survives.
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN") and "flows" not in body
    assert mallory["user_id"] != reg["user_id"]
    status, _ = await client.request("GET", f"{V3}/devices/D1", token=t)
    assert status == 200
    auth["password"] = "wrong"
    status, body = await client.request(
        "POST", f"{V3}/delete_devices", {"devices": ["D1"], "auth": auth}, token=t
    )
    assert (status, body["errcode"], body["completed"]) == (401, "M_FORBIDDEN", [])


async def test_profile_endpoints(client: Client) -> None:
    reg = await client.register("emma")
    other = await client.register("fred")
    t = reg["access_token"]
    me = reg["user_id"]
    status, body = await client.request("GET", f"{V3}/profile/{me}")
    assert (status, body) == (200, {"displayname": "emma"})
    assert (
        await client.request(
            "PUT", f"{V3}/profile/{me}/displayname", {"displayname": "Emma"}, token=t
        )
    )[0] == 200
    assert (
        await client.request(
            "PUT", f"{V3}/profile/{me}/avatar_url", {"avatar_url": "mxc://test.local/abc"}, token=t
        )
    )[0] == 200
    assert (
        await client.request("PUT", f"{V3}/profile/{me}/m.tz", {"m.tz": "Europe/Paris"}, token=t)
    )[0] == 200
    assert (
        await client.request(
            "PUT", f"{V3}/profile/{me}/org.example.pets", {"org.example.pets": ["cat"]}, token=t
        )
    )[0] == 200
    status, body = await client.request("GET", f"{V3}/profile/{me}")
    assert body == {
        "displayname": "Emma",
        "avatar_url": "mxc://test.local/abc",
        "m.tz": "Europe/Paris",
        "org.example.pets": ["cat"],
    }
    status, body = await client.request("GET", f"{V3}/profile/{me}/displayname")
    assert (status, body) == (200, {"displayname": "Emma"})
    assert (await client.request("DELETE", f"{V3}/profile/{me}/org.example.pets", token=t))[
        0
    ] == 200
    status, body = await client.request("GET", f"{V3}/profile/{me}/org.example.pets")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    errors = [
        (
            "PUT",
            f"{V3}/profile/{other['user_id']}/displayname",
            {"displayname": "x"},
            403,
            "M_FORBIDDEN",
        ),
        ("PUT", f"{V3}/profile/{me}/displayname", {"other": "x"}, 400, "M_MISSING_PARAM"),
        ("PUT", f"{V3}/profile/{me}/displayname", {"displayname": 1}, 400, "M_BAD_JSON"),
        ("PUT", f"{V3}/profile/{me}/Not.Valid", {"Not.Valid": 1}, 400, "M_INVALID_PARAM"),
        (
            "PUT",
            f"{V3}/profile/{me}/org.example.big",
            {"org.example.big": "x" * 70000},
            400,
            "M_PROFILE_TOO_LARGE",
        ),
        ("GET", f"{V3}/profile/@ghost:{SERVER_NAME}", None, 404, "M_NOT_FOUND"),
        ("GET", f"{V3}/profile/not-a-user-id", None, 400, "M_INVALID_PARAM"),
    ]
    for method, path, body, status_want, errcode in errors:
        status, got = await client.request(method, path, body, token=t)
        assert (status, got.get("errcode")) == (status_want, errcode), path
    status, got = await client.request(
        "PUT", f"{V3}/profile/{me}/displayname", {"displayname": "x"}
    )
    assert (status, got["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_account_data_and_tags(client: Client) -> None:
    reg = await client.register("gina")
    other = await client.register("hank")
    t = reg["access_token"]
    me = reg["user_id"]
    base = f"{V3}/user/{me}"
    assert (await client.request("PUT", f"{base}/account_data/org.example.cfg", {"a": 1}, token=t))[
        0
    ] == 200
    status, body = await client.request("GET", f"{base}/account_data/org.example.cfg", token=t)
    assert (status, body) == (200, {"a": 1})
    status, body = await client.request("GET", f"{base}/account_data/org.example.none", token=t)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    room = "!room:test.local"
    assert (
        await client.request(
            "PUT", f"{base}/rooms/{room}/account_data/org.example.r", {"b": 2}, token=t
        )
    )[0] == 200
    status, body = await client.request(
        "GET", f"{base}/rooms/{room}/account_data/org.example.r", token=t
    )
    assert (status, body) == (200, {"b": 2})
    status, body = await client.request("GET", f"{base}/account_data/org.example.r", token=t)
    assert status == 404
    errors = [
        ("PUT", f"{base}/account_data/m.fully_read", {"event_id": "$x"}, 405, "M_BAD_JSON"),
        ("PUT", f"{base}/account_data/m.push_rules", {}, 405, "M_BAD_JSON"),
        ("PUT", f"{base}/account_data/x", [1], 400, "M_BAD_JSON"),
        (
            "GET",
            f"{V3}/user/{other['user_id']}/account_data/org.example.cfg",
            None,
            403,
            "M_FORBIDDEN",
        ),
        ("GET", f"{base}/rooms/notaroom/account_data/x", None, 400, "M_INVALID_PARAM"),
        ("PUT", f"{base}/rooms/{room}/tags/u.x", {"order": "first"}, 400, "M_BAD_JSON"),
    ]
    for method, path, body, status_want, errcode in errors:
        status, got = await client.request(method, path, body, token=t)
        assert (status, got.get("errcode")) == (status_want, errcode), path
    status, got = await client.request("PUT", f"{base}/account_data/x", raw=b"nope", token=t)
    assert (status, got["errcode"]) == (400, "M_NOT_JSON")

    tags = f"{base}/rooms/{room}/tags"
    assert (await client.request("PUT", f"{tags}/m.favourite", {"order": 0.25}, token=t))[0] == 200
    assert (await client.request("PUT", f"{tags}/u.work", {}, token=t))[0] == 200
    status, body = await client.request("GET", tags, token=t)
    assert body == {"tags": {"m.favourite": {"order": 0.25}, "u.work": {}}}
    assert (await client.request("DELETE", f"{tags}/m.favourite", token=t))[0] == 200
    status, body = await client.request("GET", tags, token=t)
    assert body == {"tags": {"u.work": {}}}
    status, body = await client.request("GET", f"{base}/rooms/{room}/account_data/m.tag", token=t)
    assert body == {"tags": {"u.work": {}}}


async def test_filters(client: Client) -> None:
    reg = await client.register("ivy")
    other = await client.register("jack")
    t = reg["access_token"]
    base = f"{V3}/user/{reg['user_id']}/filter"
    spec_filter = {"room": {"timeline": {"limit": 10, "types": ["m.room.message"]}}}
    status, body = await client.request("POST", base, spec_filter, token=t)
    assert status == 200 and isinstance(body["filter_id"], str)
    status, got = await client.request("GET", f"{base}/{body['filter_id']}", token=t)
    assert (status, got) == (200, spec_filter)
    status, got = await client.request("GET", f"{base}/999", token=t)
    assert (status, got["errcode"]) == (404, "M_NOT_FOUND")
    status, got = await client.request(
        "POST", base, {"room": {"timeline": {"limit": "ten"}}}, token=t
    )
    assert (status, got["errcode"]) == (400, "M_BAD_JSON")
    status, got = await client.request("POST", f"{V3}/user/{other['user_id']}/filter", {}, token=t)
    assert (status, got["errcode"]) == (403, "M_FORBIDDEN")


async def test_threepid_endpoints(client: Client) -> None:
    reg = await client.register("kim")
    t = reg["access_token"]
    status, body = await client.request("GET", f"{V3}/account/3pid", token=t)
    assert (status, body) == (200, {"threepids": []})
    email = {"client_secret": "cs", "email": "a@b.c", "send_attempt": 1}
    cases = [
        ("/account/3pid/email/requestToken", email, 400, "M_THREEPID_MEDIUM_NOT_SUPPORTED"),
        ("/account/password/email/requestToken", email, 400, "M_THREEPID_NOT_FOUND"),
        ("/register/email/requestToken", email, 403, "M_THREEPID_DENIED"),
        ("/account/3pid/add", {"client_secret": "cs", "sid": "1"}, 400, "M_THREEPID_AUTH_FAILED"),
        ("/account/3pid/add", {"client_secret": "cs"}, 400, "M_MISSING_PARAM"),
        (
            "/account/3pid/bind",
            {"client_secret": "c", "id_server": "id/example", "id_access_token": "t", "sid": "1"},
            400,
            "M_INVALID_PARAM",
        ),
        (
            "/account/3pid/delete",
            {"medium": "email", "address": "a@b.c"},
            400,
            "M_THREEPID_NOT_FOUND",
        ),
        ("/account/3pid/unbind", {"medium": "fax", "address": "1"}, 400, "M_INVALID_PARAM"),
    ]
    for path, body, want_status, errcode in cases:
        status, got = await client.request("POST", V3 + path, body, token=t)
        assert (status, got["errcode"]) == (want_status, errcode), path


async def test_metrics_and_unknown_routes(client: Client) -> None:
    await client.request("GET", "/_matrix/client/versions")
    await client.register("metered")  # touches the database
    status, text = await client.request("GET", "/metrics")
    assert status == 200 and "ranvier_http_requests_total" in text
    assert "ranvier_event_loop_lag_seconds" in text
    db_count = [line for line in text.splitlines() if line.startswith("ranvier_db_seconds_count")]
    assert db_count and float(db_count[0].split()[-1]) > 0, "DB time is measured"
    status, body = await client.request("GET", f"{V3}/no/such/endpoint")
    assert (status, body["errcode"]) == (404, "M_UNRECOGNIZED")
    status, body = await client.request("DELETE", f"{V3}/login")
    assert (status, body["errcode"]) == (405, "M_UNRECOGNIZED")
