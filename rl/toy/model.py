"""A word-level tokenizer and a tiny causal transformer, built locally (nothing downloaded)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

SPECIALS: tuple[str, ...] = ("<pad>", "<bos>", "<eos>", "<unk>", "<obs>", "<act>")


class WordTokenizer:
    """Whitespace-split words -> ids over a fixed vocabulary; specials first (`<pad>` = 0).

    Chat layout used by the recipes: `<bos> statement <act> action <eos> <obs> output <act> ...`
    """

    def __init__(self, words: Sequence[str]) -> None:
        vocab = list(SPECIALS) + [w for w in dict.fromkeys(words) if w not in SPECIALS]
        self.vocab = vocab
        self.index = {w: i for i, w in enumerate(vocab)}
        self.pad, self.bos, self.eos, self.unk, self.obs, self.act = (
            self.index[s] for s in SPECIALS
        )

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """Ids of the words of `text`; unknown words map to `<unk>`."""
        return [self.index.get(w, self.unk) for w in text.split()]

    def decode(self, ids: Sequence[int]) -> str:
        """Words of `ids` joined by spaces, stopping at `<eos>`; other specials are dropped."""
        words = []
        for i in ids:
            if i == self.eos:
                break
            if i >= len(SPECIALS):
                words.append(self.vocab[i])
        return " ".join(words)


KV = tuple[torch.Tensor, torch.Tensor]
"""Cached (keys, values) of one block, each (B, heads, P, D/heads)."""


def _rotate(x: torch.Tensor, rot: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotary position embedding (Su et al. 2021, the "rotate half" layout: dimension i pairs
    with i + Dh/2) of x (B, H, L, Dh) with (cos, sin) (B, 1, L, Dh/2)."""
    cos, sin = rot
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class Block(nn.Module):
    """Pre-LayerNorm transformer block with causal self-attention."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        rot: tuple[torch.Tensor, torch.Tensor],
        past: KV | None = None,
    ) -> tuple[torch.Tensor, KV]:
        """x (B, L, D) new tokens, mask (B, 1, L, P + L) bool (True = may attend; P = cached
        tokens), rot = rotary (cos, sin) of the new tokens, each (B, 1, L, D/heads/2),
        past = cached (keys, values), each (B, heads, P, D/heads) -> ((B, L, D), (keys, values)
        of all P + L tokens)."""
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (
            _rotate(q.transpose(1, 2), rot),
            _rotate(k.transpose(1, 2), rot),
            v.transpose(1, 2),
        )
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.ln2(x)), (k, v)


@dataclass
class KVCache:
    """Keys and values of every layer for the tokens seen so far (sampling only).

    layers: one (keys, values) per block, each (B, heads, P, D/heads); attention (B, P) bool
    (False = padding); next_pos (B,) int64, the rotary position of each row's next token.
    """

    layers: list[KV]
    attention: torch.Tensor
    next_pos: torch.Tensor


class TinyLM(nn.Module):
    """A causal LM of a few hundred K parameters with rotary positions; padding may sit on
    either side of a row.

    Positions count real tokens only (cumsum of the attention mask), so a left-padded row (the
    sampler) and a right-padded row (the trainer) give the same logits.
    """

    inv_freq: torch.Tensor

    def __init__(
        self, vocab_size: int, dim: int = 64, layers: int = 3, heads: int = 4, max_len: int = 160
    ) -> None:
        super().__init__()
        self.max_len = max_len
        self.tok = nn.Embedding(vocab_size, dim)
        half = dim // heads // 2
        self.register_buffer("inv_freq", 10_000.0 ** (-torch.arange(half) / half), persistent=False)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab_size, bias=False)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)
        for block in self.blocks:
            assert isinstance(block, Block)
            nn.init.normal_(block.proj.weight, std=0.02 / math.sqrt(2 * layers))

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """ids (B, L) int64, attention (B, L) bool (False = padding) -> logits (B, L, V)."""
        return self.prefill(ids, attention)[0]

    def prefill(self, ids: torch.Tensor, attention: torch.Tensor) -> tuple[torch.Tensor, KVCache]:
        """Like `forward`, and also the cache that `decode` continues from."""
        if ids.shape[1] > self.max_len:
            raise ValueError(f"sequence of {ids.shape[1]} tokens exceeds max_len={self.max_len}")
        pos = (attention.long().cumsum(-1) - 1).clamp(min=0)
        n = ids.shape[1]
        causal = torch.ones(n, n, dtype=torch.bool, device=ids.device).tril()
        eye = torch.eye(n, dtype=torch.bool, device=ids.device)
        mask = ((causal & attention[:, None, :]) | eye)[:, None]
        logits, layers = self._run(ids, pos, mask, None)
        return logits, KVCache(layers, attention, attention.long().sum(-1))

    def decode(self, ids: torch.Tensor, cache: KVCache) -> tuple[torch.Tensor, KVCache]:
        """One new token per row, ids (B, 1), after `cache` -> (logits (B, 1, V), new cache).
        Equal (up to float rounding) to `forward` on the whole sequence, last position."""
        if cache.attention.shape[1] + 1 > self.max_len:
            raise ValueError(f"sequence exceeds max_len={self.max_len}")
        attention = torch.cat([cache.attention, torch.ones_like(cache.attention[:, :1])], dim=1)
        logits, layers = self._run(
            ids, cache.next_pos[:, None], attention[:, None, None, :], cache.layers
        )
        return logits, KVCache(layers, attention, cache.next_pos + 1)

    def _run(
        self, ids: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor, past: list[KV] | None
    ) -> tuple[torch.Tensor, list[KV]]:
        """ids (B, L), rotary positions pos (B, L), mask (B, 1, L, P + L) -> logits, new KV."""
        angles = pos[:, None, :, None].to(torch.float32) * self.inv_freq
        rot = (angles.cos(), angles.sin())
        x = self.tok(ids)
        layers: list[KV] = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, mask, rot, None if past is None else past[i])
            layers.append(kv)
        return self.head(self.ln(x)), layers


def num_parameters(model: nn.Module) -> int:
    """Trainable parameter count."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
