"""Scaling curves: sandbox throughput against concurrency, env episodes against Ray nodes.

    python -m bench.perf.scaling [--backends docker,local] [--counts 1,4,16,64] [--steps 20]
                                 [--lifecycles 2] [--repeats 2] [--ray-nodes 1,2] [--png FILE]
    ale bench perf run scaling --counts 1,2 --steps 2 --lifecycles 1 --no-ray   # a smoke run

Sandboxes, per backend and count N (N threads, one sandbox each):
- resets/s: each thread runs `--lifecycles` full lifecycles, create -> `true` -> close, all timed
  (removal included), so resets/s = N x lifecycles / wall;
- steps/s: N sandboxes started (untimed), then each runs `--steps` process-spawning commands
  (`/bin/echo i-s`, output checked) in a persistent session: N x steps / wall, with the per-step
  latency p50/p90;
- memory per sandbox while N are up (`bench.perf.hostmem`): the sandbox's cgroup, its
  engine-side processes, daemon and driver RSS deltas divided by N.
Every point performs the same operations per sandbox (counted as they happen, in `ops`); the
backends alternate per count (ABBA over `--repeats`), medians over repeats are printed with the
machine's busy cores and load average beside each point. Sandboxes carry a `ale.bench.scaling`
label with this run's id; what is left of them is removed by that label, nobody else's.

Ray: env episodes/s of `rl.workers.WorkerGroup` Ray actors on 1 and 2 nodes of a local
`ray.cluster_utils.Cluster` (one worker of `--ray-slots` env slots per node, pinned), each
episode the expert's 4 turns on `ale/ToyShell-v0`, once with a remote-sandbox-like latency
(`--ray-delay`, reset/step seconds) and once without (bound by CPU and Ray calls). Node counts
run in ABBA order on one cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench.perf.hostmem import MemoryProbe, sandbox_memory
from bench.perf.method import Method, OpCount, check_repeats, machine_load, schedule
from envs.rock import Sandbox, SandboxSpec
from envs.rock.factory import create_sandbox
from rl.accounting import machine_busy_cpu_s

LABEL = "ale.bench.scaling"
MiB = 2**20


@dataclass
class Busy:
    """Wall seconds and the machine's busy cores over a timed block."""

    wall_s: float = 0.0
    cores: float = 0.0

    @classmethod
    def measure(cls, fn: Callable[[], object]) -> Busy:
        cpu0, t0 = machine_busy_cpu_s(), time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        return cls(wall, (machine_busy_cpu_s() - cpu0) / wall if wall else 0.0)


@dataclass
class Point:
    """One (backend, N) measurement."""

    backend: str
    sandboxes: int
    repeat: int
    resets_per_s: float
    steps_per_s: float
    step_p50_ms: float
    step_p90_ms: float
    cores_resets: float
    cores_steps: float
    load1: float
    memory_mib: dict[str, float]
    """Per sandbox: cgroup, cgroup_rss, engine (its own host processes), daemons, driver."""
    engine_procs: list[str]
    ops: dict[str, float]
    """Operations per sandbox (create, run:true, run:/bin/echo, close, ...)."""
    failures: list[str] = field(default_factory=list)


def _spec(run_id: str) -> SandboxSpec:
    return SandboxSpec(memory_mb=256, labels={LABEL: run_id}, ttl_s=1800)


def _lifecycles(
    backend: str, spec: SandboxSpec, n: int, each: int, ops: OpCount, errors: list[str]
) -> int:
    """N threads x `each` (create, `true`, close); returns how many completed, failures are
    appended to `errors`."""

    def one(_: int) -> None:
        for _ in range(each):
            try:
                sb = create_sandbox(spec, backend)
                ops.add("create")
                try:
                    if sb.run("true").exit_code != 0:
                        errors.append("`true` failed")
                    ops.add("run:true")
                    ops.add("lifecycle")
                finally:
                    sb.close()
                    ops.add("close")
            except Exception as exc:  # counted and shown, never hidden
                errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")

    with ThreadPoolExecutor(n) as ex:
        list(ex.map(one, range(n)))
    return ops.counts["lifecycle"]


