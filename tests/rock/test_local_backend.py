"""Checks specific to the `local` backend (bubblewrap + overlayfs + cgroups).

The behaviour shared with the docker backend lives in test_sandbox_contract.py and
test_containment.py; here: the overlay, isolation between sandboxes,
the cgroup files, and that close and gc leave no process, mount, cgroup or state behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from envs.rock import (
    BackendUnavailable,
    ImageNotFound,
    Sandbox,
    SandboxDead,
    SandboxSpec,
)
from envs.rock.api import DEFAULT_IMAGE, is_orphan
from envs.rock.bwrap import SHELL_CAPS
from envs.rock.cgroups import CgroupLimits, SandboxCgroup
from envs.rock.gc import GcScope, collect, list_local
from envs.rock.image_build import rootfs_path
from envs.rock.local_backend import (
    LocalSandbox,
    list_local_sandboxes,
    local_sandbox_status,
)
from envs.rock.overlay import Layout
from tests.conftest import REPO

pytestmark = pytest.mark.local


@pytest.fixture(autouse=True)
def _local_backend_usable() -> None:
    """Skip (a failure under CI=true) where the local backend cannot run."""
    if os.geteuid() != 0 or not shutil.which("bwrap"):
        pytest.skip("the local backend needs root and bubblewrap")
    if not (rootfs_path(DEFAULT_IMAGE) / "bin").exists():
        pytest.skip(
            f"no root filesystem at {rootfs_path(DEFAULT_IMAGE)}: run `ale images build --local`"
        )


Make = Callable[..., LocalSandbox]


@pytest.fixture()
def make() -> Iterator[Make]:
    made: list[LocalSandbox] = []

    def _make(**overrides: object) -> LocalSandbox:
        sb = LocalSandbox.create(SandboxSpec(**overrides))  # type: ignore[arg-type]
        made.append(sb)
        return sb

    yield _make
    for sb in made:
        sb.close()


def mounts_of(sid: str) -> list[str]:
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if sid in line]


def running(pid: int) -> bool:
    """Alive and not a zombie (a dead driver's children are reaped by the host's init)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def assert_gone(sid: str, state_dir: Path, pids: list[int]) -> None:
    assert not mounts_of(sid), "a mount of the sandbox is left"
    assert not SandboxCgroup(sid).exists(), "a cgroup of the sandbox is left"
    assert not state_dir.exists(), "the state directory is left"
    assert pids and not [p for p in pids if running(p)], "a process is left"
    assert sid not in [i for i, _ in list_local_sandboxes()]


def test_writes_stay_in_the_overlay(make: Make) -> None:
    sb = make()
    lower = rootfs_path(DEFAULT_IMAGE)
    r = sb.run("echo inside > /etc/ale-overlay-test && rm -f /usr/bin/env && echo done")
    assert r.output == "done\n"
    assert not (lower / "etc/ale-overlay-test").exists()
    assert (lower / "usr/bin/env").exists()
    assert sb.read("/etc/ale-overlay-test") == b"inside\n"
    assert sb.run("test -e /usr/bin/env || echo removed").output == "removed\n"


def test_two_sandboxes_are_isolated(make: Make) -> None:
    a, b = make(), make()
    a.run("echo a > /tmp/mine; (python3 -m http.server 8765 --bind 127.0.0.1 >/dev/null 2>&1 &)")
    probe = (
        'python3 -c "import socket,time\nfor _ in range(50):\n s=socket.socket()\n'
        " if s.connect_ex(('127.0.0.1', 8765)) == 0: print('up'); break\n time.sleep(0.1)\n"
        "else: print('down')\""
    )
    assert a.run(probe, session="other", timeout=30).output == "up\n"
    assert b.run(probe.replace("range(50)", "range(3)"), timeout=30).output == "down\n"
    assert b.run("cat /tmp/mine 2>&1; pgrep -f http.server || echo none").output.endswith("none\n")
    assert "No such file" in b.run("cat /tmp/mine").output
    assert a.run("hostname").output.strip() == a.id and b.run("hostname").output.strip() == b.id


