"""Derived images: prepared once per recipe, reused, committed on both backends, gc'd."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from envs.rock import DEFAULT_IMAGE, Sandbox, SandboxSpec
from envs.rock.api import LABEL_APP, LABEL_OWNER_PID
from envs.rock.derived import (
    LABEL_SOURCE,
    Recipe,
    ensure_derived,
    gc_derived,
    list_derived,
    remove_derived,
)
from envs.rock.factory import create_sandbox
from envs.rock.image_build import RECIPE_LABEL, build_task_image, rootfs_path
from tests.conftest import REPO, backend_params


def _prepare(sandbox: Sandbox) -> dict[str, str]:
    """Adds, changes in place, deletes, and replaces a directory by a file."""
    out = sandbox.run(
        "set -e; mkdir -p /opt/made && echo made > /opt/made/a.txt; "
        "echo extra >> /etc/debian_version; rm /etc/issue; "
        "rm -rf /etc/skel && echo file > /etc/skel; cat /etc/debian_version | head -1",
        timeout=60,
    )
    assert out.ok, out.output
    return {"debian": out.output.splitlines()[0]}


@pytest.mark.parametrize("backend", backend_params())
def test_prepared_once_then_reused_and_source_untouched(backend: str) -> None:
    recipe = Recipe(
        source=DEFAULT_IMAGE, name=f"ale-test.derived-{os.getpid()}", key={"case": backend}
    )
    first = second = None
    try:
        first = ensure_derived(recipe, _prepare, backend)
        assert first.built and first.image.startswith("ale-derived/ale-test.derived-")
        second = ensure_derived(recipe, lambda sb: pytest.fail("prepared twice"), backend)
        assert (second.image, second.built, second.facts) == (first.image, False, first.facts)
        sb = create_sandbox(SandboxSpec(image=first.image), backend)
        try:
            out = sb.run(
                "cat /opt/made/a.txt; tail -1 /etc/debian_version; ls /etc/issue; cat /etc/skel"
            )
            assert out.output.splitlines() == ["made", "extra", *out.output.splitlines()[2:]]
            assert "No such file" in out.output and out.output.rstrip().endswith("file")
        finally:
            sb.close()
        base = create_sandbox(SandboxSpec(), backend)  # hard links never wrote through
        try:
            out = base.run("tail -1 /etc/debian_version; ls /etc/issue; test -d /etc/skel")
            assert out.ok and "extra" not in out.output, out.output
        finally:
            base.close()
        if backend == "local":
            assert not (rootfs_path(DEFAULT_IMAGE) / "opt/made").exists()
        else:
            from envs.rock.docker_backend import client

            labels = client().images.get(first.image).labels
            assert labels[RECIPE_LABEL] and labels[LABEL_SOURCE] == DEFAULT_IMAGE
            assert (
                labels.get(LABEL_APP) == "" and labels.get(LABEL_OWNER_PID) == ""
            )  # not a sandbox's
            other = Recipe(
                source=DEFAULT_IMAGE, name=f"ale-test.other-{os.getpid()}", key=recipe.key
            )
            shared = ensure_derived(
                other, lambda sb: pytest.fail("same recipe, other name"), backend
            )
            assert client().images.get(shared.image).id == client().images.get(first.image).id
            remove_derived(next(d for d in list_derived() if d.image == shared.image))
    finally:
        for item in list_derived():
            if first is not None and item.image == first.image:
                assert remove_derived(item)
    assert first.image not in {d.image for d in list_derived()}


@pytest.mark.docker
def test_gc_removes_stale_and_all_derived_images(tmp_path: Path) -> None:
    """A rebuilt source makes its derived image stale: `ale images gc` removes it; `--all`
    removes the rest."""
    source = f"ale-test/derived-src-{os.getpid()}"
    (tmp_path / "Dockerfile").write_text("FROM ale-base:bookworm\nRUN echo one > /v\n")
    build_task_image(tmp_path, source)
    recipe = Recipe(source=source, name=f"ale-test.gc-{os.getpid()}", key={})
    try:
        old = ensure_derived(recipe, lambda sb: None, "docker")
        assert not next(d for d in list_derived() if d.image == old.image).stale
        (tmp_path / "Dockerfile").write_text("FROM ale-base:bookworm\nRUN echo two > /v\n")
        build_task_image(tmp_path, source)
        new = ensure_derived(recipe, lambda sb: None, "docker")
        assert new.built and new.image != old.image
        assert next(d for d in list_derived() if d.image == old.image).stale
        removed = {d.image for d in gc_derived(match=recipe.name)}  # only this test's
        assert old.image in removed and new.image not in removed
        out = subprocess.run(
            [sys.executable, "-m", "bench.cli.main", "images", "ls"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        assert new.image in out.stdout and old.image not in out.stdout
        gc_all = [sys.executable, "-m", "bench.cli.main", "images", "gc", "--all"]
        gc_all += ["--match", recipe.name]  # the engine is shared: only this test's images
        out = subprocess.run(gc_all, cwd=REPO, capture_output=True, text=True, check=True)
        assert new.image in out.stdout
    finally:
        subprocess.run(["docker", "rmi", "-f", source], capture_output=True)
