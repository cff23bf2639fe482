"""Benchmark harness: the bench/ programs under tcgjit, qemu-riscv64 and natively, side by side.

    python -m tools.bench                    # every benchmark, 3 repetitions, table on stdout
    python -m tools.bench --quick            # 1 repetition
    python -m tools.bench --reps 5 --filter nbody --filter sort
    python -m tools.bench --json > out.json  # machine-readable result on stdout
    python -m tools.bench --from-json out.json   # the table of a saved result
    python -m tools.bench --list

Each benchmark (bench/bin/NAME, riscv64 glibc static -O2, built by tools/build_bench.py) runs in
these configurations:

  native      the x86-64 build of the same source (gcc -O2, built into bench/.build/ on first use)
  qemu        qemu-riscv64 bench/bin/NAME
  tcgjit      python -m tools.cli bench/bin/NAME   (or --tcgjit CMD, e.g. an installed tcgjit)
  qemu+ins    qemu-riscv64 -d plugin -plugin insn.so,per=insn  (tests/plugins/insn_count.c, built here)
  tcgjit+ins  tcgjit -d plugin -plugin inscount,inline=on,per=insn
  stats       one extra in-process tcgjit run (tools.machine.Machine) that reads the pipeline's
              TranslationStats: translation time and translated guest instructions

The runs are interleaved: every repetition runs each benchmark once in every configuration
(round robin), so slow drifts of the machine's load hit all columns alike. The table shows the
median wall time of each configuration, tcgjit/qemu and tcgjit/native, the translation time
share (translation seconds of the stats run / wall time of that run), translated guest
instructions per second of translation, the guest instruction count (from the qemu plugin, else
the tcgjit one) and guest MIPS (instructions / median wall time); then the same with inline
instruction counting on both sides; geometric means at the bottom; then the start-up time (the
glibc static hello world of bench/startup) and the issue's targets.

All runs of a benchmark must print the same stdout (its checksum) and exit with status 0,
otherwise the row is FAILED and the harness exits with status 1. A configuration that failed
once is not run again for that benchmark. Columns that cannot be measured (tcgjit without
-plugin yet, qemu or gcc missing) print n/a, with one line saying why under the table.

Before timing, the harness compiles the repository's Python modules to bytecode once
(compileall, which writes __pycache__/*.pyc even under PYTHONDONTWRITEBYTECODE=1): otherwise, in
an environment that sets that variable, every tcgjit run would compile all its modules again
(about 120 ms a run).

Every guest gets an empty environment and the same argv (the repo-relative path of the binary,
run from the repository root), like `env -i qemu-riscv64 bench/bin/NAME`, so instruction counts
of qemu and tcgjit are comparable.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import fnmatch
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

from tools import build_bench
from tools.build_bench import REPO_ROOT, BenchProgram, BuildError

QEMU = "qemu-riscv64"
CONFIGS = ("native", "qemu", "tcgjit", "qemu+ins", "tcgjit+ins", "stats")
TIME_CONFIGS = ("native", "qemu", "tcgjit", "qemu+ins", "tcgjit+ins")
PLUGIN_CONFIGS = ("qemu+ins", "tcgjit+ins")
STARTUP_CONFIGS = ("native", "qemu", "tcgjit")
# the order in which configurations are preferred as the reference output
REFERENCE_ORDER = ("native", "qemu", "tcgjit", "qemu+ins", "tcgjit+ins", "stats")

TCGJIT_PLUGIN = "inscount,inline=on"
INSNS_RE = re.compile(rb"^insns:\s*(\d+)\s*$", re.MULTILINE)

# the targets (geomean over the suite, same run)
TARGET_TCGJIT_OVER_QEMU = 1.0
TARGET_INSCOUNT_OVERHEAD = 1.10
TARGET_STARTUP_SECONDS = 0.5
TARGET_TRANSLATION_RATE = 100_000


# ---------------------------------------------------------------------------------------------
# Pure helpers (tested in tests/test_bench.py)

def geomean(values: Iterable[Optional[float]]) -> Optional[float]:
    """Geometric mean of the positive values that are there (None if there are none)."""
    vals = [v for v in values if v is not None and v > 0]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


def median(values: Sequence[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def parse_insns(stderr: bytes) -> Optional[int]:
    """The `insns: N` line a counting plugin prints at exit (the last one), or None."""
    found = INSNS_RE.findall(stderr)
    return int(found[-1]) if found else None


def last_line(data: bytes, limit: int = 160) -> str:
    lines = [l for l in data.decode(errors="replace").splitlines() if l.strip()]
    text = lines[-1].strip() if lines else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def failure_line(stderr: bytes, limit: int = 160) -> str:
    """The line of a failed run's stderr that says why: the last one that is not a plugin's
    `insns: N` report."""
    return last_line(INSNS_RE.sub(b"", stderr), limit)


def checksum_line(stdout: bytes) -> str:
    """What the table shows of a program's output: its last line (the checksum)."""
    return last_line(stdout, 80)


