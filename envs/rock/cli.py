"""`ale images ...` and `ale sandbox ...`: build images, start and inspect sandboxes."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from envs.rock.api import (
    DEFAULT_IMAGE,
    DETACHED_PID,
    LABEL_EXPIRES_AT,
    LABEL_OWNER_PID,
    SandboxSpec,
)
from envs.rock.errors import SandboxError

images_app = typer.Typer(
    help="Build sandbox images locally (no registry needed).", no_args_is_help=True
)
sandbox_app = typer.Typer(help="Start, use and clean up sandboxes.", no_args_is_help=True)
console = Console(stderr=True)


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2)


@images_app.command("build")
def images_build(
    task: Annotated[
        Path | None, typer.Option(help="Also build this task folder's Dockerfile.")
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(help="Also tag the --task image so (default: ale-tb/<task>:<hash>)."),
    ] = None,
    release: Annotated[
        list[str] | None,
        typer.Option(
            "--release",
            help="Debian release(s) to build ale-base:<release> for: bullseye (Python 3.9), "
            "bookworm (3.11, the default), trixie (3.13), or all. Repeatable.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the cached recipe matches.")] = False,
    local: Annotated[
        bool, typer.Option(help="Only the root filesystem for the local backend.")
    ] = False,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(
            help="Extra PEM CA bundle trusted in the image (default: $ALE_EXTRA_CA_BUNDLE, $PIP_CERT or $SSL_CERT_FILE)."
        ),
    ] = None,
    base: Annotated[
        list[str] | None,
        typer.Option(
            "--base",
            help="Also build the offline stand-in for a published base image (python:3.13-slim, "
            "python:3.11-slim, ubuntu:24.04, debian:bookworm, ...). Repeatable.",
        ),
    ] = None,
    from_: Annotated[
        list[str] | None,
        typer.Option("--from", help="For --task: map a FROM image, IMAGE=LOCAL (repeatable)."),
    ] = None,
    from_map: Annotated[
        Path | None,
        typer.Option(help="For --task: a FROM map file (YAML mapping or IMAGE=LOCAL lines)."),
    ] = None,
    build_network: Annotated[
        bool,
        typer.Option(
            help="Let --task / --base builds reach package indexes (apt-get, pip); the CA "
            "bundle is injected into the build."
        ),
    ] = True,
) -> None:
    """Build base images from Debian (debootstrap + docker import); idempotent."""
    from envs.rock.image_build import (
        DEFAULT_RELEASE,
        RELEASES,
        BaseImageRecipe,
        build_base,
    )

    releases = [r for value in release or [DEFAULT_RELEASE] for r in value.split(",") if r]
    releases = list(RELEASES) if "all" in releases else list(dict.fromkeys(releases))
    unknown = [r for r in releases if r not in RELEASES]
    if unknown:
        _fail(SandboxError(f"--release {unknown[0]!r}: choose bullseye, bookworm, trixie (or all)"))
    from envs.core.errors import EnvError
    from envs.rock.standins import build_standin, find_standin

    try:
        if not base or release:
            for name in releases:
                extra = {"ca_bundle": ca_bundle} if ca_bundle else {}
                recipe = BaseImageRecipe.for_release(name, **extra)
                build_base(recipe, force=force, docker_image=not local, log=console.print)
        for published in base or []:
            standin = find_standin(published)
            built = build_standin(
                standin,
                network=build_network,
                ca_bundle=ca_bundle,
                build_base_too=True,
                log=console.print,
            )
            console.print(f"{published}: stand-in {built} ({standin.note or standin.from_image})")
        if task is not None:
            _build_task(task, tag, from_, from_map, build_network, ca_bundle, force)
    except (SandboxError, EnvError, ValueError) as exc:
        _fail(exc)


def _build_task(
    folder: Path,
    tag: str | None,
    pairs: list[str] | None,
    map_file: Path | None,
    network: bool,
    ca_bundle: Path | None,
    force: bool,
) -> None:
    """Build one task folder's image as the suites do (tests and solution left out)."""
    from envs.suites.terminal_bench import TaskFolderSuite
    from envs.suites.terminal_bench.task_image import ensure_task_image, parse_from_map

    suite = TaskFolderSuite(
        folder,
        base_image_map=parse_from_map(pairs, map_file),
        build_network=network,
        ca_bundle=ca_bundle,
    )
    for task_id in suite.task_ids():
        task = suite.load(task_id)
        for warning in task.config.warnings:
            console.print(f"[yellow]warning:[/yellow] {task_id}: {warning}")
        changed = ensure_task_image(
            task.config,
            task.image,
            task.from_map,
            "docker",
            force=force,
            network=network,
            ca_bundle=ca_bundle,
        )
        if tag:
            from envs.rock.docker_backend import client

            repo, _, version = tag.partition(":")
            client().images.get(task.image).tag(repo, version or "latest")
        console.print(f"{tag or task.image}: built (FROM rewritten: {changed or 'none'})")


@images_app.command("ls")
def images_ls() -> None:
    """List derived images (task images prepared once, see `envs.rock.derived`)."""
    from envs.rock.derived import LABEL_SOURCE, list_derived

    now = time.time()
    rows = [
        (
            d.backend,
            d.image,
            d.labels.get(LABEL_SOURCE, "?"),
            "yes" if d.stale else "",
            f"{(now - d.last_used) / 86400:.1f} d" if d.last_used else "?",
        )
        for d in list_derived()
    ]
    for row in (("backend", "image", "source", "stale", "unused for"), *rows):
        print("\t".join(row))


