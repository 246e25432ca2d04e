"""Images without a registry: base images from Debian via debootstrap, task images on top.

One base image per Debian release, `ale-base:<release>` (`RELEASES`: bullseye with Python 3.9,
bookworm with 3.11, trixie with 3.13; `ale-base:bookworm` is the default sandbox image).
`build_base()` is idempotent and cached by tag: the image carries a label with the hash of its
recipe (suite, packages, extra CA bundle), and a build whose hash matches does nothing. The
root filesystem stays on disk under `ale_home()/rootfs/` for the daemon-less `local` backend.

Extra CA bundle (corporate proxies, this machine's registry mirror): the PEM file named by
`ca_bundle` (default: `$ALE_EXTRA_CA_BUNDLE`, else the host's `$PIP_CERT` / `$SSL_CERT_FILE`)
is installed into the image's trust store and pip's config, so `pip` inside a sandbox with
network access trusts what the host trusts.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.rock.api import DEFAULT_IMAGE
from envs.rock.errors import BackendUnavailable, ImageNotFound, SandboxError
from envs.rock.home import ale_home

BASE_PACKAGES = (
    "python3",
    "python3-pip",
    "python3-venv",
    "python3-pytest",
    "git",
    "patch",
    "procps",
    "ca-certificates",
    "curl",
    "xz-utils",
    "less",
    "bzip2",
    "file",
)
RECIPE_LABEL = "ale.recipe"
#: Debian release -> the `python3` version it ships (`major.minor`); one base image each.
RELEASES: dict[str, str] = {"bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}
DEFAULT_RELEASE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
IMAGE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_FROM = re.compile(r"^(\s*FROM\s+(?:--platform=\S+\s+)?)(\S+)(.*)$", re.IGNORECASE | re.MULTILINE)


def rootfs_path(image: str = DEFAULT_IMAGE) -> Path:
    """The root filesystem directory that backs `image` for the local backend."""
    return ale_home() / "rootfs" / re.sub(r"[^A-Za-z0-9_.-]", "_", image)


def base_tag(release: str = DEFAULT_RELEASE) -> str:
    """The base image of a Debian release: `ale-base:<release>`."""
    if release not in RELEASES:
        raise ValueError(f"unknown Debian release {release!r}; choose one of {', '.join(RELEASES)}")
    return f"ale-base:{release}"


def release_for_python(version: str) -> str | None:
    """The Debian release whose python3 is `version` ("3.11", "3.11.4"), or None."""
    wanted = ".".join(str(version).strip().split(".")[:2])
    return next((r for r, v in RELEASES.items() if v == wanted), None)


def default_ca_bundle() -> Path | None:
    for var in ("ALE_EXTRA_CA_BUNDLE", "PIP_CERT", "SSL_CERT_FILE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return None


@dataclass(frozen=True)
class BaseImageRecipe:
    """Everything that decides the base image's content; its hash is the cache key."""

    tag: str = DEFAULT_IMAGE
    suite: str = "bookworm"
    mirror: str = field(default_factory=lambda: os.environ.get("ALE_DEBIAN_MIRROR", DEFAULT_MIRROR))
    packages: tuple[str, ...] = BASE_PACKAGES
    ca_bundle: Path | None = field(default_factory=default_ca_bundle)

    @classmethod
    def for_release(cls, release: str, **kwargs: object) -> BaseImageRecipe:
        """The recipe of `ale-base:<release>` (other fields as given, else defaults)."""
        return cls(tag=base_tag(release), suite=release, **kwargs)  # type: ignore[arg-type]

    def digest(self) -> str:
        ca = hashlib.sha256(self.ca_bundle.read_bytes()).hexdigest() if self.ca_bundle else ""
        blob = json.dumps([self.suite, sorted(self.packages), ca, IMAGE_ENV])
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _run(argv: list[str], what: str, **kwargs: object) -> None:
    try:
        subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload]
    except FileNotFoundError as exc:
        raise BackendUnavailable(
            f"{what}: `{argv[0]}` is not installed. On Debian: "
            "`apt-get install -y debootstrap docker.io bubblewrap` (or run `bash .ci/setup-machine.sh`)."
        ) from exc
    except subprocess.CalledProcessError as exc:
        raise SandboxError(
            f"{what} failed (exit {exc.returncode}): {' '.join(argv[:6])} ..."
        ) from exc


