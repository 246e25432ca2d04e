"""Permissions enforced by every backend: egress allowlist, DNS, read-only and hidden paths,
read-only root, resource limits (the contract of `envs.rock.policy`).

Network tests only target listeners these tests start on this machine's loopback; the one
test that reaches a package index is marked `network` and skips where it is unreachable.
"""

from __future__ import annotations

import errno
import http.server
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from envs.rock import Sandbox, SandboxFileError
from envs.rock.policy import NetworkPolicy, PathPolicy, SandboxPolicy, SandboxPolicyError

PROXY = "http://127.0.0.1:3128"
# the proxy variables on, NO_PROXY off: 127.0.0.1 through the proxy means the host's loopback
VIA_PROXY = "NO_PROXY= no_proxy= "


@dataclass
class Listener:
    """An HTTP server on the host's 127.0.0.1 that counts the requests it got."""

    port: int
    hits: list[str] = field(default_factory=list)


@pytest.fixture()
def listeners() -> Iterator[tuple[Listener, Listener]]:
    servers, made = [], []
    for _ in range(2):
        listener = Listener(0)

        class Handler(http.server.BaseHTTPRequestHandler):
            seen = listener

            def do_GET(self) -> None:  # noqa: N802
                self.seen.hits.append(self.path)
                size = int(self.path.rsplit("/", 1)[-1] or 0) if self.path[-1:].isdigit() else 0
                body = b"hello from the host\n" if not size else b"x" * size
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        listener.port = srv.server_address[1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        made.append(listener)
    yield made[0], made[1]
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def allowlist(*rules: str) -> SandboxPolicy:
    return SandboxPolicy(network=NetworkPolicy("allowlist", rules))


def wait_audit(sb: Sandbox, n: int) -> list[dict[str, object]]:
    """The audit log once it holds `n` events (the helper writes when a connection ends)."""
    deadline = time.monotonic() + 10
    events = sb.audit()
    while len(events) < n and time.monotonic() < deadline:
        time.sleep(0.05)
        events = sb.audit()
    return events


def test_allowed_listener_reachable_other_refused_and_audited(
    make_sandbox: object, listeners: tuple[Listener, Listener]
) -> None:
    ok, other = listeners
    sb: Sandbox = make_sandbox(policy=allowlist(f"127.0.0.1:{ok.port}"))  # type: ignore[operator]
    r = sb.run(f"{VIA_PROXY}curl -sS -m 10 http://127.0.0.1:{ok.port}/a", timeout=30)
    assert r.output == "hello from the host\n", r.output
    r = sb.run(f"{VIA_PROXY}curl -sS -m 10 -p http://127.0.0.1:{ok.port}/b", timeout=30)
    assert r.output == "hello from the host\n", r.output  # a CONNECT tunnel
    r = sb.run(
        f"{VIA_PROXY}curl -sS -m 10 -w '%{{http_code}}' http://127.0.0.1:{other.port}/c", timeout=30
    )
    assert r.output.endswith("403") and "not in the allowlist" in r.output, r.output
    r = sb.run(f"{VIA_PROXY}curl -sS -m 10 -p http://127.0.0.1:{other.port}/d", timeout=30)
    assert r.exit_code != 0 and "403" in r.output, r.output
    assert other.hits == [] and ok.hits == ["/a", "/b"]
    events = wait_audit(sb, 4)
    by_dest = {(e["kind"], e["dest"], e["verdict"]) for e in events}
    assert ("http", f"127.0.0.1:{ok.port}", "allowed") in by_dest
    assert ("http", f"127.0.0.1:{other.port}", "refused") in by_dest
    assert ("connect", f"127.0.0.1:{ok.port}", "allowed") in by_dest
    assert ("connect", f"127.0.0.1:{other.port}", "refused") in by_dest
    first = next(e for e in events if e["verdict"] == "allowed")
    assert first["sandbox"] == sb.id and int(first["bytes_in"]) > 20  # type: ignore[call-overload]
    assert all(isinstance(e["time"], float) for e in events)


def test_dns_answers_only_allowed_names(make_sandbox: object) -> None:
    name = socket.gethostname()  # resolves on this host from /etc/hosts: no DNS traffic out
    sb: Sandbox = make_sandbox(policy=allowlist(f"{name}:8080"))  # type: ignore[operator]
    sb.run("printf '127.0.0.1 localhost\\n' > /etc/hosts")  # only the sandbox's DNS can answer
    probe = (
        'python3 -c "import socket, sys\n'
        "for n in sys.argv[1:]:\n"
        "    try: print(n, socket.getaddrinfo(n, 80)[0][4][0])\n"
        "    except OSError as e: print(n, 'fails', e.errno)\" "
    )
    r = sb.run(probe + f"{name} blocked.example.invalid", timeout=30)
    lines = dict(line.split(" ", 1) for line in r.output.splitlines())
    assert lines[name] == socket.gethostbyname(name), r.output
    assert lines["blocked.example.invalid"].startswith("fails"), r.output
    refused = [e for e in wait_audit(sb, 1) if e["kind"] == "dns"]
    assert refused and refused[0]["dest"] == "blocked.example.invalid"


def test_raw_ip_and_proxy_bypass_fail_fast(
    make_sandbox: object, listeners: tuple[Listener, Listener]
) -> None:
    ok, other = listeners
    host_ip = _host_address()
    sb: Sandbox = make_sandbox(policy=allowlist(f"127.0.0.1:{ok.port}"))  # type: ignore[operator]
    bypass = (
        "unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy; "
        'python3 -c "import socket, sys, time\n'
        "for host, port in [(h, int(p)) for h, p in (a.split(':') for a in sys.argv[1:])]:\n"
        "    s = socket.socket(); s.settimeout(5); t = time.monotonic()\n"
        '    print(host, port, s.connect_ex((host, port)), round(time.monotonic() - t, 2))" '
    )
    targets = [
        f"127.0.0.1:{ok.port}",
        f"{host_ip}:{ok.port}",
        f"{host_ip}:{other.port}",
        "1.1.1.1:80",
    ]
    r = sb.run(bypass + " ".join(targets), timeout=60, session="bypass")
    rows = [line.split() for line in r.output.splitlines()]
    assert len(rows) == 4, r.output
    for host, _port, code, _seconds in rows:
        # refused or unreachable at once: never a timeout (EAGAIN), never a connection
        assert int(code) in (errno.ECONNREFUSED, errno.ENETUNREACH), r.output
        assert host != "1.1.1.1" or int(code) == errno.ENETUNREACH, r.output  # no route out
    r = sb.run(
        f"{VIA_PROXY}curl -sS -m 10 -w '%{{http_code}}' http://{host_ip}:{ok.port}/", timeout=30
    )
    assert r.output.endswith("403"), r.output  # the same listener by another address: refused
    assert ok.hits == [] and other.hits == []


def test_tls_sni_must_name_the_allowed_host(
    make_sandbox: object, listeners: tuple[Listener, Listener]
) -> None:
    """A tunnel allowed by name closes when its ClientHello names another host (fronting)."""
    ok, _ = listeners
    name = socket.gethostname()
    rules = (f"{name}:{ok.port}", f"127.0.0.1:{ok.port}")
    sb: Sandbox = make_sandbox(policy=allowlist(*rules))  # type: ignore[operator]
    script = (
        "import socket, ssl, sys\n"
        "s = socket.create_connection(('127.0.0.1', 3128), timeout=10)\n"
        "s.sendall(f'CONNECT {sys.argv[1]}:{sys.argv[2]} HTTP/1.1\\r\\n\\r\\n'.encode())\n"
        "print(s.recv(100).split(b'\\r\\n')[0].decode())\n"
        "ctx = ssl.create_default_context()\n"
        "try:\n"
        "    ctx.wrap_socket(s, server_hostname='forbidden.example')\n"
        "except (OSError, ssl.SSLError) as e: print('tls failed')\n"
    )
    sb.write("/tmp/sni.py", script.encode())
    r = sb.run(f"python3 /tmp/sni.py {name} {ok.port}", timeout=30)
    assert "200 Connection established" in r.output and "tls failed" in r.output, r.output
    events = wait_audit(sb, 1)
    assert any("SNI 'forbidden.example'" in str(e["reason"]) for e in events), events
    assert ok.hits == []


def test_set_allowlist_switches_at_run_time(
    make_sandbox: object, listeners: tuple[Listener, Listener]
) -> None:
    ok, _ = listeners
    sb: Sandbox = make_sandbox(policy=allowlist())  # type: ignore[operator]
    fetch = f"{VIA_PROXY}curl -s -m 10 -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{ok.port}/"
    assert sb.run(fetch, timeout=30).output == "403"
    sb.set_allowlist([f"127.0.0.1:{ok.port}"])
    assert sb.run(fetch, timeout=30).output == "200"
    sb.set_allowlist([])
    assert sb.run(fetch, timeout=30).output == "403"
    assert len(ok.hits) == 1
    with pytest.raises(SandboxPolicyError, match="not a host name"):
        sb.set_allowlist(["no such host"])
    offline: Sandbox = make_sandbox()  # type: ignore[operator]
    with pytest.raises(SandboxPolicyError, match="only a sandbox created with network 'allowlist'"):
        offline.set_allowlist(["pypi.org"])


def test_open_network_never_reaches_the_host_loopback(
    make_sandbox: object, listeners: tuple[Listener, Listener]
) -> None:
    ok, _ = listeners
    sb: Sandbox = make_sandbox(policy=SandboxPolicy(network=NetworkPolicy("open")))  # type: ignore[operator]
    r = sb.run(
        f"curl -sS -m 5 http://127.0.0.1:{ok.port}/; "
        f"{VIA_PROXY}curl -sS -m 5 -x {PROXY} http://127.0.0.1:{ok.port}/",
        timeout=30,
    )
    assert "hello from the host" not in r.output and ok.hits == [], r.output


@pytest.mark.network
def test_pip_install_through_an_allowlist_naming_only_the_index(make_sandbox: object) -> None:
    try:
        urllib.request.urlopen("https://pypi.org/simple/six/", timeout=10).close()
    except (OSError, ssl.SSLError) as exc:
        pytest.skip(f"the package index is unreachable from this host: {exc}")
    sb: Sandbox = make_sandbox(  # type: ignore[operator]
        policy=allowlist("pypi.org", "files.pythonhosted.org")
    )
    r = sb.run(
        "pip install --no-cache-dir --disable-pip-version-check --target /tmp/pkgs six 2>&1 "
        "&& PYTHONPATH=/tmp/pkgs python3 -c 'import six; print(six.__name__)'",
        timeout=180,
    )
    assert r.ok and r.output.endswith("six\n"), r.output[-2000:]
    r = sb.run("curl -sS -m 10 https://example.com/ -o /dev/null -w '%{http_code}'", timeout=30)
    assert not r.ok  # anything else stays out


PROTECTED = PathPolicy(read_only=("/etc/apt",), hidden=("/usr/share/doc", "/etc/debian_version"))


def test_read_only_and_hidden_paths_hold_against_root(make_sandbox: object) -> None:
    sb: Sandbox = make_sandbox(policy=SandboxPolicy(paths=PROTECTED))  # type: ignore[operator]
    before = sb.run("ls -la /etc/apt | md5sum").output
    attacks = [
        "touch /etc/apt/new",
        "rm -f /etc/apt/sources.list",
        "chmod 0777 /etc/apt",
        "mv /etc/apt /etc/apt-moved",
        "mount -o remount,rw /etc/apt",
        "mount -o remount,rw,bind /etc/apt",
        "umount /etc/apt",
        "umount -l /usr/share/doc",
        "unshare -m sh -c 'umount /etc/apt'",
        "ln -sf /etc/apt/sources.list /tmp/link && echo x >> /tmp/link",
        "echo x > /proc/self/root/etc/apt/sources.list",
        "ln /etc/debian_version /tmp/hard",
    ]
    for attack in attacks:
        r = sb.run(attack, timeout=30)
        assert r.exit_code != 0, (attack, r.output)
    assert sb.run("ls -la /etc/apt | md5sum").output == before
    r = sb.run(
        "ls -A /usr/share/doc | wc -l; cat /etc/debian_version /proc/self/root/etc/debian_version "
        "2>/dev/null | wc -c; ln -s /usr/share/doc /tmp/d; ls -A /tmp/d/ | wc -l"
    )
    assert r.output.split() == ["0", "0", "0"], r.output
    with pytest.raises(SandboxFileError):
        sb.write("/etc/apt/from-driver", b"x")  # the driver sees the sandbox's view too
    assert sb.run("test -e /etc/apt/from-driver").exit_code == 1


def test_read_only_root_keeps_workdir_and_tmp_writable(make_sandbox: object) -> None:
    policy = SandboxPolicy(paths=PathPolicy(read_only_root=True, writable=("/srv/out",)))
    sb: Sandbox = make_sandbox(workdir="/root", policy=policy)  # type: ignore[operator]
    r = sb.run(
        "touch /root/w /tmp/w /var/tmp/w /srv/out/w && echo writable; test -f /root/.bashrc "
        "&& echo image-content; for p in /etc/x /usr/x /x; do touch $p 2>/dev/null || echo ro; "
        "done; mount -o remount,rw / 2>/dev/null || echo no-remount"
    )
    assert r.output.split() == ["writable", "image-content", "ro", "ro", "ro", "no-remount"]
    with pytest.raises(SandboxFileError, match="read-only"):
        sb.write("/etc/from-driver", b"x")
    sb.write("/root/from-driver", b"x")


def test_missing_read_only_path_is_refused(make_sandbox: object) -> None:
    with pytest.raises(SandboxPolicyError, match="does not exist"):
        make_sandbox(policy=SandboxPolicy(paths=PathPolicy(read_only=("/no/such/dir",))))  # type: ignore[operator]


def test_resources_command_timeout_cap_and_disk(make_sandbox: object) -> None:
    sb: Sandbox = make_sandbox(command_timeout_s=1.0)  # type: ignore[operator]
    r = sb.run("sleep 20", timeout=60)
    assert r.timed_out and r.duration_s < 10
    try:
        disk: Sandbox = make_sandbox(disk_mb=64)  # type: ignore[operator]
    except (
        SandboxPolicyError
    ) as exc:  # the storage driver cannot: refused, never silently unlimited
        assert "disk_mb" in str(exc)
    else:
        r = disk.run("head -c 200M /dev/zero > /tmp/big; echo $?", timeout=120)
        assert r.output.strip() != "0"


def _host_address() -> str:
    """This machine's address on its default route (no packet is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("198.51.100.1", 9))
        return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()
