"""Grading with the official swebench functions: eval script, log, report entry.

swebench 5 builds a `TestSpec` per instance (`swebench.harness.utils.make_test_spec`) from the
instance's `eval_script`, `log_parser` (a name in `PARSER_REGISTRY`) and `eval_type`, and grades
the eval script's output with `swebench.harness.grading.get_eval_report`. Instances in the older
schema (no `eval_script`) get one written here in the shape of swebench 4's
`make_eval_script_list_py`, from a repo spec (`MAP_REPO_VERSION_TO_SPECS` values: `test_cmd`,
optional `install`, `eval_commands`, `log_parser`). Our own repos are registered into the official
parser maps by `register_local_repos`, so the verdict is always swebench's.
"""

from __future__ import annotations

import importlib
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import unidiff
from swebench.harness.constants import (
    END_TEST_OUTPUT,
    FAIL_ONLY_REPOS,
    NON_TEST_EXTS,
    START_TEST_OUTPUT,
    EvalType,
)
from swebench.harness.grading import get_eval_report, get_logs_eval
from swebench.harness.log_parsers import PARSER_REGISTRY
from swebench.harness.utils import make_test_spec
from swebench.types import TestSpec

from envs.core.errors import TaskError

#: {repo: {version: spec}}: the shape of swebench 4's MAP_REPO_VERSION_TO_SPECS.
RepoSpecs = Mapping[str, Mapping[str, Mapping[str, Any]]]
DEFAULT_PARSER = "parse_log_pytest"
WORKDIR = "/testbed"
CONDA_ACTIVATE = ("source /opt/miniconda3/bin/activate", "conda activate testbed")
_PARSER_MAPS = [
    f"swebench.harness.log_parsers.{lang}"
    for lang in ("python", "javascript", "c", "go", "java", "php", "ruby", "rust")
]


def _repo_parser_maps() -> list[dict[str, Any]]:
    """swebench's repo -> parser function maps (`MAP_REPO_TO_PARSER_PY`, ..., or v4's one map)."""
    maps = []
    for name in [*_PARSER_MAPS, "swebench.harness.log_parsers"]:
        module = importlib.import_module(name)
        maps += [
            v
            for k, v in vars(module).items()
            if k.startswith("MAP_REPO_TO_PARSER") and isinstance(v, dict)
        ]
    return maps


def register_local_repos(specs: RepoSpecs) -> None:
    """Register our repos' specs and log parsers into swebench's official maps.

    Each repo gets the parser its specs name (`log_parser`, default `parse_log_pytest`) in
    `MAP_REPO_TO_PARSER_PY`; where swebench still has `MAP_REPO_VERSION_TO_SPECS` (v4) the
    specs go there too. Repos swebench already knows are left as they are. Idempotent.
    """
    from swebench.harness import constants

    official_specs = getattr(constants, "MAP_REPO_VERSION_TO_SPECS", None)
    py_parsers = importlib.import_module(_PARSER_MAPS[0]).MAP_REPO_TO_PARSER_PY
    known = {repo for m in _repo_parser_maps() for repo in m}
    for repo, versions in specs.items():
        names = {str(s.get("log_parser", DEFAULT_PARSER)) for s in versions.values()} or {
            DEFAULT_PARSER
        }
        for name in names:
            if name not in PARSER_REGISTRY:
                raise TaskError(
                    f"specs of {repo!r} name the log parser {name!r}, which swebench "
                    f"lacks; pick one of swebench.harness.log_parsers.PARSER_REGISTRY"
                )
        if repo not in known:
            py_parsers[repo] = PARSER_REGISTRY[sorted(names)[0]]
        if isinstance(official_specs, dict):
            official_specs.setdefault(repo, {}).update(
                {v: dict(s) for v, s in versions.items() if v not in official_specs.get(repo, {})}
            )


def parser_name(instance: Mapping[str, Any], spec: Mapping[str, Any] | None) -> str:
    """The `PARSER_REGISTRY` name for an instance: its own, its spec's, its repo's, or pytest."""
    if instance.get("log_parser"):
        return str(instance["log_parser"])
    if spec and spec.get("log_parser"):
        return str(spec["log_parser"])
    for mapping in _repo_parser_maps():
        fn = mapping.get(instance["repo"])
        if fn is not None:  # a few mapped parsers are missing from the registry: add them
            name = next((k for k, v in PARSER_REGISTRY.items() if v is fn), fn.__name__)
            PARSER_REGISTRY.setdefault(name, fn)
            return name
    return DEFAULT_PARSER


def eval_type(instance: Mapping[str, Any]) -> str:
    if instance.get("eval_type"):
        return str(instance["eval_type"])
    return (
        EvalType.FAIL_ONLY if instance["repo"] in FAIL_ONLY_REPOS else EvalType.PASS_AND_FAIL
    ).value


