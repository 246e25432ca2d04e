"""`ale data build`: crafted trajectories through every filter, the summary counts, the
decontamination rules, bench run folders, the dataset schema and replay tokenization."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.trajectory import ChunkRecord, EpisodeRecord, TrajectoryWriter
from rl.data.build import DataConfig, build_dataset, load_sft_dataset
from rl.data.filters import FilterConfig, ngrams
from tests.bench.clihelp import ale_here

HELD_OUT = "please repair the broken parser of the config loader in module settings"


def episode(
    task: str,
    actions: list[str],
    reward: float,
    *,
    infra: bool = False,
    fmt: bool = False,
    ids: bool = True,
    statement: str | None = None,
    obs_len: int = 1,
) -> EpisodeRecord:
    """An append-only episode: prompt [1, 3], then per chunk response [10+k, 2] and an
    observation of `obs_len` tokens."""
    stream = [1, 3]
    chunks = []
    history: list[dict[str, Any]] = [{"role": "user", "content": statement or f"fix {task}"}]
    for k, action in enumerate(actions):
        resp = [10 + k, 2]
        chunks.append(
            ChunkRecord(
                index=k,
                messages=list(history),
                response=action,
                prompt_ids=list(stream) if ids else None,
                response_ids=resp if ids else None,
                logprobs=[-0.1, -0.2] if ids else None,
                action=action,
                observation=f"out {k}",
                reward=reward if k == len(actions) - 1 else 0.0,
                format_error=fmt and k == 0,
                infra_error=infra and k == len(actions) - 1,
            )
        )
        history += [
            {"role": "assistant", "content": action},
            {"role": "user", "content": f"out {k}"},
        ]
        stream = stream + resp + [4] + [50 + k] * obs_len
    return EpisodeRecord(
        task, "teacher", chunks, reward=reward, instruction=statement or f"fix {task}"
    )


def write(path: Path, episodes: list[EpisodeRecord]) -> Path:
    with TrajectoryWriter(path) as w:
        for e in episodes:
            w.write_header(e)
            for c in e.chunks:
                w.write_chunk(c)
            w.write_end(e)
    return path


CRAFTED = [
    episode("t-good", ["a", "b"], 1.0),  # kept
    episode("t-infra", ["a", "b"], 0.0, infra=True),  # errors
    episode("t-fail", ["a", "x"], 0.0),  # resolved
    episode("t-fmt", ["a", "b"], 1.0, fmt=True),  # format
    episode("t-long", ["a", "b", "c", "d", "e"], 1.0),  # turns (max 4)
    episode("heldout-1", ["a", "b"], 1.0),  # decontam_ids
    episode("t-leak", ["a", "b"], 1.0, statement=HELD_OUT),  # decontam_ngram
    episode("t-good", ["a", "b"], 1.0),  # dedup (same task, same actions)
    episode("t-good", ["c", "b"], 1.0),  # kept (other actions)
    episode("t-text", ["a", "b"], 1.0, ids=False),  # one_stream (no ids, no tokenizer)
    episode("t-big", ["a", "b"], 1.0, obs_len=40),  # tokens (47 > max 40)
]

FILTERS = FilterConfig(max_turns=4, max_tokens=40, exclude_ids=["heldout-1"])


def test_every_filter_counts_its_drop(tmp_path: Path) -> None:
    held = tmp_path / "held.jsonl"
    held.write_text(json.dumps({"instance_id": "x", "problem_statement": HELD_OUT}) + "\n")
    src = write(tmp_path / "run.jsonl", CRAFTED)
    cfg = DataConfig(filters=FILTERS.model_copy(update={"heldout_file": str(held)}))
    summary = build_dataset([src], tmp_path / "ds", cfg)
    assert summary.total == 11
    assert summary.counts() == {
        "errors": 1,
        "resolved": 1,
        "format": 1,
        "turns": 1,
        "decontam_ids": 1,
        "decontam_ngram": 1,
        "dedup": 1,
        "one_stream": 1,
        "tokens": 1,
    }
    assert summary.kept == 2
    ds = load_sft_dataset(tmp_path / "ds")
    assert sorted((r["task_id"], tuple(r["actions"])) for r in ds) == [
        ("t-good", ("a", "b")),
        ("t-good", ("c", "b")),
    ]
    saved = json.loads((tmp_path / "ds" / "summary.json").read_text())
    assert [f["dropped"] for f in saved["filters"]] == [1] * 9 and saved["kept"] == 2
    lines = (tmp_path / "ds" / "data.jsonl").read_text().splitlines()
    assert [json.loads(x)["task_id"] for x in lines] == [r["task_id"] for r in ds]


def test_rows_hold_ids_mask_messages_and_metadata(tmp_path: Path) -> None:
    src = write(tmp_path / "run.jsonl", [episode("t-good", ["a", "b"], 1.0)])
    build_dataset([src], tmp_path / "ds", DataConfig())
    [row] = list(load_sft_dataset(tmp_path / "ds"))
    # prompt [1, 3]; action [10, 2]; obs [4, 50]; action [11, 2]
    assert row["input_ids"] == [1, 3, 10, 2, 4, 50, 11, 2]
    assert row["loss_mask"] == [0, 0, 1, 1, 0, 0, 1, 1]
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "user", "assistant"]
    assert row["messages"][-1]["content"] == "b"
    assert (row["turns"], row["tokens"], row["policy_tokens"]) == (2, 8, 4)
    assert row["teacher"] == "teacher" and row["tokenization"] == "recorded"


def test_filters_off_keep_failures_and_decontam_by_ngrams(tmp_path: Path) -> None:
    src = write(tmp_path / "run.jsonl", CRAFTED)
    loose = FilterConfig(
        drop_infra_errors=False,
        resolved_only=False,
        drop_format_errors=False,
        dedup=False,
        heldout_file=None,
    )
    summary = build_dataset([src], tmp_path / "ds", DataConfig(filters=loose))
    assert summary.counts() == {"turns": 0, "one_stream": 1, "tokens": 0}
    # a statement sharing one 8-gram with a held-out one is dropped, a 7-word overlap is not
    assert len(ngrams(HELD_OUT, 8)) == len(HELD_OUT.split()) - 7
    near = "x " + " ".join(HELD_OUT.split()[:8])
    far = "x " + " ".join(HELD_OUT.split()[:7])
    held = tmp_path / "held.txt"
    held.write_text(HELD_OUT + "\n\nanother statement\n")
    eps = [episode("n1", ["a"], 1.0, statement=near), episode("n2", ["a"], 1.0, statement=far)]
    summary = build_dataset(
        [write(tmp_path / "n.jsonl", eps)],
        tmp_path / "ds2",
        DataConfig(filters=FilterConfig(heldout_file=str(held))),
    )
    assert summary.counts()["decontam_ngram"] == 1
    assert [r["task_id"] for r in load_sft_dataset(tmp_path / "ds2")] == ["n2"]


def test_bench_run_folder_statuses_and_pass_rate(tmp_path: Path) -> None:
    run = tmp_path / "bench"
    (run / "trajectories").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"suite": "s-mini", "policy": "oracle"}))
    verdicts = [
        ("t1", 0, "resolved", 1.0),
        ("t1", 1, "unresolved", 0.0),
        ("t1", 2, "infra_error", 0.0),  # not an attempt at the task: no effect on pass rate
        ("t2", 0, "resolved", 1.0),
    ]
    lines = []
    for task, attempt, status, reward in verdicts:
        write(
            run / "trajectories" / f"{task}__a{attempt}.jsonl",
            [episode(task, ["a", f"b{attempt}"], reward)],
        )
        lines.append(
            json.dumps({"task_id": task, "attempt": attempt, "status": status, "reward": reward})
        )
    (run / "results.jsonl").write_text("\n".join(lines) + "\n{torn")
    out = ale_here("data", "build", str(run), "--out", str(tmp_path / "ds"))
    assert "| errors | 4 | 1 | 3 |" in out and "| resolved | 3 | 1 | 2 |" in out
    rows = {r["task_id"]: r for r in load_sft_dataset(tmp_path / "ds")}
    assert rows["t1"]["pass_rate"] == 0.5 and rows["t1"]["difficulty"] == 0.5
    assert rows["t1"]["task_attempts"] == 2 and rows["t2"]["pass_rate"] == 1.0
    assert rows["t1"]["suite"] == "s-mini" and rows["t1"]["teacher"] == "oracle"
    assert rows["t1"]["status"] == "resolved"


def test_text_episodes_are_tokenized_by_replay(tmp_path: Path) -> None:
    """Text-only toy turns get the ids `ToyPolicy` would have fed and produced."""
    from envs.toy import VOCAB
    from rl.toy.model import WordTokenizer

    tok = WordTokenizer(VOCAB)
    ep = episode("alpha-main", ["cd alpha", "test"], 1.0, ids=False, statement="fix repo alpha")
    src = write(tmp_path / "run.jsonl", [ep])
    summary = build_dataset([src], tmp_path / "ds", DataConfig(tokenizer="toy"))
    assert summary.kept == 1
    [row] = list(load_sft_dataset(tmp_path / "ds"))
    expect = (
        [tok.bos, *tok.encode("fix repo alpha"), tok.act]
        + [*tok.encode("cd alpha"), tok.eos]
        + [tok.obs, *tok.encode("out 0"), tok.act]
        + [*tok.encode("test"), tok.eos]
    )
    assert row["input_ids"] == expect
    assert [i for i, m in zip(row["input_ids"], row["loss_mask"], strict=True) if m] == [
        *tok.encode("cd alpha"),
        tok.eos,
        *tok.encode("test"),
        tok.eos,
    ]
    assert row["tokenization"] == "replayed:toy"


def test_bad_source_is_a_one_line_error(tmp_path: Path) -> None:
    from bench.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["data", "build", str(tmp_path / "nope"), "--out", str(tmp_path / "ds")])
    assert exc.value.code == 2
