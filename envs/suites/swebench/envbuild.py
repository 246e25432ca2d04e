"""Environment builds: an instance image made from its repo spec when none is found or pulled.

Two builders, tried in this order:

1. **swebench's harness** (`swebench.image_builder.build_instance_image`), where it can run:
   a swebench 5 task repo (`tasks/<instance_id>/Dockerfile`) is given and `docker buildx`
   exists. Its Dockerfiles need network (conda, pip, apt); they get the CA bundle
   (`envs.rock.image_build.inject_build_ca`) so they build behind a TLS-intercepting proxy too.
2. **Our offline builder** (`build_env_image`), on the Debian base of the spec's Python
   (`envs.rock.image_build.RELEASES`: 3.9 bullseye, 3.11 bookworm, 3.13 trixie): a venv at
   `/opt/miniconda3/envs/testbed` (the path official eval scripts activate; a `conda activate`
   shim at `/opt/miniconda3/bin/activate`), the repository from its git bundle at `base_commit`
   with its real history, then the spec's `pre_install`, requirements (`packages:
   requirements.txt`, read from the repository at `environment_setup_commit`), `pip_packages`
   and `install`, with network and the base image's CA bundle. The result is a derived image
   (`envs.rock.derived`), built once per recipe; its `PATH` starts with the venv.

A spec that installs nothing (`needs_build` false, e.g. swe-mini's) needs no build: the
instance runs in the Debian base as it is. A Python no Debian release ships, or a conda
`environment.yml`, is refused with one line naming the two ways out.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from envs.core.errors import TaskError
from envs.rock import SandboxSpec
from envs.rock.derived import Recipe, ensure_derived
from envs.rock.image_build import (
    DEFAULT_RELEASE,
    IMAGE_ENV,
    RELEASES,
    base_tag,
    default_ca_bundle,
    inject_build_ca,
    release_for_python,
)
from envs.rock.policy import NetworkPolicy, SandboxPolicy
from envs.suites.swebench.testbed import WORKDIR, bash, check

VENV = "/opt/miniconda3/envs/testbed"
#: What official eval scripts source; defines `conda activate NAME` for the venv.
CONDA_SHIM = """# ALE-Gym: a venv stands where conda's testbed env would be
conda() {
  if [ "${1:-}" = activate ]; then . "/opt/miniconda3/envs/${2:-testbed}/bin/activate"; fi
}
"""
ENV_PATH = f"{VENV}/bin:{IMAGE_ENV['PATH']}"
#: Requirements files tried when a spec says `packages: requirements.txt` without `reqs_path`.
REQS_PATHS = (
    "requirements.txt",
    "requirements-dev.txt",
    "requirements_test.txt",
    "requirements/dev.txt",
)
#: Spec keys that install something: any of them makes `needs_build` true.
INSTALL_KEYS = ("pre_install", "packages", "pip_packages", "install")
BUILD_SCRIPT_VERSION = 1


def built_env() -> dict[str, str]:
    """What sandboxes of an image from `build_env_image` need set (its venv first on PATH)."""
    return {"PATH": ENV_PATH, "VIRTUAL_ENV": VENV}


def needs_build(spec: Mapping[str, Any] | None) -> bool:
    """Whether the spec installs anything (else the Debian base runs the instance as it is)."""
    return bool(spec) and any(spec.get(k) for k in INSTALL_KEYS)  # type: ignore[union-attr]


def base_for(instance: Mapping[str, Any], spec: Mapping[str, Any] | None) -> str:
    """The Debian base image for the spec's `python` (default: bookworm's 3.11); `TaskError`
    with the ways out when no release ships that version or the spec needs conda."""
    iid = instance["instance_id"]
    packages = str((spec or {}).get("packages") or "")
    if packages.endswith((".yml", ".yaml")):
        raise TaskError(
            f"{iid}: its spec installs a conda {packages}, which the offline builder cannot: "
            "pull the official image (--pull) or name a local image (the `image` column)"
        )
    version = str((spec or {}).get("python") or RELEASES[DEFAULT_RELEASE])
    release = release_for_python(version)
    if release is None:
        offered = ", ".join(f"{v} ({r})" for r, v in RELEASES.items())
        raise TaskError(
            f"{iid}: Python {version} cannot be built offline (Debian bases give {offered}): "
            "pull the official image (--pull) or name a local image (the `image` column)"
        )
    return base_tag(release)


def _lines(value: Any) -> list[str]:
    if not value:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def build_script(instance: Mapping[str, Any], spec: Mapping[str, Any], bundle: str) -> str:
    """The offline builder's steps (see the module docstring), as one bash script."""
    base, setup = (
        instance["base_commit"],
        instance.get("environment_setup_commit") or instance["base_commit"],
    )
    lines = [
        "set -euxo pipefail",
        f"python3 -m venv {VENV}",
        "mkdir -p /opt/miniconda3/bin",
        f"cat > /opt/miniconda3/bin/activate <<'ALE_EOF'\n{CONDA_SHIM}ALE_EOF",
        f". {VENV}/bin/activate",
        f"git clone -q {bundle} {WORKDIR} && rm -f {bundle}",
        f"cd {WORKDIR} && git -c advice.detachedHead=false checkout -q -f {base}",
        *[f"(cd / && {cmd})" for cmd in _lines(spec.get("pre_install"))],
    ]
    packages = str(spec.get("packages") or "")
    if packages == "requirements.txt":
        paths = _lines(spec.get("reqs_path")) or list(REQS_PATHS)
        lines += [
            f"git worktree add -q --detach /tmp/ale-reqs {setup}",
            "found=''",
            *[
                f'[ -n "$found" ] || {{ [ -f /tmp/ale-reqs/{p} ] && found=/tmp/ale-reqs/{p}; }} || true'
                for p in paths
            ],
            '[ -n "$found" ] || { echo "no requirements file among: '
            + " ".join(paths)
            + '" >&2; exit 5; }',
            r"find /tmp/ale-reqs -name '*.txt' -exec sed -i -E '/^\s*(-e\s+)?\.\s*$/d' {} +",
            'python -m pip install -r "$found"',
            "cd / && git -C " + WORKDIR + " worktree remove --force /tmp/ale-reqs && cd " + WORKDIR,
        ]
    elif packages:
        lines.append(f"python -m pip install {packages}")
    pips = _lines(spec.get("pip_packages"))
    if pips:
        lines.append("python -m pip install " + " ".join(shlex.quote(p) for p in pips))
    if spec.get("install"):
        lines.append(f"cd {WORKDIR} && {spec['install']}")
    return "\n".join(lines) + "\n"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_env_image(
    instance: Mapping[str, Any],
    spec: Mapping[str, Any],
    bundle: Path,
    backend: str,
    timeout_s: float = 1800.0,
    log: Callable[[str], object] | None = None,
) -> str:
    """The instance's environment image from our offline builder (cached); returns its tag.
    `TaskError` with the build's output tail when a step fails."""
    iid = str(instance["instance_id"])
    remote = "/tmp/ale-repo.bundle"
    script = build_script(instance, spec, remote)
    recipe = Recipe(
        source=base_for(instance, spec),
        name=f"env.{iid}",
        key={"v": BUILD_SCRIPT_VERSION, "script": script, "bundle": _sha256(bundle)},
        spec=SandboxSpec(
            policy=SandboxPolicy(network=NetworkPolicy(mode="open")),
            memory_mb=4096,
            cpus=2.0,
            workdir="/",
            ttl_s=2 * timeout_s,
        ),
        env=built_env(),
    )

    def build(sandbox: Any) -> dict[str, str]:
        sandbox.upload(bundle, remote)
        check(
            bash(sandbox, script, timeout_s, session="ale-build"),
            f"{iid}: building its environment",
        )
        return {"python": str(spec.get("python") or "")}

    return ensure_derived(recipe, build, backend, log=log).image


