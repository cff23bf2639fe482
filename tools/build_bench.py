"""Build the benchmark programs of bench/ (the suite that `python -m tools.bench` runs).

    python -m tools.build_bench              # build bench/bin/ (riscv64, committed)
    python -m tools.build_bench NAME...      # only these programs
    python -m tools.build_bench --check      # rebuild into a temporary directory and compare
                                             # byte for byte with bench/bin/ (reproducibility)
    python -m tools.build_bench --native     # also build the x86-64 versions into the cache
    python -m tools.build_bench --list       # list the programs

Programs: every bench/src/NAME.c is one benchmark (bench/src/bench.h is shared), and
bench/startup/hello.c is the start-up measurement (a glibc static hello world).

riscv64 (committed in bench/bin/NAME): `riscv64-linux-gnu-gcc -march=rv64gc -mabi=lp64d -O2
-ffp-contract=off -static -s -Wl,--build-id=none`, linked with Debian's cross glibc; stripped
and without a build id, so the binaries are reproducible for a given cross compiler and cross
glibc (recorded in bench/bin/toolchain.txt). bench/bin/sources.sha256 records, per program, a
digest of the flags and sources it was built from, so the harness can tell when bench/bin/ is
stale.

x86-64 (not committed): the same sources and flags with the host `gcc` (baseline x86-64, no
-march=native), built on demand by the harness into bench/.build/native/NAME-KEY, where KEY hashes
the sources, the flags and `gcc --version`; a cached build is reused.

-ffp-contract=off on both sides: GCC contracts a*b+c into a fused multiply-add by default on
RISC-V (fmadd.d) but not for baseline x86-64, which would make the floating-point checksums
differ by rounding.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / "bench"
SRC_DIR = BENCH_DIR / "src"
STARTUP_DIR = BENCH_DIR / "startup"
PLUGIN_SRC = REPO_ROOT / "tests" / "plugins" / "insn_count.c"   # shared with the plugin tests
BIN_DIR = BENCH_DIR / "bin"
CACHE_DIR = Path(os.environ.get("TCGJIT_BENCH_CACHE", BENCH_DIR / ".build"))
TOOLCHAIN_FILE = BIN_DIR / "toolchain.txt"
SOURCES_FILE = BIN_DIR / "sources.sha256"
HEADERS = ("bench.h",)
STARTUP = "hello"

RISCV_CC = os.environ.get("RISCV_CC", "riscv64-linux-gnu-gcc")
NATIVE_CC = os.environ.get("CC", "gcc")
CROSS_LIBC_PACKAGE = "libc6-dev-riscv64-cross"

COMMON_CFLAGS = ["-O2", "-ffp-contract=off", "-fno-pie", "-Wall", "-Wextra"]
LINK_FLAGS = ["-static", "-no-pie", "-s", "-Wl,--build-id=none"]
LIBS = ["-lm"]
RISCV_FLAGS = ["-march=rv64gc", "-mabi=lp64d", *COMMON_CFLAGS, "-Werror"]
# no -Werror at harness run time: a newer host compiler's new warning must not stop a benchmark
NATIVE_FLAGS = list(COMMON_CFLAGS)
PLUGIN_FLAGS = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra"]


@dataclass(frozen=True)
class BenchProgram:
    name: str
    source: Path

    @property
    def binary(self) -> Path:
        return BIN_DIR / self.name

    @property
    def is_startup(self) -> bool:
        return self.name == STARTUP

    def inputs(self) -> list[Path]:
        """Every file the build reads (the source and the shared headers)."""
        return [self.source, *(self.source.parent / h for h in HEADERS
                               if (self.source.parent / h).is_file())]


def discover() -> list[BenchProgram]:
    """The benchmarks (bench/src/*.c, sorted), then the start-up program."""
    progs = [BenchProgram(src.stem, src) for src in sorted(SRC_DIR.glob("*.c"))]
    hello = STARTUP_DIR / f"{STARTUP}.c"
    if hello.is_file():
        progs.append(BenchProgram(STARTUP, hello))
    return progs


def compile_command(cc: str, flags: list[str], prog: BenchProgram, output: Path) -> list[str]:
    # the source by its bare name from its own directory: no absolute path reaches the binary
    return [cc, *flags, *LINK_FLAGS, "-o", str(output), prog.source.name, *LIBS]


def _run(cmd: list[str], cwd: Path, verbose: bool, what: str) -> None:
    if verbose:
        print(f"  (cd {cwd} && {' '.join(cmd)})")
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        raise BuildError(f"building {what} with {cmd[0]} failed")


class BuildError(Exception):
    """A compiler is missing or a build failed: one-line message."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def program_digest(prog: BenchProgram, cc: str = "", flags: list[str] | None = None) -> str:
    """sha256 over the compiler flags and the contents of every input file of a program."""
    flags = RISCV_FLAGS if flags is None else flags
    h = hashlib.sha256(" ".join([cc, *flags, *LINK_FLAGS, *LIBS]).encode())
    for path in prog.inputs():
        h.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def read_manifest() -> dict[str, str]:
    """bench/bin/sources.sha256: name -> digest of what its committed binary was built from."""
    if not SOURCES_FILE.is_file():
        return {}
    entries = {}
    for line in SOURCES_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            digest, _, name = line.partition("  ")
            entries[name.strip()] = digest
    return entries


def write_manifest(entries: dict[str, str]) -> None:
    lines = ["# sha256 over the flags and the sources of each bench/bin program "
             "(tools/build_bench.py program_digest)",
             f"# flags: {' '.join([*RISCV_FLAGS, *LINK_FLAGS, *LIBS])}"]
    lines += [f"{entries[name]}  {name}" for name in sorted(entries)]
    SOURCES_FILE.write_text("\n".join(lines) + "\n")


def stale_reason(progs: list[BenchProgram] | None = None) -> str | None:
    """Why bench/bin/ does not match the sources (None if it does)."""
    progs = discover() if progs is None else progs
    missing = [p.name for p in progs if not p.binary.is_file()]
    if missing:
        return f"missing binaries in bench/bin: {', '.join(missing)}"
    recorded = read_manifest()
    changed = [p.name for p in progs if recorded.get(p.name) != program_digest(p)]
    if changed:
        return f"sources or flags changed since bench/bin was built: {', '.join(changed)}"
    return None


def toolchain_version() -> str:
    lines = []
    for cmd in ([RISCV_CC, "--version"],
                [RISCV_CC, "-Wa,--version", "-c", "-x", "assembler", "-o", os.devnull,
                 os.devnull]):
        res = subprocess.run(cmd, capture_output=True, text=True)
        lines.append((res.stdout or res.stderr).splitlines()[0].strip())
    version = "unknown"
    if shutil.which("dpkg-query"):
        res = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", CROSS_LIBC_PACKAGE],
                             capture_output=True, text=True)
        if res.returncode == 0 and res.stdout.strip():
            version = res.stdout.strip()
    lines.append(f"{CROSS_LIBC_PACKAGE} {version}")
    return "\n".join(lines) + "\n"


def check_riscv_elf(path: Path) -> None:
    data = path.read_bytes()[:64]
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise BuildError(f"{path}: not a 64-bit little-endian ELF")
    e_type = int.from_bytes(data[16:18], "little")
    e_machine = int.from_bytes(data[18:20], "little")
    e_flags = int.from_bytes(data[48:52], "little")
    if e_type != 2 or e_machine != 243:
        raise BuildError(f"{path}: not a static RISC-V executable "
                         f"(type {e_type}, machine {e_machine})")
    if e_flags & 0x7 != 0x5:  # EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE
        raise BuildError(f"{path}: unexpected ELF flags {e_flags:#x} (not RV64GC / lp64d)")


def build_riscv(progs: list[BenchProgram], out_dir: Path = BIN_DIR,
                verbose: bool = False) -> None:
    if shutil.which(RISCV_CC) is None:
        raise BuildError(f"cross compiler {RISCV_CC!r} not found (apt-get install "
                         "gcc-riscv64-linux-gnu); the committed bench/bin/ works without it")
    out_dir.mkdir(parents=True, exist_ok=True)
    for prog in progs:
        output = out_dir / prog.name
        _run(compile_command(RISCV_CC, RISCV_FLAGS, prog, output), prog.source.parent, verbose,
             prog.name)
        check_riscv_elf(output)
        print(f"built {prog.name:<12} {output.stat().st_size:>8} bytes")


def _native_compiler_version() -> str:
    res = subprocess.run([NATIVE_CC, "--version"], capture_output=True, text=True)
    return (res.stdout or res.stderr).splitlines()[0] if res.returncode == 0 else "?"


def native_path(prog: BenchProgram, compiler_version: str) -> Path:
    """Where the cached x86-64 build of a program lives: the name carries a digest of the
    compiler version, the flags and the sources."""
    digest = _sha256((compiler_version + "\n" + program_digest(prog, NATIVE_CC, NATIVE_FLAGS))
                     .encode())[:16]
    return CACHE_DIR / "native" / f"{prog.name}-{digest}"


def build_native(progs: list[BenchProgram], verbose: bool = False,
                 quiet: bool = False) -> dict[str, Path]:
    """x86-64 builds of the programs, from the cache when they are there: name -> path."""
    if shutil.which(NATIVE_CC) is None:
        raise BuildError(f"host compiler {NATIVE_CC!r} not found (apt-get install gcc)")
    version = _native_compiler_version()
    paths = {}
    for prog in progs:
        output = native_path(prog, version)
        if not output.is_file():
            output.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=output.parent, prefix=".tmp.") as tmp:
                partial = Path(tmp) / prog.name
                _run(compile_command(NATIVE_CC, NATIVE_FLAGS, prog, partial),
                     prog.source.parent, verbose, prog.name)
                partial.replace(output)   # atomic: a parallel run never sees half a file
            if not quiet:
                print(f"built native {prog.name:<12} {output}", file=sys.stderr)
        paths[prog.name] = output
    return paths


def build_qemu_plugin(verbose: bool = False) -> Path:
    """The qemu-riscv64 instruction counting plugin (tests/plugins/insn_count.c), cached."""
    if shutil.which(NATIVE_CC) is None:
        raise BuildError(f"host compiler {NATIVE_CC!r} not found")
    key = _sha256(PLUGIN_SRC.read_bytes() + " ".join(PLUGIN_FLAGS).encode())[:16]
    output = CACHE_DIR / f"insn-{key}.so"
    if not output.is_file():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix=".tmp.") as tmp:
            partial = Path(tmp) / "insn.so"
            cmd = [NATIVE_CC, *PLUGIN_FLAGS, "-o", str(partial), PLUGIN_SRC.name]
            if verbose:
                print(f"  (cd {PLUGIN_SRC.parent} && {' '.join(cmd)})")
            res = subprocess.run(cmd, cwd=PLUGIN_SRC.parent, capture_output=True, text=True)
            if res.returncode != 0:
                raise BuildError("building tests/plugins/insn_count.c failed: "
                                 + (res.stderr.strip().splitlines() or ["?"])[0])
            partial.replace(output)
    return output


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.build_bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true",
                    help="rebuild into a temporary directory and compare with bench/bin/")
    ap.add_argument("--native", action="store_true",
                    help="also build the x86-64 versions (into the cache the harness uses)")
    ap.add_argument("--list", action="store_true", help="list the programs and exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the compiler commands")
    ap.add_argument("only", nargs="*", help="restrict to these program names")
    opts = ap.parse_args(argv)

    progs = discover()
    if opts.only:
        unknown = sorted(set(opts.only) - {p.name for p in progs})
        if unknown:
            raise SystemExit(f"error: unknown program(s): {', '.join(unknown)}")
        progs = [p for p in progs if p.name in opts.only]
    if opts.list:
        for p in progs:
            print(p.name)
        return 0
    try:
        if opts.check:
            with tempfile.TemporaryDirectory(prefix="build_bench.") as tmp:
                build_riscv(progs, Path(tmp), opts.verbose)
                differ = [p.name for p in progs if not p.binary.is_file()
                          or p.binary.read_bytes() != (Path(tmp) / p.name).read_bytes()]
            if TOOLCHAIN_FILE.is_file() and TOOLCHAIN_FILE.read_text() != toolchain_version():
                print("note: the toolchain differs from bench/bin/toolchain.txt")
            if differ:
                print(f"differ from bench/bin: {', '.join(differ)}")
                return 1
            print("bench/bin is reproducible: identical rebuild")
            return 0
        build_riscv(progs, BIN_DIR, opts.verbose)
        all_names = {p.name for p in discover()}
        entries = {name: d for name, d in read_manifest().items() if name in all_names}
        entries.update({p.name: program_digest(p) for p in progs})
        write_manifest(entries)
        TOOLCHAIN_FILE.write_text(toolchain_version())
        if not opts.only:
            known = all_names | {TOOLCHAIN_FILE.name, SOURCES_FILE.name}
            for stale in sorted(BIN_DIR.iterdir()):
                if stale.is_file() and stale.name not in known:
                    print(f"removing stale {stale.relative_to(REPO_ROOT)}")
                    stale.unlink()
        if opts.native:
            for name, path in build_native(progs, opts.verbose, quiet=True).items():
                print(f"native {name:<12} {path.relative_to(REPO_ROOT)}")
    except BuildError as error:
        raise SystemExit(f"error: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
