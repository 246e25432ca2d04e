"""What the egress allowlist costs: step latency and proxied throughput, ratios in one run.

    python -m bench.perf.egress [--backend docker] [--repeats 4] [--pairs 3] [--steps 200] [--mb 50] [--json F]
    ale bench perf run egress --quick

1. Step latency: `--pairs` sandboxes with network `none` (A) and as many with an allowlist and
   its proxy (B), on the same backend, run `true` in blocks of `--steps` steps per sandbox in
   the order A B B A, `--repeats` times (several sandboxes per side: one sandbox's steps can
   differ from another's by 10% on a busy machine, whatever its network). Printed: p50 of each and the ratio B/A of the pooled medians, and of each
   ABBA cycle (target <= 1.05: the proxy must cost nothing to commands that do not use it).
2. Throughput: a `--mb` MB HTTP download from a listener this benchmark starts on the host,
   with curl inside the sandbox (`time_total`): (A) a docker sandbox on the default bridge
   fetching from the bridge's gateway address directly, (B) an allowlist sandbox of
   `--backend` fetching from 127.0.0.1 through its proxy; order A B B A, `--repeats` times.
   Printed: MB/s of each transfer, medians, and B/A (target >= 0.5).

Shared machines are noisy: only the ratios carry, and both sides of each are measured in the
same run, interleaved.
"""

from __future__ import annotations

import argparse
import http.server
import json
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.perf.method import Method, alternate, check_repeats, machine_load
from envs.rock import Sandbox, SandboxSpec
from envs.rock.factory import create_sandbox
from envs.rock.policy import NetworkPolicy, SandboxPolicy

MB = 1 << 20


def abba(
    run_a: Callable[[], list[float]], run_b: Callable[[], list[float]], repeats: int
) -> list[tuple[list[float], list[float]]]:
    """Per cycle (samples of A, samples of B), measured in the order A B B A: two ABBA rounds
    of `bench.perf.method.alternate` per cycle."""
    cycles = []
    for _ in range(repeats):
        got = alternate({"A": run_a, "B": run_b}, 2)
        cycles.append(([x for r in got["A"] for x in r], [x for r in got["B"] for x in r]))
    return cycles


def bridge_gateway() -> str:
    """The host's address on docker's default bridge (docker0), which its containers reach."""
    out = subprocess.run(
        ["ip", "-j", "-4", "addr", "show", "dev", "docker0"],
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(out.stdout)[0]["addr_info"][0]["local"])


@contextmanager
def payload_server(hosts: list[str], size: int) -> Iterator[dict[str, int]]:
    """HTTP servers on each of `hosts` (port 0) answering any GET with `size` bytes."""
    chunk = b"x" * MB

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            left = size
            while left > 0:
                self.wfile.write(chunk[: min(left, MB)])
                left -= min(left, MB)

        def log_message(self, *args: object) -> None:
            pass

    servers = {h: http.server.ThreadingHTTPServer((h, 0), Handler) for h in hosts}
    for srv in servers.values():
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield {h: srv.server_address[1] for h, srv in servers.items()}
    finally:
        for srv in servers.values():
            srv.shutdown()
            srv.server_close()


