"""The egress proxy: HTTP CONNECT tunnels and plain HTTP requests, allowed or refused by name.

It runs on the host (in the sandbox's egress helper) and accepts on a socket that lives in the
sandbox's network namespace (`127.0.0.1:3128` there). For each client connection:

* `CONNECT host:port`: the destination is decided by the allowlist (`Allowlist.decide`, on the
  addresses the *host* resolves), then the proxy connects to exactly those addresses and
  tunnels. TLS is not intercepted; when the tunnel's first bytes are a TLS ClientHello whose
  SNI names another host than the one allowed by name, the tunnel is closed (no fronting of a
  refused name behind an allowed one).
* `GET http://host[:port]/path` (any method, absolute URI): decided the same way; the `Host`
  header must name the same host; the request goes out in origin form with
  `Connection: close`.
* anything else gets a 400. A refusal is a `403` whose body says which rule failed.

Every decision is written to the audit log with the bytes moved each way.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable

from envs.rock.egress.audit import AuditLog
from envs.rock.egress.rules import Allowlist, IPAddress, ip_literal
from envs.rock.egress.tls import NEED_MORE, client_hello_sni

HEAD_LIMIT = 16 * 1024  # bytes of request head we read at most
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 256
BUF = 256 * 1024
Resolver = Callable[[str, int], list[IPAddress]]


def resolve(host: str, port: int) -> list[IPAddress]:
    """The host's own resolution of `host` (IP literals as themselves); [] if it fails."""
    literal = ip_literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    out: list[IPAddress] = []
    for info in infos:
        addr = ip_literal(str(info[4][0]).split("%")[0])
        if addr is not None and addr not in out:
            out.append(addr)
    return out


class Refused(Exception):
    """A request the proxy turns down; `status` is the HTTP status sent back."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _split_hostport(authority: str, default_port: int) -> tuple[str, int]:
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    if port and not port.isdigit():
        raise Refused(400, f"bad port in {authority!r}")
    port_n = int(port) if port else default_port
    if not host or not 0 < port_n < 65536:
        raise Refused(400, f"bad destination {authority!r}")
    return host.lower().rstrip("."), port_n


class EgressProxy:
    """Serves one sandbox's proxy socket until `stop()`."""

    def __init__(
        self,
        listener: socket.socket,
        allowlist: Allowlist,
        audit: AuditLog,
        resolver: Resolver = resolve,
    ) -> None:
        self.listener = listener
        self.allowlist = allowlist
        self.audit = audit
        self.resolver = resolver
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._stop = threading.Event()

    def serve_forever(self) -> None:
        self.listener.settimeout(None)  # daemon thread: ends with the helper
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.05)
                continue
            if not self._slots.acquire(blocking=False):
                self.audit.record("connect", "?", "refused", "too many connections")
                with contextlib.suppress(OSError):
                    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n")
                conn.close()
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    # -- one client ----------------------------------------------------------------------
    def _handle(self, client: socket.socket) -> None:
        try:
            self._serve(client)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.close()
            self._slots.release()

    def _serve(self, client: socket.socket) -> None:
        head, rest = _read_head(client)
        if head is None:
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        kind, dest = "http", "?"
        try:
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                raise Refused(400, "not an HTTP/1.x proxy request")
            method, target, _version = parts
            if method.upper() == "CONNECT":
                kind = "connect"
                host, port = _split_hostport(target, 443)
                dest = f"{host}:{port}"
                upstream, by_name = self._open(host, port)
                self._tunnel(client, upstream, rest, dest, host if by_name else None, port)
            else:
                host, port, out = _origin_form(method, target, lines)
                dest = f"{host}:{port}"
                upstream, _ = self._open(host, port)
                self._relay(client, upstream, out + rest, "http", dest, time.monotonic())
        except Refused as exc:
            self.audit.record(kind, dest, "refused", exc.reason)
            body = f"ale egress proxy: refused {dest}: {exc.reason}\n".encode()
            with contextlib.suppress(OSError):
                client.sendall(
                    f"HTTP/1.1 {exc.status} {'Forbidden' if exc.status == 403 else 'Error'}\r\n"
                    f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n".encode()
                    + body
                )

    def _open(self, host: str, port: int) -> tuple[socket.socket, bool]:
        """A connection to an allowed `host:port`; (socket, allowed by a name rule)."""
        addresses = self.resolver(host, port)
        allowed, reason = self.allowlist.decide(host, port, addresses)
        if not allowed:
            raise Refused(403, reason)
        by_name = ip_literal(host) is None and self.allowlist.allows_name(host, port)
        last: OSError | None = None
        for addr in addresses:
            try:
                sock = socket.create_connection((str(addr), port), timeout=CONNECT_TIMEOUT_S)
                sock.settimeout(None)
                return sock, by_name
            except OSError as exc:
                last = exc
        raise Refused(502, f"cannot connect to {host}:{port}: {last}")

    def _tunnel(
        self,
        client: socket.socket,
        upstream: socket.socket,
        early: bytes,
        dest: str,
        name: str | None,
        port: int,
    ) -> None:
        started = time.monotonic()
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        first = early
        if name is not None:  # allowed by name: a TLS ClientHello must not name another host
            first = _read_first(client, early)
            sni = client_hello_sni(first)
            if isinstance(sni, str) and sni != name and not self.allowlist.allows_name(sni, port):
                upstream.close()
                reason = f"TLS SNI {sni!r} is not {name!r} nor in the allowlist"
                self.audit.record("connect", dest, "refused", reason)
                return
        self._relay(client, upstream, first, "connect", dest, started)

    def _relay(
        self,
        client: socket.socket,
        upstream: socket.socket,
        first: bytes,
        kind: str,
        dest: str,
        started: float,
    ) -> None:
        """Copy both ways until both sides are done; audit the bytes."""
        sent, received = 0, 0
        try:
            if first:
                upstream.sendall(first)
                sent += len(first)
            open_ends = {client: upstream, upstream: client}
            buf = bytearray(BUF)
            view = memoryview(buf)
            while open_ends:
                ready, _, _ = select.select(list(open_ends), [], [], 300)
                if not ready:
                    break
                for src in ready:
                    dst = open_ends[src]
                    try:
                        n = src.recv_into(buf)
                    except OSError:
                        n = 0
                    if n == 0:
                        del open_ends[src]
                        with contextlib.suppress(OSError):
                            dst.shutdown(socket.SHUT_WR)
                        continue
                    dst.sendall(view[:n])
                    if src is client:
                        sent += n
                    else:
                        received += n
        except OSError:
            pass
        finally:
            upstream.close()
            self.audit.record(
                kind,
                dest,
                "allowed",
                "allowed",
                bytes_out=sent,
                bytes_in=received,
                duration_s=round(time.monotonic() - started, 6),
            )


