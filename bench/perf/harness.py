"""Harness cost: `ale bench run` against the grading floor, a bare loop, and worker scaling.

    python -m bench.perf.harness [--suite swe-mini] [--workers 2] [--repeats 2] [--quick]
                                 [--bare] [--tasks 4] [--scale-workers 1,2,4,8] [--ids A,B]
    ale bench perf run harness --quick

0. Against the grading floor (the headline; SWE-bench-format suites): the whole suite, run
   (a) by `ale bench run --policy oracle --workers W` (`run_cmd` in this process: suite and
   images resolved, orphan gc, episodes with the agent loop, ledger, trajectories, logs,
   report and plots) and (b) by `bench.perf.floor` with W threads: per task a fresh container
   of the task image, the gold patch, the test patch, the same eval script, the official
   parser, nothing written. ABBA over the suite, `--repeats` >= 2 (`bench.perf.method`).
   Printed: harness/floor for the suite (median of the per-round walls, min-max) and per task
   (the ledger's `duration_s` against the floor's own time, medians over rounds), with the
   method line and machine load. Target: <= 1.15x.
1. `--bare`: overhead over a bare loop: the same tasks and oracle episodes, one worker, run (a) by a bare loop
   (`ChunkEnv` + `run_episode`, nothing written) and (b) by `run_bench` + `AgentRunner`
   (trajectories, ledger, derived files, logs, run labels, workdir diffs, orphan gc), each
   `--repeats` times in alternating order, the fastest of each compared (shared machines are
   noisy). Printed: wall time of each, the ratio (target <= 1.1x) and the overhead per task.
2. Scaling (`--scale-workers`): the same suite at each worker count in a fresh run folder: wall time,
   tasks/s and speed-up over one worker. On a machine with C cores, expect the speed-up to
   flatten near C (each episode's tests use a core).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.config import AgentConfig
from agents.loop import run_episode
from agents.policies import make_policy
from bench.cli.run_cmds import default_agent, resolve_bench_suite, run_id_of
from bench.harness import collect_quietly, run_bench
from bench.perf import floor
from bench.perf.method import (
    ORDERS,
    Method,
    OpCount,
    Order,
    Samples,
    alternate,
    check_repeats,
    machine_load,
    ratio_text,
)
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
        collect_quietly(run_id, live=True)
        agents.loop.run_episode = inner  # type: ignore[assignment]
    return time.perf_counter() - t0, int(report["resolved_instances"])


@dataclass
class SuiteRound:
    """One side's run over the suite: wall seconds, per-task seconds, resolved, ops."""

    wall_s: float
    per_task: dict[str, float]
    resolved: int
    ops: dict[str, int]


def harness_ops(folder: Path) -> dict[str, int]:
    """What `ale bench run` did, read back from its run folder: sandboxes (distinct sandbox ids
    in the trajectories), gold patches applied (the oracle's `git apply` chunks), eval scripts
    (grade logs) and parsed verdicts (ledger rows with per-test statuses)."""
    from agents.trajectory import load_trajectory

    store = RunStore(folder)
    ops: Counter[str] = Counter()
    for r in store.results():
        ops["parse"] += bool(r.tests)
        ops["eval script"] += store.log_path(r.task_id, r.attempt, "grade").is_file()
        record = load_trajectory(store.trajectory_path(r.task_id, r.attempt))
        ids = {c.info.get("sandbox_id") for c in record.chunks} - {None}
        ops["container"] += len(ids)
        ops["git apply gold"] += sum(
            "git apply" in str(c.action or c.response) for c in record.chunks
        )
    return dict(sorted(ops.items()))


def harness_suite(suite: str, ids: list[str], workers: int, backend: str, root: Path) -> SuiteRound:
    """`ale bench run --suite S --policy oracle --workers W` in-process, in a fresh folder."""
    from bench.cli.run_cmds import run_cmd

    folder = root / f"harness-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        run_cmd(
            suite=suite,
            agent=None,
            policy="oracle",
            workers=workers,
            tasks=ids,
            run_dir=folder,
            backend=backend,
            progress=False,
        )
    wall = time.perf_counter() - t0
    results = RunStore(folder).results()
    ops = harness_ops(folder)
    from envs.rock.gc import list_all

    left = [r for r in list_all() if r.labels.get(RUN_LABEL) == run_id_of(folder)]
    ops["remove"] = ops.get("container", 0) - len(left)  # every sandbox removed by the run
    return SuiteRound(
        wall, {r.task_id: r.duration_s for r in results}, sum(r.resolved for r in results), ops
    )


