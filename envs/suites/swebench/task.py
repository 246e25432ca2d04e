"""`SWEBenchTask`: one SWE-bench instance as a `envs.core.task.Task`.

The episode sees only /testbed at base_commit, with no trace of the future: one branch, no
other refs, no reflog, no unreachable objects. The test patch and the gold patch stay on the host;
`grade` writes the test patch into the sandbox only after the agent is done.
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envs.core.errors import TaskError
from envs.core.task import Grade
from envs.rock import ExecResult, Sandbox, SandboxError, SandboxSpec
from envs.rock.factory import default_backend
from envs.suites.swebench import grading
from envs.suites.swebench.images import CONDA_PATH, ImageChoice, local_base_ready, resolve_image

WORKDIR = grading.WORKDIR
BRANCH = "main"
GRADE_DIR = "/tmp/ale-grade"
SETUP_SESSION = "ale-setup"
GRADE_SESSION = "ale-grader"  # a fresh shell: the agent's exports and aliases do not reach it

#: Leaves /testbed with one branch at HEAD and nothing unreachable; fails if anything remains.
SANITIZE = f"""set -eu
cd {WORKDIR}
git config --global --add safe.directory {WORKDIR}
git -c advice.detachedHead=false checkout -q -f "$BASE"
git checkout -q -B {BRANCH}
for r in $(git remote); do git remote remove "$r"; done
git for-each-ref --format='%(refname)' | {{ grep -vxF refs/heads/{BRANCH} || true; }} | while read -r ref; do git update-ref -d "$ref"; done
rm -rf .git/FETCH_HEAD .git/ORIG_HEAD .git/MERGE_HEAD .git/CHERRY_PICK_HEAD .git/REVERT_HEAD \\
  .git/AUTO_MERGE .git/BISECT_LOG .git/rebase-merge .git/rebase-apply .git/logs .git/refs/original
