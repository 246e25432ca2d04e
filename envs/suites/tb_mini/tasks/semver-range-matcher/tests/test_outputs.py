"""Checks for semver-range-matcher: versions, precedence, ranges, prereleases, CLI."""

import subprocess
import sys

import pytest

sys.path.insert(0, "/app/semverlib")

from semverlib import Version, compare, max_satisfying, parse, satisfies  # noqa: E402

INCLUDE = [
    ("1.0.0 - 2.0.0", "1.2.3"), ("^1.2.3+build", "1.2.3"), ("^1.2.3+build", "1.3.0"),
    ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3"), ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3-pre.2"),
    ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha"), ("1.2.3+asdf - 2.4.3+asdf", "1.2.3"),
    ("1.0.0", "1.0.0"), ("=1.0.0", "1.0.0+build.7"), (">=*", "0.2.4"), ("", "1.0.0"),
    ("*", "1.2.3"), (">=1.0.0", "1.0.0"), (">=1.0.0", "1.0.1"), (">1.0.0", "1.1.0"),
    ("<=2.0.0", "2.0.0"), ("<=2.0.0", "1.9999.9999"), ("<2.0.0", "0.2.9"),
    (">= 1.0.0", "1.0.0"), (">=  1.0.0", "1.0.1"), ("> 1.0.0", "1.0.1"), ("<\t2.0.0", "0.2.9"),
    (">=0.1.97", "v0.1.97"), ("0.1.20 || 1.2.4", "1.2.4"), (">=0.2.3 || <0.0.1", "0.0.0"),
    (">=0.2.3 || <0.0.1", "0.2.4"), ("||", "1.3.4"), ("2.x.x", "2.1.3"), ("1.2.x", "1.2.3"),
    ("1.2.x || 2.x", "2.1.3"), ("x", "1.2.3"), ("2.*.*", "2.1.3"), ("1.2.* || 2.*", "1.2.3"),
    ("2", "2.1.2"), ("2.3", "2.3.1"), ("~0.0.1", "0.0.2"), ("~x", "0.0.9"), ("~2", "2.0.9"),
    ("~2.4", "2.4.5"), ("~1", "1.2.3"), ("~1.0", "1.0.2"), ("~ 1.0", "1.0.2"),
    ("~ 1.0.3", "1.0.12"), (">=1", "1.0.0"), ("<1.2", "1.1.1"), ("< 1.2", "1.1.1"),
    ("~v0.5.4-pre", "0.5.5"), ("~v0.5.4-pre", "0.5.4"), ("=0.7.x", "0.7.2"), ("<=0.7.x", "0.7.2"),
    (">=0.7.x", "0.7.2"), ("<=0.7.x", "0.6.2"), ("~1.2.1 >=1.2.3", "1.2.3"),
    ("~1.2.1 =1.2.3", "1.2.3"), ("~1.2.1 1.2.3", "1.2.3"), (">=1.2.1 1.2.3", "1.2.3"),
    (">=1.2", "1.2.8"), ("^1.2.3", "1.8.1"), ("^0.1.2", "0.1.2"), ("^0.1", "0.1.2"),
    ("^0.0.1", "0.0.1"), ("^1.2", "1.4.2"), ("^1.2 ^1", "1.4.2"), ("^1.2.3-alpha", "1.2.3-pre"),
    ("^1.2.0-alpha", "1.2.0-pre"), ("^0.0.1-alpha", "0.0.1-beta"), ("^0.0.1-alpha", "0.0.1"),
    ("^0.1.1-alpha", "0.1.1-beta"), ("^x", "1.2.3"), ("x - 1.0.0", "0.9.7"),
    ("x - 1.x", "0.9.7"), ("1.0.0 - x", "1.9.7"), ("1.x - x", "1.9.7"), ("<=7.x", "7.9.9"),
    (">1.2.3-alpha.3", "1.2.3-alpha.7"), ("1.2.3 - 2.3", "2.3.9"), ("1.2.3 - 2", "2.9.9"),
    ("^0.0.x", "0.0.9"), ("^0.x", "0.9.0"), (">1.2", "1.3.0"), ("<=1.2", "1.2.99"),
    ("~1.2.3-beta.2", "1.2.3-beta.4"), ("~1.2.3-beta.2", "1.2.9"),
]
EXCLUDE = [
    ("1.0.0 - 2.0.0", "2.2.3"), ("1.2.3+asdf - 2.4.3+asdf", "1.2.3-pre.2"),
    ("1.2.3+asdf - 2.4.3+asdf", "2.4.3-alpha"), ("^1.2.3+build", "2.0.0"),
    ("^1.2.3+build", "1.2.0"), ("^1.2.3", "1.2.3-pre"), ("^1.2", "1.2.0-pre"),
    (">1.2", "1.3.0-beta"), ("<=1.2.3", "1.2.3-beta"), ("^1.2.3", "1.2.3-beta"),
    ("=0.7.x", "0.7.0-asdf"), (">=0.7.x", "0.7.0-asdf"), ("<=0.7.x", "0.7.0-asdf"),
    ("1.0.0", "1.0.1"), (">=1.0.0", "0.0.0"), (">=1.0.0", "0.1.0"), (">1.0.0", "0.0.1"),
    ("<=2.0.0", "3.0.0"), ("<=2.0.0", "2.9999.9999"), ("<2.0.0", "2.9999.9999"),
    ("<2.0.0", "2.2.9"), (">=0.1.97", "0.1.93"), ("0.1.20 || 1.2.4", "1.2.3"),
    (">=0.2.3 || <0.0.1", "0.0.3"), (">=0.2.3 || <0.0.1", "0.2.2"), ("2.x.x", "1.1.3"),
    ("2.x.x", "3.1.3"), ("1.2.x", "1.3.3"), ("1.2.x || 2.x", "3.1.3"), ("1.2.x || 2.x", "1.1.3"),
    ("2.*.*", "1.1.3"), ("1.2.*", "1.3.3"), ("2", "1.1.2"), ("2.3", "2.4.1"),
    ("~0.0.1", "0.1.0-alpha"), ("~0.0.1", "0.1.0"), ("~2.4", "2.5.0"), ("~2.4", "2.3.9"),
    ("~1", "0.2.3"), ("~1.0", "1.1.0"), ("<1", "1.0.0"), (">=1.2", "1.1.1"),
    ("~v0.5.4-beta", "0.5.4-alpha"), ("=0.7.x", "0.8.2"), (">=0.7.x", "0.6.2"),
    ("<0.7.x", "0.7.2"), ("<1.2.3", "1.2.3-beta"), ("=1.2.3", "1.2.3-beta"), (">1.2", "1.2.8"),
    ("^0.0.1", "0.0.2-alpha"), ("^0.0.1", "0.0.2"), ("^1.2.3", "2.0.0-alpha"),
    ("^1.2.3", "1.2.2"), ("^1.2", "1.1.9"), ("*", "1.2.3-foo"), ("^1.2.3", "2.0.0-pre"),
    (">1.2.3-alpha.3", "3.4.5-alpha.9"), ("^1.2.0", "1.2.3-alpha.7"), ("1.2.3 - 2.3", "2.4.0"),
    ("1.2.3 - 2.3", "2.4.0-alpha"), ("1.2.3 - 2", "3.0.0"), ("^0.0.x", "0.1.0"),
    ("^0.x", "1.0.0"), ("<=1.2", "1.3.0"), ("<1.2", "1.2.0-rc.1"), ("~1.2.3-beta.2", "1.2.3-beta.1"),
    ("~1.2.3-beta.2", "1.2.4-beta.3"), (">1", "1.9.9"), (">1", "2.0.0-rc.1"),
]