def test_cgroup_limits_and_membership(make: Make) -> None:
    sb = make(memory_mb=300, pids_limit=77, cpus=0.5)
    sb.run("true")
    cg = SandboxCgroup(sb.id)
    if cg.version == 1:
        mem = cg.dirs["memory"]
        assert int((mem / "memory.limit_in_bytes").read_text()) == 300 * 2**20
        if (mem / "memory.memsw.limit_in_bytes").exists():
            assert int((mem / "memory.memsw.limit_in_bytes").read_text()) == 300 * 2**20
        assert (cg.dirs["pids"] / "pids.max").read_text().strip() == "77"
        if "cpu" in cg.dirs:  # optional: see test_missing_cpu_controller_falls_back
            assert (cg.dirs["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "50000"
            assert (cg.dirs["cpu"] / "cpu.cfs_period_us").read_text().strip() == "100000"
    else:
        d = cg.dirs["unified"]
        assert int((d / "memory.max").read_text()) == 300 * 2**20
        assert (d / "pids.max").read_text().strip() == "77"
        if (d / "cpu.max").exists():
            assert (d / "cpu.max").read_text().split() == ["50000", "100000"]
    shell = sb._sessions["default"]._transport._shell_pid()  # type: ignore[union-attr]
    assert shell in cg.pids()
    # interrupt() targets the bash inside the sandbox's pid namespace, not a wrapper
    status = Path(f"/proc/{shell}/status").read_text()
    assert "Name:\tbash" in status
    assert len(next(x for x in status.splitlines() if x.startswith("NSpid")).split()) == 3
    for field in ("CapEff", "CapPrm", "CapBnd"):  # the bounding set too, like docker
        caps = int(next(x for x in status.splitlines() if x.startswith(field)).split()[1], 16)
        assert caps.bit_count() == len(SHELL_CAPS), field
    r = sb.run("setpriv -d | grep -i bounding; chown nobody /tmp && echo chown-ok; chown root /tmp")
    assert "setpcap" not in r.output and "sys_admin" not in r.output and "chown-ok" in r.output


def test_host_knobs_are_out_of_reach(make: Make) -> None:
    sb = make()
    assert isinstance(sb, Sandbox)
    # each probe writes back the value it read: harmless even if the protection regressed
    r = sb.run(
        "(cat /proc/sys/vm/overcommit_memory > /proc/sys/vm/overcommit_memory) 2>/dev/null && echo sysctl; "
        "(cat /sys/kernel/mm/ksm/run > /sys/kernel/mm/ksm/run) 2>/dev/null && echo sysfs; "
        "mount -t tmpfs x /mnt 2>/dev/null && echo mount; "
        "mknod /tmp/disk b 8 0 2>/dev/null && echo mknod; "
        "ls /dev/sd* /dev/vd* /dev/nvme* /dev/mem 2>/dev/null; "
        "ls /proc/self/fd | tr '\\n' ' '; echo; echo done"
    )
    assert r.output == "0 1 2 3 \ndone\n"  # 3 is ls's own directory fd


def test_init_survives_kill_all_and_close_leaves_nothing(make: Make) -> None:
    sb = make()
    sb.run("(sleep 1000 &) ; kill -9 -1", session="killer")
    assert sb.alive()
    assert sb.run("echo still").output == "still\n"
    sb.run("(sleep 1000 &); (python3 -c 'import time; time.sleep(1000)' &)")
    state_dir, pids = sb._layout.dir, SandboxCgroup(sb.id).pids()
    assert mounts_of(sb.id)
    sb.close()
    sb.close()
    assert not sb.alive()
    assert_gone(sb.id, state_dir, pids)


DRIVER = """
import sys, time
from envs.rock import SandboxSpec
from envs.rock.local_backend import LocalSandbox
sb = LocalSandbox.create(SandboxSpec(labels={"ale.test": "local-gc"}))
sb.run("(sleep 1000 &)")
print(sb.id, flush=True)
time.sleep(600)
"""


def test_gc_removes_sandbox_of_a_killed_driver() -> None:
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert driver.stdout is not None
    sid = driver.stdout.readline().strip()
    assert sid, "the driver did not start its sandbox"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    labels = dict(list_local_sandboxes())[sid]
    assert labels["ale.test"] == "local-gc" and labels["ale.backend"] == "local"
    pids = SandboxCgroup(sid).pids()
    assert pids, "the sandbox should outlive its driver until gc"
    deadline = time.monotonic() + 10
    while not is_orphan(labels) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert is_orphan(labels)
    # gc scoped to the dead driver: nothing of another process is touched (and if someone
    # else's gc got there first, it is gone all the same)
    removed = collect(GcScope(owner_pid=driver.pid))
    assert {r.id for r in removed} <= {sid}
    assert_gone(sid, Layout.of(sid).dir, pids)


def test_missing_image_says_how_to_build() -> None:
    with pytest.raises(ImageNotFound, match="ale images build --local"):
        LocalSandbox.create(SandboxSpec(image="ale-no-such-image:v0"))


def test_shell_caps_match_docker() -> None:
    docker_backend = pytest.importorskip("envs.rock.docker_backend")
    assert sorted(SHELL_CAPS) == sorted(docker_backend.SHELL_CAPS)


def test_ttl_expiry_removes_everything_without_driver_or_gc(make: Make) -> None:
    sb = make(ttl_s=1)
    sb.run("(sleep 1000 &); echo x > /tmp/x")
    state_dir, pids = sb._layout.dir, SandboxCgroup(sb.id).pids()
    deadline = time.monotonic() + 60  # the TTL loop checks the clock every 5 s
    while (state_dir.exists() or mounts_of(sb.id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not sb.alive()
    assert_gone(sb.id, state_dir, pids)  # reaped by the init's wrapper: nobody called close/gc
    with pytest.raises(SandboxDead, match="TTL expired"):
        sb.run("true")
    sb.close()


def test_killed_init_shows_exited_and_gc_collects_it(make: Make) -> None:
    sb = make()
    assert local_sandbox_status(sb.id) == "running"
    assert {r.id: r.status for r in list_local()}[sb.id] == "running"
    state_dir, pids = sb._layout.dir, SandboxCgroup(sb.id).pids()
    os.kill(sb._init_pid, signal.SIGKILL)  # e.g. killed by an admin: the namespace dies with it
    deadline = time.monotonic() + 10
    while sb.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert local_sandbox_status(sb.id) == "exited"
    # scoped to this process's sandboxes (another gc may get it first: either way it is gone)
    assert {r.id for r in collect(GcScope(owner_pid=os.getpid()))} <= {sb.id}
    assert_gone(sb.id, state_dir, pids)


def test_missing_cpu_controller_falls_back(tmp_path: Path) -> None:
    for controller in ("memory", "pids"):  # a fake cgroup v1 tree with no cpu controller
        (tmp_path / controller).mkdir()
    cg = SandboxCgroup("0123456789ab", root=tmp_path)
    assert set(cg.dirs) == {"memory", "pids"}
    with pytest.warns(RuntimeWarning, match="CPU quota"):
        cg.create(CgroupLimits(2**20, 10, 0.5))
    assert (cg.dirs["pids"] / "pids.max").read_text() == "10"
    assert (cg.dirs["memory"] / "memory.limit_in_bytes").read_text() == str(2**20)
    no_pids = tmp_path / "no-pids"
    (no_pids / "memory").mkdir(parents=True)
    with pytest.raises(BackendUnavailable, match="never run without limits"):
        SandboxCgroup("0123456789ab", root=no_pids).create(CgroupLimits(2**20, 10, 0.5))
