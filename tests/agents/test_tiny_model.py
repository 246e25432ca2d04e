"""The tiny local model is deterministic and is a real chat model (template, tokenizer, EOS)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from agents.tiny_model import ensure_tiny_model


def _digest(path: Path) -> dict[str, str]:
    return {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(path.iterdir())
        if f.name in ("model.safetensors", "tokenizer.json", "config.json")
    }


def test_build_is_deterministic_and_loadable(tiny_path: Path, tmp_path: Path) -> None:
    again = ensure_tiny_model(tmp_path / "again")
    assert _digest(again) == _digest(tiny_path) and len(_digest(again)) == 3
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_path))
    text = tok.apply_chat_template(
        [{"role": "user", "content": "héllo ✓ `ls -la`"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert text == "<|im_start|>user\nhéllo ✓ `ls -la`<|im_end|><|im_start|>assistant\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text and ids[0] == 1 and 2 in ids  # byte-level: any text round-trips
    assert ensure_tiny_model(tiny_path) == tiny_path  # cached: no rebuild
