"""The ``ranvier`` command: the operator's surface.

``main`` parses the command line and dispatches to one module per command:
``run`` (start the homeserver), ``genconfig`` (print a commented config),
``keys`` (signing keys and self-signed TLS certificates), ``accounts``
(``create-account``), ``dbcmd`` (``migrate``) and ``check`` (``check-config``).
``common`` holds what they share: loading the config (problems -> exit status 2,
nothing started) and setting up logging from it.

Exit status: 0 success, 1 failure at run time (a database that cannot be reached,
a user that already exists), 2 a usage or configuration error.
"""
