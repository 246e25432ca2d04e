"""The swe-mini generator, the source of truth of `envs/suites/swe_mini/data`.

`trees/<name>/` holds each repository's files at its newest commit, `catalog/<name>.py` its
history, its bugs (problem statement, gold fix, tests) and their FAIL_TO_PASS tests. Run
`python -m envs.suites.swe_mini.build` to regenerate the bundles, the JSONL, specs and README.
"""

from envs.suites.swe_mini.build.generate import DATA, build, data_files, snapshots
from envs.suites.swe_mini.build.model import Change, Commit, Instance, Person, RepoDef

__all__ = [
    "DATA",
    "Change",
    "Commit",
    "Instance",
    "Person",
    "RepoDef",
    "build",
    "data_files",
    "snapshots",
]
