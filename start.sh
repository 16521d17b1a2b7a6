#!/bin/sh
# Run ranvier (README command 1).
#
# First use: makes ./.venv and installs ranvier into it, then creates ./data/
# holding ranvier.yaml (server name "localhost", SQLite database data/ranvier.db,
# plain HTTP on 127.0.0.1:8008, registration disabled) and the signing key
# data/matrix_key.pem. Every later use just runs the server: an existing config
# or key is never touched. Extra arguments go to `ranvier run`, e.g.
#   ./start.sh --http-bind-address 0.0.0.0:8008
# Environment: PYTHON (interpreter for the venv, default python3),
# RANVIER_SERVER_NAME (server name written into a NEW config, default localhost).
set -eu
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import ranvier.cli.main" 2>/dev/null || [ pyproject.toml -nt .venv/.installed-run ]; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e .
    touch .venv/.installed-run
fi
RANVIER=.venv/bin/ranvier
mkdir -p data
if [ ! -f data/ranvier.yaml ]; then
    "$RANVIER" generate-config --server-name "${RANVIER_SERVER_NAME:-localhost}" \
        --database file:ranvier.db --private-key matrix_key.pem --output data/ranvier.yaml
    echo "Registration is disabled. Create an account with:"
    echo "  $RANVIER create-account --config data/ranvier.yaml --username alice --admin"
fi
if [ ! -f data/matrix_key.pem ]; then
    "$RANVIER" generate-keys --private-key data/matrix_key.pem
fi
exec "$RANVIER" run --config data/ranvier.yaml "$@"
