"""A behaviour-cloned warm start for the toy task: a TinyLM that solves it from scratch
sometimes (about 5-20% of sampled episodes), so token-level RL methods get successes to learn
from without expert prefixes.

    python -m rl.recipes.warm_start --seed 0 --target 0.1 --out runs/warm/seed0.pt

Supervised steps on the whole expert trajectories of every toy task (the imitation term alone,
`ipa` with lambda_RL = 0), one Adam step at a time with a small learning rate; after each step
success from scratch is sampled on `eval_episodes` episodes, and cloning stops once the mean of
the last `window` measurements reaches `target` (a single 64-episode measurement is too noisy:
stopping at the first one >= 0.1 left true success at 3-6%). The weights are what
`ipa_toy --init-from` loads.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from envs.toy import VOCAB, ToyShellEnv, expert_actions, task_ids
from rl.algos import LossConfig, compute_loss
from rl.dataclass_cli import parse_args
from rl.packing import Trajectory, pack, token_logprobs
from rl.recipes.ipa_toy import Args, evaluate
from rl.recipes.toy_rollout import expert_chunk, prompt_ids
from rl.resampling import ExpertTrajectory
from rl.toy.model import TinyLM, WordTokenizer


@dataclass
class WarmArgs:
    """Behaviour cloning until success from scratch reaches `target`."""

    seed: int = 0
    target: float = 0.12
    window: int = 4
    lr: float = 1e-3
    max_steps: int = 300
    eval_episodes: int = 64
    out: str = "warm_start.pt"


@dataclass
class WarmStart:
    """The cloned weights and what cloning measured: success from scratch (mean of the last
    `window` measurements, its own sampler) and the number of supervised steps."""

    state: dict[str, torch.Tensor]
    success: float
    steps: int


def expert_trajectories(tok: WordTokenizer, max_turns: int = 8) -> list[Trajectory]:
    """Every toy task's expert episode as one all-expert trajectory (reward 1)."""
    out = []
    for task in task_ids():
        env = ToyShellEnv(max_turns)
        obs, info = env.reset(options={"task_id": task})
        chunks = []
        for action in expert_actions(task):
            obs, *_ = env.step(action)
            chunks.append(expert_chunk(tok, action, str(obs)))
        prompt = prompt_ids(tok, str(info["instruction"]))
        out.append(Trajectory(prompt, chunks, 1.0, -1, len(chunks), 1.0))
    return out


def behaviour_clone(args: WarmArgs, model_args: Args | None = None) -> WarmStart:
    """Clone the expert into a TinyLM shaped like `model_args` (initialized as `ipa_toy.train`
    initializes it for `args.seed`) until sampled success from scratch >= `args.target`."""
    margs = model_args or Args(seed=args.seed, eval_episodes=args.eval_episodes)
    torch.set_num_threads(margs.threads)
    torch.manual_seed(args.seed)
    tok = WordTokenizer(VOCAB)
    model = TinyLM(len(tok), margs.dim, margs.layers, margs.heads)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed + 20_000)
    experts = [ExpertTrajectory(t, tuple(expert_actions(t))) for t in task_ids()]
    envs = [ToyShellEnv(margs.max_turns) for _ in range(args.eval_episodes)]
    batch = pack(expert_trajectories(tok, margs.max_turns), pad_id=tok.pad)
    cfg = LossConfig(lambda_rl=0.0)
    recent = [evaluate(model, envs, experts, tok, gen, margs)]
    step = 0
    while sum(recent) / len(recent) < args.target and step < args.max_steps:
        model.train()
        logp = token_logprobs(model, batch)
        out = compute_loss("ipa", batch.chunk_batch(logp, logp.detach()), cfg)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        step += 1
        recent = [*recent, evaluate(model, envs, experts, tok, gen, margs)][-args.window :]
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return WarmStart(state, sum(recent) / len(recent), step)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(WarmArgs, argv, __doc__ or "")
    warm = behaviour_clone(args)
    torch.save(warm.state, args.out)
    print(
        f"seed={args.seed} steps={warm.steps} success_from_scratch={warm.success:.3f} -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
