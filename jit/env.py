"""The JIT's own fields of the CPU state ("env"), at negative offsets from the env pointer.

The guest architecture's state (registers, pc, CSRs) starts at offset 0 of env and is laid out
by the guest (guest/riscv/cpu.py). Generated code addresses both through the pinned env register.
"""
from __future__ import annotations

ENV_EXIT_REQUEST = -8        # u32: nonzero asks generated code to return ExitKind.STOP at block entry
ENV_FAULT_ADDR = -16         # u64: guest address of the faulting access
ENV_FAULT_HOST_PC = -24      # u64: host rip of the faulting instruction (0 if env.pc is exact)
ENV_SAVED_RSP = -32          # u64: host rsp inside the prologue, for leaving from a signal handler
ENV_FAULT_IS_WRITE = -40     # u64: 1 if the faulting access was a store
ENV_SCRATCH = -64            # 16 bytes of scratch for the backend
ENV_CPU_INDEX = -72          # u64: index of the vCPU running on this env (plugin callbacks get it)
ENV_PLUGIN_SCOREBOARDS = -80 # u64: host address of this vCPU's plugin scoreboard region
ENV_PLUGIN_MEM_CBS = -88     # u64: handle of the memory callbacks of the instruction running,
                             # for helpers that access guest memory (0: none)
ENV_FAULT_REGS = -256        # u64[16]: the host registers at a fault in generated code, by
                             # register number (the backend restores dirty globals from them)
ENV_HEADER_SIZE = 256        # bytes reserved below env
