"""`ale bench report` and `ale bench compare`: Markdown with PNG plots, per-task differences.

`ale bench run` and `ale bench grade` write report.md without plots when they finish (drawing
them costs more than grading a small task: matplotlib's import and four figures); `ale bench
report RUN` draws them and links them from report.md."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from bench.metrics import by_task
from bench.store import AttemptResult, RunStore

PLOTS = ("resolve_by_category", "turns_per_task", "time_per_task", "tokens_per_task")


def _bar(path: Path, labels: list[str], values: list[float], title: str, ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(labels) + 2), 4))
    ax.bar(range(len(labels)), values, color="#3b6ea8")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def make_plots(results: list[AttemptResult], out: Path) -> dict[str, Path]:
    """Four PNGs: resolve rate by category, turns, time and tokens per task (first attempts)."""
    first = [rs[0] for _, rs in sorted(by_task(results).items())]
    cats: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        cats[r.category or "uncategorized"].append(r.resolved)
    ids = [r.task_id for r in first]
    paths = {name: out / f"{name}.png" for name in PLOTS}
    _bar(
        paths["resolve_by_category"],
        sorted(cats),
        [sum(v) / len(v) for _, v in sorted(cats.items())],
        "resolve rate by category",
        "resolved fraction",
    )
    _bar(paths["turns_per_task"], ids, [r.turns for r in first], "turns per task", "turns")
    _bar(paths["time_per_task"], ids, [r.duration_s for r in first], "time per task", "seconds")
    _bar(paths["tokens_per_task"], ids, [r.tokens for r in first], "tokens per task", "tokens")
    return paths


def write_report(run_dir: Path, plots: bool = True) -> Path:
    """RUN/report.md with the summary table, per-task rows and (with `plots`) the plots;
    without, a line naming the command that draws them."""
    store = RunStore(run_dir)
    results = store.results()
    report = (
        json.loads((run_dir / "report.json").read_text())
        if (run_dir / "report.json").exists()
        else {}
    )
    config = (
        json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    )
    drawn = make_plots(results, run_dir) if plots else {}
    lines = [f"# ALE-Gym bench report: {run_dir.name}", ""]
    lines += [
        f"- {k}: `{v}`"
        if not (isinstance(v, list) and len(v) > 8)
        else f"- {k}: {len(v)} ({', '.join(v[:3])}, ...)"
        for k, v in config.items()
    ]
    lines += ["", "| metric | value |", "| --- | --- |"]
    lines += [
        f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |"
        for k, v in report.items()
        if not k.endswith("_ids")
    ]
    lines += [
        "",
        "| task | attempt | status | reward | turns | tokens | seconds | error |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in sorted(results, key=lambda r: (r.task_id, r.attempt)):
        err = (r.error or "").replace("|", "\\|").replace("\n", " ")[:80]
        lines.append(
            f"| {r.task_id} | {r.attempt} | {r.status} | {r.reward:g} | {r.turns} | {r.tokens} | "
            f"{r.duration_s:.1f} | {err} |"
        )
    lines += egress_section(results)
    warnings_file = run_dir / "task_warnings.json"
    if warnings_file.exists():  # unknown keys in Terminal-Bench / Harbor task files
        lines += ["", "## Task file warnings", "", "| task | warning |", "| --- | --- |"]
        for task_id, found in sorted(json.loads(warnings_file.read_text()).items()):
            lines += ["| " + task_id + " | " + w.replace("|", "\\|") + " |" for w in found]
    if drawn:
        lines += [""] + [f"![{name}]({path.name})" for name, path in drawn.items()]
    else:
        lines += ["", f"Plots: `ale bench report {run_dir}` draws them."]
    out = run_dir / "report.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def egress_section(results: list[AttemptResult]) -> list[str]:
    """Per task, the connection attempts its sandbox's egress policy refused (a policy trying
    to reach what it may not, or a task whose allowlist misses a host): tasks with any."""
    refused: dict[str, list[int]] = defaultdict(list)
    allowed: dict[str, int] = defaultdict(int)
    for r in results:
        if r.egress:
            refused[r.task_id].append(int(r.egress.get("refused", 0)))
            allowed[r.task_id] += int(r.egress.get("allowed", 0))
    if not refused:
        return []
    lines = [
        "",
        "## Egress: refused connection attempts",
        "",
        "Per attempt, from `audit/ID__aN.jsonl` (tasks with a network allowlist; a refusal is the"
        " agent reaching for a host its policy does not allow, or a task missing one).",
        "",
        "| task | refused (per attempt) | refused | allowed |",
        "| --- | --- | ---: | ---: |",
    ]
    for task_id, counts in sorted(refused.items(), key=lambda kv: (-sum(kv[1]), kv[0])):
        per = ", ".join(str(c) for c in counts)
        lines.append(f"| {task_id} | {per} | {sum(counts)} | {allowed[task_id]} |")
    return lines


def compare(run_a: Path, run_b: Path) -> list[tuple[str, str, str]]:
    """(task, status in A, status in B) for every task whose first-attempt status differs."""
    a = {t: rs[0].status for t, rs in by_task(RunStore(run_a).results()).items()}
    b = {t: rs[0].status for t, rs in by_task(RunStore(run_b).results()).items()}
    return [
        (t, a.get(t, "-"), b.get(t, "-")) for t in sorted(set(a) | set(b)) if a.get(t) != b.get(t)
    ]
