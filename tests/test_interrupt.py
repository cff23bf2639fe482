"""Ctrl-C and kill: a guest spinning in chained blocks (which never return to Python) stops at
once, plugins' atexit callbacks run and print, and tcgjit dies of the signal like qemu-riscv64
(a shell sees 128 + N). Also while the guest blocks in a system call, while Python plugin
callbacks run, and while code is being translated. Never a traceback."""
from __future__ import annotations

import re
import select
import signal
import subprocess
import sys
import time

import pytest

from tests import guest_runner as gr

SPIN = gr.binary_path("spin_O2")
BIGCODE = gr.binary_path("bigcode_O2")
INSNS = re.compile(rb"^insns: (\d+)$", re.MULTILINE)
# Generous for a loaded CI machine; the measured latency is about 15 ms (see the report).
LATENCY_BOUND = 1.0


def _start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=gr.REPO_ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_line(process: subprocess.Popen, timeout: float = 120) -> bytes:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "the guest never said it was running"
    return process.stdout.readline()


def _interrupt(process: subprocess.Popen, signo: int, settle: float = 0.3):
    """Let the guest run `settle` seconds, send signo; (latency to exit, stdout, stderr)."""
    time.sleep(settle)
    sent = time.perf_counter()
    process.send_signal(signo)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"tcgjit did not stop within 60 s of signal {signo}")
    latency = time.perf_counter() - sent
    stdout, stderr = process.communicate()
    process.stdin.close()
    return latency, stdout, stderr


def _tcgjit(*args: str) -> list[str]:
    return [sys.executable, "-m", "tools.cli", *args]


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_spinning_guest_stops_at_once_and_plugins_report(signo):
    process = _start(_tcgjit("-plugin", "inscount", str(SPIN), "forever"))
    assert _wait_for_line(process) == b"spinning\n"
    latency, stdout, stderr = _interrupt(process, signo)
    assert process.returncode == -signo            # died of the signal: shell status 128 + N
    assert gr.normalize_status(process.returncode) == 128 + signo
    assert stdout == b""                           # nothing after the guest's own line
    assert b"Traceback" not in stderr and b"tcgjit:" not in stderr
    count = INSNS.search(stderr)
    assert count and int(count.group(1)) > 1_000_000, stderr.decode()
    assert latency < LATENCY_BOUND, f"{latency * 1000:.0f} ms from the signal to the exit"


def test_python_plugin_callbacks_running_when_the_signal_comes():
    # Counting in Python callbacks: the signal usually lands inside one.
    process = _start(_tcgjit("-plugin", "inscount,inline=off,per=insn", str(SPIN), "forever"))
    assert _wait_for_line(process) == b"spinning\n"
    latency, _stdout, stderr = _interrupt(process, signal.SIGINT)
    assert process.returncode == -signal.SIGINT
    assert b"Traceback" not in stderr and b"tcgjit:" not in stderr
    assert INSNS.search(stderr), stderr.decode()
    assert latency < LATENCY_BOUND


def test_a_guest_blocked_in_read_is_interrupted():
    process = _start(_tcgjit("-plugin", "inscount", str(SPIN), "read"))
    assert _wait_for_line(process) == b"reading\n"    # then read(0) blocks: stdin stays open
    latency, stdout, stderr = _interrupt(process, signal.SIGINT)
    assert process.returncode == -signal.SIGINT
    assert stdout == b""
    assert b"Traceback" not in stderr and b"tcgjit:" not in stderr
    assert INSNS.search(stderr), stderr.decode()
    assert latency < LATENCY_BOUND


def test_a_guest_being_translated_is_interrupted():
    # The large program spends most of its time translating.
    process = _start(_tcgjit("-plugin", "inscount", "-tb-size", "1", str(BIGCODE)))
    assert _wait_for_line(process) == b"functions 2048\n"
    latency, _stdout, stderr = _interrupt(process, signal.SIGINT, settle=0.5)
    assert process.returncode == -signal.SIGINT
    assert b"Traceback" not in stderr and b"tcgjit:" not in stderr
    assert INSNS.search(stderr), stderr.decode()
    assert latency < LATENCY_BOUND


def test_the_exit_status_is_qemus():
    if gr.qemu_path() is None:
        pytest.skip("qemu-riscv64 not installed")
    process = _start([gr.QEMU, str(SPIN), "forever"])
    assert _wait_for_line(process) == b"spinning\n"
    _interrupt(process, signal.SIGINT)
    assert process.returncode == -signal.SIGINT


def test_the_signal_handlers_are_put_back_after_a_run():
    from host_x86.interrupt import FORWARDED_SIGNALS, signal_forwarder
    from tools.machine import Machine

    before = {sig: signal.getsignal(sig) for sig in FORWARDED_SIGNALS}
    machine = Machine.create(str(gr.binary_path("spin_O2")), ["spin_O2"], [])
    assert machine.run() == 0
    assert machine.dispatcher.interrupted_by is None
    assert {sig: signal.getsignal(sig) for sig in FORWARDED_SIGNALS} == before
    forwarder = signal_forwarder(machine.backend.encoder)
    assert not any(forwarder.is_installed(sig) for sig in FORWARDED_SIGNALS)
