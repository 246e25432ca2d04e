"""Terminal-Bench and Harbor tasks as `envs.core.task.Task`s.

The sandbox starts from the task image (its Dockerfile, `FROM` mapped to local images). The
tests and the solution stay on the host: `grade` copies the tests to `/tests` only after the
agent is done, in the same sandbox, and runs them there:

* Terminal-Bench: `bash /tests/run-tests.sh` (with `TEST_DIR=/tests`, in the task's workdir,
  or in the agent's own shell when `run_tests_in_same_shell`), output parsed by `parser_name`;
  reward 1.0 iff at least one test passed and none failed.
* Harbor: `bash /tests/test.sh`, stdout to `/logs/verifier/test-stdout.txt`; the reward is
  `/logs/verifier/reward.json`'s `reward` (or its single value) else `reward.txt`'s number.

The oracle is the shipped solution (`solution.sh` / `solution.yaml`, or `solution/solve.sh`),
sent as bash commands (`oracle_actions`) that unpack it and run it in the workdir.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import shlex
import tarfile
from pathlib import Path
from typing import Any

import yaml

from envs.core.errors import TaskError
from envs.core.task import Grade
from envs.rock import ExecResult, Sandbox, SandboxError, SandboxFileError, SandboxSpec
from envs.rock.factory import default_backend
from envs.rock.image_build import external_bases
from envs.rock.policy import NetworkPolicy, SandboxPolicy, SandboxPolicyError
from envs.suites.terminal_bench import services, task_image
from envs.suites.terminal_bench.artifacts import collect_artifacts, healthcheck
from envs.suites.terminal_bench.config import TaskConfig
from envs.suites.terminal_bench.parsers import PARSERS, PASSING, parse_pytest, resolved
from envs.suites.terminal_bench.sessions import (
    GRADE_SESSION,
    HEALTH_SESSION,
    ORACLE_SESSION,
    SETUP_SESSION,
)

TESTS_DIR = "/tests"
VERIFIER_DIR = "/logs/verifier"
TB_LOG = "/logs/tests/test-output.txt"
LOG_CHARS = 20_000
FOLD_FILE_BYTES = (
    24_000  # per file echoed back by the grading command; bigger logs are read in full
)
FOLD_TAR_BYTES = 4 << 20  # tests bigger than this (base64) go first by one `write`


def _tar_b64(files: dict[str, bytes], gzip: bool = True) -> str:
    """A tar (gzip unless `gzip=False`) of {relative name: bytes} (mode 0755), base64-encoded."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gzip else "w") as tf:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tf.addfile(info, io.BytesIO(data))
    return base64.b64encode(buf.getvalue()).decode()


def _read_tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def network_policy(config: TaskConfig) -> NetworkPolicy:
    """The sandbox's network from the task file: Harbor's `no-network` -> `none`, `public`
    (and `allow_internet = true`) -> `open`, `allowlist` -> `allowlist` of `allowed_hosts`.
    Terminal-Bench's task.yaml has no network key: `none` (its compose `networks` are ignored)."""
    mode = {"no-network": "none", "public": "open", "allowlist": "allowlist"}.get(config.network)
    if mode is None:
        raise TaskError(f"{config.id}: unknown network mode {config.network!r}")
    try:
        return NetworkPolicy.from_value(
            {"mode": mode, "allow": list(config.allowed_hosts) if mode == "allowlist" else []}
        )
    except SandboxPolicyError as exc:
        raise TaskError(f"{config.id}: environment.allowed_hosts: {exc}") from exc


