"""A minimal authoritative DNS server on loopback UDP, for discovery tests.

It answers SRV questions from a table (name -> records) and NXDOMAIN otherwise,
packing answers by hand (owner names as compression pointers to the question), so
the client's parser is checked against independently built messages.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field


def pack_name(name: str) -> bytes:
    """Uncompressed wire form of a domain name."""
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def srv_answer(
    query: bytes, records: list[tuple[int, int, int, str, int]] | None, *, tc: bool = False
) -> bytes:
    """The answer to ``query`` with SRV ``records`` ``(prio, weight, port, target, ttl)``;
    None gives NXDOMAIN."""
    qid = struct.unpack_from("!H", query, 0)[0]
    question = query[12:]
    flags = 0x8180 | (0x0200 if tc else 0) | (3 if records is None else 0)
    header = struct.pack("!HHHHHH", qid, flags, 1, len(records or []), 0, 0)
    body = question
    for prio, weight, port, target, ttl in records or []:
        rdata = struct.pack("!HHH", prio, weight, port) + pack_name(target)
        body += b"\xc0\x0c" + struct.pack("!HHIH", 33, 1, ttl, len(rdata)) + rdata
    return header + body


def question_name(query: bytes) -> str:
    """The name asked in ``query``."""
    labels, i = [], 12
    while query[i]:
        labels.append(query[i + 1 : i + 1 + query[i]].decode())
        i += 1 + query[i]
    return ".".join(labels)


@dataclass
class FakeDnsServer(asyncio.DatagramProtocol):
    """Answers from ``zone``; records every question in ``asked``."""

    zone: dict[str, list[tuple[int, int, int, str, int]]]
    asked: list[str] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        name = question_name(data)
        self.asked.append(name)
        assert self.transport is not None
        self.transport.sendto(srv_answer(data, self.zone.get(name)), addr)


async def start_dns(
    zone: dict[str, list[tuple[int, int, int, str, int]]],
) -> tuple[FakeDnsServer, tuple[str, int]]:
    """Start a server on 127.0.0.1; return it and its address."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: FakeDnsServer(zone), local_addr=("127.0.0.1", 0)
    )
    host, port = transport.get_extra_info("sockname")[:2]
    return protocol, (str(host), int(port))
