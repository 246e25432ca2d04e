"""Env overhead against the bare sandbox, and grading against the bare test command.

    python -m bench.perf.env [--quick] [--steps N] [--grades N] [--grading-task ID] [--json FILE]
    ale bench perf run env --quick

Step overhead: `ChunkEnv.step` of one bash tool call (in the env's action format) against
`Sandbox.run` of the same command on a sandbox of the same image, for `true` and for a `cat`
of an 8 KiB file; the two are timed in blocks in alternating order (ABBA, `--repeats`, see
`bench.perf.method`) in the same run. Target: <= 1.1x.

Grading: `task.grade(sandbox)` against running the task's test command directly in a sandbox
in the same state (oracle applied, tests already in place, not timed), in alternating order
over `--grades` rounds. Target: <= 1.2x. The method line and machine load are printed. The
grading tasks are shipped tb-mini tasks, one per format (Terminal-Bench, Harbor), loaded by
`envs.suites.terminal_bench`; without that loader a built-in pytest task (`PytestTask`, the
same shape: hidden pytest file copied in at grading, per-test verdicts parsed from `-rA`)
stands in. The output says which ran.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
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
    schedule,
)
from envs.core.actions import ActionFormat
from envs.core.env import ChunkEnv
from envs.core.task import Grade, Task
from envs.rock import DEFAULT_IMAGE, Sandbox, SandboxSpec
from envs.rock.factory import create_sandbox

TB_MINI_TASKS = Path(__file__).resolve().parents[2] / "envs" / "suites" / "tb_mini" / "tasks"
DEFAULT_TB_TASK = "sales-csv-consolidate"
DEFAULT_GRADING_TASKS = (DEFAULT_TB_TASK, "log-retention-script")  # one per format
CAT_FILE = "/tmp/ale-perf-8k.txt"
CAT_BYTES = 8 * 1024
_RESULT_LINE = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)", re.MULTILINE)


def bash_action(command: str, fmt: ActionFormat) -> str:
    """One agent turn (a short thought plus one bash call) in action format `fmt`."""
    thought = "Let me check the state of the file system.\n"
    if fmt == "bash_block":
        return f"{thought}```bash\n{command}\n```"
    if fmt == "xml":
        return f"{thought}<function=bash>\n<parameter=command>{command}</parameter>\n</function>"
    return thought + json.dumps({"name": "bash", "arguments": {"command": command}})


# -- a built-in grading task (used when the tb-mini loader is not installed) --------------
_CALC = b"""def mean(xs):
    return sum(xs) / len(xs)


def clamp(x, lo, hi):
    return max(lo, min(hi, x))
"""
_CALC_TESTS = b"""import pytest
from calc import clamp, mean


@pytest.mark.parametrize("n", range(1, 21))
def test_mean(n):
    assert mean(list(range(n))) == (n - 1) / 2


@pytest.mark.parametrize("x,want", [(-5, 0), (5, 5), (50, 10)])
def test_clamp(x, want):
    assert clamp(x, 0, 10) == want
