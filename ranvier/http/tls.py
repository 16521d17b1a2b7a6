"""TLS for the HTTPS listeners: server contexts and self-signed certificates.

:func:`server_context` loads a PEM certificate chain and key into an ``ssl.SSLContext``
for :meth:`ranvier.http.server.HttpServer.start` (TLS 1.2 or later, ALPN ``http/1.1``).
Federation requires a certificate valid for the server name on port 8448 (server-server
API, "Server discovery" and "TLS"); :func:`make_self_signed` exists for tests and local
development only. It uses the ``cryptography`` package when importable and otherwise
the ``openssl`` command, so that ranvier itself does not depend on either.
"""

from __future__ import annotations

import datetime
import importlib
import ipaddress
import os
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any


def server_context(
    cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str]
) -> ssl.SSLContext:
    """An SSL server context serving the PEM chain ``cert_path`` with key ``key_path``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(os.fspath(cert_path), os.fspath(key_path))
    context.set_alpn_protocols(["http/1.1"])
    return context


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def make_self_signed(
    cert_path: str | os.PathLike[str],
    key_path: str | os.PathLike[str],
    hostnames: tuple[str, ...] = ("localhost", "127.0.0.1", "::1"),
    *,
    days: int = 365,
) -> None:
    """Write a self-signed P-256 certificate for ``hostnames`` and its unencrypted key.

    The first name is the subject CN; every name is a subjectAltName (IP addresses as
    IP entries). The key file is created with mode 0600.
    """
    if not hostnames:
        raise ValueError("at least one hostname is needed")
    try:
        importlib.import_module("cryptography")
    except ImportError:
        _self_signed_openssl(Path(cert_path), Path(key_path), hostnames, days)
    else:
        _self_signed_cryptography(Path(cert_path), Path(key_path), hostnames, days)


def _self_signed_openssl(cert: Path, key: Path, hostnames: tuple[str, ...], days: int) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("neither the cryptography package nor the openssl command is available")
    alt_names = ",".join(f"IP:{n}" if _is_ip(n) else f"DNS:{n}" for n in hostnames)
    # Create the key file first so it is never readable by others.
    key.touch(mode=0o600, exist_ok=True)
    os.chmod(key, 0o600)
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            str(days),
            "-subj",
            f"/CN={hostnames[0]}",
            "-addext",
            f"subjectAltName={alt_names}",
        ],
        check=True,
        capture_output=True,
    )
    os.chmod(key, 0o600)


def _self_signed_cryptography(cert: Path, key: Path, hostnames: tuple[str, ...], days: int) -> None:
    x509: Any = importlib.import_module("cryptography.x509")
    oid: Any = importlib.import_module("cryptography.x509.oid")
    hashes: Any = importlib.import_module("cryptography.hazmat.primitives.hashes")
    ec: Any = importlib.import_module("cryptography.hazmat.primitives.asymmetric.ec")
    ser: Any = importlib.import_module("cryptography.hazmat.primitives.serialization")
    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid.NameOID.COMMON_NAME, hostnames[0])])
    alt = [
        x509.IPAddress(ipaddress.ip_address(n)) if _is_ip(n) else x509.DNSName(n) for n in hostnames
    ]
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private_key, hashes.SHA256())
    )
    key_bytes = private_key.private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    )
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_bytes)
    cert.write_bytes(certificate.public_bytes(ser.Encoding.PEM))


def client_context_trusting(cert_path: str | os.PathLike[str]) -> ssl.SSLContext:
    """A client context that trusts exactly the certificate ``cert_path`` (for tests)."""
    context = ssl.create_default_context(cafile=os.fspath(cert_path))
    return context
