"""A text space for chunk-level envs: any Unicode string up to `max_length` characters.

Gymnasium's stock `Text` space only admits a fixed charset (alphanumerics by default) and
rejects the whitespace, punctuation and Unicode that shells and agents produce.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium.spaces import Space

SAMPLE_CHARSET = string.printable


class UnicodeText(Space[str]):
    """Strings of at most `max_length` characters, any Unicode. `sample` draws printable ASCII."""

    def __init__(
        self, max_length: int = 1_000_000, seed: int | np.random.Generator | None = None
    ) -> None:
        self.max_length = max_length
        super().__init__(dtype=str, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        length = int(self.np_random.integers(0, min(self.max_length, 64) + 1))
        idx = self.np_random.integers(0, len(SAMPLE_CHARSET), size=length)
        return "".join(SAMPLE_CHARSET[i] for i in idx)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText(max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnicodeText) and other.max_length == self.max_length
