"""Start-up cost: the committed cffi modules match their declarations, and a plain run does not
import what only some runs need (cffi's C parser, capstone)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.build_ffi import FFI_MODULES, REPO_ROOT, generate, stale_modules

EXIT42 = Path(REPO_ROOT) / "tests" / "guest" / "bin" / "exit42"

# Modules a plain run (no -d, no -plugin) must not import: each costs start-up time and is only
# needed for disassembly, for parsing C declarations, or was replaced.
NOT_IMPORTED_BY_A_PLAIN_RUN = ("pycparser", "cffi.cparser", "cffi.api", "capstone")


def test_committed_ffi_modules_match_their_declarations():
    assert stale_modules() == [], "run `python3 -m tools.build_ffi` and commit the result"


def test_a_changed_declaration_makes_the_module_stale(tmp_path):
    for module in FFI_MODULES:
        target = tmp_path / module.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(generate(module))
    assert stale_modules(str(tmp_path)) == []
    first = FFI_MODULES[0]
    (tmp_path / first.path).write_text(generate(first).replace("munmap", "munmop"))
    (tmp_path / FFI_MODULES[1].path).unlink()
    assert stale_modules(str(tmp_path)) == [first.path, FFI_MODULES[1].path]


@pytest.mark.parametrize("module", FFI_MODULES, ids=lambda module: module.name)
def test_every_declared_function_resolves_in_the_host_libc(module):
    import importlib
    ffi = importlib.import_module(module.name).ffi
    lib = ffi.dlopen(None)
    assert dir(lib)
    for name in dir(lib):
        assert ffi.typeof(getattr(lib, name)).kind == "function", name


def _modules_imported_by(*cli_args: str) -> set[str]:
    """Runs the CLI in a fresh interpreter; the names in sys.modules when it is done."""
    script = ("import sys\n"
              "from tools.cli import run\n"
              "status = run(sys.argv[2:])\n"
              "with open(sys.argv[1], 'w') as out:\n"
              "    out.write('\\n'.join(sorted(sys.modules)))\n")
    listing = Path(os.environ.get("TMPDIR", "/tmp")) / f"tcgjit_modules_{os.getpid()}"
    try:
        result = subprocess.run([sys.executable, "-c", script, str(listing), *cli_args],
                                cwd=REPO_ROOT, capture_output=True, timeout=120)
        assert result.returncode == 0, result.stderr.decode()
        return set(listing.read_text().split("\n"))
    finally:
        listing.unlink(missing_ok=True)


def _imported(modules: set[str], package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in modules)


def test_a_plain_run_imports_no_parser_or_disassembler():
    modules = _modules_imported_by(str(EXIT42))
    assert "tools.machine" in modules            # the run did happen
    imported = [package for package in NOT_IMPORTED_BY_A_PLAIN_RUN
                if _imported(modules, package)]
    assert imported == []


def test_disassembly_imports_capstone_when_asked(tmp_path):
    log = tmp_path / "log"
    modules = _modules_imported_by("-d", "in_asm,out_asm", "-D", str(log), str(EXIT42))
    assert _imported(modules, "capstone")
    text = log.read_text()
    assert "IN:" in text and "ecall" in text     # guest disassembly (RISC-V)
    assert "OUT:" in text and "jmp" in text      # host disassembly (x86-64)
