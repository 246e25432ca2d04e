"""Compare IPA with GRPO and token-level REINFORCE on the toy shell task over several seeds.

    python -m rl.recipes.compare_toy --seeds 3

Every variant shares the rollout pipeline of `rl.recipes.ipa_toy` (the same expert-prefix
start states, group size, optimizer and budget); only the loss (and what it uses) changes.
Prints a markdown table: final success from scratch (mean, std and variance over seeds),
iterations to the target success, wall time. Runs one after the other on one thread.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rl.dataclass_cli import parse_args
from rl.recipes.ipa_toy import Args, Result, train

#: name -> overrides of `ipa_toy.Args`; one line per variant.
VARIANTS: dict[str, dict[str, Any]] = {
    "ipa": {"loss": "ipa", "agg": "chunk"},
    "grpo": {"loss": "grpo", "agg": "token"},
    "reinforce": {"loss": "reinforce", "agg": "token"},
    "ipa-no-il": {"loss": "ipa", "agg": "chunk", "lambda_il": 0.0},
    "ipa-no-resampling": {"loss": "ipa", "agg": "chunk", "resample": "none"},
    "ipa-rollback": {"loss": "ipa", "agg": "chunk", "resample": "rollback"},
    "ipa-group-baseline": {"loss": "ipa", "agg": "chunk", "group_baseline": True},
    "ipa-failure-reward": {"loss": "ipa", "agg": "chunk", "failure_reward": -0.1},
}


@dataclass
class CompareArgs:
    """Seeds x variants of the toy recipe."""

    seeds: int = 3
    first_seed: int = 0
    variants: str = "ipa,grpo,reinforce"
    iters: int = 120
    eval_every: int = 5
    target: float = 0.8
    out: str = ""
    """Also write the table to this markdown file."""


def _fmt_steps(values: list[int | None]) -> str:
    reached = [v for v in values if v is not None]
    mean = f"{statistics.mean(reached):.0f}" if reached else "-"
    return (
        f"{mean} ({len(reached)}/{len(values)} reached; "
        + ", ".join("-" if v is None else str(v) for v in values)
        + ")"
    )


def table(results: dict[str, list[Result]], args: CompareArgs, episodes_per_iter: int) -> str:
    """Markdown table of the runs in `results` (variant -> one Result per seed)."""
    lines = [
        f"| variant | initial success | final success mean +- std | variance | per seed "
        f"| iters to {args.target:.0%} (mean of reached; per seed) | wall s (mean) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        finals = [r.final_success for r in runs]
        std = statistics.pstdev(finals)
        lines.append(
            f"| {name} | {statistics.mean(r.initial_success for r in runs):.2f} "
            f"| {statistics.mean(finals):.2f} +- {std:.2f} | {std**2:.4f} "
            f"| {', '.join(f'{f:.2f}' for f in finals)} "
            f"| {_fmt_steps([r.steps_to_target for r in runs])} "
            f"| {statistics.mean(r.wall_s for r in runs):.0f} |"
        )
    lines.append("")
    lines.append(
        f"{args.seeds} seeds from {args.first_seed}; {args.iters} iterations of "
        f"{episodes_per_iter} episodes; success = sampled episodes from scratch "
        f"(no expert prefix), evaluated every {args.eval_every} iterations on 64 "
        "episodes; std and variance over seeds (population)."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(CompareArgs, argv, __doc__ or "")
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {sorted(VARIANTS)}")
    base = Args(iters=args.iters, eval_every=args.eval_every, target=args.target, quiet=True)
    results: dict[str, list[Result]] = {}
    for name in names:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            run = replace(base, seed=seed, **VARIANTS[name])
            result = train(run)
            results.setdefault(name, []).append(result)
            print(
                f"{name} seed={seed}: initial={result.initial_success:.2f} "
                f"final={result.final_success:.2f} iters_to_target={result.steps_to_target} "
                f"wall_s={result.wall_s:.0f}",
                flush=True,
            )
    text = table(results, args, base.starts * base.group_size)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
