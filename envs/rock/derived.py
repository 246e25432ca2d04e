"""Derived images: a source image plus a preparation run once, committed, reused.

An episode whose start needs expensive, deterministic work (clone and sanitize a repository,
build an environment) pays for it once per *recipe*: `ensure_derived(recipe, prepare, backend)`
starts a sandbox from `recipe.source`, runs `prepare(sandbox)` in it, and commits the result
to a local image `ale-derived/<name>:<digest>`. The digest hashes the recipe's `key`, its
source image and that image's id, so a rebuilt source gives a new derived image and the old
one becomes *stale*. Later calls find the image by tag and return at once: a reset is then a
container start.

* docker: `DockerSandbox.commit` (the source image's Cmd, Entrypoint and Env, our labels).
* local: `LocalSandbox.commit`, a root filesystem made of hard links to the source's tree
  with the sandbox's overlay changes applied (`overlay.merge_upper`).

Parallel workers and processes build each recipe once (a file lock per digest). Derived images
are a cache: `gc_derived` (`ale images gc`) removes stale ones, those unused for some days, or
all of them; never one a container still uses.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from envs.rock.api import Sandbox, SandboxSpec
from envs.rock.errors import ImageNotFound, SandboxError
from envs.rock.home import ale_home
from envs.rock.image_build import RECIPE_LABEL, rootfs_path

REPO = "ale-derived"
LABEL_SOURCE = "ale.derived.source"
LABEL_SOURCE_ID = "ale.derived.source_id"
LABEL_FACTS = "ale.derived.facts"
LABEL_ENV = "ale.derived.env"
#: Bump when the commit format changes: every derived image is rebuilt.
VERSION = 1

#: What a preparation returns: facts about the prepared image, kept in its labels.
Prepare = Callable[[Sandbox], Mapping[str, str] | None]


@dataclass(frozen=True)
class Recipe:
    """What decides a derived image. `key` must be JSON (it is hashed); `spec` is the sandbox
    the preparation runs in (its image is replaced by `source`); `env` is set in the derived
    image (docker ENV) and returned for sandbox specs (the local backend has no image ENV)."""

    source: str
    name: str
    key: Mapping[str, Any]
    spec: SandboxSpec = field(default_factory=SandboxSpec)
    env: Mapping[str, str] = field(default_factory=dict)

    def digest(self, source_id: str) -> str:
        blob = json.dumps(
            [VERSION, self.source, source_id, self.key, dict(self.env)], sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def tag(self, source_id: str) -> str:
        name = re.sub(r"[^a-z0-9._-]+", "-", self.name.lower()).strip("-._")[:100] or "image"
        return f"{REPO}/{name}:{self.digest(source_id)}"


@dataclass(frozen=True)
class Derived:
    """A derived image ready to start sandboxes from; `built` when this call made it."""

    image: str
    facts: dict[str, str]
    env: dict[str, str]
    built: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class DerivedImage:
    """One derived image on this host, as `ale images ls/gc` see it."""

    backend: str
    image: str
    labels: dict[str, str]
    last_used: float

    @property
    def stale(self) -> bool:
        """Its source image is gone or was rebuilt since."""
        return source_id(self.labels.get(LABEL_SOURCE, ""), self.backend) != self.labels.get(
            LABEL_SOURCE_ID
        )


# -- facts about images ---------------------------------------------------------------------------
def source_id(image: str, backend: str) -> str:
    """The identity of a local image: docker's image id; for the local backend the recipe stamp
    of its root filesystem. "" when the image is missing."""
    if backend == "local":
        stamp = rootfs_path(image) / ".ale-recipe"
        return f"rootfs:{stamp.read_text().strip()}" if stamp.is_file() else ""
    import docker.errors

    from envs.rock.docker_backend import client

    try:
        return str(client().images.get(image).id)
    except docker.errors.ImageNotFound:
        return ""


def _labels(image: str, backend: str) -> dict[str, str] | None:
    if backend == "local":
        try:
            return dict(json.loads(_sidecar(image).read_text()))
        except (OSError, ValueError):
            return None
    import docker.errors

    from envs.rock.docker_backend import client

    try:
        return dict(client().images.get(image).labels or {})
    except docker.errors.ImageNotFound:
        return None


def _sidecar(image: str) -> Path:
    """The labels of a local-backend derived image: beside its root filesystem."""
    root = rootfs_path(image)
    return root.with_name(root.name + ".labels.json")


def _used_stamp(digest: str) -> Path:
    return ale_home() / "derived" / "used" / digest


@contextlib.contextmanager
def _locked(digest: str) -> Iterator[None]:
    path = ale_home() / "derived" / "locks" / f"{digest}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _retag(tag: str, digest: str) -> None:
    """Tag an image of the same recipe made under another name (tasks sharing a repository and
    base commit): the same content, no second preparation. Docker only."""
    from envs.rock.docker_backend import client

    with contextlib.suppress(Exception):  # nothing to reuse: it is built
        same = client().images.list(
            filters={"label": f"{RECIPE_LABEL}={digest}", "reference": f"{REPO}/*"}
        )
        if same:
            repository, _, name = tag.rpartition(":")
            same[0].tag(repository, name)


def _found(tag: str, backend: str, digest: str, env: Mapping[str, str]) -> Derived | None:
    if backend != "local" and _labels(tag, backend) is None:
        _retag(tag, digest)
    labels = _labels(tag, backend)
    if labels is None or labels.get(RECIPE_LABEL) != digest:
        return None
    if backend == "local" and not (rootfs_path(tag) / ".ale-recipe").is_file():
        return None
    stamp = _used_stamp(digest)
    with contextlib.suppress(OSError):
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()
    return Derived(tag, json.loads(labels.get(LABEL_FACTS) or "{}"), dict(env))


# -- building ---------------------------------------------------------------------------------
def commit(sandbox: Sandbox, tag: str, labels: dict[str, str], env: Mapping[str, str]) -> None:
    """Commit `sandbox`'s filesystem as local image `tag` (docker or local backend)."""
    from envs.rock.docker_backend import DockerSandbox
    from envs.rock.local_backend import LocalSandbox

    if isinstance(sandbox, DockerSandbox | LocalSandbox):
        sandbox.commit(tag, labels, dict(env))
        return
    raise SandboxError(
        f"{type(sandbox).__name__} cannot commit an image: derived images need the docker or "
        "local backend"
    )


