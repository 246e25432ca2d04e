"""`ale_home()`: where ALE keeps its state on this host (root filesystems, local sandboxes,
models); one small module so every layer can find it without importing a backend."""

from __future__ import annotations

import os
from pathlib import Path


def ale_home() -> Path:
    """Where ALE keeps root filesystems and local sandboxes (`$ALE_HOME` overrides)."""
    if os.environ.get("ALE_HOME"):
        return Path(os.environ["ALE_HOME"])
    return Path("/var/lib/ale") if os.geteuid() == 0 else Path.home() / ".local/share/ale"
