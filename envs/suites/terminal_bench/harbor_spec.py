"""Harbor's `task.toml`, every key of the current schema (1.4) and of the older ones.

Field names, types and defaults are Harbor's (`harbor.models.task.config`, harbor 0.26);
docs/environments.md has the table of what ALE-Gym does with each. The older schema is the
same tables without `schema_version` (`version = "1.0"`, `memory = "4G"`, `storage`,
`allow_internet`); `version` is read as `schema_version`, as Harbor reads it.

`refusals(config)` lists the keys we know but cannot honour (Windows containers, GPUs, MCP
servers, multi-step tasks, a separate verifier container): each makes the task a task error
with that one-line reason.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from envs.core.config import OpenModel

NetworkMode = Literal["no-network", "public", "allowlist"]


class Author(OpenModel):
    name: str
    email: str | None = None


class PackageInfo(OpenModel):
    """[task]: the package's identity in Harbor's registry (kept as metadata)."""

    name: str
    version: str | None = None
    description: str = ""
    authors: list[Author] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)


class PhaseNetwork(OpenModel):
    network_mode: NetworkMode | None = None
    allowed_hosts: list[str] | None = None


class AgentSection(PhaseNetwork):
    """[agent]: the agent phase's time limit and OS user (None: the image's USER)."""

    timeout_sec: float | None = None
    user: str | int | None = None


class Healthcheck(OpenModel):
    """[environment.healthcheck]: Docker HEALTHCHECK semantics, run before the agent starts."""

    command: str
    interval_sec: float = 5.0
    timeout_sec: float = 30.0
    start_period_sec: float = 0.0
    start_interval_sec: float = 5.0
    retries: int = 3


class MCPServer(OpenModel):
    name: str
    transport: str = "sse"
    url: str | None = None
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)


class Tpu(OpenModel):
    type: str
    topology: str


class EnvironmentSection(PhaseNetwork):
    """[environment]: image, resources, network, working directory, variables."""

    build_timeout_sec: float = 600.0
    docker_image: str | None = None
    os: str = "linux"
    cpus: float | None = None
    memory_mb: int | None = None
    storage_mb: int | None = None
    gpus: int | None = None
    gpu_types: list[str] | None = None
    tpu: Tpu | None = None
    mcp_servers: list[MCPServer] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    skills_dir: str | None = None
    healthcheck: Healthcheck | None = None
    workdir: str | None = None
    allow_internet: bool | None = None
    memory: str | None = None  # schema < 1.2: "4G", "512M"
    storage: str | None = None  # schema < 1.2

    @field_validator("os", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("env", mode="before")
    @classmethod
    def _env_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}
        return value

    @property
    def network(self) -> NetworkMode:
        """`network_mode`, else the deprecated `allow_internet`, else Harbor's default (public)."""
        if self.network_mode is not None:
            return self.network_mode
        if self.allow_internet is not None:
            return "public" if self.allow_internet else "no-network"
        return "public"


class CollectHook(OpenModel):
    """[[verifier.collect]]: a command run in a service after the agent phase."""

    command: str
    service: str = "main"
    timeout_sec: float = 60.0
    user: str | int | None = None


class VerifierSection(PhaseNetwork):
    """[verifier]: the test phase's time limit, OS user and variables."""

    timeout_sec: float = 600.0
    env: dict[str, str] = Field(default_factory=dict)
    user: str | int | None = None
    environment_mode: Literal["shared", "separate"] | None = None
    environment: EnvironmentSection | None = None
    collect: list[CollectHook] = Field(default_factory=list)

    @field_validator("env", mode="before")
    @classmethod
    def _env_strings(cls, value: Any) -> Any:
        return EnvironmentSection._env_strings(value)


class SolutionSection(OpenModel):
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("env", mode="before")
    @classmethod
    def _env_strings(cls, value: Any) -> Any:
        return EnvironmentSection._env_strings(value)


