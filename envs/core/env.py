"""`ChunkEnv`: a Gymnasium env whose step is one think-act-observe chunk in a real sandbox."""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, SupportsFloat

import gymnasium

from envs.core.actions import ACTION_FORMATS, ActionFormat, FormatError, format_help, parse_action
from envs.core.editor import Editor
from envs.core.errors import EnvError
from envs.core.spaces import UnicodeText
from envs.core.suites import resolve_suite
from envs.core.task import Grade, Task, TaskSuite
from envs.core.tools import DEFAULT_TOOLS, TOOL_SCHEMAS, ToolOutcome, run_tool
from envs.rock import CommandKilledSandbox, Sandbox, SandboxDead, SandboxError, SandboxSpec
from envs.rock.factory import create_sandbox
from envs.rock.policy import apply_policy_block, permissions
from envs.rock.shell import OutputCapture


@dataclass(frozen=True)
class EnvLimits:
    """Episode limits. Times in seconds, sizes in bytes of UTF-8 text."""

    max_turns: int = 50
    max_wall_s: float = 3600.0
    max_observation_bytes: int = 16_000
    command_timeout_s: float = 180.0
    grade_on_truncation: bool = True


def cap_text(text: str, limit: int) -> tuple[str, bool]:
    """Keep head and tail of `text` within `limit` bytes, marking the cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text, False
    cap = OutputCapture(limit)
    cap.add(data)
    raw, _ = cap.result()
    return raw.decode("utf-8", errors="replace"), True


class ChunkEnv(gymnasium.Env[str, str]):
    """A software-engineering task in a sandbox; one `step` is one agent turn.

    ## Description
    `reset` starts a sandbox for a task (SWE-bench instance, Terminal-Bench or Harbor task) and
    returns the task statement. Each `step(action)` parses the agent's whole turn (reasoning
    plus one tool call) in `action_format`, runs the tool, and returns what it printed.

    ## Observation / Action
    Text (`UnicodeText`). Actions: one call of `bash`, `str_replace_editor` or `submit` in the
    format `bash_block`, `xml` or `json` (see `envs.core.actions`); the JSON schemas of the
    tools are in `info["tools"]`. A malformed action is a normal step whose observation says
    the accepted format (`info["format_error"]`). The reset `info` also says what the sandbox may do
    (`info["permissions"]`: network, paths and resources, `envs.rock.policy.permissions`).
    Starting the next task's sandbox ahead of time is the env workers' job
    (`rl.workers.EnvWorker.prefetch`, a spare env per slot), not this env's.

    ## Reward
    0 until the episode ends; then the task's grade (SWE-bench: 1 iff all FAIL_TO_PASS and
    PASS_TO_PASS tests pass; Terminal-Bench: tests pass; Harbor: the reward file), with the
    per-test breakdown in `info["grade"]` and the grading's seconds in `info["grade_s"]`.

    ## Episode End
    `terminated` on `submit`; `truncated` at `max_turns`, at `max_wall_s` (or the task's own
    agent time limit, `metadata["agent_timeout_s"]`, when shorter), or on an
    infrastructure failure (`info["infra_error"]`, `info["sandbox_lost"] == "infra"` when the
    sandbox died of it), graded when `grade_on_truncation`. A sandbox that dies while running
    the agent's command (`CommandKilledSandbox`) is the agent's failure: `terminated`, reward 0,
    `info["sandbox_lost"] == "agent"`, never `infra_error` (RL keeps it, bench never retries it).

    ## Arguments
    `suite` (a `TaskSuite` or a registered suite name), `dataset`, `split`, `task_ids`,
    `backend` ("docker", "local", "auto"), `action_format`, `tools`, `sandbox_policy` (a
    `policy:` block applied over every task's own sandbox policy, `envs.rock.policy`), limits
    (see `EnvLimits`).

    ## Version History
    * v0: initial release.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        suite: TaskSuite | str = "swe-mini",
        dataset: str | None = None,
        split: str = "test",
        task_ids: list[str] | None = None,
        backend: str = "auto",
        action_format: ActionFormat = "xml",
        tools: tuple[str, ...] | list[str] = DEFAULT_TOOLS,
        render_mode: str | None = None,
        sandbox_policy: Mapping[str, Any] | None = None,
        **limits: Any,
    ) -> None:
        if action_format not in ACTION_FORMATS:
            raise EnvError(f"action_format {action_format!r}: choose one of {ACTION_FORMATS}")
        unknown = [t for t in tools if t not in TOOL_SCHEMAS]
        if unknown:
            raise EnvError(f"unknown tools {unknown}; available: {list(TOOL_SCHEMAS)}")
        self.suite = resolve_suite(suite, dataset=dataset, split=split, task_ids=task_ids)
        self.task_ids = list(task_ids or self.suite.task_ids())
        if not self.task_ids:
            raise EnvError(f"suite {self.suite.name!r} has no tasks")
        self.backend = backend
        self.sandbox_policy = dict(sandbox_policy or {})
        apply_policy_block(SandboxSpec(), self.sandbox_policy)  # a bad block fails here
        self.action_format: ActionFormat = action_format
        self.tools = tuple(tools) if action_format != "bash_block" else ("bash", "submit")
        self.limits = EnvLimits(**limits)
        self.render_mode = render_mode
        self.observation_space = UnicodeText()
        self.action_space = UnicodeText()
        self.task: Task | None = None
        self.sandbox: Sandbox | None = None
        self.editor: Editor | None = None
        self._chunk = 0
        self._started = 0.0
        self._wall_s = self.limits.max_wall_s
        self._done = True
        self._imaged: set[str] = set()
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ale-env")
        self._last_render = ""

    # -- preparing tasks ---------------------------------------------------------------
    def _prepare(self, task_id: str) -> tuple[Task, Sandbox]:
        """Load `task_id`, start its sandbox and prepare the task in it."""
        task = self.suite.load(task_id)
        if task_id not in self._imaged:
            task.ensure_image(self.backend)
            self._imaged.add(task_id)
        spec = apply_policy_block(task.sandbox_spec(), self.sandbox_policy)
        sandbox = create_sandbox(spec, self.backend)
        try:
            task.prepare(sandbox)
        except BaseException:
            sandbox.close()
            raise
        return task, sandbox

    # -- Gymnasium API -----------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        self._close_sandbox()
        task_id = (
            options.get("task_id")
            or self.task_ids[int(self.np_random.integers(len(self.task_ids)))]
        )
        self.task, self.sandbox = self._prepare(str(task_id))
        self.editor = Editor(self.sandbox, self.task.workdir)
        self._chunk, self._started, self._done = 0, time.monotonic(), False
        # the task's own agent time limit (Harbor's agent.timeout_sec, max_agent_timeout_sec)
        task_limit = float(self.task.metadata.get("agent_timeout_s") or float("inf"))
        self._wall_s = min(self.limits.max_wall_s, task_limit)
        info: dict[str, Any] = {
            "task_id": self.task.id,
            "instruction": self.task.instruction,
            "tools": [TOOL_SCHEMAS[t] for t in self.tools],
            "action_format": self.action_format,
            "format_help": format_help(self.action_format, self.tools),
            "limits": {**asdict(self.limits), "max_wall_s": self._wall_s},
            "workdir": self.task.workdir,
            "sandbox_id": self.sandbox.id,
            "metadata": self.task.metadata,
            "permissions": permissions(self.sandbox.spec),
        }
        replay = options.get("replay") or []
        if replay:
            info["replayed"] = self._replay(list(replay))
        self._last_render = self.task.instruction
        return self.task.instruction, info

    def _replay(self, actions: list[str]) -> list[dict[str, Any]]:
        """Run recorded actions (no grading, no submit) and hand control at the next chunk."""
        steps = []
        for action in actions:
            obs, _, term, trunc, info = self._step(action, replaying=True)
            steps.append({"action": action, "observation": obs, "exit_code": info["exit_code"]})
            if term or trunc:
                raise EnvError(
                    f"replay ended the episode at chunk {info['chunk_index']}: "
                    "a replay prefix must not submit or hit a limit"
                )
        return steps

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        return self._step(action, replaying=False)

    def _step(
        self, action: str, replaying: bool
    ) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._done or self.sandbox is None or self.task is None or self.editor is None:
            return (
                "The episode is over: call reset().",
                0.0,
                True,
                False,
                {"infra_error": False, "chunk_index": self._chunk},
            )
        self._chunk += 1
        t0 = time.monotonic()
        info: dict[str, Any] = {
            "chunk_index": self._chunk,
            "tool": None,
            "exit_code": None,
            "sandbox_id": self.sandbox.id,
            "infra_error": False,
            "format_error": False,
            "output_truncated": False,
        }
        outcome: ToolOutcome | None = None
        try:
            call = parse_action(action, self.action_format, self.tools)
            info["tool"] = call.name
            if replaying and call.name == "submit":
                raise EnvError("a replay prefix must not contain submit")
            left = self._wall_s - (time.monotonic() - self._started)
            timeout = max(1.0, min(self.limits.command_timeout_s, left))
            outcome = run_tool(call, self.sandbox, self.editor, timeout)
            observation = outcome.observation
            info.update(
                exit_code=outcome.exit_code,
                timed_out=outcome.timed_out,
                output_truncated=outcome.output_truncated,
            )
        except FormatError as exc:
            info["format_error"] = True
            observation = f"Error: {exc}\n{format_help(self.action_format, self.tools)}"
        except CommandKilledSandbox as exc:  # the agent's command ended its own sandbox
            info["sandbox_lost"] = "agent"
            observation = (
                f"[the sandbox died while running your command: {exc}. The episode ends here "
                "with reward 0.]"
            )
        except SandboxError as exc:
            info["infra_error"] = True
            if isinstance(exc, SandboxDead):
                info["sandbox_lost"] = "infra"
            observation = f"[infrastructure error: {exc}]"
        observation, cut = cap_text(observation, self.limits.max_observation_bytes)
        info["output_truncated"] = info["output_truncated"] or cut
        info["duration_s"] = time.monotonic() - t0
        lost_by_agent = info.get("sandbox_lost") == "agent"
        terminated = bool(outcome and outcome.submitted) or lost_by_agent
        truncated = (
            bool(info["infra_error"])
            or self._chunk >= self.limits.max_turns
            or (time.monotonic() - self._started >= self._wall_s)
        )
        if truncated and not terminated and not info["infra_error"]:
            info["truncation"] = (
                "max_turns" if self._chunk >= self.limits.max_turns else "max_wall_s"
            )
        reward = 0.0
        if lost_by_agent:  # nothing left to grade: an ordinary failed episode, not infra
            self._done = True
            info["grade"] = {
                "reward": 0.0,
                "resolved": False,
                "tests": {},
                "error": None,
                "report": {"sandbox_lost": "agent"},
            }
        elif terminated or (truncated and not replaying):
            self._done = True
            if terminated or (self.limits.grade_on_truncation and not info["infra_error"]):
                tg = time.monotonic()
                grade = self._grade()
                info["grade_s"] = time.monotonic() - tg
                reward = grade.reward
                info["grade"] = {
                    "reward": grade.reward,
                    "resolved": grade.resolved,
                    "tests": grade.tests,
                    "error": grade.error,
                    "error_kind": grade.error_kind if grade.error is not None else None,
                    "report": grade.report,
                }
                info["infra_error"] = info["infra_error"] or grade.infra_failed
                info["task_error"] = grade.task_failed
        self._last_render = observation
        return observation, reward, terminated, truncated and not terminated, info

    def _grade(self) -> Grade:
        assert self.task is not None and self.sandbox is not None
        try:
            return self.task.grade(self.sandbox)
        except SandboxError as exc:
            return Grade(reward=0.0, resolved=False, error=f"grading failed: {exc}")

    def render(self) -> str | None:
        return self._last_render if self.render_mode == "ansi" else None

    def _close_sandbox(self) -> None:
        if self.sandbox is not None:
            sandbox, self.sandbox = self.sandbox, None
            self._executor.submit(sandbox.close)

    def close(self) -> None:
        """Close the sandbox (and wait for earlier ones closing in the background). Safe to call
        twice."""
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
        self._executor.shutdown(wait=True)
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ale-env")
        self._done = True
