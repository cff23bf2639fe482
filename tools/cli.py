"""`tcgjit [options] PROGRAM [ARGS...]`: run a RISC-V 64 Linux program, like qemu-riscv64."""
from __future__ import annotations

import gc
import os
import signal
import sys
from typing import Optional

VERSION = "0.1.0"


def _error(message: str) -> None:
    sys.stderr.write(f"tcgjit: {message}\n")
    sys.stderr.flush()


def _guest_environment(options) -> list[str]:
    environment = dict(os.environ)
    environment.update(options.env_set)
    for name in options.env_unset:
        environment.pop(name, None)
    return [f"{name}={value}" for name, value in environment.items()]


def run(argv: list[str]) -> int:
    """Run tcgjit with these arguments; returns the exit status (128 + N after host signal N
    stopped the guest: `main` then dies of the signal)."""
    return _run(argv)[0]


# Young-generation size between two runs of the cyclic garbage collector while the guest
# runs (Python's default is 700).
GC_YOUNG_THRESHOLD = 50_000


def _run(argv: list[str]) -> tuple[int, Optional[int]]:
    """(exit status, the host signal that stopped the guest or None)."""
    # Translation allocates many short-lived IR objects, nearly all freed by reference
    # counting. With the default thresholds the cyclic collector took about 10% of tcgjit's
    # Python time (perf): frequent young collections, and full ones over every object
    # created by the imports. So: no collection while loading, then everything loaded is
    # frozen (never scanned again) and the young generation is collected rarely.
    thresholds = gc.get_threshold()
    gc.disable()
    try:
        return _run_with_collector_paused(argv)
    finally:     # (for callers of run() in the same process, e.g. tests)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        gc.enable()


def _run_with_collector_paused(argv: list[str]) -> tuple[int, Optional[int]]:
    # Imported here, not at the top: `main` turns a Ctrl-C during these imports into a quiet
    # death by SIGINT too.
    from tools.options import LOG_ITEMS, UsageError, parse, usage_text
    try:
        options = parse(argv)
    except UsageError as error:
        _error(str(error))
        return 1, None
    if options.show_help:
        sys.stdout.write(usage_text())
        return 0, None
    if options.show_version:
        sys.stdout.write(f"tcgjit version {VERSION}\n")
        return 0, None
    if options.show_log_items:
        sys.stdout.write("Log items (comma separated):\n")
        for item, text in LOG_ITEMS.items():
            sys.stdout.write(f"{item:<10} {text}\n")
        return 0, None
    if options.program is None:
        sys.stderr.write(usage_text())
        return 1, None

    # Imported here so that --help and usage errors answer without loading the JIT.
    from jit.plugins import PluginError
    from tools.machine import Machine, MachineError, report_plugin_error

    log_stream = None
    if options.log_items:
        if options.log_file:
            try:
                log_stream = open(options.log_file, "w")
            except OSError as error:
                _error(f"cannot open log file {options.log_file}: {error.strerror}")
                return 1, None
        else:
            log_stream = sys.stderr
    from host_x86.codebuf import configure_code_cache
    configure_code_cache(options.code_cache_size)     # before the backend exists
    argv0 = options.program if options.argv0 is None else options.argv0
    guest_argv = [argv0] + options.guest_args
    try:
        machine = Machine.create(options.program, guest_argv, _guest_environment(options),
                                 log_stream=log_stream, log_items=options.log_items,
                                 options=options)
    except MachineError as error:
        _error(str(error))
        return 1, None
    except PluginError as error:     # a plugin raised while loading or installing
        report_plugin_error(error)
        return 1, None
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)
    gc.enable()
    try:
        status = machine.run()
        if "stats" in options.log_items:
            _write_stats(machine, log_stream)
        return status, machine.dispatcher.interrupted_by
    finally:
        if log_stream is not None and log_stream is not sys.stderr:
            log_stream.close()


def _write_stats(machine, stream) -> None:
    translation = machine.pipeline.stats
    backend = machine.backend.stats
    stream.write(f"stats: {translation.blocks} blocks, {translation.guest_insns} guest "
                 f"instructions translated in {translation.seconds:.3f} s; code cache "
                 f"{backend.code_cache_capacity / (1 << 20):g} MiB, peak "
                 f"{backend.code_cache_peak / (1 << 20):.2f} MiB used, "
                 f"{backend.flushes} flushes\n"
                 f"cold: {translation.cold_blocks} blocks ({translation.cold_insns} guest "
                 f"instructions) translated to IR only in {translation.cold_seconds:.3f} s, "
                 f"{translation.interpreted_runs} runs in the interpreter in "
                 f"{translation.interpreted_seconds:.3f} s\n")
    stream.flush()


def _die_of(signo: int, status: int) -> None:
    """End like a process killed by signo (what qemu-riscv64 does after a fatal signal): a
    shell then sees 128 + signo and knows the program was interrupted."""
    signal.signal(signo, signal.SIG_DFL)
    os.kill(os.getpid(), signo)
    sys.exit(status)       # only if the signal is blocked


def main(argv: Optional[list[str]] = None) -> None:
    try:
        status, interrupted_by = _run(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        # Ctrl-C outside the guest's run (loading, exit callbacks of plugins): no traceback.
        status, interrupted_by = 128 + signal.SIGINT, signal.SIGINT
    sys.stdout.flush()
    sys.stderr.flush()
    # Interpreter shutdown would run one more full collection over every object of the run
    # (40-70 ms measured on malloc); frozen objects are skipped, and the OS takes the memory
    # back anyway. Objects still die by reference counting as modules are torn down, so open
    # files are flushed as usual.
    gc.freeze()
    if interrupted_by is not None:
        _die_of(interrupted_by, status)
    sys.exit(status)


if __name__ == "__main__":
    main()
