"""The `ale` command: one Typer app; each part of ALE-Gym contributes its sub-commands."""

from __future__ import annotations

import typer

from envs.rock.cli import images_app, sandbox_app

app = typer.Typer(
    help="ALE-Gym: sandboxes, chunk-level envs, agents, IPA training and benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(images_app, name="images")
app.add_typer(sandbox_app, name="sandbox")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
