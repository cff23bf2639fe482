"""The `space` and `backend` fixtures of the tests that run generated code directly: a guest
address space with some regions mapped, and an x86 backend on it. Each test module maps its own
regions, so it builds its pair here instead of sharing one conftest fixture."""
from __future__ import annotations

import pytest

from host_x86.guest_access import GUEST_GUARD_SIZE
from host_x86.backend import X86Backend
from host_x86.testing import GuestSpace


def space_and_backend(regions: list[tuple], guard_variants: bool = False):
    """Module-scoped (space, backend) fixtures with `regions` mapped: (address, size) or
    (address, size, PROT_* bits), read-write by default.
    With guard_variants, every test runs twice: without guard areas around the guest space
    (every access checked) and with them (a base checked once)."""
    guards = [0, GUEST_GUARD_SIZE] if guard_variants else [0]
    ids = ["unguarded", "guarded"] if guard_variants else None

    @pytest.fixture(scope="module", params=guards, ids=ids)
    def space(request):
        guest = GuestSpace(guard=request.param)
        for region in regions:
            guest.map(*region)
        yield guest
        guest.close()

    @pytest.fixture(scope="module")
    def backend(space):
        return X86Backend(space.base, guest_guarded=space.guard >= GUEST_GUARD_SIZE)

    return space, backend


def code_machine(code_pc: int, code: bytes, data: int):
    """A module-scoped `machine` fixture: (a guest space with `code` at code_pc and a data page
    at `data`, a backend on it), for blocks translated from that code."""

    @pytest.fixture(scope="module")
    def machine():
        space = GuestSpace()
        space.map(code_pc, 0x1000)
        space.poke(code_pc, code)
        space.map(data, 0x1000)
        return space, X86Backend(space.base)

    return machine


def run_counting_block(machine, block, native: bool, env, points=None, region=None):
    """Run an instrumented block on env, compiled (native) or in the interpreter, and return
    its exit kind. At a fault, with the block's points and the scoreboard region, the counts
    made ahead of the faulting instruction are taken back as the plugin core does for the
    dispatcher (the instruction found from the host pc, or from the interpreter's pc)."""
    from host_x86.testing import HostMemory
    from jit.env import ENV_FAULT_HOST_PC
    from jit.exits import ExitKind, decode_exit
    from jit.interp import run_block
    from jit.optimize import optimize
    from guest.riscv.cpu import OFF_PC

    space, backend = machine
    if native:
        optimize(block)
        compiled = backend.compile(block, 1)
        value = backend.execute(compiled, env.addr)
        assert backend.pending_exception is None
    else:
        value = run_block(block, env, space, host_memory=HostMemory())
    kind = decode_exit(value)[0]
    if kind is ExitKind.FAULT and points is not None:
        if native:
            host_pc = env.read_u64(ENV_FAULT_HOST_PC)
            index = compiled.insn_index_at(host_pc - compiled.host_addr)
        else:
            index = [insn.vaddr for insn in points.insns].index(env.read_u64(OFF_PC))
        for ahead in points.counted_ahead:
            region[ahead.entry_offset // 8] -= ahead.taken_back(index)
    return kind
