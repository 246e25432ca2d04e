"""Policy models the trainer can build locally (nothing is downloaded)."""

from __future__ import annotations

from typing import Literal

from torch import nn

from rl.toy.model import TinyLM

ModelKind = Literal["tiny_lm", "hf_llama", "hf_path"]


def build_model(
    kind: ModelKind,
    vocab_size: int,
    dim: int = 64,
    layers: int = 3,
    heads: int = 4,
    max_len: int = 160,
    path: str | None = None,
) -> nn.Module:
    """ "tiny_lm": `TinyLM`; "hf_llama": a randomly initialised transformers `LlamaForCausalLM`
    of the given size (float32); "hf_path": `AutoModelForCausalLM.from_pretrained(path)`."""
    if kind == "tiny_lm":
        return TinyLM(vocab_size, dim, layers, heads, max_len)
    if kind == "hf_llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        cfg = LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=dim,
            intermediate_size=4 * dim,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            max_position_embeddings=max(max_len, 256),
            tie_word_embeddings=False,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            attn_implementation="eager",
        )  # type: ignore[call-arg]
        return LlamaForCausalLM(cfg)
    if kind == "hf_path":
        if not path:
            raise ValueError("model.kind 'hf_path' needs model.path (a saved HF model folder)")
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(path)
    raise ValueError(f"unknown model kind {kind!r}; use tiny_lm, hf_llama or hf_path")
