"""`OpenAIPolicy`: any OpenAI-compatible chat endpoint (vLLM, `ale serve`, a hosted API).

Uses the official `openai` SDK. Native tool calling when `tools` are passed, else text
actions. Transient errors (connection, timeout, 429, 5xx) are retried with exponential
backoff and jitter; others raise `PolicyError` with the server's message. Log-probs are
requested and recorded when the server returns them; with `token_ids` (vLLM's and
`ale serve`'s `return_token_ids` extension) the exact prompt and response ids too.

Spec: `openai:MODEL@http://127.0.0.1:8000/v1` (API key from `$OPENAI_API_KEY`, else "EMPTY").
"""

from __future__ import annotations

import os
import random
import time
from typing import Any
from urllib.parse import urlparse

from agents.errors import PolicyError
from agents.policies.base import EpisodeContext, PolicyOutput, register_policy


class OpenAIPolicy:
    """Chat completions over HTTP; see the module docstring."""

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        sampling: Any | None = None,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        timeout_s: float = 600.0,
        logprobs: bool = True,
        token_ids: bool | None = None,
        name: str | None = None,
    ) -> None:
        import openai

        self.model = model
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY", "EMPTY"),
            max_retries=0,
            timeout=timeout_s,
        )
        self.sampling = sampling
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.logprobs = logprobs
        host = urlparse(base_url or "https://api.openai.com").hostname or ""
        self.token_ids = token_ids if token_ids is not None else not host.endswith("openai.com")
        self.name = name or f"openai:{model}"
        self.retries = 0

    def start_episode(self, context: EpisodeContext) -> None:
        return None

    def _request(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        guided_choice: list[str] | None,
    ) -> dict[str, Any]:
        s = self.sampling
        kw: dict[str, Any] = {"model": self.model, "messages": messages}
        extra: dict[str, Any] = {}
        if s is not None:
            kw.update(temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens)
            if s.seed is not None:
                kw["seed"] = s.seed
            if getattr(s, "stop", None):
                kw["stop"] = list(s.stop)
            if getattr(s, "top_k", None) is not None:
                extra["top_k"] = s.top_k
        if tools:
            kw["tools"] = tools
        if self.logprobs:
            kw["logprobs"] = True
        if self.token_ids:
            extra["return_token_ids"] = True
        if guided_choice:
            extra["guided_choice"] = list(guided_choice)
        if extra:
            kw["extra_body"] = extra
        return kw

    def _call(self, kw: dict[str, Any]) -> Any:
        import openai

        transient = (
            openai.APIConnectionError,
            openai.APITimeoutError,
            openai.RateLimitError,
            openai.InternalServerError,
        )
        for attempt in range(self.max_retries + 1):
            try:
                return self.client.chat.completions.create(**kw)
            except transient as exc:
                if attempt == self.max_retries:
                    raise PolicyError(
                        f"{self.name}: giving up after {attempt + 1} tries: {exc}"
                    ) from exc
                self.retries += 1
                time.sleep(self.backoff_s * (2**attempt) * (0.5 + random.random()))
            except openai.BadRequestError as exc:
                msg = str(exc)
                if self.logprobs and "logprob" in msg:
                    self.logprobs = False  # the server does not do log-probs: go on without
                    kw.pop("logprobs", None)
                    continue
                raise PolicyError(f"{self.name}: the server rejected the request: {msg}") from exc
            except openai.APIStatusError as exc:
                raise PolicyError(f"{self.name}: HTTP {exc.status_code}: {exc.message}") from exc
        raise PolicyError(f"{self.name}: no response")

    def act(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        guided_choice: list[str] | None = None,
    ) -> PolicyOutput:
        resp = self._call(self._request(messages, tools, guided_choice))
        if not resp.choices:
            raise PolicyError(f"{self.name}: the server returned no choices")
        choice = resp.choices[0]
        msg = choice.message
        calls = [c.model_dump() for c in msg.tool_calls] if msg.tool_calls else None
        lps = None
        if choice.logprobs is not None and choice.logprobs.content is not None:
            lps = [float(t.logprob) for t in choice.logprobs.content]
        extra_c = getattr(choice, "model_extra", None) or {}
        extra_r = getattr(resp, "model_extra", None) or {}
        usage = {
            "prompt_tokens": resp.usage.prompt_tokens if resp.usage else 0,
            "completion_tokens": resp.usage.completion_tokens if resp.usage else 0,
        }
        return PolicyOutput(
            text=msg.content or "",
            tool_calls=calls,
            prompt_ids=extra_r.get("prompt_token_ids"),
            response_ids=extra_c.get("token_ids"),
            logprobs=lps,
            finish_reason=choice.finish_reason or "stop",
            usage=usage,
            prompt_mode="render" if extra_r.get("prompt_token_ids") is not None else None,
            extra={"model": resp.model, "id": resp.id},
        )


def parse_openai_spec(arg: str) -> tuple[str, str | None]:
    """`MODEL@URL` -> (model, url); a bare MODEL uses the SDK's default URL ($OPENAI_BASE_URL)."""
    model, sep, url = arg.rpartition("@") if "@" in arg else (arg, "", "")
    if not model:
        raise PolicyError(f"openai spec {arg!r}: write openai:MODEL@http://host:port/v1")
    return model, (url or None) if sep else None


def _factory(arg: str | None, **options: Any) -> OpenAIPolicy:
    if not arg:
        raise PolicyError("write openai:MODEL@http://host:port/v1")
    model, url = parse_openai_spec(arg)
    return OpenAIPolicy(model, url, **options)


register_policy("openai", _factory)
