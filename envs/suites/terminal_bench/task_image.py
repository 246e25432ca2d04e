"""Task images: a task folder's Dockerfile built with `FROM` mapped to local images.

Bases. A `FROM` image is resolved, in order: the user's map (`--from IMAGE=LOCAL`,
`--from-map FILE`, `base_image_map=`: exact names, globs, `*`), the image itself when it is
on this engine, our stand-in for it (`envs.rock.standins`, built on first use), and otherwise
a `TaskError` naming the base and the `--from` flag. `{"*": ""}` in the user's map turns a
`*` off again. What was replaced is reported per task (`from_substitutions`).

Builds. The build context is staged in a temporary folder without the hidden material
(tests, solution, run-tests.sh, task.yaml), so even a `COPY . /app` cannot bake the tests
into the image. Builds reach the network unless `network=False` (the sandbox the agent then
works in stays offline); the extra CA bundle is injected into the build, not into the task's
files. `[environment] docker_image` is used as the image when it is local (or mapped).
Builds are cached by tag and context hash; for the daemon-less `local` backend the image is
exported once into a root filesystem.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from envs.core.errors import TaskError
from envs.rock import SandboxError
from envs.rock.image_build import (
    _image_recipe,
    build_task_image,
    default_ca_bundle,
    external_bases,
    map_image,
    rootfs_path,
)
from envs.rock.standins import STANDIN_MAP, build_standin, standin_for_tag
from envs.suites.terminal_bench.config import TaskConfig

#: The default `FROM` map: each published base we stand in for -> its stand-in.
DEFAULT_BASE_MAP: dict[str, str] = dict(STANDIN_MAP)
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
class ImageConfig:
    """A built image's USER, WORKDIR and ENV (None / empty when it sets none)."""

    user: str | None = None
    workdir: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def base_map(user: dict[str, str] | None) -> dict[str, str]:
    """The user's `FROM` map over the defaults; an empty value removes that key."""
    merged = {**DEFAULT_BASE_MAP, **(user or {})}
    return {k: v for k, v in merged.items() if v}


def _local(image: str) -> bool:
    try:
        return _image_recipe(image) is not None
    except Exception:  # no engine here: nothing is local
        return False


def resolve_bases(dockerfile: str, from_map: dict[str, str]) -> dict[str, str]:
    """{FROM image: image to build from} for every external base of `dockerfile`.

    The user's entries win (they were merged over the stand-ins in `base_map`), except that a
    base present on this engine is used as it is unless the user mapped it by exact name.
    """
    resolved = {}
    for base in external_bases(dockerfile):
        mapped = map_image(base, from_map)
        stand_in = mapped is not None and standin_for_tag(mapped) is not None
        if mapped is None or (stand_in and base not in from_map and _local(base)):
            mapped = base
        resolved[base] = mapped
    return resolved


def image_tag(config: TaskConfig, from_map: dict[str, str], prefix: str = "ale-tb") -> str:
    """`<prefix>/<task id>:<hash of the bases it builds from>` (lower case, Docker's grammar)."""
    name = re.sub(r"[^a-z0-9._-]+", "-", config.id.lower()).strip("-.") or "task"
    bases = resolve_bases(config.dockerfile_text, from_map)
    digest = hashlib.sha256(json.dumps(bases, sort_keys=True).encode()).hexdigest()[:10]
    return f"{prefix}/{name}:{digest}"


def substitutions(config: TaskConfig, from_map: dict[str, str]) -> dict[str, str]:
    """{original FROM image: local image} that the build will apply (for task metadata)."""
    return {k: v for k, v in resolve_bases(config.dockerfile_text, from_map).items() if k != v}


def image_config(tag: str) -> ImageConfig | None:
    """USER, WORKDIR and ENV of the local image `tag`; None if it is not there."""
    from envs.rock.docker_backend import client

    try:
        attrs = client().images.get(tag).attrs.get("Config") or {}
    except Exception:  # not built yet, or no engine here
        return None
    env = dict(e.split("=", 1) for e in attrs.get("Env") or [] if "=" in e)
    return ImageConfig(
        user=attrs.get("User") or None, workdir=attrs.get("WorkingDir") or None, env=env
    )


