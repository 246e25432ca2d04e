"""The `ale` command: one Typer app; each part of ALE-Gym contributes its sub-commands."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from agents.cli import register as register_agent_commands
from agents.errors import AgentError
from bench.cli.perf import perf_app
from bench.cli.run_cmds import register_bench_commands
from bench.interrupt import Interrupted
from envs.core.config import ConfigError
from envs.core.errors import EnvError
from envs.rock.cli import images_app, sandbox_app
from envs.rock.errors import SandboxError
from envs.suites.swebench.cli import pull_cmd
from rl.cli import train_cmd
from rl.data.cli import data_app
from rl.sft.cli import sft_cmd

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
app.add_typer(data_app, name="data")
app.command("sft")(sft_cmd)
register_agent_commands(app)


#: Exceptions that mean "the input was wrong" (or the machine lacks something); their messages
#: name the fix. Anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, EnvError, AgentError, SandboxError)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error (or ALE_DEBUG=1).")
    ] = False,
) -> None:
    """ALE-Gym: sandboxes, chunk-level envs, agents, IPA training and benchmarks."""


def one_line(exc: BaseException) -> str:
    """`exc`'s message on one line (config errors list their mistakes on several)."""
    out = ""
    for line in (line.strip() for line in str(exc).splitlines()):
        if line:
            out += (" " if not out or out.endswith(":") else "; ") + line
    return out.strip() or type(exc).__name__


def main(argv: list[str] | None = None) -> None:
    """The `ale` console script. A user error prints one line, `error: ...`, and exits 2; its
    traceback only with `--debug` (anywhere on the command line) or `ALE_DEBUG=1`. A signal
    that stopped `ale bench run | grade` while none of its sandboxes existed (`Interrupted`)
    prints one line and exits 130 / 143."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("ALE_DEBUG", "") not in ("", "0")
    args = [a for a in args if a != "--debug"]
    try:
        app(args=args, prog_name="ale")
    except USER_ERRORS as exc:
        if debug:
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as exc:
        print(
            f"{exc} (none of its sandboxes was running); run the same command to go on",
            file=sys.stderr,
        )
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
