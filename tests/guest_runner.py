"""Helpers for running RISC-V guest test programs under tcgjit and qemu-riscv64.

The guest programs live in tests/guest/bin/ (built by `python -m tools.build_guests`),
their recorded qemu-riscv64 results in tests/guest/expected/NAME.{stdout,stderr,status}.
Both runners use the repository root as working directory, a clean environment, no
stdin, and pass the binary by its repo-relative path so argv[0] is the same for both.

A second suite, `LINUX`, holds the RV64GC programs (glibc static / dynamic, freestanding
F/D tests) in tests/guest/bin_linux/ with recordings in tests/guest/expected_linux/.
Its programs may need options before the binary, the same for qemu-riscv64 and tcgjit
(`Suite.run_opts`): `-L /usr/riscv64-linux-gnu` for dynamically linked ones (the ELF
has a PT_INTERP) and `-E VAR=VALUE` for the environment variables in LINUX_GUEST_ENV.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
GUEST_DIR = REPO_ROOT / "tests" / "guest"
SRC_DIR = GUEST_DIR / "src"
BIN_DIR = GUEST_DIR / "bin"
EXPECTED_DIR = GUEST_DIR / "expected"

QEMU = "qemu-riscv64"

# Fixed command-line arguments per program (keyed by program name without the
# optimisation-level suffix, e.g. "argv" covers argv_O0 and argv_O2).
GUEST_ARGS: dict[str, tuple[str, ...]] = {
    "argv": ("first", "two words", "", "--flag=x", "\u00e9t\u00e9"),
    # the README example; 100 is also its default, so this is `tcgjit examples/primes`
    "example_primes": ("100",),
}

# Programs that run longer than the rest (seconds allowed under tcgjit).
DEFAULT_TIMEOUT = 300.0
SLOW_TIMEOUT = {"bench_O2": 900.0}


def base_name(name: str) -> str:
    """Program name without an _O0/_O1/_O2/_O3/_Os suffix."""
    stem, sep, suffix = name.rpartition("_")
    if sep and suffix in ("O0", "O1", "O2", "O3", "Os"):
        return stem
    return name


def guest_args(name: str) -> tuple[str, ...]:
    return GUEST_ARGS.get(base_name(name), ())


def timeout_for(name: str) -> float:
    return SLOW_TIMEOUT.get(name, DEFAULT_TIMEOUT)


def list_programs() -> list[str]:
    """Names of all built guest programs (files in tests/guest/bin/)."""
    if not BIN_DIR.is_dir():
        return []
    return sorted(p.name for p in BIN_DIR.iterdir() if p.is_file() and not p.name.startswith("."))


def binary_path(name: str) -> Path:
    return BIN_DIR / name


def _guest_path_arg(binary: os.PathLike | str) -> str:
    """Repo-relative path when the binary is inside the repo, else absolute."""
    p = Path(binary)
    if not p.is_absolute():
        p = (REPO_ROOT / p)
    p = p.resolve()
    try:
        return str(p.relative_to(REPO_ROOT))
    except ValueError:
        return str(p)


def clean_env() -> dict[str, str]:
    """Environment for tcgjit: only PATH."""
    return {"PATH": os.environ.get("PATH", os.defpath)}


def _no_core_dumps() -> None:
    """preexec_fn: a guest killed by a signal must not leave core files behind."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def normalize_status(returncode: int) -> int:
    """Shell-style exit status: death by signal N becomes 128 + N."""
    if returncode < 0:
        return 128 - returncode
    return returncode


