"""Every swe-mini repository, in the order of the JSONL."""

from envs.suites.swe_mini.build.catalog import iniconf, minitmpl, tinyunits
from envs.suites.swe_mini.build.model import RepoDef

REPOS: tuple[RepoDef, ...] = (
    tinyunits.REPO,
    iniconf.REPO,
    minitmpl.REPO,
)

__all__ = ["REPOS"]