def _lock(tag: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(tag, threading.Lock())


def stage_context(config: TaskConfig, dest: Path) -> None:
    """Copy the build context to `dest`, leaving out the hidden names at its top level."""
    hidden = set(config.hidden)

    def ignore(folder: str, names: list[str]) -> set[str]:
        return hidden & set(names) if Path(folder) == config.context else set()

    shutil.copytree(config.context, dest, ignore=ignore, symlinks=True)


def ensure_bases(
    task_id: str, bases: dict[str, str], network: bool, ca_bundle: Path | None
) -> None:
    """Build missing stand-ins; `TaskError` for a base that is neither local nor stood in for."""
    for original, image in bases.items():
        if _local(image):
            continue
        stand_in = standin_for_tag(image)
        if stand_in is not None:
            try:
                build_standin(stand_in, network=network, ca_bundle=ca_bundle)
            except SandboxError as exc:
                raise TaskError(f"{task_id}: base {original!r}: {exc}") from exc
            continue
        via = f" (mapped to {image!r})" if image != original else ""
        raise TaskError(
            f"{task_id}: base image {original!r}{via} is not on this engine and ALE-Gym has "
            f"no stand-in for it: build or load it, or map it with --from {original}=LOCAL_IMAGE"
        )


def ensure_task_image(
    config: TaskConfig,
    tag: str,
    from_map: dict[str, str],
    backend: str,
    force: bool = False,
    network: bool = True,
    ca_bundle: Path | None = None,
) -> dict[str, str]:
    """Build (or find cached) the task image `tag`; for `local`, also its root filesystem.

    Returns the FROM substitutions made. Raises `TaskError` when the build fails.
    """
    ca = ca_bundle or default_ca_bundle()
    bases = resolve_bases(config.dockerfile_text, from_map)
    with _lock(tag), tempfile.TemporaryDirectory(prefix="ale-tb-ctx-") as tmp:
        ensure_bases(config.id, bases, network, ca)
        ctx = Path(tmp) / "ctx"
        if config.dockerfile is None:  # a prebuilt docker_image: its files go to the workdir
            ctx.mkdir()
            text = config.dockerfile_text
            if config.context.is_dir() and any(config.context.iterdir()):
                stage_context(config, ctx / "files")
                text += f"COPY files/ {config.workdir or '/'}\n"
            (ctx / "Dockerfile").write_text(text)
            dockerfile = "Dockerfile"
        else:
            stage_context(config, ctx)
            dockerfile = config.dockerfile
        try:
            build_task_image(
                ctx,
                tag,
                dockerfile=dockerfile,
                from_map={k: v for k, v in bases.items()} or {"*": ""},
                force=force,
                network=network,
                ca_bundle=ca if network else None,
                timeout_s=config.build_timeout_s,
            )
        except SandboxError as exc:
            raise TaskError(
                f"{config.id}: building its image from {config.context / (config.dockerfile or '')} "
                f"failed: {exc}"
            ) from exc
        if backend == "local":
            export_rootfs(tag)
        return {k: v for k, v in bases.items() if k != v}


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


__all__ = [
    "DEFAULT_BASE_MAP",
    "ImageConfig",
    "base_map",
    "ensure_task_image",
    "export_rootfs",
    "image_config",
    "image_tag",
    "resolve_bases",
    "substitutions",
]


def parse_from_map(pairs: list[str] | None = None, file: Path | None = None) -> dict[str, str]:
    """A FROM map from `--from-map FILE` (a YAML/JSON mapping, or `IMAGE=LOCAL` lines) and
    `--from IMAGE=LOCAL` flags (which win); `ValueError` saying what is wrong."""
    import yaml

    out: dict[str, str] = {}
    if file is not None:
        text = Path(file).read_text(encoding="utf-8")
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict):
            out.update({str(k): "" if v is None else str(v) for k, v in loaded.items()})
        else:
            pairs = [
                ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")
            ] + list(pairs or [])
    for pair in pairs or []:
        image, sep, local = pair.partition("=")
        if not sep or not image.strip():
            raise ValueError(
                f"--from {pair!r}: expected IMAGE=LOCAL_IMAGE (e.g. --from python:3.13-slim=my-py:3.13)"
            )
        out[image.strip()] = local.strip()
    return out
