"""The CPU state buffer ("env"): JIT header at negative offsets, guest state from offset 0."""
from __future__ import annotations

import _cffi_backend

from jit.env import ENV_HEADER_SIZE

# cffi's run-time FFI without C declarations (only new/cast/buffer are used): unlike
# cffi.FFI(), creating it does not import cffi's C parser, a large start-up cost.
_ffi = _cffi_backend.FFI()


class CpuEnv:
    """Owns the env memory. `addr` is the env pointer handed to generated code."""

    def __init__(self, arch_size: int):
        self._buffer = _ffi.new("uint8_t[]", ENV_HEADER_SIZE + arch_size)
        self.base = int(_ffi.cast("uintptr_t", self._buffer))
        self.addr = self.base + ENV_HEADER_SIZE
        self.arch_size = arch_size

    def read_u64(self, offset: int) -> int:
        return _ffi.cast("uint64_t *", self.addr + offset)[0]

    def write_u64(self, offset: int, value: int) -> None:
        _ffi.cast("uint64_t *", self.addr + offset)[0] = value & 0xFFFFFFFFFFFFFFFF

    def read(self, offset: int, size: int) -> bytes:
        return bytes(_ffi.buffer(_ffi.cast("uint8_t *", self.addr + offset), size))

    def write(self, offset: int, data: bytes) -> None:
        _ffi.memmove(_ffi.cast("uint8_t *", self.addr + offset), data, len(data))


class RawHostMemory:
    """Host memory at absolute addresses (plugin scoreboards), for the interpreter's ld_host,
    st_host and plugin_add_u64 (jit/interp.py MemoryAccess)."""

    def read(self, addr: int, size: int) -> bytes:
        return bytes(_ffi.buffer(_ffi.cast("uint8_t *", addr), size))

    def write(self, addr: int, data: bytes) -> None:
        _ffi.memmove(_ffi.cast("uint8_t *", addr), data, len(data))
