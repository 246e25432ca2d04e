"""The shipped tb-mini suite: folder formats, index, and (with Docker) oracle vs. untouched env.

Docker tests build every task image once per module (FROM rewritten to `ale-base:bookworm`,
no network), then for each task run the oracle followed by the tests (must pass) and the tests
in a fresh container without the oracle (must fail). The 3-run oracle stability check is
marked `slow`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from envs.suites.tb_mini import devcheck

INDEX = devcheck.load_index()
IDS = [entry["id"] for entry in INDEX]
#: Tasks devcheck can run (no task users, compose services, solution.yaml or network builds);
#: the others (`"harness": "ale-gym"`) are run by ALE-Gym's own harness in
#: tests/suites/test_terminal_bench_suite.py, like every task.
DEVCHECK_IDS = [entry["id"] for entry in INDEX if entry.get("harness") != "ale-gym"]
BY_ID = {entry["id"]: entry for entry in INDEX}
REAL_BASES = {
    "terminal-bench": {"ghcr.io/laude-institute/t-bench/python-3-13:20250620"},
    "harbor": {"python:3.13-slim-bookworm", "ubuntu:24.04"},
}
#: pytest's final line, e.g. "==== 3 failed, 2 passed in 0.41s ====".
PYTEST_SUMMARY = re.compile(r"^=+ (\d+ \w+(?:, \d+ \w+)*) in [\d.]+s", re.MULTILINE)
NETWORK_INSTALL = re.compile(r"\b(apt-get|apt|pip3?|uv|uvx)\s+(install|add|update)\b|curl\s|wget\s")


def task_dir(task_id: str) -> Path:
    return devcheck.TASKS_DIR / task_id


# ----------------------------------------------------------------------------- folder checks


def test_index_matches_folders_and_covers_the_suite() -> None:
    folders = sorted(p.name for p in devcheck.TASKS_DIR.iterdir() if p.is_dir())
    assert sorted(IDS) == folders
    assert len(IDS) == len(set(IDS)) >= 12
    formats = [entry["format"] for entry in INDEX]
    assert abs(formats.count("terminal-bench") - formats.count("harbor")) <= 1
    assert set(devcheck.DOMAINS) <= {entry["domain"] for entry in INDEX}
    for entry in INDEX:
        assert set(entry) - {"harness"} == {"id", "format", "domain", "difficulty"}
        assert entry.get("harness", "ale-gym") == "ale-gym"
        assert entry["format"] in devcheck.FORMATS
        assert entry["domain"] in devcheck.DOMAINS
        assert entry["difficulty"] in devcheck.DIFFICULTIES


@pytest.mark.parametrize("task_id", DEVCHECK_IDS)
def test_task_folder_is_valid(task_id: str) -> None:
    path = task_dir(task_id)
    entry = BY_ID[task_id]
    assert devcheck.task_format(path) == entry["format"]
    assert devcheck.validate(path) == []
    config = devcheck.load_config(path)
    meta = config if entry["format"] == "terminal-bench" else config["metadata"]
    assert meta["difficulty"] == entry["difficulty"]
    assert meta["category"] == entry["domain"]
    assert entry["domain"] in meta["tags"]


@pytest.mark.parametrize("task_id", DEVCHECK_IDS)
def test_task_is_offline(task_id: str) -> None:
    """Real base images (rewritten by the harness), nothing installed from the network."""
    path = task_dir(task_id)
    fmt = BY_ID[task_id]["format"]
    dockerfile = devcheck.dockerfile_path(path).read_text()
    bases = re.findall(r"^\s*FROM\s+(\S+)", dockerfile, re.MULTILINE | re.IGNORECASE)
    assert bases and set(bases) <= REAL_BASES[fmt]
    scripts = [devcheck.dockerfile_path(path)]
    if fmt == "terminal-bench":
        scripts += [path / "run-tests.sh", path / "solution.sh"]
    else:
        scripts += [path / "tests/test.sh", *sorted((path / "solution").iterdir())]
    for script in scripts:
        assert not NETWORK_INSTALL.search(script.read_text()), script


def test_substitute_from_keeps_stages() -> None:
    text = (
        "FROM python:3.13-slim-bookworm AS build\nRUN true\nFROM build\nFROM scratch\n"
        "from ghcr.io/laude-institute/t-bench/python-3-13:20250620\n"
    )
    new = devcheck.substitute_from(text, "ale-base:bookworm")
    assert new.splitlines()[0] == "FROM ale-base:bookworm AS build"
    assert "FROM build\n" in new and "FROM scratch\n" in new
    assert new.splitlines()[-1] == "from ale-base:bookworm"


# ----------------------------------------------------------------------------- docker checks


def _docker_ready() -> str | None:
    """None when Docker and the base image are usable, else why not."""
    if shutil.which("docker") is None:
        return "docker CLI not installed"
    probe = subprocess.run(
        ["docker", "image", "inspect", devcheck.DEFAULT_BASE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return f"{devcheck.DEFAULT_BASE} missing or engine down: {probe.stderr.strip()[:200]}"
    return None


class Images:
    """Task images built on first use (once per module and xdist worker), removed at the end.

    Builds are lazy so that a worker only builds the images of the tasks it runs; a second
    worker building the same task hits Docker's layer cache.
    """

    def __init__(self) -> None:
        self.suffix = f"pytest-{os.getpid()}"
        self.built: dict[str, str | Exception] = {}

    def tag(self, task_id: str) -> str:
        if task_id not in self.built:
            tag = f"{devcheck.image_tag(task_dir(task_id))}:{self.suffix}"
            try:
                self.built[task_id] = devcheck.build(task_dir(task_id), tag=tag)
            except Exception as exc:  # reported by every test of that task
                self.built[task_id] = exc
        tag_or_error = self.built[task_id]
        if isinstance(tag_or_error, Exception):
            pytest.fail(f"image build failed: {tag_or_error}")
        return tag_or_error

    def remove_all(self) -> None:
        for tag in self.built.values():
            if isinstance(tag, str):
                devcheck.remove_image(tag)


@pytest.fixture(scope="module")
def images() -> Iterator[Images]:
    reason = _docker_ready()
    if reason:
        pytest.skip(reason)
    cache = Images()
    try:
        yield cache
    finally:
        cache.remove_all()


@pytest.mark.docker
@pytest.mark.parametrize("task_id", DEVCHECK_IDS)
def test_oracle_passes(images: Images, task_id: str) -> None:
    trial = devcheck.run_trial(task_dir(task_id), images.tag(task_id), oracle=True)
    assert trial.passed, f"{trial.oracle_output[-3000:]}\n{trial.output[-5000:]}"


@pytest.mark.docker
@pytest.mark.parametrize("task_id", DEVCHECK_IDS)
def test_untouched_environment_fails(images: Images, task_id: str) -> None:
    trial = devcheck.run_trial(task_dir(task_id), images.tag(task_id), oracle=False)
    assert not trial.passed, trial.output[-3000:]
    # failed because the tests ran and found the work undone, not because they could not run
    # (a check that errors in its fixture because the output file is missing counts; the test
    # file failing to import does not)
    summary = PYTEST_SUMMARY.findall(trial.output)
    assert summary and re.search(r"\d+ (failed|errors?)\b", summary[-1]), trial.output[-3000:]
    assert "ERROR collecting" not in trial.output and "Interrupted" not in trial.output
    if BY_ID[task_id]["format"] == "harbor":
        assert trial.output.rstrip().endswith("[reward='0']"), trial.output[-500:]


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("task_id", DEVCHECK_IDS)
def test_oracle_is_stable(images: Images, task_id: str) -> None:
    """Three fresh containers, three passes."""
    for attempt in range(3):
        trial = devcheck.run_trial(task_dir(task_id), images.tag(task_id), oracle=True)
        assert trial.passed, f"attempt {attempt + 1}:\n{trial.output[-4000:]}"
