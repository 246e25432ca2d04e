"""Offline stand-ins for the base images published tasks start `FROM`, built by us.

No registry is reachable, so `FROM python:3.13-slim` cannot be pulled. A stand-in is a local
image built on one of our Debian bases (`ale-base:<release>`, debootstrap) that keeps what
tasks rely on in the real base:

* a `WORKDIR` (`/` like the official images; `/app` for Terminal-Bench's harness bases);
* `pip install` system-wide without PEP 668's `externally-managed-environment` error, and
  `python` / `pip` on PATH, as in the official `python:*` images;
* the base's users (`ubuntu`, uid 1000, in `ubuntu:24.04`);
* `tmux` and `asciinema` where Terminal-Bench's harness bases have them (installed from
  Debian: those stand-ins need the network to build);
* the extra CA bundle, which the `ale-base` images already trust.

`ale images build --base python:3.13-slim` builds one; the suites build a missing stand-in
on first use when its Debian base is there. `STANDIN_MAP` is the default FROM map of task
images (globs: `python:3.13*` covers `python:3.13-slim-bookworm`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envs.rock.errors import ImageNotFound

PREFIX = "ale-standin"


@dataclass(frozen=True)
class StandIn:
    """How one published base is stood in for. `release`: the `ale-base:<release>` it starts
    from; `python`: the Python it then has (the real base's may differ, see `note`)."""

    base: str
    release: str
    python: str
    steps: str
    needs_network: bool = False
    note: str = ""

    @property
    def tag(self) -> str:
        return f"{PREFIX}/{self.base.replace('/', '-').replace(':', '-')}:latest"

    @property
    def from_image(self) -> str:
        from envs.rock.image_build import base_tag

        return base_tag(self.release)

    def dockerfile(self) -> str:
        return f"FROM {self.from_image}\n{self.steps}"


_PIP_OPEN = (
    # pip usable system-wide as in the official python images: no PEP 668 marker, python/pip on PATH
    "RUN rm -f /usr/lib/python3*/EXTERNALLY-MANAGED "
    '&& { command -v python >/dev/null || ln -s "$(command -v python3)" /usr/local/bin/python; } '
    '&& { command -v pip >/dev/null || ln -s "$(command -v pip3)" /usr/local/bin/pip; }\n'
)
_TMUX = (
    "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
    "tmux asciinema && rm -rf /var/lib/apt/lists/*\n"
)
_UBUNTU_USER = "RUN useradd --create-home --uid 1000 --shell /bin/bash ubuntu\n"

STANDINS: dict[str, StandIn] = {
    s.base: s
    for s in (
        StandIn("debian:bookworm", "bookworm", "3.11", _PIP_OPEN + "WORKDIR /\n"),
        StandIn("debian:bullseye", "bullseye", "3.9", _PIP_OPEN + "WORKDIR /\n"),
        StandIn("debian:trixie", "trixie", "3.13", _PIP_OPEN + "WORKDIR /\n"),
        StandIn("python:3.9-slim", "bullseye", "3.9", _PIP_OPEN + "WORKDIR /\n"),
        StandIn("python:3.11-slim", "bookworm", "3.11", _PIP_OPEN + "WORKDIR /\n"),
        StandIn("python:3.13-slim", "trixie", "3.13", _PIP_OPEN + "WORKDIR /\n"),
        StandIn(
            "ubuntu:24.04",
            "trixie",
            "3.13",
            _PIP_OPEN + _UBUNTU_USER + "WORKDIR /\n",
            note="a Debian trixie userland (Python 3.13; noble has 3.12) with Ubuntu's "
            "`ubuntu` user (uid 1000)",
        ),
        StandIn(
            "ghcr.io/laude-institute/t-bench/python-3-13",
            "trixie",
            "3.13",
            _PIP_OPEN + _TMUX + "WORKDIR /app\n",
            needs_network=True,
            note="Terminal-Bench's harness base: python:3.13-slim with tmux and asciinema",
        ),
        StandIn(
            "ghcr.io/laude-institute/t-bench/ubuntu-24-04",
            "trixie",
            "3.13",
            _PIP_OPEN + _UBUNTU_USER + _TMUX + "WORKDIR /app\n",
            needs_network=True,
            note="Terminal-Bench's harness base: ubuntu:24.04 with tmux and asciinema",
        ),
    )
}
#: Published base (glob) -> stand-in tag: the default FROM map of task images.
STANDIN_MAP: dict[str, str] = {
    "debian:bookworm*": STANDINS["debian:bookworm"].tag,
    "debian:12*": STANDINS["debian:bookworm"].tag,
    "debian:bullseye*": STANDINS["debian:bullseye"].tag,
    "debian:11*": STANDINS["debian:bullseye"].tag,
    "debian:trixie*": STANDINS["debian:trixie"].tag,
    "debian:13*": STANDINS["debian:trixie"].tag,
    "python:3.9*": STANDINS["python:3.9-slim"].tag,
    "python:3.11*": STANDINS["python:3.11-slim"].tag,
    "python:3.13*": STANDINS["python:3.13-slim"].tag,
    "ubuntu:24.04*": STANDINS["ubuntu:24.04"].tag,
    "ubuntu:noble*": STANDINS["ubuntu:24.04"].tag,
    "ghcr.io/laude-institute/t-bench/python-3-13*": STANDINS[
        "ghcr.io/laude-institute/t-bench/python-3-13"
    ].tag,
    "ghcr.io/laude-institute/t-bench/ubuntu-24-04*": STANDINS[
        "ghcr.io/laude-institute/t-bench/ubuntu-24-04"
    ].tag,
}


def standin_for_tag(tag: str) -> StandIn | None:
    return next((s for s in STANDINS.values() if s.tag == tag), None)


def find_standin(base: str) -> StandIn:
    """The stand-in for `base` (a published name such as `python:3.13-slim-bookworm`)."""
    from envs.rock.image_build import map_image

    tag = map_image(base, STANDIN_MAP)
    found = standin_for_tag(tag) if tag else None
    if found is None:
        raise ImageNotFound(
            f"no stand-in for {base!r}; stand-ins exist for {', '.join(sorted(STANDINS))}. "
            f"Map it to a local image instead: --from {base}=IMAGE"
        )
    return found


def build_standin(
    standin: StandIn,
    network: bool = True,
    ca_bundle: Path | None = None,
    force: bool = False,
    build_base_too: bool = False,
    log: Callable[[str], object] = print,
) -> str:
    """Build (or find cached) `standin`'s image on its `ale-base`; returns its tag.

    With `build_base_too` a missing `ale-base:<release>` is built first (debootstrap, root,
    about a minute), as `ale images build --base` does; otherwise it is an `ImageNotFound`.
    """
    from envs.rock.image_build import _image_recipe, build_task_image

    if _image_recipe(standin.from_image) is None and build_base_too:
        from envs.rock.image_build import BaseImageRecipe, build_base

        extra = {"ca_bundle": ca_bundle} if ca_bundle else {}
        build_base(BaseImageRecipe.for_release(standin.release, **extra), log=log)
    if _image_recipe(standin.from_image) is None:
        raise ImageNotFound(
            f"the stand-in for {standin.base} starts from {standin.from_image}, which is not "
            f"built: run `ale images build --base {standin.base}` (it builds both)"
        )
    if standin.needs_network and not network:
        raise ImageNotFound(
            f"the stand-in for {standin.base} installs tmux and asciinema from Debian and "
            "needs the network to build: allow --build-network"
        )
    with tempfile.TemporaryDirectory(prefix="ale-standin-") as tmp:
        (Path(tmp) / "Dockerfile").write_text(standin.dockerfile())
        build_task_image(
            Path(tmp),
            standin.tag,
            from_map={standin.from_image: standin.from_image},
            force=force,
            network=standin.needs_network and network,
            ca_bundle=ca_bundle,
        )
    return standin.tag
