"""The seed's recipe on the toy task, end to end on CPU, over several seeds:

    nice -n 10 python3 -m rl.recipes.sft_toy --seeds 3

Per seed: the scripted `ToyTeacher` plays every toy task at several quality levels (failed
episodes included) through the agents' loop -> `ale data build` (default filters: resolved,
clean, unique; text turns tokenized by the toy policy's replay) -> `ale sft` stage 1 then
stage 2 -> `ale train` IPA from that checkpoint (`model.init_from`) with the dataset as its
expert source (`rollout.expert_data`). Baselines: `ale sft` stage 1 only for as many steps
as stages 1 + 2 (equal updates), IPA from a random init with at least the pipeline's total
compute, and stage 2 without its loss factor (difficulty x success x novelty only). Prints a
markdown table (mean and std over seeds) and writes it to OUT/table.md.

Compute is counted in token passes: a forward pass over one token is 1, a backward pass 2. An
SFT step costs 3 x its tokens (and each stage-2 epoch 1 x the dataset's, to measure the
losses); an IPA step (k = `trainer.update_epochs`) costs (1 + 1 + 3k) x its tokens (sampling
them, the old log-probs, k updates). IPA from scratch runs enough steps to reach the
pipeline's total at the pipeline's IPA cost per step; its episodes from scratch are longer, so
it gets more compute than that, never less. Evaluation is not counted.
"""

from __future__ import annotations

import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium

import envs  # noqa: F401  (registers ale/ToyShell-v0)
from agents.config import AgentConfig
from agents.loop import run_episode
from envs.toy import task_ids
from rl.config import TrainConfig, parse_config
from rl.data.build import DataConfig, build_dataset
from rl.dataclass_cli import parse_args
from rl.sft.config import SFTConfig, parse_sft_config
from rl.sft.train import sft
from rl.toy.teacher import ToyTeacher
from rl.train_loop import train


@dataclass
class Args:
    """Seeds x (teacher data, SFT stages, IPA); defaults are the README's table."""

    seeds: int = 3
    first_seed: int = 0
    out: str = "runs/sft_toy"
    qualities: str = "1.0,0.7,0.4,0.1"
    """Teacher quality levels (comma-separated); low ones fail most episodes."""
    attempts: int = 2
    """Episodes per task and quality level."""
    stage1: int = 60
    stage2: int = 60
    ipa: int = 15
    starts: int = 16
    group_size: int = 4
    eval_episodes: int = 64
    threads: int = 1


MODEL = {"kind": "tiny_lm", "dim": 64, "layers": 3, "heads": 4}
TASK = {"kind": "toy", "max_turns": 8}


def collect(out: Path, qualities: Sequence[float], attempts: int, seed: int) -> list[Path]:
    """One trajectory file per teacher quality: every task, `attempts` times."""
    agent = AgentConfig.load("toy", overrides=["limits.max_turns=8", "context.keep_last_turns=8"])
    env = gymnasium.make("ale/ToyShell-v0", max_turns=8)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for q in qualities:
        rng = random.Random(seed * 1000 + int(q * 100))
        path = out / f"teacher_q{q:g}.jsonl"
        path.unlink(missing_ok=True)
        for _ in range(attempts):
            for t in task_ids():
                run_episode(env, agent, ToyTeacher(q, rng), t, trajectory_path=path)
        files.append(path)
    env.close()
    return files


def sft_config(
    args: Args, data: Path, out: Path, seed: int, s1: int, s2: int, loss_exp: float = 1.0
) -> SFTConfig:
    return parse_sft_config(
        {
            "run": {
                "out_dir": str(out),
                "seed": seed,
                "threads": args.threads,
                "progress": False,
                "checkpoint_every": 0,
            },
            "task": TASK,
            "model": MODEL,
            "data": {"path": str(data)},
            "optim": {"lr": 0.003, "batch_size": 16, "micro_batch": 16},
            "stage1": {"steps": s1},
            "stage2": {"steps": s2, "loss_exp": loss_exp},
            "eval": {"every": 10_000, "episodes": args.eval_episodes},
        }
    )


