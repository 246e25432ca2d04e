"""Byte caps for everything read out of a sandbox, and the streaming that enforces them.

Nothing inside a sandbox may make the driver allocate without bound: a sparse 20 GiB file
costs the sandbox nothing, and a whole-file `read()` of it would cost the driver 20 GiB.
Every read streams in `CHUNK` pieces and stops at its cap with `ReadLimitExceeded` (a
`SandboxFileError`): `Sandbox.read` at `READ_LIMIT` unless the caller passes `max_bytes`,
`Sandbox.download` at `DOWNLOAD_LIMIT` bytes of file content (it streams to the host's disk,
never to memory). Sizes the kernel reports (`st_size`, an archive's header) are checked
first, so an over-cap file is refused before a byte is copied.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from envs.rock.errors import SandboxFileError

CHUNK = 1 << 20  # bytes per streamed piece
READ_LIMIT = 256 << 20  # default cap of `Sandbox.read` (bytes)
DOWNLOAD_LIMIT = 1 << 30  # default cap of `Sandbox.download` (bytes of file content)


class ReadLimitExceeded(SandboxFileError):
    """A file or tree is larger than the cap of the read that asked for it."""


def too_large(path: str, size: int | str, limit: int, doing: str = "read") -> ReadLimitExceeded:
    """The error for `path` (`size` bytes, or e.g. "more than N") over `limit`."""
    return ReadLimitExceeded(
        f"cannot {doing} {path!r} from the sandbox: {size} bytes, over the {limit}-byte cap "
        "(pass max_bytes= to raise it, or read a part inside the sandbox: head -c, tail -c, "
        "sed -n)"
    )


def read_capped(f: BinaryIO, limit: int, path: str) -> bytes:
    """All of `f` (read in `CHUNK` pieces), or `ReadLimitExceeded` past `limit` bytes."""
    out = bytearray()
    while True:
        piece = f.read(min(CHUNK, limit + 1 - len(out)))
        if not piece:
            return bytes(out)
        out += piece
        if len(out) > limit:
            raise too_large(path, f"more than {limit}", limit)


def iter_chunks(f: BinaryIO) -> Iterator[bytes]:
    """`f` in `CHUNK` pieces."""
    while piece := f.read(CHUNK):
        yield piece


class ChunkStream(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (docker's `get_archive` stream) that
    raises `ReadLimitExceeded` once more than `limit` bytes went through."""

    def __init__(self, chunks: Iterable[bytes], limit: int, path: str) -> None:
        self._chunks = iter(chunks)
        self._pending = b""
        self._seen = 0
        self._limit = limit
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
            self._seen += len(self._pending)
            if self._seen > self._limit:
                raise too_large(self._path, f"more than {self._limit}", self._limit)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n
