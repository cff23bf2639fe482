"""The command line: options, dumps, and how every bad input ends (one line, a status, no
traceback, guest output kept)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.guest_runner import BIN_DIR, REPO_ROOT

EXAMPLE = str(REPO_ROOT / "examples" / "primes")


def tcgjit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], cwd=REPO_ROOT,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def assert_one_line_error(result: subprocess.CompletedProcess, pattern: str) -> None:
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("tcgjit:")]
    assert len(lines) == 1, stderr
    assert re.fullmatch(pattern, lines[0]), lines[0]


def test_help_lists_the_options():
    result = tcgjit("--help")
    assert result.returncode == 0
    for option in ("-d", "-D", "-E", "-U", "-0"):
        assert f" {option} " in result.stdout.decode()


def test_version():
    result = tcgjit("--version")
    assert result.returncode == 0 and result.stdout.startswith(b"tcgjit version ")


@pytest.mark.parametrize("args, pattern", [
    (["-x", EXAMPLE], r"tcgjit: unknown option '-x' \(try --help\)"),
    (["-d"], r"tcgjit: option '-d' needs an argument .*"),
    (["-d", "nonsense", EXAMPLE], r"tcgjit: unknown -d item 'nonsense' .*"),
    (["-E", "NOVALUE", EXAMPLE], r"tcgjit: -E expects VAR=VALUE, got 'NOVALUE'"),
])
def test_bad_options_end_with_one_line_and_status_1(args, pattern):
    result = tcgjit(*args)
    assert result.returncode == 1
    assert_one_line_error(result, pattern)


def test_no_program_prints_usage_and_fails():
    result = tcgjit()
    assert result.returncode == 1 and result.stderr.startswith(b"usage: tcgjit")


@pytest.mark.parametrize("path, reason", [
    ("/nonexistent/program", "No such file or directory"),
    ("README.md", "Permission denied|Exec format error.*"),
    (sys.executable, r"Exec format error: .*need RISC-V.*"),
    ("tests", "Is a directory"),
])
def test_programs_that_cannot_be_loaded(path, reason):
    result = tcgjit(path)
    assert result.returncode == 1
    assert_one_line_error(result, rf"tcgjit: cannot run {re.escape(path)}: ({reason})")


def test_illegal_instruction_keeps_output_and_ends_with_sigill():
    result = tcgjit(str(BIN_DIR / "fault_ill"))
    assert result.returncode == 132
    assert result.stdout == b"before the illegal instruction\n"
    assert_one_line_error(result, r"tcgjit: guest SIGILL at pc=0x[0-9a-f]+ \(insn 0x[0-9a-f]+\)")


def test_guest_segfault_keeps_output_and_ends_with_sigsegv():
    result = tcgjit(str(BIN_DIR / "fault_segv"))
    assert result.returncode == 139
    assert result.stdout == b"before the fault\n"
    assert_one_line_error(result, r"tcgjit: guest SIGSEGV at pc=0x[0-9a-f]+ addr=0x10")


def test_unknown_syscalls_return_enosys_and_warn_once_per_number():
    result = tcgjit(str(BIN_DIR / "unknown_syscall"))
    assert result.returncode == 0
    assert result.stdout.count(b"ffffffffffffffda") == 3     # -ENOSYS (38) three times
    assert result.stderr.decode().splitlines() == ["tcgjit: unsupported syscall 999",
                                                   "tcgjit: unsupported syscall 4321"]


def test_dump_shows_all_four_stages_of_the_pipeline():
    result = tcgjit("-d", "in_asm,op,op_opt,out_asm", EXAMPLE, "10")
    assert result.returncode == 0
    assert result.stdout.startswith(b"Primes below 10:\n 2 3 5 7\n")
    dump = result.stderr.decode()
    stages = [dump.index(marker) for marker in ("IN: ", "OP:\n", "OP after optimization:\n",
                                                "OUT: [size=")]
    assert stages == sorted(stages)
    assert re.search(r"0x0*1[0-9a-f]+:\s+[0-9a-f]{4,8}\s+\w+", dump)      # guest disassembly
    assert re.search(r"^insn_start 0x[0-9a-f]+$", dump, re.MULTILINE)      # IR
    assert re.search(r"^0x[0-9a-f]+:  (mov|cmp|add|jmp)", dump, re.MULTILINE)  # host code


def test_dump_to_a_file_leaves_stderr_clean(tmp_path):
    log = tmp_path / "log.txt"
    result = tcgjit("-d", "op", "-D", str(log), EXAMPLE, "10")
    assert result.returncode == 0 and result.stderr == b""
    assert "insn_start" in log.read_text()


def test_argv0_option():
    plain = tcgjit(str(BIN_DIR / "argv_O2"), "a")
    forced = tcgjit("-0", "", str(BIN_DIR / "argv_O2"), "a")
    assert b"argv[0] non-empty 1" in plain.stdout
    assert b"argv[0] non-empty 0" in forced.stdout


def test_in_process_run_leaves_the_garbage_collector_as_it_found_it():
    """run() pauses, freezes and retunes Python's cyclic collector for the guest's run (see
    tools/cli.py); a caller in the same process (tests, tools) must get it back unchanged."""
    import gc

    from tools import cli

    thresholds = gc.get_threshold()
    assert gc.isenabled()
    assert cli.run([str(BIN_DIR / "exit42")]) == 42
    assert gc.isenabled()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0