@images_app.command("gc")
def images_gc(
    everything: Annotated[
        bool, typer.Option("--all", help="Remove every derived image, not only stale ones.")
    ] = False,
    unused_days: Annotated[
        float | None,
        typer.Option(help="Also remove derived images unused for this many days."),
    ] = None,
    match: Annotated[str, typer.Option(help="Only images whose name contains this.")] = "",
) -> None:
    """Remove derived images whose source image is gone or was rebuilt (stale), those unused
    for --unused-days, or --all; never one a sandbox still runs. They are a cache: the next
    episode of their task prepares them again."""
    from envs.rock.derived import gc_derived

    removed = gc_derived(everything=everything, unused_days=unused_days, match=match)
    console.print(f"removed {len(removed)} derived image(s)")
    for d in removed:
        print(f"{d.backend}\t{d.image}")


@sandbox_app.command("create")
def sandbox_create(
    image: str = DEFAULT_IMAGE,
    backend: str = "auto",
    ttl: Annotated[float, typer.Option(help="Seconds until the sandbox removes itself.")] = 3600,
    memory_mb: int = 1024,
    cpus: float = 1.0,
    network: Annotated[str, typer.Option(help="none, allowlist or open.")] = "none",
    allow: Annotated[
        list[str] | None,
        typer.Option(help="An allowlist rule (repeat): pypi.org, *.example.com, host:port, CIDR."),
    ] = None,
) -> None:
    """Start a detached sandbox (ended by its TTL or `ale sandbox rm`); prints its id."""
    from envs.rock.factory import create_sandbox
    from envs.rock.policy import NetworkPolicy, SandboxPolicy

    try:
        mode = "allowlist" if allow and network == "none" else network
        spec = SandboxSpec(
            image=image,
            ttl_s=ttl,
            memory_mb=memory_mb,
            cpus=cpus,
            policy=SandboxPolicy(NetworkPolicy.from_value({"mode": mode, "allow": allow or []})),
            labels={LABEL_OWNER_PID: DETACHED_PID},
        )
        sb = create_sandbox(spec, backend)
    except SandboxError as exc:
        _fail(exc)
    print(sb.id)


@sandbox_app.command("exec")
def sandbox_exec(
    sandbox_id: str,
    command: str,
    timeout: float = 60.0,
) -> None:
    """Run COMMAND in a fresh shell of sandbox SANDBOX_ID; exits with its exit code."""
    from envs.rock.attach import attach

    try:
        sb = attach(sandbox_id)
        result = sb.run(command, timeout=timeout)
    except SandboxError as exc:
        _fail(exc)
    sys.stdout.buffer.write(result.raw)
    sys.stdout.flush()
    raise typer.Exit(result.exit_code if 0 <= result.exit_code < 256 else 1)


@sandbox_app.command("ls")
def sandbox_ls() -> None:
    """List every sandbox of ours on this host, with owner and expiry."""
    from envs.rock.gc import list_all

    header = ("backend", "id", "image", "status", "owner pid", "expires in", "orphan")
    now = time.time()
    rows = [
        (
            r.backend,
            r.id,
            r.image,
            r.status,
            r.labels.get(LABEL_OWNER_PID, "?"),
            f"{float(r.labels.get(LABEL_EXPIRES_AT, '0')) - now:.0f} s",
            "yes" if r.orphan else "",
        )
        for r in list_all()
    ]
    if not sys.stdout.isatty():  # scripts get tab-separated lines, never folded
        for row in (header, *rows):
            print("\t".join(row))
        return
    table = Table(*header)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@sandbox_app.command("rm")
def sandbox_rm(sandbox_ids: list[str]) -> None:
    """Remove sandboxes by id (prefixes accepted)."""
    from envs.rock.gc import list_all, remove

    records = list_all()
    for sid in sandbox_ids:
        matches = [r for r in records if r.id.startswith(sid)]
        if not matches:
            _fail(SandboxError(f"no sandbox of ours has id {sid!r}: see `ale sandbox ls`"))
        for r in matches:
            remove(r)
            print(r.id)


@sandbox_app.command("gc")
def sandbox_gc(
    run: Annotated[
        str | None, typer.Option("--run", help="Only the sandboxes of this bench run id.")
    ] = None,
    owner: Annotated[
        int | None, typer.Option("--owner", help="Only those owned by this pid of this host.")
    ] = None,
    everything: Annotated[
        bool,
        typer.Option(
            "--all", help="Every owner's sandboxes (other users and hosts), live ones too."
        ),
    ] = False,
) -> None:
    """Remove orphaned sandboxes (TTL passed, or their driver process is gone) created on this
    host by this user; `--run`/`--owner` narrow that, `--all` removes everyone's."""
    from envs.rock.api import LABEL_RUN
    from envs.rock.gc import GcScope, collect

    scope = GcScope(labels={LABEL_RUN: run} if run else {}, owner_pid=owner, any_owner=everything)
    removed = collect(scope, live=everything)
    console.print(f"removed {len(removed)} sandbox(es)")
    for r in removed:
        print(f"{r.backend}\t{r.id}")
