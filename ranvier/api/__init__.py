"""HTTP handlers, thin: parse the request, call a service, return JSON.

:mod:`ranvier.api.auth` authenticates requests (access tokens); :mod:`ranvier.api.client`
holds one module per Client-Server API area, each exposing a class whose ``register``
method adds its routes to the one :class:`~ranvier.http.router.Router`;
:mod:`ranvier.api.synapse_admin` is Synapse's shared-secret registration endpoint, which
admin tools expect. The composition root (:mod:`ranvier.server`) builds and wires them.
"""
