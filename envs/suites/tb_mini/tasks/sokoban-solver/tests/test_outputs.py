"""Checks for sokoban-solver: replay every solution; run the solver on an unseen level."""

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
LEVELS = json.loads((HERE / "levels_sha256.json").read_text())
DIRS = {"u": (-1, 0), "d": (1, 0), "l": (0, -1), "r": (0, 1)}
HIDDEN = """#########
#   #.  #
# .   * #
### #*###
#+$$$   #
#   #   #
#########
"""


def replay(level, moves):
    """Play LURD moves; returns None when solved, otherwise an error string."""
    walls, goals, boxes, player = set(), set(), set(), None
    for r, line in enumerate(level.splitlines()):
        for c, ch in enumerate(line):
            if ch == "#":
                walls.add((r, c))
            if ch in ".*+":
                goals.add((r, c))
            if ch in "$*":
                boxes.add((r, c))
            if ch in "@+":
                player = (r, c)
    for i, mv in enumerate(moves):
        if mv.lower() not in DIRS:
            return f"bad character {mv!r} at {i}"
        dr, dc = DIRS[mv.lower()]
        nxt = (player[0] + dr, player[1] + dc)
        if nxt in walls:
            return f"step {i}: walks into a wall"
        if nxt in boxes:
            behind = (nxt[0] + dr, nxt[1] + dc)
            if behind in walls or behind in boxes:
                return f"step {i}: box cannot move"
            if not mv.isupper():
                return f"step {i}: pushes a box with lowercase {mv!r}"
            boxes.remove(nxt)
            boxes.add(behind)
        elif mv.isupper():
            return f"step {i}: uppercase {mv!r} without a push"
        player = nxt
    return None if boxes <= goals else "not all boxes are on goals"


def test_levels_untouched():
    for name, digest in LEVELS.items():
        assert hashlib.sha256((Path("/app/levels") / name).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("name", sorted(LEVELS))
def test_level_solution(name):
    level = (Path("/app/levels") / name).read_text()
    path = Path("/app/solutions") / name
    assert path.is_file(), f"missing {path}"
    moves = "".join(path.read_text().split())
    assert moves, "empty solution"
    assert replay(level, moves) is None, replay(level, moves)


def test_solver_on_unseen_level(tmp_path):
    level = tmp_path / "hidden.txt"
    level.write_text(HIDDEN)
    proc = subprocess.run(["python3", "/app/sokoban.py", str(level)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines, "no output"
    moves = lines[0].strip()
    assert replay(HIDDEN, moves) is None, replay(HIDDEN, moves)
