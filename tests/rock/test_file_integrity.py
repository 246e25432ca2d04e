"""Reading out of a sandbox (issue 13, items 2 and 3), on every file route: the local backend,
docker through the container's root on this host, and docker's archive API.

* item 2: a sparse 20 GiB file (free for the sandbox) never makes the driver allocate it: in
  a driver limited to 2 GiB of address space, `read`, the editor's `view` and `download`
  answer with a clear error or observation, never `MemoryError`;
* item 3: `download` never brings out a link that reaches outside its destination (absolute,
  `..`, a chain through another link, `/proc` magic links), nor hard links, devices or FIFOs.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from envs.rock import Sandbox, SandboxFileError, SandboxSpec
from envs.rock.factory import create_sandbox
from envs.rock.hostcopy import unpack_tar
from tests.conftest import REPO

pytestmark = pytest.mark.slow

ROUTES = [
    pytest.param(("local", "host"), marks=pytest.mark.local, id="local"),
    pytest.param(("docker", "host"), marks=pytest.mark.docker, id="docker-host"),
    pytest.param(("docker", "engine"), marks=pytest.mark.docker, id="docker-engine"),
]


@pytest.fixture(params=ROUTES, scope="module")
def route(request: pytest.FixtureRequest) -> tuple[str, str]:
    return tuple(request.param)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def sandbox(route: tuple[str, str]) -> Iterator[Sandbox]:
    backend, files = route
    old = os.environ.get("ALE_DOCKER_FILES")
    os.environ["ALE_DOCKER_FILES"] = files
    try:
        sb = create_sandbox(SandboxSpec(workdir="/testbed"), backend)
    finally:
        if old is None:
            del os.environ["ALE_DOCKER_FILES"]
        else:
            os.environ["ALE_DOCKER_FILES"] = old
    assert getattr(sb, "files_via", "host") == files
    yield sb
    sb.close()


# -- item 2: bounded host memory -------------------------------------------------------------
BOUNDED = """
import json, resource, sys, tempfile
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from envs.rock import SandboxFileError, SandboxSpec
from envs.rock.factory import create_sandbox
from envs.core.editor import Editor, EditorError
sb = create_sandbox(SandboxSpec(workdir="/testbed"), sys.argv[1])
out = {}
try:
    sb.run("truncate -s 20G /testbed/big.txt && mkdir -p /tmp/t && truncate -s 20G /tmp/t/big")
    for name, call in [
        ("read", lambda: sb.read("/testbed/big.txt")),
        ("view", lambda: Editor(sb, "/testbed").execute("view", "/testbed/big.txt")),
        ("str_replace", lambda: Editor(sb, "/testbed").execute(
            "str_replace", "/testbed/big.txt", old_str="a", new_str="b")),
        ("download", lambda: sb.download("/tmp/t", tempfile.mkdtemp() + "/t")),
    ]:
        try:
            call()
            out[name] = "no error"
        except (SandboxFileError, EditorError) as exc:
            out[name] = f"{type(exc).__name__}: {exc}"
    out["small"] = sb.read("/etc/hostname", max_bytes=1 << 20).decode().strip() != ""
finally:
    sb.close()
