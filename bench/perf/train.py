"""Benchmark: colocated scheduling with env prefetch vs a strictly sequential loop.

    python -m bench.perf.train                    # toy env, 2 x 6 steps per mode
    ale bench perf run train --steps 4 --quick

Both loops get the same budget: same steps x episodes, same seeds (so the same tasks in the
same order), same update epochs, run in ABBA order (sequential, colocated, colocated,
sequential) so load changes hit both alike. "sequential" = rollout, then train, no overlap,
no offloading; "colocated" = ROLLOUT -> TRAIN -> SYNC with engine/trainer offloading and the
next batch's environments prepared in the background (`scheduler.prefetch_from`).

`--env toy` (default): TinyLM with IPA on `ale/ToyShell-v0`, whose envs get a fixed reset
latency (`reset_delay_s`, default 1 s) and step latency (`step_delay_s`): a sandbox whose
start-up is waiting, not local CPU (a remote sandbox service, as ROCK runs them). Prefetch
from episode_start: the next batch resets into spare envs while this batch runs and trains.

`--env swe`: the agents' tiny HF chat model (random init, built locally) on swe-mini tasks in
real docker sandboxes through `ChunkEnv` (a reset is a container create + repo prepare; no
simulated latency), `swe_starts` episodes per step, `swe_max_turns` turns each. Prefetch
from episode_end: a slot prepares its next sandbox once its episode is graded, the others
when ROLLOUT ends (`AgentRollouts.collect` / `.prefetch` -> the env workers' spare envs).

Printed: per-phase totals and episodes per second over the phase time (ROLLOUT + TRAIN +
SYNC: the headline ratio) and over the loop's wall time (checkpoint writes excluded); the
cores busy per phase (whole machine, /proc/stat: overlap can only fill what the sequential
loop leaves idle); for swe, the per-episode reset wait / generation / env time and how many
resets were prefetched; the load average. No timing is asserted anywhere.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.perf.method import Method, Samples, check_repeats, schedule
from rl.config import parse_config
from rl.dataclass_cli import parse_args
from rl.records import read_jsonl
from rl.train_loop import TrainSummary, train


@dataclass
class BenchArgs:
    """Budget and simulated sandbox latency."""

    steps: int = 6
    starts: int = 8
    group_size: int = 4
    workers: int = 2
    reset_delay_s: float = 1.0
    step_delay_s: float = 0.05
    update_epochs: int = 2
    dim: int = 32
    layers: int = 1
    threads: int = 1
    repeats: int = 2
    """Runs per mode (>= 2), in ABBA order (sequential, colocated, colocated, sequential, ...) so a
    change in machine load hits both modes alike; totals are summed over repeats."""
    env: str = "toy"
    """"toy" (ToyShell + simulated latency) or "swe" (swe-mini in real docker sandboxes)."""
    swe_starts: int = 2
    """swe: episodes per step (one env slot each, run in parallel)."""
    swe_max_turns: int = 2
    swe_tasks: str = "ale-gym__tinyunits-1,ale-gym__iniconf-1"
    """swe: comma-separated swe-mini task ids the steps draw from."""
    prefetch_from: str = "auto"
    """colocated: `scheduler.prefetch_from` ("episode_start" or "episode_end"); "auto":
    episode_start for toy (its sandbox latency is waiting, like a remote sandbox), episode_end
    for swe (local containers share the CPU cores with the model)."""
    quick: bool = False
    """Smaller everything (smoke test)."""


def prefetch_from(args: BenchArgs) -> str:
    if args.prefetch_from != "auto":
        return args.prefetch_from
    return "episode_end" if args.env == "swe" else "episode_start"


def run_section(args: BenchArgs, mode: str, out: Path) -> dict[str, Any]:
    return {
        "out_dir": str(out / mode),
        "steps": args.steps,
        "checkpoint_every": 0,
        "progress": False,
        "threads": args.threads,
    }


def swe_config(args: BenchArgs, mode: str, out: Path) -> dict[str, Any]:
    """One run on swe-mini in docker sandboxes (the tiny HF model; see the module docstring)."""
    return {
        "run": run_section(args, mode, out),
        "task": {
            "kind": "sandbox",
            "env_id": "ale/SWEMini-v0",
            "backend": "docker",
            "max_turns": args.swe_max_turns,
            "max_observation_tokens": 256,
            "task_ids": [t for t in args.swe_tasks.split(",") if t],
        },
        "model": {"kind": "hf_path"},
        "engine": {"kind": "hf", "max_action_tokens": 48, "temperature": 1.0},
        "scheduler": {
            "mode": mode,
            "workers": 1,
            "envs_per_worker": args.swe_starts,
            "prefetch_from": prefetch_from(args),
        },
        "rollout": {"starts": args.swe_starts, "group_size": 1, "max_retries": 1},
        "algo": {"loss": "ipa", "failure_reward": -0.1},
        "trainer": {"lr": 1e-4, "update_epochs": args.update_epochs, "micro_batch": 1},
        "eval": {"every": 0},
    }


def mode_config(args: BenchArgs, mode: str, out: Path) -> dict[str, Any]:
    """The training config of one mode: both modes get the same one but for `scheduler.mode`
    and `run.out_dir` (the test holds them to that: same steps, episodes, seeds, epochs)."""
    if args.env == "swe":
        return swe_config(args, mode, out)
    episodes = args.starts * args.group_size
    return {
        "run": run_section(args, mode, out),
        "task": {
            "kind": "toy",
            "reset_delay_s": args.reset_delay_s,
            "step_delay_s": args.step_delay_s,
        },
        "model": {"dim": args.dim, "layers": args.layers},
        "scheduler": {
            "mode": mode,
            "workers": args.workers,
            "envs_per_worker": -(-episodes // args.workers),
            "prefetch_from": prefetch_from(args),
        },
        "rollout": {"starts": args.starts, "group_size": args.group_size},
        "trainer": {"update_epochs": args.update_epochs, "micro_batch": 16},
        "eval": {"every": 0},
    }


def run_mode(args: BenchArgs, mode: str, out: Path) -> TrainSummary:
    return train(parse_config(mode_config(args, mode, out)), progress=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(BenchArgs, argv, __doc__ or "")
    if args.quick:
        args.steps, args.starts, args.group_size = min(args.steps, 2), 2, 2
        args.reset_delay_s, args.dim, args.layers = min(args.reset_delay_s, 0.2), 32, 1
    check_repeats(args.repeats)
    order = [m for round_ in schedule(["sequential", "colocated"], args.repeats) for m in round_]
    runs: dict[str, list[TrainSummary]] = {"sequential": [], "colocated": []}
    episode_timings: dict[str, list[dict[str, Any]]] = {"sequential": [], "colocated": []}
    phase_rows: dict[str, list[dict[str, Any]]] = {"sequential": [], "colocated": []}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for i, mode in enumerate(order):
            summary = run_mode(args, mode, Path(tmp) / str(i))
            runs[mode].append(summary)
            phase_rows[mode] += read_jsonl(summary.run_dir / "phases.jsonl")
            episode_timings[mode] += [
                r["timings"]
                for r in read_jsonl(summary.run_dir / "rollouts.jsonl")
                if "timings" in r
            ]
    load_after = os.getloadavg()
    if args.env == "swe":
        print(
            f"train benchmark (real sandboxes): {args.repeats} x {args.steps} steps x "
            f"{args.swe_starts} episodes, swe-mini in docker ({args.swe_tasks}), "
            f"max_turns={args.swe_max_turns}, tiny HF model, update_epochs={args.update_epochs}, "
            f"{args.threads} thread(s), prefetch from {prefetch_from(args)}"
        )
    else:
        print(
            f"train benchmark: {args.repeats} x {args.steps} steps x "
            f"{args.starts * args.group_size} episodes, reset {args.reset_delay_s}s, step "
            f"{args.step_delay_s}s (simulated sandbox latency), TinyLM dim={args.dim} "
            f"layers={args.layers}, {args.threads} thread(s), prefetch from "
            f"{prefetch_from(args)}"
        )
    print(Method(("sequential", "colocated"), args.repeats, unit="one training run").line())
    print(
        f"load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}, "
        f"after: {' '.join(f'{x:.2f}' for x in load_after)} on {os.cpu_count()} cores"
    )
    print(
        "| mode | ROLLOUT s | TRAIN s | SYNC s | phases s | loop wall s | episodes/s "
        "(phases) | episodes/s (wall) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rate, phase_rate = {}, {}
    for mode, summaries in runs.items():
        t: dict[str, float] = {}
        for s in summaries:
            for k, v in s.phase_totals.items():
                t[k] = t.get(k, 0.0) + v
        wall = sum(s.wall_s - s.checkpoint_s for s in summaries)
        episodes = sum(s.episodes for s in summaries)
        rate[mode], phase_rate[mode] = episodes / wall, episodes / sum(t.values())
        print(
            f"| {mode} | {t.get('ROLLOUT', 0):.2f} | {t.get('TRAIN', 0):.2f} | "
            f"{t.get('SYNC', 0):.2f} | {sum(t.values()):.2f} | {wall:.2f} | "
            f"{phase_rate[mode]:.2f} | {rate[mode]:.2f} |"
        )
    per_run = {
        mode: Samples([s.episodes / sum(s.phase_totals.values()) for s in summaries])
        for mode, summaries in runs.items()
    }
    print(
        "episodes/s (phases) per run, median (min-max): "
        + "; ".join(f"{m} {v.text()}" for m, v in per_run.items())
        + f"; ratio of medians {per_run['colocated'].median / per_run['sequential'].median:.2f}x"
    )
    print(
        f"throughput ratio over ROLLOUT+TRAIN+SYNC time: "
        f"{phase_rate['colocated'] / phase_rate['sequential']:.2f}x (target >= 1.3x)"
    )
    print(
        f"throughput ratio over loop wall time (adds ledger / TensorBoard writes): "
        f"{rate['colocated'] / rate['sequential']:.2f}x"
    )
    print_cpu_use(phase_rows)
    if any(episode_timings.values()):
        print_episode_timings(episode_timings)
    return 0


def print_cpu_use(per_mode: dict[str, list[dict[str, Any]]]) -> None:
    """Cores busy on average per phase (whole machine, from /proc/stat): overlap can only fill
    what the sequential loop leaves idle."""
    names = ("ROLLOUT", "TRAIN", "SYNC")
    print(
        f"| mode | {' | '.join(f'{n} cores busy' for n in names)} | all phases | "
        f"(of {os.cpu_count()}) |"
    )
    print("|---|---|---|---|---|---|")
    for mode, rows in per_mode.items():

        def busy(rs: list[dict[str, Any]]) -> str:
            dur = sum(r["dur_s"] for r in rs)
            return f"{sum(r.get('cpu_s', 0.0) for r in rs) / dur:.2f}" if dur > 0 else "-"

        cells = [busy([r for r in rows if r["phase"] == n]) for n in names]
        print(f"| {mode} | {' | '.join(cells)} | {busy(rows)} | |")


def print_episode_timings(per_mode: dict[str, list[dict[str, Any]]]) -> None:
    """Per-episode means of the agent loop's timings (sandboxed suites): the reset wait is
    what prefetch hides; policy = generation, env = tool calls + grading."""
    print(
        "| mode | episodes | prefetched resets | reset wait s (mean) | policy s (mean) | "
        "env s incl. grading (mean) |"
    )
    print("|---|---|---|---|---|---|")
    for mode, rows in per_mode.items():
        n = max(len(rows), 1)
        mean = {
            k: sum(float(r.get(k, 0.0)) for r in rows) / n for k in ("reset_s", "policy_s", "env_s")
        }
        print(
            f"| {mode} | {len(rows)} | {sum(bool(r.get('prefetched')) for r in rows)} | "
            f"{mean['reset_s']:.2f} | {mean['policy_s']:.2f} | {mean['env_s']:.2f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
