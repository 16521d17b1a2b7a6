"""Federation: talking to other homeservers (server-server-api).

How the pieces fit:

* :mod:`.local_keys` publishes our signing keys; :mod:`.key_response` checks key
  responses of others; :mod:`.key_store` remembers them; :mod:`.keyring` fetches them
  (directly or through notaries), applies the validity rules, verifies signatures
  and answers notary queries.
* :mod:`.xmatrix` is the ``X-Matrix`` Authorization header (pure);
  :mod:`.inbound_auth` authenticates incoming requests with it.
* :mod:`.discovery` resolves server names (:mod:`.well_known`, :mod:`.dns` for SRV,
  :mod:`.dns_cache` for addresses and the network policy); :mod:`.client` sends
  signed requests through it.
* :mod:`.service` builds all of this once from the configuration for
  :mod:`ranvier.server`; the HTTP handlers are in :mod:`ranvier.api.keys` and
  :mod:`ranvier.api.federation`.
"""
