"""The server name (SNI) of a TLS ClientHello, read without decrypting anything."""

from __future__ import annotations

import struct
from typing import Final


class _NeedMore:
    """More bytes are needed to find out (a TLS record or handshake is incomplete)."""

    def __repr__(self) -> str:
        return "NEED_MORE"


NEED_MORE: Final = _NeedMore()
_HANDSHAKE, _CLIENT_HELLO, _SNI_EXT, _HOST_NAME = 0x16, 0x01, 0x0000, 0x00


def _handshake_bytes(data: bytes) -> bytes | _NeedMore | None:
    """The first handshake message, joined across TLS records; None if `data` is not TLS."""
    out = bytearray()
    pos = 0
    while True:
        if len(data) < pos + 5:
            return NEED_MORE
        if data[pos] != _HANDSHAKE or data[pos + 1] != 0x03:
            return None
        size = struct.unpack(">H", data[pos + 3 : pos + 5])[0]
        if len(data) < pos + 5 + size:
            return NEED_MORE
        out += data[pos + 5 : pos + 5 + size]
        pos += 5 + size
        if len(out) >= 4:
            want = 4 + int.from_bytes(out[1:4], "big")
            if len(out) >= want:
                return bytes(out[:want])


def client_hello_sni(data: bytes) -> str | _NeedMore | None:
    """The SNI host name (lower case) of the ClientHello at the start of `data`.

    None when `data` is not a TLS handshake or names no server; `NEED_MORE` while the
    ClientHello is incomplete.
    """
    hs = _handshake_bytes(data)
    if not isinstance(hs, bytes):
        return hs
    if hs[0] != _CLIENT_HELLO:
        return None
    try:
        pos = 4 + 2 + 32  # type + length, client_version, random
        pos += 1 + hs[pos]  # session id
        pos += 2 + struct.unpack(">H", hs[pos : pos + 2])[0]  # cipher suites
        pos += 1 + hs[pos]  # compression methods
        end = pos + 2 + struct.unpack(">H", hs[pos : pos + 2])[0]
        pos += 2
        while pos + 4 <= end:
            ext, size = struct.unpack(">HH", hs[pos : pos + 4])
            pos += 4
            if ext == _SNI_EXT:
                body = hs[pos : pos + size]
                at = 2  # server_name_list length
                while at + 3 <= len(body):
                    kind, n = body[at], struct.unpack(">H", body[at + 1 : at + 3])[0]
                    if kind == _HOST_NAME:
                        return body[at + 3 : at + 3 + n].decode("ascii").lower().rstrip(".")
                    at += 3 + n
                return None
            pos += size
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    return None
