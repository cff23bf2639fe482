"""`tcgjit [options] PROGRAM [ARGS...]`: run a RISC-V 64 Linux program, like qemu-riscv64."""
from __future__ import annotations

import os
import sys
from typing import Optional

from tools.options import LOG_ITEMS, UsageError, parse, usage_text

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
    try:
        options = parse(argv)
    except UsageError as error:
        _error(str(error))
        return 1
    if options.show_help:
        sys.stdout.write(usage_text())
        return 0
    if options.show_version:
        sys.stdout.write(f"tcgjit version {VERSION}\n")
        return 0
    if options.show_log_items:
        sys.stdout.write("Log items (comma separated):\n")
        for item, text in LOG_ITEMS.items():
            sys.stdout.write(f"{item:<10} {text}\n")
        return 0
    if options.program is None:
        sys.stderr.write(usage_text())
        return 1

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
                return 1
        else:
            log_stream = sys.stderr
    argv0 = options.program if options.argv0 is None else options.argv0
    guest_argv = [argv0] + options.guest_args
    try:
        machine = Machine.create(options.program, guest_argv, _guest_environment(options),
                                 log_stream=log_stream, log_items=options.log_items,
                                 options=options)
    except MachineError as error:
        _error(str(error))
        return 1
    except PluginError as error:     # a plugin raised while loading or installing
        report_plugin_error(error)
        return 1
    try:
        return machine.run()
    finally:
        if log_stream is not None and log_stream is not sys.stderr:
            log_stream.close()


def main(argv: Optional[list[str]] = None) -> None:
    status = run(sys.argv[1:] if argv is None else argv)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