def _steps(boxes: list[Sandbox], steps: int, ops: OpCount) -> tuple[list[float], list[str]]:
    """Every sandbox runs `steps` `/bin/echo` commands from its own thread."""
    lat: list[float] = []
    errors: list[str] = []

    def one(i: int) -> None:
        for s in range(steps):
            t = time.perf_counter()
            r = boxes[i].run(f"/bin/echo {i}-{s}")
            lat.append(time.perf_counter() - t)
            ops.add("run:/bin/echo")
            if r.output != f"{i}-{s}\n":
                errors.append(f"sandbox {i} step {s}: {r.output[:80]!r}")

    with ThreadPoolExecutor(len(boxes)) as ex:
        list(ex.map(one, range(len(boxes))))
    return lat, errors


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def measure_point(
    backend: str, n: int, steps: int, lifecycles: int, run_id: str, repeat: int = 0
) -> Point:
    """Resets/s, steps/s and memory per sandbox for N concurrent sandboxes on `backend`."""
    spec, ops = _spec(run_id), OpCount()
    errors: list[str] = []
    resets = Busy.measure(lambda: _lifecycles(backend, spec, n, lifecycles, ops, errors))
    completed = ops.counts["lifecycle"]
    probe = MemoryProbe()
    boxes: list[Sandbox] = []
    try:
        with ThreadPoolExecutor(min(n, 8)) as ex:
            starts = [ex.submit(create_sandbox, spec, backend) for _ in range(n)]
            for fut in starts:  # keep every one that started; a failed start is reported
                if (exc := fut.exception()) is None:
                    boxes.append(fut.result())
                    ops.add("create")
                else:
                    errors.append(f"start: {type(exc).__name__}: {str(exc)[:160]}")
        if not boxes:
            raise RuntimeError(f"no sandbox of {n} started on {backend}: {errors[:3]}")
        for sb in boxes:  # warm each session (the first command opens it); untimed
            sb.run("true")
            ops.add("run:true")
        lat: list[float] = []

        def stepping() -> None:
            got, bad = _steps(boxes, steps, ops)
            lat.extend(got)
            errors.extend(bad)

        stepped = Busy.measure(stepping)
        mems = [sandbox_memory(backend, sb.id) for sb in boxes]
        deltas = probe.deltas()
    finally:
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda b: b.close(), boxes))
        for _ in boxes:
            ops.add("close")
    up = len(boxes)
    memory = {
        "cgroup": statistics.fmean(m.cgroup for m in mems) / MiB,
        "cgroup_rss": statistics.fmean(m.cgroup_rss for m in mems) / MiB,
        "engine": statistics.fmean(m.engine for m in mems) / MiB,
        "daemons": sum(v for k, v in deltas.items() if k != "driver") / up / MiB,
        "driver": deltas["driver"] / up / MiB,
    }
    if not all(m.readable for m in mems):
        errors.append("memory: some sandbox cgroups were not readable")
    return Point(
        backend,
        n,
        repeat,
        completed / resets.wall_s,
        len(boxes) * steps / stepped.wall_s,
        statistics.median(lat) * 1000 if lat else float("nan"),
        _pct(lat, 0.9) * 1000,
        resets.cores,
        stepped.cores,
        os.getloadavg()[0],
        memory,
        sorted(set(mems[0].engine_procs)) if mems else [],
        ops.per(n),
        errors[:5] + ([f"... {len(errors) - 5} more"] if len(errors) > 5 else []),
    )


def sweep(
    backends: Sequence[str], counts: Sequence[int], steps: int, lifecycles: int, repeats: int
) -> list[Point]:
    """Every (backend, count) `repeats` times; backends in ABBA order per count."""
    run_id = f"{os.getpid()}-{secrets.token_hex(3)}"
    points: list[Point] = []
    try:
        for r, order in enumerate(schedule(backends, repeats)):
            for n in counts:
                for b in order:
                    p = measure_point(b, n, steps, lifecycles, run_id, r)
                    print(_row(p), flush=True)
                    points.append(p)
    finally:
        _collect(run_id)
    return points


def _collect(run_id: str) -> None:
    """Remove sandboxes of this run left behind by a failure (our label only)."""
    from envs.rock.gc import GcScope, collect

    try:
        collect(GcScope(labels={LABEL: run_id}))
    except Exception as exc:  # housekeeping: the numbers matter more
        print(f"cleanup of label {LABEL}={run_id} failed: {exc}")


# -- Ray ------------------------------------------------------------------------------------
@dataclass
class RayPoint:
    nodes: int
    delay: str
    episodes: int
    episodes_per_s: float
    cores: float
    load1: float
    node_ids: int