def _read_head(client: socket.socket) -> tuple[bytes | None, bytes]:
    """(request head without the blank line, bytes after it); (None, b"") on EOF/garbage."""
    client.settimeout(HEAD_TIMEOUT_S)
    data = bytearray()
    while b"\r\n\r\n" not in data:
        if len(data) > HEAD_LIMIT:
            client.sendall(b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n")
            return None, b""
        try:
            chunk = client.recv(4096)
        except OSError:
            return None, b""
        if not chunk:
            return None, b""
        data += chunk
    client.settimeout(None)
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    return head, rest


def _read_first(client: socket.socket, early: bytes) -> bytes:
    """The tunnel's first client bytes, enough for a whole ClientHello when it is TLS."""
    data = bytearray(early)
    client.settimeout(HEAD_TIMEOUT_S)
    try:
        while (not data or client_hello_sni(bytes(data)) is NEED_MORE) and len(data) < 1 << 16:
            chunk = client.recv(16384)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    client.settimeout(None)
    return bytes(data)


def _origin_form(method: str, target: str, lines: list[str]) -> tuple[str, int, bytes]:
    """(host, port, request head rewritten for the origin) of an absolute-URI request."""
    if not target.lower().startswith("http://"):
        raise Refused(400, "plain requests need an absolute http:// URI (https goes by CONNECT)")
    authority, slash, path = target[7:].partition("/")
    host, port = _split_hostport(authority.rpartition("@")[2], 80)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        if key == "host":
            named, named_port = _split_hostport(value.strip(), 80)
            if (named, named_port) != (host, port):
                raise Refused(403, f"Host header {value.strip()!r} names another host")
        if key in ("proxy-connection", "proxy-authorization", "connection", "keep-alive"):
            continue
        headers.append(line)
    if not any(h.lower().startswith("host:") for h in headers):
        headers.insert(0, f"Host: {authority}")
    head = "\r\n".join([f"{method} {slash}{path} HTTP/1.1", *headers, "Connection: close"])
    return host, port, (head + "\r\n\r\n").encode("latin-1")
