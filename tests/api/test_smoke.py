"""Discovery endpoints and a first registration."""

from __future__ import annotations

from tests.api.conftest import SERVER_NAME, Client


async def test_register_and_whoami(client: Client) -> None:
    done = await client.register("alice")
    assert done["user_id"] == f"@alice:{SERVER_NAME}"
    assert done["access_token"].startswith("rv_")
    status, me = await client.request(
        "GET", "/_matrix/client/v3/account/whoami", token=done["access_token"]
    )
    assert status == 200
    assert me == {"user_id": done["user_id"], "device_id": done["device_id"], "is_guest": False}
