"""Reading SWE-bench instances: JSONL, JSON, parquet, a Hugging Face dataset, or rows in memory.

Every source yields plain dicts in the official instance schema (`swebench.types.SWEbenchInstance`)
with FAIL_TO_PASS / PASS_TO_PASS as lists and `version` as a string. Columns beyond the schema
(swebench 5 datasets carry `image`, `eval_script`, `log_parser`, `eval_type`) are kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from envs.core.errors import TaskError

#: Keys an instance must have to be run and graded.
REQUIRED_KEYS: tuple[str, ...] = (
    "instance_id",
    "repo",
    "base_commit",
    "patch",
    "test_patch",
    "problem_statement",
    "version",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
)
#: Keys of the official schema that may be absent (filled with "").
OPTIONAL_KEYS: tuple[str, ...] = ("hints_text", "created_at", "environment_setup_commit")
FILE_SUFFIXES = (".jsonl", ".json", ".parquet")


def _test_list(value: Any, where: str, key: str) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise TaskError(f"{where}: {key} is not a JSON list of test names: {exc}") from exc
    if value is None:
        value = []
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
        raise TaskError(f"{where}: {key} must be a list of test names (or a JSON string of one)")
    return list(value)


def normalize(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One instance in canonical form; `where` ("file.jsonl line 3") names it in errors."""
    if not isinstance(row, Mapping):
        raise TaskError(
            f"{where}: expected an object (one SWE-bench instance), got {type(row).__name__}"
        )
    missing = [k for k in REQUIRED_KEYS if k not in row or row[k] is None]
    if missing:
        iid = row.get("instance_id", "?")
        raise TaskError(
            f"{where}: instance {iid!r} has no {', '.join(repr(k) for k in missing)} "
            f"(the SWE-bench schema needs {', '.join(REQUIRED_KEYS)})"
        )
    out = dict(row)
    for key in OPTIONAL_KEYS:
        out[key] = "" if out.get(key) is None else str(out[key])
    for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        out[key] = _test_list(row[key], where, key)
    for key in ("instance_id", "repo", "base_commit", "version"):
        out[key] = str(row[key])
    return out


def _line_of(text: str, instance_id: object) -> int:
    """1-based line of `"instance_id": "<id>"` in a JSON text (0 when not found)."""
    needle = json.dumps(instance_id)
    for i, line in enumerate(text.splitlines(), 1):
        if '"instance_id"' in line and needle in line:
            return i
    return 0


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskError(
                f"{path} line {n}: invalid JSON ({exc.msg} at column {exc.colno})"
            ) from exc
        rows.append(normalize(row, f"{path} line {n}"))
    return rows


def read_json(path: Path) -> list[dict[str, Any]]:
    """A JSON list of instances, or an object mapping instance_id -> instance."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskError(f"{path} line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    if isinstance(data, dict):
        data = [{"instance_id": k, **v} if isinstance(v, dict) else v for k, v in data.items()]
    if not isinstance(data, list):
        raise TaskError(f"{path}: expected a JSON list of SWE-bench instances")
    rows = []
    for i, row in enumerate(data):
        line = _line_of(text, row.get("instance_id")) if isinstance(row, dict) else 0
        rows.append(
            normalize(row, f"{path} line {line} (entry {i})" if line else f"{path} entry {i}")
        )
    return rows


def read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise TaskError(f"{path}: not a readable parquet file ({exc})") from exc
    return [normalize(row, f"{path} row {i}") for i, row in enumerate(table.to_pylist())]


def read_file(path: str | Path) -> list[dict[str, Any]]:
    """Instances from a .jsonl, .json or .parquet file."""
    path = Path(path)
    if not path.is_file():
        raise TaskError(f"no such SWE-bench file: {path}")
    readers = {".jsonl": read_jsonl, ".json": read_json, ".parquet": read_parquet}
    if path.suffix not in readers:
        raise TaskError(f"{path}: unknown format; use one of {', '.join(FILE_SUFFIXES)}")
    return readers[path.suffix](path)


def read_rows(rows: Iterable[Mapping[str, Any]], name: str = "rows") -> list[dict[str, Any]]:
    """Instances from an iterable of dicts (a `datasets.Dataset`, a list)."""
    return [normalize(row, f"{name} row {i}") for i, row in enumerate(rows)]


def _offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
        for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    )


def read_hf(name: str, split: str) -> list[dict[str, Any]]:
    """`datasets.load_dataset(name, split=split)`: from the local cache when offline."""
    try:
        import datasets
    except ImportError as exc:
        raise TaskError(
            f"dataset {name!r} needs the `datasets` package; or pass a file "
            "(.jsonl, .json, .parquet) in the SWE-bench schema"
        ) from exc
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as exc:  # missing, offline, no such split: all get the same advice
        mode = " (offline: HF_DATASETS_OFFLINE/HF_HUB_OFFLINE is set)" if _offline() else ""
        raise TaskError(
            f"cannot load the Hugging Face dataset {name!r} split {split!r}{mode}: "
            f"{type(exc).__name__}: {str(exc)[:300]}. Provide a file instead: "
            f"SWEBenchSuite('path/to/{name.split('/')[-1]}.jsonl') (JSONL, JSON or parquet "
            "in the SWE-bench schema), written where there is network with "
            f"`datasets.load_dataset({name!r}, split={split!r}).to_json('x.jsonl')`"
        ) from exc
    return read_rows(ds, f"{name}[{split}]")


def load_instances(
    source: str | Path | Iterable[Mapping[str, Any]] | Mapping[str, Any], split: str = "test"
) -> list[dict[str, Any]]:
    """Instances from a file, a folder holding `<split>.{jsonl,json,parquet}`, a dataset name,
    rows already in memory (a list, a `datasets.Dataset`), or a `DatasetDict` (its `split`, or
    its only split). Duplicate instance ids are an error."""
    if isinstance(source, str | Path):
        path = Path(source)
        if path.is_dir():
            found = [
                path / f"{split}{s}" for s in FILE_SUFFIXES if (path / f"{split}{s}").is_file()
            ]
            if not found:
                raise TaskError(f"{path} holds no {split}.jsonl, {split}.json or {split}.parquet")
            rows = read_file(found[0])
        elif path.suffix in FILE_SUFFIXES or path.exists():
            rows = read_file(path)
        else:
            rows = read_hf(str(source), split)
    elif isinstance(source, Mapping):  # a DatasetDict: pick the split
        splits = list(source)
        if split not in source and len(splits) != 1:
            raise TaskError(
                f"no split {split!r} in the given datasets (splits: {', '.join(map(str, splits))})"
            )
        chosen = split if split in source else splits[0]
        rows = read_rows(source[chosen], f"dataset[{chosen}]")
    else:
        rows = read_rows(source, type(source).__name__)
    seen: set[str] = set()
    for row in rows:
        if row["instance_id"] in seen:
            raise TaskError(f"instance id {row['instance_id']!r} appears twice in {source}")
        seen.add(row["instance_id"])
    return rows
