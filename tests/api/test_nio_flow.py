"""The acceptance test: a real client library (matrix-nio) registers, logs in, sets
its display name, lists devices, deletes a device with password UIA, and logs out."""

from __future__ import annotations

import nio

from tests.api.conftest import SERVER_NAME, Client


async def test_matrix_nio_end_to_end(client: Client) -> None:
    first = nio.AsyncClient(client.base, "carol")
    second = nio.AsyncClient(client.base, f"@carol:{SERVER_NAME}")
    try:
        registered = await first.register("carol", "hunter2", device_name="nio one")
        assert isinstance(registered, nio.RegisterResponse), registered
        assert registered.user_id == f"@carol:{SERVER_NAME}"

        login = await second.login("hunter2", device_name="nio two")
        assert isinstance(login, nio.LoginResponse), login
        assert login.device_id != registered.device_id

        set_name = await second.set_displayname("Carol C.")
        assert isinstance(set_name, nio.ProfileSetDisplayNameResponse), set_name
        name = await first.get_displayname()
        assert (
            isinstance(name, nio.ProfileGetDisplayNameResponse) and name.displayname == "Carol C."
        )

        devices = await second.devices()
        assert isinstance(devices, nio.DevicesResponse), devices
        by_id = {d.id: d for d in devices.devices}
        assert set(by_id) == {registered.device_id, login.device_id}
        assert by_id[login.device_id].display_name == "nio two"

        # Without auth the server answers with the UIA flows.
        challenge = await second.delete_devices([registered.device_id])
        assert isinstance(challenge, nio.DeleteDevicesAuthResponse), challenge
        assert challenge.flows == [{"stages": ["m.login.password"]}]
        auth = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "carol"},
            "password": "hunter2",
            "session": challenge.session,
        }
        deleted = await second.delete_devices([registered.device_id], auth)
        assert isinstance(deleted, nio.DeleteDevicesResponse), deleted

        # The deleted device's token is dead at once.
        whoami = await first.whoami()
        assert isinstance(whoami, nio.WhoamiError) and whoami.status_code == "M_UNKNOWN_TOKEN"
        devices = await second.devices()
        assert isinstance(devices, nio.DevicesResponse)
        assert [d.id for d in devices.devices] == [login.device_id]

        out = await second.logout()
        assert isinstance(out, nio.LogoutResponse), out
        status, body = await client.request(
            "GET", "/_matrix/client/v3/account/whoami", token=login.access_token
        )
        assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    finally:
        await first.close()
        await second.close()
