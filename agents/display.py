"""Live terminal view of an episode (rich): one panel per chunk as it finishes, then the outcome."""

from __future__ import annotations

from typing import Any

from agents.trajectory import ChunkRecord, EpisodeRecord


def _clip(text: str, lines: int = 30) -> str:
    parts = text.splitlines()
    if len(parts) <= lines:
        return text
    half = lines // 2
    return "\n".join(parts[:half] + [f"... ({len(parts) - lines} lines) ..."] + parts[-half:])


class EpisodeDisplay:
    """Prints the episode to a rich `Console`; `chunk` is the loop's `on_chunk` callback."""

    def __init__(self, console: Any, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled

    def start(self, task: str, agent: str, policy: str, path: str) -> None:
        if self.enabled:
            self.console.rule(f"[bold]{task}[/bold]  agent={agent}  policy={policy}")
            self.console.print(f"trajectory: {path}")

    def chunk(self, c: ChunkRecord) -> None:
        if not self.enabled:
            return
        from rich.panel import Panel
        from rich.text import Text

        flags = [
            f
            for f, on in (
                ("format error", c.format_error),
                ("infra error", c.infra_error),
                ("forced", c.forced),
            )
            if on
        ]
        title = (
            f"turn {c.index + 1}  tool={c.tool}  exit={c.exit_code}  reward={c.reward:g}"
            f"  {c.wall_s:.2f}s" + (f"  [{', '.join(flags)}]" if flags else "")
        )
        body = Text()
        body.append(_clip(c.response, 20) + "\n", style="cyan")
        body.append("-> " + _clip(c.observation), style="white")
        self.console.print(Panel(body, title=title, title_align="left"))

    def end(self, r: EpisodeRecord) -> None:
        if self.enabled:
            style = "green" if r.reward > 0 else "red"
            self.console.rule(
                f"[{style}]reward {r.reward:g}[/{style}]  stop={r.stop_reason}  chunks={len(r.chunks)}"
                f"  {r.timings.get('total_s', 0):.1f}s"
            )