# -- swebench's own harness ---------------------------------------------------------------------
def swebench_build_unavailable(task_repo: Path | None, instance_id: str) -> str | None:
    """Why swebench's harness cannot build this instance here, or None when it can."""
    if task_repo is None:
        return "no swebench task repo given (--task-repo DIR)"
    if not (task_repo / "tasks" / instance_id / "Dockerfile").is_file():
        return f"{task_repo} has no tasks/{instance_id}/Dockerfile"
    probe = subprocess.run(["docker", "buildx", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        return "`docker buildx` is missing (swebench's builder needs it)"
    return None


def build_with_swebench(instance: Mapping[str, Any], task_repo: Path) -> str:
    """Build the instance image with swebench's harness (network, our CA bundle); returns the
    image name (`sweb.eval.x86_64.<id>:latest`)."""
    from swebench.image_builder import BuildImageError, ImageSpec, build_instance_image

    from envs.rock.docker_backend import client

    iid = str(instance["instance_id"])
    task_dir = task_repo / "tasks" / iid
    bundle = default_ca_bundle()
    with tempfile.TemporaryDirectory(prefix="ale-swebuild-") as tmp:
        context = Path(tmp) / "ctx"
        shutil.copytree(task_dir, context, symlinks=True)
        dockerfile = (task_dir / "Dockerfile").read_text()
        if bundle is not None:
            dockerfile = inject_build_ca(dockerfile, context, bundle)
        spec = ImageSpec(
            instance_id=iid, dockerfile=dockerfile, namespace=None, context_dir=str(context)
        )
        try:
            build_instance_image(spec, client(), None, nocache=False)
        except BuildImageError as exc:
            raise TaskError(f"{iid}: swebench's image build failed: {exc}") from exc
        return spec.name