"""
PYTEST_COMMAND = "cd /app && python3 -m pytest -p no:cacheprovider /tests/test_calc.py -rA"


@dataclass
class PytestTask:
    """A small real task graded like Terminal-Bench: hidden pytest file, per-test verdicts."""

    id: str = "builtin-pytest"
    metadata: dict[str, Any] = field(default_factory=lambda: {"kind": "builtin-perf"})

    @property
    def instruction(self) -> str:
        return "Make /app/calc.py pass its tests."

    @property
    def workdir(self) -> str:
        return "/app"

    def sandbox_spec(self) -> SandboxSpec:
        return SandboxSpec(image=DEFAULT_IMAGE, workdir="/app", memory_mb=512)

    def ensure_image(self, backend: str) -> None:
        return None

    def prepare(self, sandbox: Sandbox) -> None:
        sandbox.write("/app/calc.py", _CALC)

    def apply_oracle(self, sandbox: Sandbox) -> None:
        return None  # calc.py is already correct: the tests pass

    def place_tests(self, sandbox: Sandbox) -> None:
        sandbox.write("/tests/test_calc.py", _CALC_TESTS)

    def grade(self, sandbox: Sandbox) -> Grade:
        self.place_tests(sandbox)
        result = sandbox.run(PYTEST_COMMAND, timeout=120)
        tests = {name: status for status, name in _RESULT_LINE.findall(result.output)}
        ok = result.exit_code == 0 and bool(tests) and all(s == "PASSED" for s in tests.values())
        return Grade(reward=float(ok), resolved=ok, tests=tests, log=result.output[-4000:])


class _OneTaskSuite:
    """A `TaskSuite` holding one task object."""

    def __init__(self, task: Task) -> None:
        self.task, self.name = task, "perf"

    def task_ids(self) -> list[str]:
        return [self.task.id]

    def load(self, task_id: str) -> Task:
        return self.task


# -- grading cases ------------------------------------------------------------------------
@dataclass
class GradingCase:
    """A task, and how to run its test command directly: `place_tests(sb)`, then `command`."""

    label: str
    task: Task
    place_tests: Callable[[Sandbox], None]
    command: str


def builtin_case() -> GradingCase:
    task = PytestTask()
    return GradingCase("builtin pytest task (20+3 tests)", task, task.place_tests, PYTEST_COMMAND)


def tb_mini_case(task_id: str = DEFAULT_TB_TASK) -> GradingCase:
    """A shipped tb-mini task, loaded by the tb-mini suite; raises ImportError/EnvError if absent."""
    from envs.core.suites import resolve_suite

    suite = resolve_suite("tb-mini", task_ids=[task_id])
    task = suite.load(task_id)
    folder = TB_MINI_TASKS / task_id
    harbor = (folder / "task.toml").is_file()

    def place(sb: Sandbox) -> None:
        sb.upload(folder / "tests", "/tests")
        if not harbor:
            sb.upload(folder / "run-tests.sh", "/tests/run-tests.sh")

    script = "/tests/test.sh" if harbor else "/tests/run-tests.sh"
    command = f"cd {task.workdir} && TEST_DIR=/tests bash {script}"
    return GradingCase(
        f"tb-mini {task_id} ({'harbor' if harbor else 'terminal-bench'})", task, place, command
    )


def grading_cases(spec: str | None) -> tuple[list[GradingCase], str]:
    """(cases, note) for `--grading-task`: comma-separated tb-mini ids, or "builtin".

    The default is one task of each format (DEFAULT_GRADING_TASKS); when the tb-mini loader
    is not installed it falls back to the built-in task and says why in `note`.
    """
    if spec == "builtin":
        return [builtin_case()], ""
    ids = spec.split(",") if spec else list(DEFAULT_GRADING_TASKS)
    try:
        return [tb_mini_case(task_id.strip()) for task_id in ids], ""
    except Exception as exc:  # loader not installed, or an unknown task id
        if spec:
            raise
        return [builtin_case()], f"tb-mini unavailable ({type(exc).__name__}: {str(exc)[:120]})"


# -- measurements -------------------------------------------------------------------------
def _prepared(task: Task, backend: str) -> Sandbox:
    sb = create_sandbox(task.sandbox_spec(), backend)
    try:
        task.prepare(sb)
        task.apply_oracle(sb)
    except BaseException:
        sb.close()
        raise
    return sb


def bench_steps(
    backend: str,
    n: int,
    action_format: ActionFormat = "xml",
    repeats: int = 4,
    order: Order = "abba",
    ops: dict[str, OpCount] | None = None,
) -> dict[str, Samples]:
    """`ChunkEnv.step` vs bare `Sandbox.run`, for `true` and for a `cat` of an 8 KiB file.

    Returns Stats keyed "env true", "bare true", "env cat", "bare cat" (n samples each, in
    `repeats` blocks whose order alternates: `bench.perf.method`). `ops` (side -> OpCount)
    counts the commands each side ran."""
    task = PytestTask()
    env = ChunkEnv(
        suite=_OneTaskSuite(task),
        backend=backend,
        action_format=action_format,
        max_turns=4 * n + 10 * repeats + 10,
    )
    bare = create_sandbox(task.sandbox_spec(), backend)
    ops = ops if ops is not None else {"env": OpCount(), "bare": OpCount()}
    block = max(1, n // repeats)
    try:
        env.reset(options={"task_id": task.id})
        assert env.sandbox is not None
        payload = (b"0123456789abcdef" * (CAT_BYTES // 16 - 1) + b"ale-perf-end\n")[:CAT_BYTES]
        for sb in (env.sandbox, bare):
            task.prepare(sb)
            sb.write(CAT_FILE, payload)
        out: dict[str, Samples] = {}
        for name, cmd in (("true", "true"), ("cat", f"cat {CAT_FILE}")):
            action = bash_action(cmd, action_format)

            def env_block(cmd: str = cmd, action: str = action) -> list[float]:
                got = []
                for _ in range(block):
                    t = time.perf_counter()
                    obs, _, term, trunc, info = env.step(action)
                    got.append(time.perf_counter() - t)
                    if term or trunc or info.get("exit_code") != 0:
                        raise RuntimeError(f"env step of {cmd!r} failed: {info} {obs[:200]}")
                    ops["env"].add(f"run:{cmd}")
                return got

            def bare_block(cmd: str = cmd) -> list[float]:
                got = []
                for _ in range(block):
                    t = time.perf_counter()
                    r = bare.run(cmd)
                    got.append(time.perf_counter() - t)
                    if not r.ok:
                        raise RuntimeError(f"bare run of {cmd!r} failed: {r.output[:200]}")
                    ops["bare"].add(f"run:{cmd}")
                return got

            for _ in range(3):  # warm both sessions
                env.step(action)
                bare.run(cmd)
            got = alternate({"env": env_block, "bare": bare_block}, repeats, order)
            for side, blocks in got.items():
                out[f"{side} {name}"] = Samples([x for b in blocks for x in b])
        return out
    finally:
        env.close()
        bare.close()


def bench_grading(
    case: GradingCase,
    backend: str,
    n: int,
    order: Order = "abba",
    ops: dict[str, OpCount] | None = None,
) -> dict[str, Any]:
    """`task.grade(sb)` vs `sb.run(case.command)`, each on fresh prepared sandboxes (oracle applied).

    Returns {"grade": Samples, "direct": Samples, "rewards": [grade rewards], "direct_exit": [codes]}.
    Sandboxes are started before timing and closed after; only the two calls are timed, in
    alternating order (round 0, untimed, warms the image's page cache). The direct side's
    `place_tests` is untimed; `grade` places them itself (part of grading)."""
    case.task.ensure_image(backend)
    ops = ops if ops is not None else {"grade": OpCount(), "direct": OpCount()}
    with ThreadPoolExecutor(2) as ex:
        boxes = list(ex.map(lambda _: _prepared(case.task, backend), range(2 * (n + 1))))
    grade_s, direct_s, rewards, exits = [], [], [], []
    try:
        rounds = [["grade", "direct"], *schedule(["grade", "direct"], n, order)]
        for i, round_ in enumerate(rounds):
            g_sb, d_sb = boxes[2 * i], boxes[2 * i + 1]
            case.place_tests(d_sb)
            got: dict[str, Any] = {}
            for side in round_:
                t = time.perf_counter()
                if side == "grade":
                    value: Any = case.task.grade(g_sb)
                else:
                    value = d_sb.run(case.command, timeout=600)
                got[side] = (value, time.perf_counter() - t)
            if i:
                (grade, g_t), (r, d_t) = got["grade"], got["direct"]
                grade_s.append(g_t)
                direct_s.append(d_t)
                rewards.append(grade.reward)
                exits.append(r.exit_code)
                ops["grade"].add("test command")
                ops["direct"].add("test command")
    finally:
        with ThreadPoolExecutor(4) as ex:
            list(ex.map(lambda b: b.close(), boxes))
    return {
        "grade": Samples(grade_s),
        "direct": Samples(direct_s),
        "rewards": rewards,
        "direct_exit": exits,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", default="docker")
    ap.add_argument("--quick", action="store_true", help="few samples (CI smoke)")
    ap.add_argument("--steps", type=int, help="timed steps per command (default 300, quick 20)")
    ap.add_argument("--grades", type=int, help="timed gradings, >= 2 (default 6, quick 2)")
    ap.add_argument("--repeats", type=int, default=4, help="ABBA blocks of steps, >= 2")
    ap.add_argument("--order", default="abba", choices=ORDERS)
    ap.add_argument("--action-format", default="xml", choices=["xml", "json", "bash_block"])
    ap.add_argument(
        "--grading-task",
        help="comma-separated tb-mini task ids, or 'builtin' "
        f"(default {','.join(DEFAULT_GRADING_TASKS)})",
    )
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    n_steps = args.steps or (20 if args.quick else 300)
    n_grades = check_repeats(args.grades or (2 if args.quick else 6), "--grades")
    repeats = check_repeats(args.repeats)
    ms = 1000.0

    steps = bench_steps(args.backend, n_steps, args.action_format, repeats, args.order)
    cases, note = grading_cases(args.grading_task)
    gradings = [(case, bench_grading(case, args.backend, n_grades, args.order)) for case in cases]

    rows = [
        (
            "step `true` p50 (ms)",
            steps["env true"].p50,
            steps["bare true"].p50,
            "bare sandbox.run",
            "<= 1.1x",
        ),
        (
            "step `true` mean (ms)",
            steps["env true"].mean,
            steps["bare true"].mean,
            "bare sandbox.run",
            "",
        ),
        (
            "step 8 KiB cat p50 (ms)",
            steps["env cat"].p50,
            steps["bare cat"].p50,
            "bare sandbox.run",
            "<= 1.1x",
        ),
        (
            "step 8 KiB cat mean (ms)",
            steps["env cat"].mean,
            steps["bare cat"].mean,
            "bare sandbox.run",
            "",
        ),
    ]
    for case, g in gradings:
        rows.append(
            (
                f"grade p50 (ms) {case.task.id}",
                g["grade"].p50,
                g["direct"].p50,
                "test command run directly",
                "<= 1.2x",
            )
        )
    print(
        f"backend={args.backend} action_format={args.action_format} steps={n_steps} gradings={n_grades}"
    )
    print(
        Method(("env", "bare"), repeats, args.order, f"{max(1, n_steps // repeats)} steps").line()
    )
    print(Method(("grade", "direct"), n_grades, args.order, "one grading").line())
    print(
        "grading tasks: "
        + "; ".join(case.label for case in cases)
        + (f"  [{note}]" if note else "")
    )
    print(f"{'metric':44} {'env':>10} {'baseline':>10} {'ratio':>7}  baseline / target")
    result_rows = []
    for name, ours, base, what, target in rows:
        ratio = ours / base if base else float("nan")
        print(f"{name:44} {ours * ms:10.2f} {base * ms:10.2f} {ratio:6.2f}x  {what} {target}")
        result_rows.append(
            {
                "metric": name,
                "env_ms": ours * ms,
                "baseline_ms": base * ms,
                "ratio": ratio,
                "baseline": what,
                "target": target,
            }
        )
    spreads = [("step `true`", steps["env true"], steps["bare true"])]
    spreads.append(("step 8 KiB cat", steps["env cat"], steps["bare cat"]))
    spreads += [(f"grade {case.task.id}", g["grade"], g["direct"]) for case, g in gradings]
    print(
        "spread, median (min-max) ms: "
        + "; ".join(f"{n}: env {a.text(ms)}, baseline {b.text(ms)}" for n, a, b in spreads)
    )
    for case, g in gradings:
        extra = statistics.median(
            [a - b for a, b in zip(g["grade"].values, g["direct"].values, strict=True)]
        )
        print(
            f"{case.task.id}: grading adds {extra * ms:.0f} ms (median of paired differences); "
            f"grade rewards {g['rewards']}, direct exit codes {g['direct_exit']}"
        )
    print(f"done; {machine_load()}")
    result: dict[str, Any] = {
        "method": {"order": args.order, "repeats": repeats, "gradings": n_grades},
        "rows": result_rows,
        "note": note,
        "steps": n_steps,
        "gradings": n_grades,
        "grading": [
            {
                "task": case.task.id,
                "label": case.label,
                "rewards": g["rewards"],
                "direct_exit": g["direct_exit"],
                "grade_s": g["grade"].values,
                "direct_s": g["direct"].values,
            }
            for case, g in gradings
        ],
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
