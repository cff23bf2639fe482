"""Build the RISC-V guest test programs and record their expected results.

    python -m tools.build_guests            # build groups guest + examples
    python -m tools.build_guests --record   # build, then record qemu-riscv64 results
    python -m tools.build_guests --record --no-build   # re-record only
    python -m tools.build_guests --list     # list the programs
    python -m tools.build_guests --group linux --record   # the RV64GC / glibc programs
    python -m tools.build_guests --group all --record     # everything

Groups (--group, repeatable; default guest + examples, or only guest with --out-dir):
  guest     tests/guest/bin/: RV64IM freestanding programs (recorded in expected/)
  examples  examples/primes, the README example (the same binary is built into
            tests/guest/bin/example_primes, which is what gets recorded and tested)
  linux     tests/guest/bin_linux/: RV64GC programs (recorded in expected_linux/):
            tests/guest/src/glibc/*.c with glibc (NAME_static_O0, NAME_static_O2,
            NAME_dyn_O2, see GLIBC_VARIANTS) and tests/guest/src/fp/*.c, freestanding
            F/D tests (fp_NAME, -O2, linked with fplib.c and the src/c runtime)

Sources of the guest group: tests/guest/src/asm/*.S (freestanding assembly, linked with
src/asm/include/asmlib.S) and tests/guest/src/c/*.c (freestanding C, linked with
start.S and rt.c; built at -O0 and -O2, see C_PROGRAMS). All are RV64IM, static,
no libc, no build id, so the binaries are reproducible (the glibc ones are stripped,
and reproducible for a given cross compiler and cross glibc: toolchain_linux.txt).

Recording runs each binary under qemu-riscv64 with an empty environment (like
`env -i`), no stdin and the fixed arguments from tests/guest_runner.GUEST_ARGS,
twice (to make sure the output is deterministic), and writes
tests/guest/expected/NAME.stdout, NAME.stderr (only if not empty) and NAME.status
(shell-style: death by signal N is 128+N). Linux-group programs are recorded the same
way into tests/guest/expected_linux/, with the options of guest_runner.LINUX.run_opts
(`-L /usr/riscv64-linux-gnu` for dynamically linked ones, `-E VAR=VALUE`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))
import guest_runner  # noqa: E402  (tests/guest_runner.py)

SRC_DIR = guest_runner.SRC_DIR
ASM_DIR = SRC_DIR / "asm"
C_DIR = SRC_DIR / "c"
BIN_DIR = guest_runner.BIN_DIR
EXPECTED_DIR = guest_runner.EXPECTED_DIR

CC = os.environ.get("RISCV_CC", "riscv64-linux-gnu-gcc")
# versions of the compiler and assembler that built the committed binaries
TOOLCHAIN_FILE = guest_runner.GUEST_DIR / "toolchain.txt"
# ... and of the cross glibc too, for the linux group
LINUX_TOOLCHAIN_FILE = guest_runner.GUEST_DIR / "toolchain_linux.txt"
CROSS_LIBC_PACKAGE = "libc6-dev-riscv64-cross"

EXAMPLES_DIR = REPO_ROOT / "examples"
GLIBC_DIR = SRC_DIR / "glibc"
FP_DIR = SRC_DIR / "fp"
LINUX_BIN_DIR = guest_runner.LINUX_BIN_DIR
LINUX_EXPECTED_DIR = guest_runner.LINUX_EXPECTED_DIR

GROUPS = ("guest", "examples", "linux")

ARCH_FLAGS = ["-march=rv64im", "-mabi=lp64", "-fno-pie"]
LINK_FLAGS = ["-nostdlib", "-static", "-fno-pie", "-no-pie", "-Wl,--build-id=none"]
ASM_FLAGS = ["-mno-relax", "-Iinclude"]
C_FLAGS = ["-ffreestanding", "-fno-stack-protector", "-fno-asynchronous-unwind-tables",
           "-Wall", "-Wextra", "-Werror", "-I."]

# C programs (tests/guest/src/c/NAME.c) and the optimisation levels to build.
# Every other .c file there except rt.c is built at the default levels.
DEFAULT_C_LEVELS = ("O0", "O2")
C_LEVELS = {
    "bench": ("O2",),
    "spin": ("O2",),        # Ctrl-C tests: one tight loop
    "bigcode": ("O2",),     # code cache tests: 4096 functions, a few MiB of translated code
}
C_RUNTIME = ("start.S", "rt.c")

# The README example (examples/primes.c): freestanding RV64IM like src/c, -O2.
EXAMPLE_FLAGS = ["-O2", *C_FLAGS, "-I../tests/guest/src/c"]

# RV64GC programs. glibc ones: every tests/guest/src/glibc/NAME.c is built in the
# variants GLIBC_VARIANTS_OF.get(NAME, GLIBC_DEFAULT_VARIANTS); stripped, no build id.
RV64GC_ARCH_FLAGS = ["-march=rv64gc", "-mabi=lp64d"]
GLIBC_C_FLAGS = ["-Wall", "-Wextra", "-Werror", "-Wno-stringop-truncation",
                 "-Wno-format-truncation"]
GLIBC_VARIANTS = {
    # suffix: (compile flags, link flags)
    "static_O0": (["-O0", "-fno-pie"], ["-static", "-no-pie", "-s", "-Wl,--build-id=none"]),
    "static_O2": (["-O2", "-fno-pie"], ["-static", "-no-pie", "-s", "-Wl,--build-id=none"]),
    "dyn_O2": (["-O2", "-fPIE"], ["-pie", "-s", "-Wl,--build-id=none"]),
}
GLIBC_DEFAULT_VARIANTS = ("static_O0", "static_O2", "dyn_O2")
GLIBC_VARIANTS_OF = {
    # the issue-3 acceptance programs: the code under test is inline asm / a fault
    "smc": ("static_O2", "dyn_O2"),
    "atomics": ("static_O2", "dyn_O2"),
    "csr": ("static_O2", "dyn_O2"),
    "fault_segv": ("static_O2", "dyn_O2"),
    "fault_sigill": ("static_O2", "dyn_O2"),
}
GLIBC_LIBS = ["-lm"]
# freestanding F/D tests: fp/NAME.c + fp/fplib.c + the src/c runtime, -O2, not stripped
FP_RUNTIME = ("fplib.c",)
FP_C_FLAGS = ["-O2", "-ffreestanding", "-fno-stack-protector", "-fno-asynchronous-unwind-tables",
              "-Wall", "-Wextra", "-Werror", "-I.", "-I../c"]


@dataclass
class Program:
    name: str
    cwd: Path
    # a str is relative to cwd; a Path is compiled in its own directory
    sources: list[str | Path]
    flags: list[str] = field(default_factory=list)

    out_dir: Path = BIN_DIR
    group: str = "guest"
    arch_flags: list[str] = field(default_factory=lambda: list(ARCH_FLAGS))
    link_flags: list[str] = field(default_factory=lambda: list(LINK_FLAGS))
    libs: list[str] = field(default_factory=list)
    elf_kind: str = "rv64im"   # what check_elf expects: rv64im, rv64gc

    @property
    def output(self) -> Path:
        return self.out_dir / self.name

    def commands(self, tmp: Path) -> list[tuple[list[str], Path]]:
        """(command, cwd) pairs: compile each source to tmp/STEM.o, then link there.
        Objects get fixed names so the symbol table (which names objects without
        a .file directive) is reproducible."""
        cmds = []
        objs = []
        for src in self.sources:
            cwd, name = (src.parent, src.name) if isinstance(src, Path) else (self.cwd, src)
            obj = Path(name).stem + ".o"
            cmds.append(([CC, *self.arch_flags, *self.flags, "-c", "-o", str(tmp / obj), name], cwd))
            objs.append(obj)
        cmds.append(([CC, *self.arch_flags, *self.flags, *self.link_flags, "-o", str(self.output),
                      *objs, *self.libs], tmp))
        return cmds


def _example(name: str, out_dir: Path, group: str) -> Program:
    return Program(name, C_DIR, [C_RUNTIME[0], EXAMPLES_DIR / "primes.c", *C_RUNTIME[1:]],
                   list(EXAMPLE_FLAGS), out_dir=out_dir, group=group)


def discover_linux() -> list[Program]:
    progs: list[Program] = []
    for src in sorted(GLIBC_DIR.glob("*.c")):
        for variant in GLIBC_VARIANTS_OF.get(src.stem, GLIBC_DEFAULT_VARIANTS):
            cflags, lflags = GLIBC_VARIANTS[variant]
            progs.append(Program(f"{src.stem}_{variant}", GLIBC_DIR, [src.name],
                                 [*cflags, *GLIBC_C_FLAGS], out_dir=LINUX_BIN_DIR, group="linux",
                                 arch_flags=list(RV64GC_ARCH_FLAGS), link_flags=list(lflags),
                                 libs=list(GLIBC_LIBS), elf_kind="rv64gc"))
    for src in sorted(FP_DIR.glob("*.c")):
        if src.name in FP_RUNTIME:
            continue
        progs.append(Program(f"fp_{src.stem}", FP_DIR,
                             [C_DIR / C_RUNTIME[0], src.name, *FP_RUNTIME, C_DIR / C_RUNTIME[1]],
                             list(FP_C_FLAGS), out_dir=LINUX_BIN_DIR, group="linux",
                             arch_flags=list(RV64GC_ARCH_FLAGS), elf_kind="rv64gc"))
    return progs


def discover(groups: tuple[str, ...] = ("guest",)) -> list[Program]:
    progs: list[Program] = []
    if "guest" in groups:
        for src in sorted(ASM_DIR.glob("*.S")):
            progs.append(Program(src.stem, ASM_DIR, [src.name, "include/asmlib.S"], list(ASM_FLAGS)))
        for src in sorted(C_DIR.glob("*.c")):
            if src.name in C_RUNTIME:
                continue
            for level in C_LEVELS.get(src.stem, DEFAULT_C_LEVELS):
                progs.append(Program(f"{src.stem}_{level}", C_DIR,
                                     [*C_RUNTIME[:1], src.name, *C_RUNTIME[1:]],
                                     [f"-{level}", *C_FLAGS]))
        progs.append(_example("example_primes", BIN_DIR, "guest"))
    if "examples" in groups:
        progs.append(_example("primes", EXAMPLES_DIR, "examples"))
    if "linux" in groups:
        progs.extend(discover_linux())
    return progs


# where each group's binaries and recordings live (None: not recorded / not pruned)
GROUP_BIN_DIR = {"guest": BIN_DIR, "examples": None, "linux": LINUX_BIN_DIR}
GROUP_SUITE = {"guest": guest_runner.GUEST, "examples": None, "linux": guest_runner.LINUX}


def check_elf(path: Path, kind: str = "rv64im") -> None:
    """Sanity checks: 64-bit little-endian RISC-V executable; rv64im: static, without
    the RVC or hard-float flags (i.e. really RV64IM / lp64); rv64gc: RVC and the
    double-float ABI, static (ET_EXEC) or dynamic (ET_DYN with an interpreter)."""
    data = path.read_bytes()[:64]
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit(f"{path}: not a 64-bit little-endian ELF")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    (e_flags,) = struct.unpack_from("<I", data, 48)
    if kind == "rv64gc":
        dynamic = guest_runner.elf_interpreter(path) is not None
        if e_machine != 243 or e_type != (3 if dynamic else 2):
            raise SystemExit(f"{path}: not a RISC-V executable (type {e_type}, machine {e_machine})")
        if e_flags & 0x7 != 0x5:  # EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE
            raise SystemExit(f"{path}: unexpected ELF flags {e_flags:#x} (not RV64GC / lp64d)")
        return
    if e_type != 2 or e_machine != 243:
        raise SystemExit(f"{path}: not a static RISC-V executable (type {e_type}, machine {e_machine})")
    if e_flags & 0x7:  # EF_RISCV_RVC | EF_RISCV_FLOAT_ABI
        raise SystemExit(f"{path}: unexpected ELF flags {e_flags:#x} (compressed or hard-float code)")


def toolchain_version() -> str:
    """First line of `CC --version` and of the assembler's --version."""
    lines = []
    for cmd in ([CC, "--version"], [CC, "-Wa,--version", "-c", "-x", "assembler", "-o", os.devnull,
                                    os.devnull]):
        res = subprocess.run(cmd, capture_output=True, text=True)
        lines.append((res.stdout or res.stderr).splitlines()[0].strip())
    return "\n".join(lines) + "\n"