def ipa_config(
    args: Args, data: Path, out: Path, seed: int, steps: int, init: Path | None
) -> TrainConfig:
    model: dict[str, Any] = {**MODEL, "init_from": str(init) if init else None}
    return parse_config(
        {
            "run": {
                "out_dir": str(out),
                "seed": seed,
                "steps": steps,
                "threads": args.threads,
                "progress": False,
                "checkpoint_every": 0,
            },
            "task": TASK,
            "model": model,
            "scheduler": {"workers": 2, "envs_per_worker": args.starts * args.group_size // 2},
            "rollout": {
                "starts": args.starts,
                "group_size": args.group_size,
                "expert_data": str(data),
            },
            "trainer": {"lr": 0.003, "update_epochs": 2, "micro_batch": 16},
            "eval": {"every": steps, "episodes": args.eval_episodes},
        }
    )


def sft_compute(history: list[dict[str, Any]]) -> float:
    return sum(3 * r.get("tokens", 0) + r.get("stage2/measured_tokens", 0) for r in history)


def ipa_compute(cfg: TrainConfig, history: list[dict[str, Any]]) -> float:
    per_token = 2 + 3 * cfg.trainer.update_epochs
    return sum(per_token * r.get("tokens", 0) for r in history)


def run_seed(args: Args, seed: int) -> dict[str, float]:
    root = Path(args.out) / f"seed{seed}"
    t0 = time.perf_counter()
    files = collect(
        root / "teacher", [float(q) for q in args.qualities.split(",")], args.attempts, seed
    )
    data = root / "data"
    summary = build_dataset(files, data, DataConfig(tokenizer="toy"))
    a = sft(sft_config(args, data, root / "sft", seed, args.stage1, args.stage2))
    b = sft(sft_config(args, data, root / "sft_stage1_only", seed, args.stage1 + args.stage2, 0))
    c = sft(sft_config(args, data, root / "sft_no_loss", seed, args.stage1, args.stage2, 0.0))
    cfg = ipa_config(args, data, root / "ipa_from_sft", seed, args.ipa, root / "sft")
    ipa = train(cfg, progress=False)
    spent = sft_compute(a.history) + ipa_compute(cfg, ipa.history)
    per_step = ipa_compute(cfg, ipa.history) / max(args.ipa, 1)
    scratch_steps = math.ceil(spent / per_step)
    cfg0 = ipa_config(args, data, root / "ipa_scratch", seed, scratch_steps, None)
    scratch = train(cfg0, progress=False)
    return {
        "episodes": float(summary.total),
        "kept": float(summary.kept),
        "stage1": float(a.stage1_success or 0.0),
        "stage2": float(a.final_success or 0.0),
        "stage1_only": float(b.final_success or 0.0),
        "stage2_no_loss": float(c.final_success or 0.0),
        "ipa": float(ipa.final_success or 0.0),
        "scratch": float(scratch.final_success or 0.0),
        "scratch_steps": float(scratch_steps),
        "compute_pipeline": spent,
        "compute_scratch": ipa_compute(cfg0, scratch.history),
        "wall_s": time.perf_counter() - t0,
    }


ROWS = [
    ("teacher episodes -> kept by `ale data build`", "episodes", "kept"),
    ("success after SFT stage 1", "stage1", None),
    ("success after SFT stage 2", "stage2", None),
    ("success after IPA from the stage-2 checkpoint", "ipa", None),
    ("IPA from scratch, >= the same total compute", "scratch", None),
    ("SFT stage 1 only, as many steps as stages 1 + 2", "stage1_only", None),
    ("SFT stage 2 without the loss factor (`stage2.loss_exp: 0`)", "stage2_no_loss", None),
]


def _ms(values: list[float], digits: int = 2) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def table(args: Args, results: list[dict[str, float]]) -> str:
    """Markdown: one row per measurement, mean ± std over seeds and the per-seed values."""
    lines = ["| measurement | mean ± std | per seed |", "|---|---|---|"]
    for name, key, second in ROWS:
        vals = [r[key] for r in results]
        if second is not None:
            other = [r[second] for r in results]
            per = ", ".join(f"{v:.0f} -> {o:.0f}" for v, o in zip(vals, other, strict=True))
            lines.append(f"| {name} | {statistics.mean(other):.1f} kept | {per} |")
            continue
        lines.append(f"| {name} | {_ms(vals)} | {', '.join(f'{v:.2f}' for v in vals)} |")
    steps = ", ".join(f"{r['scratch_steps']:.0f}" for r in results)
    comp = ", ".join(
        f"{r['compute_pipeline'] / 1e6:.1f}M vs {r['compute_scratch'] / 1e6:.1f}M" for r in results
    )
    lines.append(
        f"\nSteps: SFT {args.stage1} + {args.stage2} (batch 16), IPA {args.ipa} "
        f"({args.starts} x {args.group_size} episodes); IPA from scratch {steps} steps. Compute "
        f"(token passes, pipeline vs scratch): {comp}. Success = from scratch (no expert "
        f"prefix), {args.eval_episodes} sampled episodes; {len(results)} seeds."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(Args, argv, __doc__ or "")
    results = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        r = run_seed(args, seed)
        print(f"seed {seed}: " + " ".join(f"{k}={v:.3g}" for k, v in r.items()), flush=True)
        results.append(r)
    text = table(args, results)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "table.md").write_text(text + "\n")
    print(f"args: {asdict(args)}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
