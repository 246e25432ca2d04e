"""The one strict config loader: YAML (or a mapping) -> a pydantic model, with `a.b=c` overrides.

Every config of the project (agent configs, training configs, task files) is a tree of pydantic
models read through here, so a mistake reads the same everywhere and is caught before anything
starts:

    cfg = load_yaml(TrainConfig, "run.yaml", ["run.steps=3"], what="training config")
    # ConfigError: run.yaml: invalid training config:
    #   unknown key 'trainer.learning_rat'. Did you mean 'lr'? Valid keys here: lr, ...

- `StrictModel` (`extra="forbid"`): an unknown key is an error naming the nearest valid key.
  `OpenModel` (`extra="allow"`) keeps unknown keys aside for formats we read as published;
  `unknown_keys` lists them (as warnings, or turned into an error by the caller).
- `apply_override(data, "section.key=value")`: the value is parsed as YAML, sections are created
  as needed, merged into the mapping before validation (so overrides are validated too).
- `resolve_path(name_or_path, shipped_dir)`: a YAML file, or the name of a shipped one.
- One `ConfigError` (a `ValueError`): the message names the key and the fix.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from envs.core.errors import did_you_mean

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config (YAML file, `a.b=c` override, field value) is invalid; the message names the fix.

    Not an `EnvError`: a config mistake is the user's (or, in a template rendered mid-episode,
    the agent's), never infrastructure."""


class StrictModel(BaseModel):
    """A config section: unknown keys are errors (a typo must never fall back to a default)."""

    model_config = ConfigDict(extra="forbid")


class OpenModel(BaseModel):
    """A section of a published format: known keys typed, unknown ones kept in `model_extra`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# -- files and overrides ---------------------------------------------------------------------
def resolve_path(
    name_or_path: str | Path, shipped: Path | None = None, what: str = "config"
) -> Path:
    """`name_or_path` if it is a file, else `shipped/<name>.yaml`; the error lists shipped names."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    if shipped is not None and (shipped / f"{name_or_path}.yaml").is_file():
        return shipped / f"{name_or_path}.yaml"
    names = sorted(p.stem for p in shipped.glob("*.yaml")) if shipped is not None else []
    where = f" and not one of the shipped {names} (in {shipped})" if names else ""
    hint = did_you_mean(str(name_or_path), names)
    raise ConfigError(f"{what} {str(name_or_path)!r} does not exist: not a file{where}.{hint}")


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping at the top of the YAML file `path` (empty file: `{}`)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def apply_override(data: dict[str, Any], item: str) -> None:
    """Apply `a.b=c` (c parsed as YAML) to the nested mapping `data`, in place."""
    key, sep, raw = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError(
            f"override {item!r}: write it as section.key=value, e.g. limits.max_turns=5"
        )
    node = data
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(
                f"override {item!r}: {'.'.join(parts[: i + 1])!r} is a value, not a section"
            )
    try:
        node[parts[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {item!r}: the value is not valid YAML ({exc})") from None


# -- validation --------------------------------------------------------------------------------
def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation allows (`X`, `X | None`, `A | B`, `Annotated[...]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _tag_of(model: type[BaseModel], tag: str) -> bool:
    """Whether `tag` is the value of a `Literal` field of `model` (a discriminated union's tag)."""
    for f in model.model_fields.values():
        if typing.get_origin(f.annotation) is Literal and tag in typing.get_args(f.annotation):
            return True
    return False


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model of the section at `loc` (a pydantic error location), `None` if not a section."""
    model, i = root, 0
    while i < len(loc):
        field = model.model_fields.get(str(loc[i]))
        candidates = _models_in(field.annotation) if field else []
        if not candidates:
            return None
        i += 1
        if len(candidates) > 1 and i < len(loc):  # a union: pydantic puts the tag in `loc`
            tagged = [m for m in candidates if _tag_of(m, str(loc[i]))]
            if tagged:
                candidates, i = tagged, i + 1
        model = candidates[0]
    return model


def _valid_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def explain(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    """One line per error: the dotted key, what is wrong, and what to write instead."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            model = _model_at(root, loc[:-1])
            valid = _valid_keys(model) if model else []
            hint = did_you_mean(str(loc[-1]), valid, cutoff=0.5)
            lines.append(f"unknown key {key!r}.{hint} Valid keys here: {', '.join(valid)}")
        elif err["type"] == "value_error":  # a validator's own message names its key
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{key}: {msg}" if key else msg)
        else:
            lines.append(f"{key or '<top>'}: {err['msg']} (got {err.get('input')!r:.200})")
    return lines


def validate(
    model: type[M],
    data: Any,
    source: str = "<dict>",
    what: str = "config",
    error: type[Exception] = ConfigError,
) -> M:
    """`model.model_validate(data)`; an `error` (default `ConfigError`) explaining each mistake.

    `error` lets task-file parsers raise their own `TaskError` with the same message.
    """
    if not isinstance(data, dict):
        raise error(f"{source}: {what} must be a mapping of keys, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{source}: invalid {what}:\n  " + "\n  ".join(explain(exc, model))) from None


def load_yaml(
    model: type[M],
    name_or_path: str | Path,
    overrides: Iterable[str] = (),
    shipped: Path | None = None,
    what: str = "config",
) -> M:
    """Read a YAML file (or a shipped config by name), apply `a.b=c` overrides, validate."""
    path = resolve_path(name_or_path, shipped, what)
    data = read_yaml(path)
    for item in overrides:
        apply_override(data, item)
    return validate(model, data, str(path), what)


def unknown_keys(model: BaseModel, path: str = "") -> list[str]:
    """One line per key kept aside by an `OpenModel` in the tree:
    `"[agent]: unknown key 'timeout_secs'. Did you mean 'timeout_sec'?"`."""
    lines: list[str] = []
    if isinstance(model, BaseModel):
        known = sorted(set(_valid_keys(type(model))) | set(type(model).model_fields))
        where = f"[{path}]: " if path else ""
        for key in model.model_extra or {}:
            lines.append(f"{where}unknown key {key!r}.{did_you_mean(str(key), known)}")
        for name in type(model).model_fields:
            lines += _unknown_in(getattr(model, name), f"{path}.{name}" if path else name)
    return lines


def _unknown_in(value: Any, path: str) -> list[str]:
    if isinstance(value, BaseModel):
        return unknown_keys(value, path)
    if isinstance(value, list):
        return [line for i, item in enumerate(value) for line in _unknown_in(item, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [line for k, item in value.items() for line in _unknown_in(item, f"{path}.{k}")]
    return []
