"""The permission policy as plain data and the egress decisions, without any sandbox."""

from __future__ import annotations

import socket
import ssl
import struct

import pytest

from envs.rock import SandboxSpec
from envs.rock.egress.dns import NXDOMAIN, answer, parse_query
from envs.rock.egress.proxy import Refused, _origin_form
from envs.rock.egress.rules import Allowlist, RuleError, ip_literal, parse_rule
from envs.rock.egress.tls import NEED_MORE, client_hello_sni
from envs.rock.policy import (
    NetworkPolicy,
    PathPolicy,
    SandboxPolicy,
    SandboxPolicyError,
    apply_policy_block,
    permissions,
)


def test_default_network_is_none_and_spec_round_trips() -> None:
    assert SandboxSpec().network == "none"
    spec = apply_policy_block(
        SandboxSpec(workdir="/app"),
        {
            "network": {"mode": "allowlist", "allow": ["pypi.org", "*.pythonhosted.org"]},
            "paths": {"read_only": ["/app/tests/"], "hidden": ["/grader"], "read_only_root": True},
            "resources": {"cpus": 2, "memory_mb": 512, "command_timeout_s": 30},
        },
    )
    assert spec.network == "allowlist" and spec.cpus == 2 and spec.memory_mb == 512
    assert spec.policy.paths.read_only == ("/app/tests",)
    assert SandboxSpec.from_dict(spec.to_dict()) == spec
    record = permissions(spec)
    assert record["network"]["allow"] == ["pypi.org", "*.pythonhosted.org"]
    assert record["resources"]["command_timeout_s"] == 30
    assert spec.policy.paths.writable_under_ro_root("/app") == ("/app", "/tmp", "/var/tmp")
    assert spec.timeout(60) == 30 and SandboxSpec().timeout(60) == 60


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"netwrok": "none"}, "did you mean 'network'"),
        ({"network": "bridged"}, "not one of none, allowlist, open"),
        ({"network": {"mode": "open", "allow": ["a.org"]}}, "takes no allow list"),
        ({"network": {"allow": ["http://pypi.org"]}}, "no scheme"),
        ({"network": {"allow": ["pypi.org/simple"]}}, "is not a host name"),
        ({"network": {"allow": ["a.org:99999"]}}, "port must be"),
        ({"paths": {"read_only": ["tests"]}}, "absolute"),
        ({"paths": {"hidden": ["/a/../etc"]}}, "'..'"),
        ({"paths": {"read_only": ["/"]}}, "read_only_root"),
        ({"paths": {"read_only": "/x"}}, "list of strings"),
        ({"paths": {"writable": ["/x"], "hidden": ["/x"]}}, "both writable and protected"),
        ({"resources": {"memroy_mb": 1}}, "did you mean 'memory_mb'"),
        ({"resources": {"cpus": -1}}, "positive"),
    ],
)
def test_bad_policies_say_what_to_write(block: dict[str, object], message: str) -> None:
    with pytest.raises(SandboxPolicyError, match=message):
        apply_policy_block(SandboxSpec(), block)


def test_bridge_is_the_old_name_of_open() -> None:
    assert NetworkPolicy("bridge").mode == "open"  # type: ignore[arg-type]
    assert SandboxPolicy.from_dict({"network": "bridge"}).network.mode == "open"
    assert SandboxSpec.from_dict({"network": "bridge"}).network == "open"


def test_rules_parse_every_documented_form() -> None:
    assert parse_rule("pypi.org").ports == frozenset({80, 443})
    assert parse_rule("git.example.com:9418").ports == frozenset({9418})
    assert parse_rule("mirror.local:*").ports is None
    assert str(parse_rule("10.1.0.0/16").net) == "10.1.0.0/16"
    assert str(parse_rule("[::1]:8080").net) == "::1/128"
    assert parse_rule("2001:db8::/32").net is not None
    for bad in ("", "a b", "-x.org", "[::1", "x.org:0", "x.org:http"):
        with pytest.raises(RuleError):
            parse_rule(bad)