print(json.dumps(out))
"""


def test_sparse_20gib_file_under_rlimit_as_2gib(route: tuple[str, str]) -> None:
    backend, files = route
    done = subprocess.run(
        [sys.executable, "-c", BOUNDED, backend],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ALE_DOCKER_FILES": files, "MALLOC_ARENA_MAX": "2"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["read"].startswith("ReadLimitExceeded") and "cap" in out["read"], out
    assert out["view"].startswith("EditorError") and "use bash" in out["view"], out
    assert out["str_replace"].startswith("EditorError"), out
    assert out["download"].startswith("ReadLimitExceeded"), out
    assert out["small"] is True


def test_read_cap_is_exact(sandbox: Sandbox) -> None:
    sandbox.write("/tmp/exact.bin", b"x" * 1000)
    assert sandbox.read("/tmp/exact.bin", max_bytes=1000) == b"x" * 1000
    with pytest.raises(Exception, match="over the 999-byte cap"):
        sandbox.read("/tmp/exact.bin", max_bytes=999)


# -- item 3: no link out of the destination --------------------------------------------------
TREE = (
    "rm -rf /tmp/tree && mkdir -p /tmp/tree/sub && echo in > /tmp/tree/sub/f && cd /tmp/tree && "
    "ln -s /etc/hostname abs && ln -s /proc/1/root magic && ln -s ../../etc/hostname up && "
    "ln -s sub/f ok && ln -s .. sub/parent && ln -s sub/parent/.. chain && "
    "ln sub/f hard && mkfifo fifo && echo made"
)


def test_download_drops_links_out_of_the_destination(sandbox: Sandbox, tmp_path: Path) -> None:
    assert sandbox.run(TREE).output == "made\n"
    dst = tmp_path / "dst"
    sandbox.download("/tmp/tree", dst)
    for name in ("abs", "magic", "up", "chain", "fifo"):
        assert not os.path.lexists(dst / name), f"{name} was brought out"
    assert (dst / "ok").is_symlink() and (dst / "ok").read_text() == "in\n"
    assert os.readlink(dst / "sub" / "parent") == ".."  # inside: kept
    assert (dst / "sub" / "f").read_text() == "in\n"
    for hard in (dst / "hard", dst / "sub" / "f"):  # hard links inside: copies, never links
        assert hard.read_text() == "in\n" and hard.stat().st_nlink == 1
    for p in dst.rglob("*"):  # nothing in the tree resolves outside it
        assert os.path.realpath(p).startswith(os.path.realpath(dst)), p


def _tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    buf.seek(0)
    return buf


def _entry(name: str, kind: bytes, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for k, v in attrs.items():
        setattr(info, k, v)
    return info


def test_archive_entries_that_reach_out_are_dropped(tmp_path: Path) -> None:
    """What an engine (or a Ray actor) could send, whatever the sandbox held: the same rules,
    on every Python (no reliance on tarfile's extraction filters)."""
    data = b"payload\n"
    archive = _tar(
        (_entry("top", tarfile.DIRTYPE, mode=0o755), None),
        (_entry("top/f", tarfile.REGTYPE, size=len(data), mode=0o4777), data),
        (_entry("top/dev", tarfile.CHRTYPE, devmajor=1, devminor=3), None),
        (_entry("top/blk", tarfile.BLKTYPE, devmajor=8, devminor=0), None),
        (_entry("top/hard", tarfile.LNKTYPE, linkname="/etc/hostname"), None),
        (_entry("top/hard2", tarfile.LNKTYPE, linkname="top/f"), None),
        (_entry("top/abs", tarfile.SYMTYPE, linkname="/etc/hostname"), None),
        (_entry("top/up", tarfile.SYMTYPE, linkname="../../etc"), None),
        (_entry("top/up/passwd", tarfile.REGTYPE, size=len(data)), data),  # through a link
        (_entry("/etc/ale-abs-name", tarfile.REGTYPE, size=len(data)), data),
        (_entry("top/../../ale-dotdot", tarfile.REGTYPE, size=len(data)), data),
        (_entry("top/ok", tarfile.SYMTYPE, linkname="f"), None),
    )
    dst = tmp_path / "out" / "dst"
    unpack_tar(archive, "/top", dst)
    assert sorted(p.name for p in dst.iterdir()) == ["f", "hard2", "ok"]
    assert (dst / "ok").read_bytes() == (dst / "hard2").read_bytes() == data
    assert (dst / "hard2").stat().st_nlink == 1  # a copy of top/f, not a host hard link
    assert (dst / "f").stat().st_mode & 0o7777 == 0o755  # no setuid, no group/other write
    assert not (tmp_path / "ale-dotdot").exists() and not Path("/etc/ale-abs-name").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dst"]  # no staging left


# -- item 4: no host privileges on the sandbox's pseudo filesystems --------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/proc/kallsyms",
        "/proc/self/status",
        "/sys/kernel/notes",
        "/dev/null",
        "/tmp/k",
        "/tmp/p/self/environ",
    ],
)
def test_pseudo_filesystems_are_not_read_from_the_host(sandbox: Sandbox, path: str) -> None:
    """`/proc/kallsyms` read with the host's privileges shows real kernel addresses; inside the
    sandbox it shows zeros. Host-side file operations refuse every pseudo-filesystem path,
    also through links, and the sandbox's own shell still reads it with its own privileges."""
    sandbox.run("ln -sfn /proc/kallsyms /tmp/k; ln -sfn /proc /tmp/p")
    direct = path.split("/")[1] in ("proc", "sys", "dev")
    # through a link: refused on a pseudo filesystem, or not found (the host's view of the
    # sandbox's root has no /proc of the sandbox's own); never read with host privileges
    with pytest.raises(SandboxFileError, match="pseudo filesystem" if direct else "") as info:
        sandbox.read(path)
    assert not direct or "sb.run(" in str(info.value)
    if path.startswith("/proc") or path.startswith("/sys"):
        with pytest.raises(SandboxFileError, match="pseudo filesystem"):
            sandbox.write(path, b"1\n")


def test_pseudo_filesystems_inside_a_download_are_left_out(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    with pytest.raises(SandboxFileError, match="pseudo filesystem"):
        sandbox.download("/proc/self", tmp_path / "proc")
    inside = sandbox.run("head -1 /proc/kallsyms | cut -c1-16").output.strip()
    assert set(inside) <= {"0"}, f"the sandbox's own view should hide addresses: {inside!r}"
