"""Bringing a sandbox's file or tree onto the host (`download`) without bringing out anything
that reaches past the destination.

Every source (the local backend's in-root walk, docker's archive stream, a Ray actor's tar)
feeds one `HostTree`, which builds the tree in a fresh staging directory beside `local` and
moves it into place only when complete. Its rules hold on every Python (they do not depend on
`tarfile`'s extraction filters, which Python < 3.12 lacks and older 3.12s got wrong):

* names are relative, with no `..`; an entry is only created inside a directory this
  download created (never through a symlink);
* regular files are streamed, and the content of all of them together is capped
  (`ReadLimitExceeded`); setuid/setgid/sticky bits and group/other write bits are dropped;
* symlinks are kept only if they resolve inside the destination: absolute links, links that
  climb out with `..` (also through other links: checked with `realpath` on the finished
  tree) are dropped, as are devices, FIFOs and sockets. A hard link becomes a copy of a file
  this download already wrote, or is dropped; no hard link is ever made on the host. Dropping (with a warning
  that names each entry) rather than refusing the whole download means a sandbox cannot make
  a grader's download fail by planting such an entry.
"""

from __future__ import annotations

import errno
import logging
import os
import posixpath
import shutil
import stat
import tarfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from envs.rock.errors import SandboxFileError
from envs.rock.pseudofs import pseudo_fs
from envs.rock.reads import DOWNLOAD_LIMIT, iter_chunks, too_large

log = logging.getLogger(__name__)
_MODE_MASK = 0o755  # no setuid/setgid/sticky, no group/other write


