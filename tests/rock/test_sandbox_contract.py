"""The behaviour every sandbox backend must share (ARCHITECTURE.md section 1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envs.rock import Sandbox, SandboxDead, SandboxFileError
from envs.rock.gc import list_all


def test_session_state_persists(shared_sandbox: Sandbox) -> None:
    sb = shared_sandbox
    assert sb.run("cd /tmp && export ALE_X=42 && Y=7 && f() { echo fn-$1; }").ok
    r = sb.run('echo "$PWD $ALE_X $Y"; f ok')
    assert r.output == "/tmp 42 7\nfn-ok\n"


def test_sessions_are_independent_but_share_files(shared_sandbox: Sandbox) -> None:
    sb = shared_sandbox
    sb.run("cd /var && echo shared > /tmp/from-a", session="a")
    r = sb.run("pwd; cat /tmp/from-a", session="b")
    assert r.output == f"{sb.spec.workdir}\nshared\n"
    assert sb.run("pwd", session="a").output == "/var\n"


def test_exit_code_and_merged_stderr(shared_sandbox: Sandbox) -> None:
    r = shared_sandbox.run("echo out; echo err >&2; exit_with() { return $1; }; exit_with 3")
    assert r.exit_code == 3 and r.output == "out\nerr\n" and not r.ok


def test_syntax_error_does_not_break_session(shared_sandbox: Sandbox) -> None:
    r = shared_sandbox.run("echo 'unterminated")
    assert r.exit_code != 0 and "unexpected EOF" in r.output
    assert shared_sandbox.run("echo fine").output == "fine\n"


def test_stdin_is_not_the_control_stream(shared_sandbox: Sandbox) -> None:
    r = shared_sandbox.run("cat; read x; echo read=$?", timeout=5)
    assert not r.timed_out and r.output.endswith("read=1\n")


@pytest.mark.parametrize(
    "command",
    [
        "sleep 30",
        "while :; do :; done",
        "sleep 30 & wait",
        "python3 -c 'import time; time.sleep(30)'",
        "for i in 1 2 3 4 5 6; do sleep 30; done",
        "trap '' INT; sleep 30",
    ],
)
def test_timeout_kills_and_session_survives(shared_sandbox: Sandbox, command: str) -> None:
    sb = shared_sandbox
    sb.run("cd /tmp && export KEEP=1")
    r = sb.run(command, timeout=0.5)
    assert r.timed_out and r.exit_code == 124
    assert r.duration_s < 10
    after = sb.run('echo "$PWD $KEEP"', timeout=10)
    assert after.ok and after.output.endswith("/tmp 1\n") or after.session_restarted
    assert sb.run("echo next").output.endswith("next\n")


def test_timeout_under_trap_int_shows_no_protocol_marker(make_sandbox: object) -> None:
    """With SIGINT ignored the killed command's line goes on to print its end marker; that
    marker is the protocol's, never output (issue 13, item 7)."""
    sb: Sandbox = make_sandbox()  # type: ignore[operator]
    sb.run("trap '' INT")
    for command in ("echo before; sleep 30", "for i in 1 2 3; do sleep 30; done"):
        r = sb.run(command, timeout=0.5)
        assert r.timed_out and b"\x1e" not in r.raw, r.raw
    assert sb.run("echo next").output == "next\n"
    with pytest.raises(ValueError, match="NUL"):
        sb.run("echo a\x00b")


def test_user_exit_restarts_session_in_last_cwd(shared_sandbox: Sandbox) -> None:
    sb = shared_sandbox
    sb.run("cd /usr")
    r = sb.run("exit 3")
    assert r.session_restarted
    assert sb.run("pwd").output == "/usr\n"


def test_huge_output_is_capped_with_head_tail_and_marker(shared_sandbox: Sandbox) -> None:
    size = 200_000_000
    r = shared_sandbox.run(
        f"printf HEAD; head -c {size} /dev/zero | tr '\\0' x; printf TAIL", timeout=120
    )
    assert r.ok and r.truncated
    assert r.output_bytes == size + 8
    assert r.raw.startswith(b"HEADxxx") and r.raw.endswith(b"xxxTAIL")
    assert b"bytes of output cut" in r.raw
    assert len(r.raw) <= shared_sandbox.spec.output_limit + 200


def test_non_utf8_output_does_not_crash(shared_sandbox: Sandbox) -> None:
    r = shared_sandbox.run("printf 'ok\\xff\\xfe\\x80\\n'")
    assert r.raw == b"ok\xff\xfe\x80\n"
    assert r.output.startswith("ok") and "\ufffd" in r.output


def test_command_with_quotes_and_unicode(shared_sandbox: Sandbox) -> None:
    r = shared_sandbox.run("""echo "it's \\"quoted\\"" 'naïve ✓' $'tab\\there'""")
    assert r.output == 'it\'s "quoted" naïve ✓ tab\there\n'


def test_binary_file_round_trip_50mb(shared_sandbox: Sandbox) -> None:
    data = os.urandom(50 * 1024 * 1024) + bytes(range(256))
    shared_sandbox.write("/tmp/new/dir/blob.bin", data)
    assert shared_sandbox.read("/tmp/new/dir/blob.bin") == data
    r = shared_sandbox.run("sha256sum /tmp/new/dir/blob.bin | cut -c1-64")
    import hashlib

    assert r.output.strip() == hashlib.sha256(data).hexdigest()
    shared_sandbox.run("rm -rf /tmp/new")


