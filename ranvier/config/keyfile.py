"""Signing key files on disk: read either format, write either format, never clobber.

A homeserver's Ed25519 signing key (server-server-api "Retrieving server keys") lives
in the file named by ``global.private_key``. Two formats exist in the wild and both
are read, detected from the content:

* Dendrite's PEM block ``-----BEGIN MATRIX PRIVATE KEY-----`` with a
  ``Key-ID: ed25519:<version>`` header and the 32-byte seed as body;
* Synapse's text lines ``ed25519 <version> <unpadded base64 seed>``.

The encoding itself lives in :mod:`ranvier.core.signing`; this module adds the
file-system policy: new key files are created exclusively (an existing key is never
overwritten, since losing it breaks every signature remote servers cached) with mode
0600.
"""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ranvier.config.schema import Config
from ranvier.core.signing import (
    SigningKey,
    generate_signing_key,
    read_dendrite_pem,
    read_signing_keys,
    write_dendrite_pem,
    write_signing_keys,
)

KeyFormat = Literal["pem", "synapse"]


class KeyFileError(Exception):
    """A key file is missing, unreadable, malformed, or would be overwritten."""


def new_key_version() -> str:
    """A fresh key version like Synapse's: ``a_`` and four random letters or digits."""
    alphabet = string.ascii_letters + string.digits
    return "a_" + "".join(secrets.choice(alphabet) for _ in range(4))


def parse_signing_key_text(text: str) -> list[SigningKey]:
    """Keys from a file's text in either format (PEM when a ``-----BEGIN`` line is
    present, else Synapse's lines). Raises ``ValueError``."""
    if "-----BEGIN " in text:
        return read_dendrite_pem(text)
    keys = read_signing_keys(text)
    if not keys:
        raise ValueError("no signing key found (expected 'ed25519 <version> <seed>')")
    return keys


def read_signing_key_file(path: Path) -> list[SigningKey]:
    """Every key in the file at ``path``; raises :class:`KeyFileError` with the path."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise KeyFileError(f"{path}: cannot read signing key: {reason}") from None
    try:
        return parse_signing_key_text(text)
    except ValueError as exc:
        raise KeyFileError(f"{path}: not a signing key file: {exc}") from None


def render_signing_key(key: SigningKey, fmt: KeyFormat) -> str:
    """The file text for ``key`` in ``fmt``."""
    return write_dendrite_pem([key]) if fmt == "pem" else write_signing_keys([key])


def write_signing_key_file(path: Path, key: SigningKey, fmt: KeyFormat = "pem") -> None:
    """Create ``path`` (mode 0600) holding ``key``; refuse if it exists."""
    data = render_signing_key(key, fmt).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path}: already exists; not overwriting a signing key") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def generate_signing_key_file(path: Path, fmt: KeyFormat = "pem") -> SigningKey:
    """Generate a new key, write it to ``path`` (refusing to overwrite), return it."""
    key = generate_signing_key(new_key_version())
    write_signing_key_file(path, key, fmt)
    return key


@dataclass(frozen=True, slots=True)
class OldVerifyKey:
    """A retired key as published in ``old_verify_keys`` (server-server-api
    "Publishing Keys")."""

    key_id: str
    public_key_base64: str
    expired_ts: int


@dataclass(frozen=True, slots=True)
class ServerKeys:
    """The keys a running server needs: the one it signs with, and retired ones."""

    signing_key: SigningKey
    old_verify_keys: tuple[OldVerifyKey, ...]


def load_server_keys(config: Config) -> ServerKeys:
    """Read ``global.private_key`` (its first key signs) and ``old_private_keys``.

    Raises :class:`KeyFileError`."""
    g = config.global_
    current = read_signing_key_file(g.private_key)[0]
    old: list[OldVerifyKey] = []
    for entry in g.old_private_keys:
        if entry.private_key is not None:
            for key in read_signing_key_file(entry.private_key):
                old.append(OldVerifyKey(key.key_id, key.verify_key_base64, entry.expired_at))
        else:
            old.append(OldVerifyKey(entry.key_id, entry.public_key.rstrip("="), entry.expired_at))
    return ServerKeys(current, tuple(old))
