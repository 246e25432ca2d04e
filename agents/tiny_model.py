"""A tiny local chat model (random init) with a real byte-level BPE tokenizer, built offline.

No weights can be downloaded here, so tests and demos use this: a 2-layer Llama-style
causal LM (hidden 64) and a byte-level BPE tokenizer (vocab 512) trained on a fixed built-in
corpus, with a ChatML-style chat template. Building is deterministic (fixed corpus, fixed
seed): the same files every time. `ensure_tiny_model()` builds once into
`ale_home()/models/tiny` (or `path`) and returns the directory, loadable with
`AutoModelForCausalLM.from_pretrained` / `AutoTokenizer.from_pretrained`.

The template is append-only: `<|im_start|>{role}\\n{content}<|im_end|>` per message with no
separator, so a conversation's ids are the previous prompt + sampled ids + the new messages'
ids (the HF policy's "append" prompt mode relies on this; it checks and falls back anyway).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from envs.rock.home import ale_home

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n# Tools\n{{ tools | tojson }}<|im_end|>{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] or '' }}"
    "{% if m.get('tool_calls') %}{% for c in m['tool_calls'] %}<tool_call>{{ c['function'] | tojson }}</tool_call>"
    "{% endfor %}{% endif %}<|im_end|>{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
VERSION = 1


def _corpus() -> list[str]:
    words = [
        "cd",
        "ls",
        "test",
        "edit",
        "cat",
        "alpha",
        "beta",
        "gamma",
        "delta",
        "main",
        "util",
        "core",
        "io",
        "task",
        "fix",
        "the",
        "failing",
        "in",
        "repo",
        "ok",
        "error",
        "no",
        "such",
        "command",
        "here",
        "file",
        "tests",
        "FAIL",
        "PASS",
        "edited",
        "git",
        "diff",
        "apply",
        "patch",
        "python",
        "pytest",
        "import",
        "def",
        "return",
        "class",
        "self",
        "print",
        "submit",
        "bash",
        "function",
        "parameter",
        "command",
        "path",
        "view",
        "create",
        "str_replace",
        "old_str",
        "new_str",
        "the",
        "a",
        "to",
        "of",
        "and",
        "is",
        "for",
        "you",
        "are",
        "an",
        "expert",
        "software",
        "engineer",
        "working",
        "repository",
        "issue",
        "output",
        "exit_code",
        "turns",
        "left",
        "reply",
        "with",
        "your",
        "reasoning",
        "then",
        "exactly",
        "one",
        "call",
        "tool",
        "name",
        "arguments",
        "json",
        "xml",
        "block",
        "fenced",
    ]
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 5)]
    lines += [
        "<function=bash>\n<parameter=command>\nls -la\n</parameter>\n</function>",
        '```json\n{"name": "bash", "arguments": {"command": "ls"}}\n```',
        "```bash\ngit diff\n```",
        "def f(x):\n    return x + 1\n",
        "$ echo hello world > /tmp/a.txt",
    ]
    return lines * 20


def build_tokenizer(vocab_size: int = 512):  # -> PreTrainedTokenizerFast
    """Train the byte-level BPE on the built-in corpus (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(
    vocab_size: int, seed: int = 0, hidden: int = 64, layers: int = 2
):  # -> LlamaForCausalLM
    """A random-init Llama-style causal LM (float32), deterministic for a given seed."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=2,
        pad_token_id=0,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg).to(torch.float32)


def default_path() -> Path:
    return ale_home() / "models" / "tiny"


def ensure_tiny_model(path: str | os.PathLike[str] | None = None) -> Path:
    """Build the tiny model into `path` (default `ale_home()/models/tiny`) unless present; return it."""
    out = Path(path) if path is not None else default_path()
    stamp = out / "ale_tiny.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("version") == VERSION:
        return out
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer()
    special = tok.convert_tokens_to_ids(SPECIAL)
    if special != [0, 1, 2]:
        raise RuntimeError(f"tiny tokenizer special ids are {special}, expected [0, 1, 2]")
    model = build_model(len(tok))
    model.generation_config.eos_token_id = 2
    model.generation_config.pad_token_id = 0
    model.save_pretrained(out)
    tok.save_pretrained(out)
    stamp.write_text(json.dumps({"version": VERSION, "vocab_size": len(tok)}))
    return out
