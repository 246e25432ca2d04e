"""`ale serve` + the real `openai` SDK over real loopback HTTP, with the tiny model."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import gymnasium
import pytest

import envs.registration  # noqa: F401
from agents.config import AgentConfig
from agents.engines.hf_engine import HFEngine
from agents.errors import PolicyError
from agents.loop import run_episode
from agents.policies import make_policy
from agents.policies.openai_http import OpenAIPolicy
from agents.policies.scripted import GuidedPolicy
from agents.trajectory import load_trajectory
from envs.toy.shell import expert_actions

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tiny_path: Path) -> Iterator[str]:
    """`ale serve --port 0`: the server binds a free port and prints its URL."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.cli.main",
            "serve",
            "--model",
            str(tiny_path),
            "--port",
            "0",
            "--name",
            "tiny",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # until the announcement (or the process exits)
            lines.append(line)
            if match := re.match(r"serving tiny at (http://127\.0\.0\.1:\d+/v1)$", line.strip()):
                break
        else:
            raise RuntimeError(f"ale serve exited: {''.join(lines)}")
        url = match.group(1)
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
        assert not url.endswith(":0/v1")
        with urllib.request.urlopen(f"{url.removesuffix('/v1')}/health", timeout=60) as r:
            assert r.status == 200
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_sdk_chat_completion_with_logprobs(server: str, tiny_path: Path) -> None:
    import openai

    client = openai.OpenAI(base_url=server, api_key="EMPTY")
    assert [m.id for m in client.models.list().data] == ["tiny"]
    resp = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "fix the test"}],
        max_tokens=12,
        temperature=1.0,
        seed=7,
        logprobs=True,
        extra_body={"return_token_ids": True},
    )
    choice = resp.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content
    lps = [t.logprob for t in choice.logprobs.content]
    ids = (choice.model_extra or {})["token_ids"]
    prompt = (resp.model_extra or {})["prompt_token_ids"]
    assert len(lps) == len(ids) == resp.usage.completion_tokens and all(lp <= 0 for lp in lps)
    # the served log-probs are the model's: equal to a local teacher-forced pass (tol 1e-4)
    forced = HFEngine.from_pretrained(tiny_path).forward_logprobs(prompt, ids)
    assert lps == pytest.approx(forced, abs=1e-4)
    with pytest.raises(openai.BadRequestError, match="stream"):
        client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "x"}], stream=True
        )


def test_scripted_episode_through_http(server: str, tmp_path: Path) -> None:
    agent = AgentConfig.load("toy")
    pol = make_policy(f"openai:tiny@{server}", sampling=agent.sampling)
    assert isinstance(pol, OpenAIPolicy)
    actions = expert_actions("delta-core")
    rec = run_episode(
        gymnasium.make("ale/ToyShell-v0", max_turns=8),
        agent,
        GuidedPolicy(actions, pol),
        "delta-core",
        tmp_path / "t.jsonl",
    )
    assert rec.reward == 1.0 and rec.stop_reason == "terminated"
    loaded = load_trajectory(tmp_path / "t.jsonl")
    assert [c.response for c in loaded.chunks] == actions
    for c in loaded.chunks:
        assert c.logprobs and c.response_ids and len(c.logprobs) == len(c.response_ids)
        assert c.prompt_ids and c.usage["prompt_tokens"] == len(c.prompt_ids)


def test_transient_errors_are_retried_then_reported() -> None:
    with socket.socket() as bound:  # bound, never listening: every connection is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        pol = OpenAIPolicy(
            "m", f"http://127.0.0.1:{port}/v1", max_retries=2, backoff_s=0.01, timeout_s=5
        )
        with pytest.raises(PolicyError, match="giving up after 3 tries"):
            pol.act([{"role": "user", "content": "hi"}])
    assert pol.retries == 2


def test_5xx_is_retried_with_backoff_then_succeeds() -> None:
    """A flaky loopback server: 503 twice, then a completion with logprobs."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    calls: list[dict[str, object]] = []

    class Flaky(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            calls.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            if len(calls) <= 2:
                body, code = {"error": {"message": "overloaded", "type": "server_error"}}, 503
            else:
                body, code = (
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": "m",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "ls"},
                                "logprobs": {
                                    "content": [
                                        {
                                            "token": "ls",
                                            "logprob": -0.25,
                                            "bytes": None,
                                            "top_logprobs": [],
                                        }
                                    ]
                                },
                            }
                        ],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
                    },
                    200,
                )
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return None

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        pol = OpenAIPolicy(
            "m", f"http://127.0.0.1:{srv.server_address[1]}/v1", max_retries=3, backoff_s=0.01
        )
        out = pol.act([{"role": "user", "content": "hi"}])
    finally:
        srv.shutdown()
    assert (
        out.text == "ls"
        and out.logprobs == [-0.25]
        and out.usage == {"prompt_tokens": 5, "completion_tokens": 1}
    )
    assert pol.retries == 2 and len(calls) == 3 and calls[-1]["logprobs"] is True
