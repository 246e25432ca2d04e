"""A toy chunk-level env (`ale/ToyShell-v0`) small enough to train a tiny LM on CPU."""

from envs.toy.shell import VOCAB, ToyShellEnv, expert_actions, task_ids

__all__ = ["VOCAB", "ToyShellEnv", "expert_actions", "task_ids"]
