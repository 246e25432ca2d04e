"""Gymnasium ids of ALE-Gym. One table; `register_all` is idempotent."""

from __future__ import annotations

import gymnasium
from gymnasium.envs.registration import registry

#: id -> (entry point, default kwargs, max_episode_steps or None)
ENV_IDS: dict[str, tuple[str, dict[str, object], int | None]] = {
    "ale/SWEBench-v0": ("envs.core.env:ChunkEnv", {"suite": "swebench"}, None),
    "ale/TerminalBench-v0": ("envs.core.env:ChunkEnv", {"suite": "terminal-bench"}, None),
    "ale/TerminalBenchPro-v0": ("envs.core.env:ChunkEnv", {"suite": "harbor"}, None),
    "ale/SWEMini-v0": ("envs.core.env:ChunkEnv", {"suite": "swe-mini"}, None),
    "ale/TBMini-v0": ("envs.core.env:ChunkEnv", {"suite": "tb-mini"}, None),
    "ale/ToyShell-v0": ("envs.toy.shell:ToyShellEnv", {}, None),
}


def register_all() -> None:
    """Register every id in `ENV_IDS` that Gymnasium does not know yet."""
    for env_id, (entry_point, kwargs, max_steps) in ENV_IDS.items():
        if env_id in registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point=entry_point,
            kwargs=dict(kwargs),
            max_episode_steps=max_steps,
            nondeterministic=True,
            disable_env_checker=True,
        )
