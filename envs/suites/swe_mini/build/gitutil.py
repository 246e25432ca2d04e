"""Deterministic git: no user or system config, fixed identities and dates, one pack thread."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from envs.suites.swe_mini.build.model import Person

#: `-c` options for every git call: nothing from the caller's configuration changes the output.
GIT_OPTIONS: tuple[str, ...] = (
    "-c",
    "init.defaultBranch=main",
    "-c",
    "core.autocrlf=false",
    "-c",
    "core.fileMode=true",
    "-c",
    "core.quotePath=true",
    "-c",
    "commit.gpgSign=false",
    "-c",
    "tag.gpgSign=false",
    "-c",
    "color.ui=never",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
    "-c",
    "diff.renames=false",
    "-c",
    "diff.algorithm=myers",
    "-c",
    "pack.threads=1",
    "-c",
    "gc.auto=0",
    "-c",
    "advice.detachedHead=false",
)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for git: the caller's minus every GIT_* variable, config files ignored."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "LC_ALL": "C",
            "TZ": "UTC",
            "GIT_TERMINAL_PROMPT": "0",
        }
    )
    env.update(extra or {})
    return env


def git(cwd: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """Run git in `cwd` and return its stdout; `CalledProcessError` (with stderr) on failure."""
    proc = subprocess.run(
        ["git", *GIT_OPTIONS, *args],
        cwd=cwd,
        env=clean_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(
            proc.returncode, ["git", *args], proc.stdout, proc.stderr
        )
    return proc.stdout


def identity(person: Person, date: str) -> dict[str, str]:
    """Author and committer variables for one commit."""
    return {
        "GIT_AUTHOR_NAME": person.name,
        "GIT_AUTHOR_EMAIL": person.email,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": person.name,
        "GIT_COMMITTER_EMAIL": person.email,
        "GIT_COMMITTER_DATE": date,
    }
