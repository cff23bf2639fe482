"""Wires the layers together for one guest program: guest process -> frontend -> pipeline ->
backend -> dispatcher, and turns the ways a run can end into statuses and one-line messages."""
from __future__ import annotations

import sys
import traceback
from typing import Optional, Sequence, TextIO

from guest.elf_loader import GuestLoadError
from guest.process import GuestProcess
from guest.riscv.cpu import ENV_ARCH_SIZE, INITIAL_FIELD_VALUES, OFF_PC, gpr_offset, make_globals
from guest.riscv.linux_user import RiscvLinuxRuntime, RiscvPluginHost
from guest.riscv.translate import GuestFault, RiscvFrontend
from host_x86.backend import X86Backend
from host_x86.guest_access import GUEST_GUARD_SIZE
from jit.cpustate import CpuEnv
from jit.dispatch import Dispatcher, GuestSignal
from jit.pipeline import DEFAULT_COLD_RUNS, DebugLog, Pipeline
from jit.plugin_gen import EmptyCallbackEmitter
from jit.plugins import PluginCore, PluginError, PluginLoadError
from plugin_api.loader import PluginSpec, load_module

SP = 2


class MachineError(Exception):
    """The program cannot be started (missing file, not a RISC-V ELF, ...): one-line message."""


def report_plugin_error(error: PluginError) -> None:
    """`tcgjit: plugin NAME raised Type: message`, then the plugin's traceback (from the
    plugin's own frames on)."""
    sys.stdout.flush()
    sys.stderr.write(f"tcgjit: {error}\n")
    cause = error.error
    frames = cause.__traceback__
    # The first frame is the core's call into the plugin, when there is one below it.
    if frames is not None and frames.tb_next is not None:
        frames = frames.tb_next
    sys.stderr.write("".join(traceback.format_exception(type(cause), cause, frames)))
    sys.stderr.flush()


class Machine:
    def __init__(self, process: GuestProcess, log: DebugLog,
                 plugin_specs: Sequence[PluginSpec] = (), cold_runs: int = DEFAULT_COLD_RUNS):
        self.process = process
        self.env = CpuEnv(ENV_ARCH_SIZE)
        self.runtime = RiscvLinuxRuntime(process)
        self.frontend = RiscvFrontend(make_globals(), self.runtime.fetch_code)
        self.backend = X86Backend(
            guest_base=process.memory.base,
            guest_guarded=process.memory.guard_size >= GUEST_GUARD_SIZE)
        self.pipeline = Pipeline(self.frontend, self.backend, log)
        self.dispatcher = Dispatcher(self.pipeline, self.backend, self.env, self.runtime,
                                     fetch_fault_types=(GuestFault,), cold_runs=cold_runs)
        for offset, value in INITIAL_FIELD_VALUES.items():
            self.env.write_u64(offset, value)
        self.env.write_u64(OFF_PC, process.entry)
        # Code the guest unmaps, re-protects or rewrites through a syscall must be retranslated.
        process.memory.add_change_listener(
            lambda addr, size, _kind: self.dispatcher.invalidate_range(addr, addr + size))
        self.env.write_u64(gpr_offset(SP), process.initial_sp)
        self.plugins: Optional[PluginCore] = None
        if plugin_specs:
            self._install_plugins(plugin_specs, log)

    def _install_plugins(self, specs: Sequence[PluginSpec], log: DebugLog) -> None:
        """Create the plugin core, wire it to the pipeline, dispatcher and syscall path, and
        install the plugins in command-line order (PluginLoadError, PluginError)."""
        def plugin_output(text: str) -> None:
            if log.enabled("plugin"):
                log.write(text)

        def set_instrumentation(emitter: Optional[EmptyCallbackEmitter]) -> None:
            self.frontend.instrumentation = emitter

        core = PluginCore(RiscvPluginHost(self.process), plugin_output)
        core.attach(self.dispatcher.request_safe_point, self.dispatcher.invalidate_all,
                    set_instrumentation)
        self.pipeline.instrument = core.instrument_block
        self.dispatcher.safe_point_hooks.append(core.at_safe_point)
        self.dispatcher.flush_hooks.append(core.code_cache_flushed)    # a full code cache
        self.dispatcher.fault_hooks.append(core.block_faulted)
        self.runtime.plugins = core
        self.plugins = core
        for spec in specs:
            core.install(spec.name, load_module(spec), list(spec.args))

    @classmethod
    def create(cls, path: str, argv: list[str], envp: list[str],
               log_stream: Optional[TextIO] = None, log_items=frozenset(), options=None):
        try:
            process = GuestProcess.load(path, argv, envp,
                                        sysroot=options.sysroot if options else None)
        except GuestLoadError as error:
            raise MachineError(f"cannot run {path}: {error}") from None
        plugin_specs = options.plugins if options is not None else ()
        if options is not None and options.strace:
            process.strace = sys.stderr
        if log_stream is not None and log_stream is not sys.stderr:
            # The guest must not write into (or close) the log file tcgjit writes its dumps to.
            process.reserved_host_fds.add(log_stream.fileno())
        try:
            return cls(process, DebugLog(log_stream, frozenset(log_items)), plugin_specs,
                       options.cold_runs if options is not None else DEFAULT_COLD_RUNS)
        except PluginLoadError as error:
            raise MachineError(str(error)) from None

    def run(self) -> int:
        """Run to the end; print the one-line reason of an abnormal end; return the status.
        Plugins get their vcpu_exit and atexit callbacks however the guest ended (except on
        Ctrl-C); a plugin that raised ends the run with status 1."""
        plugins = self.plugins
        try:
            if plugins is not None:
                plugins.start_vcpu(self.env)
            status = self.dispatcher.run()
        except GuestSignal as guest_signal:
            sys.stdout.flush()
            sys.stderr.write(f"tcgjit: {guest_signal.message()}\n")
            status = guest_signal.exit_status
        except PluginError as error:
            report_plugin_error(error)
            status = 1
        except KeyboardInterrupt:
            sys.stderr.write("tcgjit: interrupted\n")
            return 130
        if plugins is not None:
            for error in plugins.finish():
                report_plugin_error(error)
                status = 1
        return status
