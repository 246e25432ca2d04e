"""`Config`: typed access to parsed sections, with DEFAULT fallback and interpolation."""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, TypeVar

from .errors import ConfigError, MissingKeyError
from .interpolation import interpolate
from .parser import DEFAULT_SECTION, RawValue, Sections, parse

T = TypeVar("T")

#: Spellings accepted by `Config.getbool`.
BOOLEAN_STATES = {
    "1": True, "yes": True, "true": True, "on": True,
    "0": False, "no": False, "false": False, "off": False,
}

_MISSING: Any = object()


def _to_bool(text: str) -> bool:
    try:
        return BOOLEAN_STATES[text]
    except KeyError:
        raise ValueError(text) from None


class Config:
    """Parsed configuration.

    Every section falls back to the DEFAULT section for keys it does not
    define.  Values are strings; the ``get*`` helpers convert them.
    """

    def __init__(self, sections: Optional[Sections] = None, *, interpolation: bool = True,
                 source: str = "<string>") -> None:
        self._sections: Sections = sections if sections is not None else {DEFAULT_SECTION: {}}
        self._sections.setdefault(DEFAULT_SECTION, {})
        self.interpolation = interpolation
        self.source = source

    # -- structure ---------------------------------------------------------------
    def sections(self) -> List[str]:
        """Section names in file order, without DEFAULT."""
        return [name for name in self._sections if name != DEFAULT_SECTION]

    def has_section(self, section: str) -> bool:
        return section in self._sections

    def has(self, section: str, key: str) -> bool:
        try:
            self.raw(section, key)
        except MissingKeyError:
            return False
        return True

    def keys(self, section: str) -> List[str]:
        """The keys of ``section``, its own first, then those it inherits from DEFAULT."""
        own = self._section(section)
        inherited = [k for k in self._sections[DEFAULT_SECTION] if k not in own]
        return list(own) + inherited

    def items(self, section: str) -> Dict[str, str]:
        return {key: self.get(section, key) for key in self.keys(section)}

    def _section(self, section: str) -> Dict[str, RawValue]:
        try:
            return self._sections[section]
        except KeyError:
            raise MissingKeyError(section) from None

    # -- values ------------------------------------------------------------------
    def raw(self, section: str, key: str) -> str:
        """The value as written, without interpolation."""
        key = key.lower()
        values = self._section(section)
        if key in values:
            return values[key].text
        if key in self._sections[DEFAULT_SECTION]:
            return self._sections[DEFAULT_SECTION][key].text
        raise MissingKeyError(section, key)

    def get(self, section: str, key: str, default: Any = _MISSING) -> str:
        """The value of ``key`` in ``section``; ``default`` when it is missing."""
        try:
            value = self.raw(section, key)
        except MissingKeyError:
            if default is _MISSING:
                raise
            return default
        if not self.interpolation:
            return value
        return interpolate(value, section, self.raw, {(section, key.lower())})

    def set(self, section: str, key: str, value: str) -> None:
        """Set a value, creating the section when needed."""
        self._sections.setdefault(section, {})[key.lower()] = RawValue(str(value), 0)

    def _typed(self, section: str, key: str, default: Any, convert: Callable[[str], T],
               kind: str) -> T:
        try:
            value = self.get(section, key)
        except MissingKeyError:
            if default is _MISSING:
                raise
            return default
        try:
            return convert(value)
        except ValueError:
            raise ConfigError(f"[{section}] {key} = {value!r} is not {kind}") from None

    def getint(self, section: str, key: str, default: Any = _MISSING) -> int:
        return self._typed(section, key, default, int, "an integer")

    def getfloat(self, section: str, key: str, default: Any = _MISSING) -> float:
        return self._typed(section, key, default, float, "a number")

    def getbool(self, section: str, key: str, default: Any = _MISSING) -> bool:
        """``yes``/``no``, ``true``/``false``, ``on``/``off`` or ``1``/``0``."""
        return self._typed(section, key, default, _to_bool, "a boolean")

    def getlist(self, section: str, key: str, default: Any = _MISSING,
                sep: Optional[str] = ",") -> List[str]:
        """Split a value on ``sep`` and on line breaks, dropping empty items."""
        def split(value: str) -> List[str]:
            parts = value.splitlines()
            if sep is not None:
                parts = [piece for part in parts for piece in part.split(sep)]
            return [part.strip() for part in parts if part.strip()]

        return self._typed(section, key, default, split, "a list")


def loads(text: str, *, interpolation: bool = True, source: str = "<string>") -> Config:
    """Parse configuration text."""
    return Config(parse(text, source), interpolation=interpolation, source=source)


def load(path: str | os.PathLike, *, interpolation: bool = True, encoding: str = "utf-8") -> Config:
    """Read and parse a configuration file."""
    with open(path, encoding=encoding) as fh:
        return loads(fh.read(), interpolation=interpolation, source=os.fspath(path))
