"""generate-keys: signing keys in both formats and self-signed TLS certificates."""

from __future__ import annotations

import contextlib
import ssl
import stat
from pathlib import Path

import pytest

from ranvier.config.keyfile import read_signing_key_file
from ranvier.core.signing import write_dendrite_pem, write_signing_keys
from tests.cli.helpers import ranvier


@pytest.mark.parametrize("fmt", ["pem", "synapse"])
def test_generate_signing_key(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "key"
    out = ranvier("generate-keys", "--private-key", str(path), "--format", fmt)
    assert out.returncode == 0, out.stderr
    (key,) = read_signing_key_file(path)
    assert out.stdout.strip() == f"wrote signing key {key.key_id} to {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text().splitlines()[0]
    if fmt == "pem":
        assert first == "-----BEGIN MATRIX PRIVATE KEY-----"
    else:
        assert first.startswith(f"ed25519 {key.version} ")
    # convert to the other format and read it back: same key
    other = write_signing_keys([key]) if fmt == "pem" else write_dendrite_pem([key])
    (tmp_path / "other").write_text(other)
    (again,) = read_signing_key_file(tmp_path / "other")
    assert (again.key_id, again.seed) == (key.key_id, key.seed)


def test_refuses_to_overwrite_key(tmp_path: Path) -> None:
    path = tmp_path / "matrix_key.pem"
    assert ranvier("generate-keys", "--private-key", str(path)).returncode == 0
    before = path.read_bytes()
    out = ranvier("generate-keys", "--private-key", str(path))
    assert out.returncode == 1
    assert "already exists" in out.stderr
    assert path.read_bytes() == before


def test_self_signed_certificate_is_loadable_and_serves_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    out = ranvier(
        "generate-keys", "--tls-cert", str(cert), "--tls-key", str(key),
        "--server-name", "matrix.example.org:8448",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    # a client trusting exactly this certificate accepts it for the server name
    client = ssl.create_default_context(cafile=str(cert))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(incoming, outgoing, server_hostname="matrix.example.org")
    s = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (c, s):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        s_in.write(outgoing.read())
        incoming.write(s_out.read())
    c.do_handshake()
    assert c.version() is not None
    assert c.getpeercert()["subjectAltName"] == (("DNS", "matrix.example.org"),)


def test_tls_flags_go_together(tmp_path: Path) -> None:
    out = ranvier("generate-keys", "--tls-cert", str(tmp_path / "c.pem"))
    assert out.returncode == 2
    assert ranvier("generate-keys").returncode == 2
