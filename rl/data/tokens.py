"""An episode as one token stream with its policy-token mask.

Ids a policy recorded (`ChunkRecord.prompt_ids` / `response_ids`: exactly what the engine was
fed and sampled) are used as they are, never re-tokenized. An episode recorded as text only
(the oracle, an API model) is tokenized by a replay-only `TokenPolicy` (`tokenizer:` of the
data config): `policy.replay(chunk.messages, chunk.response)` per chunk, the same call RL's
expert-prefix replay makes, so the ids are those the policy would have fed and produced.

The stream is `prompt_ids` of the first chunk, then for each chunk its response ids (mask 1)
and the ids its successor's prompt adds (mask 0: observation and chat-template tokens). An
episode whose prompts are not append-only (a context policy cut the history) has no single
stream and is left out (filter `one_stream`). Forced submits (the harness's, not the policy's)
are not part of the stream.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agents.engines.base import Sampling
from agents.policies.base import EpisodeContext, TokenPolicy
from agents.trajectory import EpisodeRecord


def replay_policy(tokenizer: str) -> TokenPolicy:
    """A replay-only policy for `tokenizer`: "toy" (the toy task's word layout), "tiny" (the
    local tiny chat model), or a transformers model / tokenizer folder."""
    if tokenizer == "toy":
        from envs.toy import VOCAB
        from rl.toy.model import WordTokenizer
        from rl.toy.policy import ToyPolicy

        return ToyPolicy(None, WordTokenizer(VOCAB), Sampling())
    from transformers import AutoTokenizer

    from agents.policies.hf import HFPolicy

    path = tokenizer
    if tokenizer == "tiny":
        from agents.tiny_model import ensure_tiny_model

        path = str(ensure_tiny_model())
    return HFPolicy(None, AutoTokenizer.from_pretrained(path), name=f"replay:{tokenizer}")


def policy_chunks(record: EpisodeRecord) -> EpisodeRecord:
    """`record` without the harness's forced submit chunks."""
    return replace(record, chunks=[c for c in record.chunks if not c.forced])


def has_ids(record: EpisodeRecord) -> bool:
    return bool(record.chunks) and all(
        c.prompt_ids is not None and c.response_ids is not None for c in record.chunks
    )


def tokenize(record: EpisodeRecord, policy: TokenPolicy) -> EpisodeRecord:
    """A copy of `record` whose chunks carry the ids `policy.replay` gives their text turns."""
    policy.start_episode(EpisodeContext(task_id=record.task_id, instruction=record.instruction))
    chunks = []
    for c in record.chunks:
        prompt, response = policy.replay(list(c.messages), c.response)
        chunks.append(replace(c, prompt_ids=prompt, response_ids=response, logprobs=None))
    return replace(record, chunks=chunks)


def stream(record: EpisodeRecord) -> tuple[list[int], list[int]] | None:
    """(input ids, policy-token mask) of the episode's one token stream, or None."""
    out = record.token_stream()
    if out is None or not any(out[1]):
        return None
    return out[0], out[1]


def conversation(record: EpisodeRecord) -> list[dict[str, Any]]:
    """The chat messages of the whole episode (role and text content), TRL's `messages`: the
    last chunk's prompt messages plus its response."""
    if not record.chunks:
        return []
    last = record.chunks[-1]
    msgs = [*last.messages, {"role": "assistant", "content": last.response}]
    return [{"role": str(m.get("role")), "content": str(m.get("content") or "")} for m in msgs]
