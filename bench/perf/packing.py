"""Benchmark: a packed training step (one row per trajectory) vs one row per chunk.

    python -m bench.perf.packing                 # K = 2, 8, 32 chunks per trajectory
    python -m bench.perf.packing --ks 8 --repeats 5

Both layouts run the same loss on the same chunks (they are equal, see tests/rl/test_packing.py);
a step is forward + IPA loss + backward + Adam. The per-chunk layout is micro-batched with as
many rows per forward call as the packed layout has, so it makes K forward calls where packing
makes one. Printed: forward calls, rows (sequences) and tokens processed, median wall time
per step, and the per-chunk / packed time ratio from the same run. No timing is asserted.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

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
    repeats: int = 3
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


def step(model: TinyLM, opt: torch.optim.Optimizer, parts: list[PackedBatch]) -> None:
    """One optimizer step over micro-batches. With chunk aggregation and global chunk ids each
    part's loss is (sum over its chunks) / C, so the parts' losses add up to the full loss."""
    opt.zero_grad()
    for part in parts:
        logp = token_logprobs(model, part)
        compute_loss("ipa", part.chunk_batch(logp, logp.detach()), LossConfig()).loss.backward()
    opt.step()


def measure(model: TinyLM, parts: list[PackedBatch], repeats: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    step(model, opt, parts)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(model, opt, parts)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(PackingArgs, argv, __doc__ or "")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    vocab = 40
    print(
        f"{'K':>3} {'layout':>9} {'fwd calls':>9} {'rows':>5} {'tokens':>7} {'padded':>7} "
        f"{'step ms':>8} {'ratio':>6}"
    )
    for k in (int(x) for x in args.ks.split(",")):
        trajs = synthetic(args, k, vocab)
        length = args.prompt_tokens + k * (args.action_tokens + args.obs_tokens)
        model = TinyLM(vocab, args.dim, args.layers, 4, max_len=length)
        packed = [pack(trajs)]
        rows = split_rows(per_chunk(trajs), args.trajectories)
        t_packed = measure(model, packed, args.repeats)
        t_rows = measure(model, rows, args.repeats)
        for name, parts, t in (("packed", packed, t_packed), ("per-chunk", rows, t_rows)):
            real = sum(p.num_tokens for p in parts)
            padded = sum(p.input_ids.numel() for p in parts)
            n_rows = sum(p.input_ids.shape[0] for p in parts)
            ratio = f"{t_rows / t_packed:6.2f}" if name == "per-chunk" else f"{'1.00':>6}"
            print(
                f"{k:>3} {name:>9} {len(parts):>9} {n_rows:>5} {real:>7} {padded:>7} "
                f"{t * 1e3:>8.1f} {ratio}",
                flush=True,
            )
    print("ratio = per-chunk step time / packed step time (same run, same model and chunks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
