"""`VLLMPolicy`: an in-process vLLM engine (the `gpu` extra; vllm is imported lazily).

Prompts are rendered with the model's chat template and tokenized once; the engine is fed
those ids (`TokensPrompt`), so `prompt_ids` are exactly what it saw, `response_ids` are the
sampled `token_ids` and `logprobs` the engine's log-prob of each (requested with
`logprobs=0`: the sampled token only). Spec: `vllm:PATH`.
"""

from __future__ import annotations

import os
from typing import Any

from agents.errors import PolicyError
from agents.policies.base import EpisodeContext, PolicyOutput, register_policy


def vllm_available() -> tuple[bool, str]:
    """(usable, reason): vllm importable and a CUDA device present."""
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, "no CUDA device (vLLM needs a GPU)"
    try:
        import vllm  # noqa: F401
    except ImportError:
        return False, "vllm is not installed: pip install 'ale-gym[gpu]'"
    return True, ""


class VLLMPolicy:
    """Chat policy over `vllm.LLM`; see the module docstring."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        sampling: Any | None = None,
        name: str | None = None,
        **engine_kwargs: Any,
    ) -> None:
        ok, why = vllm_available()
        if not ok:
            raise PolicyError(f"vllm policy unavailable: {why}")
        from vllm import LLM

        self.llm = LLM(model=os.fspath(path), **engine_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.sampling = sampling
        self.name = name or f"vllm:{os.fspath(path)}"
        self.version = 0

    def _params(self, guided_choice: list[str] | None) -> Any:
        from vllm import SamplingParams

        s = self.sampling
        kw: dict[str, Any] = {"logprobs": 0}
        if s is not None:
            kw.update(
                temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens, seed=s.seed
            )
            if s.top_k is not None:
                kw["top_k"] = s.top_k
        if guided_choice:
            from vllm.sampling_params import GuidedDecodingParams

            kw["guided_decoding"] = GuidedDecodingParams(choice=list(guided_choice))
        return SamplingParams(**kw)

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
        from vllm.inputs import TokensPrompt

        ids = self.prompt_ids_for(messages, tools)
        [res] = self.llm.generate(
            [TokensPrompt(prompt_token_ids=ids)], self._params(guided_choice), use_tqdm=False
        )
        out = res.outputs[0]
        resp = list(out.token_ids)
        lps = [
            float(step[t].logprob) for step, t in zip(out.logprobs or [], resp, strict=False)
        ] or None
        return PolicyOutput(
            text=out.text,
            prompt_ids=ids,
            response_ids=resp,
            logprobs=lps,
            finish_reason=out.finish_reason or "stop",
            usage={"prompt_tokens": len(ids), "completion_tokens": len(resp)},
            policy_version=self.version,
            prompt_mode="render",
        )


register_policy("vllm", lambda arg, **options: VLLMPolicy(arg or "", **options))
