"""Test-log parsers named by `parser_name` in task.yaml: test name -> status.

`pytest` reads the "short test summary info" section that `pytest -rA` prints (as
Terminal-Bench's parser does): lines `PASSED tests/test_outputs.py::test_x` or
`FAILED tests/test_outputs.py::test_y - AssertionError ...`. Keys are the part after the
first `::` (`test_x`, `TestA::test_b[param]`); when a name repeats, the file path is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable

STATUSES = ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS")
#: Statuses that fail a task; SKIPPED neither passes nor fails it.
FAILING = frozenset({"FAILED", "ERROR", "XPASS"})
PASSING = frozenset({"PASSED", "XFAIL"})
_SUMMARY = re.compile(r"^=+ short test summary info =+\s*$", re.MULTILINE)
_LINE = re.compile(rf"^({'|'.join(STATUSES)}) (\S+?)(?: - .*)?\s*$")
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


PARSERS: dict[str, Callable[[str], dict[str, str]]] = {"pytest": parse_pytest}


def resolved(tests: dict[str, str]) -> bool:
    """True iff at least one test passed and none failed, errored or unexpectedly passed."""
    return any(s in PASSING for s in tests.values()) and not any(
        s in FAILING for s in tests.values()
    )
