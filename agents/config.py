"""Agent configs: strict YAML (unknown key -> error naming the nearest valid key) + Jinja templates.

An agent's behaviour is data: prompt templates, tools, action format, context policy,
limits and sampling. `AgentConfig.load("swe")` loads a shipped config
(`agents/configs/swe.yaml`), `AgentConfig.load("my.yaml", overrides=["limits.max_turns=5"])`
a file with dotted overrides. Every error is raised at load time, before any sandbox starts:
unknown keys, wrong types, template syntax errors and template variables that the loop does
not provide (templates use `StrictUndefined`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
from pydantic import ConfigDict, Field, field_validator, model_validator

from agents.engines.base import Sampling
from envs.core.config import ConfigError, StrictModel, load_yaml, validate
from envs.core.errors import did_you_mean

CONFIG_DIR = Path(__file__).parent / "configs"
#: variables each template may use (the loop provides exactly these).
TEMPLATE_VARS: dict[str, tuple[str, ...]] = {
    "system": (
        "task_id",
        "workdir",
        "tools",
        "tool_names",
        "action_format",
        "format_help",
        "metadata",
    ),
    "instance": (
        "task",
        "task_id",
        "workdir",
        "tools",
        "tool_names",
        "action_format",
        "format_help",
        "metadata",
        "max_turns",
    ),
    "observation": ("output", "exit_code", "turn", "turns_left", "tool", "format_error"),
    "summary": ("turns", "task"),
}
_JINJA = jinja2.Environment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)


class _Section(StrictModel):
    model_config = ConfigDict(validate_assignment=True)


class Templates(_Section):
    """Jinja templates (StrictUndefined); see `TEMPLATE_VARS` for the variables of each."""

    system: str = Field(
        "You are a software engineer working in {{ workdir }}.", description="The system message."
    )
    instance: str = Field("{{ task }}\n\n{{ format_help }}", description="The first user message.")
    observation: str = Field("{{ output }}", description="Each tool result shown to the policy.")
    summary: str = Field(
        "Summarize the progress so far on the task in a few sentences:\n{{ turns }}",
        description="Prompt asking the policy to summarize dropped turns.",
    )


class ContextPolicy(_Section):
    """What of the conversation the policy sees each turn."""

    keep_last_turns: int = Field(20, ge=1, description="Keep system + task + the last N turns.")
    max_observation_chars: int = Field(
        8000, ge=64, description="Longer observations keep head and tail."
    )
    head_fraction: float = Field(
        0.5, gt=0.0, lt=1.0, description="Share of the kept chars taken from the head."
    )
    max_prompt_tokens: int | None = Field(
        None, ge=16, description="Drop more old turns until the prompt fits (policy's tokenizer)."
    )
    summarize: bool = Field(False, description="Ask the policy to summarize turns it drops.")


class AgentLimits(_Section):
    """Agent-side limits; reaching one ends the episode (`stop_reason`)."""

    max_turns: int = Field(50, ge=1, description="Chunks per episode.")
    max_tokens: int | None = Field(
        None, ge=1, description="Prompt + completion tokens over the episode."
    )
    max_wall_s: float | None = Field(None, gt=0, description="Wall clock seconds per episode.")
    max_cost_usd: float | None = Field(
        None, gt=0, description="Dollar cost per episode (see prices)."
    )
    usd_per_1k_prompt_tokens: float = Field(0.0, ge=0)
    usd_per_1k_completion_tokens: float = Field(0.0, ge=0)
    submit_on_limit: bool = Field(True, description="Send a final `submit` so the work is graded.")


ToolName = Literal["bash", "str_replace_editor", "submit"]
TOOL_NAMES: tuple[ToolName, ...] = ("bash", "str_replace_editor", "submit")


class AgentConfig(_Section):
    """A whole agent. YAML sections match the fields."""

    name: str = "agent"
    description: str = ""
    templates: Templates = Field(default_factory=Templates)
    action_format: Literal["xml", "json", "bash_block", "text"] = "xml"
    tools: list[ToolName] = Field(default_factory=lambda: list(TOOL_NAMES))
    tool_calling: bool = Field(False, description="Send tool schemas and use native tool calls.")
    context: ContextPolicy = Field(default_factory=ContextPolicy)
    limits: AgentLimits = Field(default_factory=AgentLimits)
    sampling: Sampling = Field(default_factory=Sampling)
    policy: dict[str, Any] | None = Field(
        None,
        description="Sandbox permissions over each task's own: a `policy:` block with "
        "`network`, `paths`, `resources` (docs/sandboxes.md, Permissions).",
    )

    @field_validator("policy")
    @classmethod
    def _check_policy(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from envs.rock import SandboxSpec
        from envs.rock.policy import apply_policy_block

        apply_policy_block(SandboxSpec(), value)  # SandboxPolicyError (a ValueError) names the fix
        return value

    @model_validator(mode="after")
    def _check_templates(self) -> AgentConfig:
        for key, allowed in TEMPLATE_VARS.items():
            check_template(f"templates.{key}", getattr(self.templates, key), allowed)
        return self

    # -- loading -----------------------------------------------------------------------
    @classmethod
    def load(cls, path_or_name: str | Path, overrides: list[str] | None = None) -> AgentConfig:
        """Load a shipped config by name (`swe`, `terminal`) or a YAML file, then `a.b=c` overrides."""
        return load_yaml(cls, path_or_name, overrides or [], CONFIG_DIR, "agent config")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> AgentConfig:
        """Validate `data`; errors name the key, what is wrong and the fix."""
        return validate(cls, data, source, "agent config")

    def render(self, template: str, **variables: Any) -> str:
        """Render `templates.<template>` with `variables` (strict: a missing one is an error)."""
        text = getattr(self.templates, template)
        try:
            return _JINJA.from_string(text).render(**variables)
        except jinja2.UndefinedError as exc:
            raise ConfigError(
                f"templates.{template}: {exc.message}; available: {sorted(variables)}"
            ) from exc


def check_template(where: str, text: str, allowed: tuple[str, ...]) -> None:
    """Syntax-check a Jinja template and reject variables the loop will not provide."""
    try:
        ast = _JINJA.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(
            f"{where}: Jinja syntax error on line {exc.lineno}: {exc.message}"
        ) from None
    unknown = sorted(jinja2.meta.find_undeclared_variables(ast) - set(allowed))
    if unknown:
        hints = []
        for name in unknown:
            hint = did_you_mean(name, allowed).strip()  # "Did you mean 'x'?"
            hints.append(f"{name!r} (d{hint[1:]})" if hint else repr(name))
        raise ValueError(
            f"{where} uses undefined variable(s) {', '.join(hints)}; "
            f"available: {', '.join(allowed)}"
        )
