"""The scalar settings of every policy loss, without torch (so `ale train` parses configs
before it imports torch). `rl.algos` re-exports it; `rl.config.AlgoConfig` extends it with the
loss name, so a setting is declared once."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

Aggregation = Literal["chunk", "token"]


class LossConfig(BaseModel):
    """Hyper-parameters, all scalars. Defaults are ours (the paper gives no numbers).

    Default failure reward 0 and no group baseline. With R in {0, 1} a failed trajectory then
    has G = 0 and carries no gradient, so the negative-truncated T- term is inert and IPA is
    return-weighted supervised learning on successes (plus imitation on expert prefixes).
    Why: (1) the T- term minimises +|G| log pi(c), which is unbounded below; the clipped
    ratio only damps it inside one update (rho is measured against pi_old, which is refreshed
    every iteration), so on a sparse task where nearly every early episode fails it mostly
    pushes probability off whatever the policy does, towards other (also failing) text;
    (2) the positive term alone is the clean object the paper's gradient checks describe
    (grad = G * grad log pi), and expert-prefix resampling supplies successes from the start,
    so no baseline is needed to get signal; (3) a group baseline makes every success in an
    all-success group weightless, which stops reinforcing behaviour that is already right.
    To give T- a gradient (what the clipped ratio is for), set `failure_reward < 0` or
    `group_baseline=True`; `python -m rl.recipes.compare_toy --variants ipa,
    ipa-failure-reward,ipa-group-baseline` measures the three on the toy task. GRPO always
    normalizes within groups, whatever these say.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    gamma: float = 1.0
    """Chunk discount: G_k = gamma^(K-1-k) R (k 0-based, K chunks)."""
    mismatch_cap: float = 2.0
    """H: a chunk is masked when exp(mean_t(log pi_old - log mu)) > H."""
    lambda_il: float = 1.0
    """Weight of the imitation term on expert chunks."""
    lambda_rl: float = 1.0
    """Weight of the chunk RL term on sampled chunks."""
    clip_eps: float = 0.2
    """PPO / GRPO clip range: ratio kept in [1 - eps, 1 + eps]."""
    tis_cap: float = 2.0
    """TIS: the per-token importance weight pi/mu is truncated at this value."""
    failure_reward: float = 0.0
    """Reward used for a trajectory whose final reward is <= 0."""
    group_baseline: bool = False
    """Subtract the mean shaped reward of the trajectory's group (same start state)."""
    adv_eps: float = 1e-6
    """GRPO: A = (R - mean) / (std + adv_eps)."""
    agg: Aggregation = "chunk"
    """"chunk": token-mean inside each chunk, then mean over chunks; "token": mean over tokens."""

    @model_validator(mode="after")
    def _check_ranges(self) -> LossConfig:
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if self.mismatch_cap <= 0 or self.tis_cap <= 0 or self.clip_eps <= 0:
            raise ValueError("mismatch_cap, tis_cap and clip_eps must be > 0")
        return self
