"""`ale data build`: recorded episodes -> a filtered Hugging Face `datasets` dataset.

Output folder:

    DATASET/
      arrow/          `Dataset.save_to_disk` (load with `load_sft_dataset(DATASET)`)
      data.jsonl      the same rows as JSON lines
      summary.json    kept / dropped per filter (also summary.md, printed by the CLI)
      build.json      the data config and the sources read

One row per kept episode (`FEATURES`): `messages` (role / content: the chat-messages schema
TRL's SFT trainer takes), `input_ids` and `loss_mask` (the episode's one token stream and its
policy-token mask: 1 exactly on the tokens the policy produced), and metadata: task id, suite,
status, reward, turns, tokens, teacher (the policy that produced it), the task's teacher
pass rate over all its attempts read (infra-failed ones excluded) and difficulty = 1 - that
pass rate, the env actions (for dedup and for expert prefixes), and how the ids were obtained
(`recorded`, or `replayed:<tokenizer>` for text-only episodes).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import datasets

from envs.core.config import ConfigError, StrictModel, load_yaml, validate
from rl.data.filters import FilterConfig, FilterRow, Summary, filter_episodes, policy_turns
from rl.data.sources import ERROR_STATUSES, SourceEpisode, read_sources
from rl.data.tokens import (
    conversation,
    has_ids,
    policy_chunks,
    replay_policy,
    stream,
    tokenize,
)

_STR, _F, _I = datasets.Value("string"), datasets.Value("float64"), datasets.Value("int64")
FEATURES = datasets.Features(
    {
        "messages": datasets.List({"role": _STR, "content": _STR}),
        "input_ids": datasets.List(_I),
        "loss_mask": datasets.List(datasets.Value("int8")),
        "task_id": _STR,
        "suite": _STR,
        "status": _STR,
        "reward": _F,
        "attempt": _I,
        "turns": _I,
        "tokens": _I,
        "policy_tokens": _I,
        "teacher": _STR,
        "pass_rate": _F,
        "difficulty": _F,
        "task_attempts": _I,
        "actions": datasets.List(_STR),
        "instruction": _STR,
        "tokenization": _STR,
        "source": _STR,
    }
)


class DataConfig(StrictModel):
    """A data build: filters and how text-only episodes are tokenized."""

    filters: FilterConfig = FilterConfig()
    tokenizer: str | None = None
    """Tokenizes episodes recorded without ids: "toy", "tiny", or a transformers folder
    (None: such episodes are dropped by `one_stream`). Recorded ids are never re-tokenized."""


def load_data_config(path: str | Path | None, overrides: list[str]) -> DataConfig:
    """The data config of a YAML file (or the defaults), with `a.b=c` overrides."""
    if path is None:
        from envs.core.config import apply_override

        data: dict[str, Any] = {}
        for item in overrides:
            apply_override(data, item)
        return validate(DataConfig, data, "<--set>", "data config")
    return load_yaml(DataConfig, path, overrides, None, "data config")


def pass_rates(episodes: list[SourceEpisode]) -> dict[str, tuple[float, int]]:
    """task id -> (resolved share of its attempts, attempts), infra-failed attempts excluded."""
    by_task: dict[str, list[bool]] = defaultdict(list)
    for e in episodes:
        if e.status not in ERROR_STATUSES:
            by_task[e.task_id].append(e.status == "resolved")
    return {t: (sum(v) / len(v), len(v)) for t, v in by_task.items()}


def _row(
    e: SourceEpisode, ids: list[int], mask: list[int], how: str, rates: dict[str, tuple[float, int]]
) -> dict[str, Any]:
    rate, n = rates.get(e.task_id, (0.0, 0))
    return {
        "messages": conversation(e.record),
        "input_ids": ids,
        "loss_mask": mask,
        "task_id": e.task_id,
        "suite": e.suite,
        "status": e.status,
        "reward": float(e.reward),
        "attempt": e.attempt,
        "turns": policy_turns(e),
        "tokens": len(ids),
        "policy_tokens": int(sum(mask)),
        "teacher": e.teacher,
        "pass_rate": rate,
        "difficulty": 1.0 - rate,
        "task_attempts": n,
        "actions": [c.action for c in e.record.chunks],
        "instruction": e.record.instruction,
        "tokenization": how,
        "source": e.source,
    }


def build_rows(
    episodes: list[SourceEpisode], cfg: DataConfig
) -> tuple[list[dict[str, Any]], Summary]:
    """Filter `episodes` and turn the kept ones into dataset rows; the summary counts drops."""
    summary = Summary(len(episodes))
    rates = pass_rates(episodes)
    kept = filter_episodes(episodes, cfg.filters, summary)
    policy = replay_policy(cfg.tokenizer) if cfg.tokenizer else None
    streams: dict[int, tuple[list[int], list[int], str]] = {}
    for i, e in enumerate(kept):
        record, how = policy_chunks(e.record), "recorded"
        if not has_ids(record) and policy is not None:
            record, how = tokenize(record, policy), f"replayed:{cfg.tokenizer}"
        out = stream(record)
        if out is not None:
            streams[i] = (*out, how)
    kept_idx = [i for i in range(len(kept)) if i in streams]
    summary.rows.append(_counted("one_stream", len(kept), len(kept_idx)))
    f = cfg.filters
    final = [
        i
        for i in kept_idx
        if f.min_tokens <= len(streams[i][0])
        and (f.max_tokens is None or len(streams[i][0]) <= f.max_tokens)
    ]
    summary.rows.append(_counted("tokens", len(kept_idx), len(final)))
    rows = [_row(kept[i], *streams[i], rates=rates) for i in final]
    return rows, summary


def _counted(name: str, seen: int, kept: int) -> FilterRow:
    return FilterRow(name, seen, seen - kept)


def build_dataset(paths: list[Path], out: Path, cfg: DataConfig) -> Summary:
    """Read `paths`, filter, write the dataset folder `out` (see the module doc)."""
    datasets.disable_progress_bars()  # the CLI prints its own summary
    episodes = read_sources(paths)
    if not episodes:
        raise ConfigError(f"no finished episode found in {', '.join(map(str, paths))}")
    rows, summary = build_rows(episodes, cfg)
    out.mkdir(parents=True, exist_ok=True)
    if rows:
        ds = datasets.Dataset.from_list(rows, features=FEATURES)
    else:
        ds = datasets.Dataset.from_dict({k: [] for k in FEATURES}, features=FEATURES)
    ds.save_to_disk(str(out / "arrow"))
    with open(out / "data.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out / "summary.json").write_text(json.dumps(summary.as_json(), indent=1))
    (out / "summary.md").write_text(summary.table() + "\n")
    (out / "build.json").write_text(
        json.dumps({"config": cfg.model_dump(), "sources": [str(p) for p in paths]}, indent=1)
    )
    return summary


def load_sft_dataset(path: str | Path) -> datasets.Dataset:
    """The dataset `ale data build` wrote to `path`."""
    arrow = Path(path) / "arrow"
    if not arrow.is_dir():
        raise ConfigError(f"{path} is not a dataset folder of `ale data build` (no arrow/ in it)")
    return datasets.load_from_disk(str(arrow))
