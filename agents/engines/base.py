"""The engine contract shared by policies (`ale run`, `ale bench`) and RL rollouts (`ale train`).

An engine is token-level: prompt ids in, sampled ids and their log-probs out, weights that can
be replaced (SYNC) and put to sleep. Chat, text and tools belong to the policies that wrap an
engine (`agents.policies.hf.HFPolicy`, `agents.policies.vllm.VLLMPolicy`).

- `Sampling`: the one sampling-settings type (the agent config's `sampling:` section, and what
  every engine's `generate` takes).
- `Generation`: the one generation record (exactly the ids fed and sampled, and log mu).
- `Engine`: the protocol; `HFEngine` (transformers, KV cache), `LocalEngine` (any torch module
  returning logits, no cache: the toy TinyLM) and `VLLMEngine` (GPU) implement it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import ConfigDict, Field

from agents.errors import AgentError
from envs.core.config import StrictModel

if TYPE_CHECKING:
    import torch


class EngineError(AgentError):
    """An engine was used in a state that cannot serve the call (asleep, older weights, ...)."""


class Sampling(StrictModel):
    """How to sample one response. `temperature == 0` is greedy; `top_k` / `top_p` as in HF and
    vLLM. Temperature 1 without truncation keeps the recorded log mu exact."""

    model_config = ConfigDict(frozen=True)

    temperature: float = Field(0.0, ge=0.0, description="0 = greedy.")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1)
    max_tokens: int = Field(1024, ge=1, description="Completion tokens per turn.")
    seed: int | None = None
    stop: list[str] = Field(default_factory=list, description="Stop strings (OpenAI endpoints).")
    stop_token_ids: list[int] = Field(
        default_factory=list, description="Ids that end a response (kept in it, like EOS)."
    )


@dataclass
class Generation:
    """One sampled response: exactly the ids the engine was fed and sampled, and log mu."""

    prompt_ids: list[int]
    response_ids: list[int]
    logprobs: list[float]
    """log mu(token) under the engine's weights, one per response id (natural log, float32 raw
    distribution: before temperature / top-k / top-p)."""
    finish_reason: str
    """"stop" (a stop id was sampled) or "length" (max_tokens reached)."""
    policy_version: int
    text: str | None = None
    """The engine's own detokenization of the response, where it makes one (vLLM)."""


@runtime_checkable
class Engine(Protocol):
    """What policies and the RL scheduler need from an inference engine.

    `version` is the policy version of the loaded weights (0 = initial); `update_weights`
    replaces them (SYNC). `sleep()` releases the weights' memory (GPU -> host, or on CPU
    into one packed host buffer with the live tensors freed); `wake()` restores them.
    Generating while asleep raises `EngineError`. `seed` overrides `sampling.seed`.
    """

    version: int

    @property
    def awake(self) -> bool: ...

    def generate(
        self, prompts: Sequence[Sequence[int]], sampling: Sampling, seed: int | None = None
    ) -> list[Generation]: ...

    def score(
        self, prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]]
    ) -> list[list[float]]: ...

    def update_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> None: ...

    def sleep(self) -> None: ...

    def wake(self) -> None: ...


def finish_reason(response_ids: Sequence[int], stops: set[int] | frozenset[int]) -> str:
    """ "stop" when the last sampled id is a stop id, else "length"."""
    return "stop" if response_ids and response_ids[-1] in stops else "length"
