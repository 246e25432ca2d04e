"""python3 -m semverlib RANGE VERSION... (see README.md)."""

import sys


def main() -> int:
    raise NotImplementedError


if __name__ == "__main__":
    sys.exit(main())
