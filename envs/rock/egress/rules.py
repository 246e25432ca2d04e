"""Egress allowlist rules: parsing and matching, pure functions (no I/O but name lookups).

A rule is one string:

=========================  ==================================================================
``pypi.org``               that host, ports 80 and 443 (the web)
``*.pythonhosted.org``     any subdomain (any depth), not the apex itself; ports 80 and 443
``git.example.com:9418``   that host, that port
``mirror.local:*``         that host, any port
``10.1.0.0/16``            any address in the network (IPv4 or IPv6), ports 80 and 443
``127.0.0.1:8080``         one address, one port (``[::1]:8080`` for IPv6)
``*:*``                    anything (what network ``open`` means)
=========================  ==================================================================

A name rule allows a connection to that name (the proxy resolves it on the host and
connects to what it resolves to); an address or network rule allows an IP literal in it, or
a name that resolves into it. Names that resolve to the host's own loopback, link-local
(cloud metadata at 169.254.169.254), unspecified or multicast addresses are refused unless an
address rule names them: a DNS answer cannot turn an allowed name into the host's services.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
WEB_PORTS = frozenset({80, 443})
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


class RuleError(ValueError):
    """A rule string that does not parse; the message shows the accepted forms."""


FORMS = "host, *.domain, host:port, host:*, CIDR, IP:port, [IPv6]:port or *:*"


@dataclass(frozen=True)
class Rule:
    """One parsed rule. `ports` None means any port; `host` is lower-case (may start "*.")."""

    text: str
    host: str | None = None
    net: IPNetwork | None = None
    ports: frozenset[int] | None = WEB_PORTS

    def port_ok(self, port: int) -> bool:
        return self.ports is None or port in self.ports

    def matches_name(self, name: str, port: int | None) -> bool:
        """Whether this name rule allows `name:port` (any port when `port` is None); address
        rules never match a name."""
        if self.host is None or (port is not None and not self.port_ok(port)):
            return False
        name = name.lower().rstrip(".")
        if self.host == "*":
            return True
        if self.host.startswith("*."):
            return name.endswith(self.host[1:]) and len(name) > len(self.host) - 1
        return fnmatch.fnmatchcase(name, self.host) if "*" in self.host else name == self.host

    def matches_address(self, addr: IPAddress, port: int) -> bool:
        """Whether this rule allows a connection to `addr:port` (`*:*` allows any)."""
        if not self.port_ok(port):
            return False
        if self.net is not None:
            return addr.version == self.net.version and addr in self.net
        return self.host == "*"


def _split_port(text: str) -> tuple[str, frozenset[int] | None]:
    """("host part", ports) of a rule; ports default to 80 and 443."""
    if text.startswith("["):  # [v6] or [v6]:port or [v6/len]:port
        end = text.find("]")
        if end < 0:
            raise RuleError(f"{text!r}: unclosed '[' (write IPv6 as [addr]:port)")
        host, rest = text[1:end], text[end + 1 :]
        if not rest:
            return host, WEB_PORTS
        if not rest.startswith(":"):
            raise RuleError(f"{text!r}: expected ':port' after ']'")
        return host, _ports(text, rest[1:])
    if text.count(":") > 1:  # a bare IPv6 address or network: no port
        return text, WEB_PORTS
    host, sep, port = text.partition(":")
    return host, (_ports(text, port) if sep else WEB_PORTS)


def _ports(text: str, port: str) -> frozenset[int] | None:
    if port == "*":
        return None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise RuleError(f"{text!r}: port must be 1-65535 or '*'")
    return frozenset({int(port)})


def parse_rule(text: str) -> Rule:
    """Parse one rule; `RuleError` names the accepted forms."""
    raw = text.strip()
    if not raw:
        raise RuleError(f"empty allowlist rule; use one of: {FORMS}")
    if "://" in raw:
        raise RuleError(f"{text!r}: write the host only, no scheme or path ({FORMS})")
    host, ports = _split_port(raw)
    host = host.lower().rstrip(".")
    try:
        net = ipaddress.ip_network(host, strict=False)
    except ValueError:
        net = None
    if net is not None:
        return Rule(raw, net=net, ports=ports)
    if host == "*":
        return Rule(raw, host="*", ports=ports)
    labels = host[2:].split(".") if host.startswith("*.") else host.split(".")
    if not labels or any(not _LABEL.fullmatch(label) for label in labels) or len(host) > 253:
        raise RuleError(f"{text!r} is not a host name, domain or network; use one of: {FORMS}")
    return Rule(raw, host=host, ports=ports)


def is_internal(addr: IPAddress) -> bool:
    """The host's own addresses a name must never resolve to (loopback, link-local, ...)."""
    return addr.is_loopback or addr.is_link_local or addr.is_unspecified or addr.is_multicast


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Allowlist:
    """Parsed rules with the proxy's decisions. Build with `Allowlist.of(["pypi.org", ...])`."""

    rules: tuple[Rule, ...]

    @classmethod
    def of(cls, texts: tuple[str, ...] | list[str]) -> Allowlist:
        return cls(tuple(parse_rule(t) for t in texts))

    def allows_name(self, name: str, port: int) -> bool:
        """A name rule names `name:port` (`*:*` included)."""
        return any(r.matches_name(name, port) for r in self.rules)

    def name_may_resolve(self, name: str) -> bool:
        """Whether DNS should answer for `name` (a name rule names it, on any port)."""
        return any(r.matches_name(name, None) for r in self.rules)

    def address_rule(self, addr: IPAddress, port: int) -> bool:
        """An address rule (not `*:*`) covers `addr:port`."""
        return any(r.net is not None and r.matches_address(addr, port) for r in self.rules)

    def decide(self, host: str, port: int, resolved: list[IPAddress]) -> tuple[bool, str]:
        """(allowed, reason) for a connection to `host:port`, `host` resolving to `resolved`.

        An IP literal needs an address rule (or `*:*` for a non-internal address). A name
        needs a name rule, or every address it resolves to inside address rules; either way
        internal addresses (see `is_internal`) need an address rule of their own.
        """
        literal = ip_literal(host)
        if literal is not None:
            resolved = [literal]
            named = any(r.host == "*" and r.port_ok(port) for r in self.rules)
        else:
            named = self.allows_name(host, port)
        if not resolved:
            return False, f"{host} does not resolve"
        for addr in resolved:
            if self.address_rule(addr, port):
                continue
            if not named:
                return False, f"{host}:{port} is not in the allowlist"
            if is_internal(addr):
                return False, f"{host} resolves to {addr}, a host-internal address"
        return True, "allowed"
