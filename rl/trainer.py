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
        metrics["tokens"] = float(sum(b.num_tokens for b in micro))
        return metrics

    def sft_step(self, micro: Sequence[tuple[PackedBatch, torch.Tensor]]) -> dict[str, float]:
        """One supervised update (`ale sft`): weighted NLL of the policy tokens (`chunk_id >= 0`)
        of each micro-batch with its per-row weights (B,), accumulated to the whole step's
        loss (`rl.sft.loss.weighted_nll`). Bumps `version` by one."""
        from rl.sft.loss import weighted_nll

        if not micro:
            raise ValueError("sft_step needs at least one micro-batch")
        self.onload()
        total = sum(int((b.chunk_id >= 0).sum()) for b, _ in micro)
        self.model.train()
        self.optimizer.zero_grad()
        loss_sum = 0.0
        for batch, weight in micro:
            logp = token_logprobs(self._logits, batch)
            loss = weighted_nll(logp, batch.chunk_id >= 0, weight.to(logp.device), total)
            self.accelerator.backward(loss)
            loss_sum += float(loss.detach())
        grad_norm = self.accelerator.clip_grad_norm_(
            self.model.parameters(), self.settings.max_grad_norm
        )
        self.optimizer.step()
        self.scheduler.step()
        self.version += 1
        return {
            "loss": loss_sum,
            "grad_norm": float(grad_norm),
            "lr": float(self.scheduler.get_last_lr()[0]),
            "tokens": float(sum(b.num_tokens for b, _ in micro)),
            "policy_tokens": float(total),
        }

    def sample_losses(self, batch: PackedBatch) -> torch.Tensor:
        """(B,) each row's mean NLL per policy token under the current weights; no gradient."""
        from rl.sft.loss import per_sample_nll

        return per_sample_nll(self.logprobs(batch), batch.chunk_id >= 0).cpu()

    def load_model(self, state_dict: dict[str, torch.Tensor], source: str) -> None:
        """Start from the weights of another run (`model.init_from`); a mismatch is a
        `ConfigError` naming the fix."""
        from envs.core.config import ConfigError

        self.onload()
        try:
            self.unwrapped.load_state_dict(state_dict)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0:2]
            raise ConfigError(
                f"model.init_from {source}: its weights do not fit this model "
                f"({' '.join(s.strip() for s in first)}); give this config the model section "
                "of the run that wrote the checkpoint"
            ) from None

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
