"""Unpadded Base64, the binary-to-text encoding of Matrix.

Spec: appendices "Unpadded Base64" and "URL-safe unpadded Base64". Matrix writes
Base64 without ``=`` padding; readers SHOULD accept input with or without
padding. Keys, signatures, hashes and (v3+) event ids all use it.

Decoding is strict about the alphabet (garbage raises :class:`ValueError`) but
lenient about padding and about which of the two alphabets is used, since
both appear in the wild (e.g. room v3 event ids use the standard alphabet,
v4+ the URL-safe one).
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode_base64", "encode_base64"]

_TO_STANDARD = str.maketrans("-_", "+/")


def encode_base64(data: bytes, urlsafe: bool = False) -> str:
    """Encode ``data`` as unpadded Base64 (standard alphabet, or URL-safe if asked)."""
    if urlsafe:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def decode_base64(s: str) -> bytes:
    """Decode padded or unpadded, standard or URL-safe Base64.

    Raises :class:`ValueError` if ``s`` contains characters outside the two
    alphabets, has misplaced padding, or has an impossible length
    (``len % 4 == 1``).
    """
    if not isinstance(s, str):
        raise ValueError("base64 input must be a string")
    stripped = s.rstrip("=")
    if len(s) - len(stripped) > 2:
        raise ValueError("invalid base64: too much padding")
    rem = len(stripped) % 4
    if rem == 1:
        raise ValueError("invalid base64: impossible length")
    if len(s) != len(stripped) and len(s) % 4 != 0:
        raise ValueError("invalid base64: wrong padding")
    padded = stripped.translate(_TO_STANDARD) + "=" * ((4 - rem) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise ValueError(f"invalid base64: {e}") from None
