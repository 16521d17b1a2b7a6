"""End-to-end encryption: device keys, one-time and fallback keys, cross-signing, device
list tracking, and their federation (client-server-api "End-to-End Encryption",
server-server-api "End-to-End Encryption" and "Device Management").

How the package works: the stores (:mod:`.key_store`, :mod:`.cross_signing_store`,
:mod:`.device_list_stream`) own the tables of migration ``1100_e2ee_keys.sql``. The
services on top -- :mod:`.keys` (upload, query, claim; remote users through
:mod:`.remote`), :mod:`.cross_signing`, :mod:`.device_lists` (what ``/sync`` and
``/keys/changes`` report) -- record every change of a user's devices or keys as a
position of the device list stream, whose listeners wake the syncs concerned and
(:mod:`.federation_out`) tell the other servers. :mod:`.backup` keeps server-side key
backups. :class:`E2ee` builds them once for the
composition root; the HTTP handlers are :mod:`ranvier.api.client.keys` and
:mod:`ranvier.api.federation.user_keys`.
"""

from __future__ import annotations

from collections.abc import Callable

from ranvier.db.api import Database
from ranvier.e2ee.backup import KeyBackups
from ranvier.e2ee.cross_signing import CrossSigning, RemoteMasterKey
from ranvier.e2ee.cross_signing_store import CrossSigningStore
from ranvier.e2ee.device_list_stream import DeviceListStream
from ranvier.e2ee.device_lists import DeviceLists
from ranvier.e2ee.key_store import E2eKeyStore
from ranvier.e2ee.keys import E2eKeys
from ranvier.e2ee.remote import RemoteKeys
from ranvier.users.devices import DeviceStore


class E2ee:
    """The end-to-end encryption component of one server."""

    def __init__(
        self,
        db: Database,
        devices: DeviceStore,
        is_local: Callable[[str], bool],
        remote: RemoteKeys | None = None,
        remote_master_key: RemoteMasterKey | None = None,
    ) -> None:
        self.stream = DeviceListStream(db)
        self.key_store = E2eKeyStore(db)
        self.cross_signing_store = CrossSigningStore(db)
        self.keys = E2eKeys(
            self.key_store, self.cross_signing_store, devices, self.stream, is_local, remote
        )
        self.cross_signing = CrossSigning(
            self.cross_signing_store, self.key_store, devices, self.stream, remote_master_key
        )
        self.device_lists = DeviceLists(self.stream, self.keys)
        self.backups = KeyBackups(db)


__all__ = ["E2ee"]
