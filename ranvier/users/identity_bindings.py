"""Binding users' third-party identifiers at identity servers, and unbinding them.

Spec: client-server-api "Adding Account Administrative Contact Information"
(administrative_contact.yaml: ``POST /account/3pid/bind``, ``/account/3pid/unbind``,
``/account/3pid/delete`` with ``id_server_unbind_result``), account_deactivation.yaml
(``id_server`` and ``id_server_unbind_result`` of ``POST /account/deactivate``);
identity-service-api "Establishing associations" (``/3pid/bind``, ``/3pid/unbind``).

Theory of operation
-------------------
An identity server (IS) publishes "this address belongs to that Matrix user" for
lookups by others. A client that has validated an address with an IS (a session
``sid``/``client_secret``) asks its homeserver to bind it; the homeserver calls the
IS's ``/3pid/bind`` with the client's ``id_access_token`` and, on success, records
in ``threepid_id_servers`` which IS now holds the binding ("Homeservers should track
successful binds so they can be unbound later"). The binding is not added to the
account's own 3PIDs (``user_threepids``, validated by this server: :mod:`.threepids`),
and an address may be bound by anyone the IS agrees to ("Homeservers should not
prevent this request from succeeding if another user has bound the 3PID"). IS errors
are passed on ("simply proxy any errors").

Unbinding asks an IS to drop ``{mxid, threepid}`` with a request this server signs as
itself (:meth:`~ranvier.users.identity_client.IdentityClient.unbind`); no token of the
user's is needed. The IS is the one the client names (``id_server``) or, when it
names none, every IS recorded for the (user, address); with none known the answer is
``no-support`` (the spec's MUST). Each IS answers "unbound" (``success``), "I do not
support unbinding" (400/404/501 without a Matrix error: ``no-support``), or an
error: a Matrix error is passed to the client with the IS's status (5xx as 502, 401
as 403, so the client does not take it for its own token's), and an unreachable IS is
502. The record is forgotten once the IS answered without an
error, so a failed unbind can be retried.

Deactivation unbinds everything: with ``id_server``, every address the user has
(on the account or recorded) from that IS; without, every recorded binding from its
IS. Failures do not stop the deactivation (the user already proved who they are);
they make the result ``no-support``, and ``success`` means every unbind succeeded,
which it vacuously does with nothing to unbind (account_deactivation.yaml: "This must
be ``success`` if the homeserver has no identifiers to unbind"). The records of a
deactivated user are then forgotten.

Addresses are compared and stored canonical (emails case-folded, as in
:mod:`.threepids`) so that ``Bob@Example.org`` unbinds what ``bob@example.org`` bound.
"""

from __future__ import annotations

import logging
import time

from ranvier.core.signing import SigningKey
from ranvier.db.api import Database
from ranvier.http.types import MatrixError
from ranvier.users.identity_client import (
    IdentityClient,
    IdentityServerError,
    IdentityServerRefused,
    base_url,
)
from ranvier.users.threepids import MEDIUM_EMAIL, ThreepidStore, canonical_email

logger = logging.getLogger(__name__)

SUCCESS = "success"
NO_SUPPORT = "no-support"


def canonical_address(medium: str, address: str) -> str:
    """The stored form of an address: emails canonical (:func:`canonical_email`) when
    they parse, anything else with surrounding spaces removed."""
    if medium == MEDIUM_EMAIL:
        try:
            return canonical_email(address)
        except MatrixError:
            pass
    return address.strip()


def check_id_server(id_server: str) -> None:
    """400 ``M_INVALID_PARAM`` unless ``id_server`` is a ``hostname[:port]``."""
    try:
        base_url(id_server)
    except IdentityServerError:
        raise MatrixError(400, "M_INVALID_PARAM", "id_server must be a hostname[:port]") from None


def _passed_on(e: IdentityServerError, what: str) -> MatrixError:
    """The client's error for a failed IS request (module docstring)."""
    if isinstance(e, IdentityServerRefused) and e.errcode is not None:
        # A 401 would tell the client that *our* access token is bad: 403 instead.
        status = 403 if e.status == 401 else e.status if 400 <= e.status < 500 else 502
        return MatrixError(status, e.errcode, e.error or f"The identity server refused to {what}")
    return MatrixError(502, "M_UNKNOWN", f"Could not {what} at the identity server: {e}")