def patch_files(patch: str) -> tuple[list[str], list[str]]:
    """(files the patch changes or deletes, files it creates), as the official harness reads them."""
    try:
        files = unidiff.PatchSet(patch)
    except unidiff.UnidiffParseError as exc:
        raise TaskError(f"test_patch is not a unified diff: {exc}") from exc
    existing = [f.path for f in files if not f.is_added_file]
    added = [f.path for f in files if f.is_added_file]
    return existing, added


def test_directives(instance: Mapping[str, Any]) -> list[str]:
    """Test files of the test_patch, as swebench 4's `get_test_directives` gives them."""
    paths = re.findall(r"diff --git a/.* b/(.*)", instance["test_patch"])
    paths = [p for p in paths if not any(p.endswith(ext) for ext in NON_TEST_EXTS)]
    if instance["repo"] == "django/django":  # django's runner takes dotted module names
        paths = [p[: -len(".py")] if p.endswith(".py") else p for p in paths]
        paths = [p[len("tests/") :] if p.startswith("tests/") else p for p in paths]
        paths = [p.replace("/", ".") for p in paths]
    return paths


def make_eval_script(
    instance: Mapping[str, Any], spec: Mapping[str, Any], test_patch_path: str, conda: bool = False
) -> str:
    """An eval.sh in the official shape; the test patch is read from `test_patch_path`.

    `test_cmd` is a command, or a list of commands whose last gets the test files appended."""
    base = instance["base_commit"]
    existing, added = patch_files(instance["test_patch"])
    reset = [f"git checkout {base} {' '.join(existing)}"] if existing else []
    remove = [f"rm -f {' '.join(added)}"] if added else []
    activate = list(CONDA_ACTIVATE) if conda else []
    commands = spec["test_cmd"] if isinstance(spec["test_cmd"], list) else [spec["test_cmd"]]
    test_cmds = [
        *map(str, commands[:-1]),
        " ".join([str(commands[-1]), *test_directives(instance)]),
    ]
    lines = [
        "#!/bin/bash",
        "set -uxo pipefail",
        *activate,
        f"cd {WORKDIR}",
        *[str(c) for c in spec.get("eval_commands", [])],
        f"git config --global --add safe.directory {WORKDIR}",
        f"cd {WORKDIR}",
        "git status",
        "git show",
        f"git -c core.fileMode=false diff {base}",
        *activate,
    ]
    if spec.get("install"):
        lines.append(str(spec["install"]))
    lines += [
        *reset,
        *remove,
        f"git apply -v {test_patch_path}",
        f": '{START_TEST_OUTPUT}'",
        *test_cmds,
        f": '{END_TEST_OUTPUT}'",
        *reset,
        *remove,
    ]
    return "\n".join(lines) + "\n"


def build_test_spec(
    instance: Mapping[str, Any],
    image: str,
    spec: Mapping[str, Any] | None,
    test_patch_path: str,
    conda: bool = False,
) -> TestSpec:
    """The official `TestSpec` (via `make_test_spec`, so the exit-code marker is recorded)."""
    script = instance.get("eval_script")
    if not script:
        if not spec or "test_cmd" not in spec:
            raise TaskError(
                f"{instance['instance_id']}: no eval_script and no spec with test_cmd for "
                f"{instance['repo']} {instance['version']}: pass specs={{repo: {{version: "
                "{'test_cmd': ...}}}} (swebench 4's MAP_REPO_VERSION_TO_SPECS) or use a dataset "
                "with eval_script/log_parser/eval_type columns (swebench 5)"
            )
        script = make_eval_script(instance, spec, test_patch_path, conda=conda)
    return make_test_spec(
        {
            **instance,
            "image": image,
            "eval_script": script,
            "log_parser": parser_name(instance, spec),
            "eval_type": eval_type(instance),
        }
    )


def has_markers(log: str) -> bool:
    return START_TEST_OUTPUT in log and END_TEST_OUTPUT in log


def evaluate_log(
    test_spec: TestSpec, log: str, model_patch: str | None, model_name: str = "ale"
) -> tuple[dict[str, Any], dict[str, str]]:
    """(the report.json entry, the parsed test status map), computed by swebench's own code."""
    with tempfile.TemporaryDirectory(prefix="ale-swe-grade-") as tmp:
        path = Path(tmp) / "test_output.txt"
        path.write_text(log, encoding="utf-8")
        prediction = {
            "instance_id": test_spec.instance_id,
            "model_name_or_path": model_name,
            "model_patch": model_patch,
        }
        report = get_eval_report(
            test_spec,
            prediction,
            str(path),  # type: ignore[arg-type]
            include_tests_status=True,
        )
        status_map, _ = get_logs_eval(test_spec, str(path))
    return report[test_spec.instance_id], status_map
