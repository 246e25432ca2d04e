"""`SWEBenchTask`: one SWE-bench instance as a `envs.core.task.Task`.

The episode sees only /testbed at base_commit, with no trace of the future: one branch, no
other refs, no reflog, no unreachable objects. That state is prepared once per task image
(`ensure_image`: the source image from `images`, then `testbed.prepare_testbed` committed to a
derived image by `envs.rock.derived`), so a reset is a container start and `prepare` does
nothing. Where no image can be committed (a backend without `commit`), `prepare` does the same
work in the episode's sandbox. The test patch and the gold patch stay on the host; `grade`
writes the test patch into the sandbox only after the agent is done.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from envs.core.errors import TaskError
from envs.core.task import Grade
from envs.rock import Sandbox, SandboxError, SandboxSpec
from envs.rock.derived import Derived, Recipe, ensure_derived
from envs.rock.factory import default_backend
from envs.rock.policy import NetworkPolicy, apply_policy_block
from envs.suites.swebench import testbed
from envs.suites.swebench.image_choice import (
    CONDA_PATH,
    OFFICIAL_NAMESPACE,
    ImageChoice,
    describe,
    ensure_source,
    plan_image,
)
from envs.suites.swebench.testbed import WORKDIR, bash, check

BRANCH = testbed.BRANCH
#: Bump when what `prepare_testbed` leaves changes: every task image is prepared again.
PREPARE_VERSION = 1
_PREPARE_KEY = hashlib.sha256(
    (testbed.SANITIZE + testbed.BASELINE + testbed.FACTS).encode()
).hexdigest()[:16]

__all__ = ["BRANCH", "SWEBenchTask", "WORKDIR", "bash"]


@dataclass(frozen=True)
class TaskImage:
    """The task image of one backend: its source and the prepared (derived) image."""

    choice: ImageChoice
    derived: Derived


class SWEBenchTask:
    """One SWE-bench instance. `spec` is its repo spec (`test_cmd`, `install`, `python`, ...);
    `repos_dir` holds `<repo>.bundle` files; `pull` allows pulling the official image
    (never implicit); `namespace` is where official images are published; `task_repo` a
    swebench 5 task repo whose Dockerfiles swebench's harness may build."""

    def __init__(
        self,
        instance: Mapping[str, Any],
        spec: Mapping[str, Any] | None = None,
        repos_dir: Path | None = None,
        include_hints: bool = False,
        test_timeout_s: float = 1800.0,
        setup_timeout_s: float = 900.0,
        memory_mb: int = 4096,
        cpus: float = 1.0,
        *,
        pull: bool = False,
        namespace: str = OFFICIAL_NAMESPACE,
        task_repo: Path | None = None,
        grading_allow: Sequence[str] = (),
    ) -> None:
        self.instance = dict(instance)
        self.spec = dict(spec) if spec else None
        # hosts the eval script may reach (a grading install), never the agent: the spec's own
        # `grading_allow`, else the suite's; the sandbox's network is `none` otherwise
        self.grading_allow = tuple((self.spec or {}).get("grading_allow", grading_allow))
        self.repos_dir = repos_dir
        self.include_hints = include_hints
        self.test_timeout_s = test_timeout_s
        self.setup_timeout_s = setup_timeout_s
        self.memory_mb = memory_mb
        self.cpus = cpus
        self.pull = pull
        self.namespace = namespace
        self.task_repo = task_repo
        self._plans: dict[str, ImageChoice] = {}
        self._images: dict[str, TaskImage] = {}
        self._backend: str | None = None  # of the last `ensure_image`
        self._lock = threading.Lock()

    # -- Task protocol: facts -------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self.instance["instance_id"])

    @property
    def instruction(self) -> str:
        text = str(self.instance["problem_statement"])
        hints = str(self.instance.get("hints_text") or "").strip()
        return f"{text}\n\nHints:\n{hints}" if self.include_hints and hints else text

    @property
    def workdir(self) -> str:
        return WORKDIR

    @property
    def base_commit(self) -> str:
        return str(self.instance["base_commit"])

    def _backend_name(self, backend: str | None = None) -> str:
        backend = backend or self._backend or "auto"
        return default_backend() if backend == "auto" else backend

    def image_choice(self, backend: str | None = None) -> ImageChoice:
        """The source image: after `ensure_image`, what it found, pulled or built; before, the
        plan (`to-pull` / `to-build`; nothing is pulled or built here). Cached per backend."""
        name = self._backend_name(backend)
        if name in self._images:
            return self._images[name].choice
        if name not in self._plans:
            self._plans[name] = plan_image(
                self.instance,
                self.spec,
                self.repos_dir,
                name,
                self.namespace,
                self.pull,
                self.task_repo,
            )
        return self._plans[name]

    @property
    def task_image(self) -> TaskImage | None:
        """The prepared image of the backend last passed to `ensure_image`, if any."""
        return self._images.get(self._backend_name()) if self._backend else None

    @property
    def conda(self) -> bool:
        """Whether /testbed's Python is the official images' conda env outside the image's
        PATH (then sandboxes and the eval script activate it)."""
        image = self.task_image
        return image is not None and image.derived.facts.get("conda") == "1"

    @property
    def metadata(self) -> dict[str, Any]:
        try:
            choice: ImageChoice | None = self.image_choice()
        except TaskError:
            choice = None
        image = self.task_image
        return {
            "instance_id": self.id,
            "repo": self.instance["repo"],
            "version": self.instance["version"],
            "base_commit": self.base_commit,
            "image": image.derived.image if image else choice.image if choice else None,
            "image_source": describe(choice) if choice else None,
            "created_at": self.instance.get("created_at", ""),
            "FAIL_TO_PASS": list(self.instance["FAIL_TO_PASS"]),
            "PASS_TO_PASS": list(self.instance["PASS_TO_PASS"]),
        }

    # -- Task protocol: sandbox -----------------------------------------------------------
    def _env(self, choice: ImageChoice, conda: bool) -> dict[str, str]:
        env = {"PYTHONDONTWRITEBYTECODE": "1", **choice.env}  # no __pycache__ in the agent's diff
        if conda:
            env["PATH"] = CONDA_PATH  # official layout only; any other image keeps its PATH
        return env

    def sandbox_spec(self) -> SandboxSpec:
        """Network `none` unless the spec's `policy` block says otherwise; with a grading
        allowlist, `allowlist` with nothing allowed until the eval script runs."""
        image = self.task_image
        choice = image.choice if image else self.image_choice()
        spec = SandboxSpec(
            image=image.derived.image if image else choice.image,
            workdir=WORKDIR,
            memory_mb=self.memory_mb,
            cpus=self.cpus,
            env=self._env(choice, self.conda),
            labels={"ale.task": self.id[:63]},
            ttl_s=max(3600.0, 2 * self.test_timeout_s),
        )
        spec = apply_policy_block(spec, (self.spec or {}).get("policy"))
        if self.grading_allow and spec.network == "none":
            spec = replace(spec, policy=replace(spec.policy, network=NetworkPolicy("allowlist")))
        return spec

    def ensure_image(self, backend: str) -> None:
        """Find, pull (with `pull`) or build the source image, then prepare /testbed on it once
        (cached as a derived image). `TaskError` when the task cannot have an image."""
        name = self._backend_name(backend)
        with self._lock:
            if name not in self._images:
                choice = ensure_source(
                    self.image_choice(name),
                    self.instance,
                    self.spec,
                    name,
                    self.namespace,
                    self.task_repo,
                )
                try:
                    derived = ensure_derived(
                        self._recipe(choice), self._prepare_image(choice), name
                    )
                except SandboxError as exc:
                    raise TaskError(f"{self.id}: preparing its image failed: {exc}") from exc
                self._images[name] = TaskImage(choice, derived)
            self._backend = name

    def _recipe(self, choice: ImageChoice) -> Recipe:
        key: dict[str, Any] = {
            "v": PREPARE_VERSION,
            "prepare": _PREPARE_KEY,
            "base": self.base_commit,
        }
        if not choice.has_repo and choice.bundle is not None:
            key["bundle"] = hashlib.sha256(choice.bundle.read_bytes()).hexdigest()
        return Recipe(
            source=choice.image,
            name=self.id,
            key=key,
            spec=SandboxSpec(
                memory_mb=self.memory_mb,
                cpus=max(1.0, self.cpus),
                workdir="/",
                env=dict(choice.env),
                ttl_s=2 * self.setup_timeout_s,
            ),
            env=dict(choice.env),
        )

    def _prepare_image(self, choice: ImageChoice) -> Any:
        def run(sandbox: Sandbox) -> dict[str, str]:
            return testbed.prepare_testbed(
                sandbox,
                self.base_commit,
                None if choice.has_repo or choice.bundle is None else str(choice.bundle),
                self.setup_timeout_s,
                self.id,
            )

        return run

    def prepare(self, sandbox: Sandbox) -> None:
        """Nothing for a sandbox of the prepared image (a reset is a container start); any
        other sandbox of the source image gets the same preparation now."""
        image = self.task_image
        if image is not None and sandbox.spec.image == image.derived.image:
            return
        choice = self.image_choice()
        self._prepare_image(choice)(sandbox)

    def _check(self, result: Any, what: str) -> None:
        check(result, f"{self.id}: {what}")

    def apply_oracle(self, sandbox: Sandbox) -> None:
        """Apply the gold patch with `git apply`."""
        path = f"/tmp/.ale-{uuid.uuid4().hex[:12]}.patch"
        sandbox.write(path, str(self.instance["patch"]).encode())
        result = bash(
            sandbox,
            f"cd {WORKDIR}\ngit apply -v {path}; rc=$?\nrm -f {path}\nexit $rc\n",
            self.setup_timeout_s,
        )
        self._check(result, "applying the gold patch")

    def oracle_actions(self) -> list[str]:
        """The gold patch as the agent would apply it: one bash call (heredoc + `git apply`)."""
        patch, path, delim = str(self.instance["patch"]), "/tmp/gold.patch", "ALE_GOLD_PATCH"
        while delim in patch:
            delim += "_"
        end = "" if patch.endswith("\n") else "\n"  # git apply needs the final newline anyway
        return [
            f"cat > {path} <<'{delim}'\n{patch}{end}{delim}\n"
            f"cd {WORKDIR} && git apply -v {path} && rm -f {path}"
        ]

    def grade(self, sandbox: Sandbox) -> Grade:
        """The official verdict on the sandbox's /testbed; no verdict gives `error` (kind "task"
        when the task's own files are broken, else "infra")."""
        from envs.suites.swebench.grader import grade_sandbox

        try:
            return grade_sandbox(self, sandbox)
        except (SandboxError, TaskError) as exc:
            return Grade(
                reward=0.0,
                resolved=False,
                error=f"grading {self.id} failed: {exc}",
                report={"instance_id": self.id},
                error_kind="task" if isinstance(exc, TaskError) else "infra",
            )

    def __getstate__(self) -> dict[str, Any]:  # copies and pickles get a lock of their own
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SWEBenchTask({self.id!r})"
