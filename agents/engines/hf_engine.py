"""`HFEngine`: token-in/token-out generation with a transformers causal LM (CPU or GPU).

The RL trainer reuses this engine for rollouts and weight sync, so it knows nothing about
chat, text or tools::

    engine = HFEngine.from_pretrained(path)               # or HFEngine(model, eos_token_ids=[2])
    [(response_ids, logprobs)] = engine.generate([prompt_ids], EngineSampling(temperature=1.0))
    engine.load_state_dict(trainer_model.state_dict())    # SYNC: new weights, version += 1

`generate(prompt_ids: list[list[int]], sampling)` takes B prompts (ragged lengths; left
padded internally with a matching attention mask and position ids) and returns, per prompt,
the sampled ids (generation stops at an EOS id, which is included, or at `max_tokens`) and
one log-prob per sampled id. Log-probs are natural-log probabilities under the *raw* model
distribution (log_softmax of the logits at temperature 1, before temperature / top-k / top-p
/ guided masks), i.e. what a trainer's teacher-forced forward pass computes; float32.

`guided` (optional, per prompt) restricts decoding to a set of token sequences (vLLM's
`guided_choice`): at each step only tokens that continue one of them are allowed.
`trace` (when `record=True`) keeps, per generated sequence, the exact ids fed from the input
tensor (padding removed) and the sampled ids: the token-parity tests read it.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class EngineSampling:
    """Sampling parameters. `temperature == 0` is greedy; `top_k`/`top_p` as in HF/vLLM."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None
    max_tokens: int = 256
    seed: int | None = None
    stop_token_ids: list[int] = field(default_factory=list)

    @classmethod
    def from_config(cls, cfg: Any, **overrides: Any) -> EngineSampling:
        """From `agents.config.Sampling` (or anything with the same attributes)."""
        vals = {
            k: getattr(cfg, k)
            for k in ("temperature", "top_p", "top_k", "max_tokens", "seed")
            if hasattr(cfg, k)
        }
        vals.update(overrides)
        return cls(**vals)


Generation = tuple[list[int], list[float]]


def _cache_of(out: Any) -> Any:
    return (
        getattr(out, "cache", None)
        if getattr(out, "cache", None) is not None
        else out.past_key_values
    )


