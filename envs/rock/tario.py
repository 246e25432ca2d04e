"""Tar archives for moving files in and out of sandboxes, byte-exact.

Archives are rooted at `/` with relative member names (`tmp/a/b.bin`), so extracting one at
the sandbox's root creates missing parent directories. Reading out of one streams and is
capped (`envs.rock.reads`); host-side extraction is `hostcopy.unpack_tar`.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import time
from pathlib import Path
from typing import BinaryIO

from envs.rock.errors import SandboxFileError
from envs.rock.reads import READ_LIMIT, read_capped, too_large


def _member_name(path: str) -> str:
    norm = posixpath.normpath("/" + path.lstrip("/"))
    if norm == "/":
        raise SandboxFileError("a file path inside the sandbox must not be '/'")
    return norm.lstrip("/")


def single_file(path: str, data: bytes, mode: int = 0o644) -> bytes:
    """A tar holding `data` at absolute sandbox path `path`."""
    return files_tar({path: data}, mode)


def files_tar(files: dict[str, bytes], mode: int = 0o644) -> bytes:
    """A tar holding each {absolute sandbox path: bytes} of `files` (one copy for many)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for path, data in files.items():
            info = tarfile.TarInfo(_member_name(path))
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def pack_host_path(local: Path, path: str) -> bytes:
    """A tar of host file or directory `local`, placed at sandbox path `path`."""
    if not local.exists():
        raise SandboxFileError(f"no such host path to upload: {local}")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(str(local), arcname=_member_name(path), recursive=True)
    return buf.getvalue()


def extract_single_file(archive: BinaryIO, path: str, limit: int = READ_LIMIT) -> bytes:
    """The bytes of the one regular file in a `get_archive` stream of `path`, streamed and
    capped at `limit` bytes (`ReadLimitExceeded`)."""
    with tarfile.open(fileobj=archive, mode="r|") as tf:
        for member in tf:
            if member.isfile():
                if member.size > limit:
                    raise too_large(path, member.size, limit)
                f = tf.extractfile(member)
                assert f is not None
                return read_capped(f, limit, path)  # type: ignore[arg-type]
            if member.isdir():
                raise SandboxFileError(f"{path!r} is a directory: use download() for trees")
    raise SandboxFileError(f"{path!r} is not a regular file")
