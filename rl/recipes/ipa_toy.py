"""Recipe: train a tiny LM on `ale/ToyShell-v0` with IPA (or a baseline) on CPU.

    python -m rl.recipes.ipa_toy --seed 0                  # IPA, parallel expert-prefix starts
    python -m rl.recipes.ipa_toy --loss grpo --agg token   # a baseline: one option changes

Per iteration: pick start states (expert-prefix resampling), sample `group_size` episodes from
each (token by token, recording the sampler's log-probs mu), drop and resample episodes with
infra errors, pack every trajectory into one row, recompute log pi_old, then take
`update_epochs` gradient steps on the registered loss. Success is measured from scratch
(anchor 1, no expert prefix) with sampling, on `eval_episodes` episodes.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import torch

from envs.toy import VOCAB, ToyShellEnv, expert_actions, task_ids
from rl.algos import LossConfig, compute_loss
from rl.dataclass_cli import parse_args
from rl.filtering import FilterStats, collect_filtered, has_infra_error
from rl.packing import pack, token_logprobs
from rl.recipes.toy_rollout import ToyEpisode, run_episodes
from rl.resampling import (
    ExpertTrajectory,
    PrefixCache,
    RollbackCurriculum,
    StartState,
    parallel_starts,
    start_at,
)
from rl.toy.model import TinyLM, WordTokenizer, num_parameters


@dataclass
class Args:
    """Training on the toy shell task; defaults are the CI learning budget."""

    seed: int = 0
    loss: str = "ipa"
    iters: int = 120
    starts: int = 16
    group_size: int = 4
    resample: Literal["parallel", "rollback", "none"] = "parallel"
    scratch_frac: float = 0.25
    prefix_start: Literal["snapshot", "replay"] = "snapshot"
    rollback_threshold: float = 0.8
    lr: float = 3e-3
    update_epochs: int = 2
    max_grad_norm: float = 1.0
    gamma: float = 1.0
    failure_reward: float = 0.0
    group_baseline: bool = False
    lambda_il: float = 1.0
    lambda_rl: float = 1.0
    mismatch_cap: float = 2.0
    clip_eps: float = 0.2
    agg: Literal["chunk", "token"] = "chunk"
    dim: int = 64
    layers: int = 3
    heads: int = 4
    max_turns: int = 8
    max_action_tokens: int = 4
    infra_error_rate: float = 0.0
    eval_every: int = 5
    eval_episodes: int = 64
    target: float = 0.8
    stop_at_target: bool = False
    threads: int = 1
    quiet: bool = False
    init_from: str = ""
    """Start from these TinyLM weights (a `torch.save`d state dict, e.g. a behaviour-cloned
    warm start from `rl.recipes.warm_start`) instead of a random initialization."""


@dataclass
class Result:
    """What a run measured. Steps are training iterations; episodes are sampled episodes."""

    initial_success: float
    final_success: float
    steps_to_target: int | None
    episodes_to_target: int | None
    wall_s: float
    params: int
    filtering: FilterStats
    prefix_replays: int = 0
    prefix_restores: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    model: TinyLM | None = None


def loss_config(args: Args) -> LossConfig:
    return LossConfig(
        gamma=args.gamma,
        mismatch_cap=args.mismatch_cap,
        lambda_il=args.lambda_il,
        lambda_rl=args.lambda_rl,
        clip_eps=args.clip_eps,
        failure_reward=args.failure_reward,
        group_baseline=args.group_baseline,
        agg=args.agg,
    )


def choose_starts(
    args: Args, experts: list[ExpertTrajectory], rng: random.Random, curriculum: RollbackCurriculum
) -> list[StartState]:
    """`args.starts` start states according to `args.resample`."""
    if args.resample == "parallel":
        return parallel_starts(experts, args.starts, rng, args.scratch_frac)
    picks = [experts[rng.randrange(len(experts))] for _ in range(args.starts)]
    if args.resample == "rollback":
        return [
            start_at(e, 1 if rng.random() < args.scratch_frac else curriculum.anchor(e.task_id))
            for e in picks
        ]
    return [start_at(e, 1) for e in picks]


def evaluate(
    model: TinyLM,
    envs: list[ToyShellEnv],
    experts: list[ExpertTrajectory],
    tok: WordTokenizer,
    gen: torch.Generator,
    args: Args,
) -> float:
    """Success rate from scratch over `args.eval_episodes` episodes, tasks in turn."""
    starts = [start_at(experts[i % len(experts)], 1) for i in range(args.eval_episodes)]
    model.eval()
    episodes = run_episodes(model, envs, starts, tok, gen, args.max_action_tokens)
    return sum(e.success for e in episodes) / len(episodes)


def update(
    model: TinyLM,
    opt: torch.optim.Optimizer,
    episodes: list[ToyEpisode],
    args: Args,
    cfg: LossConfig,
    pad: int,
) -> dict[str, float]:
    """`update_epochs` full-batch steps on one packed batch; returns the last step's metrics."""
    batch = pack([e.trajectory for e in episodes], pad_id=pad)
    model.train()
    with torch.no_grad():
        logp_old = token_logprobs(model, batch)
    metrics: dict[str, float] = {}
    for _ in range(args.update_epochs):
        out = compute_loss(
            args.loss, batch.chunk_batch(token_logprobs(model, batch), logp_old), cfg
        )
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        opt.step()
        metrics = {"loss": float(out.loss.detach()), **out.metrics}
    return metrics