class HFEngine:
    """Token-level sampler over a `transformers` causal LM; see the module docstring."""

    def __init__(
        self, model: Any, eos_token_ids: list[int], pad_token_id: int = 0, record: bool = False
    ) -> None:
        self.model = model.eval()
        self.eos_token_ids = list(eos_token_ids)
        self.pad_token_id = pad_token_id
        self.version = 0
        self.trace: list[tuple[list[int], list[int]]] | None = [] if record else None
        params = inspect.signature(self.model.forward).parameters
        #: transformers >= 5.2x names the KV cache argument `cache`, older ones `past_key_values`.
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike[str],
        device: str = "cpu",
        dtype: str = "float32",
        record: bool = False,
    ) -> HFEngine:
        """Load a model directory (HF format); EOS/pad ids come from its generation config."""
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=getattr(torch, dtype)).to(
            device
        )
        gen = model.generation_config
        eos = gen.eos_token_id if gen.eos_token_id is not None else model.config.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        pad = gen.pad_token_id if gen.pad_token_id is not None else (eos_ids[0] if eos_ids else 0)
        return cls(model, eos_ids, int(pad), record=record)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def load_state_dict(
        self, state_dict: dict[str, torch.Tensor], version: int | None = None
    ) -> int:
        """Weight sync: copy `state_dict` into the engine's model (strict); returns the new version."""
        self.model.load_state_dict(state_dict, strict=True)
        self.version = self.version + 1 if version is None else version
        return self.version

    # -- generation -------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        prompt_ids: list[list[int]],
        sampling: EngineSampling | None = None,
        guided: Sequence[Sequence[list[int]] | None] | None = None,
    ) -> list[Generation]:
        """Sample one continuation per prompt; returns [(response_ids, logprobs)] (see module doc)."""
        sampling = sampling or EngineSampling()
        if not prompt_ids or any(len(p) == 0 for p in prompt_ids):
            raise ValueError("generate needs at least one prompt and every prompt needs >= 1 token")
        dev = self.device
        bsz, width = len(prompt_ids), max(len(p) for p in prompt_ids)
        ids = torch.full((bsz, width), self.pad_token_id, dtype=torch.long, device=dev)
        mask = torch.zeros((bsz, width), dtype=torch.long, device=dev)
        for b, p in enumerate(prompt_ids):
            ids[b, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[b, width - len(p) :] = 1
        fed = [ids[b][mask[b] == 1].tolist() for b in range(bsz)]
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        gen = torch.Generator(device=dev)
        if sampling.seed is not None:
            gen.manual_seed(sampling.seed)
        else:
            gen.seed()
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True)
        past, logits = _cache_of(out), out.logits[:, -1, :]
        stops = set(self.eos_token_ids) | set(sampling.stop_token_ids)
        done = [False] * bsz
        resp: list[list[int]] = [[] for _ in range(bsz)]
        lps: list[list[float]] = [[] for _ in range(bsz)]
        last_pos = pos[:, -1]
        for _ in range(sampling.max_tokens):
            raw = torch.log_softmax(logits.float(), dim=-1)
            scores = self._process(logits.float(), sampling)
            if guided is not None:
                scores = self._guide(scores, resp, guided)
            if sampling.temperature == 0:
                tok = scores.argmax(-1)
            else:
                tok = torch.multinomial(torch.softmax(scores, -1), 1, generator=gen).squeeze(-1)
            for b in range(bsz):
                if not done[b]:
                    t = int(tok[b])
                    resp[b].append(t)
                    lps[b].append(float(raw[b, t]))
                    done[b] = t in stops or self._guide_complete(resp[b], guided, b)
            if all(done):
                break
            mask = torch.cat([mask, torch.ones((bsz, 1), dtype=mask.dtype, device=dev)], dim=1)
            last_pos = last_pos + 1
            out = self.model(
                input_ids=tok[:, None],
                attention_mask=mask,
                position_ids=last_pos[:, None],
                use_cache=True,
                **{self._cache_kw: past},
            )
            past, logits = _cache_of(out), out.logits[:, -1, :]
        if self.trace is not None:
            self.trace += [(fed[b], list(resp[b])) for b in range(bsz)]
        return list(zip(resp, lps, strict=False))

    @staticmethod
    def _process(logits: torch.Tensor, s: EngineSampling) -> torch.Tensor:
        """Temperature, then top-k, then top-p (nucleus) on (B, V) logits."""
        if s.temperature == 0:
            return logits
        scores = logits / s.temperature
        if s.top_k is not None and s.top_k < scores.shape[-1]:
            kth = torch.topk(scores, s.top_k, dim=-1).values[:, -1:]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        if s.top_p < 1.0:
            sorted_s, idx = torch.sort(scores, descending=True, dim=-1)
            probs = torch.softmax(sorted_s, -1)
            drop = probs.cumsum(-1) - probs > s.top_p  # keep the smallest set with mass >= top_p
            sorted_s = sorted_s.masked_fill(drop, float("-inf"))
            scores = torch.full_like(scores, float("-inf")).scatter(-1, idx, sorted_s)
        return scores

    def _guide(
        self,
        scores: torch.Tensor,
        resp: list[list[int]],
        guided: Sequence[Sequence[list[int]] | None],
    ) -> torch.Tensor:
        allowed = torch.zeros_like(scores, dtype=torch.bool)
        for b, choices in enumerate(guided):
            if choices is None:
                allowed[b] = True
                continue
            n = len(resp[b])
            nxt = {c[n] for c in choices if len(c) > n and c[:n] == resp[b]}
            if not nxt:
                nxt = set(self.eos_token_ids[:1])
            allowed[b, list(nxt)] = True
        return scores.masked_fill(~allowed, float("-inf"))

    @staticmethod
    def _guide_complete(
        resp: list[int], guided: Sequence[Sequence[list[int]] | None] | None, b: int
    ) -> bool:
        if guided is None or guided[b] is None:
            return False
        return any(resp == c for c in guided[b] or [])

    @torch.no_grad()
    def forward_logprobs(self, prompt_ids: list[int], response_ids: list[int]) -> list[float]:
        """Teacher-forced log-probs of `response_ids` after `prompt_ids` (one forward pass)."""
        seq = torch.tensor([prompt_ids + response_ids], dtype=torch.long, device=self.device)
        logits = self.model(input_ids=seq).logits[0].float()
        lp = torch.log_softmax(logits[len(prompt_ids) - 1 : -1], dim=-1)
        return (
            lp.gather(-1, torch.tensor(response_ids, device=self.device)[:, None])
            .squeeze(-1)
            .tolist()
        )
