"""Server-side key backups over real HTTP: versions (create, read, update, delete, never
reused), keys at the three levels, the better key kept, writes only to the current
version, errors."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Client
from tests.api.sync_helpers import V3, register

ALG = "m.megolm_backup.v1.curve25519-aes-sha2"


def key(index: int, forwarded: int = 0, verified: bool = False, tag: str = "x") -> dict[str, Any]:
    return {
        "first_message_index": index,
        "forwarded_count": forwarded,
        "is_verified": verified,
        "session_data": {"ciphertext": tag, "ephemeral": "e", "mac": "m"},
    }


async def test_versions_and_keys(client: Client) -> None:
    _, tok = await register(client, "alice")
    _, other = await register(client, "bob")

    async def req(method: str, path: str, body: Any = None, t: str = tok) -> tuple[int, Any]:
        return await client.request(method, f"{V3}/room_keys{path}", body, token=t)

    status, out = await req("GET", "/version")
    assert status == 404 and out["errcode"] == "M_NOT_FOUND"
    status, out = await req(
        "POST", "/version", {"algorithm": ALG, "auth_data": {"public_key": "p"}}
    )
    assert status == 200 and out == {"version": "1"}
    status, out = await req("GET", "/version")
    assert out == {
        "algorithm": ALG,
        "auth_data": {"public_key": "p"},
        "count": 0,
        "etag": "0",
        "version": "1",
    }
    status, out = await req("GET", "/version", t=other)
    assert status == 404
    # Update: auth_data only; algorithm and version must match.
    status, _ = await req("PUT", "/version/1", {"algorithm": ALG, "auth_data": {"public_key": "q"}})
    assert status == 200
    status, out = await req("PUT", "/version/1", {"algorithm": "other", "auth_data": {}})
    assert status == 400 and out["errcode"] == "M_INVALID_PARAM"
    status, out = await req(
        "PUT", "/version/1", {"algorithm": ALG, "auth_data": {}, "version": "2"}
    )
    assert status == 400
    status, out = await req("PUT", "/version/9", {"algorithm": ALG, "auth_data": {}})
    assert status == 404

    # Keys at each level; empty reads are not errors.
    status, out = await req("GET", "/keys?version=1")
    assert out == {"rooms": {}}
    status, out = await req("GET", "/keys/!r:x?version=1")
    assert out == {"sessions": {}}
    status, out = await req("GET", "/keys/!r:x/s?version=1")
    assert status == 404
    status, out = await req("GET", "/keys?version=bogus")
    assert status == 404 and out["errcode"] == "M_NOT_FOUND"
    status, out = await req("PUT", "/keys/!r:x/s1?version=1", key(5))
    assert status == 200 and out["count"] == 1
    etag = out["etag"]
    status, out = await req("PUT", "/keys/!r:x?version=1", {"sessions": {"s2": key(1)}})
    assert out["count"] == 2 and out["etag"] != etag
    status, out = await req(
        "PUT", "/keys?version=1", {"rooms": {"!q:x": {"sessions": {"s3": key(0)}}}}
    )
    assert out["count"] == 3
    # A worse key is ignored (same etag), a better one replaces.
    status, out = await req("PUT", "/keys/!r:x/s1?version=1", key(7, tag="worse"))
    etag = out["etag"]
    status, got = await req("GET", "/keys/!r:x/s1?version=1")
    assert got["session_data"]["ciphertext"] == "x"
    status, out = await req("PUT", "/keys/!r:x/s1?version=1", key(9, verified=True, tag="v"))
    assert out["etag"] != etag
    status, got = await req("GET", "/keys/!r:x/s1?version=1")
    assert got == key(9, verified=True, tag="v")
    status, got = await req("GET", "/keys?version=1")
    assert set(got["rooms"]) == {"!r:x", "!q:x"}
    assert set(got["rooms"]["!r:x"]["sessions"]) == {"s1", "s2"}
    status, out = await req("GET", "/version/1")
    assert out["count"] == 3

    # A new version is current; the old one can be read, not written.
    status, out = await req("POST", "/version", {"algorithm": ALG, "auth_data": {}})
    assert out == {"version": "2"}
    status, out = await req("PUT", "/keys/!r:x/s1?version=1", key(0))
    assert status == 403 and out["errcode"] == "M_WRONG_ROOM_KEYS_VERSION"
    assert out["current_version"] == "2"
    status, out = await req("GET", "/keys?version=1")
    assert status == 200 and out["rooms"]

    # Deletes.
    status, out = await req("DELETE", "/keys/!r:x/s2?version=1")
    assert status == 200 and out["count"] == 2
    status, out = await req("DELETE", "/keys/!r:x?version=1")
    assert out["count"] == 1
    status, out = await req("DELETE", "/keys?version=1")
    assert out["count"] == 0
    status, _ = await req("DELETE", "/version/2")
    assert status == 200
    status, out = await req("GET", "/version")
    assert out["version"] == "1"
    status, _ = await req("DELETE", "/version/2")
    assert status == 404
    status, out = await req("POST", "/version", {"algorithm": ALG, "auth_data": {}})
    assert out == {"version": "3"}

    # Bad input.
    for body in ({"algorithm": ALG}, {"auth_data": {}}, []):
        status, out = await req("POST", "/version", body)
        assert status == 400 and out["errcode"] in ("M_BAD_JSON", "M_NOT_JSON"), out
    status, out = await req("PUT", "/keys/!r:x/s?version=3", {"first_message_index": "x"})
    assert status == 400 and out["errcode"] == "M_BAD_JSON"
    status, out = await req("PUT", "/keys/!r:x/s?version=3", key(2**64 - 1))
    assert status == 400 and out["errcode"] == "M_BAD_JSON"
    status, out = await req("PUT", "/keys?version=3", {"rooms": []})
    assert status == 400 and out["errcode"] == "M_BAD_JSON"
    status, out = await req("PUT", "/keys/!r:x/s", key(0))
    assert status == 400 and out["errcode"] == "M_MISSING_PARAM"


async def test_more_than_ten_versions(client: Client) -> None:
    _, tok = await register(client, "carol")
    for i in range(12):
        _, out = await client.request(
            "POST", f"{V3}/room_keys/version", {"algorithm": ALG, "auth_data": {}}, token=tok
        )
        assert out["version"] == str(i + 1)
    _, out = await client.request("GET", f"{V3}/room_keys/version", token=tok)
    assert out["version"] == "12"
