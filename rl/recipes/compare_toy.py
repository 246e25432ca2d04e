"""A fair ablation of the RL step on the toy shell task: IPA with and without its imitation term
against token-level GRPO, REINFORCE and PPO with and without the same term.

    python -m rl.recipes.compare_toy --seeds 3 --jobs 2 --plot docs/img/toy_ablation.png

Every method shares the rollout pipeline of `rl.recipes.ipa_toy` (the same expert-prefix start
states, group size, optimizer, iterations x episodes); only the loss settings change, and they
are `ale train` keys (`algo.loss`, `algo.lambda_il`, ...: the table prints them). Two starts:
`toy`, a random TinyLM (success from scratch 0%), and `warm`, the same TinyLM behaviour-cloned
until success from scratch is about 5-20% (`rl.recipes.warm_start`, one per seed, shared by all
methods), so token-level methods get successes without expert prefixes. Prints (and `--out`
writes) a markdown table: initial and final success from scratch (mean, std over seeds),
iterations to the target (per seed, or "never"); `--plot` draws the success curves.

Each run's result is kept in `--cache` (keyed by its settings), so an interrupted command picks
up where it stopped and a finished one only redraws. `--jobs` runs that many at once, each on
one thread.
"""

from __future__ import annotations

import json
import multiprocessing
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rl.dataclass_cli import parse_args
from rl.recipes.ipa_toy import Args

#: method -> `ipa_toy.Args` overrides; every key is also an `ale train` `algo.` key.
VARIANTS: dict[str, dict[str, Any]] = {
    "ipa": {"loss": "ipa", "agg": "chunk"},
    "ipa-no-il": {"loss": "ipa", "agg": "chunk", "lambda_il": 0.0},
    "grpo": {"loss": "grpo", "agg": "token"},
    "grpo+il": {"loss": "grpo_il", "agg": "token"},
    "reinforce": {"loss": "reinforce", "agg": "token"},
    "reinforce+il": {"loss": "reinforce_il", "agg": "token"},
    "ppo": {"loss": "ppo", "agg": "token", "group_baseline": True},
    "ppo+il": {"loss": "ppo_il", "agg": "token", "group_baseline": True},
    "ipa-no-rl": {"loss": "ipa", "agg": "chunk", "lambda_rl": 0.0},
    "ipa-group-baseline": {"loss": "ipa", "agg": "chunk", "group_baseline": True},
    "ipa-failure-reward": {"loss": "ipa", "agg": "chunk", "failure_reward": -0.1},
}
#: Variants that change the start states, not the loss (`ipa_toy.Args.resample`).
START_VARIANTS: dict[str, dict[str, Any]] = {
    "ipa-no-resampling": {"loss": "ipa", "agg": "chunk", "resample": "none"},
    "ipa-rollback": {"loss": "ipa", "agg": "chunk", "resample": "rollback"},
}
ABLATION = "ipa,ipa-no-il,grpo,grpo+il,reinforce,reinforce+il,ppo"
TASKS = ("toy", "warm")


def algo_overrides(variant: str) -> list[str]:
    """The `ale train --set` overrides that give `variant`'s loss settings."""
    keys = {**VARIANTS, **START_VARIANTS}[variant]
    return [
        f"{'rollout' if k == 'resample' else 'algo'}.{k}={str(v).lower() if isinstance(v, bool) else v}"
        for k, v in keys.items()
    ]


@dataclass
class CompareArgs:
    """Seeds x methods x starts of the toy recipe."""

    seeds: int = 3
    first_seed: int = 0
    variants: str = ABLATION
    tasks: str = "toy,warm"
    """`toy` (random init) and/or `warm` (behaviour-cloned to 5-20% success from scratch)."""
    iters: int = 60
    starts: int = 8
    group_size: int = 4
    eval_every: int = 10
    eval_episodes: int = 64
    target: float = 0.8
    warm_target: float = 0.12
    """`warm`: clone until the mean of the last 4 success measurements reaches this."""
    jobs: int = 1
    cache: str = "runs/compare_toy"
    out: str = ""
    """Also write the table to this markdown file."""
    plot: str = ""
    """Also draw the success curves (one panel per start) to this PNG."""


