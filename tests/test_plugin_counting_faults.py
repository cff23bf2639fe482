"""Inline instruction counts stay exact when a block leaves through a fault after its merged
adds counted instructions ahead (jit/plugin_gen.py merge_inline_adds and its rewind table,
PluginCore.block_faulted, the dispatcher's fault hooks).

Small RV64I programs, built here with the cross compiler: a loop inside one block (its back
edge branches to the block's own start) whose access faults in its ninth iteration, with a
load and with a store (the guest dies: the count includes the faulting instruction, as qemu's
per-instruction count and the callback count do), and a loop whose store hits a page holding
translated code in a later iteration (the store runs again in the interpreter and the guest
goes on: the count equals qemu-riscv64's).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CROSS_CC = os.environ.get("RISCV_CC", "riscv64-linux-gnu-gcc")
INSNS = re.compile(r"^insns: (\d+)$", re.MULTILINE)

# mmap(0, 8192, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) -> s0: 8 instructions.
_MMAP = """
    li a0, 0
    li a1, 8192
    li a2, {prot}
    li a3, 0x22
    li a4, -1
    li a5, 0
    li a7, 222
    ecall
    mv s0, a0
"""

# The second page of the mapping gets `prot` (mprotect); the loop walks from the first page in
# steps of 512 bytes, so its access faults in the ninth iteration, at instruction 1 of the
# loop's five: 17 instructions before the loop + 8 iterations + 2 = 59.
LOOP_FAULT = ".text\n.globl _start\n_start:" + _MMAP.format(prot=3) + """
    li t0, 4096
    add a0, s0, t0
    li a1, 4096
    li a2, {prot}
    li a7, 226
    ecall
    mv a0, s0
    li t1, 0
loop:
    addi t1, t1, 1
    {access}
    addi a0, a0, 512
    add t2, t2, t1
    j loop
"""
LOOP_FAULT_COUNT = 17 + 8 * 5 + 2

# A `ret` in the second page of an RWX mapping, called once (so the page holds translated
# code and is write-protected); then ten iterations of a loop inside one block that store to
# the mapping in steps of 512 bytes: the ninth store hits the code page. 20 instructions
# before the loop (the `ret` included) + 10 iterations of 5 + 3 = 73.
SMC_LOOP = ".text\n.globl _start\n_start:" + _MMAP.format(prot=7) + """
    li t0, 4096
    add s1, s0, t0
    li t0, 0x00008067
    sw t0, 0(s1)
    .word 0x0000100f
    jalr s1
    mv a0, s0
    li t1, 0
    li t4, 10
loop:
    addi t1, t1, 1
    sw t1, 64(a0)
    addi a0, a0, 512
    add t2, t2, t1
    blt t1, t4, loop
    li a0, 0
    li a7, 94
    ecall
"""
SMC_LOOP_COUNT = 20 + 10 * 5 + 3

COUNTERS = ["inscount,inline=on,per=insn", "inscount,inline=off,per=insn"]


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    if shutil.which(CROSS_CC) is None:
        pytest.skip(f"needs {CROSS_CC}")
    directory = tmp_path_factory.mktemp("fault_counting")

    def build_program(name: str, source: str) -> Path:
        path = directory / name
        path.with_suffix(".S").write_text(source)
        subprocess.run([CROSS_CC, "-march=rv64i", "-mabi=lp64", "-static", "-nostdlib",
                        "-no-pie", "-mno-relax", "-o", str(path), str(path.with_suffix(".S"))],
                       check=True)
        return path
    return build_program


def counts(program: Path, *plugins: str) -> tuple[subprocess.CompletedProcess, list[int]]:
    options = [option for plugin in plugins for option in ("-plugin", plugin)]
    result = subprocess.run([sys.executable, "-m", "tools.cli", *options, str(program)],
                            cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    return result, [int(count) for count in INSNS.findall(result.stderr)]


@pytest.mark.parametrize("access, prot", [("ld t0, 0(a0)", 0), ("sd t1, 0(a0)", 1)],
                         ids=["load", "store"])
def test_a_loop_in_one_block_faulting_in_a_later_iteration(build, access, prot):
    program = build(f"loop_{access[:2]}", LOOP_FAULT.format(access=access, prot=prot))
    result, found = counts(program, *COUNTERS)
    assert result.returncode == 128 + 11, result.stderr          # SIGSEGV
    assert "guest SIGSEGV" in result.stderr
    # The faulting instruction counts (its add comes before its access); the three after it
    # in the block, counted ahead by the iteration's merged add, do not.
    assert found == [LOOP_FAULT_COUNT] * len(COUNTERS), result.stderr


def test_a_store_into_translated_code_in_a_later_iteration(build):
    program = build("smc_loop", SMC_LOOP)
    result, found = counts(program, *COUNTERS)
    assert result.returncode == 0, result.stderr
    assert found == [SMC_LOOP_COUNT] * len(COUNTERS), result.stderr
    qemu = shutil.which("qemu-riscv64")
    if qemu is None or shutil.which("gcc") is None:
        return
    plugin = program.parent / "insn_count.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(plugin),
                    str(REPO / "tests/plugins/insn_count.c")], check=True)
    reference = subprocess.run([qemu, "-d", "plugin", "-plugin", f"{plugin},per=insn",
                                str(program)], capture_output=True, text=True, timeout=60)
    assert [int(count) for count in INSNS.findall(reference.stderr)] == [SMC_LOOP_COUNT]


@pytest.mark.parametrize("access, prot", [("ld t0, 0(a0)", 0), ("sd t1, 0(a0)", 1)],
                         ids=["load", "store"])
def test_memory_inline_counts_agree_with_callbacks_at_a_fault(build, access, prot):
    """Memory inline adds come after their access: they are not moved ahead of it."""
    program = build(f"mem_loop_{access[:2]}", LOOP_FAULT.format(access=access, prot=prot))
    options = ["-d", "plugin", "-plugin", "mem", "-plugin", "mem,inline=off"]
    result = subprocess.run([sys.executable, "-m", "tools.cli", *options, str(program)],
                            cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    totals = re.findall(r"^mem accesses: (\d+)$", result.stderr, re.MULTILINE)
    assert totals == ["8", "8"], result.stderr
