"""Atomic checkpoints: model, optimizer, LR schedule, RNG states, data cursor, policy version.

Layout: `<dir>/step_000012/state.pt` + `meta.json`, and `<dir>/LATEST` naming the newest.
A checkpoint is written into a temporary folder, fsynced, renamed into place, and only then
is `LATEST` replaced (write + fsync + rename): a kill at any moment leaves either the old or
the new checkpoint, never a torn one.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

LATEST = "LATEST"


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch global RNG states."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically (temp file, fsync, rename, fsync the folder)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def save_checkpoint(
    root: Path, step: int, state: dict[str, Any], meta: dict[str, Any], keep: int = 2
) -> Path:
    """Write checkpoint `step` (torch-saved `state` + JSON `meta`); keep the newest `keep`."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:06d}"
    tmp = root / f".tmp_step_{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    with open(tmp / "state.pt", "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    write_atomic(tmp / "meta.json", json.dumps({"step": step, **meta}, indent=1))
    _fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    write_atomic(root / LATEST, final.name)
    for old in sorted(root.glob("step_*"))[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(root: Path) -> Path | None:
    """The folder `LATEST` names, or None when there is no complete checkpoint."""
    pointer = root / LATEST
    if not pointer.exists():
        return None
    path = root / pointer.read_text(encoding="utf-8").strip()
    return path if (path / "state.pt").exists() and (path / "meta.json").exists() else None


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint `path` names: a checkpoint folder (`step_000012/`), a `checkpoints/`
    folder or a run folder of `ale train` / `ale sft` (their `LATEST`)."""
    from envs.core.config import ConfigError

    p = Path(path)
    if (p / "state.pt").exists() and (p / "meta.json").exists():
        return p
    for root in (p, p / "checkpoints"):
        found = latest_checkpoint(root)
        if found is not None:
            return found
    raise ConfigError(
        f"{path}: no checkpoint there; give a run folder of `ale sft` / `ale train`, its "
        "checkpoints/ folder or one step_N/ folder"
    )


def load_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state, meta) of a checkpoint folder."""
    state = torch.load(path / "state.pt", map_location="cpu", weights_only=False)
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    return state, meta
