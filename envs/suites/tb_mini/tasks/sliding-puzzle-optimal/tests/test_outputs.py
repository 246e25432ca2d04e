"""Checks for sliding-puzzle-optimal: legal, goal-reaching, shortest move sequences."""

import json
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
OPTIMAL = json.loads((HERE / "optimal_lengths.json").read_text())
DELTA = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}


def _puzzles():
    out = {}
    for line in Path("/app/puzzles.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            pid, size, *tiles = line.split()
            out[pid] = (int(size), [int(t) for t in tiles])
    return out


def _apply(size, tiles, moves):
    """Play `moves` (blank directions); returns the final board or raises on an illegal move."""
    board = list(tiles)
    blank = board.index(0)
    for mv in moves:
        dr, dc = DELTA[mv]
        r, c = divmod(blank, size)
        nr, nc = r + dr, c + dc
        assert 0 <= nr < size and 0 <= nc < size, f"illegal move {mv} at blank {(r, c)}"
        j = nr * size + nc
        board[blank], board[j] = board[j], 0
        blank = j
    return board


def _goal(size):
    return list(range(1, size * size)) + [0]


def _solutions():
    path = Path("/app/solutions.txt")
    assert path.is_file(), "missing /app/solutions.txt"
    sols = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts:
            sols[parts[0]] = parts[1] if len(parts) > 1 else ""
    return sols


def test_puzzle_file_untouched():
    """The puzzle list is the one shipped with the task."""
    assert sorted(_puzzles()) == sorted(OPTIMAL)


@pytest.mark.parametrize("pid", sorted(OPTIMAL))
def test_solution(pid):
    """Each listed puzzle has an optimal legal solution, or UNSOLVABLE exactly when it has none."""
    size, tiles = _puzzles()[pid]
    sols = _solutions()
    assert pid in sols, f"no solution line for {pid}"
    if OPTIMAL[pid] is None:
        assert sols[pid] == "UNSOLVABLE"
        return
    moves = sols[pid]
    assert set(moves) <= set("UDLR"), moves
    assert _apply(size, tiles, moves) == _goal(size)
    assert len(moves) == OPTIMAL[pid], f"{len(moves)} moves, optimal is {OPTIMAL[pid]}"


HIDDEN = [
    (3, "6 4 7 8 5 0 3 2 1", 31),
    (3, "1 2 3 4 5 6 8 7 0", None),
    (3, "1 2 3 4 5 6 7 8 0", 0),
    (4, "1 3 4 7 10 2 15 6 13 9 0 8 14 11 5 12", 24),
    (4, "2 1 3 4 5 6 7 8 9 10 11 12 13 14 15 0", None),
]


@pytest.mark.parametrize(("size", "tiles", "optimal"), HIDDEN)
def test_solver_script(size, tiles, optimal):
    """/app/solve.py solves unseen boards optimally (and detects unsolvable ones)."""
    proc = subprocess.run(["python3", "/app/solve.py", str(size), *tiles.split()],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    answer = lines[0].strip() if lines else ""
    if optimal is None:
        assert answer == "UNSOLVABLE"
        return
    assert set(answer) <= set("UDLR"), answer
    assert _apply(size, [int(t) for t in tiles.split()], answer) == _goal(size)
    assert len(answer) == optimal
