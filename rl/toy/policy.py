"""`ToyPolicy`: the word-level chat layout of the toy task as an agents `TokenPolicy`.

    <bos> statement <act> action <eos> <obs> output <act> action <eos> <obs> ...

The first user message (the task statement) opens the stream; each assistant turn is the
sampled ids (ending with `<eos>`) or, for a replayed demonstration turn, its words + `<eos>`;
each later user message (an observation) is `<obs> words <act>`. System messages have no slot
in this layout and are skipped. Prompts are append-only: sampled ids are never re-tokenized, so
an episode is one token row; a context policy that drops or edits earlier messages is an error
(give the toy agent a context that keeps every turn).
"""

from __future__ import annotations

from typing import Any

from agents.engines.base import Engine, Sampling
from agents.errors import PolicyError
from agents.policies.base import EpisodeContext, PolicyOutput
from rl.toy.model import WordTokenizer


class ToyPolicy:
    """Samples toy actions with any `Engine` over the `WordTokenizer` vocabulary; without an
    engine (`engine=None`) it only tokenizes demonstration turns (`replay`)."""

    name = "toy"

    def __init__(self, engine: Engine | None, tok: WordTokenizer, sampling: Sampling) -> None:
        self.engine, self.tok, self.sampling = engine, tok, sampling
        self._ids: list[int] = []
        self._messages: list[dict[str, Any]] = []

    def start_episode(self, context: EpisodeContext) -> None:
        self._ids, self._messages = [], []

    def _message_ids(self, message: dict[str, Any], first: bool) -> list[int]:
        words = self.tok.encode(str(message.get("content") or ""))
        if message.get("role") == "assistant":
            return [*words, self.tok.eos]
        if message.get("role") == "system":
            return []
        return (
            [self.tok.bos, *words, self.tok.act] if first else [self.tok.obs, *words, self.tok.act]
        )

    def _prompt(self, messages: list[dict[str, Any]]) -> list[int]:
        """The stream so far + the ids of the messages after the last assistant turn."""
        seen = len(self._messages)
        if messages[:seen] != self._messages:
            raise ValueError(
                "the toy layout is append-only: the agent's context policy dropped or changed "
                "earlier turns (keep every turn: context.keep_last_turns >= max_turns)"
            )
        ids = list(self._ids)
        for m in messages[seen:]:
            ids += self._message_ids(m, first=not ids)
        return ids

    def _extend(
        self, messages: list[dict[str, Any]], prompt: list[int], response: list[int], text: str
    ) -> None:
        self._ids = prompt + response
        self._messages = [*messages, {"role": "assistant", "content": text}]

    def act(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> PolicyOutput:
        if self.engine is None:
            raise PolicyError("the toy policy has no engine; it only replays turns")
        prompt = self._prompt(messages)
        [gen] = self.engine.generate([prompt], self.sampling)
        text = self.tok.decode(gen.response_ids)
        self._extend(messages, prompt, gen.response_ids, text)
        return PolicyOutput(
            text=text,
            prompt_ids=prompt,
            response_ids=gen.response_ids,
            logprobs=gen.logprobs,
            finish_reason=gen.finish_reason,
            usage={"prompt_tokens": len(prompt), "completion_tokens": len(gen.response_ids)},
            policy_version=gen.policy_version,
            prompt_mode="append",
        )

    def replay(self, messages: list[dict[str, Any]], response: str) -> tuple[list[int], list[int]]:
        """`TokenPolicy.replay`: a demonstration turn's words + `<eos>` join the stream."""
        prompt = self._prompt(messages)
        ids = [*self.tok.encode(response), self.tok.eos]
        self._extend(messages, prompt, ids, response)
        return prompt, ids
