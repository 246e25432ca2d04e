"""The agents' KV-cached transformers engine (`agents.engines.hf_engine.HFEngine`) behind the
rollout-engine interface: same generation code as `ale run`, plus versioned weight loading and
sleep / wake offloading."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from rl.engines.base import EngineError, Generation, SamplingConfig
from rl.engines.offload import ModuleOffloader, SleepableEngine


class AgentsHFEngine(SleepableEngine):
    """Wraps `agents.engines.hf_engine.HFEngine` (imported lazily: agents is optional here)."""

    kind = "hf"

    def __init__(
        self,
        model: nn.Module,
        pad_id: int = 0,
        eos_ids: Sequence[int] = (),
        device: str = "cpu",
        copy_model: bool = True,
    ) -> None:
        from agents.engines.hf_engine import HFEngine

        own = (copy.deepcopy(model) if copy_model else model).to(device)
        for p in own.parameters():
            p.requires_grad_(False)
        self.inner = HFEngine(own, list(eos_ids), pad_token_id=pad_id)
        self.model = self.inner.model
        self._offload = ModuleOffloader(self.model, device)
        self._lock = threading.RLock()

    @property
    def version(self) -> int:
        return int(self.inner.version)

    def generate(
        self, prompts: Sequence[Sequence[int]], sampling: SamplingConfig, seed: int | None = None
    ) -> list[Generation]:
        from agents.engines.hf_engine import EngineSampling

        with self._lock:
            self._check_awake()
            samp = EngineSampling(
                temperature=sampling.temperature,
                max_tokens=sampling.max_tokens,
                seed=seed,
                stop_token_ids=list(sampling.stop_ids),
            )
            outs = self.inner.generate([list(p) for p in prompts], samp)
            stops = set(sampling.stop_ids) | set(self.inner.eos_token_ids)
            return [
                Generation(
                    list(p),
                    ids,
                    lps,
                    "stop" if ids and ids[-1] in stops else "length",
                    self.version,
                )
                for p, (ids, lps) in zip(prompts, outs, strict=True)
            ]

    def score(
        self, prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]]
    ) -> list[list[float]]:
        with self._lock:
            self._check_awake()
            return [
                self.inner.forward_logprobs(list(p), list(r))
                for p, r in zip(prompt_ids, response_ids, strict=True)
            ]

    def update_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> None:
        with self._lock:
            if version < self.version:
                raise EngineError(
                    f"weights version {version} is older than the loaded "
                    f"{self.version}; SYNC must move forward"
                )
            self._check_awake()
            self.inner.load_state_dict({k: v.detach() for k, v in state_dict.items()}, version)

    @staticmethod
    def available() -> bool:
        try:
            import agents.engines.hf_engine  # noqa: F401
        except ImportError:
            return False
        return True


def hf_engine(model: nn.Module, pad_id: int, device: str, **kwargs: Any) -> Any:
    """The agents engine when the agents package is importable, else rl's own `HFEngine`."""
    if AgentsHFEngine.available():
        return AgentsHFEngine(model, pad_id=pad_id, device=device, **kwargs)
    from rl.engines.local import HFEngine

    return HFEngine(model, pad_id=pad_id, device=device)
