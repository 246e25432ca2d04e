"""`HFEngine`: token-in/token-out generation with a transformers causal LM (CPU or GPU).

The one transformers engine: policies wrap it (`agents.policies.hf.HFPolicy`, `ale serve`) and
RL rollouts sample with it (engine kind "hf"); it implements `agents.engines.base.Engine`::

    engine = HFEngine.from_pretrained(path)               # or HFEngine(model, eos_token_ids=[2])
    [gen] = engine.generate([prompt_ids], Sampling(temperature=1.0, max_tokens=64))
    gen.response_ids, gen.logprobs, gen.finish_reason
    engine.update_weights(trainer_model.state_dict(), version=1)   # SYNC
    engine.sleep(); engine.wake()                          # offload / restore the weights

`generate(prompts: list[list[int]], sampling, seed=None)` takes B prompts (ragged lengths;
left padded internally with a matching attention mask and position ids) and returns, per
prompt, a `Generation`: the sampled ids (generation stops at an EOS or stop id, which is
included, or at `max_tokens`) and one log-prob per sampled id. Log-probs are natural-log
probabilities under the *raw* model distribution (log_softmax of the logits at temperature 1,
before temperature / top-k / top-p / guided masks), i.e. what a trainer's teacher-forced
forward pass computes; float32.

`guided` (optional, per prompt) restricts decoding to a set of token sequences (vLLM's
`guided_choice`): at each step only tokens that continue one of them are allowed.
`trace` (when `record=True`) keeps, per generated sequence, the exact ids fed from the input
tensor (padding removed) and the sampled ids: the token-parity tests read it.
"""

from __future__ import annotations

import copy
import inspect
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from agents.engines.base import Generation, Sampling, finish_reason
from agents.engines.offload import ModuleOffloader, SleepableEngine


def _cache_of(out: Any) -> Any:
    return (
        getattr(out, "cache", None)
        if getattr(out, "cache", None) is not None
        else out.past_key_values
    )


class HFEngine(SleepableEngine):
    """Token-level sampler over a `transformers` causal LM; see the module docstring.

    `copy_model=True` samples with a private copy of `model` (RL: the trainer's updates reach
    the engine only by SYNC). Thread-safe: `generate`, `score`, `update_weights`, `sleep` and
    `wake` take one lock.
    """

    kind = "hf"

    def __init__(
        self,
        model: Any,
        eos_token_ids: Sequence[int] = (),
        pad_token_id: int = 0,
        record: bool = False,
        copy_model: bool = False,
        device: str | torch.device | None = None,
    ) -> None:
        own = copy.deepcopy(model) if copy_model else model
        if device is not None:
            own = own.to(device)
        self.model = own.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.eos_token_ids = list(eos_token_ids)
        self.pad_token_id = pad_token_id
        self.version = 0
        self.trace: list[tuple[list[int], list[int]]] | None = [] if record else None
        params = inspect.signature(self.model.forward).parameters
        #: transformers >= 5.2x names the KV cache argument `cache`, older ones `past_key_values`.
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._offload = ModuleOffloader(self.model, next(self.model.parameters()).device)
        self._lock = threading.RLock()

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
        """Where the weights live while awake."""
        return self._offload.device

    def update_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> None:
        """SYNC: copy `state_dict` into the engine's model (strict); `version` must not go back."""
        with self._lock:
            self._check_sync(version)
            self.model.load_state_dict({k: v.detach() for k, v in state_dict.items()}, strict=True)
            self.version = version

    # -- generation -------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        sampling: Sampling,
        seed: int | None = None,
        guided: Sequence[Sequence[list[int]] | None] | None = None,
    ) -> list[Generation]:
        """Sample one continuation per prompt (see the module docstring)."""
        if not prompts or any(len(p) == 0 for p in prompts):
            raise ValueError("generate needs at least one prompt and every prompt needs >= 1 token")
        with self._lock:
            self._check_awake()
            seed = sampling.seed if seed is None else seed
            outs = self._generate([list(p) for p in prompts], sampling, seed, guided)
        stops = frozenset(self.eos_token_ids) | frozenset(sampling.stop_token_ids)
        return [
            Generation(list(p), ids, lps, finish_reason(ids, stops), self.version)
            for p, (ids, lps) in zip(prompts, outs, strict=True)
        ]

    @torch.no_grad()
    def _generate(
        self,
        prompt_ids: list[list[int]],
        sampling: Sampling,
        seed: int | None,
        guided: Sequence[Sequence[list[int]] | None] | None,
    ) -> list[tuple[list[int], list[float]]]:
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
        if seed is not None:
            gen.manual_seed(seed)
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
    def _process(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
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

    def score(
        self, prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]]
    ) -> list[list[float]]:
        """log p(response token | prompt, earlier response tokens), one forward pass per row."""
        with self._lock:
            self._check_awake()
            return [
                self.forward_logprobs(list(p), list(r))
                for p, r in zip(prompt_ids, response_ids, strict=True)
            ]

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