def linux_toolchain_version() -> str:
    """toolchain_version() plus the version of the cross glibc the programs link."""
    version = "unknown"
    if shutil.which("dpkg-query"):
        res = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", CROSS_LIBC_PACKAGE],
                             capture_output=True, text=True)
        if res.returncode == 0 and res.stdout.strip():
            version = res.stdout.strip()
    return toolchain_version() + f"{CROSS_LIBC_PACKAGE} {version}\n"


def build(progs: list[Program], verbose: bool, prune: bool = True) -> None:
    if shutil.which(CC) is None:
        raise SystemExit(
            f"error: cross compiler {CC!r} not found.\n"
            "Install it with: apt-get install gcc-riscv64-linux-gnu\n"
            "(the committed binaries in tests/guest/bin/ can be used without it)")
    for prog in progs:
        prog.out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="build_guests.") as tmp:
            for cmd, cwd in prog.commands(Path(tmp)):
                if verbose:
                    print(f"  (cd {cwd} && {' '.join(cmd)})")
                res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
                if res.returncode != 0:
                    sys.stderr.write(res.stdout + res.stderr)
                    raise SystemExit(f"error: building {prog.name} failed")
        check_elf(prog.output, prog.elf_kind)
        print(f"built {prog.name:<20} {prog.output.stat().st_size:>7} bytes")
    if not prune:
        return
    names = {p.name for p in progs}
    for bin_dir in sorted({GROUP_BIN_DIR[p.group] for p in progs if GROUP_BIN_DIR[p.group]}):
        for stale in sorted(bin_dir.iterdir()) if bin_dir.is_dir() else ():
            if stale.is_file() and stale.name not in names:
                print(f"removing stale binary {stale.relative_to(REPO_ROOT)}")
                stale.unlink()


