"""Benchmark: a packed training step (one row per trajectory) vs one row per chunk.

    python -m bench.perf.packing                 # K = 2, 8, 32 chunks per trajectory
    python -m bench.perf.packing --ks 8 --repeats 5

Both layouts run the same loss on the same chunks (they are equal, see tests/rl/test_packing.py);
a step is forward + IPA loss + backward + Adam. The per-chunk layout is micro-batched with as
many rows per forward call as the packed layout has, so it makes K forward calls where packing
makes one. Each layout trains its own copy of one model (same initial weights); the two are
timed in alternating order (ABBA, `--repeats` rounds of one step each, after an untimed
warm-up step of each; `bench.perf.method`). Printed: the method line and machine load, forward
calls, rows (sequences) and tokens processed, median (min-max) wall time per step, and the
per-chunk / packed time ratio. No timing is asserted.
"""

from __future__ import annotations

import copy
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch

from bench.perf.method import Method, OpCount, Samples, alternate, check_repeats
from rl.algos import LossConfig, compute_loss
from rl.dataclass_cli import parse_args
from rl.packing import Chunk, PackedBatch, Trajectory, pack, per_chunk, token_logprobs
from rl.toy.model import TinyLM


@dataclass
class PackingArgs:
    """Sizes of the synthetic batch and the model (the toy recipe's model by default)."""

    ks: str = "2,8,32"
    trajectories: int = 4
    prompt_tokens: int = 12
    action_tokens: int = 4
    obs_tokens: int = 8
    dim: int = 64
    layers: int = 3
    repeats: int = 4
    """Rounds of the ABBA order (>= 2), one timed step per layout per round."""
    threads: int = 1
    seed: int = 0


def synthetic(args: PackingArgs, k: int, vocab: int) -> list[Trajectory]:
    rng = random.Random(args.seed)

    def tokens(n: int) -> list[int]:
        return [rng.randrange(6, vocab) for _ in range(n)]

    return [
        Trajectory(
            [1, *tokens(args.prompt_tokens - 1)],
            [
                Chunk(
                    tokens(args.action_tokens), [-1.0] * args.action_tokens, tokens(args.obs_tokens)
                )
                for _ in range(k)
            ],
            reward=float(n % 2),
            group=n,
        )
        for n in range(args.trajectories)
    ]


def split_rows(batch: PackedBatch, rows: int) -> list[PackedBatch]:
    """Micro-batches of `rows` rows; chunk and source tables are shared (ids stay global)."""
    out = []
    for i in range(0, batch.input_ids.shape[0], rows):
        part = slice(i, i + rows)
        width = int(batch.attention[part].sum(1).max())
        out.append(
            PackedBatch(
                batch.input_ids[part, :width],
                batch.attention[part, :width],
                batch.chunk_id[part, :width],
                batch.logp_rollout[part, :width],
                batch.chunk_traj,
                batch.chunk_pos,
                batch.chunk_expert,
                batch.traj_reward,
                batch.traj_len,
                batch.traj_group,
            )
        )
    return out


def step(
    model: TinyLM, opt: torch.optim.Optimizer, parts: list[PackedBatch], ops: OpCount | None = None
) -> None:
    """One optimizer step over micro-batches. With chunk aggregation and global chunk ids each
    part's loss is (sum over its chunks) / C, so the parts' losses add up to the full loss.
    `ops` counts forward calls, real tokens, policy (loss) tokens and optimizer steps."""
    opt.zero_grad()
    for part in parts:
        logp = token_logprobs(model, part)
        compute_loss("ipa", part.chunk_batch(logp, logp.detach()), LossConfig()).loss.backward()
        if ops is not None:
            ops.add("forward")
            ops.add("tokens", part.num_tokens)
            ops.add("policy tokens", int((part.chunk_id >= 0).sum()))  # what the loss trains
    opt.step()
    if ops is not None:
        ops.add("optimizer step")


def layouts(args: PackingArgs, k: int, vocab: int) -> dict[str, list[PackedBatch]]:
    """{layout: its micro-batches} over the same `k`-chunk trajectories."""
    trajs = synthetic(args, k, vocab)
    return {
        "packed": [pack(trajs)],
        "per-chunk": split_rows(per_chunk(trajs), args.trajectories),
    }


def measure(
    model: TinyLM, sides: dict[str, list[PackedBatch]], repeats: int
) -> tuple[dict[str, Samples], dict[str, OpCount]]:
    """Per layout: step times (ABBA order, a copy of `model` each) and the timed ops."""
    models = {name: copy.deepcopy(model) for name in sides}
    opts = {name: torch.optim.Adam(m.parameters(), lr=1e-4) for name, m in models.items()}
    for name, parts in sides.items():  # untimed warm-up of each
        step(models[name], opts[name], parts)
    ops = {name: OpCount() for name in sides}

    def timed(name: str) -> float:
        start = time.perf_counter()
        step(models[name], opts[name], sides[name], ops[name])
        return time.perf_counter() - start

    got = alternate({name: partial(timed, name) for name in sides}, repeats)
    return {name: Samples(v) for name, v in got.items()}, ops


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(PackingArgs, argv, __doc__ or "")
    check_repeats(args.repeats)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    vocab = 40
    print(Method(("packed", "per-chunk"), args.repeats, unit="one training step").line())
    print(
        f"{'K':>3} {'layout':>9} {'fwd calls':>9} {'rows':>5} {'tokens':>7} {'padded':>7} "
        f"{'step ms median (min-max)':>26} {'ratio':>6}"
    )
    for k in (int(x) for x in args.ks.split(",")):
        sides = layouts(args, k, vocab)
        length = args.prompt_tokens + k * (args.action_tokens + args.obs_tokens)
        model = TinyLM(vocab, args.dim, args.layers, 4, max_len=length)
        times, _ = measure(model, sides, args.repeats)
        for name, parts in sides.items():
            real = sum(p.num_tokens for p in parts)
            padded = sum(p.input_ids.numel() for p in parts)
            n_rows = sum(p.input_ids.shape[0] for p in parts)
            ratio = times["per-chunk"].median / times["packed"].median
            cell = f"{ratio:6.2f}" if name == "per-chunk" else f"{'1.00':>6}"
            print(
                f"{k:>3} {name:>9} {len(parts):>9} {n_rows:>5} {real:>7} {padded:>7} "
                f"{times[name].text(1e3, 1):>26} {cell}",
                flush=True,
            )
    print("ratio = per-chunk step time / packed step time (medians; same run, model and chunks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
