"""Semantic versions and npm-style ranges. Implements the contract in ../README.md."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NUM = r"0|[1-9]\d*"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_PRE = rf"{_PRE_ID}(?:\.{_PRE_ID})*"
_BUILD = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION = re.compile(rf"^[v=]?({_NUM})\.({_NUM})\.({_NUM})(?:-({_PRE}))?(?:\+({_BUILD}))?$")
_XR = rf"(?:x|X|\*|{_NUM})"
_PARTIAL = re.compile(rf"^[v=]?({_XR})(?:\.({_XR})(?:\.({_XR})(?:-({_PRE}))?(?:\+({_BUILD}))?)?)?$")
_OP = re.compile(r"^(<=|>=|<|>|=|~|\^)?(.*)$")


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple = ()
    build: tuple = field(default=(), compare=False)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(p) for p in self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def key(self) -> tuple:
        if not self.prerelease:
            pre: tuple = (1,)
        else:
            pre = (0, *((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.prerelease))
        return (self.major, self.minor, self.patch, pre)

    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)


def _pre(text: str | None) -> tuple:
    if not text:
        return ()
    return tuple(int(p) if p.isdigit() else p for p in text.split("."))


def parse(text: str | Version) -> Version:
    if isinstance(text, Version):
        return text
    if not isinstance(text, str):
        raise ValueError(f"not a version: {text!r}")
    m = _VERSION.match(text.strip())
    if not m:
        raise ValueError(f"invalid version: {text!r}")
    major, minor, patch, pre, build = m.groups()
    return Version(int(major), int(minor), int(patch), _pre(pre),
                   tuple(build.split(".")) if build else ())


def compare(a: str | Version, b: str | Version) -> int:
    ka, kb = parse(a).key(), parse(b).key()
    return (ka > kb) - (ka < kb)


# A comparator is (op, Version, explicit) where explicit marks versions written with a
# prerelease by the user (the implicit "-0" upper bounds are not explicit).
_ZERO = (0,)


def _bound(major: int, minor: int, patch: int) -> tuple:
    return ("<", Version(major, minor, patch, _ZERO), False)


def _partial(text: str):
    m = _PARTIAL.match(text)
    if not m:
        raise ValueError(f"invalid version in range: {text!r}")
    parts = []
    for g in m.groups()[:3]:
        if g is None or g in ("x", "X", "*") or (parts and parts[-1] is None):
            parts.append(None)
        else:
            parts.append(int(g))
    pre = _pre(m.group(4)) if parts[2] is not None else ()
    return parts[0], parts[1], parts[2], pre


def _desugar(op: str, text: str) -> list[tuple]:
    M, m, p, pre = _partial(text)
    full = Version(M, m, p, pre) if p is not None else None
    explicit = bool(pre)
    if op in ("", "="):
        if M is None:
            return []
        if m is None:
            return [(">=", Version(M, 0, 0), False), _bound(M + 1, 0, 0)]
        if p is None:
            return [(">=", Version(M, m, 0), False), _bound(M, m + 1, 0)]
        return [("=", full, explicit)]
    if op == ">":
        if M is None:
            return [("<", Version(0, 0, 0, _ZERO), False)]
        if m is None:
            return [(">=", Version(M + 1, 0, 0), False)]
        if p is None:
            return [(">=", Version(M, m + 1, 0), False)]
        return [(">", full, explicit)]
    if op == ">=":
        if M is None:
            return []
        return [(">=", Version(M, m or 0, p or 0, pre), explicit)]
    if op == "<":
        if M is None:
            return [("<", Version(0, 0, 0, _ZERO), False)]
        if m is None:
            return [_bound(M, 0, 0)]
        if p is None:
            return [_bound(M, m, 0)]
        return [("<", full, explicit)]
    if op == "<=":
        if M is None:
            return []
        if m is None:
            return [_bound(M + 1, 0, 0)]
        if p is None:
            return [_bound(M, m + 1, 0)]
        return [("<=", full, explicit)]
    if op == "~":
        if M is None:
            return []
        if m is None:
            return [(">=", Version(M, 0, 0), False), _bound(M + 1, 0, 0)]
        return [(">=", Version(M, m, p or 0, pre), explicit), _bound(M, m + 1, 0)]
    if op == "^":
        if M is None:
            return []
        if m is None:
            return [(">=", Version(M, 0, 0), False), _bound(M + 1, 0, 0)]
        low = (">=", Version(M, m, p or 0, pre), explicit)
        if M > 0:
            return [low, _bound(M + 1, 0, 0)]
        if p is None or m > 0:
            return [low, _bound(0, m + 1, 0)]
        return [low, _bound(0, 0, p + 1)]
    raise ValueError(f"unknown operator {op!r}")


def _parse_set(text: str) -> list[tuple]:
    text = text.strip()
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
    if hyphen:
        lo, hi = hyphen.groups()
        comps = _desugar(">=", lo)
        M, m, p, pre = _partial(hi)
        if M is None:
            return comps
        if m is None:
            return comps + [_bound(M + 1, 0, 0)]
        if p is None:
            return comps + [_bound(M, m + 1, 0)]
        return comps + [("<=", Version(M, m, p, pre), bool(pre))]
    text = re.sub(r"(<=|>=|<|>|=|~|\^)\s+", r"\1", text)
    comps: list[tuple] = []
    for token in text.split():
        op, rest = _OP.match(token).groups()
        if not rest:
            raise ValueError(f"dangling operator in range: {token!r}")
        comps += _desugar(op or "", rest)
    return comps


def _parse_range(range_text: str) -> list[list[tuple]]:
    if not isinstance(range_text, str):
        raise ValueError(f"not a range: {range_text!r}")
    return [_parse_set(part) for part in range_text.split("||")]


def _test(op: str, v: Version, c: Version) -> bool:
    r = compare(v, c)
    return {"<": r < 0, "<=": r <= 0, ">": r > 0, ">=": r >= 0, "=": r == 0}[op]


def _set_ok(v: Version, comps: list[tuple]) -> bool:
    if not all(_test(op, v, c) for op, c, _ in comps):
        return False
    if v.prerelease:
        return any(explicit and c.core() == v.core() for _, c, explicit in comps)
    return True


def satisfies(version: str | Version, range_text: str) -> bool:
    sets = _parse_range(range_text)
    v = parse(version)
    return any(_set_ok(v, comps) for comps in sets)


def max_satisfying(versions: list[str], range_text: str) -> str | None:
    sets = _parse_range(range_text)
    best = None
    for text in versions:
        try:
            v = parse(text)
        except ValueError:
            continue
        if any(_set_ok(v, comps) for comps in sets) and (best is None or compare(v, best[0]) > 0):
            best = (v, text)
    return best[1] if best else None
