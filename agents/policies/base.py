"""The `Policy` protocol, its output record, and the `make_policy` registry.

A policy turns a list of chat messages into one assistant turn (`PolicyOutput`). Policies
that run their own engine (HF, vLLM, an OpenAI-compatible server returning token ids) also
report the exact prompt ids the engine was fed, the ids it sampled and their log-probs:
these are never recovered by re-tokenizing text (see `agents.trajectory`).

`make_policy(spec)` builds a policy from a short spec string::

    oracle | empty                      reference policies (agents.policies.oracle)
    scripted:FILE                       one action per entry of FILE (YAML/JSON list or text)
    openai:MODEL@http://host:port/v1    any OpenAI-compatible endpoint (official SDK)
    hf:PATH | tiny                      transformers engine (tiny = the local tiny model)
    vllm:PATH                           in-process vLLM (gpu extra)
    human                               type each turn in the terminal
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agents.errors import PolicyError
from envs.core.errors import did_you_mean


@dataclass
class PolicyOutput:
    """One assistant turn.

    `prompt_ids` are exactly the ids the engine was fed and `response_ids` exactly the ids it
    sampled (None when the backend cannot tell); `logprobs[i]` is the natural-log probability
    of `response_ids[i]` under the rollout engine (raw model distribution, temperature 1).
    """

    text: str
    tool_calls: list[dict[str, Any]] | None = None
    prompt_ids: list[int] | None = None
    response_ids: list[int] | None = None
    logprobs: list[float] | None = None
    finish_reason: str = "stop"
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0}
    )
    policy_version: int | None = None
    #: how the prompt ids were built: "render" (chat template over all messages), "append"
    #: (previous prompt + sampled ids + the new messages' tokens), or None (unknown).
    prompt_mode: str | None = None
    #: backend-specific facts (model name, request id, cost, ...), JSON-serializable.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class EpisodeContext:
    """What a policy may know about the episode it is starting.

    `task` is the env's `Task` object when the env exposes one (None for toy envs);
    `tools` the OpenAI tool schemas enabled; `action_format` the env's text action format
    ("xml", "json", "bash_block", or "text" for envs whose action is the raw reply).
    """

    task_id: str
    task: Any | None = None
    tools: list[dict[str, Any]] | None = None
    action_format: str = "xml"
    instruction: str = ""
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Policy(Protocol):
    """Anything that can play an agent's turns."""

    name: str

    def start_episode(self, context: EpisodeContext) -> None:
        """Reset per-episode state (scripts, token streams) for a new episode."""
        ...

    def act(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> PolicyOutput:
        """Return the next assistant turn for `messages` (OpenAI chat format)."""
        ...


@runtime_checkable
class TokenPolicy(Policy, Protocol):
    """A policy that runs its own engine and can put a given turn into its token stream.

    RL's expert-prefix resampling replays a demonstration's first chunks in the env; the loop
    hands each replayed turn to `replay` so the record carries its ids (imitation targets) and
    the next `act` continues the same token stream.
    """

    def replay(self, messages: list[dict[str, Any]], response: str) -> tuple[list[int], list[int]]:
        """(ids of `messages` as `act` would feed them, ids of `response` as if sampled, with
        its end token); later prompts extend them."""
        ...


PolicyFactory = Callable[..., Policy]
_REGISTRY: dict[str, PolicyFactory] = {}
#: spec kind -> module that registers it when imported (lazy: heavy deps load on use only).
_LAZY: dict[str, str] = {
    "oracle": "agents.policies.oracle",
    "empty": "agents.policies.oracle",
    "scripted": "agents.policies.scripted",
    "openai": "agents.policies.openai_http",
    "hf": "agents.policies.hf",
    "tiny": "agents.policies.hf",
    "vllm": "agents.policies.vllm",
    "human": "agents.policies.human",
}
_ORACLE_CLASSES = {"oracle": "OraclePolicy", "empty": "EmptyPolicy"}


def register_policy(kind: str, factory: PolicyFactory) -> None:
    """Register `factory(arg: str | None, **options) -> Policy` under spec kind `kind`."""
    if kind in _REGISTRY and _REGISTRY[kind] is not factory:
        raise PolicyError(f"policy kind {kind!r} is already registered")
    _REGISTRY[kind] = factory


def policy_kinds() -> list[str]:
    """All spec kinds `make_policy` accepts."""
    return sorted(set(_REGISTRY) | set(_LAZY))


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split `kind:arg` into (kind, arg); `arg` is None for a bare kind."""
    kind, sep, arg = spec.strip().partition(":")
    return kind.strip(), (arg if sep else None)


def make_policy(spec: str, **options: Any) -> Policy:
    """Build a policy from `spec` (see the module docstring); `options` go to its factory
    (e.g. `sampling=Sampling(...)`, `context_tokens=...`)."""
    kind, arg = parse_spec(spec)
    if kind not in _REGISTRY and kind in _LAZY:
        module = importlib.import_module(_LAZY[kind])
        if kind not in _REGISTRY and kind in _ORACLE_CLASSES:
            cls = getattr(module, _ORACLE_CLASSES[kind])
            return cls()  # type: ignore[no-any-return]
    if kind not in _REGISTRY:
        hint = did_you_mean(kind, policy_kinds())
        raise PolicyError(f"unknown policy spec {spec!r}.{hint} Kinds: {', '.join(policy_kinds())}")
    return _REGISTRY[kind](arg, **options)
