"""`ale serve`: an OpenAI-compatible chat server backed by `HFEngine` (the CPU twin of vLLM).

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` (non-streaming, n=1). Supported
request fields: messages, tools, temperature (default 1.0), top_p, max_tokens /
max_completion_tokens, seed, stop_token_ids, logprobs (per-token log-probs of the sampled
tokens; `top_logprobs` alternatives are returned empty), and the vLLM extensions
`top_k`, `guided_choice` (list of strings) and `return_token_ids` (adds `prompt_token_ids`
to the response and `token_ids` to the choice: exactly the ids fed and sampled).
A reply holding `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` while `tools` were
sent is returned as a tool call (`finish_reason="tool_calls"`).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from agents.actions import parse_tool_calls
from agents.engines.base import Sampling
from agents.engines.hf_engine import HFEngine


def create_app(engine: HFEngine, tokenizer: Any, model_name: str) -> Any:
    """The FastAPI app serving `engine` under the model id `model_name`."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import JSONResponse

    app = FastAPI(title="ale serve", version="0.1")
    lock = threading.Lock()

    @app.exception_handler(HTTPException)
    def _error(request: Any, exc: HTTPException) -> JSONResponse:  # OpenAI's error shape
        return JSONResponse(
            {"error": {"message": exc.detail, "type": "invalid_request_error", "code": None}},
            status_code=exc.status_code,
        )

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": model_name, "object": "model", "owned_by": "ale"}],
        }

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    def chat(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("stream"):
            raise HTTPException(400, "stream=true is not supported by ale serve; send stream=false")
        if int(body.get("n") or 1) != 1:
            raise HTTPException(400, "n must be 1")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise HTTPException(400, "messages must be a non-empty list of {role, content}")
        tools = body.get("tools") or None
        try:
            text = tokenizer.apply_chat_template(
                messages, tools=tools, tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # a template error is the client's message shape
            raise HTTPException(
                400, f"cannot render messages with the chat template: {exc}"
            ) from exc
        prompt_ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        temperature = body.get("temperature")
        try:
            sampling = Sampling(
                temperature=1.0 if temperature is None else float(temperature),
                top_p=float(body.get("top_p") or 1.0),
                top_k=body.get("top_k"),
                max_tokens=int(body.get("max_completion_tokens") or body.get("max_tokens") or 256),
                seed=body.get("seed"),
                stop_token_ids=list(body.get("stop_token_ids") or []),
            )
        except ValueError as exc:  # pydantic's ValidationError: a bad sampling parameter
            raise HTTPException(400, f"invalid sampling parameters: {exc}") from exc
        guided = None
        if body.get("guided_choice"):
            eos = engine.eos_token_ids[0]
            guided = [
                [
                    list(tokenizer(c, add_special_tokens=False)["input_ids"]) + [eos]
                    for c in body["guided_choice"]
                ]
            ]
        with lock:
            [gen] = engine.generate([prompt_ids], sampling, guided=guided)
        resp, lps = gen.response_ids, gen.logprobs
        stopped = bool(resp) and resp[-1] in engine.eos_token_ids
        content = tokenizer.decode(resp[:-1] if stopped else resp)
        calls = parse_tool_calls(content) if tools else None
        finish = "tool_calls" if calls else ("stop" if stopped else "length")
        choice: dict[str, Any] = {
            "index": 0,
            "finish_reason": finish,
            "message": {"role": "assistant", "content": content, "tool_calls": calls},
        }
        if body.get("logprobs"):
            choice["logprobs"] = {
                "content": [
                    {
                        "token": tokenizer.decode([t]),
                        "logprob": lp,
                        "bytes": list(tokenizer.decode([t]).encode()),
                        "top_logprobs": [],
                    }
                    for t, lp in zip(resp, lps, strict=False)
                ]
            }
        out: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_name,
            "choices": [choice],
            "usage": {
                "prompt_tokens": len(prompt_ids),
                "completion_tokens": len(resp),
                "total_tokens": len(prompt_ids) + len(resp),
            },
        }
        if body.get("return_token_ids"):
            choice["token_ids"] = resp
            out["prompt_token_ids"] = prompt_ids
        return out

    return app


def serve(
    model: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    device: str = "cpu",
    model_name: str | None = None,
) -> None:
    """Load `model` (a directory, or `tiny`) and serve it until interrupted.

    `port=0` binds a free port. Once the model is loaded and the port bound, one line
    `serving NAME at http://HOST:PORT/v1` goes to stdout, naming the port actually bound.
    """
    import socket

    import uvicorn
    from transformers import AutoTokenizer

    if model == "tiny":
        from agents.tiny_model import ensure_tiny_model

        path = str(ensure_tiny_model())
    else:
        path = model
    engine = HFEngine.from_pretrained(path, device=device)
    tok = AutoTokenizer.from_pretrained(path)
    name = model_name or model
    sock = socket.create_server((host, port))
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine, tok, name), log_level="warning"))
    print(f"serving {name} at http://{host}:{bound}/v1", flush=True)
    server.run(sockets=[sock])
