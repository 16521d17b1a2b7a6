"""start.sh (README command 1) in a scratch copy of the repository.

The copy gets a ``.venv`` whose ``python``/``ranvier`` forward to this test run's
interpreter and whose install marker is present, so start.sh takes its "already
installed" path (installing from PyPI is not something a test should do); everything
else it does -- data directory, config, signing key, exec of ``ranvier run`` with the
extra arguments -- runs for real, twice, to check it never overwrites.
"""

from __future__ import annotations

import shutil
import sys
import urllib.request
from pathlib import Path

from ranvier.config import load_config
from tests.cli.helpers import REPO, RunningServer, free_port


def _scratch_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy2(REPO / "start.sh", root / "start.sh")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    ranvier = bin_dir / "ranvier"
    ranvier.write_text(f'#!/bin/sh\nexec {sys.executable} -m ranvier.cli.main "$@"\n')
    for script in (python, ranvier):
        script.chmod(0o755)
    (root / ".venv" / ".installed-run").touch()
    return root


def _start(root: Path, port: int) -> RunningServer:
    return RunningServer(
        ["sh", "./start.sh", "--http-bind-address", f"127.0.0.1:{port}"], port, cwd=root
    )


def test_start_sh_first_run_then_idempotent(tmp_path: Path) -> None:
    root = _scratch_repo(tmp_path)
    port = free_port()
    with _start(root, port) as server:
        server.wait_ready()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_matrix/client/versions") as r:
            assert r.status == 200
        assert server.terminate() == 0
        first_log = server.output()
    assert "create-account --config data/ranvier.yaml" in first_log
    data = root / "data"
    config = load_config(data / "ranvier.yaml")
    assert config.server_name == "localhost"
    assert config.database.connection_string == f"file:{data / 'ranvier.db'}"
    assert config.global_.private_key == data / "matrix_key.pem"
    assert config.client_api.registration_disabled
    assert (data / "ranvier.db").exists()
    config_text = (data / "ranvier.yaml").read_text()
    key_bytes = (data / "matrix_key.pem").read_bytes()

    port = free_port()
    with _start(root, port) as server:
        server.wait_ready()
        assert server.terminate() == 0
        second_log = server.output()
    assert "create-account" not in second_log  # nothing was created this time
    assert (data / "ranvier.yaml").read_text() == config_text
    assert (data / "matrix_key.pem").read_bytes() == key_bytes
