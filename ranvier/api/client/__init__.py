"""Client-Server API handlers, one module per spec area.

Every module exposes a class built from the services it needs, with a ``routes()``
method returning :data:`~ranvier.api.client.common.RouteDef` tuples; the composition
root adds them to the one router. Handlers only parse, authorise, call a service and
shape the JSON.
"""
