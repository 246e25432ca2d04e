"""The egress helper: one host process per sandbox that serves its proxy and DNS sockets.

Started by `envs.rock.egress.start_egress` with three inherited descriptors: the proxy
listener and the DNS socket (both bound inside the sandbox's network namespace) and a pidfd
of the sandbox's init. It runs until that init exits (the sandbox ended, by close, TTL or
kill) or it gets SIGTERM, then closes the audit log. Ten times a second it looks at its rules
file (`set_rules`): a new version replaces the allowlist, and the version is acknowledged. It lives in its own session, so a
driver that dies leaves it serving a detached sandbox until that sandbox ends.

    python -c '...main()' CONFIG_JSON     (see `start_egress` for the keys)
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import threading
from pathlib import Path

from envs.rock.egress.audit import AuditLog
from envs.rock.egress.dns import DnsResponder
from envs.rock.egress.proxy import EgressProxy
from envs.rock.egress.rules import Allowlist


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    allowlist = Allowlist.of(config["allow"])
    audit = AuditLog(Path(config["audit"]), config["sandbox"])
    tcp = socket.socket(fileno=config["tcp_fd"])
    udp = socket.socket(fileno=config["udp_fd"])
    proxy = EgressProxy(tcp, allowlist, audit)
    dns = DnsResponder(udp, allowlist, audit)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for target in (proxy.serve_forever, dns.serve_forever):
        threading.Thread(target=target, daemon=True).start()
    pidfd = config["pidfd"]
    rules, seen = Path(config["rules"]), None
    while not stop.is_set():  # the pidfd turns readable when the init exits
        if select.select([pidfd], [], [], 0.1)[0]:
            break
        with contextlib.suppress(OSError, ValueError, KeyError):
            new = json.loads(rules.read_text())
            if new["version"] != seen:
                seen = new["version"]
                proxy.allowlist = dns.allowlist = Allowlist.of(new["allow"])
                ack = rules.with_suffix(".ack")
                ack.with_suffix(".tmp").write_text(str(new["version"]))
                os.replace(ack.with_suffix(".tmp"), ack)
    proxy.stop()
    dns.stop()
    audit.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