class FolderTask:
    """What both formats share: image, sandbox spec, users, metadata, oracle runner.

    `from_map` maps FROM images to local ones (exact names, globs, `*` for any); `memory_mb` /
    `cpus` override the task's own resources (Harbor's [environment]; Terminal-Bench: 2048 MiB,
    1 CPU). `build_network` lets image builds reach package indexes (see `task_image.py`).

    Sessions and their users: the agent's shell (`default`) and the oracle's run as the
    agent's user (Harbor's `agent.user`, else the image's USER); the grader as the verifier's
    (Harbor's `verifier.user`, else the image's USER; Terminal-Bench: root, as its harness);
    set-up steps as root.
    """

    def __init__(
        self,
        config: TaskConfig,
        from_map: dict[str, str] | None = None,
        image_prefix: str = "ale-tb",
        memory_mb: int | None = None,
        cpus: float | None = None,
        build_network: bool = True,
        ca_bundle: Path | None = None,
    ) -> None:
        self.config = config
        self.from_map = task_image.base_map(from_map)
        self.image = task_image.image_tag(config, self.from_map, image_prefix)
        self.memory_mb = memory_mb or config.memory_mb
        self.cpus = cpus or config.cpus
        self.build_network = build_network
        self.ca_bundle = ca_bundle
        self.substitutions = task_image.substitutions(config, self.from_map)
        self._image_config: task_image.ImageConfig | None = None

    # -- Task protocol: facts ---------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.config.id

    @property
    def instruction(self) -> str:
        return self.config.instruction

    @property
    def image_config(self) -> task_image.ImageConfig:
        """The built image's USER, WORKDIR and ENV (defaults until the image exists)."""
        if self._image_config is None:
            found = task_image.image_config(self.image)
            if found is None:
                return task_image.ImageConfig()
            self._image_config = found
        return self._image_config

    @property
    def workdir(self) -> str:
        """`[environment] workdir` (or compose `working_dir`), else the image's WORKDIR, else /."""
        return self.config.workdir or self.image_config.workdir or "/"

    @property
    def agent_user(self) -> str:
        return self.config.agent_user or self.image_config.user or "root"

    @property
    def verifier_user(self) -> str:
        if self.config.format == "terminal-bench":
            return "root"  # Terminal-Bench opens its test session as root
        return self.config.verifier_user or self.image_config.user or "root"

    @property
    def metadata(self) -> dict[str, Any]:
        c = self.config
        return {
            **c.metadata,
            "format": c.format,
            "path": str(c.path),
            "image": self.image,
            "base_images": external_bases(c.dockerfile_text),
            "from_substitutions": dict(self.substitutions),
            "agent_timeout_s": c.agent_timeout_s,
            "test_timeout_s": c.test_timeout_s,
            "parser_name": c.parser_name if c.format == "terminal-bench" else None,
            "run_tests_in_same_shell": c.run_tests_in_same_shell,
            "allow_internet": c.allow_internet,
            "network": c.network,
            "allowed_hosts": list(c.allowed_hosts),
            "agent_user": c.agent_user,
            "verifier_user": c.verifier_user,
            "services": [s.name for s in c.compose.sidecars] if c.compose else [],
            "warnings": list(c.warnings),
        }

    # -- Task protocol: sandbox --------------------------------------------------------------
    def sandbox_spec(self) -> SandboxSpec:
        c = self.config
        agent, verifier = self.agent_user, self.verifier_user
        return SandboxSpec(
            image=self.image,
            workdir=self.workdir,
            cpus=self.cpus,
            memory_mb=self.memory_mb,
            env={**self.image_config.env, **c.env},
            user=agent,
            session_users={
                SETUP_SESSION: "root",
                ORACLE_SESSION: agent,
                GRADE_SESSION: verifier,
                HEALTH_SESSION: self.image_config.user or "root",
            },
            labels={"ale.task": self.id[:63]},
            ttl_s=max(3600.0, 2 * (c.agent_timeout_s + c.test_timeout_s)),
            policy=SandboxPolicy(network=network_policy(c)),
        )

    def ensure_image(self, backend: str) -> None:
        """Build the task image (and its services' images); cached by tag and context hash."""
        name = default_backend() if backend == "auto" else backend
        if self.config.compose is not None and self.config.compose.sidecars and name != "docker":
            raise TaskError(
                f"{self.id}: its docker-compose.yaml runs services "
                f"({', '.join(s.name for s in self.config.compose.sidecars)}), which need the "
                "docker backend (--backend docker)"
            )
        task_image.ensure_task_image(
            self.config,
            self.image,
            self.from_map,
            name,
            network=self.build_network,
            ca_bundle=self.ca_bundle,
        )
        self._image_config = task_image.image_config(self.image)
        services.ensure_images(self, name)

    def prepare(self, sandbox: Sandbox) -> None:
        """As root: the workdir, /logs/agent for the agent's user, the oracle's folder for a
        non-root agent; then the task's services and its healthcheck."""
        agent = shlex.quote(self.agent_user)
        dirs = f"{shlex.quote(self.workdir)} /logs/agent"
        script = f"mkdir -p {dirs} && chmod 0777 /logs/agent"
        if self.agent_user not in ("root", "0"):
            script += f" && mkdir -p {self.oracle_dir} && chown {agent} {self.oracle_dir}"
        r = sandbox.run(script, timeout=60, session=SETUP_SESSION)
        if not r.ok:
            raise TaskError(f"{self.id}: preparing the sandbox failed: {r.output[-1000:]}")
        services.start(self, sandbox)
        if self.config.healthcheck is not None:
            healthcheck(self.id, self.config.healthcheck, sandbox, HEALTH_SESSION)

    # -- oracle ------------------------------------------------------------------------------
    oracle_dir = "/oracle"

    def oracle_actions(self) -> list[str]:
        """The shipped solution as bash commands the agent could have typed."""
        raise NotImplementedError

    def apply_oracle(self, sandbox: Sandbox) -> None:
        """Run `oracle_actions()` in a side shell as the agent's user; like Harbor and
        Terminal-Bench, whatever the solution's exit code, the tests decide."""
        for command in self.oracle_actions():
            sandbox.run(command, timeout=self.config.agent_timeout_s, session=ORACLE_SESSION)

    def _unpack(self, files: dict[str, bytes], dest: str) -> str:
        blob = _tar_b64(files)
        return f"mkdir -p {dest} && echo {blob} | base64 -d | tar -xzf - -C {dest}"

    def grade(self, sandbox: Sandbox) -> Grade:
        """Grade the sandbox after the agent phase (each format has its own)."""
        raise NotImplementedError

    def _grade_error(self, exc: Exception) -> Grade:
        return Grade(
            reward=0.0,
            resolved=False,
            error=f"grading {self.id} failed: {exc}",
            report={"task_id": self.id, "format": self.config.format},
        )

    def _read_text(self, sandbox: Sandbox, path: str) -> str | None:
        try:
            return sandbox.read(path).decode("utf-8", errors="replace")
        except SandboxFileError:
            return None

    def _graded_run(
        self,
        sandbox: Sandbox,
        setup: str,
        tests: dict[str, bytes],
        test: str,
        files: list[str],
        session: str,
        user: str = "root",
    ) -> tuple[ExecResult, dict[str, str | None]]:
        """Set up, copy the tests in, run `test` and read `files` back in one `sandbox.run`.

        `setup` (e.g. `rm -rf /tests && mkdir -p /tests`) runs first; the tests travel inside
        the command as a base64 tar unpacked to TESTS_DIR (when bigger than FOLD_TAR_BYTES, the
        tar goes first by one `write`, and the command unpacks it). After `test`, each of
        `files` that exists is printed, size first, between lines carrying a per-grading random
        nonce, so neither the tests' output nor the agent can forge them. Returns (the test run's
        result, with the test command's exit code; {path: text or None if absent}). A file
        that did not come back whole (bigger than FOLD_FILE_BYTES, a timeout, a cut output)
        is read with `sandbox.read` instead. When `session` runs as a `user` other than root,
        the set-up and the unpacking run first as root (one more round trip), the tests and the
        verifier folder are handed to that user, and the rest runs in `session`.
        """
        nonce = secrets.token_hex(12)
        blob = _tar_b64(tests, gzip=False)  # plain tar: no gzip process on the critical path
        if len(blob) <= FOLD_TAR_BYTES:
            unpack = f"echo {blob} | base64 -d | tar -xf - -C {TESTS_DIR}"
        else:  # large tests: one put_archive of the tar first, unpacked by the same command
            archive = f"/var/tmp/ale-tests-{nonce}.tar"
            sandbox.write(archive, base64.b64decode(blob), mode=0o600)
            unpack = f"tar -xf {archive} -C {TESTS_DIR} && rm -f {archive}"
        echo = "".join(
            f"if [ -f {shlex.quote(f)} ]; then printf '\\n{nonce} size %s %s\\n' "
            f'"$(wc -c < {shlex.quote(f)})" {shlex.quote(f)}; tail -c {FOLD_FILE_BYTES} {shlex.quote(f)}; '
            f"printf '\\n{nonce} end\\n'; fi; "
            for f in files
        )
        if user not in ("root", "0"):
            owned = f"chown -R {shlex.quote(user)} {TESTS_DIR} {VERIFIER_DIR}"
            first = sandbox.run(
                f"{{ {setup}; }} && {unpack} && mkdir -p {VERIFIER_DIR} && {owned}",
                timeout=self.config.test_timeout_s,
                session=SETUP_SESSION,
            )
            if not first.ok:
                raise SandboxError(f"cannot set up {TESTS_DIR}: {first.output[-500:]}")
            setup, unpack = "true", "true"
        command = (
            f"if {{ {setup}; }} && {unpack}; then {test}; __ale_rc=$?; {echo}"
            f"printf '\\n{nonce} rc %s\\n' $__ale_rc; (exit $__ale_rc); "
            f"else echo 'cannot set up {TESTS_DIR}' >&2; (exit 254); fi"
        )
        result = sandbox.run(command, timeout=self.config.test_timeout_s, session=session)
        found = _parse_fold(result.output, nonce)
        if found is None and not result.timed_out and result.exit_code == 254:
            raise SandboxError(
                f"cannot create {TESTS_DIR} or unpack the tests: {result.output[-500:]}"
            )
        texts = {f: _MISSING if found is None else found.get(f) for f in files}
        for f in files:
            if texts[f] is _MISSING:
                texts[f] = self._read_text(sandbox, f)
        return result, texts

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r})"


