"""The SRV client: message building and parsing, ordering, and real UDP lookups."""

from __future__ import annotations

import random
import struct
from collections import Counter
from pathlib import Path

import pytest

from ranvier.federation.dns import (
    DnsError,
    SrvRecord,
    build_query,
    lookup_srv,
    order_srv,
    parse_srv_response,
    read_nameservers,
)
from tests.federation.dns_server import pack_name, srv_answer, start_dns

NAME = "_matrix-fed._tcp.example.org"


def test_query_layout() -> None:
    q = build_query(0x1234, NAME)
    qid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", q)
    assert (qid, flags, qd, an, ns, ar) == (0x1234, 0x0100, 1, 0, 0, 0)
    assert q[12:] == pack_name(NAME) + struct.pack("!HH", 33, 1)


def test_parse_answer_with_compression() -> None:
    q = build_query(7, NAME)
    data = srv_answer(q, [(10, 5, 8448, "a.example.org", 300), (20, 0, 443, "b.example.org", 60)])
    assert parse_srv_response(data, 7, NAME) == [
        SrvRecord(10, 5, 8448, "a.example.org", 300),
        SrvRecord(20, 0, 443, "b.example.org", 60),
    ]


def test_target_compressed_into_the_question() -> None:
    q = build_query(9, NAME)
    # target "example.org" as a pointer to offset 12 + len("_matrix-fed") + 1 + len("_tcp") + 1 + 2
    offset = 12 + 1 + len("_matrix-fed") + 1 + len("_tcp")
    rdata = struct.pack("!HHH", 1, 1, 8448) + struct.pack("!H", 0xC000 | offset)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 33, 1, 10, len(rdata)) + rdata
    data = struct.pack("!HHHHHH", 9, 0x8180, 1, 1, 0, 0) + q[12:] + answer
    assert parse_srv_response(data, 9, NAME)[0].target == "example.org"


def test_nxdomain_is_empty_and_other_errors_raise() -> None:
    q = build_query(1, NAME)
    assert parse_srv_response(srv_answer(q, None), 1, NAME) == []
    with pytest.raises(DnsError, match="another query"):
        parse_srv_response(srv_answer(q, []), 2, NAME)
    with pytest.raises(DnsError, match="truncated"):
        parse_srv_response(srv_answer(q, [], tc=True), 1, NAME)
    servfail = bytearray(srv_answer(q, []))
    servfail[3] = (servfail[3] & 0xF0) | 2
    with pytest.raises(DnsError, match="rcode 2"):
        parse_srv_response(bytes(servfail), 1, NAME)
    with pytest.raises(DnsError, match="another question"):
        parse_srv_response(srv_answer(build_query(1, "_x._tcp.other.org"), []), 1, NAME)
    with pytest.raises(DnsError):
        parse_srv_response(b"\x00\x01", 1, NAME)


def test_malformed_messages_raise_not_crash() -> None:
    q = build_query(3, NAME)
    good = srv_answer(q, [(1, 1, 1, "t.org", 1)])
    for cut in range(12, len(good)):
        with pytest.raises(DnsError):
            parse_srv_response(good[:cut], 3, NAME)
    loop = struct.pack("!HHHHHH", 3, 0x8180, 1, 0, 0, 0) + b"\xc0\x0c"
    with pytest.raises(DnsError, match="loop"):
        parse_srv_response(loop, 3, NAME)


def test_order_by_priority_then_weight() -> None:
    records = [
        SrvRecord(20, 0, 1, "late.org", 1),
        SrvRecord(10, 90, 2, "heavy.org", 1),
        SrvRecord(10, 10, 3, "light.org", 1),
        SrvRecord(5, 0, 4, ".", 1),  # "service not available here"
    ]
    firsts: Counter[str] = Counter()
    rng = random.Random(1)
    for _ in range(2000):
        ordered = order_srv(records, rng)
        assert [r.target for r in ordered][2] == "late.org"
        assert len(ordered) == 3
        firsts[ordered[0].target] += 1
    assert 0.85 < firsts["heavy.org"] / 2000 < 0.95


def test_read_nameservers(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# c\nsearch x\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\noptions a\n")
    assert read_nameservers(conf) == [("10.0.0.1", 53), ("fe80::1", 53)]
    assert read_nameservers(tmp_path / "missing") == []


async def test_lookup_over_udp() -> None:
    server, addr = await start_dns({NAME: [(0, 0, 8448, "host.example.org", 120)]})
    try:
        assert await lookup_srv(NAME, [addr]) == [SrvRecord(0, 0, 8448, "host.example.org", 120)]
        assert await lookup_srv("_matrix._tcp.example.org", [addr]) == []
        assert server.asked == [NAME, "_matrix._tcp.example.org"]
    finally:
        assert server.transport is not None
        server.transport.close()


async def test_lookup_fails_soft_on_silence() -> None:
    server, addr = await start_dns({})
    assert server.transport is not None
    server.transport.close()  # nobody answers on that port now
    with pytest.raises(DnsError):
        await lookup_srv(NAME, [addr], timeout=0.3)
    with pytest.raises(DnsError, match="no nameserver"):
        await lookup_srv(NAME, [])
