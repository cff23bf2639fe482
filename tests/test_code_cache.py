"""The bounded code cache: blocks go into a fixed-size area which is flushed when a block does
not fit (every block, chain and jump-cache entry dropped, plugins told through their flush
callback), then translation starts again; the runtime stubs live in an area never flushed."""
from __future__ import annotations

import re
import weakref

import pytest

from host_x86.codebuf import (DEFAULT_CODE_CACHE_SIZE, MIB, MIN_CODE_CACHE_SIZE, CodeBuffer,
                              CodeBufferFull, configure_code_cache, shared_code_buffer)
from jit.code_cache import CodeCacheFull
from tests import guest_runner as gr

BIGCODE = "bigcode_O2"
FLUSH_PLUGIN = str(gr.REPO_ROOT / "tests" / "plugins" / "count_flushes.py")
STATS = re.compile(rb"^stats: (\d+) blocks, (\d+) guest instructions translated in [\d.]+ s; "
                   rb"code cache ([\d.]+) MiB, peak ([\d.]+) MiB used, (\d+) flushes$",
                   re.MULTILINE)
INSNS = re.compile(rb"^insns: (\d+)$", re.MULTILINE)
FLUSHES = re.compile(rb"^flushes: (\d+)$", re.MULTILINE)


class FakeClient:
    def __init__(self, running: bool = False):
        self.running_generated_code = running
        self.flushed = 0

    def code_cache_flushed(self) -> None:
        self.flushed += 1


@pytest.fixture
def buffer():
    return CodeBuffer(MIN_CODE_CACHE_SIZE)


# --------------------------------------------------------------------------------------------
# The buffer


def test_blocks_fill_the_capacity_then_the_buffer_is_full(buffer):
    first = buffer.allocate_block(1000)
    assert first == buffer.blocks_start
    while True:
        try:
            address = buffer.allocate_block(4000)
        except CodeBufferFull as full:
            assert isinstance(full, CodeCacheFull)     # what the dispatcher catches
            break
        assert address + 4000 <= buffer.blocks_start + buffer.capacity
    assert buffer.capacity - 4000 - 16 < buffer.used <= buffer.capacity


def test_the_runtime_area_is_separate_and_survives_a_flush(buffer):
    stub = buffer.allocate(64)
    assert buffer.base <= stub < buffer.blocks_start
    buffer.write(stub, b"\xC3" * 64)
    buffer.allocate_block(buffer.capacity)
    buffer.flush()
    assert buffer.read(stub, 64) == b"\xC3" * 64
    assert buffer.allocate(64) >= stub + 64        # runtime allocations are never reused


def test_a_flush_starts_again_at_the_start_and_tells_every_live_client(buffer):
    client, other = FakeClient(), FakeClient()
    buffer.add_client(client)
    buffer.add_client(other)
    gone = FakeClient()
    buffer.add_client(gone)
    gone_ref = weakref.ref(gone)
    del gone
    assert gone_ref() is None
    buffer.allocate_block(300_000)
    buffer.flush()
    assert (client.flushed, other.flushed, buffer.flushes) == (1, 1, 1)
    assert buffer.used == 0 and buffer.peak_used == 300_000
    assert buffer.allocate_block(100) == buffer.blocks_start
    # The memory written never exceeds the runtime area's part plus the capacity.
    assert buffer.memory_in_use <= buffer.runtime_size + buffer.capacity


def test_no_flush_while_generated_code_runs(buffer):
    running = FakeClient(running=True)
    buffer.add_client(running)
    buffer.allocate_block(100)
    with pytest.raises(RuntimeError):
        buffer.flush()
    assert running.flushed == 0 and buffer.used > 0


def test_capacity_bounds():
    with pytest.raises(ValueError):
        CodeBuffer(MIN_CODE_CACHE_SIZE - 1)
    buffer = CodeBuffer(2 * MIB)
    buffer.set_capacity(MIB)
    assert buffer.capacity == MIB
    with pytest.raises(ValueError):
        buffer.set_capacity(3 * MIB)       # more than it reserved


# --------------------------------------------------------------------------------------------
# Whole runs in this process, with the cache refilled to almost full after each flush, so that
# it is flushed every few blocks all through the run (self-modifying code included).

REFILL_LEAVES = 4096             # bytes left free after each refill
REFILLS = 40


@pytest.fixture
def small_shared_cache():
    shared = shared_code_buffer()
    saved = shared.capacity
    configure_code_cache(MIN_CODE_CACHE_SIZE)
    yield shared
    configure_code_cache(saved)