def record(progs: list[Program], prune: bool = True) -> None:
    if guest_runner.qemu_path() is None:
        raise SystemExit(
            f"error: {guest_runner.QEMU} not found; cannot record expected outputs.\n"
            "Install it with: apt-get install qemu-user")
    progs = [p for p in progs if GROUP_SUITE[p.group] is not None]
    for suite in {GROUP_SUITE[p.group] for p in progs}:
        suite.expected_dir.mkdir(parents=True, exist_ok=True)
    for prog in progs:
        suite = GROUP_SUITE[prog.group]
        if not prog.output.is_file():
            raise SystemExit(f"error: {prog.output} missing (build first)")
        if suite.is_dynamic(prog.name) and not guest_runner.sysroot_available():
            raise SystemExit(f"error: {prog.name} is dynamically linked and "
                             f"{guest_runner.SYSROOT} has no RISC-V glibc.\n"
                             "Install it with: apt-get install libc6-riscv64-cross")
        t0 = time.perf_counter()
        first = suite.run_qemu(prog.name)
        elapsed = time.perf_counter() - t0
        second = suite.run_qemu(prog.name)
        assert first is not None and second is not None
        if (first.stdout, first.stderr, first.returncode) != (
                second.stdout, second.stderr, second.returncode):
            raise SystemExit(f"error: {prog.name} is not deterministic under qemu")
        status = guest_runner.normalize_status(first.returncode)
        paths = suite.expected_paths(prog.name)
        paths["stdout"].write_bytes(first.stdout)
        paths["status"].write_text(f"{status}\n")
        if first.stderr:
            paths["stderr"].write_bytes(first.stderr)
        elif paths["stderr"].exists():
            paths["stderr"].unlink()
        print(f"recorded {prog.name:<20} status {status:<3} stdout {len(first.stdout):>6} B"
              f"  stderr {len(first.stderr):>4} B  {elapsed:6.3f} s")
    if not prune:
        return
    names = {p.name for p in progs}
    for expected_dir in sorted({GROUP_SUITE[p.group].expected_dir for p in progs}):
        for stale in sorted(expected_dir.iterdir()):
            if stale.is_file() and stale.name.rsplit(".", 1)[0] not in names:
                print(f"removing stale expectation {stale.relative_to(REPO_ROOT)}")
                stale.unlink()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.build_guests", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--record", action="store_true",
                    help="run every program under qemu-riscv64 and write tests/guest/expected/ "
                         "(expected_linux/ for the linux group)")
    ap.add_argument("--no-build", action="store_true", help="do not rebuild (use with --record)")
    ap.add_argument("--list", action="store_true", help="list the programs and exit")
    ap.add_argument("--group", action="append", choices=(*GROUPS, "all"),
                    help="build / record this group (repeatable; default: guest and examples, "
                         "or only guest with --out-dir; with program names: all groups)")
    ap.add_argument("--out-dir", type=Path,
                    help="build the (single) selected group into this directory instead "
                         "(not with --record)")
    ap.add_argument("--toolchain-version", action="store_true",
                    help="print the toolchain version (as stored in tests/guest/toolchain.txt; "
                         "with --group linux: toolchain_linux.txt)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the compiler commands")
    ap.add_argument("only", nargs="*", help="restrict to these program names")
    opts = ap.parse_args(argv)

    if opts.group:
        groups = GROUPS if "all" in opts.group else tuple(g for g in GROUPS if g in opts.group)
    elif opts.only:
        groups = GROUPS
    elif opts.out_dir is not None or opts.toolchain_version:
        groups = ("guest",)
    else:
        groups = ("guest", "examples")
    if opts.toolchain_version:
        sys.stdout.write(linux_toolchain_version() if groups == ("linux",) else toolchain_version())
        return 0
    if opts.out_dir is not None and len(groups) != 1:
        raise SystemExit("error: --out-dir builds exactly one group")
    progs = discover(groups)
    if opts.only:
        known = {p.name for p in progs}
        unknown = [n for n in opts.only if n not in known]
        if unknown:
            raise SystemExit(f"error: unknown program(s): {', '.join(unknown)}")
        progs = [p for p in progs if p.name in opts.only]
    if opts.out_dir is not None:
        if opts.record:
            raise SystemExit("error: --out-dir cannot be combined with --record")
        for p in progs:
            p.out_dir = opts.out_dir.resolve()
    if opts.list:
        for p in progs:
            print(p.name)
        return 0
    if not opts.no_build:
        build(progs, opts.verbose, prune=not opts.only and opts.out_dir is None)
        if opts.out_dir is None:
            built_groups = {p.group for p in progs}
            if built_groups & {"guest", "examples"}:
                TOOLCHAIN_FILE.write_text(toolchain_version())
            if "linux" in built_groups:
                LINUX_TOOLCHAIN_FILE.write_text(linux_toolchain_version())
        built = {p.name: p.output for p in progs}
        if opts.out_dir is None and "example_primes" in built and "primes" in built:
            if built["example_primes"].read_bytes() != built["primes"].read_bytes():
                raise SystemExit("error: tests/guest/bin/example_primes and examples/primes "
                                 "differ (they are built alike)")
    if opts.record:
        record(progs, prune=not opts.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
