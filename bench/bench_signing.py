"""Benchmark: event signing, verification, event ids and canonical JSON.

Run: ``.venv/bin/python bench/bench_signing.py [--seconds 1.0]``

For a typical ``m.room.message`` PDU of a room v11 it prints operations per
second for ranvier's :mod:`ranvier.core` functions and, when importable, the
same operations done with Synapse's libraries (``signedjson`` and
``canonicaljson``), with the ratio ranvier/Synapse-libraries. Both sides use
ranvier's redaction (Synapse's own is part of Synapse, not of these
libraries), so the comparison isolates JSON encoding, hashing and Ed25519.
Each figure is the best of three timed runs, interleaved between the two
sides so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ranvier.core.b64 import encode_base64
from ranvier.core.canonical_json import encode_canonical_json
from ranvier.core.hashes import compute_event_id
from ranvier.core.redaction import redact
from ranvier.core.room_versions import get_room_version
from ranvier.core.signing import (
    decode_signing_key_base64,
    sign_event,
    verify_event_signature,
)

RV = get_room_version("11")
SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
SERVER = "example.org"

MESSAGE: dict[str, Any] = {
    "type": "m.room.message",
    "room_id": "!OGEhHVWSdvArJzumhm:example.org",
    "sender": "@alice:example.org",
    "content": {
        "msgtype": "m.text",
        "body": "Hello there! This is a fairly typical chat message with some text in it.",
        "format": "org.matrix.custom.html",
        "formatted_body": "<b>Hello there!</b> This is a fairly typical chat message.",
        "m.mentions": {"user_ids": ["@bob:example.org"]},
    },
    "depth": 12345,
    "origin_server_ts": 1700000000000,
    "prev_events": ["$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"],
    "auth_events": [
        "$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "$ccccccccccccccccccccccccccccccccccccccccccc",
    ],
    "unsigned": {"age": 12},
}


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Operations per second of ``fn`` over about ``seconds``."""
    n = 1
    while True:  # calibrate
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > seconds / 10:
            break
        n *= 2
    n = max(1, int(n * seconds / 10 / dt * 10 / 3))
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()

    key = decode_signing_key_base64("ed25519", "1", SEED)
    signed = sign_event(MESSAGE, SERVER, key, RV)
    ours: dict[str, Callable[[], object]] = {
        "events signed": lambda: sign_event(MESSAGE, SERVER, key, RV),
        "events verified": lambda: verify_event_signature(
            signed, RV, SERVER, key.key_id, key.verify_key
        ),
        "event ids computed": lambda: compute_event_id(signed, RV),
        "canonical JSON encodes": lambda: encode_canonical_json(signed),
    }

    theirs: dict[str, Callable[[], object]] = {}
    try:
        import canonicaljson
        import signedjson.key
        import signedjson.sign
    except ImportError:
        print("signedjson/canonicaljson not importable: ranvier figures only")
    else:
        sj_key = signedjson.key.decode_signing_key_base64("ed25519", "1", SEED)
        sj_verify = signedjson.key.get_verify_key(sj_key)

        def sj_sign() -> object:
            event = dict(MESSAGE)
            body = {k: v for k, v in event.items() if k not in ("unsigned", "signatures")}
            digest = hashlib.sha256(canonicaljson.encode_canonical_json(body)).digest()
            event["hashes"] = {"sha256": encode_base64(digest)}
            red = redact(event, RV)
            event["signatures"] = signedjson.sign.sign_json(red, SERVER, sj_key)["signatures"]
            return event

        def sj_verify_event() -> object:
            signedjson.sign.verify_signed_json(redact(signed, RV), SERVER, sj_verify)
            return None

        def sj_event_id() -> object:
            red = redact(signed, RV)
            red.pop("signatures", None)
            digest = hashlib.sha256(canonicaljson.encode_canonical_json(red)).digest()
            return "$" + encode_base64(digest, urlsafe=True)

        assert sj_event_id() == compute_event_id(signed, RV)
        assert canonicaljson.encode_canonical_json(signed) == encode_canonical_json(signed)
        assert sj_sign()["signatures"] == signed["signatures"]  # type: ignore[index]
        theirs = {
            "events signed": sj_sign,
            "events verified": sj_verify_event,
            "event ids computed": sj_event_id,
            "canonical JSON encodes": lambda: canonicaljson.encode_canonical_json(signed),
        }

    size = len(encode_canonical_json(signed))
    print(f"typical room v{RV.identifier} message PDU, {size} bytes of canonical JSON")
    print(f"{'operation':<24} {'ranvier/s':>12} {'synapse libs/s':>15} {'ratio':>7}")
    for name, fn in ours.items():
        best_ours = best_theirs = 0.0
        for _ in range(3):
            best_ours = max(best_ours, rate(fn, args.seconds / 3))
            if name in theirs:
                best_theirs = max(best_theirs, rate(theirs[name], args.seconds / 3))
        if best_theirs:
            ratio = best_ours / best_theirs
            print(f"{name:<24} {best_ours:>12,.0f} {best_theirs:>15,.0f} {ratio:>6.2f}x")
        else:
            print(f"{name:<24} {best_ours:>12,.0f} {'-':>15} {'-':>7}")


if __name__ == "__main__":
    main()
