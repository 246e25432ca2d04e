"""Policy losses for chunk-level RL: IPA and its baselines, all behind one registry.

Usage: `compute_loss("ipa", batch, LossConfig())`; `LOSSES.names()` lists the variants
("grpo", "ipa", "ppo", "reinforce", "tis", and "grpo_il", "ppo_il", "reinforce_il": a baseline
plus IPA's imitation term). Importing this package registers them.
"""

from rl.algos import baselines, losses  # noqa: F401  (registers the variants)
from rl.algos.batch import Aggregation, ChunkBatch, LossConfig, LossOutput
from rl.algos.registry import LOSSES, AlgoError, LossFn, Registry, compute_loss

__all__ = [
    "LOSSES",
    "Aggregation",
    "AlgoError",
    "ChunkBatch",
    "LossConfig",
    "LossFn",
    "LossOutput",
    "Registry",
    "compute_loss",
]
