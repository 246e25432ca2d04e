"""Benchmark: colocated scheduling with env prefetch vs a strictly sequential loop.

    python -m bench.perf.train                    # 6 steps each, 2 s simulated sandbox start
    ale bench perf run train --steps 4 --quick

Both runs train the same TinyLM with IPA on `ale/ToyShell-v0` for the same number of steps
(same episodes, same seeds). The envs are wrapped with a fixed reset latency (`reset_delay_s`,
default 2 s: the order of a container start + repo setup) and step latency (`step_delay_s`), so
the benchmark is about hiding sandbox latency, not about the toy env's microseconds.
"colocated" = ROLLOUT -> TRAIN -> SYNC with engine/trainer offloading and the next batch's
envs reset by the workers during TRAIN; "sequential" = rollout then train, no overlap, no
offloading. Printed: per-phase totals and episodes per second, over the phase time (ROLLOUT +
TRAIN + SYNC: the headline ratio) and over the loop's wall time (checkpoint writes excluded;
it adds the per-step ledger / TensorBoard writes, identical work in both modes, which on a
loaded machine only adds noise). No timing is asserted anywhere.

    python -m bench.perf.train --env swe --steps 3 --repeats 1

`--env swe` measures the real thing: the agents' tiny HF chat model (random init, built
locally) on swe-mini tasks in real docker sandboxes through `ChunkEnv` (a reset is a
container create + repo prepare: seconds; no simulated latency). Both modes run the same
task ids in the same order (same seeds), `swe_starts` episodes per step, `swe_max_turns`
turns each. Colocated prepares the next batch's sandboxes in the background
(`SweTask.collect` / `SweTask.prefetch` -> `ChunkEnv.prefetch`): a slot starts as soon as its
episode of the batch's last wave is graded (overlapping the rest of ROLLOUT), the others when
ROLLOUT ends (overlapping TRAIN and SYNC); sequential prepares each sandbox inside ROLLOUT.
The load average is printed with the results.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rl.config import parse_config
from rl.recipes.cli import parse_args
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
    """Runs per mode, in ABBA order (sequential, colocated, colocated, sequential, ...) so a
    change in machine load hits both modes alike; totals are summed over repeats."""
    env: str = "toy"
    """"toy" (ToyShell + simulated latency) or "swe" (swe-mini in real docker sandboxes)."""
    swe_starts: int = 2
    """swe: episodes per step (one env slot each, run in parallel)."""
    swe_max_turns: int = 2
    swe_tasks: str = "ale-gym__tinyunits-1,ale-gym__iniconf-1"
    """swe: comma-separated swe-mini task ids the steps draw from."""
    quick: bool = False
    """Smaller everything (smoke test)."""


def run_swe_mode(args: BenchArgs, mode: str, out: Path) -> TrainSummary:
    """One run on swe-mini in docker sandboxes (the tiny HF model; see the module docstring)."""
    cfg = parse_config({
        "run": {"out_dir": str(out / mode), "steps": args.steps, "checkpoint_every": 0,
                "progress": False, "threads": args.threads},
        "task": {"kind": "swe", "suite": "swe-mini", "backend": "docker",
                 "max_turns": args.swe_max_turns, "max_observation_tokens": 256,
                 "task_ids": [t for t in args.swe_tasks.split(",") if t]},
        "model": {"kind": "hf_path"},
        "engine": {"kind": "hf", "max_action_tokens": 48, "temperature": 1.0},
        "scheduler": {"mode": mode, "workers": 1, "envs_per_worker": args.swe_starts},
        "rollout": {"starts": args.swe_starts, "group_size": 1, "max_retries": 1},
        "algo": {"loss": "ipa", "failure_reward": -0.1},
        "trainer": {"lr": 1e-4, "update_epochs": args.update_epochs, "micro_batch": 1},
        "eval": {"every": 0},
    })
    return train(cfg, progress=False)


def run_mode(args: BenchArgs, mode: str, out: Path) -> TrainSummary:
    if args.env == "swe":
        return run_swe_mode(args, mode, out)
    episodes = args.starts * args.group_size
    cfg = parse_config({
        "run": {"out_dir": str(out / mode), "steps": args.steps, "checkpoint_every": 0,
                "progress": False, "threads": args.threads},
        "task": {"reset_delay_s": args.reset_delay_s, "step_delay_s": args.step_delay_s},
        "model": {"dim": args.dim, "layers": args.layers},
        "scheduler": {"mode": mode, "workers": args.workers,
                      "envs_per_worker": -(-episodes // args.workers)},
        "rollout": {"starts": args.starts, "group_size": args.group_size},
        "trainer": {"update_epochs": args.update_epochs, "micro_batch": 16},
        "eval": {"every": 0},
    })
    return train(cfg, progress=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(BenchArgs, argv, __doc__ or "")
    if args.quick:
        args.steps, args.starts, args.group_size = min(args.steps, 2), 2, 2
        args.reset_delay_s, args.dim, args.layers = min(args.reset_delay_s, 0.2), 32, 1
    order = [m for i in range(args.repeats) for m in
             (("sequential", "colocated") if i % 2 == 0 else ("colocated", "sequential"))]
    runs: dict[str, list[TrainSummary]] = {"sequential": [], "colocated": []}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for i, mode in enumerate(order):
            runs[mode].append(run_mode(args, mode, Path(tmp) / str(i)))
    load_after = os.getloadavg()
    if args.env == "swe":
        print(f"train benchmark (real sandboxes): {args.repeats} x {args.steps} steps x "
              f"{args.swe_starts} episodes, swe-mini in docker ({args.swe_tasks}), "
              f"max_turns={args.swe_max_turns}, tiny HF model, update_epochs={args.update_epochs}, "
              f"{args.threads} thread(s)")
    else:
        print(f"train benchmark: {args.repeats} x {args.steps} steps x "
              f"{args.starts * args.group_size} episodes, reset {args.reset_delay_s}s, step "
              f"{args.step_delay_s}s (simulated sandbox latency), TinyLM dim={args.dim} "
              f"layers={args.layers}, {args.threads} thread(s)")
    print(f"load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after: {' '.join(f'{x:.2f}' for x in load_after)} on {os.cpu_count()} cores")
    print("| mode | ROLLOUT s | TRAIN s | SYNC s | phases s | loop wall s | episodes/s "
          "(phases) | episodes/s (wall) |")
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
        print(f"| {mode} | {t.get('ROLLOUT', 0):.2f} | {t.get('TRAIN', 0):.2f} | "
              f"{t.get('SYNC', 0):.2f} | {sum(t.values()):.2f} | {wall:.2f} | "
              f"{phase_rate[mode]:.2f} | {rate[mode]:.2f} |")
    print(f"throughput ratio over ROLLOUT+TRAIN+SYNC time: "
          f"{phase_rate['colocated'] / phase_rate['sequential']:.2f}x (target >= 1.3x)")
    print(f"throughput ratio over loop wall time (adds ledger / TensorBoard writes): "
          f"{rate['colocated'] / rate['sequential']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
