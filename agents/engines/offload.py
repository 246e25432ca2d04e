"""Move a module's (and optimizer's) tensors out of the way and back.

On CUDA offloading is `.to("cpu")` / `.to(device)`. On CPU there is no other device, so the
parameters are copied into one packed host buffer and the live tensors are freed (each parameter holds
an empty tensor meanwhile): the module holds no memory while offloaded, and the
cost of moving the state is still paid and measured.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import torch
from torch import nn

from agents.engines.base import EngineError


def rss_bytes() -> int:
    """Resident set size of this process, bytes (/proc on Linux, else psutil, else 0)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        return 0
    return int(psutil.Process(os.getpid()).memory_info().rss)


def device_memory() -> dict[str, int]:
    """Memory of the measurable devices: rss (bytes), cuda_allocated (bytes) when CUDA is up."""
    out = {"rss": rss_bytes()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda_allocated"] = int(torch.cuda.memory_allocated())
        out["cuda_reserved"] = int(torch.cuda.memory_reserved())
    return out


@dataclass
class _Packed:
    buffer: torch.Tensor
    layout: list[tuple[nn.Parameter, torch.Size, torch.dtype, int, int]]
    """(parameter, shape, dtype, byte offset, byte count)."""


class ModuleOffloader:
    """`offload()` frees `module`'s parameters and buffers; `restore()` brings them back bitwise."""

    def __init__(self, module: nn.Module, device: torch.device | str = "cpu") -> None:
        self.module = module
        self.device = torch.device(device)
        self._packed: _Packed | None = None

    @property
    def offloaded(self) -> bool:
        return self._packed is not None or (self.device.type == "cuda" and _on(self.module, "cpu"))

    def offload(self) -> None:
        """Release the module's memory; idempotent."""
        if self.offloaded:
            return
        if self.device.type == "cuda":
            self.module.to("cpu")
            torch.cuda.empty_cache()
            return
        params = list(self.module.parameters())
        total = sum(p.numel() * p.element_size() for p in params)
        buffer = torch.empty(total, dtype=torch.uint8)
        layout, offset = [], 0
        for p in params:
            nbytes = p.numel() * p.element_size()
            buffer[offset : offset + nbytes].copy_(p.data.contiguous().view(-1).view(torch.uint8))
            layout.append((p, p.shape, p.dtype, offset, nbytes))
            offset += nbytes
            p.data = torch.empty(0, dtype=p.dtype)
        self._packed = _Packed(buffer, layout)

    def restore(self) -> None:
        """Bring the tensors back onto `device` (bitwise equal); idempotent."""
        if self.device.type == "cuda":
            self.module.to(self.device)
            return
        if self._packed is None:
            return
        packed, self._packed = self._packed, None
        for p, shape, dtype, offset, nbytes in packed.layout:
            p.data = packed.buffer[offset : offset + nbytes].view(dtype).view(shape).clone()


def _on(module: nn.Module, kind: str) -> bool:
    p = next(iter(module.parameters()), None)
    return p is not None and p.device.type == kind


class OptimizerOffloader:
    """Offload an optimizer's state tensors (Adam moments) the same way; idempotent."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, device: torch.device | str = "cpu"
    ) -> None:
        self.optimizer = optimizer
        self.device = torch.device(device)
        self._saved: dict[int, dict[str, torch.Tensor]] | None = None

    def offload(self) -> None:
        if self._saved is not None:
            return
        saved: dict[int, dict[str, torch.Tensor]] = {}
        for i, (_, st) in enumerate(self.optimizer.state.items()):
            saved[i] = {}
            for k, v in list(st.items()):
                if isinstance(v, torch.Tensor) and v.dim() > 0:
                    if self.device.type == "cuda":
                        st[k] = v.to("cpu")
                    else:
                        saved[i][k] = v.clone()
                        st[k] = torch.empty(0, dtype=v.dtype)
        self._saved = saved

    def restore(self) -> None:
        if self._saved is None:
            return
        for i, (_, st) in enumerate(self.optimizer.state.items()):
            for k, v in list(st.items()):
                if isinstance(v, torch.Tensor):
                    if self.device.type == "cuda" and v.dim() > 0:
                        st[k] = v.to(self.device)
                    elif k in self._saved.get(i, {}):
                        st[k] = self._saved[i][k]
        self._saved = None


class SleepableEngine:
    """`sleep` / `wake` / `awake` for an engine whose weights live in one module.

    Subclasses set `self._offload` (a `ModuleOffloader` of the engine's model) and `self._lock`
    (the lock their `generate` / `update_weights` take) and call `_check_awake()` before using
    the weights."""

    _offload: ModuleOffloader
    _lock: threading.RLock
    version: int

    @property
    def awake(self) -> bool:
        return not self._offload.offloaded

    def _check_awake(self) -> None:
        if not self.awake:
            raise EngineError(f"{type(self).__name__} is asleep: call wake() before generating")

    def _check_sync(self, version: int) -> None:
        """Refuse a SYNC to older weights, or while asleep."""
        if version < self.version:
            raise EngineError(
                f"weights version {version} is older than the loaded "
                f"{self.version}; SYNC must move forward"
            )
        self._check_awake()

    def sleep(self) -> None:
        """Free the weights (GPU -> host; on CPU into one packed buffer)."""
        with self._lock:
            self._offload.offload()

    def wake(self) -> None:
        with self._lock:
            self._offload.restore()
