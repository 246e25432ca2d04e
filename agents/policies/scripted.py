"""Scripted policies: play a fixed list of actions (tests, demos, expert replays).

`ScriptedPolicy(actions)` returns action i at turn i. `GuidedPolicy(actions, inner)` asks a
real model (`inner`, e.g. an OpenAI-compatible server or the HF engine) for each turn but
constrains decoding to the scripted action (`guided_choice`), so the episode is scripted while
the tokens and log-probs are the model's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from agents.errors import PolicyError
from agents.policies.base import EpisodeContext, PolicyOutput, register_policy


def load_actions(path: str | Path) -> list[str]:
    """Actions from a YAML/JSON list file, or a text file with actions separated by lines of `---`
    (a text file without `---` has one action per non-empty line)."""
    p = Path(path)
    if not p.is_file():
        raise PolicyError(
            f"scripted policy: no file {str(path)!r}; give scripted:FILE with a list of actions"
        )
    text = p.read_text()
    if p.suffix in (".yaml", ".yml", ".json"):
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        if isinstance(data, dict):
            data = data.get("actions")
        if not isinstance(data, list) or not all(isinstance(a, str) for a in data):
            raise PolicyError(f"{path}: expected a list of strings (or a mapping with 'actions')")
        return list(data)
    if any(line.strip() == "---" for line in text.splitlines()):
        parts: list[str] = []
        cur: list[str] = []
        for line in text.splitlines():
            if line.strip() == "---":
                parts.append("\n".join(cur).strip("\n"))
                cur = []
            else:
                cur.append(line)
        parts.append("\n".join(cur).strip("\n"))
        return [a for a in parts if a.strip()]
    return [line for line in text.splitlines() if line.strip()]


class ScriptedPolicy:
    """Plays `actions` in order; after the last one it repeats `fallback` (default: the last)."""

    def __init__(
        self, actions: list[str], name: str = "scripted", fallback: str | None = None
    ) -> None:
        if not actions:
            raise PolicyError("scripted policy needs at least one action")
        self.actions = list(actions)
        self.name = name
        self.fallback = fallback
        self._i = 0

    def start_episode(self, context: EpisodeContext) -> None:
        self._i = 0

    def next_action(self) -> str:
        i = self._i
        self._i += 1
        if i < len(self.actions):
            return self.actions[i]
        return self.fallback if self.fallback is not None else self.actions[-1]

    def act(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> PolicyOutput:
        return PolicyOutput(text=self.next_action())


class GuidedPolicy:
    """A scripted episode through a real model: `inner.act(..., guided_choice=[action])`."""

    def __init__(self, actions: list[str], inner: Any, name: str | None = None) -> None:
        self.script = ScriptedPolicy(actions)
        self.inner = inner
        self.name = name or f"guided({getattr(inner, 'name', 'model')})"
        if hasattr(
            inner, "count_tokens"
        ):  # the loop's context policy counts with the model's tokenizer
            self.count_tokens = inner.count_tokens

    def start_episode(self, context: EpisodeContext) -> None:
        self.script.start_episode(context)
        self.inner.start_episode(context)

    def act(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> PolicyOutput:
        return self.inner.act(messages, tools, guided_choice=[self.script.next_action()])  # type: ignore[no-any-return]


def _factory(arg: str | None, **options: Any) -> ScriptedPolicy:
    if not arg:
        raise PolicyError(
            "scripted policy: write scripted:FILE (a YAML/JSON list or a text file of actions)"
        )
    return ScriptedPolicy(load_actions(arg), name=f"scripted:{Path(arg).name}")


register_policy("scripted", _factory)
