"""Docker file operations: straight into the container's filesystem from this host, or through
the engine's archive API; both give the same bytes, and a dead container is a clear error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from envs.rock import SandboxDead, SandboxSpec
from envs.rock.docker_backend import DockerSandbox, client
from envs.rock.host_root import open_container_root

pytestmark = pytest.mark.docker


@pytest.fixture()
def make(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    made: list[DockerSandbox] = []

    def make_one(files: str = "host") -> DockerSandbox:
        monkeypatch.setenv("ALE_DOCKER_FILES", files)
        sb = DockerSandbox.create(SandboxSpec(memory_mb=256, ttl_s=600))
        made.append(sb)
        return sb

    yield make_one
    for sb in made:
        sb.close()


def test_host_and_engine_paths_give_the_same_files(make: object, tmp_path: Path) -> None:
    host, engine = make("host"), make("engine")  # type: ignore[operator]
    assert host.files_via == "host" and engine.files_via == "engine"
    payload = bytes(range(256)) * 64
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "x.bin").write_bytes(payload)
    for sb in (host, engine):
        sb.write("/tmp/new/dir/f.bin", payload, mode=0o750)
        sb.upload(tree, "/opt/tree")
        sb.run("echo from-shell > /tmp/new/s.txt")
        out = sb.run("stat -c '%a %U' /tmp/new/dir/f.bin; sha256sum < /opt/tree/sub/x.bin").output
        assert out.splitlines()[0] == "750 root"
        assert sb.read("/tmp/new/dir/f.bin") == payload
        assert sb.read("/tmp/new/s.txt") == b"from-shell\n"
        sb.download("/opt/tree", tmp_path / f"back-{sb.files_via}")
        assert (tmp_path / f"back-{sb.files_via}" / "sub" / "x.bin").read_bytes() == payload
    assert (
        host.run("sha256sum < /opt/tree/sub/x.bin").output
        == engine.run("sha256sum < /opt/tree/sub/x.bin").output
    )


def test_container_killed_behind_our_back_is_sandbox_dead(make: object) -> None:
    sb = make("host")  # type: ignore[operator]
    sb.write("/tmp/a", b"a")
    client().api.kill(sb._container.id)  # the engine stops it; auto-remove deletes it
    with pytest.raises(SandboxDead):
        for _ in range(50):  # the kill is asynchronous
            sb.write("/tmp/a", b"b")
    with pytest.raises(SandboxDead):
        sb.read("/tmp/a")


def test_closed_sandbox_files_are_sandbox_dead(make: object) -> None:
    sb = make("host")  # type: ignore[operator]
    sb.write("/tmp/a", b"a")
    sb.close()
    with pytest.raises(SandboxDead):
        sb.write("/tmp/a", b"b")


def test_a_pid_that_is_not_the_container_is_refused(make: object) -> None:
    sb = make("host")  # type: ignore[operator]
    assert open_container_root(sb._container.id, os.getpid(), "x") is None  # our own process
    assert open_container_root(sb._container.id, 0, "x") is None
