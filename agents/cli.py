"""`ale run`, `ale serve`, `ale models tiny`: the agents' commands (mounted in bench/cli/main.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

models_app = typer.Typer(help="Local models.", no_args_is_help=True)


def _kv(items: list[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: write KEY=VALUE")
        out[key] = yaml.safe_load(raw)
    return out


def _make_env(
    env_id: str | None, suite: str | None, agent: Any, backend: str, env_args: dict[str, Any]
) -> Any:
    import gymnasium

    import envs.registration  # noqa: F401  (registers the ale/ ids)

    if env_id is None and suite is None:
        raise typer.BadParameter(
            "give --env ID (e.g. ale/ToyShell-v0) or --suite NAME (e.g. tb-mini)"
        )
    chunk_args = {
        "action_format": agent.action_format,
        "tools": list(agent.tools),
        "backend": backend,
        "max_turns": agent.limits.max_turns + 1,
    }
    if agent.policy:  # the agent config's sandbox permissions (`policy:` block)
        chunk_args["sandbox_policy"] = agent.policy
    if suite is not None:
        from envs.core.env import ChunkEnv

        return ChunkEnv(suite=suite, **{**chunk_args, **env_args})
    assert env_id is not None
    spec = gymnasium.spec(env_id)
    if str(spec.entry_point).endswith(":ChunkEnv"):
        env_args = {**chunk_args, **env_args}
    return gymnasium.make(env_id, **env_args)


def run(
    task: Annotated[str, typer.Option("--task", "-t", help="Task id.")],
    env_id: Annotated[
        str | None,
        typer.Option("--env", help="Gymnasium id, e.g. ale/ToyShell-v0 or ale/TBMini-v0."),
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option("--suite", help="Suite name or path for a ChunkEnv (instead of --env)."),
    ] = None,
    agent: Annotated[
        str, typer.Option("--agent", "-a", help="Agent config: swe, terminal, toy, or a YAML path.")
    ] = "swe",
    policy: Annotated[
        str, typer.Option("--policy", "-p", help="Policy spec, e.g. tiny, openai:M@URL, human.")
    ] = "oracle",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Trajectory JSONL (default runs/<task>.jsonl)."),
    ] = None,
    backend: Annotated[
        str, typer.Option(help="Sandbox backend for ChunkEnv: docker, local, auto.")
    ] = "auto",
    override: Annotated[
        list[str] | None, typer.Option("--set", help="Config override a.b=c (repeatable).")
    ] = None,
    env_arg: Annotated[
        list[str] | None, typer.Option("--env-arg", help="Env kwarg KEY=VALUE (repeatable).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live display.")] = False,
) -> None:
    """Run one task with one agent, showing the episode live; the trajectory is flushed per chunk."""
    from rich.console import Console

    from agents.config import AgentConfig
    from agents.display import EpisodeDisplay
    from agents.errors import AgentError
    from agents.loop import run_episode
    from agents.policies import make_policy
    from envs.core.config import ConfigError

    console = Console(stderr=False)
    try:
        cfg = AgentConfig.load(
            agent, overrides=override or []
        )  # config errors: before any sandbox starts
        uses_sampling = policy.split(":")[0] in ("hf", "tiny", "openai", "vllm")
        pol = make_policy(policy, sampling=cfg.sampling) if uses_sampling else make_policy(policy)
    except (AgentError, ConfigError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    path = out or Path("runs") / f"{task}.jsonl"
    env = _make_env(env_id, suite, cfg, backend, _kv(env_arg or []))
    display = EpisodeDisplay(console, enabled=not quiet)
    try:
        display.start(task, cfg.name, policy, str(path))
        record = run_episode(env, cfg, pol, task, path, on_chunk=display.chunk, policy_name=policy)
        display.end(record)
    finally:
        env.close()


def serve(
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model directory (HF format) or `tiny`.")
    ],
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port (0: a free one; the URL served is printed).")
    ] = 8000,
    device: Annotated[str, typer.Option(help="torch device.")] = "cpu",
    name: Annotated[str | None, typer.Option(help="Model id served (default: --model).")] = None,
) -> None:
    """Serve a transformers model over an OpenAI-compatible API (/v1/chat/completions, logprobs)."""
    from agents.server import serve as _serve

    _serve(model, host=host, port=port, device=device, model_name=name)


@models_app.command("tiny")
def models_tiny(
    path: Annotated[
        Path | None, typer.Option(help="Where to build it (default ale_home()/models/tiny).")
    ] = None,
) -> None:
    """Build the tiny local chat model (random init + trained BPE tokenizer); prints its path."""
    from agents.tiny_model import ensure_tiny_model

    typer.echo(str(ensure_tiny_model(path)))


def register(app: typer.Typer) -> None:
    """Mount the agents' commands on the `ale` app."""
    app.command("run")(run)
    app.command("serve")(serve)
    app.add_typer(models_app, name="models")
