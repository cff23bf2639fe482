"""Command-line options of tcgjit, parsed the way qemu-riscv64 parses its own: options first,
then the guest program and its arguments (which are never interpreted as options)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from jit.code_cache import DEFAULT_CODE_CACHE_SIZE, MAX_CODE_CACHE_SIZE, MIB, MIN_CODE_CACHE_SIZE
from jit.pipeline import DEFAULT_COLD_RUNS
from jit.pipeline import LOG_ITEMS as PIPELINE_LOG_ITEMS

# The -d items: the pipeline's dumps, plugin output (plugin_api.outs, as qemu's -d plugin) and
# the translation statistics.
LOG_ITEMS = {**PIPELINE_LOG_ITEMS, "plugin": "output of plugins (plugin_api.outs)",
             "stats": "translation statistics at exit (blocks, code cache use, flushes)"}


class UsageError(Exception):
    """A bad command line: reported as one line, exit status 1."""


@dataclass
class Options:
    program: Optional[str] = None
    guest_args: list[str] = field(default_factory=list)
    argv0: Optional[str] = None
    log_items: frozenset = frozenset()
    log_file: Optional[str] = None
    sysroot: Optional[str] = None
    strace: bool = False
    env_set: dict[str, str] = field(default_factory=dict)
    env_unset: list[str] = field(default_factory=list)
    plugins: list = field(default_factory=list)     # plugin_api.loader.PluginSpec, in order
    code_cache_size: int = DEFAULT_CODE_CACHE_SIZE   # bytes, -tb-size
    cold_runs: int = DEFAULT_COLD_RUNS               # -cold-runs
    show_help: bool = False
    show_version: bool = False
    show_log_items: bool = False


def _set_log_items(options: Options, value: str) -> None:
    if value == "help":
        options.show_log_items = True
        return
    items = [item for item in value.split(",") if item]
    unknown = [item for item in items if item not in LOG_ITEMS]
    if unknown:
        raise UsageError(f"unknown -d item '{unknown[0]}' (try -d help)")
    options.log_items = options.log_items | frozenset(items)


def _add_plugin(options: Options, value: str) -> None:
    # Imported here: --help and usage errors answer without loading the JIT.
    from plugin_api.loader import parse_plugin_option
    from jit.plugins import PluginLoadError
    try:
        options.plugins.append(parse_plugin_option(value))
    except PluginLoadError as error:
        raise UsageError(str(error)) from None


def _set_env(options: Options, value: str) -> None:
    name, sep, content = value.partition("=")
    if not sep or not name:
        raise UsageError(f"-E expects VAR=VALUE, got '{value}'")
    options.env_set[name] = content


def _set_code_cache_size(options: Options, value: str) -> None:
    low, high = MIN_CODE_CACHE_SIZE // MIB, MAX_CODE_CACHE_SIZE // MIB
    try:
        mib = int(value, 10)
    except ValueError:
        mib = None
    if mib is None or not low <= mib <= high:
        raise UsageError(f"-tb-size expects a size in MiB from {low} to {high}, got '{value}'")
    options.code_cache_size = mib * MIB


# More interpreted runs than this would only slow a block down.
MAX_COLD_RUNS = 1000


def _set_cold_runs(options: Options, value: str) -> None:
    try:
        runs = int(value, 10)
    except ValueError:
        runs = None
    if runs is None or not 0 <= runs <= MAX_COLD_RUNS:
        raise UsageError(f"-cold-runs expects a count from 0 to {MAX_COLD_RUNS}, got '{value}'")
    options.cold_runs = runs


@dataclass(frozen=True)
class OptionSpec:
    names: tuple[str, ...]
    metavar: Optional[str]          # None: a flag without argument
    help: str
    apply: Callable[[Options, str], None]


def _flag(attribute: str) -> Callable[[Options, str], None]:
    def apply(options: Options, _value: str) -> None:
        setattr(options, attribute, True)
    return apply


# The one table of options: parsing, --help and validation derive from it.
OPTION_TABLE = (
    OptionSpec(("-h", "-help", "--help"), None, "print this help and exit", _flag("show_help")),
    OptionSpec(("-version", "--version"), None, "print the version and exit",
               _flag("show_version")),
    OptionSpec(("-d",), "item[,...]", "log items to stderr or the -D file: "
               + ", ".join(LOG_ITEMS) + " ('-d help' lists them)", _set_log_items),
    OptionSpec(("-D",), "logfile", "write -d logs to logfile",
               lambda o, v: setattr(o, "log_file", v)),
    OptionSpec(("-E",), "var=value", "set an environment variable for the guest", _set_env),
    OptionSpec(("-U",), "var", "remove an environment variable from the guest",
               lambda o, v: o.env_unset.append(v)),
    OptionSpec(("-L",), "path", "sysroot: where the dynamic linker and the guest's absolute "
               "paths are looked up first", lambda o, v: setattr(o, "sysroot", v)),
    OptionSpec(("-strace",), None, "log every system call to stderr", _flag("strace")),
    OptionSpec(("-plugin",), "name|file.py[,key=value...]", "load a plugin: a bundled one "
               "(inscount, bb, hotblocks, mem, syscall, execlog, howvec) or a Python file; "
               "repeatable", _add_plugin),
    OptionSpec(("-0",), "argv0", "force the guest's argv[0]", lambda o, v: setattr(o, "argv0", v)),
    OptionSpec(("-tb-size",), "MiB", "size of the translated code cache (default "
               f"{DEFAULT_CODE_CACHE_SIZE // MIB}, {MIN_CODE_CACHE_SIZE // MIB} to "
               f"{MAX_CODE_CACHE_SIZE // MIB}); when full, it is flushed and code is translated "
               "again", _set_code_cache_size),
    OptionSpec(("-cold-runs",), "N", "run a new block N times in the IR interpreter before "
               f"compiling it to host code (default {DEFAULT_COLD_RUNS}; 0 compiles every block "
               "at once); most start-up and exit code runs only once", _set_cold_runs),
)
_BY_NAME = {name: spec for spec in OPTION_TABLE for name in spec.names}


def parse(argv: list[str]) -> Options:
    options = Options()
    position = 0
    while position < len(argv):
        word = argv[position]
        if not word.startswith("-") or word == "-":
            options.program = word
            options.guest_args = argv[position + 1:]
            return options
        if word == "--":
            position += 1
            if position < len(argv):
                options.program = argv[position]
                options.guest_args = argv[position + 1:]
            return options
        spec = _BY_NAME.get(word)
        if spec is None:
            raise UsageError(f"unknown option '{word}' (try --help)")
        value = ""
        if spec.metavar is not None:
            position += 1
            if position >= len(argv):
                raise UsageError(f"option '{word}' needs an argument ({spec.metavar})")
            value = argv[position]
        spec.apply(options, value)
        position += 1
    return options


def usage_text(prog: str = "tcgjit") -> str:
    lines = [f"usage: {prog} [options] program [arguments...]",
             "Run a RISC-V 64 Linux program by translating it to native x86-64 code.", "",
             "Options:"]
    for spec in OPTION_TABLE:
        left = " | ".join(spec.names) + (f" {spec.metavar}" if spec.metavar else "")
        lines.append(f"  {left:<34} {spec.help}")
    return "\n".join(lines) + "\n"
