"""Signing key files: both formats, auto-detection, no overwriting, permissions."""

from __future__ import annotations

import stat
from pathlib import Path

import nacl.signing
import pytest

from ranvier.config import parse_config
from ranvier.config.keyfile import (
    KeyFileError,
    generate_signing_key_file,
    load_server_keys,
    new_key_version,
    read_signing_key_file,
    write_signing_key_file,
)
from ranvier.core.signing import SigningKey, generate_signing_key, sign_json


@pytest.mark.parametrize("fmt", ["pem", "synapse"])
def test_round_trip_each_format(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "key"
    key = generate_signing_key_file(path, fmt)  # type: ignore[arg-type]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (read,) = read_signing_key_file(path)
    assert read.key_id == key.key_id
    assert read.seed == key.seed
    text = path.read_text()
    assert text.startswith("-----BEGIN MATRIX PRIVATE KEY-----") == (fmt == "pem")


def test_same_key_in_both_formats_reads_identically(tmp_path: Path) -> None:
    key = generate_signing_key(new_key_version())
    write_signing_key_file(tmp_path / "a.pem", key, "pem")
    write_signing_key_file(tmp_path / "a.key", key, "synapse")
    (pem,) = read_signing_key_file(tmp_path / "a.pem")
    (syn,) = read_signing_key_file(tmp_path / "a.key")
    assert (pem.key_id, pem.seed) == (syn.key_id, syn.seed) == (key.key_id, key.seed)
    message = b"checks the key actually signs"
    pem.verify_key.verify(message, syn.sign(message))


def test_synapse_style_text_written_by_hand(tmp_path: Path) -> None:
    # The seed of the spec's signing test vectors (appendices "Cryptographic Test Vectors").
    seed_b64 = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
    path = tmp_path / "homeserver.signing.key"
    path.write_text(f"ed25519 1 {seed_b64}\n")
    (key,) = read_signing_key_file(path)
    assert key.key_id == "ed25519:1"
    # The spec's "JSON Signing" vector: the empty object signed by this key as "domain".
    signed = sign_json({}, "domain", key)
    assert signed["signatures"]["domain"]["ed25519:1"] == (
        "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
    )


def test_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "matrix_key.pem"
    generate_signing_key_file(path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        generate_signing_key_file(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage\n",
        "ed25519 a_x notbase64!!\n",
        "-----BEGIN MATRIX PRIVATE KEY-----\nKey-ID: x\n",
    ],
)
def test_bad_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad"
    path.write_text(text)
    with pytest.raises(KeyFileError, match="not a signing key file"):
        read_signing_key_file(path)
    with pytest.raises(KeyFileError, match="cannot read"):
        read_signing_key_file(tmp_path / "missing")


def test_load_server_keys_with_old_keys(tmp_path: Path) -> None:
    current = generate_signing_key_file(tmp_path / "matrix_key.pem")
    old = generate_signing_key_file(tmp_path / "old.key", "synapse")
    other = nacl.signing.SigningKey.generate().verify_key
    import base64

    other_b64 = base64.b64encode(bytes(other)).decode()
    config = parse_config(
        {
            "global": {
                "old_private_keys": [
                    {"private_key": "old.key", "expired_at": 1000},
                    {"public_key": other_b64, "key_id": "ed25519:gone", "expired_at": 2000},
                ]
            }
        },
        tmp_path,
    )
    keys = load_server_keys(config)
    assert isinstance(keys.signing_key, SigningKey)
    assert keys.signing_key.seed == current.seed
    assert [(k.key_id, k.public_key_base64, k.expired_ts) for k in keys.old_verify_keys] == [
        (old.key_id, old.verify_key_base64, 1000),
        ("ed25519:gone", other_b64.rstrip("="), 2000),
    ]


def test_key_versions_are_fresh() -> None:
    versions = {new_key_version() for _ in range(50)}
    assert len(versions) > 45
    assert all(v.startswith("a_") and len(v) == 6 and v.isascii() for v in versions)
