"""Tar archives for moving files in and out of sandboxes, byte-exact.

Archives are rooted at `/` with relative member names (`tmp/a/b.bin`), so extracting one at
the sandbox's root creates missing parent directories. Host-side extraction refuses members
that would escape the target (absolute names, `..`, links pointing outside).
"""

from __future__ import annotations

import io
import posixpath
import shutil
import tarfile
import time
from pathlib import Path

from envs.rock.errors import SandboxFileError


def _member_name(path: str) -> str:
    norm = posixpath.normpath("/" + path.lstrip("/"))
    if norm == "/":
        raise SandboxFileError("a file path inside the sandbox must not be '/'")
    return norm.lstrip("/")


def single_file(path: str, data: bytes, mode: int = 0o644) -> bytes:
    """A tar holding `data` at absolute sandbox path `path`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
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


def extract_single_file(archive: io.BytesIO, path: str) -> bytes:
    """The bytes of the one regular file in a `get_archive` stream of `path`."""
    with tarfile.open(fileobj=archive) as tf:
        for member in tf:
            if member.isfile():
                f = tf.extractfile(member)
                assert f is not None
                return f.read()
            if member.isdir():
                raise SandboxFileError(f"{path!r} is a directory: use download() for trees")
    raise SandboxFileError(f"{path!r} is not a regular file")


def unpack_to_host(archive: io.BytesIO, path: str, local: Path) -> None:
    """Extract a `get_archive` stream of sandbox `path` so that it lands at host `local`.

    The archive's top entry is the basename of `path`; it is renamed to `local`.
    """
    top = posixpath.basename(posixpath.normpath(path)) or "root"
    staging = local.parent / f".ale-download-{time.monotonic_ns()}"
    staging.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=archive) as tf:
            tf.extractall(staging, filter="tar")  # refuses absolute names, '..', escapes
        if local.exists():
            shutil.rmtree(local) if local.is_dir() else local.unlink()
        (staging / top).rename(local)
    except tarfile.FilterError as exc:
        raise SandboxFileError(f"refusing to download {path!r}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