_MISSING = "\x00missing"  # a file whose content did not come back whole


def _parse_fold(output: str, nonce: str) -> dict[str, str | None] | None:
    """{path: text, or _MISSING if it came back cut} from a graded run's output.

    None when the closing `rc` line is absent (timeout, dead shell, output cut in the middle).
    """
    if f"\n{nonce} rc " not in output:
        return None
    texts: dict[str, str | None] = {}
    start = f"\n{nonce} size "
    for chunk in output.split(start)[1:]:
        header, _, rest = chunk.partition("\n")
        size_text, _, path = header.partition(" ")
        body, sep, _ = rest.partition(f"\n{nonce} end\n")
        whole = (
            sep
            and size_text.strip().isdigit()
            and len(body.encode("utf-8", "replace")) >= int(size_text)
        )
        texts[path] = body if whole and int(size_text) <= FOLD_FILE_BYTES else _MISSING
    return texts


class TerminalBenchTask(FolderTask):
    """A Terminal-Bench task folder (task.yaml, Dockerfile, run-tests.sh, tests/, solution)."""

    def oracle_actions(self) -> list[str]:
        """`bash /oracle/solution.sh` in the agent's shell (Terminal-Bench's oracle agent), or
        the commands of solution.yaml one by one."""
        path = self.config.path
        if (path / "solution.sh").is_file():
            files = {"solution.sh": (path / "solution.sh").read_bytes()}
            unpack = self._unpack(files, self.oracle_dir)
            return [f"{unpack} && cd {shlex.quote(self.workdir)} && bash /oracle/solution.sh"]
        if (path / "solution.yaml").is_file():
            return [f"cd {shlex.quote(self.workdir)}", *self._solution_yaml(path / "solution.yaml")]
        raise TaskError(
            f"{self.id}: no solution.sh or solution.yaml in {path}; the oracle needs one"
        )

    def _solution_yaml(self, file: Path) -> list[str]:
        try:
            steps = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise TaskError(f"{file}: invalid YAML ({exc})") from exc
        if not isinstance(steps, list) or not all(
            isinstance(s, dict) and isinstance(s.get("command"), str) for s in steps
        ):
            raise TaskError(f"{file}: expected a list of {{command: ...}} entries")
        return [str(s["command"]) for s in steps]

    def grade(self, sandbox: Sandbox) -> Grade:
        """Copy tests in, run run-tests.sh, parse its log: one `sandbox.run` (see `_graded_run`).

        As Terminal-Bench: `bash /tests/run-tests.sh` with TEST_DIR=/tests, as root in a fresh
        shell in the image's WORKDIR, or in the agent's own shell (its user, cwd and exports)
        when `run_tests_in_same_shell`; the log is parsed by `parser_name`.
        """
        c = self.config
        files = {**_read_tree(c.tests_dir), "run-tests.sh": (c.path / "run-tests.sh").read_bytes()}
        setup = f"rm -rf {TESTS_DIR} && mkdir -p {TESTS_DIR} {Path(TB_LOG).parent}"
        run = f"TEST_DIR={TESTS_DIR} bash {TESTS_DIR}/run-tests.sh > {TB_LOG} 2>&1"
        try:
            if c.run_tests_in_same_shell:  # where the agent's shell is, as Terminal-Bench does
                result, texts = self._graded_run(
                    sandbox, setup, files, run, [TB_LOG], "default", self.agent_user
                )
            else:  # a fresh shell: the agent's exports and aliases do not reach it
                result, texts = self._graded_run(
                    sandbox,
                    setup,
                    files,
                    f"cd {shlex.quote(self.workdir)} && {run}",
                    [TB_LOG],
                    GRADE_SESSION,
                    self.verifier_user,
                )
            log = texts[TB_LOG] or result.output
        except SandboxError as exc:
            return self._grade_error(exc)
        tests = PARSERS[c.parser_name](log)
        ok = resolved(tests) and not result.timed_out
        report = {
            "task_id": self.id,
            "format": c.format,
            "parser_name": c.parser_name,
            "exit_code": result.exit_code,
            "timed_out": result.timed_out,
            "test_timeout_s": c.test_timeout_s,
            "tests_passed": sum(s in PASSING for s in tests.values()),
            "tests_total": len(tests),
        }
        if result.timed_out:
            report["note"] = f"run-tests.sh timed out after {c.test_timeout_s:g} s"
        elif not tests:
            report["note"] = (
                f"no test results in the log ({c.parser_name} parser): the tests "
                "crashed before reporting, or run-tests.sh lacks pytest's -rA"
            )
        return Grade(
            reward=1.0 if ok else 0.0, resolved=ok, tests=tests, log=log[-LOG_CHARS:], report=report
        )


