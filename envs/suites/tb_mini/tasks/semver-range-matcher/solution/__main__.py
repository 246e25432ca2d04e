"""python3 -m semverlib RANGE VERSION... (see README.md)."""

import sys

from .semver import max_satisfying


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: python3 -m semverlib RANGE VERSION...", file=sys.stderr)
        return 2
    try:
        best = max_satisfying(sys.argv[2:], sys.argv[1])
    except ValueError as exc:
        print(f"semverlib: {exc}", file=sys.stderr)
        return 2
    if best is None:
        return 1
    print(best)
    return 0


if __name__ == "__main__":
    sys.exit(main())
