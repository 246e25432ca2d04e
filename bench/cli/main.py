"""The `ale` command: one Typer app; each part of ALE-Gym contributes its sub-commands."""

from __future__ import annotations

import typer

from agents.cli import register as register_agent_commands
from bench.cli.perf import perf_app
from bench.cli.run_cmds import register_bench_commands
from envs.rock.cli import images_app, sandbox_app
from envs.suites.swebench.cli import pull_cmd
from rl.cli import train_cmd

app = typer.Typer(
    help="ALE-Gym: sandboxes, chunk-level envs, agents, IPA training and benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
images_app.command("pull")(pull_cmd)
app.add_typer(images_app, name="images")
app.add_typer(sandbox_app, name="sandbox")
bench_app = typer.Typer(help="Evaluation harness and performance benchmarks.", no_args_is_help=True)
bench_app.add_typer(perf_app, name="perf")
register_bench_commands(bench_app)
app.add_typer(bench_app, name="bench")
app.command("train")(train_cmd)
register_agent_commands(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