@dataclass
class RunResult:
    config: str
    seconds: float
    status: int                  # shell style: 128+N for death by signal N, -1 for a timeout
    stdout: bytes = b""
    stderr: bytes = b""
    insns: Optional[int] = None  # from a counting plugin
    stats: Optional[dict] = None  # the stats run's TranslationStats
    error: Optional[str] = None  # could not run at all (timeout, missing file, ...)


@dataclass
class BenchResult:
    """Every run of one program, and which configurations failed and why."""
    name: str
    startup: bool = False
    runs: dict = field(default_factory=dict)        # config -> [RunResult]
    failures: dict = field(default_factory=dict)    # config -> reason
    unavailable: dict = field(default_factory=dict)  # config -> reason (not run at all)

    def add(self, run: RunResult) -> None:
        self.runs.setdefault(run.config, []).append(run)

    def failed(self, config: str) -> bool:
        return config in self.failures


def run_failure(run: RunResult) -> Optional[str]:
    """Why a run failed by itself (before outputs are compared), or None."""
    if run.error is not None:
        return run.error
    if run.status != 0:
        tail = failure_line(run.stderr)
        return f"exit status {run.status}" + (f": {tail}" if tail else "")
    if run.config in PLUGIN_CONFIGS and run.insns is None:
        tail = last_line(run.stderr)
        return "no 'insns: N' line from the plugin" + (f" (stderr: {tail})" if tail else "")
    return None


def judge(result: BenchResult) -> None:
    """Mark the configurations whose output differs from the reference as failed.

    The reference is the output most configurations agree on (ties: native, then qemu, ...)."""
    outputs: dict[str, bytes] = {}
    for config in REFERENCE_ORDER:
        for run in result.runs.get(config, []):
            if run_failure(run) is None:
                outputs.setdefault(config, run.stdout)
    if not outputs:
        return
    votes: dict[bytes, int] = {}
    for out in outputs.values():
        votes[out] = votes.get(out, 0) + 1
    best = max(votes.values())
    reference = next(out for out in outputs.values() if votes[out] == best)
    ref_config = next(c for c, out in outputs.items() if out == reference)
    for config, runs in result.runs.items():
        if result.failed(config):
            continue
        for run in runs:
            reason = run_failure(run)
            if reason is None and run.stdout != reference:
                reason = (f"checksum mismatch: {checksum_line(run.stdout)!r} "
                          f"vs {ref_config} {checksum_line(reference)!r}")
            if reason is not None:
                result.failures[config] = reason
                break


def _times(result: BenchResult, config: str) -> list[float]:
    if result.failed(config):
        return []
    return [r.seconds for r in result.runs.get(config, [])]