def _image_recipe(tag: str) -> str | None:
    """The recipe label of a local image, or None if the engine lacks it."""
    import docker.errors

    from envs.rock.docker_backend import client

    try:
        return str(client().images.get(tag).labels.get(RECIPE_LABEL, ""))
    except docker.errors.ImageNotFound:
        return None


def build_rootfs(recipe: BaseImageRecipe, force: bool = False, log: object = print) -> Path:
    """debootstrap the recipe into `rootfs_path(tag)`; cached by the recipe digest."""
    target = rootfs_path(recipe.tag)
    stamp = target / ".ale-recipe"
    if not force and stamp.is_file() and stamp.read_text() == recipe.digest():
        return target
    if os.geteuid() != 0:
        raise SandboxError("building a root filesystem needs root (debootstrap chroots)")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    cache = ale_home() / "debootstrap-cache" / recipe.suite
    cache.mkdir(parents=True, exist_ok=True)
    log(f"debootstrap {recipe.suite} -> {staging} (about a minute)")  # type: ignore[operator]
    _run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(recipe.packages)}",
            f"--cache-dir={cache}",
            recipe.suite,
            str(staging),
            recipe.mirror,
        ],
        "debootstrap",
        stdout=subprocess.DEVNULL,
    )
    _configure_rootfs(staging, recipe)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    stamp.write_text(recipe.digest())
    return target


