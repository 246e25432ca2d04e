"""The policy trainer: accelerate, gradient accumulation over packed trajectories, offloading.

One `train_step(trajectories)` = recompute log pi_old for the whole batch, then
`update_epochs` optimizer steps, each accumulating gradients over micro-batches of
`micro_batch` packed trajectories. Micro-batch i's loss is scaled by C_i / C (its share of the
batch's chunks), so with the per-chunk-mean loss the accumulated gradient equals the
full-batch gradient (tests/rl/test_train_trainer.py checks it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from accelerate import Accelerator
from torch import nn

from agents.engines.local import module_logits
from agents.engines.offload import ModuleOffloader, OptimizerOffloader
from rl.algos import LossConfig, compute_loss
from rl.config import TrainerConfig
from rl.packing import PackedBatch, Trajectory, pack, token_logprobs


class Trainer:
    """Owns the trainable model, its optimizer and LR schedule, and the policy version.

    `version` counts optimizer updates published by SYNC: it is the number of `train_step`
    calls so far (each step yields one new policy).
    """

    def __init__(
        self,
        model: nn.Module,
        settings: TrainerConfig,
        loss: str,
        loss_cfg: LossConfig,
        pad_id: int = 0,
        cpu: bool = True,
    ) -> None:
        self.settings = settings
        self.loss, self.loss_cfg, self.pad_id = loss, loss_cfg, pad_id
        self.accelerator = Accelerator(cpu=cpu)
        opt = torch.optim.AdamW(
            model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
        )
        warm = max(settings.warmup_steps, 0)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / warm) if warm else 1.0
        )
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(model, opt, sched)
        self.version = 0
        self._logits = module_logits(self.model)
        self._model_off = ModuleOffloader(self.model, self.accelerator.device)
        self._opt_off = OptimizerOffloader(self.optimizer, self.accelerator.device)

    @property
    def unwrapped(self) -> nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def logprobs(self, batch: PackedBatch) -> torch.Tensor:
        """log pi_theta of every token of `batch`, (B, L); no gradient."""
        self.model.eval()
        with torch.no_grad():
            return token_logprobs(self._logits, batch)

    def micro_batches(self, trajs: Sequence[Trajectory]) -> list[PackedBatch]:
        """Consecutive groups of `micro_batch` trajectories, each packed (one row each)."""
        n = max(self.settings.micro_batch, 1)
        return [pack(list(trajs[i : i + n]), self.pad_id) for i in range(0, len(trajs), n)]

    def train_step(self, trajs: Sequence[Trajectory]) -> dict[str, float]:
        """Update on `trajs`; returns the last epoch's metrics. Bumps `version` by one."""
        if not trajs:
            raise ValueError("train_step needs at least one trajectory")
        self.onload()
        micro = self.micro_batches(trajs)
        old = [self.logprobs(b) for b in micro]
        total_chunks = sum(b.chunk_traj.shape[0] for b in micro)
        metrics: dict[str, float] = {}
        self.model.train()
        for _ in range(self.settings.update_epochs):
            self.optimizer.zero_grad()
            loss_sum = 0.0
            sums: dict[str, float] = {}
            for batch, logp_old in zip(micro, old, strict=True):
                share = batch.chunk_traj.shape[0] / total_chunks
                logp = token_logprobs(self._logits, batch)
                out = compute_loss(self.loss, batch.chunk_batch(logp, logp_old), self.loss_cfg)
                self.accelerator.backward(out.loss * share)
                loss_sum += float(out.loss.detach()) * share
                for k, v in out.metrics.items():
                    sums[k] = sums.get(k, 0.0) + v * share
            grad_norm = self.accelerator.clip_grad_norm_(
                self.model.parameters(), self.settings.max_grad_norm
            )
            self.optimizer.step()
            metrics = {"loss": loss_sum, "grad_norm": float(grad_norm), **sums}
        self.scheduler.step()
        self.version += 1
        metrics["lr"] = float(self.scheduler.get_last_lr()[0])
        metrics["micro_batches"] = float(len(micro))
        return metrics

    def weights(self) -> dict[str, torch.Tensor]:
        """The state dict SYNC sends to the engine (detached; on the trainer's device)."""
        return {k: v.detach() for k, v in self.unwrapped.state_dict().items()}

    def offload(self) -> None:
        """Free the model and optimizer memory while the engine rolls out (colocated mode)."""
        self._model_off.offload()
        self._opt_off.offload()

    def onload(self) -> None:
        self._model_off.restore()
        self._opt_off.restore()

    def state(self) -> dict[str, object]:
        """Everything a checkpoint needs from the trainer."""
        self.onload()
        return {
            "model": self.unwrapped.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "version": self.version,
        }

    def load_state(self, state: dict[str, object]) -> None:
        self.onload()
        self.unwrapped.load_state_dict(state["model"])  # type: ignore[arg-type]
        self.optimizer.load_state_dict(state["optimizer"])  # type: ignore[arg-type]
        self.scheduler.load_state_dict(state["scheduler"])  # type: ignore[arg-type]
        self.version = int(state["version"])  # type: ignore[call-overload]