def floor_suite_round(suite_name: str, ids: list[str], workers: int, backend: str) -> SuiteRound:
    """The grading floor over `ids`; the suite is resolved inside the clock, as `ale bench run`
    resolves it."""
    ops = OpCount()
    t0 = time.perf_counter()
    suite = resolve_bench_suite(suite_name)
    _, results = floor.grade_suite(
        suite.load, ids, workers, backend, f"{os.getpid()}-{time.monotonic_ns()}", ops
    )
    return SuiteRound(
        time.perf_counter() - t0,
        {r.task_id: r.seconds for r in results},
        sum(r.resolved for r in results),
        ops.as_dict(),
    )


def against_floor(
    suite_name: str, suite: Any, ids: list[str], workers: int, repeats: int, backend: str,
    root: Path, order: Order = "abba",
) -> dict[str, Any]:  # fmt: skip
    """ABBA over the whole suite: `ale bench run` (oracle) vs the grading floor."""
    for t in ids:  # images prepared before any clock starts (both sides then find them)
        suite.load(t).ensure_image(backend)
    floor_suite_round(suite_name, ids[:1], 1, backend)  # untimed warm-up of both
    harness_suite(suite_name, ids[:1], 1, backend, root)
    got = alternate(
        {
            "harness": lambda: harness_suite(suite_name, ids, workers, backend, root),
            "floor": lambda: floor_suite_round(suite_name, ids, workers, backend),
        },
        repeats,
        order,
    )
    walls = {side: Samples([r.wall_s for r in rounds]) for side, rounds in got.items()}
    per_task = {
        t: (
            statistics.median(r.per_task[t] for r in got["harness"]),
            statistics.median(r.per_task[t] for r in got["floor"]),
        )
        for t in ids
    }
    print(
        Method(
            ("harness", "floor"),
            repeats,
            order,
            f"the whole suite ({len(ids)} tasks, {workers} workers)",
        ).line()
    )
    print("| task | harness s (ledger duration_s) | floor s | ratio |")
    print("|---|---|---|---|")
    for t, (h, f) in per_task.items():
        print(f"| {t} | {h:.2f} | {f:.2f} | {h / f:.2f}x |")
    ratio = walls["harness"].median / walls["floor"].median
    print(
        f"suite wall s, median (min-max): harness {walls['harness'].text()}, floor "
        f"{walls['floor'].text()}; harness/floor {ratio_text(walls['harness'], walls['floor'])} "
        f"(target <= 1.15x: {'met' if ratio <= 1.15 else 'MISSED'}); per-task median ratio "
        f"{statistics.median(h / f for h, f in per_task.values()):.2f}x; resolved harness "
        f"{[r.resolved for r in got['harness']]}, floor {[r.resolved for r in got['floor']]} "
        f"of {len(ids)}"
    )
    print(f"ops per round: harness {got['harness'][0].ops}; floor {got['floor'][0].ops}")
    return {
        "workers": workers,
        "repeats": repeats,
        "order": order,
        "tasks": ids,
        "harness_wall_s": walls["harness"].values,
        "floor_wall_s": walls["floor"].values,
        "ratio": ratio,
        "per_task": {t: {"harness_s": h, "floor_s": f} for t, (h, f) in per_task.items()},
        "resolved": {s: [r.resolved for r in rs] for s, rs in got.items()},
        "ops": {s: [r.ops for r in rs] for s, rs in got.items()},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--suite", default="swe-mini", help="a shipped suite (swe-mini, tb-mini) or a path"
    )
    ap.add_argument("--workers", type=int, default=2, help="workers on both sides of the floor run")
    ap.add_argument("--repeats", type=int, default=2, help="ABBA rounds per comparison, >= 2")
    ap.add_argument("--order", default="abba", choices=ORDERS)
    ap.add_argument("--no-floor", action="store_true", help="skip the grading-floor comparison")
    ap.add_argument("--bare", action="store_true", help="also compare with a bare loop (1 worker)")
    ap.add_argument("--tasks", type=int, default=4, help="tasks in the bare-loop comparison")
    ap.add_argument(
        "--ids", help="comma-separated task ids to draw from (default: the suite's order)"
    )
    ap.add_argument(
        "--scale-workers", default="", help="worker counts for a scaling sweep, e.g. 1,2,4,8"
    )
    ap.add_argument("--scale-tasks", type=int, default=8, help="tasks in each scaling run")
    ap.add_argument("--backend", default="docker")
    ap.add_argument("--quick", action="store_true", help="2 tasks per side (CI smoke)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    repeats = check_repeats(args.repeats)
    n, scale_n = args.tasks, args.scale_tasks
    counts = [int(w) for w in args.scale_workers.split(",") if w.strip()]
    suite = resolve_bench_suite(args.suite)
    agent = AgentConfig.load(default_agent(suite))
    ids = args.ids.split(",") if args.ids else suite.task_ids()
    if args.quick:
        n, scale_n, ids = 2, 2, ids[:2]
    print(f"suite={args.suite} backend={args.backend} policy=oracle; {machine_load()}")
    out: dict[str, Any] = {"suite": args.suite, "backend": args.backend, "tasks": n}
    with tempfile.TemporaryDirectory(prefix="ale-perf-harness-") as tmp:
        root = Path(tmp)
        if not args.no_floor:
            if not all(hasattr(suite.load(t), "instance") for t in ids[:1]):
                print("floor: skipped: the suite is not in SWE-bench format")
            else:
                out["floor"] = against_floor(
                    args.suite, suite, ids, args.workers, repeats, args.backend, root, args.order
                )
        if args.bare:
            out.update(bare_comparison(suite, agent, ids, n, repeats, args.backend, root))
        if counts:
            out["scaling"] = scaling(suite, agent, ids[:scale_n], counts, args.backend, root)
    print(f"done; {machine_load()}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


def bare_comparison(
    suite: Any, agent: AgentConfig, ids: list[str], n: int, repeats: int, backend: str, root: Path
) -> dict[str, Any]:
    """Harness (1 worker) vs a bare loop over the same `n` tasks, ABBA, fastest of each."""
    for tid in ids[:n]:  # images built before any clock starts
        suite.load(tid).ensure_image(backend)
    bare_loop(suite, agent, ids[:1], backend)  # warm-up: page cache, image layers
    bares, harnesses, attributed = [], [], []

    def harness_side() -> None:
        episodes: list[float] = []
        wall, ok = harness_run(suite, agent, ids[:n], backend, 1, root, episodes)
        harnesses.append((wall, ok))
        attributed.append((wall, sum(episodes)))

    alternate(
        {
            "bare": lambda: bares.append(bare_loop(suite, agent, ids[:n], backend)),
            "harness": harness_side,
        },
        repeats,
    )
    bare_s, bare_ok = min(bares)
    harness_s, harness_ok = min(harnesses)
    in_wall, in_episodes = min(attributed, key=lambda w: w[0] / w[1])
    print(Method(("bare", "harness"), repeats, unit=f"{n} tasks, 1 worker; fastest of each").line())
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
    return {
        "bare_s": bare_s,
        "harness_s": harness_s,
        "ratio": harness_s / bare_s,
        "overhead_per_task_s": (harness_s - bare_s) / n,
        "resolved": [bare_ok, harness_ok],
        "same_run_ratio": in_wall / in_episodes,
        "same_run_overhead_per_task_s": (in_wall - in_episodes) / n,
    }


def scaling(
    suite: Any, agent: AgentConfig, ids: list[str], counts: list[int], backend: str, root: Path
) -> list[dict[str, Any]]:
    """The same tasks at each worker count in a fresh run folder (no baseline: a sweep)."""
    for tid in ids:
        suite.load(tid).ensure_image(backend)
    out = []
    base = None
    print(f"{'workers':>8} {'tasks':>6} {'wall s':>8} {'tasks/s':>8} {'speed-up':>9}")
    for w in counts:
        wall, ok = harness_run(suite, agent, ids, backend, w, root)
        base = base or wall
        out.append(
            {
                "workers": w,
                "wall_s": wall,
                "tasks_per_s": len(ids) / wall,
                "speedup": base / wall,
                "resolved": ok,
            }
        )
        print(f"{w:>8} {len(ids):>6} {wall:8.2f} {len(ids) / wall:8.3f} {base / wall:8.2f}x")
    return out


if __name__ == "__main__":
    main()
