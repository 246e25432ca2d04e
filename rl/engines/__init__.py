"""Rollout engines by name: `make_engine(kind, model, ...)` builds "toy", "hf", "hf_local" or
"vllm" from the one engine layer in `agents.engines`."""

from rl.engines.factory import KINDS, make_engine

__all__ = ["KINDS", "make_engine"]
