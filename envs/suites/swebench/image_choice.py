"""Which image an instance runs in. Tried in this order; `ImageChoice.how` reports the outcome:

1. `local`: the docker engine has it under an official name (`official_image_names`: the
   dataset's `image` column, the published `swebench/sweb.eval.x86_64.<id, "__" written
   "_1776_">:latest`, the same under `namespace` (a registry of your own) or none, and
   swebench's local build name `sweb.eval.x86_64.<id>:latest`);
2. `pulled`: only with `pull=True` (`--pull`), pulled from its registry: opt-in, never implicit;
3. `built`: by `envbuild` from the repo spec and the repo's git bundle (swebench's harness where
   it can run, else our offline builder on the Debian base of the spec's Python);
   `base`: a spec that installs nothing runs in the Debian base image as it is, the repository
   cloned from its bundle when /testbed is prepared (swe-mini).
Anything else is a `TaskError` that names the ways out. The chosen image is the *source* of
the task image: /testbed is prepared (sanitized) once on top of it (`task.SWEBenchTask`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from swebench.image_builder.image_spec import ImageSpec

from envs.core.errors import TaskError
from envs.rock.errors import SandboxError

OFFICIAL_NAMESPACE = "swebench"
#: PATH inside official images, whose Python lives in the `testbed` conda env.
CONDA_PATH = (
    "/opt/miniconda3/envs/testbed/bin:/opt/miniconda3/bin:"
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)
How = Literal["local", "pulled", "built", "base", "to-pull", "to-build"]


def official_image_names(
    instance: Mapping[str, Any], namespace: str = OFFICIAL_NAMESPACE
) -> list[str]:
    """Official image names, most specific first: the dataset's `image` column, the published
    name under `namespace`, under `swebench`, without namespace, and swebench's local name."""
    iid = instance["instance_id"]
    names = [str(instance["image"])] if instance.get("image") else []
    for ns in (namespace, OFFICIAL_NAMESPACE):
        names.append(ImageSpec(instance_id=iid, dockerfile="-", namespace=ns).name)
    published = names[-1]
    names += [
        published.split("/", 1)[1],
        ImageSpec(instance_id=iid, dockerfile="-", namespace=None).name,
    ]
    return list(dict.fromkeys(names))


def pull_candidates(instance: Mapping[str, Any], namespace: str = OFFICIAL_NAMESPACE) -> list[str]:
    """Names a pull may try: the `image` column, then the published name under `namespace`."""
    names = [str(instance["image"])] if instance.get("image") else []
    names.append(
        ImageSpec(instance_id=instance["instance_id"], dockerfile="-", namespace=namespace).name
    )
    return list(dict.fromkeys(names))


def find_bundle(instance: Mapping[str, Any], repos_dir: Path | None) -> Path | None:
    """`<repos_dir>/<name>.bundle`, name: `owner__repo`, `repo`, or the instance id."""
    if repos_dir is None:
        return None
    repo = str(instance["repo"])
    for name in (repo.replace("/", "__"), repo.rsplit("/", 1)[-1], str(instance["instance_id"])):
        path = Path(repos_dir) / f"{name}.bundle"
        if path.is_file():
            return path
    return None


def docker_has_image(name: str) -> bool:
    """True when the local Docker engine has `name` (False when no engine answers)."""
    try:
        import docker.errors

        from envs.rock.docker_backend import client

        client().images.get(name)
        return True
    except (docker.errors.ImageNotFound, docker.errors.NullResource):
        return False
    except Exception:  # no engine, API error: nothing to use from there
        return False


def image_ready(image: str, backend: str) -> bool:
    """Whether `backend` can start `image` (docker image, or the local root filesystem)."""
    if backend == "local":
        from envs.rock.image_build import rootfs_path

        return (rootfs_path(image) / ".ale-recipe").is_file()
    return docker_has_image(image)


def _split(name: str) -> tuple[str, str]:
    """(repository, tag) of an image name; a registry port is not a tag."""
    repo, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        return name, "latest"
    return repo, tag


def pull_image(name: str, progress: Callable[[Mapping[str, Any]], object] | None = None) -> str:
    """`docker pull name`; returns its repo digest (`repo@sha256:...`). `progress` gets the
    engine's status events. Raises `SandboxError` with the engine's reason."""
    import docker.errors

    from envs.rock.docker_backend import client

    repo, tag = _split(name)
    try:
        for event in client().api.pull(repo, tag=tag, stream=True, decode=True):
            if "error" in event:
                raise SandboxError(f"pulling {name}: {event['error']}")
            if progress is not None:
                progress(event)
        digests = client().images.get(name).attrs.get("RepoDigests") or []
    except docker.errors.APIError as exc:
        raise SandboxError(f"pulling {name}: {exc.explanation or exc}") from exc
    return next((d for d in digests if d.startswith(repo + "@")), digests[0] if digests else "")


