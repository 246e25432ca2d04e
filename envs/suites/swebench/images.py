"""Which image an instance runs in: the official SWE-bench image when the engine has it, else
the base image plus the repo from its git bundle.

Official names come from swebench itself (`swebench.image_builder.image_spec.ImageSpec.name`):
`swebench/sweb.eval.x86_64.<id with "__" -> "_1776_">:latest` as published on Docker Hub, and
`sweb.eval.x86_64.<id>:latest` as `swebench` builds them locally. Nothing is pulled or built here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swebench.image_builder.image_spec import ImageSpec

from envs.core.errors import TaskError
from envs.rock import DEFAULT_IMAGE

OFFICIAL_NAMESPACE = "swebench"
#: PATH inside official images, whose Python lives in the `testbed` conda env.
CONDA_PATH = (
    "/opt/miniconda3/envs/testbed/bin:/opt/miniconda3/bin:"
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)


def official_image_names(
    instance: Mapping[str, Any], namespace: str = OFFICIAL_NAMESPACE
) -> list[str]:
    """Candidate official image names, most specific first (the dataset's own `image` column,
    the published name, the published name without namespace, the locally built name)."""
    iid = instance["instance_id"]
    published = ImageSpec(instance_id=iid, dockerfile="-", namespace=namespace).name
    local = ImageSpec(instance_id=iid, dockerfile="-", namespace=None).name
    names = [str(instance["image"])] if instance.get("image") else []
    names += [published, published.split("/", 1)[1], local]
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


def local_base_ready(backend: str) -> bool:
    """Whether the base image exists for `backend` (docker image, or the local rootfs)."""
    if backend == "local":
        from envs.rock.images import rootfs_path

        return (rootfs_path(DEFAULT_IMAGE) / ".ale-recipe").is_file()
    return docker_has_image(DEFAULT_IMAGE)


@dataclass(frozen=True)
class ImageChoice:
    """Where an instance runs: `official` (repo already at /testbed) or the base + `bundle`."""

    image: str
    official: bool
    bundle: Path | None = None


def resolve_image(
    instance: Mapping[str, Any],
    repos_dir: Path | None,
    backend: str,
    namespace: str = OFFICIAL_NAMESPACE,
) -> ImageChoice:
    """The official image if the docker engine has one, else the base image and the bundle."""
    if backend != "local":
        for name in official_image_names(instance, namespace):
            if docker_has_image(name):
                return ImageChoice(image=name, official=True)
    bundle = find_bundle(instance, repos_dir)
    if bundle is not None:
        return ImageChoice(image=DEFAULT_IMAGE, official=False, bundle=bundle)
    names = official_image_names(instance, namespace)
    raise TaskError(
        f"no image for {instance['instance_id']}: the {backend} backend has none of "
        f"{', '.join(names)} and no git bundle of {instance['repo']} is in {repos_dir}. "
        f"Pull or build the official image (`docker pull {names[0]}` where there is network, "
        "or swebench's image builder), or pass repos_dir=<folder with <repo>.bundle>."
    )
