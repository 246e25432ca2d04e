"""`VLLMPolicy`: chat on top of the in-process `VLLMEngine` (the `gpu` extra; vllm is lazy).

Prompts are rendered with the model's chat template and tokenized once; the engine is fed
those ids, so `prompt_ids` are exactly what it saw, `response_ids` are the sampled ids and
`logprobs` the engine's log-prob of each. Spec: `vllm:PATH`.
"""

from __future__ import annotations

import os
from typing import Any

from agents.engines.base import EngineError, Sampling
from agents.engines.vllm_engine import VLLMEngine
from agents.errors import PolicyError
from agents.policies.base import EpisodeContext, PolicyOutput, register_policy


class VLLMPolicy:
    """Chat policy over a `VLLMEngine`; see the module docstring."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        sampling: Sampling | None = None,
        name: str | None = None,
        **engine_kwargs: Any,
    ) -> None:
        try:
            self.engine = VLLMEngine(os.fspath(path), **engine_kwargs)
        except EngineError as exc:
            raise PolicyError(f"vllm policy unavailable: {exc}") from None
        self.tokenizer = self.engine.tokenizer()
        self.sampling = sampling or Sampling()
        self.name = name or f"vllm:{os.fspath(path)}"

    def prompt_ids_for(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            messages, tools=tools, tokenize=False, add_generation_prompt=True
        )
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_tokens(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> int:
        return len(self.prompt_ids_for(messages, tools))

    def start_episode(self, context: EpisodeContext) -> None:
        return None

    def act(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        guided_choice: list[str] | None = None,
    ) -> PolicyOutput:
        ids = self.prompt_ids_for(messages, tools)
        [gen] = self.engine.generate([ids], self.sampling, guided_choice=guided_choice)
        return PolicyOutput(
            text=gen.text or "",
            prompt_ids=ids,
            response_ids=gen.response_ids,
            logprobs=gen.logprobs or None,
            finish_reason=gen.finish_reason,
            usage={"prompt_tokens": len(ids), "completion_tokens": len(gen.response_ids)},
            policy_version=self.engine.version,
            prompt_mode="render",
        )


register_policy("vllm", lambda arg, **options: VLLMPolicy(arg or "", **options))
