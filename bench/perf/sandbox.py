"""Sandbox performance against raw Docker and other sandbox layers, measured in the same run.

    python -m bench.perf.sandbox [--backend docker] [--repeats 4] [--block 20] [--no-swerex]
                                 [--quick] [--json FILE]

Every comparison alternates its sides (ABBA or shuffled rounds, `--repeats` >= 2, see
`bench.perf.method`) over the same work, and prints its method line and the machine load:

* cold create: raw `docker run --rm IMAGE true` (create, start, `true`, removal) against ours
  (`create_sandbox`, `run("true")`, `close()`): removal timed on both sides.
* step latency, three commands (a builtin `true`, a process-spawning `ls /`, a 64 KiB output
  `cat`) against: raw `docker exec` (docker SDK `exec_run`, one exec per command),
  mini-swe-agent style (`docker exec ... bash -lc CMD` subprocess per command) and SWE-ReX (a
  persistent shell behind its HTTP server, `bench.perf.peers`). Each round runs a block of
  `--block` commands per side; a peer that cannot run is printed 'skipped: <reason>'.
* 4 KiB file write + read against the docker SDK's `put_archive` + `get_archive`.
* warm-pool reset (release + acquire) and N concurrent sandboxes x M steps (no baseline).
Ratios, not absolute times, are what carries between machines.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from bench.perf.method import (
    ORDERS,
    Method,
    OpCount,
    Order,
    Samples,
    alternate,
    check_repeats,
    machine_load,
)
from bench.perf.peers import MiniSweExec, PeerSkipped, RawExec, SweRexPeer
from envs.rock import DEFAULT_IMAGE, Sandbox, SandboxSpec
from envs.rock.factory import create_sandbox
from envs.rock.pool import WarmPool

OUT_FILE = "/tmp/ale-perf-64k"
OUT_BYTES = 64 * 1024
#: name -> command, the step-latency table's rows
COMMANDS = {
    "`true` (builtin)": "true",
    "`ls /` (spawns a process)": "ls /",
    "64 KiB output (`cat`)": f"cat {OUT_FILE}",
}
OURS = "ours (persistent session)"


def timed(fn: Callable[[], object], n: int) -> Samples:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return Samples(samples)


def docker_cli(*args: str) -> None:
    subprocess.run(["docker", *args], check=True, capture_output=True)


def cold_sides(backend: str, ops: dict[str, OpCount]) -> dict[str, Callable[[], float]]:
    """Both sides of cold create, each one full lifecycle (create, `true`, removal), timed."""

    def raw() -> float:
        t = time.perf_counter()
        docker_cli("run", "--rm", "--network", "none", DEFAULT_IMAGE, "true")
        dt = time.perf_counter() - t
        for op in ("create", "run:true", "remove"):
            ops["raw docker run --rm"].add(op)
        return dt

    def ours() -> float:
        t = time.perf_counter()
        sb = create_sandbox(SandboxSpec(), backend)
        try:
            sb.run("true")
        finally:
            sb.close()
        dt = time.perf_counter() - t
        for op in ("create", "run:true", "remove"):
            ops["ours"].add(op)
        return dt

    return {"raw docker run --rm": raw, "ours": ours}


def bench_cold(
    backend: str, repeats: int, order: Order = "abba"
) -> tuple[dict[str, Samples], dict[str, OpCount]]:
    """Cold create, removal timed on both sides: {side: Samples}, {side: ops}."""
    ops = {"raw docker run --rm": OpCount(), "ours": OpCount()}
    sides = cold_sides(backend, ops)
    for fn in sides.values():  # untimed warm-up of each
        fn()
    ops = {k: OpCount() for k in ops}
    sides = cold_sides(backend, ops)
    got = alternate(sides, repeats, order)
    return {k: Samples(v) for k, v in got.items()}, ops


@dataclass
class StepTable:
    """{command name: {side: Samples}}, skipped sides with their reasons, ops per side."""

    stats: dict[str, dict[str, Samples]]
    skipped: dict[str, str]
    ops: dict[str, OpCount]


def step_sides(
    sb: Sandbox, backend: str, swerex: bool
) -> tuple[dict[str, Callable[[str], tuple[float, str]]], dict[str, str], list[Any]]:
    """(side -> run(cmd) -> (seconds, output), skipped side -> reason, peers to close)."""

    def ours(cmd: str) -> tuple[float, str]:
        t = time.perf_counter()
        r = sb.run(cmd)
        return time.perf_counter() - t, r.output

    sides: dict[str, Callable[[str], tuple[float, str]]] = {OURS: ours}
    skipped: dict[str, str] = {}
    peers: list[Any] = []
    names = (RawExec.name, MiniSweExec.name, SweRexPeer.name)
    if backend != "docker":
        return sides, {n: f"the {backend} backend has no docker container" for n in names}, []
    raw, mini = RawExec(sb.id), MiniSweExec(sb.id)
    sides[raw.name], sides[mini.name] = raw.run, mini.run
    if not swerex:
        skipped[SweRexPeer.name] = "--no-swerex"
    else:
        try:
            peer = SweRexPeer(sb.spec.image)
            peers.append(peer)
            sides[peer.name] = peer.run
        except PeerSkipped as exc:
            skipped[SweRexPeer.name] = str(exc)
    return sides, skipped, peers


def bench_steps(
    backend: str, block: int, repeats: int, order: Order = "abba", swerex: bool = True
) -> StepTable:
    """Each command on every side, `block` runs per side per round, rounds in `order`.

    Every side's output is checked (the 64 KiB `cat` must return all of it), so each does the
    same work; `ops` counts the commands run per side."""
    sb = create_sandbox(SandboxSpec(output_limit=4 * OUT_BYTES), backend)
    peers: list[Any] = []
    try:
        sb.run(f"head -c {OUT_BYTES * 3 // 4} /dev/zero | base64 -w0 > {OUT_FILE}")
        sides, skipped, peers = step_sides(sb, backend, swerex)
        for peer in peers:  # the SWE-ReX container has its own file
            peer.run(f"head -c {OUT_BYTES * 3 // 4} /dev/zero | base64 -w0 > {OUT_FILE}")
        ops = {name: OpCount() for name in sides}
        stats: dict[str, dict[str, Samples]] = {}
        for label, cmd in COMMANDS.items():

            def one_block(side: str, cmd: str = cmd) -> list[float]:
                out = []
                for _ in range(block):
                    dt, text = sides[side](cmd)
                    if cmd.startswith("cat") and len(text.strip()) != OUT_BYTES:
                        raise RuntimeError(f"{side}: {cmd} gave {len(text)} bytes")
                    if cmd == "ls /" and "proc" not in text:
                        raise RuntimeError(f"{side}: ls / gave {text[:80]!r}")
                    ops[side].add(f"run:{cmd}")
                    out.append(dt)
                return out

            for side in sides:  # untimed warm-up (sessions, caches)
                sides[side](cmd)
            got = alternate({s: partial(one_block, s) for s in sides}, repeats, order)
            stats[label] = {s: Samples([x for b in blocks for x in b]) for s, blocks in got.items()}
        return StepTable(stats, skipped, ops)
    finally:
        for peer in peers:
            peer.close()
        sb.close()


def bench_files(
    backend: str, block: int, repeats: int, order: Order = "abba"
) -> tuple[dict[str, Samples], dict[str, OpCount]]:
    """4 KiB `write` + `read` round trips: ours vs the raw docker SDK archive calls
    (`put_archive` / `get_archive`, what `docker cp` does) on the same container, `block`
    round trips per side per round."""
    sb = create_sandbox(SandboxSpec(), backend)
    data = bytes(range(256)) * 16
    try:

        def ours() -> None:
            sb.write("/tmp/f.bin", data)
            assert sb.read("/tmp/f.bin") == data

        sides: dict[str, Callable[[], None]] = {"ours": ours}
        if backend == "docker":
            from envs.rock import tario
            from envs.rock.docker_backend import client

            container = client().containers.get(sb.id)

            def raw() -> None:
                container.put_archive("/", tario.single_file("/tmp/g.bin", data))
                stream = io.BytesIO(b"".join(container.get_archive("/tmp/g.bin")[0]))
                assert tario.extract_single_file(stream, "/tmp/g.bin") == data

            sides["raw"] = raw
        ops = {name: OpCount() for name in sides}

        def blk(name: str) -> list[float]:
            out = timed(sides[name], block).values
            ops[name].add("write+read", block)
            return out

        for fn in sides.values():
            fn()
        got = alternate({n: partial(blk, n) for n in sides}, repeats, order)
        return {n: Samples([x for b in v for x in b]) for n, v in got.items()}, ops
    finally:
        sb.close()


def bench_pool_reset(backend: str, n: int, size: int, work_steps: int) -> tuple[Samples, int, int]:
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
        return Samples(samples), pool.hits, pool.misses


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
    ap.add_argument("--repeats", type=int, help="rounds per comparison, >= 2 (default 4, quick 2)")
    ap.add_argument("--block", type=int, help="commands per side per round (default 20, quick 5)")
    ap.add_argument("--order", default="abba", choices=ORDERS)
    ap.add_argument("--no-swerex", action="store_true", help="skip the SWE-ReX peer")
    ap.add_argument("--quick", action="store_true", help="few samples (CI smoke)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    q = args.quick
    repeats = check_repeats(args.repeats or (2 if q else 4))
    block = args.block or (5 if q else 20)
    order: Order = args.order
    ms = 1000.0
    print(f"backend={args.backend} image={DEFAULT_IMAGE} quick={q}; {machine_load()}")
    cold, cold_ops = bench_cold(args.backend, max(repeats, 3 if q else 15), order)
    print(
        Method(tuple(cold), max(repeats, 3 if q else 15), order, "one lifecycle").line()
        + "\ncold create (create, `true`, removal; all timed) ms: "
        + "; ".join(f"{k} {v.text(ms)}" for k, v in cold.items())
        + f"; ratio ours/raw {cold['ours'].median / cold['raw docker run --rm'].median:.2f}x "
        "(target <= 1.3x)"
    )
    table = bench_steps(args.backend, block, repeats, order, not args.no_swerex)
    sides = list(table.ops)
    print(Method(tuple(sides), repeats, order, f"{block} commands per side").line())
    print(f"| command | {' | '.join(sides + list(table.skipped))} |")
    print(f"|---|{'---|' * (len(sides) + len(table.skipped))}")
    for label, stats in table.stats.items():
        base = stats[OURS].median
        cells = [
            f"{st.median * ms:.2f} ms" + ("" if s == OURS else f" ({st.median / base:.0f}x ours)")
            for s, st in stats.items()
        ]
        print(
            f"| {label} p50 | {' | '.join(cells + [f'skipped: {r}' for r in table.skipped.values()])} |"
        )
    print(
        "step p99 (ms): "
        + "; ".join(
            f"{label}: "
            + ", ".join(f"{s.split(' (')[0]} {st.pct(0.99) * ms:.2f}" for s, st in stats.items())
            for label, stats in table.stats.items()
        )
    )
    files, file_ops = bench_files(args.backend, block, repeats, order)
    print(
        Method(tuple(files), repeats, order, f"{block} write+read per side").line()
        + "\n4 KiB write+read ms: "
        + "; ".join(f"{k} {v.text(ms)}" for k, v in files.items())
    )
    reset, hits, misses = bench_pool_reset(args.backend, 5 if q else 30, size=4, work_steps=5)
    print(
        f"warm-pool reset (release + acquire, no baseline) p50 {reset.p50 * ms:.2f} ms, "
        f"p90 {reset.pct(0.9) * ms:.2f} ms (target <= 50 ms); hits {hits}, misses {misses}"
    )
    conc = bench_concurrent(args.backend, 8 if q else 64, 10 if q else 50)
    print(
        f"concurrent: {conc['sandboxes']} sandboxes x {conc['steps'] // conc['sandboxes']} steps: "
        f"{conc['steps_per_s']:.0f} steps/s, {conc['failures']} failures, {conc['wall_s']:.2f} s"
    )
    print(f"done; {machine_load()}")
    result: dict[str, object] = {
        "method": {"order": order, "repeats": repeats, "block": block},
        "cold_ms": {k: [x * ms for x in v.values] for k, v in cold.items()},
        "steps_ms": {
            label: {s: [x * ms for x in st.values] for s, st in stats.items()}
            for label, stats in table.stats.items()
        },
        "skipped": table.skipped,
        "ops": {
            "cold": {k: v.as_dict() for k, v in cold_ops.items()},
            "steps": {k: v.as_dict() for k, v in table.ops.items()},
            "files": {k: v.as_dict() for k, v in file_ops.items()},
        },
        "files_ms": {k: [x * ms for x in v.values] for k, v in files.items()},
        "pool": {"hits": hits, "misses": misses, "reset_p50_ms": reset.p50 * ms},
        "concurrent": conc,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