class HarborTask(FolderTask):
    """A Harbor task folder (task.toml, instruction.md, environment/, tests/test.sh, solution/)."""

    oracle_dir = "/solution"

    def oracle_actions(self) -> list[str]:
        """Harbor's oracle agent: solution/ copied to /solution, solve.sh made executable and
        run in the workdir with [solution.env], its output kept in /logs/agent/oracle.txt."""
        folder = self.config.path / "solution"
        if not (folder / "solve.sh").is_file():
            raise TaskError(
                f"{self.id}: no solution/solve.sh in {self.config.path}; the oracle needs it"
            )
        env = {"DEBIAN_FRONTEND": "noninteractive", **self.config.solution_env}
        exports = "".join(f"export {k}={shlex.quote(v)}; " for k, v in env.items())
        return [
            f"{self._unpack(_read_tree(folder), self.oracle_dir)} && "
            f"chmod +x {self.oracle_dir}/solve.sh && mkdir -p /logs/agent && "
            f"cd {shlex.quote(self.workdir)} && "
            f"({exports}{self.oracle_dir}/solve.sh) > /logs/agent/oracle.txt 2>&1; "
            "__rc=$?; tail -c 2000 /logs/agent/oracle.txt; "
            'echo "[solve.sh exited $__rc; its output is in /logs/agent/oracle.txt]"; '
            "(exit $__rc)"
        ]

    def grade(self, sandbox: Sandbox) -> Grade:
        """Copy tests in, run tests/test.sh, read the reward file it wrote: one `sandbox.run`.

        As Harbor: artifacts collected first, then test.sh made executable and run in the
        workdir as the verifier's user with [verifier.env], its output in
        /logs/verifier/test-stdout.txt; the reward is reward.json's, else reward.txt's.
        """
        c = self.config
        report: dict[str, Any] = {"task_id": self.id, "format": c.format}
        files: dict[str, bytes] = {}
        if c.artifacts or c.collect:
            files, report["artifacts"] = collect_artifacts(self, sandbox)
        stdout = f"{VERIFIER_DIR}/test-stdout.txt"
        reward_files = [f"{VERIFIER_DIR}/reward.json", f"{VERIFIER_DIR}/reward.txt"]
        setup = f"rm -rf {TESTS_DIR} {VERIFIER_DIR} && mkdir -p {TESTS_DIR} {VERIFIER_DIR}"
        exports = "".join(f"export {k}={shlex.quote(v)}; " for k, v in c.verifier_env.items())
        test = (
            f"cd {shlex.quote(self.workdir)} && chmod +x {TESTS_DIR}/test.sh 2>/dev/null; "
            f"({exports}{TESTS_DIR}/test.sh) > {stdout} 2>&1"
        )
        try:
            result, texts = self._graded_run(
                sandbox,
                setup,
                _read_tree(c.tests_dir),
                test,
                [*reward_files, stdout],
                GRADE_SESSION,
                self.verifier_user,
            )
            log = texts[stdout] or result.output
            reward_json, reward_txt = texts[reward_files[0]], texts[reward_files[1]]
        except SandboxError as exc:
            return self._grade_error(exc)
        reward, rewards, problem = read_reward(reward_json, reward_txt)
        if result.timed_out:
            reward, problem = 0.0, f"tests/test.sh timed out after {c.test_timeout_s:g} s"
        report.update(
            rewards=rewards,
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            test_timeout_s=c.test_timeout_s,
        )
        if problem:
            report["verifier_problem"] = problem
        return Grade(
            reward=reward,
            resolved=reward >= 1.0,
            tests=parse_pytest(log),
            log=log[-LOG_CHARS:],
            report=report,
            files=files,
        )