@dataclass(frozen=True)
class ImageChoice:
    """The source image of an instance and how it was found (`how`, see the module docstring;
    `to-pull` / `to-build` before `ensure_source` ran). `bundle`: the repo's git bundle (cloned
    into /testbed for `base`, by the build for `to-build`); `digest`: the repo digest of a
    pulled image; `builder`: who builds a `to-build`; `env`: what the image's sandboxes need
    set (a built image's venv on PATH: the local backend has no image ENV)."""

    image: str
    how: How
    bundle: Path | None = None
    digest: str = ""
    builder: Literal["swebench", "ale", ""] = ""
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def has_repo(self) -> bool:
        """Whether /testbed already holds the repository (everything but `base`)."""
        return self.how != "base"


def no_image_message(
    instance: Mapping[str, Any], backend: str, repos_dir: Path | None, namespace: str
) -> str:
    names = official_image_names(instance, namespace)
    return (
        f"no image for {instance['instance_id']}: the {backend} backend has none of "
        f"{', '.join(names)} and no git bundle of {instance['repo']} is in {repos_dir} "
        f"(--repos DIR). Pull the official image (--pull, or `ale images pull`), load one "
        "under one of those names, or pass --repos DIR with <owner>__<repo>.bundle."
    )


def local_official_image(
    instance: Mapping[str, Any], namespace: str = OFFICIAL_NAMESPACE
) -> str | None:
    """The first official name the docker engine has (`official_image_names`), or None."""
    return next((n for n in official_image_names(instance, namespace) if docker_has_image(n)), None)


def plan_image(
    instance: Mapping[str, Any],
    spec: Mapping[str, Any] | None,
    repos_dir: Path | None,
    backend: str,
    namespace: str = OFFICIAL_NAMESPACE,
    pull: bool = False,
    task_repo: Path | None = None,
) -> ImageChoice:
    """The choice without side effects (`to-pull` / `to-build` name what `ensure_source` will
    do); `TaskError` when no step of the order can give an image."""
    from envs.suites.swebench import envbuild

    if backend != "local":
        name = local_official_image(instance, namespace)
        if name is not None:
            return ImageChoice(image=name, how="local")
        if pull:
            return ImageChoice(image=pull_candidates(instance, namespace)[0], how="to-pull")
    if (
        backend != "local"
        and envbuild.swebench_build_unavailable(task_repo, instance["instance_id"]) is None
    ):
        local = ImageSpec(instance_id=instance["instance_id"], dockerfile="-", namespace=None).name
        return ImageChoice(image=local, how="to-build", builder="swebench")
    bundle = find_bundle(instance, repos_dir)
    if bundle is None:
        raise TaskError(no_image_message(instance, backend, repos_dir, namespace))
    base = envbuild.base_for(instance, spec)  # TaskError for a Python we cannot provide
    if envbuild.needs_build(spec):
        return ImageChoice(image=base, how="to-build", bundle=bundle, builder="ale")
    return ImageChoice(image=base, how="base", bundle=bundle)


def ensure_source(
    choice: ImageChoice,
    instance: Mapping[str, Any],
    spec: Mapping[str, Any] | None,
    backend: str,
    namespace: str = OFFICIAL_NAMESPACE,
    task_repo: Path | None = None,
    log: Callable[[str], object] | None = None,
) -> ImageChoice:
    """Pull or build what `choice` plans; a `local` / `base` choice comes back as it is (the base
    image must exist: `ale images build --release R`)."""
    from envs.suites.swebench import envbuild

    if choice.how == "to-pull":
        errors = []
        for name in pull_candidates(instance, namespace):
            try:
                digest = pull_image(name)
            except SandboxError as exc:
                errors.append(str(exc))
                continue
            return ImageChoice(image=name, how="pulled", digest=digest)
        raise TaskError(
            f"{instance['instance_id']}: --pull found no image: {'; '.join(errors)[:600]}"
        )
    if choice.builder == "swebench":
        assert task_repo is not None
        return ImageChoice(image=envbuild.build_with_swebench(instance, task_repo), how="built")
    if choice.how in ("base", "to-build") and not image_ready(choice.image, backend):
        release = choice.image.split(":", 1)[1]
        local = " --local" if backend == "local" else ""
        raise TaskError(
            f"{instance['instance_id']} runs on the base image {choice.image!r}, which the "
            f"{backend} backend lacks: build it with `ale images build --release {release}{local}`"
        )
    if choice.how == "to-build":
        assert choice.bundle is not None
        image = envbuild.build_env_image(instance, spec or {}, choice.bundle, backend, log=log)
        return ImageChoice(image=image, how="built", env=envbuild.built_env())
    return choice


def describe(choice: ImageChoice) -> str:
    """One line for logs: where the image came from."""
    words = {
        "local": "found locally",
        "pulled": f"pulled ({choice.digest})" if choice.digest else "pulled",
        "built": "built from the spec",
        "base": f"Debian base + {choice.bundle.name if choice.bundle else 'bundle'}",
        "to-pull": "to be pulled",
        "to-build": "to be built",
    }
    return f"{choice.image} ({words[choice.how]})"
