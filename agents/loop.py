"""The agent loop: any chunk-level env, any policy, one config; the record is flushed per chunk."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium

from agents.actions import render_tool_call, to_action
from agents.config import AgentConfig
from agents.context import build_prompt, cut_middle, turns_text
from agents.policies.base import EpisodeContext, Policy, TokenPolicy
from agents.trajectory import ChunkRecord, EpisodeRecord, TrajectoryWriter

_INFO_SKIP = {"grade", "metadata", "tools", "format_help", "replayed"}


def _json_safe(info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in info.items():
        if k in _INFO_SKIP:
            continue
        if isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
    return out


def _limit_hit(
    agent: AgentConfig, turn: int, tokens: int, cost: float, elapsed: float
) -> str | None:
    lim = agent.limits
    if turn >= lim.max_turns:
        return "max_turns"
    if lim.max_tokens is not None and tokens >= lim.max_tokens:
        return "max_tokens"
    if lim.max_cost_usd is not None and cost >= lim.max_cost_usd:
        return "max_cost_usd"
    if lim.max_wall_s is not None and elapsed >= lim.max_wall_s:
        return "max_wall_s"
    return None


def _cost(agent: AgentConfig, usage: dict[str, int]) -> float:
    lim = agent.limits
    return (
        usage.get("prompt_tokens", 0) * lim.usd_per_1k_prompt_tokens
        + usage.get("completion_tokens", 0) * lim.usd_per_1k_completion_tokens
    ) / 1000.0


def run_episode(
    env: gymnasium.Env[Any, Any],
    agent: AgentConfig,
    policy: Policy,
    task_id: str,
    trajectory_path: str | Path | None = None,
    on_chunk: Callable[[ChunkRecord], None] | None = None,
    *,
    on_reset: Callable[[dict[str, Any]], None] | None = None,
    policy_name: str | None = None,
    reset_options: dict[str, Any] | None = None,
) -> EpisodeRecord:
    """Play one episode of `task_id` and return its record.

    Each chunk: the context policy builds the prompt from the history, the policy answers,
    the answer (or its native tool call, rendered in the env's action format) is the env
    action, and the observation (cut to head + tail, rendered by `templates.observation`)
    joins the history. The chunk is written to `trajectory_path` (flushed; fsynced once, at
    the episode's end) before the next one starts. Agent-side limits end the episode with a forced `submit` when the
    env has that tool and `limits.submit_on_limit` is set. `on_reset(info)` is called with the
    env's reset info before the first chunk (e.g. whether the sandbox was prefetched).

    Prefix replay (RL's expert-prefix resampling): with `reset_options={"replay": actions}`
    the env runs those actions at reset and lists them in `info["replayed"]`; each becomes an
    `expert` chunk of the record and a turn of the history, so the policy continues from
    there (a `TokenPolicy` also puts the replayed turns' ids into the record).
    """
    t0 = time.monotonic()
    writer = TrajectoryWriter(trajectory_path) if trajectory_path is not None else None
    obs, info = env.reset(options={"task_id": task_id, **(reset_options or {})})
    reset_s = time.monotonic() - t0
    # the task statement (after a prefix replay the observation is the last replayed output)
    obs = str(info.get("instruction", obs))
    if on_reset is not None:
        on_reset(info)
    fmt = str(info.get("action_format") or agent.action_format)
    schemas = [t for t in info.get("tools") or [] if isinstance(t, dict)]
    tool_names = [t["function"]["name"] for t in schemas] or [
        str(t) for t in info.get("tools") or []
    ]
    variables: dict[str, Any] = {
        "task": obs,
        "task_id": task_id,
        "workdir": info.get("workdir", ""),
        "tools": schemas,
        "tool_names": tool_names,
        "action_format": fmt,
        "format_help": info.get("format_help", ""),
        "metadata": info.get("metadata", {}),
        "max_turns": agent.limits.max_turns,
    }
    history: list[dict[str, Any]] = [
        {"role": "system", "content": agent.render("system", **variables)},
        {"role": "user", "content": agent.render("instance", **variables)},
    ]
    record = EpisodeRecord(
        task_id=task_id,
        policy=str(policy_name or getattr(policy, "name", type(policy).__name__)),
        config=agent.name,
        instruction=str(obs),
        started_at=time.time(),
        info={
            "action_format": fmt,
            "tools": tool_names,
            "env_action_format": info.get("action_format"),
            "permissions": info.get("permissions"),
        },
    )
    policy.start_episode(
        EpisodeContext(
            task_id=task_id,
            task=getattr(env.unwrapped, "task", None),
            tools=schemas or None,
            action_format=fmt,
            instruction=str(obs),
            info=info,
        )
    )
    count = getattr(policy, "count_tokens", None)
    send_tools = schemas if agent.tool_calling and schemas else None
    tokens, cost, policy_s, env_s = 0, 0.0, 0.0, 0.0
    summary, summarized = None, 0
    count_prompt = (lambda m: count(m, send_tools)) if count else None
    try:
        if writer:
            writer.write_header(record)
        for step in info.get("replayed") or []:
            _finish_chunk(
                record, _replayed(agent, policy, history, step, count_prompt), writer, on_chunk
            )
        turn = 0
        while True:
            hit = _limit_hit(agent, turn, tokens, cost, time.monotonic() - t0)
            if hit is not None:
                record.stop_reason = hit
                if agent.limits.submit_on_limit and "submit" in tool_names and fmt != "text":
                    chunk, sub_info = _forced_submit(env, history, fmt, len(record.chunks))
                    if "grade" in sub_info:
                        record.grade = sub_info["grade"]
                    _finish_chunk(record, chunk, writer, on_chunk)
                    env_s += chunk.env_s
                break
            prompt, report = build_prompt(
                history,
                agent.context,
                (lambda m: count(m, send_tools)) if count else None,
                summary,
                summarized,
            )
            if agent.context.summarize and report.dropped_turns > summarized:
                summary = _summarize(
                    agent, policy, history, summary, summarized, report.dropped_turns, obs
                )
                summarized = report.dropped_turns
                prompt, report = build_prompt(
                    history,
                    agent.context,
                    (lambda m: count(m, send_tools)) if count else None,
                    summary,
                    summarized,
                )
            tp = time.monotonic()
            out = policy.act(prompt, send_tools)
            t_policy = time.monotonic() - tp
            action = to_action(out, fmt, agent.tool_calling)
            te = time.monotonic()
            observation, reward, terminated, truncated, step_info = env.step(action)
            t_env = time.monotonic() - te
            turn += 1
            policy_s, env_s = policy_s + t_policy, env_s + t_env
            tokens += out.usage.get("prompt_tokens", 0) + out.usage.get("completion_tokens", 0)
            cost += _cost(agent, out.usage)
            shown, _ = cut_middle(
                str(observation), agent.context.max_observation_chars, agent.context.head_fraction
            )
            rendered = agent.render(
                "observation",
                output=shown,
                exit_code=step_info.get("exit_code"),
                turn=turn,
                turns_left=agent.limits.max_turns - turn,
                tool=step_info.get("tool"),
                format_error=bool(step_info.get("format_error")),
            )
            assistant: dict[str, Any] = {"role": "assistant", "content": out.text}
            if send_tools and out.tool_calls:
                assistant["tool_calls"] = out.tool_calls
                reply: dict[str, Any] = {
                    "role": "tool",
                    "tool_call_id": out.tool_calls[0].get("id", "call_0"),
                    "content": rendered,
                }
            else:
                reply = {"role": "user", "content": rendered}
            history += [assistant, reply]
            chunk = ChunkRecord(
                index=len(record.chunks),
                messages=prompt,
                response=out.text,
                prompt_ids=out.prompt_ids,
                response_ids=out.response_ids,
                logprobs=out.logprobs,
                tool_calls=out.tool_calls,
                action=action,
                tool=step_info.get("tool"),
                observation=str(observation),
                reward=float(reward),
                terminated=bool(terminated),
                truncated=bool(truncated),
                format_error=bool(step_info.get("format_error")),
                infra_error=bool(step_info.get("infra_error")),
                exit_code=step_info.get("exit_code"),
                finish_reason=out.finish_reason,
                usage=dict(out.usage),
                policy_version=out.policy_version,
                prompt_mode=out.prompt_mode,
                wall_s=t_policy + t_env,
                policy_s=t_policy,
                env_s=t_env,
                context=report.as_dict(),
                info=_json_safe(step_info),
            )
            if "grade" in step_info:
                record.grade = step_info["grade"]
            _finish_chunk(record, chunk, writer, on_chunk)
            if terminated or truncated:
                record.stop_reason = (
                    "terminated"
                    if terminated
                    else str(step_info.get("truncation", "env_truncated"))
                )
                break
        last = record.chunks[-1] if record.chunks else None
        record.reward = last.reward if last else 0.0
        record.terminated = bool(last and last.terminated)
        record.truncated = bool(last and last.truncated) or (
            record.stop_reason not in (None, "terminated") and not record.terminated
        )
    except BaseException as exc:
        record.stop_reason = f"error: {type(exc).__name__}: {exc}"
        raise
    finally:
        record.timings = {
            "total_s": time.monotonic() - t0,
            "reset_s": reset_s,
            "policy_s": policy_s,
            "env_s": env_s,
            "tokens": float(tokens),
            "cost_usd": cost,
        }
        if writer:
            record.finished = True
            writer.write_end(record)
            writer.close()
    return record


def _finish_chunk(
    record: EpisodeRecord,
    chunk: ChunkRecord,
    writer: TrajectoryWriter | None,
    on_chunk: Callable[[ChunkRecord], None] | None,
) -> None:
    record.chunks.append(chunk)
    if writer:
        writer.write_chunk(chunk)
    if on_chunk:
        on_chunk(chunk)


def _replayed(
    agent: AgentConfig,
    policy: Policy,
    history: list[dict[str, Any]],
    step: dict[str, Any],
    count_prompt: Callable[[list[dict[str, Any]]], int] | None,
) -> ChunkRecord:
    """The record of one replayed demonstration turn; appends it to `history`."""
    action, observation = str(step["action"]), str(step.get("observation", ""))
    index = (len(history) - 2) // 2
    prompt, report = build_prompt(history, agent.context, count_prompt)
    ids = policy.replay(prompt, action) if isinstance(policy, TokenPolicy) else None
    shown, _ = cut_middle(
        observation, agent.context.max_observation_chars, agent.context.head_fraction
    )
    rendered = agent.render(
        "observation",
        output=shown,
        exit_code=step.get("exit_code"),
        turn=index + 1,
        turns_left=agent.limits.max_turns,
        tool=None,
        format_error=False,
    )
    history += [{"role": "assistant", "content": action}, {"role": "user", "content": rendered}]
    return ChunkRecord(
        index=index,
        messages=prompt,
        response=action,
        prompt_ids=ids[0] if ids else None,
        response_ids=ids[1] if ids else None,
        action=action,
        observation=observation,
        exit_code=step.get("exit_code"),
        context=report.as_dict(),
        expert=True,
    )


def _forced_submit(
    env: gymnasium.Env[Any, Any], history: list[dict[str, Any]], fmt: str, turn: int
) -> tuple[ChunkRecord, dict[str, Any]]:
    """Submit on the agent's behalf so that a limit-stopped episode is still graded."""
    action = render_tool_call("submit", {}, fmt, "Limit reached: submitting.")
    te = time.monotonic()
    observation, reward, terminated, truncated, info = env.step(action)
    t_env = time.monotonic() - te
    chunk = ChunkRecord(
        index=turn,
        messages=list(history),
        response=action,
        action=action,
        tool="submit",
        observation=str(observation),
        reward=float(reward),
        terminated=bool(terminated),
        truncated=bool(truncated),
        infra_error=bool(info.get("infra_error")),
        wall_s=t_env,
        env_s=t_env,
        info=_json_safe(info),
        forced=True,
    )
    return chunk, info


def _summarize(
    agent: AgentConfig,
    policy: Policy,
    history: list[dict[str, Any]],
    summary: str | None,
    done: int,
    upto: int,
    task: Any,
) -> str:
    """Ask the policy to summarize turns [done, upto) (plus the previous summary)."""
    text = (f"Earlier summary: {summary}\n" if summary else "") + turns_text(history, done, upto)
    prompt = [
        history[0],
        {"role": "user", "content": agent.render("summary", turns=text, task=task)},
    ]
    return policy.act(prompt, None).text.strip()