@dataclass
class Run:
    """One finished run, as cached: the method, start, seed and what it measured."""

    variant: str
    task: str
    seed: int
    initial: float
    final: float
    steps_to_target: int | None
    curve: list[tuple[int, float]]
    wall_s: float


def _run_args(args: CompareArgs, variant: str, task: str, seed: int, cache: Path) -> Args:
    base = Args(
        seed=seed,
        iters=args.iters,
        starts=args.starts,
        group_size=args.group_size,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        target=args.target,
        quiet=True,
        init_from=str(cache / "warm" / f"seed{seed}.pt") if task == "warm" else "",
    )
    return replace(base, **{**VARIANTS, **START_VARIANTS}[variant])


def _train_one(job: tuple[str, str, Args, str]) -> Run:
    from rl.recipes.ipa_toy import train

    variant, task, run_args, path = job
    result = train(run_args)
    run = Run(
        variant,
        task,
        run_args.seed,
        result.initial_success,
        result.final_success,
        result.steps_to_target,
        [(int(h["iter"]), float(h["success"])) for h in result.history],
        result.wall_s,
    )
    Path(path).write_text(json.dumps({"args": asdict(run_args), "run": asdict(run)}))
    return run


def _cached(path: Path, run_args: Args) -> Run | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if data["args"] != asdict(run_args):
        return None
    run = data["run"]
    run["curve"] = [tuple(p) for p in run["curve"]]
    return Run(**run)


def warm_starts(args: CompareArgs, cache: Path, seeds: list[int]) -> dict[int, dict[str, float]]:
    """Clone (or reuse) one warm start per seed; returns seed -> {success, steps}."""
    import torch

    from rl.recipes.warm_start import WarmArgs, behaviour_clone

    out = {}
    (cache / "warm").mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        warm = WarmArgs(seed=seed, target=args.warm_target, eval_episodes=args.eval_episodes)
        meta_path = cache / "warm" / f"seed{seed}.json"
        if meta_path.exists() and json.loads(meta_path.read_text())["args"] == asdict(warm):
            out[seed] = json.loads(meta_path.read_text())["measured"]
            continue
        got = behaviour_clone(warm)
        torch.save(got.state, cache / "warm" / f"seed{seed}.pt")
        out[seed] = {"success": got.success, "steps": got.steps}
        meta_path.write_text(json.dumps({"args": asdict(warm), "measured": out[seed]}))
        print(
            f"warm start seed={seed}: {got.steps} cloning steps, success from scratch "
            f"{got.success:.3f} (mean of the last 4 measurements)",
            flush=True,
        )
    return out


def _steps(values: list[int | None]) -> str:
    reached = [v for v in values if v is not None]
    if not reached:
        return "never"
    per_seed = ", ".join("never" if v is None else str(v) for v in values)
    return f"{statistics.mean(reached):.0f} ({len(reached)}/{len(values)}: {per_seed})"


