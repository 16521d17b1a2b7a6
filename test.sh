#!/bin/sh
# Run ranvier's whole test suite (README command 2).
#
# Makes ./.venv on first use, installs ranvier with its test extras, then runs
# pytest. Tests needing PostgreSQL run when RANVIER_TEST_POSTGRES holds a DSN
# (e.g. postgresql://postgres@127.0.0.1:5432/postgres) and are skipped with a
# visible reason otherwise; differential tests against Synapse run when
# RANVIER_SYNAPSE_PYTHON names a Python that can import synapse.
# Extra arguments go to pytest.
set -eu
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import ranvier, pytest, nio" 2>/dev/null || [ pyproject.toml -nt .venv/.installed ]; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[test]'
    touch .venv/.installed
fi
exec .venv/bin/python -m pytest -q -rs "$@"
