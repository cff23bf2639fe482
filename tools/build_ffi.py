"""Generates the committed cffi modules that declare the host libc functions tcgjit calls:
`python3 -m tools.build_ffi` after changing a declaration below (`--check` only compares).

The modules are cffi's out-of-line ABI mode: they hold the C declarations already parsed, so
importing one needs only cffi's `_cffi_backend`. The in-line alternative (`cffi.FFI().cdef(...)`
in each module) imports pycparser and parses the C text on every start of tcgjit, which was the
largest single part of its start-up time. tests/test_ffi_modules.py fails when a committed module
differs from what this script generates from the declarations here.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
from dataclasses import dataclass

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class FfiModule:
    name: str             # importable module name of the generated file
    declarations: str     # the cdef source
    used_by: str          # the module that calls these functions (for the generated header)

    @property
    def path(self) -> str:
        """The generated file, relative to the repository root."""
        return self.name.replace(".", "/") + ".py"


FFI_MODULES = (
    FfiModule("host_x86.libc_ffi", used_by="host_x86/libc.py", declarations="""
void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset);
int munmap(void *addr, size_t length);
int mprotect(void *addr, size_t length, int prot);

struct sigaction {
    void *sa_handler;              /* or sa_sigaction with SA_SIGINFO */
    unsigned long sa_mask[16];
    int sa_flags;
    void *sa_restorer;
};
typedef struct {
    void *ss_sp;
    int ss_flags;
    size_t ss_size;
} stack_t;
int sigaction(int signum, const struct sigaction *act, struct sigaction *oldact);
int sigaltstack(const stack_t *ss, stack_t *old_ss);
void *signal(int signum, void *handler);
int raise(int sig);
int memfd_create(const char *name, unsigned int flags);
int ftruncate(int fd, long length);
int close(int fd);
"""),
    FfiModule("guest.memory_ffi", used_by="guest/memory.py", declarations="""
void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset);
int munmap(void *addr, size_t length);
int mprotect(void *addr, size_t length, int prot);
void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...);
int madvise(void *addr, size_t length, int advice);
"""),
    FfiModule("guest.syscalls.host_calls_ffi", used_by="guest/syscalls/host_calls.py",
              declarations="""
int openat(int dirfd, const char *pathname, int flags, ...);
int statx(int dirfd, const char *pathname, int flags, unsigned int mask, void *statxbuf);
long getdents64(int fd, void *dirp, size_t count);
int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
              unsigned int flags);
int faccessat(int dirfd, const char *pathname, int mode, int flags);
int prlimit(int pid, int resource, const void *new_limit, void *old_limit);
int getrusage(int who, void *usage);
int sysinfo(void *info);
int clock_getres(int clockid, void *res);
int clock_nanosleep(int clockid, int flags, const void *request, void *remain);
int tgkill(int tgid, int tid, int sig);
"""),
)


def generate(module: FfiModule) -> str:
    """The text of `module`'s generated file."""
    import cffi    # the full cffi (with pycparser) is needed here only, never at run time

    builder = cffi.FFI()
    builder.cdef(module.declarations)
    builder.set_source(module.name, None)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "generated.py")
        with contextlib.redirect_stdout(io.StringIO()):    # cffi's "generating <path>"
            builder.emit_python_code(path)
        with open(path) as file:
            generated = file.read()
    header = (f"# The C declarations of {module.used_by}, made by `python3 -m tools.build_ffi`:\n"
              f"# do not edit; change them in tools/build_ffi.py and regenerate.\n")
    return header + generated


def stale_modules(root: str = REPO_ROOT) -> list[str]:
    """Paths of the committed modules that are missing or differ from what generate() makes."""
    stale = []
    for module in FFI_MODULES:
        try:
            with open(os.path.join(root, module.path)) as file:
                committed = file.read()
        except FileNotFoundError:
            committed = None
        if committed != generate(module):
            stale.append(module.path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools.build_ffi", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="only report stale modules (exit status 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_modules()
        for path in stale:
            print(f"stale: {path} (run python3 -m tools.build_ffi)")
        return 1 if stale else 0
    for module in FFI_MODULES:
        with open(os.path.join(REPO_ROOT, module.path), "w") as file:
            file.write(generate(module))
        print(f"wrote {module.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
