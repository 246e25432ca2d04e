"""ToyShell: a tiny shell-like world where fixing a bug takes several commands in order."""

from __future__ import annotations

import copy
import string
import time
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium
from gymnasium import spaces

REPOS: tuple[str, ...] = ("alpha", "beta", "gamma", "delta")
FILES: tuple[str, ...] = ("main", "util", "core", "io")
VERBS: tuple[str, ...] = ("cd", "ls", "test", "edit", "cat")
#: Every word the env can print or accept: a word-level tokenizer over this list covers it all.
_WORDS = (
    "task",
    ":",
    "fix",
    "the",
    "failing",
    "in",
    "repo",
    "ok",
    "error",
    "no",
    "such",
    "command",
    "here",
    "file",
    "tests",
    "FAIL",
    "PASS",
    "edited",
    "infra",
    "sandbox",
    "lost",
)
VOCAB: tuple[str, ...] = (*VERBS, *REPOS, *FILES, *_WORDS)
#: All printable ASCII, whitespace included, so any text an agent writes is a valid action.
CHARSET = frozenset(string.printable)
MAX_TEXT = 512


def task_ids() -> list[str]:
    """All task ids, `"<repo>-<file>"`: the repo to enter and the file that holds the bug."""
    return [f"{repo}-{name}" for repo in REPOS for name in FILES]


def expert_actions(task_id: str) -> list[str]:
    """The shortest successful command sequence for `task_id` (K = 4 chunks)."""
    repo, name = _split(task_id)
    return [f"cd {repo}", "test", f"edit {name}", "test"]


def _split(task_id: str) -> tuple[str, str]:
    repo, _, name = task_id.partition("-")
    if repo not in REPOS or name not in FILES:
        raise ValueError(
            f"unknown task_id {task_id!r}; pick one of toy.task_ids(), e.g. 'alpha-main'"
        )
    return repo, name


@dataclass(frozen=True)
class ToySnapshot:
    """The whole state of a `ToyShellEnv` after a reset (and replay): what `restore` needs."""

    task: str
    cwd: str
    bugs: frozenset[str]
    turn: int
    last_obs: str
    info: dict[str, Any]


