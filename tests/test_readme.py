"""README's headline numbers: every row names the command that produced it, and says whether
its target was met in words that agree with its own numbers (a miss is written as a miss)."""

from __future__ import annotations

import importlib.util
import re
import shlex

import pytest

from bench.cli.perf import BENCHMARKS
from tests.conftest import REPO

COLUMNS = ["benchmark", "result", "baseline", "target", "verdict", "command"]
#: "<= 1.1x", ">= 2x", "<= 5 ms": a bound the result's numbers in that unit can be held to.
BOUND = re.compile(r"^(<=|>=) (\d+(?:\.\d+)?) ?(x|ms)$")
VERDICT = re.compile(r"^(met|missed|no target)( \([^)]*\))?$")


def headline_rows() -> list[dict[str, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Headline numbers", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    table = []
    for ln in lines[first:]:  # the first table of the section
        if not ln.startswith("|"):
            break
        table.append(ln)
    split = [[c.strip() for c in ln.strip()[1:-1].split("|")] for ln in table]
    assert split and split[0] == COLUMNS, f"headline table columns must be {COLUMNS}"
    rows = [dict(zip(COLUMNS, cells, strict=True)) for cells in split[2:]]
    assert len(rows) >= 5
    return rows


def _numbers(text: str, unit: str) -> list[float]:
    return [float(n) for n in re.findall(rf"(\d+(?:\.\d+)?) ?{unit}\b", text)]


def check_verdict(row: dict[str, str]) -> None:
    """Raise AssertionError when the verdict is malformed or disagrees with the numbers."""
    parts = [p.strip() for p in row["verdict"].split(";")]
    assert all(VERDICT.match(p) for p in parts), f"verdict {row['verdict']!r}: met/missed"
    words = {VERDICT.match(p).group(1) for p in parts}  # type: ignore[union-attr]
    if not row["target"]:
        assert words == {"no target"}, row
        return
    assert "no target" not in words, row
    bound = BOUND.match(row["target"])
    if bound is None:
        return  # a target in words: the verdict stands as written
    op, limit, unit = bound.group(1), float(bound.group(2)), bound.group(3)
    values = _numbers(row["result"], unit)
    assert values, f"{row['benchmark']}: no {unit} number in the result"
    ok = [v <= limit if op == "<=" else v >= limit for v in values]
    if not all(ok):
        assert "missed" in words, f"{row['benchmark']}: {row['result']} misses {row['target']}"
    else:
        assert words == {"met"}, f"{row['benchmark']}: every number meets {row['target']}"


def check_command(row: dict[str, str]) -> None:
    """Each backticked command in the cell runs something that exists, with options it has."""
    commands = re.findall(r"`([^`]+)`", row["command"])
    assert commands, f"{row['benchmark']}: name the command that produced it"
    for command in commands:
        argv = shlex.split(command)
        if argv[:4] == ["ale", "bench", "perf", "run"]:
            assert argv[4] in BENCHMARKS, command
            module, options = BENCHMARKS[argv[4]], argv[5:]
        else:
            assert argv[:2] in (["python3", "-m"], ["python", "-m"]), command
            module, options = argv[2], argv[3:]
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin, command
        source = open(spec.origin, encoding="utf-8").read()  # noqa: SIM115
        for opt in (o.split("=")[0] for o in options if o.startswith("--")):
            # argparse spells --scale-tasks; the dataclass CLI writes the field scale_tasks
            assert opt in source or opt[2:].replace("-", "_") in source, f"{command}: {opt}"


@pytest.mark.parametrize("row", headline_rows(), ids=lambda r: r["benchmark"][:40])
def test_headline_row_names_its_command_and_an_honest_verdict(row: dict[str, str]) -> None:
    check_command(row)
    check_verdict(row)


def test_the_checks_can_fail() -> None:
    row = {
        "benchmark": "env step",
        "result": "0.96-1.24x",
        "baseline": "",
        "target": "<= 1.1x",
        "verdict": "met",
        "command": "`ale bench perf run env`",
    }
    with pytest.raises(AssertionError, match="misses"):
        check_verdict(row)
    check_verdict({**row, "verdict": "missed"})
    with pytest.raises(AssertionError, match="every number meets"):
        check_verdict({**row, "result": "1.05x", "verdict": "missed"})
    with pytest.raises(AssertionError, match="name the command"):
        check_command({**row, "command": "see docs"})
    with pytest.raises(AssertionError):
        check_command({**row, "command": "`ale bench perf run nosuch`"})
    with pytest.raises(AssertionError, match="--no-such-flag"):
        check_command({**row, "command": "`ale bench perf run env --no-such-flag`"})