class IdentityBindingStore:
    """Reads and writes ``threepid_id_servers``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, user_id: str, medium: str, address: str, id_server: str) -> None:
        """Record that ``id_server`` binds the address to ``user_id`` (idempotent)."""
        await self._db.execute(
            "INSERT INTO threepid_id_servers (user_id, medium, address, id_server, bound_ts) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            user_id,
            medium,
            address,
            id_server,
            int(time.time() * 1000),
        )

    async def servers_for(self, user_id: str, medium: str, address: str) -> list[str]:
        """The identity servers the address was bound at for ``user_id``."""
        rows = await self._db.fetchall(
            "SELECT id_server FROM threepid_id_servers "
            "WHERE user_id = $1 AND medium = $2 AND address = $3 ORDER BY id_server",
            user_id,
            medium,
            address,
        )
        return [str(r[0]) for r in rows]

    async def all_for(self, user_id: str) -> list[tuple[str, str, str]]:
        """Every ``(medium, address, id_server)`` recorded for ``user_id``."""
        rows = await self._db.fetchall(
            "SELECT medium, address, id_server FROM threepid_id_servers WHERE user_id = $1 "
            "ORDER BY medium, address, id_server",
            user_id,
        )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def remove(self, user_id: str, medium: str, address: str, id_server: str) -> None:
        """Forget one binding."""
        await self._db.execute(
            "DELETE FROM threepid_id_servers "
            "WHERE user_id = $1 AND medium = $2 AND address = $3 AND id_server = $4",
            user_id,
            medium,
            address,
            id_server,
        )

    async def delete_user(self, user_id: str) -> None:
        """Forget every binding of a (deactivated) user."""
        await self._db.execute("DELETE FROM threepid_id_servers WHERE user_id = $1", user_id)


class IdentityBindings:
    """Binds and unbinds 3PIDs at identity servers (module docstring); unbind
    requests are signed by ``server_name`` with ``signing_key``."""

    def __init__(
        self,
        store: IdentityBindingStore,
        threepids: ThreepidStore,
        client: IdentityClient,
        server_name: str,
        signing_key: SigningKey,
    ) -> None:
        self.store = store
        self.threepids = threepids
        self.client = client
        self.server_name = server_name
        self.signing_key = signing_key

    async def bind(
        self, user_id: str, id_server: str, id_access_token: str, sid: str, client_secret: str
    ) -> None:
        """``POST /account/3pid/bind``: publish the session at ``id_server`` for
        ``user_id`` and record where (module docstring)."""
        check_id_server(id_server)
        try:
            answer = await self.client.bind(id_server, id_access_token, sid, client_secret, user_id)
        except IdentityServerError as e:
            raise _passed_on(e, "bind the identifier") from None
        medium = str(answer["medium"])
        await self.store.add(
            user_id, medium, canonical_address(medium, str(answer["address"])), id_server
        )

    async def known_servers(self, user_id: str, medium: str, address: str) -> list[str]:
        """The identity servers recorded for this (user, address)."""
        return await self.store.servers_for(user_id, medium, canonical_address(medium, address))

    async def unbind(self, user_id: str, medium: str, address: str, id_server: str | None) -> str:
        """Unbind the address from ``id_server`` or, if None, from every recorded
        identity server; ``success`` or ``no-support`` (module docstring). A Matrix
        error of an identity server, or an unreachable one, raises :class:`MatrixError`
        (after the servers before it were unbound)."""
        address = canonical_address(medium, address)
        if id_server is not None:
            check_id_server(id_server)
            servers = [id_server]
        else:
            servers = await self.store.servers_for(user_id, medium, address)
        if not servers:
            return NO_SUPPORT
        result = SUCCESS
        for server in servers:
            if not await self._unbind_one(user_id, medium, address, server):
                result = NO_SUPPORT
        return result

    async def _unbind_one(self, user_id: str, medium: str, address: str, id_server: str) -> bool:
        """One unbind request; the record is forgotten unless the IS failed."""
        try:
            done = await self.client.unbind(
                id_server, user_id, medium, address, self.server_name, self.signing_key
            )
        except IdentityServerError as e:
            logger.warning(
                "unbinding %s %s of %s at %s failed: %s", medium, address, user_id, id_server, e
            )
            raise _passed_on(e, "unbind the identifier") from None
        if not done:
            logger.info("%s does not support unbinding (%s of %s)", id_server, medium, user_id)
        await self.store.remove(user_id, medium, address, id_server)
        return done

    async def unbind_all(self, user_id: str, id_server: str | None) -> str:
        """Deactivation: unbind every identifier of the user (module docstring);
        never raises for an identity server's failure. Forgets the user's records."""
        if id_server is not None:
            check_id_server(id_server)
            pairs = {(m, a) for m, a, _ in await self.store.all_for(user_id)}
            pairs.update(
                (t["medium"], t["address"]) for t in await self.threepids.list_for(user_id)
            )
            targets = [(m, a, id_server) for m, a in sorted(pairs)]
        else:
            targets = await self.store.all_for(user_id)
        result = SUCCESS
        for medium, address, server in targets:
            try:
                if not await self._unbind_one(user_id, medium, address, server):
                    result = NO_SUPPORT
            except MatrixError:
                result = NO_SUPPORT
        await self.store.delete_user(user_id)
        return result
