"""`VLLMEngine`: the one vLLM engine (GPU only; the `gpu` extra), token ids in and out.

`VLLMPolicy` (`vllm:PATH`) wraps it for chat; RL rollouts use `VLLMEngine.for_training`
(sleep mode frees the KV cache and weights between ROLLOUTs, SYNC loads new weights).
vLLM is imported lazily; constructing `VLLMEngine` without it (or without CUDA) raises
`EngineError` saying so. Log-probs are vLLM's own (`logprobs=0` returns the sampled token's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from agents.engines.base import EngineError, Generation, Sampling


def vllm_available() -> tuple[bool, str]:
    """(usable, reason): vLLM importable and a CUDA device present."""
    if not torch.cuda.is_available():
        return False, "no CUDA device: the vLLM engine needs a GPU"
    try:
        import vllm  # noqa: F401
    except ImportError as exc:
        return False, f"vllm is not installed ({exc}): pip install 'ale-gym[gpu]' on a GPU machine"
    return True, ""


class VLLMEngine:
    """`vllm.LLM` behind the `Engine` interface; `llm_kwargs` go to `vllm.LLM`."""

    kind = "vllm"

    def __init__(self, path: str, **llm_kwargs: Any) -> None:
        ok, reason = vllm_available()
        if not ok:
            raise EngineError(reason)
        from vllm import LLM

        self.llm = LLM(model=path, **llm_kwargs)
        self.sleep_mode = bool(llm_kwargs.get("enable_sleep_mode"))
        self.version = 0
        self._awake = True

    @classmethod
    def for_training(
        cls,
        path: str,
        gpu_memory_utilization: float = 0.3,
        dtype: str = "float32",
        seed: int = 0,
        **llm_kwargs: Any,
    ) -> VLLMEngine:
        """A rollout engine beside a trainer: sleep mode on, a share of the GPU, eager mode."""
        return cls(
            path,
            gpu_memory_utilization=gpu_memory_utilization,
            dtype=dtype,
            enable_sleep_mode=True,
            seed=seed,
            enforce_eager=True,
            **llm_kwargs,
        )

    @property
    def awake(self) -> bool:
        return self._awake

    def tokenizer(self) -> Any:
        return self.llm.get_tokenizer()

    def _params(self, sampling: Sampling, seed: int | None, guided_choice: list[str] | None) -> Any:
        from vllm import SamplingParams

        kw: dict[str, Any] = {
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": sampling.top_k if sampling.top_k is not None else -1,
            "logprobs": 0,
            "seed": sampling.seed if seed is None else seed,
            "stop_token_ids": list(sampling.stop_token_ids),
        }
        if guided_choice:
            from vllm.sampling_params import GuidedDecodingParams

            kw["guided_decoding"] = GuidedDecodingParams(choice=list(guided_choice))
        return SamplingParams(**kw)

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        sampling: Sampling,
        seed: int | None = None,
        guided_choice: list[str] | None = None,
    ) -> list[Generation]:
        """One `Generation` per prompt; `guided_choice` restricts replies to those texts."""
        from vllm import TokensPrompt

        if not self._awake:
            raise EngineError("VLLMEngine is asleep: call wake() before generating")
        outs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=list(p)) for p in prompts],
            self._params(sampling, seed, guided_choice),
            use_tqdm=False,
        )
        result = []
        for p, out in zip(prompts, outs, strict=True):
            comp = out.outputs[0]
            ids = list(comp.token_ids)
            lps = [
                float(step[t].logprob) for t, step in zip(ids, comp.logprobs or [], strict=False)
            ]
            result.append(
                Generation(
                    list(p), ids, lps, comp.finish_reason or "stop", self.version, text=comp.text
                )
            )
        return result

    def score(
        self, prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]]
    ) -> list[list[float]]:
        from vllm import SamplingParams, TokensPrompt

        params = SamplingParams(max_tokens=1, prompt_logprobs=0)
        rows = [
            TokensPrompt(prompt_token_ids=list(p) + list(r))
            for p, r in zip(prompt_ids, response_ids, strict=True)
        ]
        outs = self.llm.generate(rows, params, use_tqdm=False)
        result = []
        for p, r, out in zip(prompt_ids, response_ids, outs, strict=True):
            lp = out.prompt_logprobs
            ids = list(p) + list(r)
            result.append([float(lp[len(p) + j][ids[len(p) + j]].logprob) for j in range(len(r))])
        return result

    def update_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> None:
        """Load the trainer's weights into the running model (SYNC)."""
        items = [(k, v.detach()) for k, v in state_dict.items()]

        def _load(worker: Any) -> None:
            worker.model_runner.model.load_weights(weights=items)

        self.llm.collective_rpc(_load)
        self.llm.reset_prefix_cache()
        self.version = version

    def sleep(self) -> None:
        if not self.sleep_mode:
            raise EngineError("this VLLMEngine was built without enable_sleep_mode=True")
        if self._awake:
            self.llm.sleep(level=1)
            self._awake = False

    def wake(self) -> None:
        if not self._awake:
            self.llm.wake_up()
            self._awake = True
