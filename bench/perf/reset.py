"""SWE-bench reset on a large repository: first reset (sanitize + commit) and later resets
(a container start) against `docker run` of the same image, measured in the same run.

    python -m bench.perf.reset [--commits 50000] [--refs 20000] [--repeat 5] [--quick] [--json F]
    ale bench perf run reset [--quick]

Method, printed with the numbers:
1. A synthetic repository is generated here (`git fast-import`, nothing downloaded):
   `--commits` commits on `main`, the base commit at 80% of them (the rest is the future an
   agent must not see), and `--refs` refs (tags, branches, remote-tracking refs, pointing before
   and after the base; most packed, a tenth loose). It is copied into an image as /testbed with
   its whole history, like an official SWE-bench image.
2. First reset: `task.ensure_image` (sanitize /testbed once: batched ref deletion, reflog,
   gc; commit to a derived image) + sandbox start + `prepare` + the first command's result.
3. Later resets: sandbox start + `prepare` (nothing to do) + the first command's result +
   close, against `docker run --rm IMAGE true` of the same derived image (removal timed on
   both sides), alternating (ABBA, `bench.perf.method`) for `--repeat` rounds; median
   (min-max) of each and the ratio (target: <= 1.3x), with the method line and machine load.
4. For contrast, once: the same sanitization run in a fresh sandbox of the source image
   (what every reset cost before images were prepared once).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.perf.method import ORDERS, Method, OpCount, Samples, alternate, check_repeats
from envs.rock.factory import create_sandbox

AUTHOR = "Ale Bench <bench@ale.invalid>"


def fast_import_stream(commits: int, refs: int, base_at: int) -> tuple[bytes, int]:
    """(a `git fast-import` stream, mark of the base commit). Each commit changes one of 200
    small files; refs point at commits spread over the whole history."""
    out: list[bytes] = []
    for i in range(1, commits + 1):
        body = f"line {i}\n".encode() * (1 + i % 7)
        msg = f"change {i}\n".encode()
        out.append(
            b"commit refs/heads/main\nmark :%d\ncommitter %s %d +0000\ndata %d\n%s"
            % (i, AUTHOR.encode(), 1_600_000_000 + i * 60, len(msg), msg)
        )
        if i > 1:
            out.append(b"from :%d\n" % (i - 1))
        out.append(b"M 100644 inline src/f%03d.txt\ndata %d\n%s\n" % (i % 200, len(body), body))
    kinds = ("refs/tags/v%d", "refs/heads/topic-%d", "refs/remotes/origin/pr-%d")
    for j in range(refs):
        ref = (kinds[j % 3] % j).encode()
        out.append(b"reset %s\nfrom :%d\n\n" % (ref, 1 + (j * 7919) % commits))
    return b"".join(out), base_at


def make_repo(root: Path, commits: int, refs: int) -> str:
    """The synthetic repository at `root` (checked out at its base); returns the base sha."""
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(root.parent)}
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=env)
    stream, base_mark = fast_import_stream(commits, refs, max(1, int(commits * 0.8)))
    marks = root.parent / "marks"
    subprocess.run(
        ["git", "-C", str(root), "fast-import", "--quiet", f"--export-marks={marks}"],
        input=stream,
        check=True,
        env=env,
    )
    base = dict(line.split() for line in marks.read_text().splitlines())[f":{base_mark}"]
    subprocess.run(["git", "-C", str(root), "pack-refs", "--all"], check=True, env=env)
    loose = "".join(f"update refs/heads/loose-{k} {base}\n" for k in range(max(1, refs // 10)))
    subprocess.run(
        ["git", "-C", str(root), "update-ref", "--stdin"], input=loose.encode(), check=True
    )
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "-f", base], check=True, env=env)
    return base


def instance(base: str, image: str) -> dict[str, Any]:
    return {
        "instance_id": f"ale-bench__synthetic-{os.getpid()}",
        "repo": "ale-bench/synthetic",
        "base_commit": base,
        "patch": "",
        "test_patch": "",
        "problem_statement": "synthetic",
        "version": "0",
        "FAIL_TO_PASS": [],
        "PASS_TO_PASS": [],
        "image": image,
    }


def _reset(task: Any, ops: OpCount | None = None) -> float:
    """Seconds from sandbox start to the first command's result plus the sandbox's removal
    (`docker run --rm` removes its container inside the clock too)."""
    t0 = time.perf_counter()
    sb = create_sandbox(task.sandbox_spec(), "docker")
    try:
        task.prepare(sb)
        assert sb.run("true", timeout=60).ok
    finally:
        sb.close()
    dt = time.perf_counter() - t0
    for op in ("create", "run:true", "remove"):
        if ops is not None:
            ops.add(op)
    return dt


def _docker_run(image: str, ops: OpCount | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        ["docker", "run", "--rm", "--network", "none", image, "true"],
        check=True,
        capture_output=True,
    )
    dt = time.perf_counter() - t0
    for op in ("create", "run:true", "remove"):
        if ops is not None:
            ops.add(op)
    return dt


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from envs.rock.derived import DerivedImage, remove_derived
    from envs.rock.image_build import build_task_image
    from envs.suites.swebench import SWEBenchSuite, testbed

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--commits", type=int, default=50_000)
    ap.add_argument("--refs", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5, help="ABBA rounds of later resets, >= 2")
    ap.add_argument("--order", default="abba", choices=ORDERS)
    ap.add_argument("--quick", action="store_true", help="2,000 commits, 500 refs, 2 rounds")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    if args.quick:
        args.commits, args.refs, args.repeat = 2_000, 500, 2
    check_repeats(args.repeat, "--repeat")
    tag = f"ale-bench/synthetic-{os.getpid()}:latest"
    tmp = Path(tempfile.mkdtemp(prefix="ale-perf-reset-"))
    derived = ""
    try:
        t0 = time.perf_counter()
        base = make_repo(tmp / "ctx" / "repo", args.commits, args.refs)
        (tmp / "ctx" / "Dockerfile").write_text(
            "FROM ale-base:bookworm\nCOPY repo /testbed\nWORKDIR /testbed\n"
        )
        build_task_image(tmp / "ctx", tag, from_map={"ale-base:bookworm": "ale-base:bookworm"})
        made_s = time.perf_counter() - t0
        specs = {"ale-bench/synthetic": {"0": {"test_cmd": "true"}}}
        row = instance(base, tag)
        task = SWEBenchSuite([row], specs=specs).load(row["instance_id"])
        t0 = time.perf_counter()
        task.ensure_image("docker")
        first = time.perf_counter() - t0 + _reset(task)
        image = task.task_image
        assert image is not None and image.derived.built
        derived = image.derived.image
        sb = create_sandbox(task.sandbox_spec(), "docker")  # what the first reset left
        try:
            refs = sb.run("cd /testbed && git for-each-ref | wc -l; git rev-list --all | wc -l")
            left_refs, left_commits = (int(x) for x in refs.output.split())
        finally:
            sb.close()
        _reset(task)  # untimed warm-up of both
        _docker_run(derived)
        ops = {"ours": OpCount(), "docker run": OpCount()}
        got = alternate(
            {
                "ours": lambda: _reset(task, ops["ours"]),
                "docker run": lambda: _docker_run(derived, ops["docker run"]),
            },
            args.repeat,
            args.order,
        )
        ours, raw = got["ours"], got["docker run"]
        sb = create_sandbox(_source_spec(task, tag), "docker")
        try:
            t0 = time.perf_counter()
            testbed.prepare_testbed(sb, base, None, 3600, "per-episode sanitize")
            per_episode = time.perf_counter() - t0
        finally:
            sb.close()
    finally:
        if derived:
            remove_derived(DerivedImage("docker", derived, {}, 0.0))
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    later, docker_run = statistics.median(ours), statistics.median(raw)
    print(Method(("ours", "docker run"), args.repeat, args.order, "one reset").line())
    result = {
        "commits": args.commits,
        "refs": args.refs,
        "repeat": args.repeat,
        "repo_and_image_s": made_s,
        "first_reset_s": first,
        "later_reset_p50_s": later,
        "docker_run_p50_s": docker_run,
        "ratio": later / docker_run,
        "per_episode_sanitize_s": per_episode,
        "left_refs": left_refs,
        "left_commits": left_commits,
        "base_commits": int(args.commits * 0.8),
        "ops": {k: v.as_dict() for k, v in ops.items()},
    }
    print(
        f"synthetic repo: {args.commits} commits, {args.refs} refs (+{max(1, args.refs // 10)} loose), "
        f"base at commit {result['base_commits']}; made + imaged in {made_s:.1f} s\n"
        f"first reset (sanitize + commit + start): {first:.2f} s; after it /testbed has "
        f"{left_refs} ref and {left_commits} commits\n"
        f"later resets p50 {Samples(ours).text(1000, 0)} ms vs `docker run --rm IMAGE true` p50 "
        f"{Samples(raw).text(1000, 0)} ms: ratio {result['ratio']:.2f}x (target <= 1.3x; "
        f"same derived image, removal timed on both sides)\n"
        f"before (sanitize in every episode, batched): {per_episode:.2f} s per reset"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


def _source_spec(task: Any, image: str) -> Any:
    """A sandbox spec of the source image (not the prepared one), for the per-episode path."""
    from dataclasses import replace

    return replace(task.sandbox_spec(), image=image)


if __name__ == "__main__":
    main()