def steps(sb: Sandbox, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        sb.run("true")
        out.append(time.perf_counter() - t)
    return out


def fetch_mb_s(sb: Sandbox, url: str, size: int, proxied: bool) -> list[float]:
    """One download inside `sb`; MB/s by curl's own clock (no step overhead)."""
    env = "NO_PROXY= no_proxy= " if proxied else ""
    r = sb.run(f"{env}curl -sS -o /dev/null -w '%{{time_total}} %{{size_download}}' {url}", 120)
    seconds, got = r.output.split()[-2:]
    if int(got) != size:
        raise RuntimeError(f"{url}: got {got} of {size} bytes: {r.output[-300:]}")
    return [size / MB / float(seconds)]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", default="docker", help="the allowlist sandbox's backend")
    ap.add_argument("--repeats", type=int, help="ABBA cycles, >= 2 (default 4, quick 2)")
    ap.add_argument("--steps", type=int, help="steps per sandbox and block (default 100, quick 20)")
    ap.add_argument("--pairs", type=int, default=3, help="sandboxes per side for the steps")
    ap.add_argument("--mb", type=int, default=50, help="transfer size in MB")
    ap.add_argument("--quick", action="store_true", help="few samples (CI smoke)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    n = args.steps or (20 if args.quick else 100)
    repeats = check_repeats(args.repeats or (2 if args.quick else 4))
    size = args.mb * MB
    gateway = bridge_gateway()
    print(Method(("A network none", "B allowlist proxy"), repeats, unit="one A B B A cycle").line())
    print(
        f"backend "
        f"{args.backend}; step blocks of {n} `true` x {args.pairs} sandboxes; {args.mb} MB by curl inside the sandbox "
        f"(A: docker bridge -> {gateway}, B: proxy -> 127.0.0.1)"
    )
    with payload_server(["127.0.0.1", gateway], size) as ports:
        rule = f"127.0.0.1:{ports['127.0.0.1']}"
        listed = SandboxSpec(policy=SandboxPolicy(NetworkPolicy("allowlist", (rule,))))
        proxies = [create_sandbox(listed, args.backend) for _ in range(args.pairs)]
        plains = [create_sandbox(SandboxSpec(), args.backend) for _ in range(args.pairs)]
        proxied = proxies[0]
        bridge = create_sandbox(SandboxSpec(policy=SandboxPolicy(NetworkPolicy("open"))), "docker")
        made = [*proxies, *plains, bridge]
        try:
            for sb in made:
                steps(sb, 20)  # warm every shell
            step_cycles = abba(
                lambda: [x for sb in plains for x in steps(sb, n)],
                lambda: [x for sb in proxies for x in steps(sb, n)],
                repeats,
            )
            url_a = f"http://{gateway}:{ports[gateway]}/payload"
            url_b = f"http://127.0.0.1:{ports['127.0.0.1']}/payload"
            fetch_mb_s(bridge, url_a, size, False)  # warm both paths once
            fetch_mb_s(proxied, url_b, size, True)
            tput_cycles = abba(
                lambda: fetch_mb_s(bridge, url_a, size, False),
                lambda: fetch_mb_s(proxied, url_b, size, True),
                repeats,
            )
        finally:
            for sb in made:
                sb.close()
    a_steps = [x for a, _ in step_cycles for x in a]
    b_steps = [x for _, b in step_cycles for x in b]
    step_ratio = statistics.median(b_steps) / statistics.median(a_steps)
    per_cycle = [statistics.median(b) / statistics.median(a) for a, b in step_cycles]
    print(
        f"step `true` p50: none {statistics.median(a_steps) * 1e3:.3f} ms, allowlist "
        f"{statistics.median(b_steps) * 1e3:.3f} ms; ratio {step_ratio:.3f} "
        f"(per cycle {', '.join(f'{r:.3f}' for r in per_cycle)}); target <= 1.05: "
        f"{'met' if step_ratio <= 1.05 else 'MISSED'}"
    )
    a_tput = [x for a, _ in tput_cycles for x in a]
    b_tput = [x for _, b in tput_cycles for x in b]
    tput_ratio = statistics.median(b_tput) / statistics.median(a_tput)
    print(
        f"{args.mb} MB transfer: bridge {', '.join(f'{x:.0f}' for x in a_tput)} MB/s "
        f"(median {statistics.median(a_tput):.0f}); proxied "
        f"{', '.join(f'{x:.0f}' for x in b_tput)} MB/s (median {statistics.median(b_tput):.0f}); "
        f"ratio {tput_ratio:.2f}; target >= 0.5: {'met' if tput_ratio >= 0.5 else 'MISSED'}"
    )
    print(f"done; {machine_load()}")
    result: dict[str, Any] = {
        "backend": args.backend,
        "repeats": repeats,
        "pairs": args.pairs,
        "step_p50_ms": {
            "none": statistics.median(a_steps) * 1e3,
            "allowlist": statistics.median(b_steps) * 1e3,
        },
        "step_ratio": step_ratio,
        "step_ratio_per_cycle": per_cycle,
        "transfer_mb_s": {"bridge": a_tput, "proxied": b_tput},
        "throughput_ratio": tput_ratio,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
