"""Harness overhead and scaling: `ale bench run`'s machinery against a bare loop, same episodes.

    python -m bench.perf.harness [--suite swe-mini] [--tasks 4] [--workers 1,2,4,8] [--ids A,B] [--quick]
    ale bench perf run harness --quick

1. Overhead: the same tasks and oracle episodes, one worker, run (a) by a bare loop
   (`ChunkEnv` + `run_episode`, nothing written) and (b) by `run_bench` + `AgentRunner`
   (trajectories, ledger, derived files, logs, run labels, workdir diffs, orphan gc), each
   `--repeat` times in alternating order, the fastest of each compared (shared machines are
   noisy). Printed: wall time of each, the ratio (target <= 1.1x) and the overhead per task.
2. Scaling: the same suite at each `--workers` count in a fresh run folder: wall time,
   tasks/s and speed-up over one worker. On a machine with C cores, expect the speed-up to
   flatten near C (each episode's tests use a core).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from agents.config import AgentConfig
from agents.loop import run_episode
from agents.policies import make_policy
from bench.cli.run_cmds import default_agent, resolve_bench_suite, run_id_of
from bench.cli.stoppable import remove_run_sandboxes
from bench.harness import run_bench
from bench.runners import AgentRunner, env_kwargs
from bench.store import RunStore
from bench.tasks import RUN_LABEL, BenchSuite


def bare_loop(suite: Any, agent: AgentConfig, ids: list[str], backend: str) -> tuple[float, int]:
    """(wall seconds, resolved) for the episodes run one after another, nothing recorded."""
    from envs.core.env import ChunkEnv

    env = ChunkEnv(suite=suite, backend=backend, **env_kwargs(agent))
    policy = make_policy("oracle")
    t0 = time.perf_counter()
    resolved = 0
    try:
        for tid in ids:
            record = run_episode(env, agent, policy, tid)
            resolved += bool(record.grade and record.grade.get("resolved"))
    finally:
        env.close()
    return time.perf_counter() - t0, resolved


def harness_run(
    suite: Any,
    agent: AgentConfig,
    ids: list[str],
    backend: str,
    workers: int,
    root: Path,
    episode_s: list[float] | None = None,
) -> tuple[float, int]:
    """(wall seconds, resolved) for `run_bench` with the oracle in a fresh run folder; the
    wall time of each `run_episode` inside it is appended to `episode_s`."""
    import agents.loop

    folder = root / f"w{workers}-{time.monotonic_ns()}"
    run_id = run_id_of(folder)
    runner = AgentRunner(
        BenchSuite(suite, {RUN_LABEL: run_id}),
        agent,
        lambda: make_policy("oracle"),
        backend=backend,
    )
    inner = agents.loop.run_episode

    def timed_episode(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            task = getattr(args[0], "task", None)  # the workdir diff runs inside the episode but
            extra = float(getattr(task, "bench_s", 0.0))  # is harness work: not counted as episode
            if episode_s is not None:
                episode_s.append(time.perf_counter() - t - extra)

    agents.loop.run_episode = timed_episode  # type: ignore[assignment]  # AgentRunner looks it up per call
    t0 = time.perf_counter()
    try:
        report = run_bench(
            RunStore(folder), ids, runner, "oracle", workers=workers, show_progress=False
        )
    finally:
        runner.close()
        remove_run_sandboxes(run_id)
        agents.loop.run_episode = inner  # type: ignore[assignment]
    return time.perf_counter() - t0, int(report["resolved_instances"])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--suite", default="swe-mini", help="a shipped suite (swe-mini, tb-mini) or a path"
    )
    ap.add_argument("--tasks", type=int, default=4, help="tasks in the overhead comparison")
    ap.add_argument(
        "--ids", help="comma-separated task ids to draw from (default: the suite's order)"
    )
    ap.add_argument(
        "--workers", default="1,2,4,8", help="worker counts for the scaling sweep ('' skips it)"
    )
    ap.add_argument("--scale-tasks", type=int, default=8, help="tasks in each scaling run")
    ap.add_argument(
        "--repeat", type=int, default=2, help="overhead runs per side (alternating order)"
    )
    ap.add_argument("--backend", default="docker")
    ap.add_argument("--quick", action="store_true", help="2 tasks, workers 1,2 (CI smoke)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    n, scale_n, counts = (
        args.tasks,
        args.scale_tasks,
        [int(w) for w in args.workers.split(",") if w.strip()],
    )
    if args.quick:
        n, scale_n, counts, args.repeat = 2, 2, [1, 2], 1
    suite = resolve_bench_suite(args.suite)
    agent = AgentConfig.load(default_agent(suite))
    ids = args.ids.split(",") if args.ids else suite.task_ids()
    for tid in ids[: max(n, scale_n)]:  # images built before any clock starts
        suite.load(tid).ensure_image(args.backend)
    out: dict[str, Any] = {"suite": args.suite, "backend": args.backend, "tasks": n}
    with tempfile.TemporaryDirectory(prefix="ale-perf-harness-") as tmp:
        root = Path(tmp)
        bare_loop(suite, agent, ids[:1], args.backend)  # warm-up: page cache, image layers
        bares, harnesses, attributed = [], [], []
        for rep in range(args.repeat):  # alternating order; the fastest of each is compared
            episodes: list[float] = []

            def harness_side(episodes: list[float] = episodes) -> None:
                wall, ok = harness_run(suite, agent, ids[:n], args.backend, 1, root, episodes)
                harnesses.append((wall, ok))
                attributed.append((wall, sum(episodes)))

            pair = [
                lambda: bares.append(bare_loop(suite, agent, ids[:n], args.backend)),
                harness_side,
            ]
            for fn in pair if rep % 2 == 0 else pair[::-1]:
                fn()
        bare_s, bare_ok = min(bares)
        harness_s, harness_ok = min(harnesses)
        in_wall, in_episodes = min(attributed, key=lambda w: w[0] / w[1])
        out.update(
            bare_s=bare_s,
            harness_s=harness_s,
            ratio=harness_s / bare_s,
            overhead_per_task_s=(harness_s - bare_s) / n,
            resolved=[bare_ok, harness_ok],
            same_run_ratio=in_wall / in_episodes,
            same_run_overhead_per_task_s=(in_wall - in_episodes) / n,
        )
        print(
            f"suite={args.suite} backend={args.backend} tasks={n} policy=oracle repeat={args.repeat} (min)"
        )
        print(
            f"A/B (1 worker): bare loop {bare_s:.2f} s, harness {harness_s:.2f} s, ratio "
            f"{harness_s / bare_s:.3f}x, {(harness_s - bare_s) / n:+.2f} s/task; resolved {bare_ok}/{n} and "
            f"{harness_ok}/{n}  (separate runs: noisy on a shared machine)"
        )
        print(
            f"same run (1 worker): harness wall {in_wall:.2f} s over the episodes' own {in_episodes:.2f} s: "
            f"ratio {in_wall / in_episodes:.3f}x (target <= 1.1x), {(in_wall - in_episodes) / n:+.3f} s/task "
            "of ledger, trajectory, logs, workdir diffs, run labels, gc"
        )
        scaling = []
        base = None
        print(f"{'workers':>8} {'tasks':>6} {'wall s':>8} {'tasks/s':>8} {'speed-up':>9}")
        for w in counts:
            wall, ok = harness_run(suite, agent, ids[:scale_n], args.backend, w, root)
            base = base or wall
            scaling.append(
                {
                    "workers": w,
                    "wall_s": wall,
                    "tasks_per_s": scale_n / wall,
                    "speedup": base / wall,
                    "resolved": ok,
                }
            )
            print(f"{w:>8} {scale_n:>6} {wall:8.2f} {scale_n / wall:8.3f} {base / wall:8.2f}x")
        out["scaling"] = scaling
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