def test_allowlist_decisions() -> None:
    allow = Allowlist.of(["pypi.org", "*.pythonhosted.org", "10.0.0.0/8:5432", "127.0.0.1:8080"])
    ip = ip_literal
    assert allow.decide("pypi.org", 443, [ip("151.101.0.223")])[0]
    assert not allow.decide("pypi.org", 22, [ip("151.101.0.223")])[0]
    assert allow.decide("files.pythonhosted.org", 443, [ip("151.101.1.1")])[0]
    assert not allow.decide("pythonhosted.org", 443, [ip("151.101.1.1")])[0]  # apex not included
    assert not allow.decide("evilpythonhosted.org", 443, [ip("1.2.3.4")])[0]
    assert allow.decide("db.internal", 5432, [ip("10.2.3.4")])[0]  # resolves into a CIDR rule
    assert not allow.decide("db.internal", 5432, [ip("10.2.3.4"), ip("8.8.8.8")])[0]
    assert allow.decide("127.0.0.1", 8080, [])[0]
    assert not allow.decide("127.0.0.1", 8081, [])[0]
    ok, why = allow.decide("pypi.org", 443, [ip("127.0.0.1")])  # DNS cannot aim at the host
    assert not ok and "host-internal" in why
    assert not allow.decide("pypi.org", 443, [ip("169.254.169.254")])[0]  # metadata endpoint
    assert not allow.decide("nowhere.org", 443, [])[0]
    anything = Allowlist.of(["*:*"])
    assert anything.decide("example.com", 22, [ip("93.184.216.34")])[0]
    assert anything.decide("93.184.216.34", 8443, [])[0]
    assert not anything.decide("127.0.0.1", 22, [])[0]  # open never means the host's loopback
    assert allow.name_may_resolve("PyPI.org.") and not allow.name_may_resolve("example.com")


def _client_hello(server_name: str) -> bytes:
    """A real ClientHello from Python's TLS stack (memory BIOs, no network)."""
    ctx = ssl.create_default_context()
    out = ssl.MemoryBIO()
    tls = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return out.read()


def test_sni_of_a_real_client_hello() -> None:
    hello = _client_hello("Files.PythonHosted.org")
    assert client_hello_sni(hello) == "files.pythonhosted.org"
    assert client_hello_sni(hello[:20]) is NEED_MORE
    assert client_hello_sni(b"GET / HTTP/1.1\r\n\r\n") is None
    # the same hello split over two TLS records
    body = hello[5:]
    split = b"".join(
        b"\x16\x03\x01" + struct.pack(">H", len(part)) + part for part in (body[:40], body[40:])
    )
    assert client_hello_sni(split) == "files.pythonhosted.org"


def test_plain_http_is_rewritten_and_host_header_checked() -> None:
    lines = [
        "GET http://a.org:8080/x?y HTTP/1.1",
        "Host: a.org:8080",
        "Proxy-Connection: keep-alive",
    ]
    host, port, head = _origin_form("GET", lines[0].split()[1], lines)
    assert (host, port) == ("a.org", 8080)
    assert head.startswith(b"GET /x?y HTTP/1.1\r\n") and b"Proxy-Connection" not in head
    assert head.endswith(b"Connection: close\r\n\r\n")
    with pytest.raises(Refused, match="another host"):
        _origin_form("GET", "http://a.org/", ["GET http://a.org/ HTTP/1.1", "Host: b.org"])
    with pytest.raises(Refused, match="absolute"):
        _origin_form("GET", "/x", ["GET /x HTTP/1.1"])


def test_dns_query_and_nxdomain_answer() -> None:
    name = b"".join(bytes([len(p)]) + p for p in (b"blocked", b"example")) + b"\x00"
    query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
    qid, flags, qname, qtype, end = parse_query(query)
    assert (qid, qname, qtype, end) == (0x1234, "blocked.example", 1, len(query))
    reply = answer(query, end, qid, flags, NXDOMAIN, [], qtype)
    assert struct.unpack(">HH", reply[:4]) == (0x1234, 0x8183)
    ok = answer(query, end, qid, flags, 0, [socket.inet_aton("10.0.0.1")], qtype)
    assert ok.endswith(socket.inet_aton("10.0.0.1")) and struct.unpack(">H", ok[6:8])[0] == 1


def test_path_policy_round_trip_and_emptiness() -> None:
    assert PathPolicy().empty and not PathPolicy(read_only_root=True).empty
    p = SandboxPolicy(paths=PathPolicy(hidden=("/grader",)))
    assert SandboxPolicy.from_dict(p.to_dict()) == p
