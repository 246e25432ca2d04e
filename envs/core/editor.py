"""The file viewer/editor tool (`str_replace_editor`), working through the sandbox API.

Semantics follow the editor tool that SWE-agent and Anthropic's models use: absolute paths,
`view` with `cat -n` numbering, `str_replace` only on a unique match, per-file undo history.
Edits are confined to `root` (the task's workspace): the editor refuses paths outside it, and
says to use bash for anything else.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Callable
from typing import Any

from envs.rock import Sandbox, SandboxFileError
from envs.rock.reads import ReadLimitExceeded

MAX_VIEW_LINES = 2000
MAX_FILE_BYTES = 4 << 20  # the editor reads, edits and keeps for undo files up to this size
SNIPPET_CONTEXT = 4


class EditorError(Exception):
    """Misuse of the editor; the message is shown to the agent."""


class Editor:
    """Stateful editor over one sandbox; `history[path]` holds previous contents for undo."""

    def __init__(self, sandbox: Sandbox, root: str) -> None:
        self.sandbox = sandbox
        self.root = posixpath.normpath(root)
        self.history: dict[str, list[bytes]] = {}

    def execute(self, command: str, path: str, **kwargs: Any) -> str:
        path = self._check_path(path)
        handlers: dict[str, Callable[..., str]] = {
            "view": self.view,
            "create": self.create,
            "str_replace": self.str_replace,
            "insert": self.insert,
            "undo_edit": self.undo_edit,
        }
        handler = handlers.get(command)
        if handler is None:
            raise EditorError(
                f"unknown command {command!r}; use view, create, str_replace, insert or undo_edit"
            )
        try:
            return handler(path, **kwargs)
        except TypeError as exc:  # an argument this command does not take
            raise EditorError(f"{command}: {exc}") from exc

    # -- helpers -------------------------------------------------------------------------
    def _check_path(self, path: str) -> str:
        if not path.startswith("/"):
            raise EditorError(
                f"{path!r} is not absolute; did you mean {posixpath.join(self.root, path)!r}?"
            )
        norm = posixpath.normpath(path)
        if norm != self.root and not norm.startswith(self.root.rstrip("/") + "/"):
            raise EditorError(
                f"{norm!r} is outside the workspace {self.root}; the editor only edits "
                "files under it (use bash for anything else)"
            )
        return norm

    def _read(self, path: str) -> bytes:
        """The file's bytes, at most `MAX_FILE_BYTES` (a sandbox file may be a sparse 20 GiB)."""
        try:
            return self.sandbox.read(path, max_bytes=MAX_FILE_BYTES)
        except ReadLimitExceeded as exc:
            raise EditorError(
                f"{path} is larger than the editor's {MAX_FILE_BYTES}-byte limit: use bash "
                f"to look at parts of it (sed -n '1,100p' {path}, grep -n PATTERN {path}, "
                f"head -c, tail -c) and to change it"
            ) from exc

    def _read_text(self, path: str) -> str:
        try:
            data = self._read(path)
        except SandboxFileError as exc:
            raise EditorError(f"cannot read {path}: it does not exist or is a directory") from exc
        return data.decode("utf-8", errors="replace")

    def _write(self, path: str, text: str, record: bytes | None) -> None:
        if record is not None:
            self.history.setdefault(path, []).append(record)
        self.sandbox.write(path, text.encode("utf-8"), mode=self._mode(path))

    def _mode(self, path: str) -> int:
        """The file's permission bits (kept across edits), 0o644 for a new file."""
        r = self.sandbox.run(f"stat -c %a {shlex.quote(path)} 2>/dev/null", timeout=30)
        return int(r.output.strip(), 8) if r.exit_code == 0 and r.output.strip() else 0o644

    def _is_dir(self, path: str) -> bool:
        return self.sandbox.run(f"test -d {shlex.quote(path)}", timeout=30).exit_code == 0

    @staticmethod
    def _numbered(text: str, start: int = 1) -> str:
        lines = text.split("\n")
        return "\n".join(f"{i:6}\t{line}" for i, line in enumerate(lines, start))

    def _snippet(self, path: str, text: str, line: int, extra: int) -> str:
        lines = text.split("\n")
        lo = max(0, line - SNIPPET_CONTEXT)
        hi = min(len(lines), line + extra + SNIPPET_CONTEXT)
        body = self._numbered("\n".join(lines[lo:hi]), lo + 1)
        return f"The file {path} has been edited. A snippet of the result:\n{body}\nReview it; edit again if needed."

    # -- commands ------------------------------------------------------------------------
    def view(self, path: str, view_range: list[int] | None = None) -> str:
        if self._is_dir(path):
            out = self.sandbox.run(
                f"find {shlex.quote(path)} -maxdepth 2 -not -path '*/.*' | sort | head -500",
                timeout=30,
            )
            return f"Files and directories up to 2 levels deep in {path}:\n{out.output}"
        text = self._read_text(path)
        lines = text.split("\n")
        start, end = 1, len(lines)
        if view_range:
            if len(view_range) != 2:
                raise EditorError("view_range must be [start, end] (end -1 means to the end)")
            start, end = view_range[0], len(lines) if view_range[1] == -1 else view_range[1]
            if not 1 <= start <= len(lines) or end < start:
                raise EditorError(
                    f"view_range {view_range} is outside the file's {len(lines)} lines"
                )
        shown = lines[start - 1 : min(end, start - 1 + MAX_VIEW_LINES)]
        note = (
            ""
            if start - 1 + len(shown) >= end
            else f"\n[{end - start + 1 - len(shown)} more lines: use view_range]"
        )
        return f"Here's the result of running `cat -n` on {path}:\n{self._numbered(chr(10).join(shown), start)}{note}"

    def create(self, path: str, file_text: str | None = None) -> str:
        if file_text is None:
            raise EditorError("create needs file_text")
        if self._is_dir(path):
            raise EditorError(f"{path} is a directory")
        try:
            previous: bytes | None = self._read(path)
        except SandboxFileError:
            previous = None
        self._write(path, file_text, previous if previous is not None else b"\x00ALE-NEW-FILE")
        return f"File created successfully at: {path}"

    def str_replace(self, path: str, old_str: str | None = None, new_str: str | None = None) -> str:
        if old_str is None:
            raise EditorError("str_replace needs old_str")
        text = self._read_text(path)
        count = text.count(old_str)
        if count == 0:
            raise EditorError(
                f"no replacement was performed: old_str did not appear verbatim in {path}"
            )
        if count > 1:
            lines = [i + 1 for i, ln in enumerate(text.split("\n")) if old_str.split("\n")[0] in ln]
            raise EditorError(
                f"no replacement was performed: old_str occurs {count} times (lines {lines[:10]}); "
                "include more context to make it unique"
            )
        new = new_str or ""
        line = text[: text.index(old_str)].count("\n") + 1
        result = text.replace(old_str, new)
        self._write(path, result, text.encode("utf-8"))
        return self._snippet(path, result, line, new.count("\n"))

    def insert(self, path: str, insert_line: int | None = None, new_str: str | None = None) -> str:
        if insert_line is None or new_str is None:
            raise EditorError("insert needs insert_line and new_str")
        text = self._read_text(path)
        lines = text.split("\n")
        if not 0 <= insert_line <= len(lines):
            raise EditorError(f"insert_line {insert_line} is outside [0, {len(lines)}]")
        result = "\n".join(lines[:insert_line] + new_str.split("\n") + lines[insert_line:])
        self._write(path, result, text.encode("utf-8"))
        return self._snippet(path, result, insert_line + 1, new_str.count("\n"))

    def undo_edit(self, path: str) -> str:
        stack = self.history.get(path)
        if not stack:
            raise EditorError(f"no edit of {path} to undo")
        previous = stack.pop()
        if previous == b"\x00ALE-NEW-FILE":
            self.sandbox.run(f"rm -f {shlex.quote(path)}", timeout=30)
            return f"Undid the creation of {path}."
        self.sandbox.write(path, previous, mode=self._mode(path))
        return f"Last edit to {path} undone. Its content is now:\n{self._numbered(previous.decode('utf-8', 'replace'))}"