class ToyShellEnv(gymnasium.Env[str, str]):
    """A multi-turn shell task with a sparse final reward, small enough for a tiny LM on CPU.

    ## Description
    A repo holds one buggy file. The agent must `cd <repo>`, run `test` to learn which file
    fails, `edit <file>` to fix it, then `test` again: the passing test ends the episode.
    Editing a good file breaks it (editing it again repairs it), so guessing does not pay.

    ## Observation
    Text (printable ASCII, 0..512 chars): the task statement after `reset`, then the output
    of each command. Words are separated by single spaces (see `VOCAB`).

    ## Action
    Text: one command per step (one chunk): `cd <name>`, `ls`, `test`, `edit <file>`,
    `cat <file>`. Anything else is a normal step with an error observation.

    ## Reward
    1.0 on the step where the tests pass, 0.0 on every other step (a failure ends with 0).

    ## Episode End
    Terminated when the tests pass. Truncated after `max_turns` chunks (replayed ones count)
    or on an injected infrastructure error.

    ## Arguments
    `max_turns` (int, 8): chunk limit. `infra_error_rate` (float, 0.0): probability that a
    step fails for infrastructure reasons (`info["infra_error"]` True, episode truncated).
    `reset(options={"task_id": "alpha-main", "replay": ["cd alpha", ...]})` picks the task
    and replays actions (at most K-1; they must not end the episode) before handing control.
    `snapshot()` / `restore(snap)` save and restore the state after a reset, the toy stand-in
    for a sandbox filesystem snapshot (`rl.resampling.PrefixCache` uses them instead of replay).

    ## Info (every step)
    `chunk_index` (0-based index of the chunk just run, replayed chunks included), `tool`
    (the verb, or "none"), `exit_code`, `duration_s` (seconds), `sandbox_id` ("toy"),
    `infra_error`, `task_id`.

    ## Version History
    v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self, max_turns: int = 8, infra_error_rate: float = 0.0, render_mode: str | None = None
    ) -> None:
        if max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {max_turns}")
        if not 0.0 <= infra_error_rate <= 1.0:
            raise ValueError(f"infra_error_rate must be in [0, 1], got {infra_error_rate}")
        self.observation_space = spaces.Text(MAX_TEXT, min_length=0, charset=CHARSET)
        self.action_space = spaces.Text(MAX_TEXT, min_length=0, charset=CHARSET)
        self.max_turns = max_turns
        self.infra_error_rate = infra_error_rate
        self.render_mode = render_mode
        self._task = "alpha-main"
        self._cwd = "/"
        self._bugs: set[str] = set()
        self._turn = 0
        self._done = False
        self._last_obs = ""
        self._reset_info: dict[str, Any] = {}
        self.commands_run = 0
        """Commands executed since construction, replayed ones included (restores run none)."""

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"task_id", "replay"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; use 'task_id', 'replay'")
        task = options.get("task_id")
        if task is None:
            ids = task_ids()
            task = ids[int(self.np_random.integers(len(ids)))]
        repo, bug = _split(str(task))
        self._task, self._cwd, self._bugs = str(task), "/", {bug}
        self._turn, self._done = 0, False
        statement = f"task : fix the failing test in repo {repo}"
        self._last_obs = statement
        replayed: list[dict[str, str]] = []
        for action in options.get("replay", []):
            obs, _, terminated, truncated, info = self._run(str(action), allow_infra=False)
            if terminated or truncated:
                raise ValueError(
                    f"replay of {len(replayed) + 1} actions ends the episode; replay at most "
                    "K-1 chunks of an expert trajectory so the agent acts at least once"
                )
            replayed.append({"action": str(action), "observation": obs})
        info = {
            "task_id": self._task,
            "instruction": statement,
            "replayed": replayed,
            "chunk_index": self._turn,
            "sandbox_id": "toy",
            "max_turns": self.max_turns,
            "tools": list(VERBS),
        }
        self._reset_info = info
        return self._last_obs, info

    def snapshot(self) -> ToySnapshot:
        """The current state (call it right after `reset`, before any `step`)."""
        return ToySnapshot(
            self._task,
            self._cwd,
            frozenset(self._bugs),
            self._turn,
            self._last_obs,
            copy.deepcopy(self._reset_info),
        )

    def restore(self, snap: ToySnapshot) -> tuple[str, dict[str, Any]]:
        """Put the env back in `snap`'s state, like `reset` would have: returns (obs, info)
        with the info of the reset that took the snapshot (its `replayed` steps included)."""
        self._task, self._cwd, self._bugs = snap.task, snap.cwd, set(snap.bugs)
        self._turn, self._done, self._last_obs = snap.turn, False, snap.last_obs
        self._reset_info = copy.deepcopy(snap.info)
        return self._last_obs, copy.deepcopy(snap.info)

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._done:
            raise RuntimeError("episode is over: call reset() before step()")
        obs, reward, terminated, truncated, info = self._run(action, allow_infra=True)
        self._done = terminated or truncated
        return obs, reward, terminated, truncated, info

    def _run(
        self, action: str, *, allow_infra: bool
    ) -> tuple[str, float, bool, bool, dict[str, Any]]:
        start = time.perf_counter()
        infra = (
            allow_infra
            and self.infra_error_rate > 0
            and (float(self.np_random.random()) < self.infra_error_rate)
        )
        words = action.split()
        verb = words[0] if words and words[0] in VERBS else "none"
        if infra:
            obs, code, success = "error : infra sandbox lost", -1, False
        else:
            obs, code, success = self._execute(words)
        index = self._turn
        self._turn += 1
        self.commands_run += 1
        self._last_obs = obs
        truncated = not success and (infra or self._turn >= self.max_turns)
        info = {
            "chunk_index": index,
            "tool": verb,
            "exit_code": code,
            "task_id": self._task,
            "duration_s": time.perf_counter() - start,
            "sandbox_id": "toy",
            "infra_error": infra,
        }
        return obs, (1.0 if success else 0.0), success, truncated, info

    def _execute(self, words: list[str]) -> tuple[str, int, bool]:
        """Run one parsed command: (observation, exit code, tests passed)."""
        repo = _split(self._task)[0]
        inside = self._cwd == repo
        match words:
            case ["cd", name]:
                if name == repo or name in ("/", ".."):
                    self._cwd = repo if name == repo else "/"
                    return "ok", 0, False
                return "error : no such repo", 1, False
            case ["ls"]:
                return (" ".join(FILES) if inside else repo), 0, False
            case ["test"]:
                if not inside:
                    return "error : no tests here", 1, False
                if not self._bugs:
                    return "tests PASS", 0, True
                return f"tests FAIL in {min(self._bugs, key=FILES.index)}", 1, False
            case ["edit" | "cat" as verb, name] if name in FILES and inside:
                if verb == "edit":
                    self._bugs ^= {name}  # fixes a buggy file, breaks a good one
                    return f"edited {name}", 0, False
                return f"file {name} ok", 0, False
            case ["edit" | "cat", _]:
                return "error : no such file", 1, False
            case _:
                return "error : no such command", 127, False

    def render(self) -> str | None:
        return self._last_obs if self.render_mode == "ansi" else None

    def close(self) -> None:
        """Nothing to release; safe to call twice."""