def _configure_rootfs(root: Path, recipe: BaseImageRecipe) -> None:
    """Trust the extra CA bundle, point pip at it, drop apt caches."""
    if recipe.ca_bundle:
        dest = root / "usr/local/share/ca-certificates/ale-extra"
        dest.mkdir(parents=True, exist_ok=True)
        pems = _PEM.findall(recipe.ca_bundle.read_text(errors="replace"))
        if not pems:
            raise SandboxError(f"no PEM certificate in the CA bundle {recipe.ca_bundle}")
        known = set(_PEM.findall((root / "etc/ssl/certs/ca-certificates.crt").read_text()))
        extra = [pem for pem in pems if pem not in known]
        for i, pem in enumerate(extra):  # update-ca-certificates wants one certificate a file
            (dest / f"ale-extra-{i:04d}.crt").write_text(pem + "\n")
        if extra:
            _run(
                ["chroot", str(root), "update-ca-certificates"],
                "update-ca-certificates",
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        (root / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    for lists in (root / "var/lib/apt/lists").glob("*_Packages"):
        lists.unlink()


def build_base(
    recipe: BaseImageRecipe | None = None,
    force: bool = False,
    docker_image: bool = True,
    log: object = print,
) -> str:
    """Build (or find cached) the base image; returns its tag.

    With `docker_image=False` only the root filesystem for the local backend is built.
    """
    recipe = recipe or BaseImageRecipe()
    if docker_image and not force and _image_recipe(recipe.tag) == recipe.digest():
        log(f"{recipe.tag}: up to date (recipe {recipe.digest()})")  # type: ignore[operator]
        return recipe.tag
    root = build_rootfs(recipe, force=force, log=log)
    if docker_image:
        changes = [f"ENV {k}={v}" for k, v in IMAGE_ENV.items()]
        changes += [f"LABEL {RECIPE_LABEL}={recipe.digest()}", 'CMD ["/bin/bash"]']
        argv = ["docker", "import", *[x for c in changes for x in ("--change", c)], "-", recipe.tag]
        tar = subprocess.Popen(
            ["tar", "-C", str(root), "--exclude=./.ale-recipe", "-c", "."], stdout=subprocess.PIPE
        )
        _run(argv, "docker import", stdin=tar.stdout, stdout=subprocess.DEVNULL)
        tar.wait()
        log(f"{recipe.tag}: built (recipe {recipe.digest()})")  # type: ignore[operator]
    return recipe.tag


def map_image(image: str, from_map: dict[str, str]) -> str | None:
    """`image` through `from_map`: an exact name, else the longest matching glob
    (`python:3.13*`), else `*`; None when nothing matches."""
    if image in from_map:
        return from_map[image]
    globs = sorted((k for k in from_map if k != "*" and any(c in k for c in "*?[")), key=len)
    for pattern in reversed(globs):
        if fnmatch.fnmatchcase(image, pattern):
            return from_map[pattern]
    return from_map.get("*")


def rewrite_from(
    dockerfile: str, from_map: dict[str, str], default: str | None = None
) -> tuple[str, dict[str, str]]:
    """Rewrite `FROM` images through `from_map` (exact name, glob, or `*` for any).

    Returns the new text and {original: replacement} of what changed, for task metadata.
    Stage names (`FROM x AS build` then `FROM build`) are left alone.
    """
    stages: set[str] = set()
    changed: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        image, rest = m.group(2), m.group(3)
        alias = re.search(r"\s+AS\s+(\S+)", rest, re.IGNORECASE)
        if image in stages or image.lower() == "scratch":
            new = image
        else:
            new = map_image(image, from_map) or default or image
        if alias:
            stages.add(alias.group(1))
        if new != image:
            changed[image] = new
        return f"{m.group(1)}{new}{rest}"

    return _FROM.sub(sub, dockerfile), changed


def external_bases(dockerfile: str) -> list[str]:
    """The images a Dockerfile's FROM lines pull in (not stage names, not scratch)."""
    stages: set[str] = set()
    bases: list[str] = []
    for m in _FROM.finditer(dockerfile):
        image, alias = m.group(2), re.search(r"\s+AS\s+(\S+)", m.group(3), re.IGNORECASE)
        if image not in stages and image.lower() != "scratch" and image not in bases:
            bases.append(image)
        if alias:
            stages.add(alias.group(1))
    return bases


#: Where an injected CA bundle and apt's config for it live in a build (not in the task's files).
BUILD_CA_PATH = "/usr/local/share/ale-build/ca-bundle.pem"
BUILD_APT_CONF = "/usr/local/share/ale-build/apt.conf"
#: Variables each build stage gets as `ARG`s (so `RUN` sees them; the image's ENV does not).
BUILD_CA_VARS = (
    "SSL_CERT_FILE",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
    "UV_NATIVE_TLS",
)
_SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def build_ca_bundle(ca_bundle: Path) -> str:
    """The PEM text to trust in builds: this host's system store plus `ca_bundle`, deduplicated
    (a bundle named by SSL_CERT_FILE replaces the default store, so it must be complete)."""
    pems: list[str] = []
    for source in [*(Path(p) for p in _SYSTEM_BUNDLES), ca_bundle]:
        if source.is_file():
            pems += [p for p in _PEM.findall(source.read_text(errors="replace")) if p not in pems]
    if not _PEM.search(ca_bundle.read_text(errors="replace")):
        raise SandboxError(f"no PEM certificate in the CA bundle {ca_bundle}")
    return "\n".join(pems) + "\n"


def inject_build_ca(dockerfile: str, context: Path, ca_bundle: Path) -> str:
    """Make every stage's `RUN` trust `ca_bundle` (pip, curl, requests, apt over https).

    The bundle is written into the staged build context (a copy: the task's folder is never
    touched) and copied in right after each `FROM`; the variables that point clients at it are
    build `ARG`s, so they do not stay in the image's environment.
    """
    folder = context / ".ale-build"
    folder.mkdir(exist_ok=True)
    (folder / "ca-bundle.pem").write_text(build_ca_bundle(ca_bundle))
    (folder / "apt.conf").write_text(f'Acquire::https::CAInfo "{BUILD_CA_PATH}";\n')
    args = " ".join(
        f"{v}={BUILD_CA_PATH}" if v != "UV_NATIVE_TLS" else f"{v}=1" for v in BUILD_CA_VARS
    )
    inject = (
        f"COPY .ale-build/ {os.path.dirname(BUILD_CA_PATH)}/\n"
        f"ARG {args} APT_CONFIG={BUILD_APT_CONF}\n"
    )

    def add(m: re.Match[str]) -> str:
        if m.group(2).lower() == "scratch":
            return m.group(0)
        return m.group(0) + "\n" + inject.rstrip("\n")

    return _FROM.sub(add, dockerfile)


def build_task_image(
    context: Path,
    tag: str,
    dockerfile: str = "Dockerfile",
    from_map: dict[str, str] | None = None,
    force: bool = False,
    network: bool = False,
    ca_bundle: Path | None = None,
    build_args: dict[str, str] | None = None,
    timeout_s: float | None = None,
) -> dict[str, str]:
    """Build a task's Dockerfile, FROM lines mapped to local images (never pulled).

    Offline (`--network none`) unless `network`; with `network` and a `ca_bundle`, the bundle
    is injected into the build (`inject_build_ca`) so `apt-get` / `pip` behind a TLS-inspecting
    proxy work. Cached by tag plus a hash of the build context, the Dockerfile as built and
    these options. Returns the FROM substitutions made.
    """
    import docker.errors

    from envs.rock.docker_backend import client

    text, changed = rewrite_from(
        (context / dockerfile).read_text(), from_map or {"*": DEFAULT_IMAGE}
    )
    bases = external_bases(text)
    if network and ca_bundle is not None:
        text = inject_build_ca(text, context, ca_bundle)
    digest = hashlib.sha256(text.encode())
    digest.update(json.dumps([network, sorted((build_args or {}).items())]).encode())
    for f in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(context)).encode() + f.read_bytes())
    key = digest.hexdigest()[:16]
    if not force and _image_recipe(tag) == key:
        return changed
    for base in bases:  # a missing base would make the engine try a registry
        if _image_recipe(base) is None:
            raise ImageNotFound(
                f"{base!r} (FROM of {context}) is not on this engine: run "
                "`ale images build`, or map it to a local image in from_map"
            )
    with tempfile.NamedTemporaryFile(
        "w", dir=context, prefix=".ale-Dockerfile-", delete=False
    ) as tmp:
        tmp.write(text)
    try:
        api = client() if timeout_s is None else _client_with_timeout(timeout_s)
        api.images.build(
            path=str(context),
            dockerfile=os.path.basename(tmp.name),
            tag=tag,
            network_mode=None if network else "none",
            buildargs=dict(build_args or {}),
            labels={RECIPE_LABEL: key},
            rm=True,
            forcerm=True,
            pull=False,
        )
    except docker.errors.BuildError as exc:
        log = "".join(str(x.get("stream", x.get("error", ""))) for x in exc.build_log)[-3000:]
        hint = (
            ""
            if network
            else " (built without network: a step that downloads needs --build-network)"
        )
        raise SandboxError(f"building {tag} from {context} failed{hint}:\n{log}") from exc
    except Exception as exc:  # the engine's read timeout: the build ran past timeout_s
        if "timed out" not in str(exc).lower():
            raise
        raise SandboxError(
            f"building {tag} from {context} took longer than {timeout_s:g} s "
            "([environment] build_timeout_sec)"
        ) from exc
    finally:
        os.unlink(tmp.name)
    return changed


def _client_with_timeout(timeout_s: float) -> Any:
    import docker

    return docker.from_env(timeout=int(max(timeout_s, 1)))
