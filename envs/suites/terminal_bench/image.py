"""Task images: a task folder's Dockerfile built offline, `FROM` mapped to local images.

The build context is staged in a temporary folder without the hidden material (tests,
solution, run-tests.sh, task.yaml), so even a `COPY . /app` cannot bake the tests into the
image. Builds are cached by `envs.rock.images.build_task_image` (tag + context hash). For the
daemon-less `local` backend the built image is exported once into its root filesystem.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from envs.core.errors import TaskError
from envs.rock import DEFAULT_IMAGE, SandboxError
from envs.rock.images import build_task_image, rewrite_from, rootfs_path
from envs.suites.terminal_bench.config import TaskConfig

#: Default `FROM` map: every external base becomes the ALE base image (python3 + pytest).
DEFAULT_BASE_MAP: dict[str, str] = {"*": DEFAULT_IMAGE}
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def base_map(user: dict[str, str] | None) -> dict[str, str]:
    """The user's `FROM` map over the default (`*` -> ale-base); `{"*": ""}` turns the wildcard off."""
    merged = {**DEFAULT_BASE_MAP, **(user or {})}
    return {k: v for k, v in merged.items() if v}


def image_tag(config: TaskConfig, from_map: dict[str, str], prefix: str = "ale-tb") -> str:
    """`<prefix>/<task id>:<hash of the FROM map>` (lower case, Docker's tag grammar)."""
    name = re.sub(r"[^a-z0-9._-]+", "-", config.id.lower()).strip("-.") or "task"
    digest = hashlib.sha256(json.dumps(from_map, sort_keys=True).encode()).hexdigest()[:10]
    return f"{prefix}/{name}:{digest}"


def substitutions(config: TaskConfig, from_map: dict[str, str]) -> dict[str, str]:
    """{original FROM image: local image} that the build will apply (for task metadata)."""
    return rewrite_from(config.dockerfile_text, from_map)[1]


def _lock(tag: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(tag, threading.Lock())


def _stage(config: TaskConfig, dest: Path) -> None:
    """Copy the build context to `dest`, leaving out the hidden names at its top level."""
    hidden = set(config.hidden)

    def ignore(folder: str, names: list[str]) -> set[str]:
        return hidden & set(names) if Path(folder) == config.context else set()

    shutil.copytree(config.context, dest, ignore=ignore, symlinks=True)


def ensure_task_image(
    config: TaskConfig, tag: str, from_map: dict[str, str], backend: str, force: bool = False
) -> dict[str, str]:
    """Build (or find cached) the task image `tag`; for `local`, also its root filesystem.

    Returns the FROM substitutions made. Raises `TaskError` when the build fails.
    """
    with _lock(tag), tempfile.TemporaryDirectory(prefix="ale-tb-ctx-") as tmp:
        ctx = Path(tmp) / "ctx"
        _stage(config, ctx)
        try:
            # an empty map must stay empty (build_task_image reads {} as "use the default")
            changed = build_task_image(
                ctx,
                tag,
                dockerfile=config.dockerfile,
                from_map=dict(from_map) or {"*": ""},
                force=force,
            )
        except SandboxError as exc:
            raise TaskError(
                f"{config.id}: building its image from {config.context / config.dockerfile} "
                f"failed: {exc}"
            ) from exc
        if backend == "local":
            export_rootfs(tag)
        return changed


def export_rootfs(tag: str) -> Path:
    """Unpack image `tag` into `rootfs_path(tag)` for the local backend (cached by image id)."""
    target = rootfs_path(tag)
    stamp = target / ".ale-recipe"
    try:
        image_id = subprocess.run(
            ["docker", "image", "inspect", "-f", "{{.Id}}", tag],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise TaskError(
            f"the local backend runs task {tag!r} from a root filesystem exported from "
            "its Docker image, and Docker is not usable here: build the image where a "
            "Docker engine runs, or use backend='docker'"
        ) from exc
    if stamp.is_file() and stamp.read_text() == image_id:
        return target
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    cid = subprocess.run(
        ["docker", "create", tag, "true"], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()
    try:
        export = subprocess.Popen(["docker", "export", cid], stdout=subprocess.PIPE)
        subprocess.run(
            ["tar", "-x", "-C", str(staging)], stdin=export.stdout, check=True, timeout=600
        )
        export.wait(timeout=60)
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True, timeout=60)
    (staging / ".ale-recipe").write_text(image_id)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