class Artifact(OpenModel):
    """One `artifacts` entry: a path copied out of the sandbox after the agent phase."""

    source: str
    destination: str | None = None
    exclude: list[str] = Field(default_factory=list)
    service: str | None = None

    @field_validator("source")
    @classmethod
    def _no_parent(cls, value: str) -> str:
        if ".." in value.split("/"):
            raise ValueError("an artifact source must not contain '..'")
        return value

    @field_validator("destination")
    @classmethod
    def _relative(cls, value: str | None) -> str | None:
        if value and (value.startswith("/") or ".." in value.split("/")):
            raise ValueError("an artifact destination must be a relative path without '..'")
        return value or None


class Step(OpenModel):
    name: str
    agent: AgentSection = Field(default_factory=AgentSection)
    verifier: VerifierSection = Field(default_factory=VerifierSection)
    min_reward: float | dict[str, float] | None = None
    healthcheck: Healthcheck | None = None
    artifacts: list[str | Artifact] = Field(default_factory=list)


class HarborTaskFile(OpenModel):
    """One task.toml (schema 1.4; `version` of older files is read as `schema_version`)."""

    schema_version: str = "1.0"
    task: PackageInfo | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    verifier: VerifierSection = Field(default_factory=VerifierSection)
    agent: AgentSection = Field(default_factory=AgentSection)
    environment: EnvironmentSection = Field(default_factory=EnvironmentSection)
    solution: SolutionSection = Field(default_factory=SolutionSection)
    source: str | None = None
    multi_step_reward_strategy: Literal["mean", "final"] | None = None
    multi_step_reward_mode: str | None = None  # before schema 1.3; Harbor drops it
    steps: list[Step] | None = None
    artifacts: list[str | Artifact] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _version_rename(cls, data: Any) -> Any:
        if isinstance(data, dict) and "version" in data:
            data = dict(data)
            data.setdefault("schema_version", data.pop("version"))
        if isinstance(data, dict) and not isinstance(data.get("schema_version", ""), str):
            data = {**data, "schema_version": str(data["schema_version"])}
        return data

    def artifact_entries(self) -> list[Artifact]:
        return [Artifact(source=a) if isinstance(a, str) else a for a in self.artifacts]


def refusals(config: HarborTaskFile, compose: bool) -> list[str]:
    """Why this task cannot run here (empty when it can): one clause per key we cannot honour."""
    env, ver = config.environment, config.verifier
    out = []
    if env.os != "linux":
        out.append(
            f"[environment] os = {env.os!r}: ALE-Gym sandboxes are Linux containers "
            "(Harbor runs Windows tasks only on a Windows Docker host)"
        )
    if env.gpus:
        out.append(
            f"[environment] gpus = {env.gpus}: ALE-Gym sandboxes have no GPUs "
            "(run the task with Harbor on a GPU host)"
        )
    if env.tpu is not None:
        out.append("[environment] tpu: ALE-Gym sandboxes have no TPUs")
    if env.mcp_servers:
        names = ", ".join(s.name for s in env.mcp_servers)
        out.append(
            f"[environment] mcp_servers ({names}): ALE-Gym agents have no MCP client, "
            "so the task's servers would be unreachable"
        )
    if config.steps:
        out.append(
            f"[[steps]] ({len(config.steps)} steps): multi-step tasks are not supported yet "
            "(each step needs its own instruction, tests and reward)"
        )
    if ver.environment_mode == "separate" or ver.environment is not None:
        out.append(
            "[verifier] environment_mode = 'separate' / [verifier.environment]: ALE-Gym grades "
            "in the agent's own sandbox (shared mode) only"
        )
    sidecar = [h.service for h in ver.collect if h.service != "main"]
    sidecar += [a.service for a in config.artifact_entries() if a.service not in (None, "main")]
    if sidecar and not compose:
        out.append(
            f"service {sidecar[0]!r} named by [[verifier.collect]] / artifacts, but the task "
            "has no environment/docker-compose.yaml"
        )
    return out
