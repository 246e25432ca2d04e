"""Trajectory records: append-only JSONL, delta messages, torn last line, predictions."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.errors import AgentError
from agents.trajectory import (
    ChunkRecord,
    EpisodeRecord,
    TrajectoryWriter,
    load_trajectories,
    load_trajectory,
    to_prediction,
)


def _chunk(i: int, messages: list[dict[str, str]]) -> ChunkRecord:
    return ChunkRecord(
        index=i,
        messages=messages,
        response=f"r{i}",
        prompt_ids=[1, 2, i],
        response_ids=[7, i],
        logprobs=[-0.5, -1.0],
        action=f"a{i}",
        observation=f"o{i}",
    )


def _messages(n: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"m{j}"} for j in range(n)]


def test_roundtrip_with_message_deltas(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    ep = EpisodeRecord(task_id="t1", policy="p", config="swe")
    with TrajectoryWriter(p) as w:
        w.write_header(ep)
        w.write_chunk(_chunk(0, _messages(2)))
        w.write_chunk(_chunk(1, _messages(4)))
        w.write_chunk(
            _chunk(2, _messages(1) + [{"role": "user", "content": "other"}])
        )  # not a prefix
        ep.reward, ep.grade = 1.0, {"report": {"model_patch": "diff --git a b"}}
        w.write_end(ep)
    lines = p.read_text().splitlines()
    assert '"prefix_len": 2' in lines[2] and '"m0"' not in lines[2]  # stored as a delta
    rec = load_trajectory(p)
    assert rec.finished and rec.reward == 1.0
    assert [len(c.messages) for c in rec.chunks] == [2, 4, 2]
    assert rec.chunks[1].messages == _messages(4)
    assert rec.chunks[2].messages[1]["content"] == "other"
    assert rec.chunks[0].loss_mask == [0, 0, 0, 1, 1]
    assert rec.actions == ["a0", "a1", "a2"]
    assert to_prediction(rec, "m") == {
        "instance_id": "t1",
        "model_name_or_path": "m",
        "model_patch": "diff --git a b",
    }


def test_torn_last_line_is_dropped(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    w = TrajectoryWriter(p)
    w.write_header(EpisodeRecord(task_id="t", policy="p"))
    w.write_chunk(_chunk(0, _messages(2)))
    w.close()
    with p.open("a") as fh:
        fh.write('{"type": "chunk", "index": 1, "respo')  # killed mid-write
    rec = load_trajectory(p)
    assert len(rec.chunks) == 1 and not rec.finished


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text('{"type": "header", "task_id": "t", "policy": "p"}\nnot json\n{"type": "end"}\n')
    with pytest.raises(AgentError, match=":2: not a trajectory line"):
        load_trajectory(p)


def test_several_episodes_and_token_stream(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    with TrajectoryWriter(p) as w:
        for task in ("a", "b"):
            w.write_header(EpisodeRecord(task_id=task, policy="p"))
            w.write_chunk(
                ChunkRecord(index=0, prompt_ids=[1, 2], response_ids=[3], logprobs=[-0.1])
            )
            w.write_chunk(
                ChunkRecord(
                    index=1, prompt_ids=[1, 2, 3, 4], response_ids=[5, 6], logprobs=[-0.2, -0.3]
                )
            )
            w.write_end(EpisodeRecord(task_id=task, policy="p"))
    eps = load_trajectories(p)
    assert [e.task_id for e in eps] == ["a", "b"]
    ids, mask, lps = eps[0].token_stream() or ([], [], [])
    assert ids == [1, 2, 3, 4, 5, 6] and mask == [0, 0, 1, 0, 1, 1] and lps[2] == -0.1
    eps[0].chunks[1].prompt_ids = [9, 9, 9]
    assert eps[0].token_stream() is None
