"""The rollout-engine contract shared by the toy, transformers and vLLM engines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch


class EngineError(RuntimeError):
    """A rollout engine was used in a state that cannot serve the call (e.g. asleep)."""


@dataclass(frozen=True)
class SamplingConfig:
    """How to sample one response. Temperature 1 and no truncation keep log mu exact."""

    max_tokens: int = 16
    """Upper bound on sampled ids per response."""
    temperature: float = 1.0
    stop_ids: tuple[int, ...] = ()
    """Ids that end a response (kept in it, like `<eos>`)."""


@dataclass
class Generation:
    """One sampled response: exactly the ids the engine was fed and sampled, and log mu."""

    prompt_ids: list[int]
    response_ids: list[int]
    logprobs: list[float]
    """log mu(token) under the engine's weights, one per response id."""
    finish_reason: str
    """"stop" (a stop id was sampled) or "length" (max_tokens reached)."""
    policy_version: int


@runtime_checkable
class RolloutEngine(Protocol):
    """What the scheduler needs from an inference engine.

    `version` is the policy version of the loaded weights (0 = initial); `update_weights`
    replaces them (SYNC). `sleep()` releases the weights' memory (GPU -> host, or on CPU
    into one packed host buffer with the live tensors freed); `wake()` restores them.
    Generating while asleep raises `EngineError`.
    """

    version: int

    @property
    def awake(self) -> bool: ...

    def generate(
        self, prompts: Sequence[Sequence[int]], sampling: SamplingConfig, seed: int | None = None
    ) -> list[Generation]: ...

    def score(
        self, prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]]
    ) -> list[list[float]]: ...

    def update_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> None: ...

    def sleep(self) -> None: ...

    def wake(self) -> None: ...
