"""Sandbox performance against raw Docker, measured in the same run.

    python -m bench.perf.sandbox [--backend docker] [--quick] [--json FILE]

Prints, next to the raw `docker run --rm`, `docker exec` and docker SDK archive baselines:
cold create p50 (start to first command result), warm-pool reset p50 (release + acquire),
step round trip p50/p99 for `true` and for a 1 MB `cat`, a 4 KiB file write + read, and N
concurrent sandboxes x M steps (throughput, failures). Ratios, not absolute times, are what carries between machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from envs.rock import DEFAULT_IMAGE, Sandbox, SandboxSpec
from envs.rock.factory import create_sandbox
from envs.rock.pool import WarmPool


@dataclass
class Stat:
    """Latency samples in seconds."""

    samples: list[float]

    def pct(self, q: float) -> float:
        s = sorted(self.samples)
        return s[min(len(s) - 1, int(q * len(s)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)


def timed(fn: Callable[[], object], n: int) -> Stat:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return Stat(samples)


def docker_cli(*args: str) -> None:
    subprocess.run(["docker", *args], check=True, capture_output=True)


def bench_cold(backend: str, n: int) -> tuple[Stat, Stat]:
    """(raw `docker run --rm IMAGE true`, ours: create + first `true`)."""
    raw = timed(lambda: docker_cli("run", "--rm", "--network", "none", DEFAULT_IMAGE, "true"), n)
    closers: list[Callable[[], None]] = []

    def ours() -> None:
        sb = create_sandbox(SandboxSpec(), backend)
        sb.run("true")
        closers.append(sb.close)

    stat = timed(ours, n)
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda c: c(), closers))
    return raw, stat


def bench_steps(backend: str, n: int) -> dict[str, Stat]:
    """Step round trips: ours vs raw `docker exec` on the same container."""
    sb = create_sandbox(SandboxSpec(), backend)
    try:
        sb.run("head -c 1048576 /dev/urandom | base64 -w0 | head -c 1048576 > /tmp/1mb")
        sb.run("true")
        out = {
            "ours true": timed(lambda: sb.run("true"), n),
            "ours cat 1MB": timed(lambda: sb.run("cat /tmp/1mb"), n),
        }
        if backend == "docker":
            cid = sb.id
            out["raw docker exec true"] = timed(
                lambda: docker_cli("exec", cid, "true"), max(5, n // 20)
            )
            out["raw docker exec cat 1MB"] = timed(
                lambda: docker_cli("exec", cid, "cat", "/tmp/1mb"), max(5, n // 20)
            )
        return out
    finally:
        sb.close()


def bench_files(backend: str, n: int) -> dict[str, Stat]:
    """4 KiB `write` + `read` round trips: ours vs the raw docker SDK archive calls
    (`put_archive` / `get_archive`, what `docker cp` does) on the same container."""
    sb = create_sandbox(SandboxSpec(), backend)
    data = bytes(range(256)) * 16
    try:

        def ours() -> None:
            sb.write("/tmp/f.bin", data)
            assert sb.read("/tmp/f.bin") == data

        out = {"ours": timed(ours, n)}
        if backend == "docker":
            from envs.rock import tario
            from envs.rock.docker_backend import client

            container = client().containers.get(sb.id)

            def raw() -> None:
                container.put_archive("/", tario.single_file("/tmp/g.bin", data))
                b"".join(container.get_archive("/tmp/g.bin")[0])

            out["raw"] = timed(raw, max(5, n // 10))
        return out
    finally:
        sb.close()


def bench_pool_reset(backend: str, n: int, size: int, work_steps: int) -> tuple[Stat, int, int]:
    """Reset = release the used sandbox + acquire a ready one, between short episodes."""
    with WarmPool(SandboxSpec(), size=size, backend=backend) as pool:
        pool.wait_ready()
        sb = pool.acquire()
        samples = []
        for _ in range(n):
            for _ in range(work_steps):
                sb.run("echo step > /dev/null")
                time.sleep(0.05)  # the policy's think time per step, much compressed
            t = time.perf_counter()
            pool.release(sb)
            sb = pool.acquire()
            samples.append(time.perf_counter() - t)
        pool.release(sb).result()
        return Stat(samples), pool.hits, pool.misses


def bench_concurrent(
    backend: str, count: int, steps: int, spec: SandboxSpec | None = None
) -> dict[str, float]:
    """`count` sandboxes each running `steps` commands from its own thread. Every sandbox it
    started is closed, also when a start or a step fails."""
    spec = spec or SandboxSpec(memory_mb=256)
    boxes: list[Sandbox] = []
    try:
        with ThreadPoolExecutor(min(count, 16)) as ex:
            starts = [ex.submit(create_sandbox, spec, backend) for _ in range(count)]
            for fut in starts:  # keep every one that started before raising the first error
                if fut.exception() is None:
                    boxes.append(fut.result())
            for fut in starts:
                fut.result()

        def episode(i: int) -> int:
            bad = 0
            for s in range(steps):
                r = boxes[i].run(f"echo {i}-{s}")
                bad += r.output != f"{i}-{s}\n"
            return bad

        t = time.perf_counter()
        with ThreadPoolExecutor(count) as ex:
            failures = sum(ex.map(episode, range(count)))
        wall = time.perf_counter() - t
    finally:
        with ThreadPoolExecutor(16) as ex:
            list(ex.map(lambda b: b.close(), boxes))
    return {
        "sandboxes": count,
        "steps": count * steps,
        "wall_s": wall,
        "steps_per_s": count * steps / wall,
        "failures": failures,
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", default="docker")
    ap.add_argument("--quick", action="store_true", help="few samples (CI smoke)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    q = args.quick
    ms = 1000.0
    raw_cold, cold = bench_cold(args.backend, 3 if q else 15)
    steps = bench_steps(args.backend, 50 if q else 500)
    files = bench_files(args.backend, 20 if q else 200)
    reset, hits, misses = bench_pool_reset(args.backend, 5 if q else 30, size=4, work_steps=5)
    conc = bench_concurrent(args.backend, 8 if q else 64, 10 if q else 50)

    rows = [
        (
            "cold create p50 (ms)",
            cold.p50 * ms,
            raw_cold.p50 * ms,
            "raw docker run --rm",
            "<= 1.3x",
        ),
        (
            "warm-pool reset p50 (ms)",
            reset.p50 * ms,
            None,
            f"hits {hits}, misses {misses}",
            "<= 50 ms",
        ),
        ("warm-pool reset p90 (ms)", reset.pct(0.9) * ms, None, "", ""),
        (
            "step `true` p50 (ms)",
            steps["ours true"].p50 * ms,
            steps.get("raw docker exec true", Stat([float("nan")])).p50 * ms,
            "raw docker exec",
            "<= 5 ms",
        ),
        ("step `true` p99 (ms)", steps["ours true"].pct(0.99) * ms, None, "", ""),
        (
            "step 1 MB cat p50 (ms)",
            steps["ours cat 1MB"].p50 * ms,
            steps.get("raw docker exec cat 1MB", Stat([float("nan")])).p50 * ms,
            "raw docker exec",
            "",
        ),
        ("step 1 MB cat p99 (ms)", steps["ours cat 1MB"].pct(0.99) * ms, None, "", ""),
        (
            "4 KiB write+read p50 (ms)",
            files["ours"].p50 * ms,
            files.get("raw", Stat([float("nan")])).p50 * ms,
            "raw SDK put/get_archive",
            "",
        ),
    ]
    print(f"backend={args.backend} image={DEFAULT_IMAGE} quick={q}")
    print(f"{'metric':28} {'ours':>10} {'baseline':>10} {'ratio':>8}  baseline / target")
    for name, ours, base, what, target in rows:
        ratio = f"{ours / base:.2f}x" if base else ""
        base_s = f"{base:10.2f}" if base else " " * 10
        print(f"{name:28} {ours:10.2f} {base_s} {ratio:>8}  {what} {target}")
    print(
        f"concurrent: {conc['sandboxes']} sandboxes x {conc['steps'] // conc['sandboxes']} steps: "
        f"{conc['steps_per_s']:.0f} steps/s, {conc['failures']} failures, {conc['wall_s']:.2f} s"
    )
    result: dict[str, object] = {
        "rows": [
            {"metric": r[0], "ours_ms": r[1], "baseline_ms": r[2], "baseline": r[3]} for r in rows
        ],
        "concurrent": conc,
        "pool": {"hits": hits, "misses": misses},
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
