"""Gymnasium ids of ALE-Gym: every registered suite's `env_id` (a `ChunkEnv` over it, see
`envs.core.suites`) and the toy env. `register_all` is idempotent."""

from __future__ import annotations

import gymnasium
from gymnasium.envs.registration import registry

import envs.suites  # noqa: F401  (registers the shipped suites)
from envs.core.suites import SUITES


def env_ids() -> dict[str, tuple[str, dict[str, object], int | None]]:
    """id -> (entry point, default kwargs, max_episode_steps or None), suites first."""
    ids: dict[str, tuple[str, dict[str, object], int | None]] = {
        s.env_id: ("envs.core.env:ChunkEnv", {"suite": s.name}, None)
        for s in SUITES.values()
        if s.env_id
    }
    ids["ale/ToyShell-v0"] = ("envs.toy.shell:ToyShellEnv", {}, None)
    return ids


ENV_IDS = env_ids()


def register_all() -> None:
    """Register every id of `env_ids()` (suites registered since included) not known yet."""
    for env_id, (entry_point, kwargs, max_steps) in env_ids().items():
        ENV_IDS.setdefault(env_id, (entry_point, kwargs, max_steps))
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
