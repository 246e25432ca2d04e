"""A tiny DNS responder for a sandbox: answers only for names the allowlist allows.

It listens on `127.0.0.1:53` (UDP) inside the sandbox's network namespace (the sandbox's
`/etc/resolv.conf` names it) and answers A and AAAA queries for allowed names with what the
host resolves; any other name gets NXDOMAIN (and an audit line), so a name the policy does not
allow never resolves. The answers only help tools that look names up before they use the
proxy: there is no route out of the sandbox but the proxy.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

from envs.rock.egress.audit import AuditLog
from envs.rock.egress.rules import Allowlist

A, AAAA, IN = 1, 28, 1
NOERROR, FORMERR, NXDOMAIN = 0, 1, 3
TTL_S = 30
_FAMILY = {A: socket.AF_INET, AAAA: socket.AF_INET6}


def parse_query(packet: bytes) -> tuple[int, int, str, int, int]:
    """(id, flags, name, qtype, end of the question) of a one-question query; ValueError."""
    if len(packet) < 12:
        raise ValueError("short packet")
    qid, flags, qdcount = struct.unpack(">HHH", packet[:6])
    if flags & 0x8000 or qdcount != 1:
        raise ValueError("not a one-question query")
    labels: list[str] = []
    pos = 12
    while True:
        size = packet[pos]
        if size == 0:
            pos += 1
            break
        if size & 0xC0 or len(labels) > 127:
            raise ValueError("compressed or too long name")
        labels.append(packet[pos + 1 : pos + 1 + size].decode("ascii").lower())
        pos += 1 + size
    qtype, _qclass = struct.unpack(">HH", packet[pos : pos + 4])
    return qid, flags, ".".join(labels), qtype, pos + 4


def answer(
    packet: bytes, end: int, qid: int, flags: int, rcode: int, rdata: list[bytes], qtype: int
) -> bytes:
    """A response echoing the question, with one record per `rdata` entry."""
    out_flags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode  # QR, opcode + RD kept, RA
    head = struct.pack(">HHHHHH", qid, out_flags, 1, len(rdata), 0, 0)
    records = b"".join(struct.pack(">HHHIH", 0xC00C, qtype, IN, TTL_S, len(r)) + r for r in rdata)
    return head + packet[12:end] + records


class DnsResponder:
    """Answers queries on `sock` until `stop()`."""

    def __init__(self, sock: socket.socket, allowlist: Allowlist, audit: AuditLog) -> None:
        self.sock = sock
        self.allowlist = allowlist
        self.audit = audit
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="ale-dns")
        self._stop = threading.Event()

    def serve_forever(self) -> None:
        self.sock.settimeout(None)  # daemon thread: ends with the helper
        while not self._stop.is_set():
            try:
                packet, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self._pool.submit(self._reply, packet, peer)

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _reply(self, packet: bytes, peer: tuple[str, int]) -> None:
        try:
            qid, flags, name, qtype, end = parse_query(packet)
        except (ValueError, IndexError, UnicodeDecodeError, struct.error):
            if len(packet) >= 12:
                head = struct.pack(
                    ">HHHHHH", struct.unpack(">H", packet[:2])[0], 0x8081, 0, 0, 0, 0
                )
                with contextlib.suppress(OSError):
                    self.sock.sendto(head, peer)
            return
        if not self.allowlist.name_may_resolve(name):
            self.audit.record("dns", name, "refused", "name not in the allowlist")
            reply = answer(packet, end, qid, flags, NXDOMAIN, [], qtype)
        else:
            reply = answer(packet, end, qid, flags, NOERROR, self._lookup(name, qtype), qtype)
        with contextlib.suppress(OSError):
            self.sock.sendto(reply, peer)

    @staticmethod
    def _lookup(name: str, qtype: int) -> list[bytes]:
        family = _FAMILY.get(qtype)
        if family is None:
            return []
        try:
            infos = socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return []
        seen: list[bytes] = []
        for info in infos:
            packed = socket.inet_pton(family, str(info[4][0]).split("%")[0])
            if packed not in seen:
                seen.append(packed)
        return seen