def train(args: Args) -> Result:
    """Run the recipe; returns the measured success rates (no result is assumed)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    eval_gen = torch.Generator().manual_seed(args.seed + 10_000)
    tok = WordTokenizer(VOCAB)
    model = TinyLM(len(tok), args.dim, args.layers, args.heads)
    if args.init_from:
        model.load_state_dict(torch.load(args.init_from, weights_only=True))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    cfg = loss_config(args)
    experts = [ExpertTrajectory(t, tuple(expert_actions(t))) for t in task_ids()]
    curriculum = RollbackCurriculum(experts, args.rollback_threshold, window=args.group_size * 2)
    width = max(args.starts * args.group_size, args.eval_episodes)
    envs = [ToyShellEnv(args.max_turns, args.infra_error_rate) for _ in range(width)]
    for i, env in enumerate(envs):
        env.reset(seed=args.seed * 100_003 + i)
    filtering = FilterStats()
    prefixes = PrefixCache() if args.prefix_start == "snapshot" else None

    def rollout(items: list[tuple[int, StartState]]) -> list[ToyEpisode]:
        return run_episodes(
            model,
            envs,
            [s for _, s in items],
            tok,
            gen,
            args.max_action_tokens,
            groups=[g for g, _ in items],
            prefixes=prefixes,
        )

    start = time.perf_counter()
    history: list[dict[str, float]] = []
    success = evaluate(model, envs, experts, tok, eval_gen, args)
    initial, reached = success, None
    history.append({"iter": 0, "success": success, "wall_s": 0.0})
    for it in range(1, args.iters + 1):
        starts = choose_starts(args, experts, rng, curriculum)
        items = [(g, s) for g, s in enumerate(starts) for _ in range(args.group_size)]
        model.eval()
        kept = collect_filtered(rollout, items, lambda e: has_infra_error(e.infos))
        filtering.add(kept.stats)
        episodes = [e for _, e in kept.episodes]
        for e in episodes:
            curriculum.record(e.start, e.success)
        metrics = update(model, opt, episodes, args, cfg, tok.pad)
        if it % args.eval_every == 0 or it == args.iters:
            success = evaluate(model, envs, experts, tok, eval_gen, args)
            row = {
                "iter": it,
                "success": success,
                "wall_s": time.perf_counter() - start,
                "train_success": sum(e.success for e in episodes) / max(len(episodes), 1),
                **metrics,
            }
            history.append(row)
            if not args.quiet:
                print(" ".join(f"{k}={v:.3g}" for k, v in row.items()), flush=True)
            if reached is None and success >= args.target:
                reached = it
                if args.stop_at_target:
                    break
    per_iter = args.starts * args.group_size
    return Result(
        initial,
        success,
        reached,
        None if reached is None else reached * per_iter,
        time.perf_counter() - start,
        num_parameters(model),
        filtering,
        prefixes.replays if prefixes else 0,
        prefixes.restores if prefixes else 0,
        history,
        model,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(Args, argv, __doc__ or "")
    result = train(args)
    print(f"args: {asdict(args)}")
    print(
        f"params={result.params} initial_success={result.initial_success:.3f} "
        f"final_success={result.final_success:.3f} steps_to_{args.target:g}="
        f"{result.steps_to_target} wall_s={result.wall_s:.1f} filtering={result.filtering} "
        f"prefix_replays={result.prefix_replays} prefix_restores={result.prefix_restores}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
