#!/bin/bash
set -euo pipefail
cat > /app/solve.py <<'PY'
#!/usr/bin/env python3
"""Optimal sliding-puzzle solver: IDA* with Manhattan distance plus linear conflicts."""
import sys

MOVES = {"U": -1, "D": 1, "L": 0, "R": 0}


def _lis(seq):
    best = []
    for x in seq:
        lo, hi = 0, len(best)
        while lo < hi:
            mid = (lo + hi) // 2
            if best[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        if lo == len(best):
            best.append(x)
        else:
            best[lo] = x
    return len(best)


def solvable(n, tiles):
    seq = [t for t in tiles if t]
    inv = sum(1 for i in range(len(seq)) for j in range(i + 1, len(seq)) if seq[i] > seq[j])
    if n % 2:
        return inv % 2 == 0
    blank_row_from_bottom = n - tiles.index(0) // n
    return (inv + blank_row_from_bottom) % 2 == 1


def solve(n, tiles):
    tiles = list(tiles)
    if not solvable(n, tiles):
        return None
    goal_pos = {t: (t - 1) if t else n * n - 1 for t in range(n * n)}

    def h(state):
        total = 0
        for i, t in enumerate(state):
            if t:
                g = goal_pos[t]
                total += abs(i // n - g // n) + abs(i % n - g % n)
        # linear conflicts: tiles in their goal line but in the wrong order; at least
        # (len - longest increasing run) of them must leave the line and come back (+2 each)
        for r in range(n):
            line = [goal_pos[t] for t in state[r * n:(r + 1) * n] if t and goal_pos[t] // n == r]
            total += 2 * (len(line) - _lis(line))
        for c in range(n):
            line = [goal_pos[t] for t in state[c::n] if t and goal_pos[t] % n == c]
            total += 2 * (len(line) - _lis(line))
        return total

    nbrs = []
    for i in range(n * n):
        r, c = divmod(i, n)
        lst = []
        if r > 0: lst.append(("U", i - n))
        if r < n - 1: lst.append(("D", i + n))
        if c > 0: lst.append(("L", i - 1))
        if c < n - 1: lst.append(("R", i + 1))
        nbrs.append(lst)
    opposite = {"U": "D", "D": "U", "L": "R", "R": "L", None: None}
    path = []
    state = tiles
    blank = state.index(0)
    bound = h(state)
    FOUND = -1

    def search(g, blank, prev, bound):
        f = g + h(state)
        if f > bound:
            return f
        if f == g:  # h == 0
            return FOUND
        best = 10 ** 9
        for mv, j in nbrs[blank]:
            if mv == opposite[prev]:
                continue
            state[blank], state[j] = state[j], 0
            path.append(mv)
            t = search(g + 1, j, mv, bound)
            if t == FOUND:
                return FOUND
            path.pop()
            state[j], state[blank] = state[blank], 0
            best = min(best, t)
        return best

    while True:
        t = search(0, blank, None, bound)
        if t == FOUND:
            return "".join(path)
        bound = t


if __name__ == "__main__":
    args = [int(x) for x in " ".join(sys.argv[1:]).split()]
    res = solve(args[0], args[1:])
    print("UNSOLVABLE" if res is None else res)
PY
grep -v '^#' /app/puzzles.txt | while read -r pid size tiles; do
    [ -n "$pid" ] || continue
    echo "$pid $(python3 /app/solve.py "$size" $tiles)"
done > /app/solutions.txt
cat /app/solutions.txt
