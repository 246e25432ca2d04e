"""Every performance benchmark's baseline and ours do the same work: the same commands and the
same number of operations, in alternating order with >= 2 repeats (`bench.perf.method`).
The benchmarks' own work functions run with tiny counts; nothing here is timed or asserted
about time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.perf import egress, method, packing, train
from bench.perf.method import OpCount, Samples, alternate, check_repeats, schedule


# -- the shared rule ----------------------------------------------------------------------
def test_abba_and_shuffled_rounds_alternate() -> None:
    assert schedule(["a", "b"], 4) == [["a", "b"], ["b", "a"], ["a", "b"], ["b", "a"]]
    assert schedule(["a", "b", "c"], 2) == [["a", "b", "c"], ["c", "b", "a"]]
    shuffled = schedule(["a", "b", "c"], 6, "shuffled", seed=1)
    assert all(sorted(r) == ["a", "b", "c"] for r in shuffled)
    assert len({tuple(r) for r in shuffled}) > 1  # not one fixed order
    assert shuffled == schedule(["a", "b", "c"], 6, "shuffled", seed=1)  # seeded
    seen: list[str] = []

    def side(name: str, value: int) -> int:
        seen.append(name)
        return value

    got = alternate({"a": lambda: side("a", 1), "b": lambda: side("b", 2)}, 2)
    assert seen == ["a", "b", "b", "a"] and got == {"a": [1, 1], "b": [2, 2]}


def test_fewer_than_two_repeats_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_repeats(2) == 2
    with pytest.raises(SystemExit) as exc:
        check_repeats(1)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ">= 2 repeats" in err


def test_method_line_names_order_repeats_and_load() -> None:
    line = method.Method(("ours", "raw"), 3, "abba", "one step").line()
    assert line.startswith("method: ABBA over ours / raw, 3 repeats, each round one step;")
    assert "medians (min-max)" in line and "cores" in line and "load " in line
    assert "shuffled rounds" in method.Method(("a", "b"), 2, "shuffled").line()
    assert Samples([3.0, 1.0, 2.0]).text() == "2.00 (1.00-3.00)"


# -- CPU benchmarks -----------------------------------------------------------------------
def test_packing_layouts_train_the_same_tokens_with_the_same_steps() -> None:
    from rl.toy.model import TinyLM

    args = packing.PackingArgs(trajectories=2)
    sides = packing.layouts(args, 4, 40)
    length = args.prompt_tokens + 4 * (args.action_tokens + args.obs_tokens)
    times, ops = packing.measure(TinyLM(40, 16, 1, 4, max_len=length), sides, 2)
    packed, rows = ops["packed"].as_dict(), ops["per-chunk"].as_dict()
    assert packed["optimizer step"] == rows["optimizer step"] == 2
    assert packed["policy tokens"] == rows["policy tokens"] > 0  # what the loss trains
    assert (packed["forward"], rows["forward"]) == (2, 2 * 4)  # the layouts' one difference
    assert len(times["packed"].values) == len(times["per-chunk"].values) == 2


def test_train_modes_get_the_same_budget(tmp_path: Path) -> None:
    for env in ("toy", "swe"):
        args = train.BenchArgs(env=env)
        seq = train.mode_config(args, "sequential", tmp_path)
        col = train.mode_config(args, "colocated", tmp_path)
        for cfg in (seq, col):
            cfg["scheduler"].pop("mode")
            cfg["run"].pop("out_dir")
        assert seq == col


def test_egress_cycles_run_both_sides_equally() -> None:
    calls: list[str] = []

    def side(name: str) -> list[float]:
        calls.append(name)
        return [1.0]

    cycles = egress.abba(lambda: side("A"), lambda: side("B"), repeats=2)
    assert calls == ["A", "B", "B", "A"] * 2
    assert all(len(a) == len(b) == 2 for a, b in cycles)


# -- docker benchmarks --------------------------------------------------------------------
@pytest.mark.docker
def test_sandbox_cold_create_times_the_same_lifecycle_on_both_sides() -> None:
    from bench.perf.sandbox import bench_cold

    stats, ops = bench_cold("docker", 2)
    want = {"create": 2, "remove": 2, "run:true": 2}  # removal inside the clock on both
    assert ops["ours"].as_dict() == ops["raw docker run --rm"].as_dict() == want
    assert all(len(s.values) == 2 for s in stats.values())


@pytest.mark.docker
def test_step_table_runs_the_same_commands_on_every_peer(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.perf import sandbox
    from bench.perf.peers import PeerSkipped

    def no_swerex(image: str) -> None:
        raise PeerSkipped("no package index here")

    monkeypatch.setattr(sandbox, "SweRexPeer", no_swerex)
    monkeypatch.setattr(sandbox.SweRexPeer, "name", "SWE-ReX", raising=False)
    table = sandbox.bench_steps("docker", block=1, repeats=2)
    assert set(table.ops) == {sandbox.OURS, "raw docker exec (SDK)", sandbox.MiniSweExec.name}
    want = {f"run:{cmd}": 2 for cmd in sandbox.COMMANDS.values()}
    assert all(ops.as_dict() == want for ops in table.ops.values())
    assert list(table.skipped.values()) == ["no package index here"]  # marked, never dropped
    files, file_ops = sandbox.bench_files("docker", 1, 2)
    assert file_ops["ours"].as_dict() == file_ops["raw"].as_dict() == {"write+read": 2}


@pytest.mark.docker
def test_env_steps_and_grading_run_the_same_commands() -> None:
    from bench.perf import env as env_bench

    ops = {"env": OpCount(), "bare": OpCount()}
    stats = env_bench.bench_steps("docker", 2, repeats=2, ops=ops)
    assert ops["env"].as_dict() == ops["bare"].as_dict()
    assert ops["env"].as_dict() == {"run:true": 2, f"run:cat {env_bench.CAT_FILE}": 2}
    assert len(stats["env true"].values) == len(stats["bare true"].values) == 2
    grading = {"grade": OpCount(), "direct": OpCount()}
    env_bench.bench_grading(env_bench.builtin_case(), "docker", 2, ops=grading)
    assert grading["grade"].as_dict() == grading["direct"].as_dict() == {"test command": 2}


@pytest.mark.docker
@pytest.mark.slow
def test_harness_and_the_grading_floor_do_the_same_grading_work(tmp_path: Path) -> None:
    from bench.cli.run_cmds import resolve_bench_suite
    from bench.perf import harness

    suite = resolve_bench_suite("swe-mini")
    ids = suite.task_ids()[:1]
    out = harness.against_floor("swe-mini", suite, ids, 1, 2, "docker", tmp_path)
    want = {"container": 1, "eval script": 1, "git apply gold": 1, "parse": 1, "remove": 1}
    assert out["ops"]["harness"] == out["ops"]["floor"] == [want, want]
    assert out["resolved"] == {"harness": [1, 1], "floor": [1, 1]}


def test_a_peer_that_cannot_install_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from bench.perf import peers

    def fail(cmd: list[str], **kwargs: object) -> None:
        if "pip" in cmd:
            raise subprocess.CalledProcessError(
                1, cmd, stderr=b"ERROR: No matching distribution found for swe-rex\n"
            )

    monkeypatch.setattr(peers.subprocess, "run", fail)
    with pytest.raises(peers.PeerSkipped, match="No matching distribution found for swe-rex"):
        peers.swerex_venv(tmp_path / "venv")
    assert not (tmp_path / "venv" / ".ok").exists()  # tried again next time