def summarize_bench(result: BenchResult) -> dict:
    """The JSON row of one benchmark: medians, ratios, counts, translation figures."""
    judge(result)
    med = {c: median(_times(result, c)) for c in TIME_CONFIGS}
    insns_by = {}
    for config in PLUGIN_CONFIGS:
        for run in result.runs.get(config, []):
            if run.insns is not None and not result.failed(config):
                insns_by[config] = run.insns
                break
    insns = insns_by.get("qemu+ins", insns_by.get("tcgjit+ins"))
    translation = None
    stats_runs = [r for r in result.runs.get("stats", []) if r.stats is not None]
    if stats_runs and not result.failed("stats"):
        run = stats_runs[0]
        seconds = run.stats.get("seconds", 0.0)
        translated = run.stats.get("guest_insns", 0)
        # Cold blocks (jit/dispatch.py): their frontend time is translation time too; the
        # rate is the one of the blocks translated all the way to host code.
        cold_seconds = run.stats.get("cold_seconds", 0.0)
        interpreted_seconds = run.stats.get("interpreted_seconds", 0.0)
        translation = {
            "seconds": seconds,
            "wall": run.seconds,
            "share": ratio(seconds + cold_seconds, run.seconds),
            "blocks": run.stats.get("blocks"),
            "guest_insns": translated,
            "insns_per_second": ratio(translated, seconds),
            "per_pass": run.stats.get("per_pass"),
            "cold_blocks": run.stats.get("cold_blocks", 0),
            "cold_insns": run.stats.get("cold_insns", 0),
            "cold_seconds": cold_seconds,
            "interpreted_runs": run.stats.get("interpreted_runs", 0),
            "interpreted_seconds": interpreted_seconds,
            "interpreted_share": ratio(interpreted_seconds, run.seconds),
        }
    mips = {c: (insns / med[c] / 1e6 if insns and med[c] else None)
            for c in ("native", "qemu", "tcgjit")}
    reference = None
    for config in REFERENCE_ORDER:
        if not result.failed(config) and result.runs.get(config):
            reference = checksum_line(result.runs[config][0].stdout)
            break
    return {
        "name": result.name,
        "startup": result.startup,
        "ok": not result.failures,
        "failures": dict(result.failures),
        "unavailable": dict(result.unavailable),
        "checksum": reference,
        "times": {c: [r.seconds for r in result.runs.get(c, [])] for c in TIME_CONFIGS
                  if result.runs.get(c)},
        "median": med,
        "ratios": {
            "tcgjit/qemu": ratio(med["tcgjit"], med["qemu"]),
            "tcgjit/native": ratio(med["tcgjit"], med["native"]),
            "qemu/native": ratio(med["qemu"], med["native"]),
            "tcgjit+ins/tcgjit": ratio(med["tcgjit+ins"], med["tcgjit"]),
            "qemu+ins/qemu": ratio(med["qemu+ins"], med["qemu"]),
            "tcgjit+ins/qemu+ins": ratio(med["tcgjit+ins"], med["qemu+ins"]),
        },
        "insns": insns,
        "insns_by": insns_by,
        "mips": mips,
        "translation": translation,
    }


GEOMEAN_KEYS = (
    ("median", "native"), ("median", "qemu"), ("median", "tcgjit"),
    ("median", "qemu+ins"), ("median", "tcgjit+ins"),
    ("ratios", "tcgjit/qemu"), ("ratios", "tcgjit/native"), ("ratios", "qemu/native"),
    ("ratios", "tcgjit+ins/tcgjit"), ("ratios", "qemu+ins/qemu"),
    ("ratios", "tcgjit+ins/qemu+ins"),
    ("mips", "tcgjit"), ("mips", "qemu"), ("mips", "native"),
)


def _translation_value(row: dict, key: str) -> Optional[float]:
    return (row.get("translation") or {}).get(key)


def summarize(results: list[BenchResult], meta: Optional[dict] = None) -> dict:
    """The whole JSON document: rows, geometric means (over the rows where a value exists,
    with its count), start-up, the issue's targets and the overall verdict."""
    rows = [summarize_bench(r) for r in results]
    suite = [row for row in rows if not row["startup"]]
    geo: dict = {}
    for group, key in GEOMEAN_KEYS:
        values = [row[group][key] for row in suite if row[group].get(key) is not None]
        geo[f"{group}.{key}"] = {"value": geomean(values), "n": len(values)}
    for key in ("share", "interpreted_share", "insns_per_second"):
        values = [_translation_value(row, key) for row in suite
                  if _translation_value(row, key) is not None]
        geo[f"translation.{key}"] = {"value": geomean(values), "n": len(values)}
    total_seconds = sum(_translation_value(row, "seconds") or 0.0 for row in suite)
    total_translated = sum(_translation_value(row, "guest_insns") or 0 for row in suite)
    translation_rate = total_translated / total_seconds if total_seconds > 0 else None
    cold = {key: sum(_translation_value(row, key) or 0 for row in suite)
            for key in ("cold_blocks", "cold_insns", "cold_seconds", "interpreted_runs",
                        "interpreted_seconds")}
    startup = next((row for row in rows if row["startup"]), None)
    startup_tcgjit = startup["median"]["tcgjit"] if startup else None
    targets = {
        "tcgjit/qemu": {"value": geo["ratios.tcgjit/qemu"]["value"],
                        "target": TARGET_TCGJIT_OVER_QEMU, "better": "lower"},
        "tcgjit+ins/tcgjit": {"value": geo["ratios.tcgjit+ins/tcgjit"]["value"],
                              "target": TARGET_INSCOUNT_OVERHEAD, "better": "lower"},
        "startup_seconds": {"value": startup_tcgjit, "target": TARGET_STARTUP_SECONDS,
                            "better": "lower"},
        "translated_insns_per_second": {"value": translation_rate,
                                        "target": TARGET_TRANSLATION_RATE, "better": "higher"},
    }
    for t in targets.values():
        v = t["value"]
        t["met"] = None if v is None else (v <= t["target"] if t["better"] == "lower"
                                           else v >= t["target"])
    return {
        "version": 1,
        **(meta or {}),
        "benchmarks": rows,
        "geomean": geo,
        "suite_size": len(suite),
        "translation_total": {"seconds": total_seconds, "guest_insns": total_translated,
                              "insns_per_second": translation_rate, **cold},
        "startup": startup,
        "targets": targets,
        "ok": all(row["ok"] for row in rows),
    }


