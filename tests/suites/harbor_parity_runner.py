"""Runs Harbor's own trials on task folders; executed by a Python >= 3.12 with `harbor` installed.

Not collected by pytest (it imports `harbor`); `test_harbor_parity.py` runs it as

    python harbor_parity_runner.py trial JOBS.json     # -> {"<task>/<agent>": reward | "error: ..."}
    python harbor_parity_runner.py map SRC DST         # Harbor's Terminal-Bench -> Harbor mapper

Everything of a trial is Harbor's (`Trial`, its `oracle` / `nop` agents, `Verifier`, the
reward files, users, workdir and env handling in `BaseEnvironment`) except the container
provider: these machines have no `docker compose`, which Harbor's docker environment drives,
so `LocalImageEnvironment` starts the task's main container from a local image and runs
`docker exec` / `docker cp` with the arguments `docker compose exec` would get (`-w`, `-e`,
`-u`, `bash -c`). Its container has no network, and the log folders Harbor would mount are
created world-writable.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from harbor.environments.base import BaseEnvironment, ExecResult
from harbor.environments.capabilities import EnvironmentCapabilities
from harbor.models.trial.config import AgentConfig, EnvironmentConfig, TrialConfig
from harbor.models.trial.config import TaskConfig as TrialTask
from harbor.trial.trial import Trial

LOG_DIRS = ("/logs/agent", "/logs/verifier", "/logs/artifacts")


def _docker(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, timeout=600)


class LocalImageEnvironment(BaseEnvironment):
    """A task's main container from a local image, driven like `docker compose exec`."""

    def __init__(self, *args: Any, image: str, **kwargs: Any) -> None:
        self._image = image
        self._cid = ""
        super().__init__(*args, **kwargs)

    @staticmethod
    def type() -> str:
        return "ale-parity-local-image"

    @property
    def capabilities(self) -> EnvironmentCapabilities:
        return EnvironmentCapabilities(disable_internet=True)

    def _validate_definition(self) -> None:
        return None

    async def start(self, force_build: bool) -> None:
        name = f"ale-parity-{uuid.uuid4().hex[:10]}"
        run = _docker(
            "run", "-d", "--name", name, "--network", "none", "--label", "ale.parity=1",
            self._image, "sleep", "infinity",
        )  # fmt: skip
        if run.returncode != 0:
            raise RuntimeError(run.stderr.decode())
        self._cid = run.stdout.decode().strip()
        dirs = " ".join(LOG_DIRS)
        _docker("exec", "-u", "0", self._cid, "sh", "-c", f"mkdir -p {dirs} && chmod 0777 {dirs}")

    async def stop(self, delete: bool) -> None:
        if self._cid:
            _docker("rm", "-f", self._cid)

    async def exec(
        self,
        command: str,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        timeout_sec: int | None = None,
        user: str | int | None = None,
    ) -> ExecResult:
        args = ["docker", "exec", "-i"]
        cwd = cwd or self.task_env_config.workdir
        if cwd:
            args += ["-w", cwd]
        for key, value in (self._merge_env(env) or {}).items():
            args += ["-e", f"{key}={value}"]
        resolved = self._resolve_user(user)
        if resolved is not None:
            args += ["-u", str(resolved)]
        args += [self._cid, "bash", "-c", command]
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout_sec)
        except asyncio.TimeoutError:
            proc.kill()
            raise
        return ExecResult(
            stdout=out.decode(errors="replace"),
            stderr=err.decode(errors="replace"),
            return_code=proc.returncode or 0,
        )

    async def upload_file(self, source_path: Path | str, target_path: str) -> None:
        parent = str(Path(target_path).parent)
        _docker("exec", "-u", "0", self._cid, "mkdir", "-p", parent)
        _docker("cp", str(source_path), f"{self._cid}:{target_path}")

    async def upload_dir(self, source_dir: Path | str, target_dir: str) -> None:
        _docker("exec", "-u", "0", self._cid, "mkdir", "-p", target_dir)
        _docker("cp", f"{source_dir}/.", f"{self._cid}:{target_dir}")

    async def download_file(self, source_path: str, target_path: Path | str) -> None:
        Path(target_path).parent.mkdir(parents=True, exist_ok=True)
        _docker("cp", f"{self._cid}:{source_path}", str(target_path))

    async def download_dir(self, source_dir: str, target_dir: Path | str) -> None:
        Path(target_dir).mkdir(parents=True, exist_ok=True)
        _docker("cp", f"{self._cid}:{source_dir}/.", str(target_dir))


async def _trial(job: dict[str, str]) -> tuple[str, object]:
    config = TrialConfig(
        task=TrialTask(path=Path(job["task_dir"])),
        trials_dir=Path(job["trials_dir"]),
        agent=AgentConfig(name=job["agent"]),
        environment=EnvironmentConfig(
            import_path=f"{Path(__file__).stem}:LocalImageEnvironment",
            kwargs={"image": job["image"]},
        ),
    )
    key = f"{Path(job['task_dir']).name}/{job['agent']}"
    try:
        result = await (await Trial.create(config)).run()
    except Exception as exc:  # reported per job
        return key, f"error: {type(exc).__name__}: {exc}"
    if result.verifier_result is None or not result.verifier_result.rewards:
        info = result.exception_info
        return key, f"error: no verifier result ({info.exception_type if info else 'none'})"
    return key, result.verifier_result.rewards.get("reward")


async def _trials(jobs: list[dict[str, str]]) -> dict[str, object]:
    gate = asyncio.Semaphore(4)

    async def one(job: dict[str, str]) -> tuple[str, object]:
        async with gate:
            return await _trial(job)

    return dict(await asyncio.gather(*(one(j) for j in jobs)))


def main(argv: list[str]) -> int:
    if argv[0] == "trial":
        jobs = json.loads(Path(argv[1]).read_text())
        print(json.dumps(asyncio.run(_trials(jobs))))
        return 0
    if argv[0] == "map":
        from harbor.mappers.terminal_bench import TerminalBenchMapper

        result = TerminalBenchMapper().map(Path(argv[1]), Path(argv[2]))
        print(json.dumps({"mapped": [p.name for p in result.mapped], "failed": result.failed}))
        return 0
    return 2


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main(sys.argv[1:]))
