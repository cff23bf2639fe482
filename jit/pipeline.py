"""The fixed pass pipeline: guest code -> IR -> optimized IR -> host code, with a dump
between passes when the user asked for it (`-d in_asm,op,op_opt,out_asm`)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol, TextIO

from jit.ir import IRBlock
from jit.optimize import optimize

# The log items, in pipeline order: name -> what it shows.
LOG_ITEMS = {
    "in_asm": "guest code of each translated block",
    "op": "IR as the frontend produced it",
    "op_opt": "IR after the optimizer",
    "out_asm": "host code generated for each block",
    "exec": "each block as it is entered from the dispatcher",
}


class Frontend(Protocol):
    def translate(self, pc: int, block_id: int, max_insns: int = ...) -> IRBlock: ...
    def disassemble(self, pc: int, size: int) -> str: ...


class Backend(Protocol):
    def compile(self, block: IRBlock, block_id: int): ...
    def disassemble(self, native) -> str: ...


@dataclass
class DebugLog:
    """Where `-d` output goes (stderr or the -D file) and which items are on."""

    stream: Optional[TextIO] = None
    items: frozenset = frozenset()

    def enabled(self, item: str) -> bool:
        return item in self.items and self.stream is not None

    def write(self, text: str) -> None:
        if self.stream is not None:
            self.stream.write(text)
            self.stream.flush()


@dataclass
class TranslationStats:
    blocks: int = 0
    guest_insns: int = 0
    seconds: float = 0.0
    per_pass: dict = field(default_factory=lambda: {"translate": 0.0, "optimize": 0.0,
                                                    "instrument": 0.0, "compile": 0.0})


class Pipeline:
    """Runs the passes in their fixed order for one block at a time."""

    def __init__(self, frontend: Frontend, backend: Backend, log: DebugLog,
                 instrument: Optional[Callable[[IRBlock], None]] = None,
                 max_insns: int = 512):
        self.frontend = frontend
        self.backend = backend
        self.log = log
        self.instrument = instrument     # plugin injection between "op" and "op_opt"
        self.max_insns = max_insns
        self.stats = TranslationStats()

    def translate(self, pc: int, block_id: int):
        log = self.log
        logging = bool(log.items)       # (the usual run logs nothing: skip the item checks)
        started = time.perf_counter()
        block = self.frontend.translate(pc, block_id, self.max_insns)
        after_translate = time.perf_counter()
        if logging and log.enabled("in_asm"):
            log.write("----------------\nIN: \n"
                      + self.frontend.disassemble(pc, block.guest_size) + "\n\n")
        if logging and log.enabled("op"):
            log.write(f"OP:\n{block.dump()}\n\n")
        if self.instrument is not None:
            self.instrument(block)
        after_instrument = time.perf_counter()
        optimize(block)
        after_optimize = time.perf_counter()
        if logging and log.enabled("op_opt"):
            log.write(f"OP after optimization:\n{block.dump()}\n\n")
        native = self.backend.compile(block, block_id)
        finished = time.perf_counter()
        if logging and log.enabled("out_asm"):
            log.write(f"OUT: [size={native.host_size}]\n{self.backend.disassemble(native)}\n\n")
        stats = self.stats
        stats.blocks += 1
        stats.guest_insns += block.n_insns
        stats.seconds += finished - started
        stats.per_pass["translate"] += after_translate - started
        stats.per_pass["instrument"] += after_instrument - after_translate
        stats.per_pass["optimize"] += after_optimize - after_instrument
        stats.per_pass["compile"] += finished - after_optimize
        return block, native
