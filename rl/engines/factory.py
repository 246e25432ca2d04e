"""`make_engine(kind, ...)`: the one place that maps an `engine.kind` name to an engine.

The engines themselves are the agents' (`agents.engines`): one layer for policies and rollouts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from agents.engines.base import Engine, EngineError
from agents.engines.hf_engine import HFEngine
from agents.engines.local import LocalEngine
from envs.core.errors import did_you_mean

KINDS = ("toy", "hf", "hf_local", "vllm")


def make_engine(
    kind: str,
    model: nn.Module | None = None,
    *,
    pad_id: int = 0,
    device: str = "cpu",
    path: str | None = None,
    eos_ids: Sequence[int] = (),
    **kwargs: Any,
) -> Engine:
    """Build a rollout engine with its own copy of `model` (or loaded from `path`).

    "toy": `LocalEngine` (the toy TinyLM); "hf": `HFEngine`, the KV-cached transformers engine
    the policies use; "hf_local": `LocalEngine` over a transformers model (cache-free
    reference); "vllm": `VLLMEngine.for_training(path)` on the GPU.
    """
    if kind in ("toy", "hf_local"):
        if model is None:
            raise EngineError(f"the {kind} engine needs the model to copy")
        return LocalEngine(model, pad_id=pad_id, device=device)
    if kind == "hf":
        if model is not None:
            return HFEngine(model, eos_ids, pad_id, copy_model=True, device=device)
        if path is None:
            raise EngineError("the hf engine needs a model or a path")
        return HFEngine.from_pretrained(path, device=device)
    if kind == "vllm":
        from agents.engines.vllm_engine import VLLMEngine

        if path is None:
            raise EngineError("the vllm engine needs `path` (a saved model directory)")
        return VLLMEngine.for_training(path, **kwargs)
    hint = did_you_mean(kind, KINDS)
    raise EngineError(f"unknown engine {kind!r}.{hint} Choose one of {', '.join(KINDS)}")