def run_tcgjit(
    binary: os.PathLike | str,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    extra_opts: Iterable[str] = (),
    timeout: float | None = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess:
    """Run `python -m tools.cli [extra_opts] BINARY ARGS...` from the repo root.

    Returns the CompletedProcess (stdout/stderr as bytes); `returncode` is the raw
    value, use normalize_status() for the shell-style status.
    """
    cmd = [sys.executable, "-m", "tools.cli", *extra_opts, _guest_path_arg(binary), *args]
    return subprocess.run(
        cmd,
        cwd=REPO_ROOT,
        env=dict(env) if env is not None else clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        preexec_fn=_no_core_dumps,
    )


def qemu_path() -> str | None:
    return shutil.which(QEMU)


def run_qemu(
    binary: os.PathLike | str,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    extra_opts: Iterable[str] = (),
    timeout: float | None = 120.0,
) -> subprocess.CompletedProcess | None:
    """Run the binary under qemu-riscv64 like `env -i qemu-riscv64 BINARY ARGS...`.

    Returns None when qemu-riscv64 is not installed. The default environment is
    empty (env -i); qemu passes it on to the guest.
    """
    qemu = qemu_path()
    if qemu is None:
        return None
    cmd = [qemu, *extra_opts, _guest_path_arg(binary), *args]
    return subprocess.run(
        cmd,
        cwd=REPO_ROOT,
        env=dict(env) if env is not None else {},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        preexec_fn=_no_core_dumps,
    )


@dataclass(frozen=True)
class Expected:
    stdout: bytes
    stderr: bytes
    status: int


def expected_paths(name: str) -> dict[str, Path]:
    return {kind: EXPECTED_DIR / f"{name}.{kind}" for kind in ("stdout", "stderr", "status")}


def load_expected(name: str) -> Expected | None:
    """Recorded qemu-riscv64 result of a program, or None if not recorded."""
    paths = expected_paths(name)
    if not paths["stdout"].is_file() or not paths["status"].is_file():
        return None
    stderr = paths["stderr"].read_bytes() if paths["stderr"].is_file() else b""
    return Expected(
        stdout=paths["stdout"].read_bytes(),
        stderr=stderr,
        status=int(paths["status"].read_text().strip()),
    )


def check_tcgjit_result(name: str, expected: Expected,
                        run: Callable[[], subprocess.CompletedProcess]) -> None:
    """Run tcgjit through `run` and fail the test unless its stdout, exit status and guest
    stderr are qemu-riscv64's recorded ones (a timeout fails with the output so far)."""
    import pytest

    try:
        result = run()
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{name}: tcgjit did not finish within {exc.timeout} s; stdout so far:\n"
                    f"{first_difference(expected.stdout, exc.stdout or b'')}")
    status = normalize_status(result.returncode)
    stderr_tail = result.stderr[-3000:].decode(errors="replace")
    assert result.stdout == expected.stdout, (
        f"{name}: stdout differs from qemu-riscv64's\n"
        f"{first_difference(expected.stdout, result.stdout)}\n"
        f"tcgjit status {status}{signal_name(status)}; stderr (tail):\n{stderr_tail}")
    assert status == expected.status, (
        f"{name}: exit status {status}{signal_name(status)}, expected {expected.status}\n"
        f"stderr (tail):\n{stderr_tail}")
    if expected.stderr:
        assert expected.stderr in result.stderr, (
            f"{name}: guest stderr {expected.stderr!r} not found in tcgjit's stderr:\n"
            f"{stderr_tail}")


def check_recording(name: str, expected: Expected, qemu_result: subprocess.CompletedProcess,
                    rerecord_hint: str) -> None:
    """Fail unless qemu-riscv64 still gives the recorded result."""
    status = normalize_status(qemu_result.returncode)
    assert qemu_result.stdout == expected.stdout, (
        f"{name}: recording is stale, qemu now prints something else; {rerecord_hint}\n"
        f"{first_difference(expected.stdout, qemu_result.stdout)}")
    assert status == expected.status, (
        f"{name}: qemu status {status} != recorded {expected.status}; {rerecord_hint}")
    assert qemu_result.stderr == expected.stderr, (
        f"{name}: qemu stderr differs from the recording; {rerecord_hint}")


def signal_name(status: int) -> str:
    if status > 128:
        try:
            return f" ({signal.Signals(status - 128).name})"
        except ValueError:
            pass
    return ""


def first_difference(expected: bytes, actual: bytes, context: int = 2) -> str:
    """Human-readable description of where two outputs first differ (by line)."""
    exp_lines = expected.splitlines(keepends=True)
    act_lines = actual.splitlines(keepends=True)
    for i in range(max(len(exp_lines), len(act_lines))):
        e = exp_lines[i] if i < len(exp_lines) else None
        a = act_lines[i] if i < len(act_lines) else None
        if e != a:
            lo = max(0, i - context)
            out = [f"first difference at line {i + 1} "
                   f"(expected {len(exp_lines)} lines / {len(expected)} bytes, "
                   f"got {len(act_lines)} lines / {len(actual)} bytes)"]
            for j in range(lo, i):
                out.append(f"    {exp_lines[j]!r}")
            out.append(f"  - expected: {e!r}")
            out.append(f"  + actual:   {a!r}")
            return "\n".join(out)
    return "outputs are identical"


# ---------------------------------------------------------------------------
# Suites: a directory of binaries, its recordings and how to run each program.

LINUX_BIN_DIR = GUEST_DIR / "bin_linux"
LINUX_EXPECTED_DIR = GUEST_DIR / "expected_linux"

# Root of the RISC-V glibc (Debian's libc6-riscv64-cross): dynamically linked guests run
# with `-L SYSROOT`, under qemu-riscv64 and tcgjit alike.
SYSROOT = "/usr/riscv64-linux-gnu"

