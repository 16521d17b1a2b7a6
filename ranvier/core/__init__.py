"""The Matrix room protocol, pure: no network, no database, no asyncio.

Identifiers, canonical JSON, room versions as data, the :class:`~ranvier.core.events.Event`
type, hashes and signatures, PDU format checks, authorization rules, state
resolution and local event construction. I/O reaches this package only through
small Protocols or callbacks passed in by the caller.
"""
