"""Rooms: state storage, the ordered room input pipeline, and the room service.

How the package works: :mod:`.nids` gives numeric ids to event types and state keys;
:mod:`.state_store` stores room state as snapshots (bounded delta chains over
deduplicated blocks); :mod:`.event_store` persists an event with its state change,
stream position and indexes in one transaction; :mod:`.storage` puts them together.
:mod:`.queue` runs one job at a time per room; :mod:`.pipeline` builds, checks (spec
order), persists and publishes (:mod:`.outputs`, on :mod:`ranvier.bus`) local events.
:mod:`.service` (create, send, state, event reads with :mod:`.visibility`),
:mod:`.membership` and :mod:`.aliases` are what the API handlers call;
:mod:`.presets` computes a new room's initial events and :mod:`.client_format`
renders events for clients. :mod:`.relation_store` (the relations index) and
:mod:`.redactions` (applying redactions) run as persist hooks inside the event's
transaction; :mod:`.render` turns batches of stored events into client events with
redactions and bundled aggregations; :mod:`.relations` serves ``/relations`` and
``/threads`` and :mod:`.reports` content reports. :mod:`.directory` (published
rooms), :mod:`.summary` (room summaries), :mod:`.upgrade` (room upgrades),
:mod:`.hierarchy` (spaces) and :mod:`.forgotten` (forgotten rooms) serve discovery
and the membership extras.
"""