def _rel(name: str) -> str | None:
    """`name` as a clean relative path ("" for the top), None if it is absolute or climbs."""
    if name.startswith("/"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    return "/".join(parts)


class HostTree:
    """A download of sandbox path `source` being built at host path `local`."""

    def __init__(self, local: Path, source: str, limit: int = DOWNLOAD_LIMIT) -> None:
        self.local = local
        self.source = source
        self.limit = limit
        self.copied = 0
        self.dropped: list[str] = []
        local.parent.mkdir(parents=True, exist_ok=True)
        self.staging = local.parent / f".ale-download-{os.getpid()}-{time.monotonic_ns()}"
        self.staging.mkdir(mode=0o700)
        self.top = self.staging / "top"
        self._dirs: set[str] = set()
        self._files: set[str] = set()
        self._links: list[str] = []

    # -- adding entries ------------------------------------------------------------------
    def _target(self, rel: str) -> Path | None:
        """Where `rel` goes, if its parent is a directory this download made."""
        if rel and posixpath.dirname(rel) not in self._dirs:
            self.drop(rel, "its parent is not a directory of this download")
            return None
        return self.top / rel if rel else self.top

    def add_dir(self, rel: str, mode: int) -> None:
        if rel in self._dirs:
            return
        target = self._target(rel)
        if target is not None:
            target.mkdir(mode=0o700)
            os.chmod(target, (mode & _MODE_MASK) | 0o700)
            self._dirs.add(rel)

    def add_file(self, rel: str, mode: int, chunks: Iterable[bytes], size: int = 0) -> None:
        """Stream a regular file; `size` (if known) is checked against the cap first."""
        if self.copied + size > self.limit:
            raise too_large(self.source, f"at least {self.copied + size}", self.limit, "download")
        target = self._target(rel)
        if target is None:
            return
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with open(fd, "wb") as f:
            for piece in chunks:
                self.copied += len(piece)
                if self.copied > self.limit:
                    raise too_large(self.source, f"more than {self.limit}", self.limit, "download")
                f.write(piece)
        os.chmod(target, mode & _MODE_MASK)
        self._files.add(rel)

    def add_copy(self, rel: str, mode: int, of: str | None, link: str) -> None:
        """A tar hard link: a copy of `of` (archive name) if this download wrote that regular
        file itself, else dropped. Never a hard link on the host."""
        source = of.partition("/")[2] if of is not None and "/" in of else None
        if source is None or source not in self._files:
            self.drop(rel, f"a hard link to {link!r}, not a file of this download")
            return
        fd = os.open(self.top / source, os.O_RDONLY | os.O_NOFOLLOW)
        with open(fd, "rb") as f:
            self.add_file(rel, mode, iter_chunks(f), os.fstat(f.fileno()).st_size)

    def add_symlink(self, rel: str, link: str) -> None:
        """Kept only if `link` stays inside the download (checked again at `commit`)."""
        if not rel:
            self.drop(self.source, f"a symlink to {link!r} (download its target instead)")
            return
        if link.startswith("/"):
            self.drop(rel, f"an absolute symlink to {link!r}")
            return
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), link))
        if resolved == ".." or resolved.startswith("../"):
            self.drop(rel, f"a symlink to {link!r}, outside the download")
            return
        target = self._target(rel)
        if target is not None:
            os.symlink(link, target)
            self._links.append(rel)

    def drop(self, rel: str, why: str) -> None:
        self.dropped.append(f"{rel or '.'}: {why}")

    # -- finishing -----------------------------------------------------------------------
    def _check_links(self) -> None:
        """Drop links whose real resolution (through other links) leaves the tree."""
        root = os.path.realpath(self.top)
        changed = True
        while changed:
            changed = False
            for rel in list(self._links):
                real = os.path.realpath(self.top / rel)
                if real != root and not real.startswith(root + os.sep):
                    os.unlink(self.top / rel)
                    self._links.remove(rel)
                    self.drop(rel, f"a symlink that resolves outside the download ({real})")
                    changed = True

    def commit(self) -> None:
        """Move the finished tree to `local` (replacing what was there)."""
        if not self.top.exists() and not self.top.is_symlink():
            why = self.dropped[0] if self.dropped else "nothing there"
            raise SandboxFileError(f"nothing to download at {self.source!r}: {why}")
        self._check_links()
        if self.dropped:
            log.warning(
                "download of %r to %s dropped %d entries that could reach outside it: %s",
                self.source,
                self.local,
                len(self.dropped),
                "; ".join(self.dropped[:20]),
            )
        if self.local.is_symlink() or self.local.is_file():
            self.local.unlink()
        elif self.local.exists():
            shutil.rmtree(self.local)
        self.top.rename(self.local)

    def close(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def unpack_tar(stream: BinaryIO, path: str, local: Path, limit: int = DOWNLOAD_LIMIT) -> None:
    """Extract a tar stream of sandbox `path` (top entry: its basename, as docker's
    `get_archive` makes it) so that it lands at host `local`, by `HostTree`'s rules."""
    tree = HostTree(local, path, limit)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tf:
            top: str | None = None
            for member in tf:
                name = _rel(member.name)
                if name is None:
                    tree.drop(member.name, "an absolute name or one with '..'")
                    continue
                head, _, rest = name.partition("/")
                top = head if top is None else top
                if head != top:
                    tree.drop(member.name, "outside the archive's top entry")
                    continue
                _add_member(tree, tf, member, rest)
        tree.commit()
    except tarfile.TarError as exc:
        raise SandboxFileError(f"cannot download {path!r}: a broken archive ({exc})") from exc
    finally:
        tree.close()


def _add_member(tree: HostTree, tf: tarfile.TarFile, member: tarfile.TarInfo, rel: str) -> None:
    if member.isdir():
        tree.add_dir(rel, member.mode)
    elif member.isreg():
        f = tf.extractfile(member)
        assert f is not None
        tree.add_file(rel, member.mode, iter_chunks(f), member.size)  # type: ignore[arg-type]
    elif member.issym():
        tree.add_symlink(rel, member.linkname)
    elif member.islnk():
        tree.add_copy(rel, member.mode, _rel(member.linkname), member.linkname)
    else:
        tree.drop(rel, "a device or FIFO (not copied)")


def add_fd(tree: HostTree, fd: int, rel: str) -> None:
    """Add the open file or directory `fd` of a sandbox root as `rel`; never follows links
    (the local backend's download, through `openat2`-resolved descriptors)."""
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode):
        with open(os.dup(fd), "rb", closefd=True) as f:
            tree.add_file(rel, st.st_mode, iter_chunks(f), st.st_size)
        return
    if not stat.S_ISDIR(st.st_mode):
        tree.drop(rel, "a device, FIFO or socket (not copied)")
        return
    tree.add_dir(rel, st.st_mode)
    for entry in sorted(os.scandir(fd), key=lambda e: e.name):
        child = f"{rel}/{entry.name}" if rel else entry.name
        if entry.is_symlink():
            tree.add_symlink(child, os.readlink(entry.name, dir_fd=fd))
            continue
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            sub = os.open(entry.name, flags, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (errno.ENXIO, errno.ELOOP, errno.ENOENT):  # socket, swapped, gone
                tree.drop(child, "a socket, or it changed while being copied")
                continue
            raise
        try:
            kind = pseudo_fs(sub)
            if kind is not None:  # a /proc or /sys mounted inside the tree
                tree.drop(child, f"on {kind}, a kernel pseudo filesystem (not copied)")
            else:
                add_fd(tree, sub, child)
        finally:
            os.close(sub)
