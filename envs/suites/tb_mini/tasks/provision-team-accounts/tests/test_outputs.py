"""Checks for provision-team-accounts: accounts, groups, homes, keys and project dirs."""

import csv
import grp
import hashlib
import json
import os
import pwd
import stat
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ONB = Path("/app/onboarding")
PEOPLE = {
    "alice": (1101, "Alice Schmidt", {"developers", "ops"}, "/bin/bash", "active"),
    "bob": (1102, "Bob Tanaka", {"developers"}, "/bin/bash", "active"),
    "carol": (1103, "Carol Díaz", {"data", "developers"}, "/bin/sh", "active"),
    "dave": (1104, "Dave Okafor", {"ops"}, "/bin/bash", "disabled"),
    "erin": (1105, "Erin Walsh", {"data"}, "/bin/bash", "active"),
    "deploy": (1107, "Deploy Bot", {"deployers", "ops"}, "/bin/bash", "active"),
}
PROJECTS = {"developers": (2001, "alice"), "ops": (2002, "alice"), "data": (2003, "erin"),
            "deployers": (2004, "deploy")}


def _shadow():
    out = {}
    for line in Path("/etc/shadow").read_text().splitlines():
        fields = line.split(":")
        out[fields[0]] = fields
    return out


def _supplementary(user):
    return {g.gr_name for g in grp.getgrall() if user in g.gr_mem}


def test_onboarding_untouched():
    expected = json.loads((HERE / "onboarding_sha256.json").read_text())
    for rel, digest in expected.items():
        assert hashlib.sha256((ONB / rel).read_bytes()).hexdigest() == digest, rel
    with open(ONB / "team.csv", encoding="utf-8") as f:
        assert {r["username"] for r in csv.DictReader(f)} == set(PEOPLE) | {"mallory"}


@pytest.mark.parametrize("group", sorted(PROJECTS))
def test_project_groups(group):
    assert grp.getgrnam(group).gr_gid == PROJECTS[group][0]


@pytest.mark.parametrize("user", sorted(PEOPLE))
def test_account(user):
    """UID, private group, GECOS, shell, home, exact supplementary groups."""
    uid, name, groups, shell, status = PEOPLE[user]
    pw = pwd.getpwnam(user)
    assert pw.pw_uid == uid
    private = grp.getgrgid(pw.pw_gid)
    assert private.gr_name == user and private.gr_gid == uid
    assert pw.pw_gecos.split(",")[0] == name
    assert pw.pw_dir == f"/home/{user}"
    assert pw.pw_shell == ("/usr/sbin/nologin" if status == "disabled" else shell)
    assert _supplementary(user) == groups
    st = os.stat(pw.pw_dir)
    assert stat.S_ISDIR(st.st_mode)
    assert (st.st_uid, st.st_gid) == (uid, uid)
    assert stat.S_IMODE(st.st_mode) == 0o750


def test_disabled_user_locked_and_expired():
    """dave: locked password and an account expiry date in the past."""
    import time

    fields = _shadow()["dave"]
    assert fields[1].startswith("!"), fields[1]
    assert fields[7] != "" and int(fields[7]) <= int(time.time() // 86400), fields[7]
    for user in PEOPLE:
        if PEOPLE[user][4] == "active":
            assert _shadow()[user][7] == "", f"{user} must not expire"


@pytest.mark.parametrize("user", sorted(PEOPLE))
def test_ssh_keys(user):
    uid = PEOPLE[user][0]
    ssh = Path(f"/home/{user}/.ssh")
    keys = ssh / "authorized_keys"
    if PEOPLE[user][4] == "disabled":
        assert not keys.exists()
        return
    assert keys.is_file()
    assert keys.read_text().strip() == (ONB / "keys" / f"{user}.pub").read_text().strip()
    for path, mode in ((ssh, 0o700), (keys, 0o600)):
        st = os.stat(path)
        assert st.st_uid == uid, path
        assert stat.S_IMODE(st.st_mode) == mode, (path, oct(st.st_mode))


def test_removed_user_gone():
    with pytest.raises(KeyError):
        pwd.getpwnam("mallory")
    with pytest.raises(KeyError):
        grp.getgrnam("mallory")
    assert "mallory" not in _shadow()
    assert not Path("/home/mallory").exists()
    assert all("mallory" not in g.gr_mem for g in grp.getgrall())


@pytest.mark.parametrize("group", sorted(PROJECTS))
def test_project_dirs(group):
    gid, owner = PROJECTS[group]
    st = os.stat(f"/srv/projects/{group}")
    assert stat.S_ISDIR(st.st_mode)
    assert st.st_uid == pwd.getpwnam(owner).pw_uid
    assert st.st_gid == gid
    assert stat.S_IMODE(st.st_mode) == 0o2770, oct(st.st_mode)


def test_no_orphaned_files():
    """Leftover files are handed over: nothing under /srv/projects or /home is orphaned."""
    uids = {p.pw_uid for p in pwd.getpwall()}
    gids = {g.gr_gid for g in grp.getgrall()}
    for top in ("/srv/projects", "/home"):
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                st = os.lstat(os.path.join(root, name))
                assert st.st_uid in uids and st.st_gid in gids, os.path.join(root, name)
    data_files = [Path("/srv/projects/data/q3.csv"), Path("/srv/projects/data/models/churn.bin")]
    for path in data_files:
        assert path.is_file(), f"{path} must be kept"
        assert path.stat().st_uid == 1105, path


def test_no_stray_privileges():
    """deploy is no longer in wheel; no unexpected members in project groups."""
    assert "deploy" not in grp.getgrnam("wheel").gr_mem
    for group in PROJECTS:
        members = set(grp.getgrnam(group).gr_mem)
        expected = {u for u, p in PEOPLE.items() if group in p[2]}
        assert members == expected, (group, members)
