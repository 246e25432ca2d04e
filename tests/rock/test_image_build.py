"""Images without a registry: FROM rewriting, cached builds, CA bundle, errors that name the fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from envs.rock import DEFAULT_IMAGE, BackendUnavailable, ImageNotFound, SandboxSpec
from envs.rock.factory import create_sandbox
from envs.rock.image_build import (
    _PEM,
    RECIPE_LABEL,
    RELEASES,
    BaseImageRecipe,
    base_tag,
    build_task_image,
    default_ca_bundle,
    release_for_python,
    rewrite_from,
)
from tests.conftest import REPO


def test_rewrite_from_maps_images_and_keeps_stages() -> None:
    text = (
        "FROM --platform=linux/amd64 python:3.13-slim AS build\nRUN make\n"
        "FROM build\nFROM scratch\nfrom ghcr.io/laude-institute/t-bench/python-3-13:20250620\n"
    )
    new, changed = rewrite_from(
        text, {"python:3.13-slim": "ale-base:bookworm", "*": "ale-base:bookworm"}
    )
    assert "FROM --platform=linux/amd64 ale-base:bookworm AS build" in new
    assert "FROM build\n" in new and "FROM scratch\n" in new
    assert "from ale-base:bookworm\n" in new
    assert changed == {
        "python:3.13-slim": "ale-base:bookworm",
        "ghcr.io/laude-institute/t-bench/python-3-13:20250620": "ale-base:bookworm",
    }


def test_recipe_digest_depends_on_ca_bundle(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pem", tmp_path / "b.pem"
    a.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    b.write_text("-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n")
    digests = {BaseImageRecipe(ca_bundle=p).digest() for p in (a, b, None)}  # type: ignore[arg-type]
    assert len(digests) == 3


@pytest.mark.docker
def test_base_image_is_cached_and_trusts_the_host_ca_bundle() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench.cli.main", "images", "build"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    assert "up to date" in out.stderr + out.stdout  # .ci/setup-machine.sh built it already
    bundle = default_ca_bundle()
    sb = create_sandbox(SandboxSpec(), "docker")
    try:
        inside = sb.read("/etc/ssl/certs/ca-certificates.crt").decode()
        if bundle is not None:
            host = set(_PEM.findall(bundle.read_text(errors="replace")))
            assert host <= set(_PEM.findall(inside))
            assert "cert = /etc/ssl/certs/ca-certificates.crt" in sb.run("cat /etc/pip.conf").output
        tools = sb.run(
            "python3 -m pytest --version && git --version && patch --version | head -1 && pip --version"
        )
        assert tools.ok, tools.output
    finally:
        sb.close()


@pytest.mark.docker
def test_task_image_builds_offline_and_is_cached(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.13-slim-bookworm\nWORKDIR /app\nCOPY data.txt /app/data.txt\n"
        "RUN python3 -c \"open('/app/built.txt','w').write('ok')\"\n"
    )
    (tmp_path / "data.txt").write_text("payload\n")
    tag = f"ale-test/task-{os.getpid()}"
    try:
        changed = build_task_image(tmp_path, tag)
        assert changed == {"python:3.13-slim-bookworm": "ale-base:bookworm"}
        from envs.rock.docker_backend import client

        label = client().images.get(tag).labels[RECIPE_LABEL]
        build_task_image(tmp_path, tag)  # cached: same label, no rebuild
        assert client().images.get(tag).labels[RECIPE_LABEL] == label
        sb = create_sandbox(SandboxSpec(image=tag, workdir="/app"), "docker")
        try:
            assert sb.run("cat built.txt data.txt").output == "okpayload\n"
        finally:
            sb.close()
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


@pytest.mark.docker
def test_missing_image_names_the_fix() -> None:
    with pytest.raises(ImageNotFound, match="ale images build"):
        create_sandbox(SandboxSpec(image="ale-does-not-exist:v0"), "docker")


def test_missing_engine_names_the_fix() -> None:
    code = (
        "from envs.rock import SandboxSpec\nfrom envs.rock.factory import create_sandbox\n"
        "create_sandbox(SandboxSpec(), 'docker')"
    )
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert out.returncode != 0 and BackendUnavailable.__name__ in out.stderr
    assert re.search(r"dockerd|setup-machine\.sh", out.stderr) and "backend='local'" in out.stderr


def test_releases_map_python_versions_to_base_tags() -> None:
    assert [base_tag(r) for r in RELEASES] == [
        "ale-base:bullseye",
        "ale-base:bookworm",
        "ale-base:trixie",
    ]
    assert base_tag() == DEFAULT_IMAGE
    assert release_for_python("3.9") == "bullseye" and release_for_python("3.13.1") == "trixie"
    assert release_for_python("3.6") is None and release_for_python("3.12") is None
    recipe = BaseImageRecipe.for_release("trixie")
    assert (recipe.tag, recipe.suite) == ("ale-base:trixie", "trixie")
    assert BaseImageRecipe.for_release("bookworm").digest() == BaseImageRecipe().digest()
    with pytest.raises(ValueError, match="bullseye, bookworm, trixie"):
        base_tag("sid")
    out = subprocess.run(
        [sys.executable, "-m", "bench.cli.main", "images", "build", "--release", "sid"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "bullseye, bookworm, trixie" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("release", ["bullseye", "trixie"])
def test_release_base_images_have_their_python(release: str) -> None:
    """`ale images build --release R` (cached after the first build) gives RELEASES[R]."""
    subprocess.run(
        [sys.executable, "-m", "bench.cli.main", "images", "build", "--release", release],
        cwd=REPO,
        capture_output=True,
        timeout=900,
        check=True,
    )
    sb = create_sandbox(SandboxSpec(image=base_tag(release)), "docker")
    try:
        out = sb.run(
            "python3 -c 'import sys; print(*sys.version_info[:2], sep=\".\")'; "
            "python3 -m venv /tmp/v && /tmp/v/bin/pip --version && git --version"
        )
        assert out.ok, out.output
        assert out.output.splitlines()[0] == RELEASES[release]
    finally:
        sb.close()
