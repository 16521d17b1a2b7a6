"""OpenID through the whole server (client-server-api "OpenID", openid.yaml;
server-server-api "OpenID", server-server/openid.yaml): a user gets a token for
themselves only, a third-party service exchanges it at the unauthenticated
``/_matrix/federation/v1/openid/userinfo`` for the user id, and the token opens
nothing else."""

from __future__ import annotations

from ranvier.users.openid import OpenIdTokens
from tests.api.conftest import SERVER_NAME, Client

V3 = "/_matrix/client/v3"
USERINFO = "/_matrix/federation/v1/openid/userinfo"


async def test_request_token_and_userinfo(client: Client) -> None:
    alice = await client.register("alice")
    bob = await client.register("bob")
    path = f"{V3}/user/{alice['user_id']}/openid/request_token"
    status, body = await client.request("POST", path, {}, token=alice["access_token"])
    assert status == 200, body
    assert set(body) == {"access_token", "token_type", "matrix_server_name", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["matrix_server_name"] == SERVER_NAME
    assert body["expires_in"] == 3600  # user_api.openid_token_lifetime_ms default
    token = body["access_token"]

    # Exchanged without any server authentication.
    status, info = await client.request("GET", f"{USERINFO}?access_token={token}")
    assert (status, info) == (200, {"sub": alice["user_id"]})
    # Still valid for repeated checks within its lifetime.
    assert (await client.request("GET", f"{USERINFO}?access_token={token}"))[0] == 200

    # Not an access token: no client API with it.
    status, err = await client.request("GET", f"{V3}/account/whoami", token=token)
    assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    # And an access token is not an OpenID token.
    status, err = await client.request("GET", f"{USERINFO}?access_token={alice['access_token']}")
    assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")

    # Unknown and missing tokens: 401.
    status, err = await client.request("GET", f"{USERINFO}?access_token=an/invalid/token")
    assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    status, err = await client.request("GET", USERINFO)
    assert (status, err["errcode"]) == (401, "M_MISSING_TOKEN")

    # Only for oneself.
    status, err = await client.request("POST", path, {}, token=bob["access_token"])
    assert (status, err["errcode"]) == (403, "M_FORBIDDEN")
    # Without an access token.
    status, err = await client.request("POST", path, {})
    assert (status, err["errcode"]) == (401, "M_MISSING_TOKEN")
    # The body must be an object (empty counts as {}).
    status, err = await client.request("POST", path, [], token=alice["access_token"])
    assert (status, err["errcode"]) == (400, "M_BAD_JSON")
    status, err = await client.request("POST", path, raw=b"{", token=alice["access_token"])
    assert (status, err["errcode"]) == (400, "M_NOT_JSON")
    status, _ = await client.request("POST", path, raw=b"", token=alice["access_token"])
    assert status == 200


async def test_guests_expired_and_deactivated(client: Client) -> None:
    status, guest = await client.request("POST", f"{V3}/register?kind=guest", {})
    assert status == 200, guest
    status, err = await client.request(
        "POST",
        f"{V3}/user/{guest['user_id']}/openid/request_token",
        {},
        token=guest["access_token"],
    )
    assert (status, err["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")

    carol = await client.register("carol")
    tokens: OpenIdTokens = client.server.openid_tokens
    # A token past its lifetime is refused.
    old = await tokens.issue(carol["user_id"], now_ms=1_000)
    status, err = await client.request("GET", f"{USERINFO}?access_token={old.token}")
    assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")

    status, body = await client.request(
        "POST",
        f"{V3}/user/{carol['user_id']}/openid/request_token",
        {},
        token=carol["access_token"],
    )
    token = body["access_token"]
    assert (await client.request("GET", f"{USERINFO}?access_token={token}"))[0] == 200
    status, first = await client.request(
        "POST", f"{V3}/account/deactivate", {}, token=carol["access_token"]
    )
    auth = {"type": "m.login.password", "user": "carol", "password": "pw"}
    status, _ = await client.request(
        "POST",
        f"{V3}/account/deactivate",
        {"auth": {**auth, "session": first["session"]}},
        token=carol["access_token"],
    )
    assert status == 200
    status, err = await client.request("GET", f"{USERINFO}?access_token={token}")
    assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
