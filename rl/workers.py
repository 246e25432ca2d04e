"""Environment workers: each holds a fixed set of env slots, steps them in parallel, and can
reset ("prefetch") the next batch's environments in the background (into spare envs) while
the current episodes or the trainer run: the one start-up-hiding mechanism of training (a
sandboxed env's reset is its sandbox start and task preparation).

`EnvWorker` is a plain class; `WorkerGroup` drives several of them, in-process (each worker
gets a thread pool) or as Ray actors (`ray.remote(EnvWorker)`, placed on any node of the
cluster). Env construction goes through `EnvSpec`, which is picklable so actors can build
their envs where they live.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium

from rl.resampling import PrefixCache, StartState

StepResult = tuple[Any, float, bool, bool, dict[str, Any]]
ResetResult = tuple[Any, dict[str, Any]]


@dataclass(frozen=True)
class EnvSpec:
    """How to build one env: a Gymnasium id, its kwargs, optional added latency (seconds) for
    resets and steps (stands in for sandbox start-up / command time in benchmarks), and how
    start states with a replayed prefix are reached."""

    env_id: str
    kwargs: tuple[tuple[str, Any], ...] = ()
    reset_delay_s: float = 0.0
    step_delay_s: float = 0.0
    snapshot_prefixes: bool = False
    """Reach a replayed start state once per worker, then restore its snapshot
    (`rl.resampling.PrefixCache`; envs without `snapshot` / `restore` replay every time)."""

    def make(self) -> gymnasium.Env[Any, Any]:
        import envs.registration  # noqa: F401  (registers the ale/ ids)

        env = gymnasium.make(self.env_id, disable_env_checker=True, **dict(self.kwargs)).unwrapped
        if self.reset_delay_s or self.step_delay_s:
            env = DelayedEnv(env, self.reset_delay_s, self.step_delay_s)
        return env


class DelayedEnv(gymnasium.Wrapper[Any, Any, Any, Any]):
    """Adds fixed latency to `reset` and `step` (a simulated sandbox; the benchmark says so)."""

    def __init__(
        self, env: gymnasium.Env[Any, Any], reset_delay_s: float, step_delay_s: float
    ) -> None:
        super().__init__(env)
        self.reset_delay_s, self.step_delay_s = reset_delay_s, step_delay_s

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> ResetResult:
        time.sleep(self.reset_delay_s)
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        time.sleep(self.step_delay_s)
        return self.env.step(action)


class EnvWorker:
    """`n_envs` env slots (0..n_envs-1) stepped in parallel on a thread pool.

    `prefetch(jobs)` starts resetting a *spare* env of each slot in the background and returns
    at once, so it is safe while the slot's current episode still runs; `reset_many(jobs)`
    returns the reset results and swaps a slot's prefetched spare in when it is reset with the
    same options (`info["prefetched"]` says whether it was); a reset with other options
    leaves the prefetch for later. A slot's spare is built on its first prefetch (each
    prefetching slot holds two envs). Thread-safe: calls for different slots may run at once.
    """

    def __init__(self, spec: EnvSpec, n_envs: int, worker_id: int = 0) -> None:
        self.spec, self.worker_id = spec, worker_id
        self.envs = [spec.make() for _ in range(n_envs)]
        self.spares: dict[int, gymnasium.Env[Any, Any]] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=max(2 * n_envs, 1), thread_name_prefix=f"env-worker-{worker_id}"
        )
        self._prefetched: dict[int, tuple[dict[str, Any], Future[ResetResult]]] = {}
        self.stats = {"resets": 0, "prefetch_hits": 0, "steps": 0}
        self._lock = threading.Lock()
        self.prefixes = PrefixCache() if spec.snapshot_prefixes else None

    def node_id(self) -> str:
        """The Ray node this worker runs on ("local" outside Ray)."""
        try:
            import ray

            return str(ray.get_runtime_context().get_node_id()) if ray.is_initialized() else "local"
        except ImportError:
            return "local"

    def _reset(
        self, env: gymnasium.Env[Any, Any], options: dict[str, Any], seed: int | None
    ) -> ResetResult:
        with self._lock:
            self.stats["resets"] += 1
        replay = tuple(options.get("replay") or ())
        if self.prefixes is None or "task_id" not in options:
            return env.reset(seed=seed, options=options)
        start = StartState(str(options["task_id"]), len(replay) + 1, replay)
        return self.prefixes.reset(env, start, seed)

    def prefetch(self, jobs: Sequence[tuple[int, dict[str, Any], int | None]]) -> int:
        """Start resetting the spares of `(slot, options, seed)` jobs in the background;
        returns their count."""
        for slot, options, seed in jobs:
            with self._lock:
                pending = self._prefetched.pop(slot, None)
            if pending is not None:
                pending[1].result()  # the spare is busy with an older prefetch: let it finish
            spare = self.spares.get(slot)
            if spare is None:
                spare = self.spares[slot] = self.spec.make()
            future = self._pool.submit(self._reset, spare, options, seed)
            with self._lock:
                self._prefetched[slot] = (options, future)
        return len(jobs)

    def reset_many(
        self, jobs: Sequence[tuple[int, dict[str, Any], int | None]]
    ) -> list[ResetResult]:
        """Reset each slot into `options` (prefetched ones are swapped in), in parallel."""
        futures: list[tuple[Future[ResetResult], bool]] = []
        for slot, options, seed in jobs:
            with self._lock:
                pre = self._prefetched.get(slot)
                hit = pre is not None and pre[0] == options
                if pre is not None and hit:
                    del self._prefetched[slot]
                    self.stats["prefetch_hits"] += 1
                    self.envs[slot], self.spares[slot] = self.spares[slot], self.envs[slot]
            if pre is not None and hit:
                futures.append((pre[1], True))
            else:  # a prefetch for other options (a retry ran here) stays for its own reset
                futures.append(
                    (self._pool.submit(self._reset, self.envs[slot], options, seed), False)
                )
        out = []
        for future, hit in futures:
            obs, info = future.result()
            out.append((obs, {**info, "prefetched": hit}))
        return out

    def step_many(self, jobs: Sequence[tuple[int, Any]]) -> list[StepResult]:
        """Step each `(slot, action)` in parallel."""

        def one(slot: int, action: Any) -> StepResult:
            obs, reward, term, trunc, info = self.envs[slot].step(action)
            return obs, float(reward), bool(term), bool(trunc), info

        futures = [self._pool.submit(one, slot, action) for slot, action in jobs]
        with self._lock:
            self.stats["steps"] += len(jobs)
        return [f.result() for f in futures]

    def get_stats(self) -> dict[str, int]:
        """resets, prefetch_hits, steps (and prefix_replays / prefix_restores with snapshots)."""
        with self._lock:
            out = dict(self.stats)
        if self.prefixes is not None:
            out |= {
                "prefix_replays": self.prefixes.replays,
                "prefix_restores": self.prefixes.restores,
            }
        return out

    def close(self) -> None:
        for _, fut in self._prefetched.values():
            fut.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for env in [*self.envs, *self.spares.values()]:
            env.close()


class WorkerGroup:
    """Global env slots over `workers` x `envs_per_worker`; slot i lives on worker i // epw.

    With `use_ray`, each worker is a Ray actor (`num_cpus=0` so actors never wait for a CPU
    slot; they mostly wait on sandboxes), pinned round-robin to the cluster's alive nodes with
    hard node affinity (soft affinity let Ray put every actor on the head node); calls are
    dispatched to all workers at once.
    """

    def __init__(
        self,
        spec: EnvSpec,
        workers: int,
        envs_per_worker: int,
        use_ray: bool = False,
        nodes: Sequence[str] | None = None,
    ) -> None:
        """`nodes`: the Ray node ids to place workers on (default: every alive node)."""
        if workers < 1 or envs_per_worker < 1:
            raise ValueError("need at least one worker with at least one env")
        self.epw, self.use_ray = envs_per_worker, use_ray
        self.active = workers
        if use_ray:
            import ray

            from envs.rock.placement import alive_nodes, pinned

            # calls to one actor run in the order they were made (a prefetch before the reset
            # that takes it); episodes on different workers run in parallel
            actor = ray.remote(num_cpus=0)(EnvWorker)
            on = list(nodes) if nodes else alive_nodes()
            self.workers: list[Any] = [
                actor.options(**pinned(on[i % len(on)])).remote(spec, envs_per_worker, i)
                for i in range(workers)
            ]
        else:
            self.workers = [EnvWorker(spec, envs_per_worker, i) for i in range(workers)]

    @property
    def size(self) -> int:
        return len(self.workers)

    def slots(self) -> int:
        """Env slots on the active workers."""
        return self.active * self.epw

    def set_active(self, n: int) -> None:
        """Shrink or expand the set of workers new rollouts use (partial mode)."""
        self.active = max(1, min(n, len(self.workers)))

    def _call(self, method: str, per_worker: dict[int, list[Any]]) -> dict[int, Any]:
        if self.use_ray:
            import ray

            refs = {
                w: getattr(self.workers[w], method).remote(jobs) for w, jobs in per_worker.items()
            }
            return dict(zip(refs, ray.get(list(refs.values())), strict=True))
        if len(per_worker) == 1:
            w, jobs = next(iter(per_worker.items()))
            return {w: getattr(self.workers[w], method)(jobs)}
        with ThreadPoolExecutor(max_workers=len(per_worker)) as pool:
            futs = {
                w: pool.submit(getattr(self.workers[w], method), jobs)
                for w, jobs in per_worker.items()
            }
            return {w: f.result() for w, f in futs.items()}

    def _split(self, jobs: Sequence[tuple[Any, ...]]) -> dict[int, list[Any]]:
        per: dict[int, list[Any]] = {}
        for slot, *rest in jobs:
            per.setdefault(slot // self.epw, []).append((slot % self.epw, *rest))
        return per

    def _gather(self, jobs: Sequence[tuple[Any, ...]], results: dict[int, Any]) -> list[Any]:
        cursor = {w: 0 for w in results}
        out = []
        for slot, *_ in jobs:
            w = slot // self.epw
            out.append(results[w][cursor[w]])
            cursor[w] += 1
        return out

    def prefetch(self, jobs: Sequence[tuple[int, dict[str, Any], int | None]]) -> None:
        """Start background resets of global slots; returns without waiting."""
        per = self._split(jobs)
        if self.use_ray:
            for w, wj in per.items():
                self.workers[w].prefetch.remote(wj)
        else:
            for w, wj in per.items():
                self.workers[w].prefetch(wj)

    def reset_many(
        self, jobs: Sequence[tuple[int, dict[str, Any], int | None]]
    ) -> list[ResetResult]:
        return self._gather(jobs, self._call("reset_many", self._split(jobs)))

    def step_many(self, jobs: Sequence[tuple[int, Any]]) -> list[StepResult]:
        return self._gather(jobs, self._call("step_many", self._split(jobs)))

    def stats(self) -> dict[str, int]:
        """Summed counters of all workers: resets, prefetch_hits, steps."""
        if self.use_ray:
            import ray

            values = ray.get([w.get_stats.remote() for w in self.workers])
        else:
            values = [w.get_stats() for w in self.workers]
        total: dict[str, int] = {}
        for v in values:
            for k, n in v.items():
                total[k] = total.get(k, 0) + n
        return total

    def node_ids(self) -> list[str]:
        if self.use_ray:
            import ray

            return list(ray.get([w.node_id.remote() for w in self.workers]))
        return ["local"] * len(self.workers)

    def close(self) -> None:
        if self.use_ray:
            import ray

            for w in self.workers:
                ray.kill(w)
        else:
            for w in self.workers:
                w.close()
