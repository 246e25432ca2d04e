"""Test-log parsers named by `parser_name` in task.yaml: test name -> status.

The five parsers of Terminal-Bench (`terminal_bench.parsers`), with its verdicts:

* `pytest` reads the "short test summary info" section that `pytest -rA` prints: lines
  `PASSED tests/test_outputs.py::test_x` or `FAILED tests/test_outputs.py::test_y - ...`.
  Keys are the part after the first `::` (`test_x`, `TestA::test_b[param]`); when a name
  repeats, the file path is kept. PASSED, XFAIL and SKIPPED pass; FAILED, ERROR, XPASS fail.
* `swebench`, `sweperf`: the text between `<NAME> results starts here` and `... ends here`
  must be `PASSED` (one test, `tests`).
* `mlebench`: that text must be `ALL TESTS PASSED`.
* `swelancer`: `swe lancer success` anywhere (or `user_tool` ... `completed` without a
  `swe lancer failure`), one test `swelancer_task`.

A task is resolved when the log has results, at least one test passed and none failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

STATUSES = ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS")
#: Statuses that fail a task (Terminal-Bench's PytestTestStatus.to_test_status).
FAILING = frozenset({"FAILED", "ERROR", "XPASS"})
PASSING = frozenset({"PASSED", "XFAIL", "SKIPPED"})
_SUMMARY = re.compile(r"^=+\s*short test summary info\s*=+\s*$", re.MULTILINE | re.IGNORECASE)
_LINE = re.compile(rf"^({'|'.join(STATUSES)}):? (\S+?)(?: - .*)?\s*$")
_TRAILER = re.compile(r"^=+ .* =+\s*$")


def parse_pytest(log: str) -> dict[str, str]:
    """{test name: status} from the last short test summary in `log`; {} when there is none."""
    parts = _SUMMARY.split(log)
    if len(parts) < 2:
        return {}
    results: dict[str, str] = {}
    for line in parts[-1].splitlines():
        if _TRAILER.match(line):
            break
        m = _LINE.match(line.strip())
        if not m:
            continue
        status, path = m.group(1), m.group(2)
        name = path.split("::", 1)[1] if "::" in path else path
        if name in results and results[name] != status:
            name = path
        results[name] = status
    return results


def _between(log: str, name: str) -> str | None:
    start, end = f"{name} results starts here", f"{name} results ends here"
    if start not in log or end not in log:
        return None
    return log.split(start, 1)[-1].rsplit(end, 1)[0].strip()


def _marker_parser(name: str, passing: str, test: str = "tests") -> Callable[[str], dict[str, str]]:
    def parse(log: str) -> dict[str, str]:
        block = _between(log, name)
        if block is None:
            return {}
        return {test: "PASSED" if block == passing else "FAILED"}

    parse.__doc__ = f"{{{test!r}: PASSED}} iff the {name} results block is {passing!r}."
    return parse


def parse_swelancer(log: str) -> dict[str, str]:
    """{'swelancer_task': PASSED} on `swe lancer success` (or a completed user_tool run)."""
    low = log.lower()
    if "swe lancer success" in low:
        ok = True
    elif "swe lancer failure" in low:
        ok = False
    else:
        ok = "user_tool" in low and "completed" in low
    return {"swelancer_task": "PASSED" if ok else "FAILED"}


PARSERS: dict[str, Callable[[str], dict[str, str]]] = {
    "pytest": parse_pytest,
    "swebench": _marker_parser("SWEBench", "PASSED"),
    "sweperf": _marker_parser("SWE-Perf", "PASSED"),
    "mlebench": _marker_parser("MLEBench", "ALL TESTS PASSED"),
    "swelancer": parse_swelancer,
}


def resolved(tests: dict[str, str]) -> bool:
    """True iff at least one test passed and none failed, errored or unexpectedly passed."""
    return any(s in PASSING for s in tests.values()) and not any(
        s in FAILING for s in tests.values()
    )
