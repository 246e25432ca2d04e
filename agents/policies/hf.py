"""`HFPolicy`: a chat policy on top of a token-level engine (`HFEngine`, CPU or GPU; RL rollouts
pass their rollout engine).

Prompt ids are built in one of two modes and reported exactly as fed (`PolicyOutput.prompt_mode`):

* `append` (default): when the new messages extend the previous call's messages by the
  assistant turn it produced plus new messages, the prompt is `previous prompt ids +
  sampled ids + ids of the rendered new messages`. The sampled ids are never re-tokenized,
  so an episode is one token stream with exact policy/observation boundaries. The mode is
  used only after checking that the chat template renders the same text for that prefix;
  otherwise (context policy dropped turns, length-cut response) it falls back to `render`.
* `render`: the chat template over all messages, tokenized once.

Specs: `hf:PATH` (a model directory) and `tiny` (the local tiny model, built on first use).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from agents.actions import parse_tool_calls
from agents.engines.base import Engine, Sampling
from agents.engines.hf_engine import HFEngine
from agents.errors import PolicyError
from agents.policies.base import EpisodeContext, PolicyOutput, register_policy


class HFPolicy:
    """Chat template + a token-level `Engine`; see the module docstring.

    `eos_token_ids` end a turn (default: the `HFEngine`'s own, else the tokenizer's EOS).
    Guided choice (`act(..., guided_choice=...)`) needs an `HFEngine`. Without an engine
    (`engine=None`) the policy only tokenizes: `replay` works, `act` is an error (`ale data
    build` tokenizes recorded text turns that way).
    """

    def __init__(
        self,
        engine: Engine | None,
        tokenizer: Any,
        sampling: Sampling | None = None,
        prompt_mode: str = "append",
        name: str = "hf",
        eos_token_ids: Sequence[int] | None = None,
    ) -> None:
        if prompt_mode not in ("append", "render"):
            raise ValueError(f"prompt_mode {prompt_mode!r}: choose 'append' or 'render'")
        self.engine = engine
        self.tokenizer = tokenizer
        if eos_token_ids is None:
            eos = tokenizer.eos_token_id
            own = engine.eos_token_ids if isinstance(engine, HFEngine) else []
            eos_token_ids = own or ([int(eos)] if eos is not None else [])
        self.eos_token_ids = list(eos_token_ids)
        self.sampling = sampling or Sampling(temperature=0.0, max_tokens=256)
        self.prompt_mode = prompt_mode
        self.name = name
        self._last: dict[str, Any] | None = None

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike[str],
        sampling: Sampling | None = None,
        device: str = "cpu",
        prompt_mode: str = "append",
        record: bool = False,
        name: str | None = None,
    ) -> HFPolicy:
        """Load engine and tokenizer from a model directory."""
        from transformers import AutoTokenizer

        engine = HFEngine.from_pretrained(path, device=device, record=record)
        tok = AutoTokenizer.from_pretrained(str(path))
        return cls(engine, tok, sampling, prompt_mode, name or f"hf:{os.fspath(path)}")

    # -- prompts ------------------------------------------------------------------------
    def render(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        generation_prompt: bool,
    ) -> str:
        """The chat template's text for `messages`."""
        return str(
            self.tokenizer.apply_chat_template(
                messages, tools=tools, tokenize=False, add_generation_prompt=generation_prompt
            )
        )

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_ids_for(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> tuple[list[int], str]:
        """(ids the engine will be fed for `messages`, "append" | "render")."""
        full = self.render(messages, tools, True)
        last = self._last
        if (
            self.prompt_mode == "append"
            and last is not None
            and last["finish_reason"] == "stop"
            and last["tools"] == tools
        ):
            prev = last["messages"]
            n = len(prev)
            if (
                messages[:n] == prev
                and len(messages) > n + 1
                and messages[n].get("role") == "assistant"
                and messages[n].get("content") == last["text"]
                and not messages[n].get("tool_calls")
            ):
                prefix = self.render(messages[: n + 1], tools, False)
                ids = last["prompt_ids"] + last["response_ids"]
                if full.startswith(prefix) and self.tokenizer.decode(ids) == prefix:
                    return ids + self.encode(full[len(prefix) :]), "append"
        return self.encode(full), "render"

    def count_tokens(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> int:
        """Prompt length in tokens, exactly as `act` would feed it."""
        return len(self.prompt_ids_for(messages, tools)[0])

    # -- Policy -------------------------------------------------------------------------
    def start_episode(self, context: EpisodeContext) -> None:
        self._last = None

    def act(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        guided_choice: list[str] | None = None,
    ) -> PolicyOutput:
        """Sample one turn; `guided_choice` restricts the reply to one of the given texts (+ EOS)."""
        if self.engine is None:
            raise PolicyError(f"{self.name}: this policy has no engine; it only replays turns")
        prompt_ids, mode = self.prompt_ids_for(messages, tools)
        if guided_choice:
            if not isinstance(self.engine, HFEngine):
                raise TypeError("guided_choice needs an HFEngine")
            eos = self.eos_token_ids[0]
            guided = [[self.encode(c) + [eos] for c in guided_choice]]
            [gen] = self.engine.generate([prompt_ids], self.sampling, guided=guided)
        else:
            [gen] = self.engine.generate([prompt_ids], self.sampling)
        resp, lps = gen.response_ids, gen.logprobs
        finish = "stop" if resp and resp[-1] in self.eos_token_ids else "length"
        body = resp[:-1] if finish == "stop" else resp
        text = self.tokenizer.decode(body)
        self._remember(messages, tools, prompt_ids, resp, text, finish)
        return PolicyOutput(
            text=text,
            tool_calls=parse_tool_calls(text) if tools else None,
            prompt_ids=prompt_ids,
            response_ids=resp,
            logprobs=lps,
            finish_reason=finish,
            usage={"prompt_tokens": len(prompt_ids), "completion_tokens": len(resp)},
            policy_version=gen.policy_version,
            prompt_mode=mode,
        )

    def replay(self, messages: list[dict[str, Any]], response: str) -> tuple[list[int], list[int]]:
        """`TokenPolicy.replay`: the prompt ids `act` would feed, and `response` + EOS as if it
        had been sampled (the next prompt appends to them when the template allows)."""
        prompt_ids, _ = self.prompt_ids_for(messages, None)
        resp = self.encode(response) + self.eos_token_ids[:1]
        self._remember(messages, None, prompt_ids, resp, response, "stop")
        return prompt_ids, resp

    def _remember(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        prompt_ids: list[int],
        response_ids: list[int],
        text: str,
        finish: str,
    ) -> None:
        self._last = {
            "messages": list(messages),
            "tools": tools,
            "prompt_ids": prompt_ids,
            "response_ids": response_ids,
            "text": text,
            "finish_reason": finish,
        }


def _hf_factory(arg: str | None, **options: Any) -> HFPolicy:
    if not arg:
        raise ValueError("write hf:PATH (a transformers model directory)")
    return HFPolicy.from_pretrained(arg, **options)


def _tiny_factory(arg: str | None, **options: Any) -> HFPolicy:
    from agents.tiny_model import ensure_tiny_model

    return HFPolicy.from_pretrained(ensure_tiny_model(arg or None), name="tiny", **options)


register_policy("hf", _hf_factory)
register_policy("tiny", _tiny_factory)