def exit_status(summary: dict) -> int:
    return 0 if summary["ok"] else 1


def _fmt_time(v: Optional[float]) -> str:
    if v is None:
        return "n/a"
    return f"{v:.3f}" if v < 100 else f"{v:.1f}"


def _fmt_ratio(v: Optional[float]) -> str:
    if v is None:
        return "n/a"
    return f"{v:.2f}x" if v < 100 else f"{v:.0f}x"


def _fmt_pct(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _fmt_count(v: Optional[float], scale: float, digits: int = 0) -> str:
    return "n/a" if v is None else f"{v / scale:.{digits}f}"


def _table(headers: list[str], rows: list[list[str]], left: Sequence[int] = (0,)) -> list[str]:
    """Columns separated by two spaces; the columns in `left` left-aligned, the rest right."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i in left else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def format_table(summary: dict) -> str:
    """The human-readable report: two tables, notes, start-up and targets."""
    suite = [row for row in summary["benchmarks"] if not row["startup"]]
    geo = summary["geomean"]
    g = lambda key: geo[key]["value"]  # noqa: E731
    out: list[str] = []
    meta = summary.get("reps")
    if meta is not None:
        out.append(f"tcgjit benchmarks: {summary['suite_size']} programs, {meta} repetition(s), "
                   f"median wall seconds; guest MIPS = guest instructions / median time")
        out.append("")

    headers = ["benchmark", "native", "qemu", "tcgjit", "tcg/qemu", "tcg/nat", "xlate%",
               "interp%", "xlate kinsn/s", "Minsn", "MIPS tcg", "MIPS qemu", "status"]
    rows = []
    for row in suite:
        t = row["translation"] or {}
        rows.append([row["name"], _fmt_time(row["median"]["native"]),
                     _fmt_time(row["median"]["qemu"]), _fmt_time(row["median"]["tcgjit"]),
                     _fmt_ratio(row["ratios"]["tcgjit/qemu"]),
                     _fmt_ratio(row["ratios"]["tcgjit/native"]), _fmt_pct(t.get("share")),
                     _fmt_pct(t.get("interpreted_share")),
                     _fmt_count(t.get("insns_per_second"), 1e3),
                     _fmt_count(row["insns"], 1e6), _fmt_count(row["mips"]["tcgjit"], 1),
                     _fmt_count(row["mips"]["qemu"], 1), "ok" if row["ok"] else "FAILED"])
    rows.append(["geomean", _fmt_time(g("median.native")), _fmt_time(g("median.qemu")),
                 _fmt_time(g("median.tcgjit")), _fmt_ratio(g("ratios.tcgjit/qemu")),
                 _fmt_ratio(g("ratios.tcgjit/native")), _fmt_pct(g("translation.share")),
                 _fmt_pct(g("translation.interpreted_share")),
                 _fmt_count(g("translation.insns_per_second"), 1e3), "",
                 _fmt_count(g("mips.tcgjit"), 1), _fmt_count(g("mips.qemu"), 1), ""])
    out += _table(headers, rows, left=(0, len(headers) - 1))
    out.append("")

    headers = ["inscount inline", "qemu+ins", "tcgjit+ins", "qemu+ins/qemu", "tcg+ins/tcg",
               "tcg+ins/qemu+ins", "insns qemu", "insns tcgjit"]
    rows = []
    for row in suite:
        ib = row["insns_by"]
        rows.append([row["name"], _fmt_time(row["median"]["qemu+ins"]),
                     _fmt_time(row["median"]["tcgjit+ins"]),
                     _fmt_ratio(row["ratios"]["qemu+ins/qemu"]),
                     _fmt_ratio(row["ratios"]["tcgjit+ins/tcgjit"]),
                     _fmt_ratio(row["ratios"]["tcgjit+ins/qemu+ins"]),
                     str(ib["qemu+ins"]) if "qemu+ins" in ib else "n/a",
                     str(ib["tcgjit+ins"]) if "tcgjit+ins" in ib else "n/a"])
    rows.append(["geomean", _fmt_time(g("median.qemu+ins")), _fmt_time(g("median.tcgjit+ins")),
                 _fmt_ratio(g("ratios.qemu+ins/qemu")), _fmt_ratio(g("ratios.tcgjit+ins/tcgjit")),
                 _fmt_ratio(g("ratios.tcgjit+ins/qemu+ins")), "", ""])
    out += _table(headers, rows)

    partial = [f"{key} over {geo[key]['n']}" for key in ("ratios.tcgjit/qemu",
                                                         "ratios.tcgjit+ins/tcgjit")
               if 0 < geo[key]["n"] < len(suite)]
    if partial:
        out.append(f"(geomeans over the rows that have a value: {', '.join(partial)} "
                   f"of {len(suite)} benchmarks)")

    notes = []
    for config, reason in sorted((summary.get("unavailable") or {}).items()):
        notes.append(f"n/a {config}: {reason}")
    deltas: dict[int, list[str]] = {}
    for row in summary["benchmarks"]:
        for config, reason in row["failures"].items():
            notes.append(f"FAILED {row['name']} [{config}]: {reason}")
        for config, reason in row["unavailable"].items():
            if config not in (summary.get("unavailable") or {}):
                notes.append(f"n/a {row['name']} [{config}]: {reason}")
        ib = row["insns_by"]
        if len(ib) == 2 and ib["qemu+ins"] != ib["tcgjit+ins"]:
            deltas.setdefault(ib["tcgjit+ins"] - ib["qemu+ins"], []).append(row["name"])
    for delta, names in sorted(deltas.items()):
        notes.append(f"note: tcgjit counts {delta:+d} instruction(s) against qemu on "
                     f"{', '.join(names)}")
    if notes:
        out.append("")
        out += notes

    startup = summary.get("startup")
    if startup is not None:
        m = startup["median"]
        status = "ok" if startup["ok"] else "FAILED"
        out.append("")
        out.append(f"start-up ({startup['name']}, glibc static hello world): tcgjit "
                   f"{_fmt_time(m['tcgjit'])} s, qemu {_fmt_time(m['qemu'])} s, native "
                   f"{_fmt_time(m['native'])} s [{status}]")
    tt = summary.get("translation_total") or {}
    if tt.get("insns_per_second") is not None:
        out.append(f"translation: {tt['guest_insns']} guest instructions in "
                   f"{tt['seconds']:.2f} s = {tt['insns_per_second'] / 1e3:.0f} k/s over the suite")
    if tt.get("cold_blocks"):
        out.append(f"cold blocks: {tt['cold_blocks']} ({tt['cold_insns']} guest instructions) "
                   f"translated to IR only in {tt['cold_seconds']:.2f} s, "
                   f"{tt['interpreted_runs']} runs in the interpreter in "
                   f"{tt['interpreted_seconds']:.2f} s")

    out.append("")
    out.append("targets:")
    labels = {
        "tcgjit/qemu": ("tcgjit / qemu-riscv64, geomean", "<=", _fmt_ratio),
        "tcgjit+ins/tcgjit": ("tcgjit+inscount / tcgjit, geomean", "<=", _fmt_ratio),
        "startup_seconds": ("start-up, hello world under tcgjit", "<", lambda v: _fmt_time(v)
                            + (" s" if v is not None else "")),
        "translated_insns_per_second": ("translated guest instructions per second", ">=",
                                        lambda v: "n/a" if v is None else f"{v:,.0f}"),
    }
    for key, (label, op, fmt) in labels.items():
        t = summary["targets"][key]
        verdict = {True: "met", False: "NOT met", None: "n/a"}[t["met"]]
        out.append(f"  {label:<42} {fmt(t['value']):>12}  (target {op} {fmt(t['target'])}) "
                   f"{verdict}")
    out.append("")
    out.append("result: " + ("all checksums match" if summary["ok"] else
                             "FAILED (see the FAILED lines above)"))
    return "\n".join(out) + "\n"


def select(programs: list[BenchProgram], filters: Sequence[str]) -> list[BenchProgram]:
    """--filter: a program is kept if any filter matches its name (a glob if the filter has
    *?[, else a substring); comma-separated lists are allowed."""
    pats = [p for f in filters for p in f.split(",") if p]
    if not pats:
        return list(programs)

    def match(name: str, pat: str) -> bool:
        return fnmatch.fnmatchcase(name, pat) if any(c in pat for c in "*?[") else pat in name
    return [p for p in programs if any(match(p.name, pat) for pat in pats)]


# ---------------------------------------------------------------------------------------------
# Running

def _no_core_dumps() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def timed_run(config: str, cmd: list[str], env: dict, timeout: float,
              cwd: Path = REPO_ROOT) -> RunResult:
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, preexec_fn=_no_core_dumps)
    except subprocess.TimeoutExpired as expired:
        return RunResult(config, time.perf_counter() - started, -1,
                         expired.stdout or b"", expired.stderr or b"",
                         error=f"timed out after {timeout:g} s")
    except OSError as error:
        return RunResult(config, 0.0, -1, error=f"cannot run {cmd[0]}: {error.strerror}")
    elapsed = time.perf_counter() - started
    return RunResult(config, elapsed, _status(proc.returncode), proc.stdout, proc.stderr,
                     insns=parse_insns(proc.stderr) if config in PLUGIN_CONFIGS else None)


class Harness:
    def __init__(self, opts: argparse.Namespace, log=sys.stderr):
        self.opts = opts
        self.log = log
        self.unavailable: dict[str, str] = {}
        self.native: dict[str, Path] = {}
        self.qemu = shutil.which(QEMU)
        self.qemu_plugin: Optional[Path] = None
        self.tcgjit = (opts.tcgjit.split() if opts.tcgjit
                       else [sys.executable, "-m", "tools.cli"])
        self.tcgjit_env = {"PATH": os.environ.get("PATH", os.defpath)}
        # the guest environment is empty, as with env -i qemu-riscv64: drop what the host
        # environment of tcgjit contains (PATH) or what Python adds (LC_CTYPE, PEP 538)
        self.tcgjit_env_opts = ["-U", "PATH", "-U", "LC_CTYPE"]
        self.tcgjit_plugin_opts: list[str] = []
        self.stats_dir = Path(tempfile.mkdtemp(prefix="tcgjit-bench."))

    def say(self, text: str) -> None:
        if not self.opts.quiet:
            print(text, file=self.log, flush=True)

    # -- what can run ---------------------------------------------------------------------
    def prepare(self, programs: list[BenchProgram]) -> None:
        opts = self.opts
        if not opts.tcgjit:
            self.compile_bytecode()
        if not self.qemu:
            for c in ("qemu", "qemu+ins"):
                self.unavailable[c] = f"{QEMU} not found (apt-get install qemu-user)"
        if opts.no_native:
            self.unavailable["native"] = "--no-native"
        else:
            try:
                self.native = build_bench.build_native(programs, quiet=opts.quiet)
            except BuildError as error:
                self.unavailable["native"] = str(error)
        if opts.no_plugins:
            for c in PLUGIN_CONFIGS:
                self.unavailable[c] = "--no-plugins"
        else:
            if "qemu+ins" not in self.unavailable:
                try:
                    self.qemu_plugin = build_bench.build_qemu_plugin()
                except BuildError as error:
                    self.unavailable["qemu+ins"] = str(error)
            reason = self.probe_tcgjit_plugin()
            if reason:
                self.unavailable["tcgjit+ins"] = reason
        if opts.no_stats:
            self.unavailable["stats"] = "--no-stats"
        elif opts.tcgjit:
            self.unavailable["stats"] = ("the translation figures need the in-repo "
                                         "tools.machine (not with --tcgjit)")

    def compile_bytecode(self) -> None:
        """Write the .pyc of every in-repo package once, so that no timed tcgjit run compiles
        its modules (compileall ignores PYTHONDONTWRITEBYTECODE)."""
        for package in sorted(REPO_ROOT.iterdir()):
            if (package / "__init__.py").is_file():
                compileall.compile_dir(package, quiet=1)

    def probe_tcgjit_plugin(self) -> Optional[str]:
        """None if tcgjit accepts -plugin; else a one-line reason."""
        try:
            res = subprocess.run([*self.tcgjit, "--help"], cwd=REPO_ROOT, env=self.tcgjit_env,
                                 capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"cannot run tcgjit --help: {error}"
        if b"-plugin" not in res.stdout + res.stderr:
            return "tcgjit has no -plugin option yet (not in tcgjit --help)"
        self.tcgjit_plugin_opts = []
        try:
            items = subprocess.run([*self.tcgjit, "-d", "help"], cwd=REPO_ROOT,
                                   env=self.tcgjit_env, capture_output=True, timeout=60)
            if re.search(rb"^plugin\b", items.stdout, re.MULTILINE):
                self.tcgjit_plugin_opts = ["-d", "plugin"]
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.tcgjit_plugin_opts += ["-plugin", f"{TCGJIT_PLUGIN},per={self.opts.per}"]
        return None

    def configs_for(self, prog: BenchProgram) -> list[str]:
        wanted = STARTUP_CONFIGS if prog.is_startup else CONFIGS
        return [c for c in wanted if c not in self.unavailable]

    # -- one run --------------------------------------------------------------------------
    def guest_path(self, prog: BenchProgram) -> str:
        return str(prog.binary.relative_to(REPO_ROOT))

    def command(self, config: str, prog: BenchProgram) -> tuple[list[str], dict]:
        guest = self.guest_path(prog)
        if config == "native":
            return [str(self.native[prog.name])], {}
        if config == "qemu":
            return [self.qemu, guest], {}
        if config == "qemu+ins":
            return [self.qemu, "-d", "plugin", "-plugin",
                    f"{self.qemu_plugin},per={self.opts.per}", guest], {}
        if config == "tcgjit":
            return [*self.tcgjit, *self.tcgjit_env_opts, guest], dict(self.tcgjit_env)
        if config == "tcgjit+ins":
            return ([*self.tcgjit, *self.tcgjit_env_opts, *self.tcgjit_plugin_opts, guest],
                    dict(self.tcgjit_env))
        if config == "stats":
            out = self.stats_dir / f"{prog.name}.json"
            return ([sys.executable, "-m", "tools.bench", "--stats-child", str(out), guest],
                    dict(self.tcgjit_env))
        raise ValueError(config)

    def run_one(self, config: str, prog: BenchProgram) -> RunResult:
        cmd, env = self.command(config, prog)
        run = timed_run(config, cmd, env, self.opts.timeout)
        if config == "stats" and run.error is None:
            out = self.stats_dir / f"{prog.name}.json"
            try:
                data = json.loads(out.read_text())
                out.unlink()
            except (OSError, ValueError) as error:
                data = {"error": f"the stats run wrote no result ({error})"}
            if "error" in data:
                run.error = f"stats run: {data['error']}"
            else:
                run.stats = data
        return run

    # -- the whole run --------------------------------------------------------------------
    def run(self, programs: list[BenchProgram]) -> list[BenchResult]:
        results = {p.name: BenchResult(p.name, startup=p.is_startup) for p in programs}
        for prog in programs:
            for config, reason in self.unavailable.items():
                if config in (STARTUP_CONFIGS if prog.is_startup else CONFIGS):
                    results[prog.name].unavailable[config] = reason
        reps = self.opts.reps
        for rep in range(reps):
            for prog in programs:
                result = results[prog.name]
                cells = []
                for config in self.configs_for(prog):
                    if result.failed(config) or (config == "stats" and rep > 0):
                        continue
                    run = self.run_one(config, prog)
                    result.add(run)
                    reason = run_failure(run)
                    if reason is not None:
                        result.failures[config] = reason
                    cells.append(f"{config} {run.seconds:.2f}" + ("" if reason is None
                                                                  else " FAILED"))
                self.say(f"[{rep + 1}/{reps}] {prog.name:<10} " + ", ".join(cells))
        return [results[p.name] for p in programs]

    def meta(self) -> dict:
        return {
            "reps": self.opts.reps,
            "per": self.opts.per,
            "unavailable": dict(self.unavailable),
            "host": {"machine": platform.machine(), "cpus": os.cpu_count(),
                     "python": platform.python_version(),
                     "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
            "commands": {"tcgjit": " ".join(self.tcgjit), "qemu": self.qemu,
                         "tcgjit_plugin": " ".join(self.tcgjit_plugin_opts) or None,
                         "qemu_plugin": str(self.qemu_plugin) if self.qemu_plugin else None},
            "stale_binaries": build_bench.stale_reason(),
        }

    def close(self) -> None:
        shutil.rmtree(self.stats_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The in-process stats run: `python -m tools.bench --stats-child OUT.json PROGRAM`

def stats_child(out_path: str, program: str) -> int:
    """Run PROGRAM like `env -i tcgjit PROGRAM` in this process, then write the pipeline's
    TranslationStats (and the backend's CompileStats, if any) to OUT.json."""
    def write(data: dict) -> None:
        Path(out_path).write_text(json.dumps(data))

    try:
        from tools.machine import Machine
        machine = Machine.create(program, [program], [])
    except BaseException as error:   # noqa: BLE001 - reported by the parent as n/a
        write({"error": f"{type(error).__name__}: {error}"})
        return 1
    started = time.perf_counter()
    status = machine.run()
    elapsed = time.perf_counter() - started
    sys.stdout.flush()
    pipeline = getattr(machine, "pipeline", None)
    stats = getattr(pipeline, "stats", None)
    if stats is None:
        write({"error": "tools.machine.Machine has no pipeline.stats"})
        return status
    data = (dataclasses.asdict(stats) if dataclasses.is_dataclass(stats)
            else dict(vars(stats)))
    data["run_seconds"] = elapsed
    backend_stats = getattr(getattr(machine, "backend", None), "stats", None)
    if backend_stats is not None and dataclasses.is_dataclass(backend_stats):
        data["backend"] = dataclasses.asdict(backend_stats)
    write(data)
    return status


# ---------------------------------------------------------------------------------------------

def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--quick", action="store_true", help="one repetition (--reps 1)")
    ap.add_argument("--filter", action="append", default=[], metavar="NAME",
                    help="only benchmarks whose name contains NAME (or matches the glob); "
                         "repeatable, comma-separated lists allowed; 'hello' is the start-up "
                         "measurement")
    ap.add_argument("--json", action="store_true",
                    help="print the result as JSON on stdout instead of the table")
    ap.add_argument("--from-json", metavar="FILE",
                    help="print the table of a result saved with --json (runs nothing)")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument("--tcgjit", metavar="CMD",
                    help="tcgjit command (default: python -m tools.cli from this repo), "
                         "e.g. --tcgjit .venv/bin/tcgjit")
    ap.add_argument("--per", choices=("insn", "tb"), default="insn",
                    help="inscount granularity on both sides (default insn: an inline add per "
                         "instruction, like qemu's insn plugin with inline=on)")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds allowed per run (default 600)")
    ap.add_argument("--no-plugins", action="store_true", help="skip the inscount columns")
    ap.add_argument("--no-stats", action="store_true",
                    help="skip the in-process run that measures translation time")
    ap.add_argument("--no-native", action="store_true", help="skip the native x86-64 column")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    opts = ap.parse_args(argv)
    if opts.quick:
        opts.reps = 1
    if opts.reps < 1:
        ap.error("--reps must be at least 1")
    return opts


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--stats-child"]:
        if len(argv) != 3:
            print("usage: python -m tools.bench --stats-child OUT.json PROGRAM", file=sys.stderr)
            return 2
        return stats_child(argv[1], argv[2])
    opts = parse_args(argv)
    if opts.from_json:
        summary = json.loads(Path(opts.from_json).read_text())
        sys.stdout.write(format_table(summary))
        return exit_status(summary)
    programs = select(build_bench.discover(), opts.filter)
    if opts.list:
        for p in programs:
            print(p.name + ("   (start-up)" if p.is_startup else ""))
        return 0
    if not programs:
        print("error: no benchmark matches the filter", file=sys.stderr)
        return 2
    missing = [p.name for p in programs if not p.binary.is_file()]
    if missing:
        print(f"error: missing bench/bin/{', '.join(missing)}: build with "
              "python -m tools.build_bench", file=sys.stderr)
        return 2
    stale = build_bench.stale_reason(programs)
    if stale:
        print(f"warning: {stale} (rebuild with python -m tools.build_bench)", file=sys.stderr)
    harness = Harness(opts)
    try:
        harness.prepare(programs)
        results = harness.run(programs)
        summary = summarize(results, harness.meta())
    finally:
        harness.close()
    if opts.json:
        json.dump(summary, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(summary))
    return exit_status(summary)


if __name__ == "__main__":
    sys.exit(main())
