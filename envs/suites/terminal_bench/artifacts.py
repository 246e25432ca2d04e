"""Harbor's steps around the agent phase: the environment healthcheck and the artifacts.

* `healthcheck`: `[environment.healthcheck]` run before the agent starts, with Docker's
  HEALTHCHECK semantics as Harbor applies them (failures during `start_period_sec` do not
  count; `retries` consecutive failures after it make the task a task error).
* `collect_artifacts`: after the agent phase and before the tests, `[[verifier.collect]]`
  hooks run, then each `artifacts` entry (a file or a folder, `exclude` patterns) is copied
  out: to its `destination`, else to its source path without the leading `/` (Harbor's
  layout). Best effort like Harbor's: a missing source is noted, not an error. Everything
  read out is capped at `MAX_ARTIFACT_BYTES` in all.
"""

from __future__ import annotations

import io
import shlex
import tarfile
import time
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from envs.core.errors import TaskError
from envs.rock import Sandbox, SandboxFileError
from envs.suites.terminal_bench.harbor_spec import Healthcheck
from envs.suites.terminal_bench.sessions import SETUP_SESSION

if TYPE_CHECKING:
    from envs.suites.terminal_bench.task import FolderTask

MAX_ARTIFACT_BYTES = 64 << 20
_ARCHIVE = "/tmp/.ale-artifacts.tar"


def healthcheck(task_id: str, check: Healthcheck, sandbox: Sandbox, session: str) -> None:
    """Run `check.command` until it exits 0; `TaskError` after `retries` failures past the
    start period (Harbor's HealthcheckError)."""
    start_end = time.monotonic() + check.start_period_sec
    failures = 0
    while True:
        in_start = time.monotonic() < start_end
        r = sandbox.run(check.command, timeout=check.timeout_sec, session=session)
        if r.ok:
            return
        if in_start:
            time.sleep(check.start_interval_sec)
            continue
        failures += 1
        if failures >= check.retries:
            raise TaskError(
                f"{task_id}: [environment.healthcheck] failed {failures} times in a row: "
                f"{check.command!r} exited {r.exit_code}: {r.output[-300:]}"
            )
        time.sleep(check.interval_sec)


def _destination(source: str, destination: str | None) -> str:
    return destination or str(PurePosixPath(source.lstrip("/")))


def collect_artifacts(
    task: FolderTask, sandbox: Sandbox
) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """({relative path: bytes}, a manifest entry per artifact) after the collect hooks ran."""
    from envs.suites.terminal_bench import services

    config = task.config
    for hook in config.collect:
        if hook.service != "main":
            services.exec_in(task, sandbox, hook.service, hook.command, hook.timeout_sec)
            continue
        user = shlex.quote(str(hook.user)) if hook.user is not None else None
        command = f"su -s /bin/sh {user} -c {shlex.quote(hook.command)}" if user else hook.command
        sandbox.run(command, timeout=hook.timeout_sec, session=SETUP_SESSION)
    files: dict[str, bytes] = {}
    manifest: list[dict[str, Any]] = []
    budget = MAX_ARTIFACT_BYTES
    for art in config.artifacts:
        dest = _destination(art.source, art.destination)
        entry: dict[str, Any] = {"source": art.source, "destination": dest}
        if art.service not in (None, "main"):
            entry["status"] = "skipped: sidecar artifacts are not collected"
            manifest.append(entry)
            continue
        source = art.source if art.source.startswith("/") else f"{task.workdir}/{art.source}"
        excludes = " ".join(f"--exclude={shlex.quote(x)}" for x in art.exclude)
        parent, name = str(PurePosixPath(source).parent), PurePosixPath(source).name
        r = sandbox.run(
            f"[ -e {shlex.quote(source)} ] || {{ echo missing; exit 3; }}; "
            f"tar -cf {_ARCHIVE} {excludes} -C {shlex.quote(parent)} {shlex.quote(name)} "
            f"&& stat -c %s {_ARCHIVE}",
            timeout=120,
            session=SETUP_SESSION,
        )
        size = int(r.output.split()[-1]) if r.ok and r.output.split()[-1].isdigit() else -1
        if not r.ok or size < 0:
            entry["status"] = "missing" if r.exit_code == 3 else f"failed: {r.output[-200:]}"
        elif size > budget:
            entry["status"] = f"skipped: {size} bytes is over the {MAX_ARTIFACT_BYTES} cap"
        else:
            try:
                blob = sandbox.read(_ARCHIVE)
            except SandboxFileError as exc:
                entry["status"] = f"failed: {exc}"
            else:
                budget -= len(blob)
                got = _untar(blob, name, dest)
                files.update(got)
                entry.update(status="collected", files=len(got), bytes=sum(map(len, got.values())))
        manifest.append(entry)
    sandbox.run(f"rm -f {_ARCHIVE}", timeout=30, session=SETUP_SESSION)
    return files, manifest


def _untar(blob: bytes, name: str, dest: str) -> dict[str, bytes]:
    """The regular files of a tar of `name`, re-rooted at `dest` (no absolute or `..` paths)."""
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(blob)) as tf:
        for member in tf:
            if not member.isfile():
                continue
            rel = PurePosixPath(member.name).relative_to(name) if member.name != name else None
            path = PurePosixPath(dest) / rel if rel is not None else PurePosixPath(dest)
            if path.is_absolute() or ".." in path.parts:
                continue
            data = tf.extractfile(member)
            if data is not None:
                out[str(path)] = data.read()
    return out