@pytest.mark.parametrize("suite, name", [(gr.GUEST, "sieve_O2"), (gr.GUEST, "cfeatures_O2"),
                                         (gr.LINUX, "smc_static_O2")],
                         ids=["sieve_O2", "cfeatures_O2", "smc_static_O2"])
def test_runs_flushed_every_few_blocks_give_the_same_result(small_shared_cache, capfd, suite,
                                                           name):
    from plugin_api.loader import parse_plugin_option
    from tools.machine import Machine
    from tools.options import Options

    small_shared_cache.flush()
    small_shared_cache.allocate_block(small_shared_cache.capacity - REFILL_LEAVES)
    options = Options(plugins=[parse_plugin_option(FLUSH_PLUGIN)])
    path = str(suite.binary_path(name))
    machine = Machine.create(path, [path, *suite.guest_args(name)], [], options=options)
    dispatcher = machine.dispatcher
    seen = []
    translate = machine.pipeline.translate

    def flushed() -> None:
        seen.append(len(dispatcher.blocks))     # 0: the hook runs once the blocks are gone

    def translate_then_refill(pc: int, block_id: int):
        # After the block that follows a flush is in (it must fit), fill the cache again.
        result = translate(pc, block_id)
        if small_shared_cache.used < REFILL_LEAVES and len(seen) < REFILLS:
            small_shared_cache.allocate_block(small_shared_cache.capacity - REFILL_LEAVES)
        return result

    dispatcher.flush_hooks.append(flushed)
    machine.pipeline.translate = translate_then_refill
    capfd.readouterr()
    status = machine.run()
    output = capfd.readouterr()
    expected = suite.load_expected(name)
    assert (output.out.encode(), status) == (expected.stdout, expected.status)
    assert len(seen) >= 3 and set(seen) == {0}
    assert machine.backend.stats.flushes == len(seen)
    # The plugin's flush callback ran for each flush.
    assert f"flushes: {len(seen)}\n" in output.err
    # Every block known now was translated after the last flush, into the cache's space.
    for native in dispatcher.blocks.values():
        assert machine.backend.block_at(native.host_addr) is native
        assert small_shared_cache.contains(native.host_addr)


# --------------------------------------------------------------------------------------------
# The command line with a large code footprint


def _run_bigcode(*options: str):
    # (-cold-runs 0: every block compiled, for the code footprint these tests need; most of
    # bigcode's functions run once and would otherwise stay in the interpreter)
    return gr.run_tcgjit(gr.binary_path(BIGCODE), (), extra_opts=("-cold-runs", "0",
                                                                   "-d", "stats,plugin",
                                                                   "-plugin", "inscount",
                                                                   "-plugin", FLUSH_PLUGIN,
                                                                   *options),
                         timeout=600)


def _stats(result) -> dict:
    match = STATS.search(result.stderr)
    assert match, result.stderr.decode(errors="replace")
    blocks, insns, capacity, peak, flushes = match.groups()
    return {"blocks": int(blocks), "capacity_mib": float(capacity), "peak_mib": float(peak),
            "flushes": int(flushes)}


def test_a_large_program_in_the_smallest_cache_flushes_and_counts_exactly():
    expected = gr.load_expected(BIGCODE)
    small = _run_bigcode("-tb-size", "1")
    default = _run_bigcode()
    for result in (small, default):
        assert b"Traceback" not in result.stderr
        assert result.returncode == int(expected.status), result.stderr.decode()
        assert result.stdout == expected.stdout
    small_stats, default_stats = _stats(small), _stats(default)
    assert small_stats["capacity_mib"] == 1
    assert default_stats["capacity_mib"] == DEFAULT_CODE_CACHE_SIZE / MIB
    assert default_stats["flushes"] == 0
    # The program needs more than 1 MiB of code, translated again in each round.
    assert default_stats["peak_mib"] > 1
    assert small_stats["flushes"] >= 2 and small_stats["peak_mib"] <= 1
    assert small_stats["blocks"] > default_stats["blocks"]
    # The plugin heard of every flush, and the instruction count does not depend on them.
    assert int(FLUSHES.search(small.stderr).group(1)) == small_stats["flushes"]
    assert int(FLUSHES.search(default.stderr).group(1)) == 0
    assert INSNS.search(small.stderr).group(1) == INSNS.search(default.stderr).group(1)


@pytest.mark.parametrize("value", ["0", "2048", "big", "-1"])
def test_tb_size_out_of_range_is_a_usage_error(value):
    result = gr.run_tcgjit(gr.binary_path("spin_O2"), (), extra_opts=("-tb-size", value))
    assert result.returncode == 1
    assert result.stderr.decode().startswith("tcgjit: -tb-size expects a size in MiB")
    assert b"Traceback" not in result.stderr
