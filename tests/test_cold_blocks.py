"""Cold blocks (jit/dispatch.py): a new block is translated to IR and run by the interpreter for
its first `-cold-runs` runs, and compiled when it is entered again. Whatever the number of cold
runs, a program must print, return and count exactly the same, plugins must see the same
events; and cold blocks are off where every block must be compiled (translation dumps,
-d exec)."""
from __future__ import annotations

import re

import pytest

from guest.riscv.cpu import OFF_INSTRET
from jit import dispatch
from tests import guest_runner as gr
from tools.machine import Machine
from tools.options import parse

PROGRAMS = ["sieve_O2", "hashtable_O2", "recursion_O0", "cfeatures_O2", "fault_segv",
            "fault_ill", "smc_store", "smc_own_block", "mem_misaligned"]
STATS = re.compile(rb"^stats: (\d+) blocks, (\d+) guest instructions translated in [\d.]+ s; ",
                   re.MULTILINE)
COLD = re.compile(rb"^cold: (\d+) blocks \((\d+) guest instructions\) translated to IR only in "
                  rb"[\d.]+ s, (\d+) runs in the interpreter in [\d.]+ s$", re.MULTILINE)


def run_in_process(name: str, cold_runs: int, capfd) -> tuple:
    """(status, guest stdout, retired instructions, translation stats, the machine)."""
    path = str(gr.binary_path(name))
    options = parse(["-cold-runs", str(cold_runs), path])
    machine = Machine.create(path, [path], [], options=options)
    status = machine.run()
    out = capfd.readouterr().out
    return status, out, machine.env.read_u64(OFF_INSTRET), machine.pipeline.stats, machine


@pytest.mark.parametrize("name", PROGRAMS)
def test_every_number_of_cold_runs_gives_the_same_run(name, capfd):
    """Same output, status and instruction count (instret, exact at faults too) with every
    block compiled at once, and with blocks interpreted once or three times first."""
    runs = {cold_runs: run_in_process(name, cold_runs, capfd) for cold_runs in (0, 1, 3)}
    status, out, retired, stats, _ = runs[0]
    assert stats.cold_blocks == 0 and stats.interpreted_runs == 0
    for cold_runs in (1, 3):
        other_status, other_out, other_retired, other_stats, _ = runs[cold_runs]
        assert (other_status, other_out) == (status, out), f"-cold-runs {cold_runs}"
        assert other_retired == retired, f"-cold-runs {cold_runs}: instret differs"
        assert other_stats.interpreted_runs > 0


def test_blocks_that_run_once_are_not_compiled(capfd):
    _, _, _, compiled_at_once, _ = run_in_process("sieve_O2", 0, capfd)
    _, _, _, stats, _ = run_in_process("sieve_O2", 1, capfd)
    assert stats.cold_blocks > 0 and stats.interpreted_runs >= stats.cold_blocks
    assert stats.blocks + stats.cold_blocks == compiled_at_once.blocks
    assert stats.blocks < compiled_at_once.blocks


def test_a_block_with_a_loop_inside_is_compiled_at_once(capfd):
    """spin_O2 spends its run in a loop inside one block: interpreted, it would take minutes."""
    status, out, _, stats, _ = run_in_process("spin_O2", 1000, capfd)
    expected = gr.load_expected("spin_O2")
    assert (status, out.encode()) == (expected.status, expected.stdout)
    assert stats.interpreted_runs < 1000


def test_a_store_into_the_running_cold_block_goes_on_with_the_rewritten_code(capfd,
                                                                             monkeypatch):
    """The interpreter refuses the store (the rest of the block would run stale), the store
    runs alone, and the code after it is translated again; once per call of the routine."""
    steps = []
    original = dispatch.Dispatcher._step_in_interpreter

    def counting_step(self):
        steps.append(self.env.read_u64(self.runtime.pc_offset))
        return original(self)

    monkeypatch.setattr(dispatch.Dispatcher, "_step_in_interpreter", counting_step)
    status, out, _, _, _ = run_in_process("smc_own_block", 1, capfd)
    assert status == 0 and out.count("own block: 0000000000000007") == 3
    assert len(steps) == 3 and len(set(steps)) == 1      # the routine's store, every time


