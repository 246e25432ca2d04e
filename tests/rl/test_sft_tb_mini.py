"""The seed's data pipeline on a real suite, end to end in docker: `ale bench run --suite
tb-mini --policy oracle --attempts 2` -> `ale data build --tokenizer tiny` -> `ale sft` with the
agents' tiny model for a few steps (whatever it learns: the pipeline runs)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from rl.data.build import load_sft_dataset
from rl.records import read_jsonl
from tests.bench.clihelp import ale_here, our_sandboxes
from tests.bench.test_bench_suites import TB_FEW, _need
from tests.rl.test_train_e2e import _docker_ok

pytestmark = pytest.mark.docker


@pytest.mark.timeout(1800)
def test_tb_mini_oracle_runs_to_ale_sft_with_the_tiny_model(tmp_path: Path) -> None:
    _need("tb-mini")
    reason = _docker_ok()
    if reason:
        pytest.skip(reason)
    bench = tmp_path / "bench"
    ale_here(
        "bench",
        "run",
        "--suite",
        "tb-mini",
        "--policy",
        "oracle",
        "--attempts",
        "2",
        "--tasks",
        ",".join(TB_FEW),
        "--run-dir",
        str(bench),
        "--workers",
        "2",
        "--backend",
        "docker",
        "--no-progress",
    )
    assert our_sandboxes(bench) == []
    data = tmp_path / "data"
    out = ale_here("data", "build", str(bench), "--out", str(data), "--tokenizer", "tiny")
    assert "| errors | 4 |" in out  # 2 tasks x 2 attempts read
    rows = list(load_sft_dataset(data))
    # the oracle resolves both tasks (dedup drops an attempt only when its actions are identical)
    assert sorted({r["task_id"] for r in rows}) == sorted(TB_FEW)
    assert all(r["tokenization"] == "replayed:tiny" and sum(r["loss_mask"]) for r in rows)
    cfg = {
        "run": {"out_dir": str(tmp_path / "sft"), "threads": 2, "checkpoint_every": 0},
        "task": {
            "kind": "sandbox",
            "env_id": "ale/TBMini-v0",
            "backend": "docker",
            "agent": "terminal",
            "task_ids": TB_FEW,
        },
        "model": {"kind": "hf_path"},
        "engine": {"kind": "hf"},
        "data": {"path": str(data)},
        "optim": {"lr": 1e-3, "batch_size": 2, "micro_batch": 1},
        "stage1": {"steps": 2},
        "stage2": {"steps": 2},
        "eval": {"every": 0},
    }
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump(cfg))
    ale_here("sft", str(path), "--quiet")
    metrics = read_jsonl(tmp_path / "sft" / "metrics.jsonl")
    assert [m["stage"] for m in metrics] == [1, 1, 2, 2]
    assert all(math.isfinite(m["loss"]) and m["policy_tokens"] > 0 for m in metrics)
    assert (tmp_path / "sft" / "checkpoints" / "LATEST").exists()