def table(runs: list[Run], args: CompareArgs, warm: dict[int, dict[str, float]]) -> str:
    """Markdown table of `runs`, one row per (start, method) in the order given."""
    lines = [
        "| start | method | `ale train` settings | initial success | final success mean +- std "
        f"| per seed | iterations to {args.target:.0%} (mean of reached; per seed) |",
        "|---|---|---|---|---|---|---|",
    ]
    keys = list(dict.fromkeys((r.task, r.variant) for r in runs))
    for task, variant in keys:
        mine = sorted(
            (r for r in runs if (r.task, r.variant) == (task, variant)), key=lambda r: r.seed
        )
        finals = [r.final for r in mine]
        lines.append(
            f"| {task} | {variant} | {' '.join(f'`{o}`' for o in algo_overrides(variant))} "
            f"| {statistics.mean(r.initial for r in mine):.2f} "
            f"| {statistics.mean(finals):.2f} +- {statistics.pstdev(finals):.2f} "
            f"| {', '.join(f'{f:.2f}' for f in finals)} "
            f"| {_steps([r.steps_to_target for r in mine])} |"
        )
    seeds = sorted({r.seed for r in runs})
    lines += [
        "",
        f"Seeds {', '.join(map(str, seeds))}; {args.iters} iterations x {args.starts} start "
        f"states x {args.group_size} episodes for every method; start states: parallel "
        "expert-prefix anchors (25% from scratch), the same for every method; success = "
        f"sampled episodes from scratch (no expert prefix), {args.eval_episodes} episodes every "
        f"{args.eval_every} iterations; std over seeds (population).",
    ]
    if warm:
        lines.append(
            "`warm`: a TinyLM behaviour-cloned on the expert trajectories per seed (cloning "
            "steps, success from scratch when cloning stopped: "
            + "; ".join(
                f"seed {s}: {int(w['steps'])}, {w['success']:.2f}" for s, w in sorted(warm.items())
            )
            + "); `initial success` is the run's own measurement at iteration 0."
        )
    return "\n".join(lines)


def plot(runs: list[Run], path: str, target: float) -> None:
    """Mean success from scratch per method over iterations (band: min-max over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r.task for r in runs))
    fig, axes = plt.subplots(1, len(tasks), figsize=(6.5 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for variant in dict.fromkeys(r.variant for r in runs if r.task == task):
            mine = [r for r in runs if (r.task, r.variant) == (task, variant)]
            iters = [i for i, _ in mine[0].curve]
            ys = [[s for _, s in r.curve] for r in mine]
            mean = [statistics.mean(col) for col in zip(*ys, strict=True)]
            style = "-" if variant.startswith("ipa") else "--"
            (line,) = ax.plot(iters, mean, style, label=variant)
            lo = [min(col) for col in zip(*ys, strict=True)]
            hi = [max(col) for col in zip(*ys, strict=True)]
            ax.fill_between(iters, lo, hi, color=line.get_color(), alpha=0.12)
        ax.axhline(target, color="grey", lw=0.8, ls=":")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("iteration")
        ax.set_ylabel("success from scratch")
        ax.set_title(f"start: {task} ({len({r.seed for r in runs})} seeds, band = min-max)")
        ax.legend(fontsize="small", ncol=2)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(CompareArgs, argv, __doc__ or "")
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    known = {**VARIANTS, **START_VARIANTS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {sorted(known)}")
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if not tasks or any(t not in TASKS for t in tasks):
        raise SystemExit(f"--tasks takes a comma list of {', '.join(TASKS)}")
    cache = Path(args.cache)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    warm = warm_starts(args, cache, seeds) if "warm" in tasks else {}
    runs: list[Run] = []
    todo: list[tuple[str, str, Args, str]] = []
    for seed in seeds:  # seed-major: an interrupted command has whole seeds done
        for task in tasks:
            for name in names:
                run_args = _run_args(args, name, task, seed, cache)
                path = cache / task / name / f"seed{seed}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                hit = _cached(path, run_args)
                if hit is not None:
                    runs.append(hit)
                else:
                    todo.append((name, task, run_args, str(path)))

    def report(run: Run) -> None:
        runs.append(run)
        print(
            f"{run.task} {run.variant} seed={run.seed}: initial={run.initial:.2f} "
            f"final={run.final:.2f} iters_to_target={run.steps_to_target} wall_s={run.wall_s:.0f}",
            flush=True,
        )

    if args.jobs > 1 and len(todo) > 1:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            for run in pool.imap_unordered(_train_one, todo):
                report(run)
    else:
        for job in todo:
            report(_train_one(job))
    order = {(t, n): i for i, (t, n) in enumerate((t, n) for t in tasks for n in names)}
    runs.sort(key=lambda r: (order[(r.task, r.variant)], r.seed))
    text = table(runs, args, warm)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    if args.plot:
        plot(runs, args.plot, args.target)
        print(f"curves: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
