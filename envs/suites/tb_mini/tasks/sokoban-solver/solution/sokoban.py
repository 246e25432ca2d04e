#!/usr/bin/env python3
"""Sokoban solver: breadth-first search over pushes, with dead-square pruning.

Usage: python3 sokoban.py LEVEL_FILE  -> prints a LURD solution (uppercase = push).
"""
import sys
from collections import deque

DIRS = {"u": (-1, 0), "d": (1, 0), "l": (0, -1), "r": (0, 1)}


def parse(text):
    rows = [ln.rstrip("\n") for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(";")]
    walls, goals, boxes, player = set(), set(), set(), None
    for r, line in enumerate(rows):
        for c, ch in enumerate(line):
            if ch == "#":
                walls.add((r, c))
            if ch in ".*+":
                goals.add((r, c))
            if ch in "$*":
                boxes.add((r, c))
            if ch in "@+":
                player = (r, c)
    return walls, goals, frozenset(boxes), player


def interior(walls, player):
    """Floor cells reachable from the player ignoring boxes."""
    seen, todo = {player}, [player]
    while todo:
        r, c = todo.pop()
        for dr, dc in DIRS.values():
            n = (r + dr, c + dc)
            if n not in walls and n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def live_squares(floor, goals):
    """Squares from which a box can still reach some goal (found by pulling boxes off goals)."""
    live = set(goals)
    todo = list(goals)
    while todo:
        r, c = todo.pop()
        for dr, dc in DIRS.values():
            b, p = (r + dr, c + dc), (r + 2 * dr, c + 2 * dc)
            if b in floor and p in floor and b not in live:
                live.add(b)
                todo.append(b)
    return live


def solve(text):
    walls, goals, boxes, player = parse(text)
    floor = interior(walls, player)
    live = live_squares(floor, goals)

    def reach(boxes, start):
        parent = {start: None}
        todo = deque([start])
        while todo:
            cur = todo.popleft()
            for mv, (dr, dc) in DIRS.items():
                n = (cur[0] + dr, cur[1] + dc)
                if n in floor and n not in boxes and n not in parent:
                    parent[n] = (cur, mv)
                    todo.append(n)
        return parent

    def walk(parent, target):
        path = []
        while parent[target] is not None:
            target, mv = parent[target]
            path.append(mv)
        return "".join(reversed(path))

    def frozen(boxes, b):
        # a 2x2 block of walls/boxes containing a box that is not on a goal can never move
        for dr, dc in ((0, 0), (-1, 0), (0, -1), (-1, -1)):
            cells = [(b[0] + dr + i, b[1] + dc + j) for i in (0, 1) for j in (0, 1)]
            if all(x in walls or x in boxes for x in cells) and any(x in boxes and x not in goals for x in cells):
                return True
        return False

    start_reach = reach(boxes, player)
    key = (boxes, min(start_reach))
    prev = {key: None}
    todo = deque([(boxes, player)])
    while todo:
        boxes, pl = todo.popleft()
        if boxes <= goals:
            steps = []
            k = (boxes, min(reach(boxes, pl)))
            while prev[k] is not None:
                k, seg = prev[k]
                steps.append(seg)
            return "".join(reversed(steps))
        parent = reach(boxes, pl)
        k_here = (boxes, min(parent))
        for b in boxes:
            for mv, (dr, dc) in DIRS.items():
                stand = (b[0] - dr, b[1] - dc)
                dest = (b[0] + dr, b[1] + dc)
                if stand not in parent or dest not in live or dest in boxes:
                    continue
                nb = (boxes - {b}) | {dest}
                if frozen(nb, dest):
                    continue
                nk = (nb, min(reach(nb, b)))
                if nk in prev:
                    continue
                prev[nk] = (k_here, walk(parent, stand) + mv.upper())
                todo.append((nb, b))
    return None


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        result = solve(fh.read())
    if result is None:
        print("no solution", file=sys.stderr)
        sys.exit(1)
    print(result)