def read_reward(
    reward_json: str | None, reward_txt: str | None
) -> tuple[float, dict[str, float], str | None]:
    """(reward, all numeric rewards, problem) from Harbor's reward files, as Harbor reads them.

    reward.json wins when present: its numeric fields; the scalar is its `reward` key, else
    reward.txt's number, else its only value. A missing, empty or unparsable file gives reward
    0.0 and a `problem` text (a verdict on the agent's work, not an infrastructure failure).
    """
    rewards: dict[str, float] = {}
    text_value: float | None = None
    problem: str | None = None
    if reward_txt is not None:
        try:
            text_value = float(reward_txt.strip())
        except ValueError:
            problem = f"reward.txt holds {reward_txt.strip()[:50]!r}, not a number"
    if reward_json is not None:
        try:
            parsed = json.loads(reward_json)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            return 0.0, {}, "reward.json is not a JSON object"
        rewards = {
            k: float(v)
            for k, v in parsed.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        if "reward" not in rewards and text_value is not None:
            rewards["reward"] = text_value
        if "reward" in rewards:
            return rewards["reward"], rewards, None
        if len(rewards) == 1:
            return next(iter(rewards.values())), rewards, None
        return 0.0, rewards, "reward.json has no `reward` key and not exactly one numeric value"
    if text_value is not None:
        return text_value, {"reward": text_value}, None
    return 0.0, {}, problem or f"tests/test.sh wrote no {VERIFIER_DIR}/reward.txt or reward.json"
