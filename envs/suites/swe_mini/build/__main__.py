"""`python -m envs.suites.swe_mini.build [--check] [--out DIR] [--python PY] [--only NAME ...]`."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from envs.suites.swe_mini.build.catalog import REPOS
from envs.suites.swe_mini.build.generate import DATA, build, data_files
from envs.suites.swe_mini.build.model import CatalogError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m envs.suites.swe_mini.build",
        description="Regenerate the swe-mini bundles, JSONL, specs and README.",
    )
    parser.add_argument(
        "--out", type=Path, default=DATA, help=f"data folder to write (default: {DATA})"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="build into a temporary folder and compare with --out; write nothing",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter whose pytest runs the instances' tests (e.g. /usr/bin/python3)",
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="build only these repositories (with --out)"
    )
    args = parser.parse_args(argv)
    repos = [r for r in REPOS if not args.only or r.name in args.only]
    if args.only and len(repos) != len(set(args.only)):
        parser.error(
            f"unknown repository in {args.only}; known: {', '.join(r.name for r in REPOS)}"
        )
    if args.only and args.check:
        parser.error("--check rebuilds everything; it takes no --only")
    try:
        if args.check:
            with tempfile.TemporaryDirectory(prefix="swe-mini-check-") as tmp:
                build(Path(tmp), repos, args.python)
                fresh, shipped = data_files(Path(tmp)), data_files(args.out)
            differ = sorted(
                k for k in fresh.keys() | shipped.keys() if fresh.get(k) != shipped.get(k)
            )
            for name in differ:
                print(f"differs: {name}", file=sys.stderr)
            print(
                "up to date"
                if not differ
                else f"{len(differ)} file(s) out of date; run without --check"
            )
            return 1 if differ else 0
        if args.only:
            print(
                "note: --only writes JSONL, specs and README for the chosen repositories only",
                file=sys.stderr,
            )
        rows = build(args.out, repos, args.python, log=print)
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(rows)} instances from {len(repos)} repositories to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
