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


# Runs of a new block in the interpreter before it is compiled (cold blocks, see
# jit/dispatch.py; tcgjit -cold-runs; 0: compile every block at once).
DEFAULT_COLD_RUNS = 1


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
    """blocks, guest_insns, seconds: the blocks compiled to host code, their guest instructions
    and all the time their translation took (frontend included). Cold blocks (translated to IR,
    run by the interpreter, not compiled yet; see jit/dispatch.py) are counted apart."""
    blocks: int = 0
    guest_insns: int = 0
    seconds: float = 0.0
    per_pass: dict = field(default_factory=lambda: {"translate": 0.0, "optimize": 0.0,
                                                    "instrument": 0.0, "compile": 0.0})
    cold_blocks: int = 0          # translated to IR only, so far
    cold_insns: int = 0
    cold_seconds: float = 0.0     # their frontend time
    interpreted_runs: int = 0     # runs of cold blocks in the interpreter
    interpreted_seconds: float = 0.0


class Pipeline:
    """Runs the passes in their fixed order for one block at a time: `translate` all of them;
    or `translate_to_ir` first and `compile` later (a cold block, interpreted meanwhile)."""

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
        block, frontend_seconds = self._to_ir(pc, block_id)
        return block, self._compile(block, block_id, frontend_seconds)

    def translate_to_ir(self, pc: int, block_id: int) -> tuple[IRBlock, float]:
        """The frontend and plugin passes only, for a cold block (see jit/dispatch.py): the
        block and the seconds they took (to give to `compile`)."""
        block, frontend_seconds = self._to_ir(pc, block_id)
        stats = self.stats
        stats.cold_blocks += 1
        stats.cold_insns += block.n_insns
        stats.cold_seconds += frontend_seconds
        return block, frontend_seconds

    def compile(self, block: IRBlock, block_id: int, frontend_seconds: float):
        """The rest of the passes, for a block from translate_to_ir."""
        stats = self.stats
        stats.cold_blocks -= 1
        stats.cold_insns -= block.n_insns
        stats.cold_seconds -= frontend_seconds
        return self._compile(block, block_id, frontend_seconds)

    def _to_ir(self, pc: int, block_id: int) -> tuple[IRBlock, float]:
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
        finished = time.perf_counter()
        per_pass = self.stats.per_pass
        per_pass["translate"] += after_translate - started
        per_pass["instrument"] += finished - after_translate
        return block, finished - started

    def _compile(self, block: IRBlock, block_id: int, frontend_seconds: float):
        log = self.log
        logging = bool(log.items)
        started = time.perf_counter()
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
        stats.seconds += frontend_seconds + finished - started
        stats.per_pass["optimize"] += after_optimize - started
        stats.per_pass["compile"] += finished - after_optimize
        return native
