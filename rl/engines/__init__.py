"""Rollout engines behind one interface: generate ids + log-probs, load weights, sleep / wake.

`make_engine(kind, model, ...)` builds "toy" (TinyLM in-process), "hf" (transformers) or
"vllm" (GPU; imported lazily).
"""

from rl.engines.base import EngineError, Generation, RolloutEngine, SamplingConfig
from rl.engines.factory import make_engine

__all__ = ["EngineError", "Generation", "RolloutEngine", "SamplingConfig", "make_engine"]