@pytest.mark.parametrize(("rng", "version"), INCLUDE)
def test_include(rng, version):
    assert satisfies(version, rng) is True


@pytest.mark.parametrize(("rng", "version"), EXCLUDE)
def test_exclude(rng, version):
    assert satisfies(version, rng) is False


ORDER = ["0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
         "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0",
         "2.0.0-0", "2.0.0-0.a", "2.0.0-1", "2.0.0-a", "2.0.0"]


def test_precedence_total_order():
    for i, a in enumerate(ORDER):
        for j, b in enumerate(ORDER):
            assert compare(a, b) == (i > j) - (i < j), (a, b)


def test_build_metadata_ignored_for_precedence():
    assert compare("1.0.0+a", "1.0.0+b") == 0
    assert compare("1.0.0-rc.1+x", "1.0.0-rc.1") == 0


def test_parse_fields_and_str():
    v = parse(" v1.2.3-rc.1.x-y+build.5 ")
    assert (v.major, v.minor, v.patch) == (1, 2, 3)
    assert v.prerelease == ("rc", 1, "x-y")
    assert v.build == ("build", "5")
    assert str(v) == "1.2.3-rc.1.x-y+build.5"
    assert str(parse("=0.0.0")) == "0.0.0"
    assert isinstance(v, Version)


@pytest.mark.parametrize("bad", ["1.2", "1", "01.2.3", "1.02.3", "1.2.3-01", "1.2.3-", "1.2.3+",
                                 "1.2.3.4", "a.b.c", "", "1.2.3-alpha..1", "1.2.3 beta", "vv1.2.3"])
def test_invalid_versions(bad):
    with pytest.raises(ValueError):
        parse(bad)


@pytest.mark.parametrize("bad", [">=", "1.2.3.4", ">>1.2.3", "^", "~1.2.3.4", "blerg",
                                 "1.2.3 -", "=> 1.2.3", ">=01.2.3", "1.2.3 || ~"])
def test_invalid_ranges(bad):
    with pytest.raises(ValueError):
        satisfies("1.2.3", bad)
    with pytest.raises(ValueError):
        max_satisfying(["1.2.3"], bad)


def test_max_satisfying():
    versions = ["1.2.3", "v1.2.4", "1.3.0-beta.1", "1.9.9", "2.0.0", "not-a-version", "1.2.4+b1"]
    assert max_satisfying(versions, "~1.2.0") == "v1.2.4"
    assert max_satisfying(versions, "^1.2.3") == "1.9.9"
    assert max_satisfying(versions, ">=1.3.0-alpha <1.4") == "1.3.0-beta.1"
    assert max_satisfying(versions, ">=3") is None
    assert max_satisfying(versions, "1.2.3 - 2") == "2.0.0"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "semverlib", *args], capture_output=True,
                          text=True, timeout=30, cwd="/app/semverlib")


def test_cli():
    proc = cli("^1.2.3", "1.2.3", "1.9.0", "2.0.0")
    assert (proc.returncode, proc.stdout.strip()) == (0, "1.9.0")
    proc = cli(">=5", "1.2.3", "4.0.0")
    assert (proc.returncode, proc.stdout.strip()) == (1, "")
    proc = cli(">>1", "1.2.3")
    assert proc.returncode == 2 and proc.stderr.strip()