def test_a_fault_in_a_cold_block_names_the_faulting_instruction():
    compiled = gr.run_tcgjit(gr.binary_path("fault_segv"), extra_opts=["-cold-runs", "0"])
    cold = gr.run_tcgjit(gr.binary_path("fault_segv"), extra_opts=["-cold-runs", "5"])
    assert b"pc=0x1012c" in compiled.stderr
    assert (cold.returncode, cold.stdout, cold.stderr) == (compiled.returncode,
                                                           compiled.stdout, compiled.stderr)


def test_the_cold_block_cache_is_bounded(capfd, monkeypatch):
    """Past MAX_COLD_BLOCKS the IR of every cold block is dropped (and made again if needed)."""
    _, out, retired, _, _ = run_in_process("cfeatures_O2", 0, capfd)
    monkeypatch.setattr(dispatch, "MAX_COLD_BLOCKS", 4)
    status, bounded_out, bounded_retired, stats, machine = run_in_process("cfeatures_O2", 3,
                                                                          capfd)
    assert (status, bounded_out, bounded_retired) == (0, out, retired)
    assert len(machine.dispatcher.cold_blocks) <= 4


@pytest.mark.parametrize("options", [["-d", "in_asm"], ["-d", "out_asm"], ["-d", "exec"]])
def test_no_cold_blocks_where_every_block_must_be_compiled(options, tmp_path):
    result = gr.run_tcgjit(gr.binary_path("sieve_O2"),
                           extra_opts=["-cold-runs", "3", "-D", str(tmp_path / "log"),
                                       "-d", "stats", *options])
    assert result.returncode == 0
    log = (tmp_path / "log").read_bytes()
    cold = COLD.search(log)
    assert cold and cold.groups() == (b"0", b"0", b"0"), log[-400:]
    blocks = int(STATS.search(log).group(1))
    if "in_asm" in options:
        assert log.count(b"IN: \n") == blocks


def test_stats_report_the_cold_blocks(tmp_path):
    result = gr.run_tcgjit(gr.binary_path("sieve_O2"), extra_opts=["-d", "stats"])
    cold = COLD.search(result.stderr)
    assert cold and int(cold.group(1)) > 0 and int(cold.group(3)) >= int(cold.group(1))


@pytest.mark.parametrize("value", ["-1", "x", "1001", ""])
def test_bad_cold_runs_is_a_usage_error(value):
    result = gr.run_tcgjit(gr.binary_path("exit42"), extra_opts=["-cold-runs", value])
    assert result.returncode == 1
    assert result.stderr.decode().count("\n") == 1 and "-cold-runs" in result.stderr.decode()


PLUGIN_RUNS = [
    ["-plugin", "inscount,inline=on,per=insn", "-plugin", "inscount,inline=off,per=tb",
     "-plugin", "bb"],
    ["-plugin", "mem,inline=on", "-plugin", "mem,inline=off,track=w"],
    ["-plugin", "hotblocks,limit=50", "-plugin", "howvec"],
    ["-plugin", "syscall", "-plugin", "execlog"],
]


@pytest.mark.parametrize("name", ["sieve_O2", "fault_segv", "smc_own_block", "mem_misaligned"])
@pytest.mark.parametrize("plugins", PLUGIN_RUNS, ids=["counts", "memory", "profiles", "logs"])
def test_plugins_see_the_same_run_from_cold_blocks(name, plugins, tmp_path):
    """Callbacks run from the interpreter, inline adds update the scoreboards there, and a
    fault takes back the counts made ahead of it, as in compiled blocks."""
    logs = {}
    for cold_runs in (0, 2):
        log = tmp_path / f"plugins{cold_runs}.log"
        result = gr.run_tcgjit(gr.binary_path(name),
                               extra_opts=["-cold-runs", str(cold_runs), "-d", "plugin,stats",
                                           "-D", str(log), *plugins])
        text = log.read_bytes()
        logs[cold_runs] = (result.returncode, result.stdout, result.stderr,
                           text[:text.index(b"stats: ")])
        cold = COLD.search(text)
        assert cold and (int(cold.group(3)) > 0) == (cold_runs > 0)
    assert logs[2] == logs[0]
