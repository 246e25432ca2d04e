"""The single dispatch point for policy losses: name -> pure function with one signature.

Every variant (IPA and the baselines) is `fn(batch: ChunkBatch, cfg: LossConfig) ->
LossOutput`, so an ablation is one config line (`loss: grpo`) and trainers never branch on
the algorithm name.
"""

from __future__ import annotations

from collections.abc import Callable

from envs.core.errors import did_you_mean
from rl.algos.batch import ChunkBatch, LossConfig, LossOutput

LossFn = Callable[[ChunkBatch, LossConfig], LossOutput]


class AlgoError(ValueError):
    """Base class of `rl.algos` errors (unknown or duplicate names)."""


class Registry:
    """Name -> loss function; registering a name twice raises `AlgoError`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._fns: dict[str, LossFn] = {}

    def register(self, name: str) -> Callable[[LossFn], LossFn]:
        """Decorator: `@LOSSES.register("ipa")`."""

        def deco(fn: LossFn) -> LossFn:
            if name in self._fns:
                raise AlgoError(
                    f"{self.kind} {name!r} is already registered by "
                    f"{self._fns[name].__module__}.{self._fns[name].__qualname__}; pick another name"
                )
            self._fns[name] = fn
            return fn

        return deco

    def get(self, name: str) -> LossFn:
        """The function registered as `name`; the error suggests close names."""
        try:
            return self._fns[name]
        except KeyError:
            hint = did_you_mean(name, self._fns)
            raise AlgoError(
                f"no {self.kind} named {name!r}.{hint} Known: {', '.join(sorted(self._fns))}"
            ) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._fns)

    def __contains__(self, name: object) -> bool:
        return name in self._fns


LOSSES = Registry("loss")


def compute_loss(name: str, batch: ChunkBatch, cfg: LossConfig) -> LossOutput:
    """Check the batch shapes and run the loss registered as `name`."""
    batch.check()
    return LOSSES.get(name)(batch, cfg)