# Linux-suite arguments / environment, keyed by linux_base_name() (e.g. "process"
# covers process_static_O0, process_static_O2 and process_dyn_O2). The environment is
# passed with -E VAR=VALUE (qemu-riscv64 splits -E at commas: no commas in values).
LINUX_GUEST_ARGS: dict[str, tuple[str, ...]] = {
    "process": ("alpha", "two words", "", "--flag=x", "\u00e9t\u00e9"),
}
LINUX_GUEST_ENV: dict[str, dict[str, str]] = {
    "process": {"TCGJIT_TEST_VAR": "hello world", "TCGJIT_EMPTY": ""},
}
LINUX_SLOW_TIMEOUT: dict[str, float] = {}

PT_INTERP = 3


def elf_interpreter(path: os.PathLike | str) -> str | None:
    """The PT_INTERP path of a 64-bit little-endian ELF file, or None (static)."""
    import struct
    with open(path, "rb") as f:
        header = f.read(64)
        if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            return None
        phoff, = struct.unpack_from("<Q", header, 32)
        phentsize, phnum = struct.unpack_from("<HH", header, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            ph = f.read(56)
            p_type, = struct.unpack_from("<I", ph, 0)
            if p_type == PT_INTERP:
                offset, = struct.unpack_from("<Q", ph, 8)
                size, = struct.unpack_from("<Q", ph, 32)
                f.seek(offset)
                return f.read(size).rstrip(b"\0").decode()
    return None


def linux_base_name(name: str) -> str:
    """Program name without the optimisation level and _static / _dyn suffixes."""
    stem = base_name(name)
    for suffix in ("_static", "_dyn"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def sysroot_available() -> bool:
    """True when the RISC-V glibc that dynamic guests need is installed."""
    return Path(SYSROOT, "lib", "ld-linux-riscv64-lp64d.so.1").exists()


@dataclass(frozen=True, eq=False)
class Suite:
    """A directory of guest binaries with their recordings and run settings."""
    name: str
    bin_dir: Path
    expected_dir: Path
    args: Mapping[str, tuple[str, ...]]
    env: Mapping[str, Mapping[str, str]]
    base: Callable[[str], str]
    slow: Mapping[str, float]

    def programs(self) -> list[str]:
        if not self.bin_dir.is_dir():
            return []
        return sorted(p.name for p in self.bin_dir.iterdir()
                      if p.is_file() and not p.name.startswith("."))

    def binary_path(self, name: str) -> Path:
        return self.bin_dir / name

    def guest_args(self, name: str) -> tuple[str, ...]:
        return tuple(self.args.get(self.base(name), ()))

    def guest_env(self, name: str) -> dict[str, str]:
        return dict(self.env.get(self.base(name), {}))

    def is_dynamic(self, name: str) -> bool:
        return elf_interpreter(self.binary_path(name)) is not None

    def run_opts(self, name: str) -> list[str]:
        """Options before the binary, identical for qemu-riscv64 and tcgjit."""
        opts: list[str] = []
        if self.is_dynamic(name):
            opts += ["-L", SYSROOT]
        for var, value in self.guest_env(name).items():
            opts += ["-E", f"{var}={value}"]
        return opts

    def timeout_for(self, name: str) -> float:
        return self.slow.get(name, DEFAULT_TIMEOUT)

    def expected_paths(self, name: str) -> dict[str, Path]:
        return {kind: self.expected_dir / f"{name}.{kind}" for kind in ("stdout", "stderr", "status")}

    def load_expected(self, name: str) -> Expected | None:
        paths = self.expected_paths(name)
        if not paths["stdout"].is_file() or not paths["status"].is_file():
            return None
        stderr = paths["stderr"].read_bytes() if paths["stderr"].is_file() else b""
        return Expected(stdout=paths["stdout"].read_bytes(), stderr=stderr,
                        status=int(paths["status"].read_text().strip()))

    def run_qemu(self, name: str, timeout: float | None = 120.0) -> subprocess.CompletedProcess | None:
        return run_qemu(self.binary_path(name), self.guest_args(name),
                        extra_opts=self.run_opts(name), timeout=timeout)

    def run_tcgjit(self, name: str, timeout: float | None = None) -> subprocess.CompletedProcess:
        return run_tcgjit(self.binary_path(name), self.guest_args(name),
                          extra_opts=self.run_opts(name),
                          timeout=self.timeout_for(name) if timeout is None else timeout)


GUEST = Suite("guest", BIN_DIR, EXPECTED_DIR, GUEST_ARGS, {}, base_name, SLOW_TIMEOUT)
LINUX = Suite("linux", LINUX_BIN_DIR, LINUX_EXPECTED_DIR, LINUX_GUEST_ARGS, LINUX_GUEST_ENV,
              linux_base_name, LINUX_SLOW_TIMEOUT)
