"""Self-signed TLS certificates for ``ranvier generate-keys --tls-cert/--tls-key``.

A self-signed certificate is only useful where the peer is told to trust it
(tests, a test peer with ``federation_api.disable_tls_validation``, a reverse
proxy's upstream). Public deployments should use a CA-issued certificate, usually
in a reverse proxy (see docs/nginx.conf).

The certificate itself is made by :func:`ranvier.http.tls.make_self_signed`
(``cryptography`` if importable, else the ``openssl`` command); this module adds
the operator policy: the names come from the server name (without its port), the
files are made in a private temporary directory and then created exclusively, so
an existing certificate or key is never overwritten.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from ranvier.http.tls import make_self_signed


class TlsCertError(Exception):
    """The certificate could not be made."""


def host_of(server_name: str) -> str:
    """The host part of a server name: ``[::1]:8448`` -> ``::1``, ``a.org:8448`` -> ``a.org``."""
    if server_name.startswith("["):
        return server_name[1 : server_name.index("]")]
    return server_name.rsplit(":", 1)[0] if ":" in server_name else server_name


def make_self_signed_cert(
    cert_path: Path, key_path: Path, server_name: str, days: int = 3650
) -> None:
    """Write a self-signed certificate for ``server_name`` and its private key
    (mode 0600). Refuses to overwrite either file; raises :class:`TlsCertError`."""
    for path in (cert_path, key_path):
        if path.exists():
            raise TlsCertError(f"{path}: already exists; not overwriting")
    host = host_of(server_name)
    names = (host,) if host != "localhost" else ("localhost", "127.0.0.1", "::1")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_key, tmp_cert = Path(tmp) / "key.pem", Path(tmp) / "cert.pem"
        try:
            make_self_signed(tmp_cert, tmp_key, names, days=days)
        except subprocess.CalledProcessError as exc:
            stderr = exc.stderr.decode(errors="replace") if exc.stderr else ""
            raise TlsCertError(f"openssl failed: {stderr.strip()}") from None
        except (RuntimeError, OSError) as exc:
            raise TlsCertError(str(exc)) from None
        _copy_exclusive(tmp_key, key_path, 0o600)
        _copy_exclusive(tmp_cert, cert_path, 0o644)


def _copy_exclusive(src: Path, dst: Path, mode: int) -> None:
    try:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise TlsCertError(f"{dst}: cannot create: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(src.read_bytes())
