"""`ale bench run | grade | report | compare`: the evaluation harness's commands.

    ale bench run --suite swe-mini --workers 4            # oracle unless a model endpoint is set
    ale bench run --suite tb-mini --policy openai:MODEL@http://127.0.0.1:8000/v1
    ale bench grade --predictions preds.jsonl --suite swe-mini
    ale bench report runs/swe-mini__swe__oracle
    ale bench compare RUN_A RUN_B

Re-running the same `run` (or `grade`) command resumes its run folder; SIGINT / SIGTERM stop
it cleanly (`run_stoppably`), exit 130 / 143, and the same command resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.cli.stoppable import run_stoppably
from bench.interrupt import StopSwitch
from bench.store import RunStore, run_id_of
from bench.tasks import RUN_LABEL, BenchSuite

SuiteOpt = Annotated[
    str,
    typer.Option(
        "--suite",
        help="suite name (swe-mini, tb-mini, swebench, "
        "terminal-bench, harbor) or a path: SWE-bench JSONL/parquet, or a "
        "folder of Terminal-Bench / Harbor tasks",
    ),
]
TasksOpt = Annotated[
    list[str] | None,
    typer.Option("--tasks", help="only these task ids (repeat, or comma-separated)"),
]
WorkersOpt = Annotated[int, typer.Option("--workers", "-w", min=1, help="parallel sandboxes")]
BackendOpt = Annotated[
    str, typer.Option("--backend", help="sandbox backend: docker, local or auto")
]
FromOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--from",
        help="Terminal-Bench / Harbor tasks: build FROM IMAGE with LOCAL instead, IMAGE=LOCAL "
        "(exact name or glob such as 'python:3.13*'; repeatable)",
    ),
]
FromMapOpt = Annotated[
    Path | None,
    typer.Option(
        "--from-map",
        exists=True,
        dir_okay=False,
        help="Terminal-Bench / Harbor tasks: a FROM map file (YAML mapping or IMAGE=LOCAL lines)",
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Terminal-Bench / Harbor tasks: a key the task file has and ALE-Gym does not know "
        "is an error (default: a warning)",
    ),
]
BuildNetworkOpt = Annotated[
    bool,
    typer.Option(
        help="Terminal-Bench / Harbor tasks: image builds may reach package indexes "
        "(apt-get, pip in a Dockerfile); the agent's sandbox stays offline either way",
    ),
]
PullOpt = Annotated[
    bool,
    typer.Option(
        "--pull",
        help="SWE-bench: pull an instance's official image when the engine lacks it "
        "(never done without this flag)",
    ),
]
SpecsOpt = Annotated[
    Path | None,
    typer.Option(
        "--specs",
        exists=True,
        dir_okay=False,
        help="SWE-bench: repo specs JSON {repo: {version: spec}} (default: specs.json beside "
        "the dataset)",
    ),
]
ReposOpt = Annotated[
    Path | None,
    typer.Option(
        "--repos",
        exists=True,
        file_okay=False,
        help="SWE-bench: folder of <owner>__<repo>.bundle git bundles (default: repos/ beside "
        "the dataset)",
    ),
]
NamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        help="SWE-bench: where official images are published (default swebench; a registry "
        "of your own: HOST:PORT/swebench)",
    ),
]
RunDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--run-dir",
        help="run folder (default: runs/<suite>__<agent>__<policy>); an existing one is resumed",
    ),
]

NO_ENDPOINT = (
    "No model endpoint is configured ($OPENAI_BASE_URL and $OPENAI_MODEL), so the ORACLE policy "
    "runs: it applies each task's reference solution through the agent's own tools."
)
EXPLAIN = {
    "oracle": "The oracle applies each task's reference solution, so this resolve rate tests the suite, the "
    "sandboxes, the agent loop and the grader (anything below 100% is a harness or task bug); it "
    "says nothing about a model. To evaluate a model: export OPENAI_BASE_URL=http://HOST:PORT/v1 "
    "OPENAI_MODEL=NAME, or pass --policy openai:MODEL@URL | hf:PATH | tiny.",
    "empty": "The empty policy submits without changing anything: this is the floor (0% on a sound suite).",
}


def register_bench_commands(bench_app: typer.Typer) -> None:
    """Mount run, grade, report and compare on `ale bench`."""
    bench_app.command("run")(run_cmd)
    bench_app.command("grade")(grade_cmd)
    bench_app.command("report")(report_cmd)
    bench_app.command("compare")(compare_cmd)


# -- resolving arguments ----------------------------------------------------------------------
def split_ids(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [t for v in values for t in v.split(",") if t.strip()]


def resolve_bench_suite(
    spec: str,
    task_ids: list[str] | None = None,
    folder_options: dict[str, Any] | None = None,
    swebench_options: dict[str, Any] | None = None,
) -> Any:
    """A registered suite name, a SWE-bench file / data folder, a folder of TB/Harbor tasks, or
    `pkg.module:factory` (a callable taking `task_ids=` and returning a `TaskSuite`).
    `folder_options` (`base_image_map`, `strict`, `build_network`) configure TB/Harbor suites;
    `swebench_options` (`pull`, `namespace`, `specs`, `repos_dir`) SWE-bench suites."""
    suite = _resolve_bench_suite(spec, task_ids)
    from envs.core.errors import EnvError
    from envs.suites.swebench import SWEBenchSuite
    from envs.suites.terminal_bench import TaskFolderSuite

    if folder_options and isinstance(suite, TaskFolderSuite):
        suite.configure(**folder_options)
    wanted = {k: v for k, v in (swebench_options or {}).items() if v}
    if wanted and not isinstance(suite, SWEBenchSuite):
        flags = ", ".join(f"--{k.removesuffix('_dir')}" for k in wanted)
        raise typer.BadParameter(f"{flags}: only for SWE-bench suites, and {spec!r} is not one")
    if wanted:
        try:
            suite.configure(**wanted)
        except EnvError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return suite


def swebench_options(
    pull: bool, specs: Path | None, repos: Path | None, namespace: str | None
) -> dict[str, Any]:
    """The SWE-bench options of `--pull`, `--specs`, `--repos`, `--namespace`."""
    return {"pull": pull, "specs": specs, "repos_dir": repos, "namespace": namespace}


def folder_options(
    pairs: list[str] | None, map_file: Path | None, strict: bool, build_network: bool
) -> dict[str, Any]:
    """The TB/Harbor options of `--from`, `--from-map`, `--strict`, `--build-network`."""
    from envs.suites.terminal_bench.task_image import parse_from_map

    try:
        mapping = parse_from_map(pairs, map_file)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return {"base_image_map": mapping, "strict": strict, "build_network": build_network}


def echo_task_warnings(suite: Any, store: Any) -> None:
    """Unknown keys in task files: one warning line per key and task, kept in the run folder."""
    from envs.suites.terminal_bench import TaskFolderSuite

    if not isinstance(suite, TaskFolderSuite):
        return
    found = suite.warnings()
    for task_id, lines in found.items():
        for line in lines:
            typer.echo(f"warning: {task_id}: {line}", err=True)
    if found:
        store.write_json("task_warnings.json", found)


def _resolve_bench_suite(spec: str, task_ids: list[str] | None = None) -> Any:
    from envs.core.errors import EnvError
    from envs.core.suites import SUITES, resolve_suite

    if spec in SUITES:
        return resolve_suite(spec, task_ids=task_ids)
    path = Path(spec)
    if not path.exists() and re.fullmatch(r"[\w.]+:\w+", spec):  # pkg.module:factory
        import importlib

        module, _, attr = spec.partition(":")
        return getattr(importlib.import_module(module), attr)(task_ids=task_ids)
    if not path.exists():
        raise typer.BadParameter(
            f"--suite {spec!r} is neither a suite ({', '.join(sorted(SUITES))}) nor an "
            "existing path"
        )
    from envs.suites.swebench import SWEBenchSuite

    data = path
    if path.is_dir():
        jsonls = sorted(path.glob("*.jsonl")) + sorted(path.glob("*.parquet"))
        if not jsonls:
            from envs.suites.terminal_bench import TaskFolderSuite

            try:
                return TaskFolderSuite(path, task_ids=task_ids)  # Terminal-Bench and Harbor folders
            except EnvError as exc:
                raise typer.BadParameter(str(exc)) from exc
        data = jsonls[0]
    try:  # specs.json and repos/ beside the file are the suite's own defaults
        return SWEBenchSuite(data, task_ids=task_ids, name=data.stem)
    except EnvError as exc:
        raise typer.BadParameter(str(exc)) from exc


def resolve_policy(spec: str) -> tuple[str, str | None]:
    """(policy spec, a note to print) for `--policy`; `auto` picks the endpoint or the oracle."""
    if spec != "auto":
        return spec, None
    url, model = os.environ.get("OPENAI_BASE_URL"), os.environ.get("OPENAI_MODEL")
    if url and model:
        return (
            f"openai:{model}@{url}",
            f"Policy: the OpenAI-compatible endpoint {url}, model {model}.",
        )
    if url:
        return "oracle", (
            f"$OPENAI_BASE_URL is set ({url}) but $OPENAI_MODEL is not: set it to the served "
            "model's name to evaluate it. " + NO_ENDPOINT
        )
    return "oracle", NO_ENDPOINT


def model_name_of(policy_spec: str) -> str:
    """`model_name_or_path` for predictions: the model of openai/hf/vllm specs, else the kind."""
    kind, _, arg = policy_spec.partition(":")
    if kind == "openai":
        return arg.split("@", 1)[0] or "openai"
    return arg or kind


def default_agent(suite: Any) -> str:
    from envs.suites.swebench import SWEBenchSuite

    return "swe" if isinstance(suite, SWEBenchSuite) else "terminal"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]


def _echo_report(report: dict[str, Any], run_dir: Path) -> None:
    total = report["total_instances"]
    resolved = report["resolved_instances"]
    pct = 100.0 * resolved / total if total else 0.0
    counts = report["status_counts"]  # ours: an error is never an empty_patch here
    others = "  ".join(f"{k} {v}" for k, v in counts.items() if k != "resolved")
    typer.echo(f"resolved {resolved}/{total} ({pct:.1f}%)  {others}")
    for tid, limit in report.get("test_timeout_limits", {}).items():
        said = f"{limit:g} s" if limit is not None else "its"
        typer.echo(f"test_timeout: {tid} ran past the {said} test limit")
    for key in sorted(k for k in report if k.startswith(("pass@", "avg@"))):
        typer.echo(f"{key} {report[key]:.3f}")
    typer.echo(
        f"run folder: {run_dir}  (report.json, predictions.jsonl, report.md, trajectories/, logs/)"
    )
    typer.echo(f"plots: ale bench report {run_dir}")


# -- commands ---------------------------------------------------------------------------------
def run_cmd(
    suite: SuiteOpt = "swe-mini",
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent",
            help="agent config name or YAML path "
            "(default: swe for SWE-bench suites, terminal otherwise)",
        ),
    ] = None,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            help="policy spec: oracle, empty, openai:MODEL@URL, hf:PATH, "
            "tiny, scripted:FILE; auto = $OPENAI_BASE_URL + $OPENAI_MODEL if set, "
            "else the oracle",
        ),
    ] = "auto",
    workers: WorkersOpt = 4,
    tasks: TasksOpt = None,
    attempts: Annotated[
        int, typer.Option("--attempts", "-k", min=1, help="attempts per task (pass@k, avg@k)")
    ] = 1,
    run_dir: RunDirOpt = None,
    backend: BackendOpt = "auto",
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="agent config override, e.g. --set limits.max_turns=30 (repeatable)"
        ),
    ] = None,
    max_infra_retries: Annotated[
        int, typer.Option(help="re-runs of an attempt that failed for infrastructure reasons")
    ] = 2,
    progress: Annotated[bool, typer.Option(help="live progress bar")] = True,
    from_: FromOpt = None,
    from_map: FromMapOpt = None,
    strict: StrictOpt = False,
    build_network: BuildNetworkOpt = True,
    pull: PullOpt = False,
    specs: SpecsOpt = None,
    repos: ReposOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Run an agent with a policy on a suite, in parallel sandboxes; resumable."""
    from agents.config import AgentConfig
    from agents.policies import make_policy
    from bench.report import write_report
    from bench.runners import AgentRunner

    stop = StopSwitch()
    with stop.handling():  # a signal before the run: exit 130/143 at once
        task_ids = split_ids(tasks)
        options = folder_options(from_, from_map, strict, build_network)
        the_suite = resolve_bench_suite(
            suite, task_ids, options, swebench_options(pull, specs, repos, namespace)
        )
        ids = task_ids or the_suite.task_ids()
        policy_spec, note = resolve_policy(policy)
        agent_name = agent or default_agent(the_suite)
        agent_cfg = AgentConfig.load(agent_name, overrides=list(overrides or []))
        make_policy(policy_spec)  # fail fast on a bad spec, before any sandbox starts
        folder = run_dir or Path("runs") / slug(
            f"{the_suite.name}__{Path(agent_name).stem}__{policy_spec}"
        )
        store = RunStore(folder)
        store.check_or_write_config(
            {
                "kind": "run",
                "suite": suite,
                "agent": agent_name,
                "policy": policy_spec,
                "attempts": attempts,
                "tasks": ids,
                "overrides": list(overrides or []),
            }
        )
        if note:
            typer.echo(note)
        echo_task_warnings(the_suite, store)
        runner = AgentRunner(
            BenchSuite(the_suite, {RUN_LABEL: run_id_of(folder)}, stop),
            agent_cfg,
            lambda: make_policy(policy_spec),
            backend=backend,
        )
        report = run_stoppably(
            store,
            ids,
            runner,
            model_name_of(policy_spec),
            stop,
            close=runner.close,
            attempts=attempts,
            workers=workers,
            max_infra_retries=max_infra_retries,
            show_progress=progress,
        )
        write_report(folder, plots=False)
        _echo_report(report, folder)
        kind = policy_spec.partition(":")[0]
        if kind in EXPLAIN:
            typer.echo(EXPLAIN[kind])


