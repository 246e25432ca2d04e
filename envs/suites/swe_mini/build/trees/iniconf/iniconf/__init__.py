"""iniconf: a small INI-style configuration reader with typed getters and ${interpolation}.

>>> from iniconf import loads
>>> cfg = loads("[server]\\nport = 8080\\n")
>>> cfg.getint("server", "port")
8080
"""

from .config import Config, load, loads
from .errors import ConfigError, InterpolationError, MissingKeyError, ParseError

__version__ = "1.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "InterpolationError",
    "MissingKeyError",
    "ParseError",
    "load",
    "loads",
]