def test_write_mode_and_read_missing(shared_sandbox: Sandbox) -> None:
    shared_sandbox.write("/tmp/run.sh", b"#!/bin/sh\necho ran\n", mode=0o755)
    assert shared_sandbox.run("/tmp/run.sh").output == "ran\n"
    with pytest.raises(SandboxFileError):
        shared_sandbox.read("/no/such/file")


def test_upload_download_tree(shared_sandbox: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha\n")
    (src / "sub" / "b.bin").write_bytes(b"\x00\x01\xff")
    shared_sandbox.upload(src, "/opt/tree")
    assert shared_sandbox.run("cat /opt/tree/a.txt; ls /opt/tree/sub").output == "alpha\nb.bin\n"
    shared_sandbox.run("echo new > /opt/tree/sub/c.txt")
    dst = tmp_path / "dst"
    shared_sandbox.download("/opt/tree", dst)
    assert (dst / "sub" / "b.bin").read_bytes() == b"\x00\x01\xff"
    assert (dst / "sub" / "c.txt").read_text() == "new\n"


def test_paths_resolve_inside_the_root(make_sandbox: object, tmp_path: Path) -> None:
    """File operations resolve `/`, `..` and links inside the sandbox, never on the host."""
    sb: Sandbox = make_sandbox()  # type: ignore[operator]
    host_only = tmp_path / "host-only.txt"
    host_only.write_text("host secret\n")
    sb.run(
        "echo sandbox-only > /etc/ale-marker && ln -s /etc/ale-marker /tmp/abs && "
        "ln -s ../../../../../../../etc/ale-marker /tmp/rel && ln -s / /tmp/root && "
        f"ln -s {host_only} /tmp/host && ln -s /etc/passwd /tmp/pw"
    )
    assert sb.read("/tmp/abs") == sb.read("/tmp/rel") == b"sandbox-only\n"
    assert sb.read("/../../../etc/ale-marker") == b"sandbox-only\n"
    assert sb.read("/tmp/pw") == sb.run("cat /etc/passwd").raw
    with pytest.raises(SandboxFileError, match="host"):
        sb.read("/tmp/host")
    sb.write("/tmp/root/tmp/ale-escape-test/x", b"in")  # through a link to "/": still inside
    assert not Path("/tmp/ale-escape-test").exists()
    assert sb.run("cat /tmp/ale-escape-test/x").output == "in"
    sb.write("/tmp/abs", b"via link\n")  # writes the sandbox's /etc/ale-marker
    assert sb.run("cat /etc/ale-marker").output == "via link\n"
    sb.download("/tmp/root/etc/ale-marker", tmp_path / "marker")
    assert (tmp_path / "marker").read_bytes() == b"via link\n"
    sb.run("mkfifo /tmp/fifo")
    with pytest.raises(SandboxFileError, match="not a regular file"):
        sb.read("/tmp/fifo")
    with pytest.raises(SandboxFileError, match="directory"):
        sb.read("/tmp")


def test_snapshot_restore(make_sandbox: object) -> None:
    sb: Sandbox = make_sandbox()  # type: ignore[operator]
    sb.run("mkdir -p /work && echo v1 > /work/state && cd /work")
    snap = sb.snapshot()
    sb.run("echo v2 > /work/state && rm -rf /usr/share/doc && touch /work/extra")
    sb.restore(snap)
    r = sb.run("cat /work/state; ls /work; test -d /usr/share/doc && echo doc; pwd")
    assert r.output == "v1\nstate\ndoc\n/work\n"


def test_labels_close_idempotent_and_dead_after_close(make_sandbox: object) -> None:
    sb: Sandbox = make_sandbox(labels={"ale.test": "labels"})  # type: ignore[operator]
    ours = {r.id: r for r in list_all()}
    record = next(r for rid, r in ours.items() if sb.id.startswith(rid) or rid.startswith(sb.id))
    assert record.labels["ale.test"] == "labels"
    assert record.labels["ale.owner.pid"] == str(os.getpid()) and not record.orphan
    assert sb.alive()
    sb.close()
    sb.close()
    assert not sb.alive()
    with pytest.raises(SandboxDead):
        sb.run("true")


def test_session_users_run_named_sessions_as_their_users(make_sandbox: object) -> None:
    """`spec.user` for every session but those in `session_users` (Harbor's agent.user and
    verifier.user): each session is its own user, and a non-root one cannot write root's files."""
    sb = make_sandbox(user="nobody", session_users={"grader": "root", "agent2": "nobody"})  # type: ignore[operator]
    assert sb.run("id -un", timeout=30).output.strip() == "nobody"
    assert sb.run("id -un", timeout=30, session="grader").output.strip() == "root"
    assert sb.run("id -un", timeout=30, session="agent2").output.strip() == "nobody"
    assert sb.run("touch /etc/ale-probe", timeout=30).exit_code != 0
    assert sb.run("touch /etc/ale-probe && echo ok", timeout=30, session="grader").ok