def ensure_derived(
    recipe: Recipe, prepare: Prepare, backend: str, log: Callable[[str], object] | None = None
) -> Derived:
    """The derived image of `recipe`: found by tag and digest, else built now (see the module
    docstring). Raises `ImageNotFound` if the source is missing, and whatever `prepare`
    raises (nothing is committed then)."""
    from envs.rock.factory import create_sandbox

    sid = source_id(recipe.source, backend)
    if not sid:
        raise ImageNotFound(f"the source image {recipe.source!r} is not on the {backend} backend")
    digest, tag = recipe.digest(sid), recipe.tag(sid)
    found = _found(tag, backend, digest, recipe.env)
    if found is not None:
        return found
    with _locked(digest):
        found = _found(tag, backend, digest, recipe.env)  # another worker built it meanwhile
        if found is not None:
            return found
        t0 = time.monotonic()
        if log is not None:
            log(f"{tag}: preparing from {recipe.source} (once per recipe)")
        spec = replace(recipe.spec, image=recipe.source, labels={**recipe.spec.labels})
        sandbox = create_sandbox(spec, backend)
        try:
            facts = {str(k): str(v) for k, v in (prepare(sandbox) or {}).items()}
            labels = {
                RECIPE_LABEL: digest,
                LABEL_SOURCE: recipe.source,
                LABEL_SOURCE_ID: sid,
                LABEL_FACTS: json.dumps(facts, sort_keys=True),
                LABEL_ENV: json.dumps(dict(recipe.env), sort_keys=True),
            }
            commit(sandbox, tag, labels, recipe.env)
        finally:
            sandbox.close()
        _used_stamp(digest).parent.mkdir(parents=True, exist_ok=True)
        _used_stamp(digest).touch()
        seconds = time.monotonic() - t0
        if log is not None:
            log(f"{tag}: committed in {seconds:.1f} s")
        return Derived(tag, facts, dict(recipe.env), built=True, seconds=seconds)


# -- listing and garbage collection -----------------------------------------------------------
def list_derived() -> list[DerivedImage]:
    """Every derived image on this host: docker images and local root filesystems."""
    out = []
    with contextlib.suppress(Exception):  # no docker engine: only local ones
        from envs.rock.docker_backend import client

        for image in client().images.list(filters={"reference": f"{REPO}/*"}):
            labels = dict(image.labels or {})
            for tag in image.tags:
                out.append(DerivedImage("docker", tag, labels, _last_used(labels)))
    rootfs = ale_home() / "rootfs"
    for sidecar in sorted(rootfs.glob(f"{REPO}_*.labels.json")) if rootfs.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            labels = dict(json.loads(sidecar.read_text()))
            image = str(labels.get("ale.derived.tag", ""))
            if image:
                out.append(DerivedImage("local", image, labels, _last_used(labels)))
    return out


def _last_used(labels: Mapping[str, str]) -> float:
    try:
        return _used_stamp(str(labels.get(RECIPE_LABEL, ""))).stat().st_mtime
    except OSError:
        return 0.0


def remove_derived(item: DerivedImage) -> bool:
    """Remove one derived image; False if a sandbox still uses it (kept for a later gc)."""
    if item.backend == "local":
        from envs.rock.gc import list_local

        if any(r.image == item.image for r in list_local()):
            return False
        root = rootfs_path(item.image)
        _sidecar(item.image).unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(root.with_name(root.name + ".partial"), ignore_errors=True)
    else:
        import docker.errors

        from envs.rock.docker_backend import client

        try:
            client().images.remove(item.image, force=False, noprune=False)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError:  # a container still uses it
            return False
    digest = item.labels.get(RECIPE_LABEL) or item.image.rpartition(":")[2]
    if re.fullmatch(r"[0-9a-f]{16}", digest):
        _used_stamp(digest).unlink(missing_ok=True)
    return True


def gc_derived(
    everything: bool = False, unused_days: float | None = None, match: str = ""
) -> list[DerivedImage]:
    """Remove stale derived images, those unused for `unused_days`, or (`everything`) all,
    among those whose name contains `match`; returns what was removed."""
    now = time.time()
    removed = []
    for item in list_derived():
        if match not in item.image:
            continue
        old = unused_days is not None and now - item.last_used > unused_days * 86400
        if (everything or old or item.stale) and remove_derived(item):
            removed.append(item)
    return removed
