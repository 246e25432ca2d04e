"""`make_engine(kind, ...)`: the one place that maps an engine name to a class."""

from __future__ import annotations

from typing import Any

from torch import nn

from envs.core.errors import did_you_mean
from rl.engines.agents_hf import hf_engine
from rl.engines.base import EngineError, RolloutEngine
from rl.engines.local import HFEngine, ToyEngine

KINDS = ("toy", "hf", "hf_local", "vllm")


def make_engine(
    kind: str,
    model: nn.Module | None = None,
    *,
    pad_id: int = 0,
    device: str = "cpu",
    path: str | None = None,
    **kwargs: Any,
) -> RolloutEngine:
    """Build an engine. "toy" / "hf" / "hf_local" copy `model` (or load `path` for "hf");
    "hf" is the agents' KV-cached engine (rl's own `HFEngine` when agents is absent),
    "hf_local" rl's cache-free one; "vllm" loads `path` on the GPU."""
    if kind == "toy":
        if model is None:
            raise EngineError("the toy engine needs the model to copy")
        return ToyEngine(model, pad_id=pad_id, device=device)
    if kind == "hf":
        if model is not None:
            return hf_engine(model, pad_id, device, **kwargs)
        if path is None:
            raise EngineError("the hf engine needs a model or a path")
        return HFEngine.from_pretrained(path, device=device)
    if kind == "hf_local":
        if model is None:
            raise EngineError("the hf_local engine needs the model to copy")
        return HFEngine(model, pad_id=pad_id, device=device)
    if kind == "vllm":
        from rl.engines.vllm import VLLMEngine

        if path is None:
            raise EngineError("the vllm engine needs `path` (a saved model directory)")
        return VLLMEngine(path, **kwargs)
    hint = did_you_mean(kind, KINDS)
    raise EngineError(f"unknown engine {kind!r}.{hint} Choose one of {', '.join(KINDS)}")
