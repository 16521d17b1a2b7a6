"""A tiny DNS client for SRV records over UDP (RFC 1035 messages, RFC 2782 SRV).

Spec: server-server-api "Resolving server names" steps 3.3-3.4, 4 and 5 look up
``_matrix-fed._tcp.<host>`` and then ``_matrix._tcp.<host>``. The standard library
resolves only addresses (``getaddrinfo``), and no DNS package is a dependency, so
SRV queries are made here.

Theory of operation: :func:`build_query` packs one question with recursion desired;
:func:`parse_srv_response` unpacks the answer (following name compression pointers,
with a hop limit against loops) and keeps the SRV records whose owner is the name
asked. NXDOMAIN and "no data" are an empty answer; other failures and truncated
answers raise :class:`DnsError`. :func:`lookup_srv` sends the query over UDP to the
nameservers of ``/etc/resolv.conf`` in turn, each with a timeout, and checks the
answer's id and question. :func:`order_srv` orders records as RFC 2782 asks: by
priority, then by weighted random choice within a priority. A target of ``.``
means "no such service" and yields nothing.

Callers treat every error as "no SRV record" (fail soft): on a machine without a
reachable resolver discovery falls through to address records.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DnsError",
    "SrvRecord",
    "build_query",
    "lookup_srv",
    "order_srv",
    "parse_srv_response",
    "read_nameservers",
]

TYPE_SRV = 33
CLASS_IN = 1
_RCODE_NXDOMAIN = 3
_MAX_POINTER_HOPS = 64


class DnsError(Exception):
    """A DNS query failed (timeout, server failure, malformed or truncated answer)."""


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One SRV record (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str
    ttl: int


def _encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        raw = label.encode("idna") if not label.isascii() else label.encode("ascii")
        if not raw or len(raw) > 63:
            raise DnsError(f"invalid DNS label in {name!r}")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise DnsError(f"DNS name too long: {name!r}")
    return bytes(out)


def build_query(query_id: int, name: str, qtype: int = TYPE_SRV) -> bytes:
    """A standard query for ``name`` of ``qtype`` (class IN), recursion desired."""
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    return header + _encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """Read a possibly compressed name at ``offset``; return (name, offset after it)."""
    labels: list[str] = []
    end: int | None = None
    hops = 0
    while True:
        if offset >= len(data):
            raise DnsError("DNS name runs past the message")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise DnsError("DNS compression pointer runs past the message")
            hops += 1
            if hops > _MAX_POINTER_HOPS:
                raise DnsError("DNS compression pointer loop")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            continue
        if length & 0xC0:
            raise DnsError("unsupported DNS label type")
        offset += 1
        if length == 0:
            break
        if offset + length > len(data):
            raise DnsError("DNS label runs past the message")
        labels.append(data[offset : offset + length].decode("ascii", "replace"))
        offset += length
    return ".".join(labels), (end if end is not None else offset)


def parse_srv_response(data: bytes, query_id: int, name: str) -> list[SrvRecord]:
    """The SRV records for ``name`` in the answer ``data`` to query ``query_id``.

    Raises :class:`DnsError` on a mismatched id, a truncated or malformed message or
    a server error; NXDOMAIN gives ``[]``.
    """
    if len(data) < 12:
        raise DnsError("DNS answer shorter than its header")
    qid, flags, qdcount, ancount, _ns, _ar = struct.unpack_from("!HHHHHH", data, 0)
    if qid != query_id:
        raise DnsError("DNS answer for another query")
    if not flags & 0x8000:
        raise DnsError("DNS message is not an answer")
    if flags & 0x0200:
        raise DnsError("DNS answer truncated")
    rcode = flags & 0x000F
    if rcode == _RCODE_NXDOMAIN:
        return []
    if rcode != 0:
        raise DnsError(f"DNS server answered with rcode {rcode}")
    offset = 12
    wanted = name.rstrip(".").lower()
    for _ in range(qdcount):
        qname, offset = _read_name(data, offset)
        if qname.lower() != wanted:
            raise DnsError("DNS answer is for another question")
        offset += 4
    records: list[SrvRecord] = []
    for _ in range(ancount):
        owner, offset = _read_name(data, offset)
        if offset + 10 > len(data):
            raise DnsError("DNS record header runs past the message")
        rtype, rclass, ttl, rdlength = struct.unpack_from("!HHIH", data, offset)
        offset += 10
        if offset + rdlength > len(data):
            raise DnsError("DNS record data runs past the message")
        if rtype == TYPE_SRV and rclass == CLASS_IN and owner.lower() == wanted:
            if rdlength < 7:
                raise DnsError("SRV record too short")
            priority, weight, port = struct.unpack_from("!HHH", data, offset)
            target, _ = _read_name(data, offset + 6)
            records.append(SrvRecord(priority, weight, port, target, ttl))
        offset += rdlength
    return records


def order_srv(records: list[SrvRecord], rng: random.Random | None = None) -> list[SrvRecord]:
    """Records in the order to try them (RFC 2782), without ``.`` targets."""
    rng = rng or random.Random()
    usable = [r for r in records if r.target not in ("", ".")]
    out: list[SrvRecord] = []
    for priority in sorted({r.priority for r in usable}):
        group = [r for r in usable if r.priority == priority]
        while group:
            total = sum(r.weight for r in group)
            if total == 0:
                pick = group[0]
            else:
                point = rng.randint(0, total)
                running = 0
                pick = group[-1]
                for r in sorted(group, key=lambda r: r.weight):
                    running += r.weight
                    if running >= point:
                        pick = r
                        break
            out.append(pick)
            group.remove(pick)
    return out


def read_nameservers(path: Path = Path("/etc/resolv.conf")) -> list[tuple[str, int]]:
    """The ``nameserver`` entries of a resolv.conf, as ``(address, 53)``."""
    servers: list[tuple[str, int]] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return servers
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            servers.append((parts[1].split("%")[0], 53))
    return servers


class _OneAnswer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def _query_one(server: tuple[str, int], query: bytes, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_OneAnswer, remote_addr=server)
    try:
        transport.sendto(query)
        return await asyncio.wait_for(protocol.answer, timeout)
    finally:
        transport.close()


async def lookup_srv(
    name: str,
    nameservers: list[tuple[str, int]] | None = None,
    *,
    timeout: float = 2.0,
) -> list[SrvRecord]:
    """SRV records for ``name`` (e.g. ``_matrix-fed._tcp.example.org``).

    Tries each nameserver once; raises :class:`DnsError` when none answered.
    """
    servers = read_nameservers() if nameservers is None else nameservers
    if not servers:
        raise DnsError("no nameserver configured")
    last: Exception = DnsError("no answer")
    for server in servers:
        query_id = secrets.randbelow(0x10000)
        query = build_query(query_id, name)
        try:
            data = await _query_one(server, query, timeout)
            return parse_srv_response(data, query_id, name)
        except (OSError, TimeoutError, DnsError) as e:
            last = e
    raise DnsError(f"SRV lookup for {name} failed: {last}")
