"""`LocalEngine`: an in-process engine over any torch module that returns logits, no KV cache.

It runs the toy TinyLM (`rl.toy.model`) and, as a cache-free reference, a transformers causal
LM (engine kind "hf_local"; the KV-cached engine is `agents.engines.hf_engine.HFEngine`). It
samples token by token from the module's logits at temperature T (greedy at T = 0; top-k /
top-p are not applied, so log mu is the exact log-probability of the sampling distribution at
T = 1) and records log mu. The engine owns its own copy of the weights: the trainer's updates
reach it only by SYNC.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from agents.engines.base import EngineError, Generation, Sampling, finish_reason
from agents.engines.offload import ModuleOffloader, SleepableEngine

#: (ids (B, L) int64, attention (B, L) bool) -> logits (B, L, V)
LogitsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def module_logits(model: nn.Module) -> LogitsFn:
    """A logits function for TinyLM (called as `model(ids, attention)`) or a transformers
    causal LM (called with `attention_mask` and positions counted over real tokens, so left
    and right padding give the same logits)."""
    if hasattr(model, "config") and hasattr(model, "generate"):

        def hf(ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
            pos = (attention.long().cumsum(-1) - 1).clamp(min=0)
            return model(
                input_ids=ids, attention_mask=attention.long(), position_ids=pos, use_cache=False
            ).logits

        return hf
    return lambda ids, attention: model(ids, attention)


class LocalEngine(SleepableEngine):
    """A rollout engine that runs `model` in this process on `device`.

    Thread-safe: `generate`, `update_weights`, `sleep` and `wake` take one lock, so a
    background rollout thread and the trainer's SYNC never interleave inside a call.
    """

    kind = "local"

    def __init__(
        self, model: nn.Module, pad_id: int = 0, device: str = "cpu", copy_model: bool = True
    ) -> None:
        self.model = (copy.deepcopy(model) if copy_model else model).to(device).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.pad_id = pad_id
        self.device = torch.device(device)
        self.version = 0
        self._logits = module_logits(self.model)
        self._offload = ModuleOffloader(self.model, self.device)
        self._lock = threading.RLock()

    @torch.no_grad()
    def generate(
        self, prompts: Sequence[Sequence[int]], sampling: Sampling, seed: int | None = None
    ) -> list[Generation]:
        """Sample one response per prompt, all prompts batched (rows left-padded)."""
        seed = sampling.seed if seed is None else seed
        stops = frozenset(sampling.stop_token_ids)
        with self._lock:
            self._check_awake()
            gen = torch.Generator(device="cpu")
            if seed is not None:
                gen.manual_seed(seed)
            else:
                gen.seed()
            seqs = [list(p) for p in prompts]
            outs: list[tuple[list[int], list[float]]] = [([], []) for _ in prompts]
            alive = list(range(len(prompts)))
            for _ in range(sampling.max_tokens):
                if not alive:
                    break
                ids, att = _left_pad([seqs[i] for i in alive], self.pad_id, self.device)
                logits = self._logits(ids, att)[:, -1].float().cpu()
                if sampling.temperature == 0:
                    tokens = logits.argmax(-1)
                    logp = torch.log_softmax(logits, dim=-1)
                else:
                    logp = torch.log_softmax(logits / sampling.temperature, dim=-1)
                    tokens = torch.multinomial(logp.exp(), 1, generator=gen).squeeze(1)
                picked = logp.gather(1, tokens[:, None]).squeeze(1)
                still = []
                for r, i in enumerate(alive):
                    tok = int(tokens[r])
                    seqs[i].append(tok)
                    outs[i][0].append(tok)
                    outs[i][1].append(float(picked[r]))
                    if tok not in stops:
                        still.append(i)
                alive = still
            return [
                Generation(list(p), ids, lps, finish_reason(ids, stops), self.version)
                for p, (ids, lps) in zip(prompts, outs, strict=True)
            ]

    @torch.no_grad()
    def score(
        self, prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]]
    ) -> list[list[float]]:
        """log p(response token | prompt, earlier response tokens) under the engine's weights."""
        with self._lock:
            self._check_awake()
            rows = [list(p) + list(r) for p, r in zip(prompt_ids, response_ids, strict=True)]
            ids, att = _left_pad(rows, self.pad_id, self.device)
            logp = torch.log_softmax(self._logits(ids, att).float(), dim=-1).cpu()
            out = []
            width = ids.shape[1]
            for r, (p, resp) in enumerate(zip(prompt_ids, response_ids, strict=True)):
                start = width - len(rows[r]) + len(p)
                out.append([float(logp[r, start + j - 1, t]) for j, t in enumerate(resp)])
            return out

    def update_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> None:
        """Copy the trainer's weights in (SYNC); `version` must not go backwards."""
        with self._lock:
            self._check_sync(version)
            missing, unexpected = self.model.load_state_dict(
                {k: v.detach().to(self.device) for k, v in state_dict.items()}, strict=False
            )
            if unexpected or [k for k in missing if not k.endswith("inv_freq")]:
                raise EngineError(
                    f"state dict does not fit the engine's model: missing "
                    f"{missing[:3]}, unexpected {unexpected[:3]}"
                )
            self.version = version


def _left_pad(
    rows: Sequence[Sequence[int]], pad: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    att = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r) :] = torch.tensor(list(r), dtype=torch.long)
            att[i, width - len(r) :] = True
    return ids.to(device), att.to(device)