git worktree prune
git reflog expire --expire=now --expire-unreachable=now --all
if [ -s .git/objects/info/alternates ]; then git repack -a -d -q; rm -f .git/objects/info/alternates; fi
git -c gc.auto=0 -c gc.reflogExpire=now -c gc.reflogExpireUnreachable=now gc -q --prune=now
all=$(git cat-file --batch-all-objects --batch-check='%(objectname)' | sort -u | wc -l)
reachable=$(git rev-list --objects --all | cut -d' ' -f1 | sort -u | wc -l)
[ "$all" = "$reachable" ] || {{ echo "sanitize: $all objects but $reachable reachable" >&2; exit 3; }}
[ "$(git for-each-ref --format='%(refname)')" = refs/heads/{BRANCH} ] || {{ echo "sanitize: refs remain" >&2; exit 3; }}
[ "$(git rev-parse HEAD)" = "$BASE" ]
"""


def bash(
    sandbox: Sandbox,
    script: str,
    timeout: float,
    session: str = SETUP_SESSION,
    env: Mapping[str, str] | None = None,
) -> ExecResult:
    """Run `script` with bash from a temporary file (so `set -e` cannot end the session)."""
    path = f"/tmp/.ale-{uuid.uuid4().hex[:12]}.sh"
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in (env or {}).items())
    sandbox.write(path, (exports + script).encode(), mode=0o700)
    return sandbox.run(
        f"bash {path}; __rc=$?; rm -f {path}; (exit $__rc)", timeout=timeout, session=session
    )


class SWEBenchTask:
    """One SWE-bench instance. `spec` is its repo spec (`test_cmd`, `install`, ...); `repos_dir`
    holds `<repo>.bundle` files for instances without an official image."""

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
    ) -> None:
        self.instance = dict(instance)
        self.spec = dict(spec) if spec else None
        self.repos_dir = repos_dir
        self.include_hints = include_hints
        self.test_timeout_s = test_timeout_s
        self.setup_timeout_s = setup_timeout_s
        self.memory_mb = memory_mb
        self.cpus = cpus
        self._choice: ImageChoice | None = None

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

    def image_choice(self, backend: str = "auto") -> ImageChoice:
        """The official image when present, else the base image plus the bundle (cached)."""
        if self._choice is None:
            name = default_backend() if backend == "auto" else backend
            self._choice = resolve_image(self.instance, self.repos_dir, name)
        return self._choice

    @property
    def metadata(self) -> dict[str, Any]:
        try:
            image: str | None = self.image_choice().image
        except TaskError:
            image = None
        return {
            "instance_id": self.id,
            "repo": self.instance["repo"],
            "version": self.instance["version"],
            "base_commit": self.base_commit,
            "image": image,
            "created_at": self.instance.get("created_at", ""),
            "FAIL_TO_PASS": list(self.instance["FAIL_TO_PASS"]),
            "PASS_TO_PASS": list(self.instance["PASS_TO_PASS"]),
        }

    # -- Task protocol: sandbox -----------------------------------------------------------
    def sandbox_spec(self) -> SandboxSpec:
        choice = self.image_choice()
        env = {"PYTHONDONTWRITEBYTECODE": "1"}  # no __pycache__ in the agent's diff
        if choice.official:
            env["PATH"] = CONDA_PATH
        return SandboxSpec(
            image=choice.image,
            workdir=WORKDIR,
            memory_mb=self.memory_mb,
            cpus=self.cpus,
            env=env,
            labels={"ale.task": self.id[:63]},
            ttl_s=max(3600.0, 2 * self.test_timeout_s),
        )

    def ensure_image(self, backend: str) -> None:
        """Finds the image; builds nothing (the base comes from `ale images build`)."""
        name = default_backend() if backend == "auto" else backend
        choice = self.image_choice(name)
        if not choice.official and not local_base_ready(name):
            raise TaskError(
                f"{self.id} runs in the base image {choice.image!r}, which the {name} "
                "backend lacks: build it with `ale images build`"
            )

    def prepare(self, sandbox: Sandbox) -> None:
        """/testbed at base_commit, sanitized; then the spec's `install`, if any (offline)."""
        choice = self.image_choice()
        try:
            if not choice.official:
                assert choice.bundle is not None
                remote = f"/tmp/.ale-{uuid.uuid4().hex[:12]}.bundle"
                sandbox.upload(choice.bundle, remote)
                self._check(
                    bash(
                        sandbox,
                        f"set -e\nmkdir -p {WORKDIR}\ngit clone -q --no-checkout "
                        f"{remote} {WORKDIR}\nrm -f {remote}\n",
                        self.setup_timeout_s,
                    ),
                    "cloning the bundle",
                )
            self._check(
                bash(sandbox, SANITIZE, self.setup_timeout_s, env={"BASE": self.base_commit}),
                "sanitizing /testbed",
            )
            if self.spec and self.spec.get("install"):
                self._check(
                    bash(sandbox, f"cd {WORKDIR}\n{self.spec['install']}\n", self.setup_timeout_s),
                    "running the spec's install",
                )
        finally:
            if not choice.official:
                sandbox.run("rm -f /tmp/.ale-*.bundle", timeout=60, session=SETUP_SESSION)

    def _check(self, result: ExecResult, what: str) -> None:
        if not result.ok:
            why = "timed out" if result.timed_out else f"exited {result.exit_code}"
            raise TaskError(f"{self.id}: {what} {why}:\n{result.output[-2000:]}")

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
        """The official verdict on the sandbox's /testbed; infrastructure failures give `error`."""
        from envs.suites.swebench.grader import grade_sandbox

        try:
            return grade_sandbox(self, sandbox)
        except (SandboxError, TaskError) as exc:
            return Grade(
                reward=0.0,
                resolved=False,
                error=f"grading {self.id} failed: {exc}",
                report={"instance_id": self.id},
            )

    def __repr__(self) -> str:
        return f"SWEBenchTask({self.id!r})"
