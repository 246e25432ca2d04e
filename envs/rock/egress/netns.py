"""Sockets bound inside another network namespace, from the host.

A socket belongs to the network namespace it was created in, whichever namespace the process
is in later. A short-lived thread enters the sandbox's namespace (`setns` changes only the
calling thread's), creates and binds the sockets there, and ends; the host-side helper then
serves them from the host's namespace. Nothing in the sandbox can kill, replace or widen them.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns(CLONE_NEWNET): {os.strerror(err)}")


def bind_in_netns(
    netns_fd: int, tcp_port: int, udp_port: int
) -> tuple[socket.socket, socket.socket]:
    """(TCP listener on 127.0.0.1:`tcp_port`, UDP socket on 127.0.0.1:`udp_port`), both in
    the network namespace `netns_fd` refers to. Raises OSError (e.g. a port already taken)."""
    out: dict[str, object] = {}

    def work() -> None:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(netns_fd)
            try:
                tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    tcp.bind(("127.0.0.1", tcp_port))
                    tcp.listen(128)
                    udp.bind(("127.0.0.1", udp_port))
                except OSError:
                    tcp.close()
                    udp.close()
                    raise
                out["socks"] = (tcp, udp)
            finally:
                _setns(home)
        except OSError as exc:
            out["error"] = exc
        finally:
            os.close(home)

    t = threading.Thread(target=work, name="ale-netns")
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["socks"]  # type: ignore[return-value]
