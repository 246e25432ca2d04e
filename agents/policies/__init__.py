"""Policies: the `Policy` protocol and `make_policy(spec)`; implementations load lazily."""

from agents.policies.base import (
    EpisodeContext,
    Policy,
    PolicyOutput,
    make_policy,
    policy_kinds,
    register_policy,
)

__all__ = [
    "EpisodeContext",
    "Policy",
    "PolicyOutput",
    "make_policy",
    "policy_kinds",
    "register_policy",
]
