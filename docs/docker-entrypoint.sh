#!/bin/sh
# Container entrypoint: on first start create /data/ranvier.yaml (server name
# from RANVIER_SERVER_NAME, SQLite in /data) and the signing key; never
# overwrite either. Then run, listening on all interfaces inside the container.
# Any arguments replace the default command, e.g. `create-account ...`.
set -eu
cd /data
if [ ! -f ranvier.yaml ]; then
    ranvier generate-config --server-name "${RANVIER_SERVER_NAME:-localhost}" \
        --database file:ranvier.db --private-key matrix_key.pem --output ranvier.yaml
fi
if [ ! -f matrix_key.pem ]; then
    ranvier generate-keys --private-key matrix_key.pem
fi
if [ "$#" -gt 0 ]; then
    exec ranvier "$@"
fi
exec ranvier run --config ranvier.yaml --http-bind-address 0.0.0.0:8008
