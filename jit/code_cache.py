"""What the dispatcher and the command line need to know about the backend's bounded code cache.

The backend raises `CodeCacheFull` from `compile` when a block does not fit in what is left of
the cache. The dispatcher then flushes the whole cache (`backend.flush_code_cache()`: every
block, chain and jump-cache entry goes; the runtime stubs stay) and translates the block again,
as QEMU does on a code buffer overflow (tb_gen_code -> tb_flush -> retranslate).
"""
from __future__ import annotations

MIB = 1 << 20
# Bytes for translated blocks (`-tb-size`): qemu-user's default on 64-bit hosts. The minimum
# is far above the largest block (512 instructions, each instrumented by plugins); the maximum
# keeps every rel32 jump between blocks and to the runtime in range.
DEFAULT_CODE_CACHE_SIZE = 128 * MIB
MIN_CODE_CACHE_SIZE = 1 * MIB
MAX_CODE_CACHE_SIZE = 1024 * MIB


class CodeCacheFull(Exception):
    """The code cache has no room left for a block: flush it, then translate again."""