def _ray_episodes(group: Any, episodes: int) -> int:
    """Run `episodes` expert episodes of ToyShell over the group's slots, wave by wave."""
    from envs.toy.shell import expert_actions, task_ids

    ids = task_ids()
    done, slots = 0, group.slots()
    while done < episodes:
        wave = min(slots, episodes - done)
        tasks = [ids[(done + i) % len(ids)] for i in range(wave)]
        group.reset_many([(i, {"task_id": t}, None) for i, t in enumerate(tasks)])
        live = list(range(wave))
        for turn in range(4):
            results = group.step_many([(i, expert_actions(tasks[i])[turn]) for i in live])
            live = [
                i
                for i, (_, _, term, trunc, _) in zip(live, results, strict=True)
                if not (term or trunc)
            ]
        if live:
            raise RuntimeError(f"expert episodes did not end: slots {live}")
        done += wave
    return done


def ray_sweep(
    node_counts: Sequence[int], slots: int, runs: Sequence[tuple[float, float, int]]
) -> list[RayPoint]:
    """Episodes/s on 1..max(node_counts) nodes of one local cluster (1 CPU each), ABBA order;
    `runs`: (reset delay s, step delay s, timed episodes per node)."""
    import ray
    from ray.cluster_utils import Cluster

    from rl.workers import EnvSpec, WorkerGroup

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    points: list[RayPoint] = []
    try:
        for _ in range(max(node_counts) - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        from envs.rock.placement import alive_nodes

        nodes = alive_nodes()
        for reset_s, step_s, episodes in runs:
            spec = EnvSpec("ale/ToyShell-v0", reset_delay_s=reset_s, step_delay_s=step_s)
            for k_order in schedule([str(c) for c in node_counts], 2):
                for k in k_order:
                    use = nodes[: int(k)]
                    group = WorkerGroup(spec, len(use), slots, use_ray=True, nodes=use)
                    try:
                        total = episodes * len(use)
                        _ray_episodes(group, slots * len(use))  # warm the actors
                        busy = Busy.measure(partial(_ray_episodes, group, total))
                        seen = len(set(group.node_ids()))
                    finally:
                        group.close()
                    p = RayPoint(
                        int(k),
                        f"{reset_s}/{step_s}",
                        episodes * len(use),
                        episodes * len(use) / busy.wall_s,
                        busy.cores,
                        os.getloadavg()[0],
                        seen,
                    )
                    print(
                        f"ray nodes={p.nodes} delay reset/step={p.delay}s episodes={p.episodes} "
                        f"{p.episodes_per_s:.1f} episodes/s  cores busy {p.cores:.2f}  "
                        f"load {p.load1:.2f}",
                        flush=True,
                    )
                    points.append(p)
    finally:
        ray.shutdown()
        cluster.shutdown()
    return points


# -- output ---------------------------------------------------------------------------------
HEADER = (
    f"{'backend':8} {'N':>3} {'resets/s':>9} {'steps/s':>8} {'step p50/p90 ms':>16} "
    f"{'cores busy r/s':>14} {'load1':>5} {'cgroup':>7} {'rss':>6} {'engine':>7} "
    f"{'daemons':>7} {'driver':>7}  failures"
)


def _row(p: Point) -> str:
    m = p.memory_mib
    return (
        f"{p.backend:8} {p.sandboxes:3d} {p.resets_per_s:9.2f} {p.steps_per_s:8.1f} "
        f"{p.step_p50_ms:7.1f}/{p.step_p90_ms:<8.1f} {p.cores_resets:6.2f}/{p.cores_steps:<7.2f} "
        f"{p.load1:5.2f} {m['cgroup']:7.1f} {m['cgroup_rss']:6.1f} {m['engine']:7.1f} "
        f"{m['daemons']:7.2f} {m['driver']:7.2f}  {len(p.failures)}"
    )


def medians(points: list[Point]) -> list[Point]:
    """One point per (backend, N): the median of each number over the repeats."""
    out = []
    keys = dict.fromkeys((p.backend, p.sandboxes) for p in points)
    for b, n in keys:
        ps = [p for p in points if (p.backend, p.sandboxes) == (b, n)]
        med = lambda f, ps=ps: statistics.median(f(p) for p in ps)  # noqa: E731
        out.append(
            Point(
                b,
                n,
                -1,
                med(lambda p: p.resets_per_s),
                med(lambda p: p.steps_per_s),
                med(lambda p: p.step_p50_ms),
                med(lambda p: p.step_p90_ms),
                med(lambda p: p.cores_resets),
                med(lambda p: p.cores_steps),
                med(lambda p: p.load1),
                {k: med(lambda p, k=k: p.memory_mib[k]) for k in ps[0].memory_mib},
                ps[0].engine_procs,
                ps[0].ops,
                [f for p in ps for f in p.failures],
            )
        )
    return out


def plot(points: list[Point], ray_points: list[RayPoint], path: Path) -> Path:
    """Steps/s, resets/s and memory per sandbox against N (log-x); Ray episodes/s by nodes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for b in dict.fromkeys(p.backend for p in points):
        ps = sorted((p for p in points if p.backend == b), key=lambda p: p.sandboxes)
        ns = [p.sandboxes for p in ps]
        axes[0].plot(ns, [p.steps_per_s for p in ps], marker="o", label=b)
        axes[1].plot(ns, [p.resets_per_s for p in ps], marker="o", label=b)
        axes[2].plot(
            ns,
            [p.memory_mib["cgroup"] + p.memory_mib["engine"] for p in ps],
            marker="o",
            label=f"{b} cgroup+engine",
        )
    for ax, title in zip(
        axes[:3], ("steps/s", "resets/s (create+true+close)", "MiB per sandbox"), strict=True
    ):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent sandboxes")
        ax.set_title(title)
        ax.legend()
    for d in dict.fromkeys(r.delay for r in ray_points):
        rs = [r for r in ray_points if r.delay == d]
        xs = sorted({r.nodes for r in rs})
        ys = [statistics.median(r.episodes_per_s for r in rs if r.nodes == x) for x in xs]
        axes[3].plot(xs, ys, marker="o", label=f"delay reset/step {d}s")
    axes[3].set_xlabel("Ray nodes")
    axes[3].set_yscale("log")
    axes[3].set_xticks(sorted({r.nodes for r in ray_points}) or [1])
    axes[3].set_title("env episodes/s (ToyShell)")
    if ray_points:
        axes[3].legend()
    fig.suptitle(f"ale bench perf run scaling ({os.cpu_count()} cores)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def ray_runs(text: str) -> list[tuple[float, float, int]]:
    """'0.5/0.05x64,0/0x1500' -> [(0.5, 0.05, 64), (0.0, 0.0, 1500)]."""
    out = []
    for run in filter(None, text.split(",")):
        delays, _, episodes = run.partition("x")
        reset_s, _, step_s = delays.partition("/")
        out.append((float(reset_s), float(step_s or 0), int(episodes or 64)))
    return out


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backends", default="docker,local")
    ap.add_argument("--counts", default="1,4,16,64", help="concurrent sandboxes per point")
    ap.add_argument("--steps", type=int, default=20, help="steps per sandbox")
    ap.add_argument("--lifecycles", type=int, default=2, help="create/true/close per thread")
    ap.add_argument("--repeats", type=int, default=2, help="sweeps (backends in ABBA order)")
    ap.add_argument("--ray-nodes", default="1,2")
    ap.add_argument("--ray-slots", type=int, default=8, help="env slots per node")
    ap.add_argument(
        "--ray-runs",
        default="0.5/0.05x64,0/0x1500",
        help="runs of RESET_S/STEP_S x EPISODES (timed episodes per node), comma-separated",
    )
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--png", help="write the curves here (e.g. docs/img/scaling.png)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    counts = _ints(args.counts)
    check_repeats(args.repeats)
    print(Method(tuple(backends), args.repeats, unit="one sweep point per N").line())
    print(
        f"details: {args.repeats} sweep(s) over N={counts}, backends {backends} in ABBA order "
        f"per N; N threads x {args.lifecycles} lifecycles (create, `true`, close: all timed), "
        f"then N started sandboxes x {args.steps} `/bin/echo` steps; medians over sweeps; "
        f"memory per sandbox in MiB while N are up; {machine_load()}"
    )
    print(HEADER)
    points = sweep(backends, counts, args.steps, args.lifecycles, args.repeats)
    summary = medians(points)
    print("medians over sweeps:")
    print(HEADER)
    for p in summary:
        print(_row(p))
    ray_points: list[RayPoint] = []
    if not args.no_ray:
        ray_points = ray_sweep(_ints(args.ray_nodes), args.ray_slots, ray_runs(args.ray_runs))
    print(f"done; {machine_load()}")
    result: dict[str, Any] = {
        "points": [asdict(p) for p in points],
        "medians": [asdict(p) for p in summary],
        "ray": [asdict(r) for r in ray_points],
        "cores": os.cpu_count(),
    }
    if args.png:
        print(f"curves: {plot(summary, ray_points, Path(args.png))}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
