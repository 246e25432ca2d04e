"""The one-round-trip grading output of Terminal-Bench / Harbor tasks (`_parse_fold`), no Docker."""

from __future__ import annotations

import pytest

from envs.rock.factory import create_sandbox
from envs.suites.terminal_bench import task as task_module
from envs.suites.terminal_bench import tb_mini
from envs.suites.terminal_bench.task import _MISSING, FOLD_FILE_BYTES, _parse_fold

NONCE = "abc123"


def block(path: str, body: str, size: int | None = None, nonce: str = NONCE) -> str:
    size = len(body.encode()) if size is None else size
    return f"\n{nonce} size {size} {path}\n{body}\n{nonce} end\n"


def test_files_come_back_exactly_and_absent_files_are_none() -> None:
    out = (
        "noise"
        + block("/logs/verifier/reward.txt", "1\n")
        + block("/logs/a.txt", "")
        + f"\n{NONCE} rc 0\n"
    )
    texts = _parse_fold(out, NONCE)
    assert texts == {"/logs/verifier/reward.txt": "1\n", "/logs/a.txt": ""}
    assert texts.get("/logs/verifier/reward.json") is None  # not printed: the file was absent


def test_forged_markers_with_another_nonce_are_content_not_files() -> None:
    forged = block("/logs/verifier/reward.txt", "1", nonce="guess")
    out = block("/logs/tests/test-output.txt", forged) + f"\n{NONCE} rc 1\n"
    texts = _parse_fold(out, NONCE)
    assert texts == {"/logs/tests/test-output.txt": forged}


def test_cut_or_oversized_files_are_missing_and_no_rc_line_is_none() -> None:
    cut = f"\n{NONCE} size 999 /big.txt\nonly part of it" + f"\n{NONCE} end\n" + f"\n{NONCE} rc 0\n"
    assert _parse_fold(cut, NONCE) == {"/big.txt": _MISSING}
    big = "x" * 10
    assert _parse_fold(
        block("/huge", big, size=FOLD_FILE_BYTES + 1) + f"\n{NONCE} rc 0\n", NONCE
    ) == {"/huge": _MISSING}
    assert _parse_fold(block("/logs/verifier/reward.txt", "1"), NONCE) is None  # timed out / died


@pytest.mark.docker
def test_big_tests_and_big_logs_take_the_fallback_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests over FOLD_TAR_BYTES go by `write`; files over FOLD_FILE_BYTES are read in full."""
    from tests.suites.test_terminal_bench_suite import _docker_ready

    reason = _docker_ready()
    if reason:
        pytest.skip(reason)
    monkeypatch.setattr(task_module, "FOLD_TAR_BYTES", 0)
    monkeypatch.setattr(task_module, "FOLD_FILE_BYTES", 8)
    suite = tb_mini(task_ids=["semver-range-matcher", "log-retention-script"])
    for task_id in suite.task_ids():
        task = suite.load(task_id)
        task.ensure_image("docker")
        sb = create_sandbox(task.sandbox_spec(), "docker")
        try:
            task.prepare(sb)
            task.apply_oracle(sb)
            grade = task.grade(sb)
            assert grade.reward == 1.0 and grade.error is None, grade.log[-2000:]
            assert len(grade.log) > 8 and grade.tests, task_id  # the whole log, parsed
            assert sb.run("ls /var/tmp").output.strip() == "", "the tests' archive was left behind"
        finally:
            sb.close()