def read_predictions(path: Path) -> list[dict[str, Any]]:
    """SWE-bench predictions from JSONL, a JSON list, or a JSON dict keyed by instance id.

    A file with any unreadable prediction (not UTF-8, not JSON, no `instance_id`) is refused
    whole, with a `ConfigError` naming the file and the line: grading part of a file would
    publish a report that silently leaves predictions out.
    """
    from envs.core.config import ConfigError

    data = path.read_bytes()

    def bad(where: str, why: str) -> ConfigError:
        return ConfigError(f"{path}{where}: {why}; fix or remove it (the file was not graded)")

    if path.suffix == ".jsonl":
        rows: list[tuple[str, Any]] = []
        for n, raw in enumerate(data.split(b"\n"), 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise bad(f" line {n}", f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
            if not line.strip():
                continue
            try:
                rows.append((f" line {n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise bad(
                    f" line {n}", f"not a JSON object ({exc.msg}, column {exc.colno})"
                ) from None
    else:
        try:
            obj = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise bad("", f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
        except json.JSONDecodeError as exc:
            raise bad(f" line {exc.lineno}", f"not valid JSON ({exc.msg})") from None
        items = (
            list(obj.values()) if isinstance(obj, dict) else obj if isinstance(obj, list) else None
        )
        if items is None:
            raise bad("", "expected a JSON list or a mapping of predictions")
        rows = [(f" prediction {i}", row) for i, row in enumerate(items)]
    for where, row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("instance_id"), str):
            raise bad(where, "a prediction needs an instance_id (a string)")
        if not isinstance(row.get("model_patch") or "", str):
            raise bad(where, "model_patch must be a string")
    return [row for _, row in rows]


def grade_cmd(
    predictions: Annotated[
        Path,
        typer.Option(
            "--predictions",
            exists=True,
            dir_okay=False,
            help="SWE-bench predictions (instance_id, model_name_or_path, "
            "model_patch), JSONL or JSON",
        ),
    ],
    suite: SuiteOpt = "swe-mini",
    workers: WorkersOpt = 4,
    tasks: TasksOpt = None,
    run_dir: RunDirOpt = None,
    backend: BackendOpt = "auto",
    progress: Annotated[bool, typer.Option(help="live progress bar")] = True,
    pull: PullOpt = False,
    specs: SpecsOpt = None,
    repos: ReposOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Grade predictions from any tool: each patch applied to a fresh sandbox, then graded."""
    from bench.report import write_report
    from bench.runners import PatchRunner

    stop = StopSwitch()
    with stop.handling():  # a signal before the run: exit 130/143 at once
        rows = read_predictions(predictions)
        the_suite = resolve_bench_suite(
            suite, swebench_options=swebench_options(pull, specs, repos, namespace)
        )
        known = set(the_suite.task_ids())
        wanted = split_ids(tasks)
        ids = [r["instance_id"] for r in rows if (wanted is None or r["instance_id"] in wanted)]
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise typer.BadParameter(
                f"{len(unknown)} predictions are not in suite {suite!r}: {unknown[:5]}"
            )
        patches = {r["instance_id"]: r.get("model_patch") or "" for r in rows}
        model = str(rows[0].get("model_name_or_path") or "unknown") if rows else "unknown"
        digest = hashlib.sha256(predictions.read_bytes()).hexdigest()[:16]
        folder = run_dir or Path("runs") / slug(
            f"grade__{the_suite.name}__{predictions.stem}__{digest}"
        )
        store = RunStore(folder)
        store.check_or_write_config(
            {
                "kind": "grade",
                "suite": suite,
                "predictions": str(predictions),
                "sha256": digest,
                "tasks": sorted(ids),
            }
        )
        runner = PatchRunner(
            BenchSuite(the_suite, {RUN_LABEL: run_id_of(folder)}, stop), patches, backend=backend
        )
        report = run_stoppably(
            store, sorted(ids), runner, model, stop, workers=workers, show_progress=progress
        )
        write_report(folder, plots=False)
        _echo_report(report, folder)


def report_cmd(
    run: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="run folder")],
) -> None:
    """Write RUN/report.md with PNG plots (resolve rate by category, turns, time, tokens per task);
    print the refused egress attempts per task, if any."""
    from bench.report import egress_section, write_report

    out = write_report(run)
    for line in egress_section(RunStore(run).results())[1:]:
        typer.echo(line)
    typer.echo(f"wrote {out}")


def compare_cmd(
    run_a: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
    run_b: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
) -> None:
    """Per-task status differences between two runs (first attempts)."""
    from bench.metrics import by_task
    from bench.report import compare

    for name, run in (("A", run_a), ("B", run_b)):
        firsts = [rs[0] for rs in by_task(RunStore(run).results()).values()]
        typer.echo(f"{name} {run}: resolved {sum(r.resolved for r in firsts)}/{len(firsts)}")
    diffs = compare(run_a, run_b)
    if not diffs:
        typer.echo("no per-task differences")
    for task, a, b in diffs:
        typer.echo(f"{task}: {a} -> {b}")
