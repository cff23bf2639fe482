"""Tests of the benchmark harness (tools/bench.py) and of bench/ itself.

The harness logic (geometric means, checksum comparison, the table, JSON, filters) is tested on
made-up results; the live tests run only the smallest program (bench/bin/hello), so the whole file
takes a few seconds. The full suite is run by `python -m tools.bench`, not here.
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pytest

from tools import bench, build_bench
from tools.bench import BenchResult, RunResult

REPO_ROOT = build_bench.REPO_ROOT
OUT = b"prog checksum 0123456789abcdef\n"


def run(config, seconds, stdout=OUT, status=0, stderr=b"", insns=None, stats=None, error=None):
    if insns is None and config in bench.PLUGIN_CONFIGS and status == 0:
        insns = 1_000_000_000
    return RunResult(config, seconds, status, stdout, stderr, insns=insns, stats=stats,
                     error=error)


STATS = {"blocks": 100, "guest_insns": 5000, "seconds": 0.05,
         "per_pass": {"translate": 0.01, "optimize": 0.01, "instrument": 0.0, "compile": 0.03}}


def full_result(name, native=0.1, qemu=1.0, tcgjit=2.0, reps=3, overrides=None):
    """Every configuration run `reps` times; overrides: {(config, rep): RunResult}."""
    overrides = overrides or {}
    result = BenchResult(name)
    times = {"native": native, "qemu": qemu, "tcgjit": tcgjit, "qemu+ins": qemu * 1.5,
             "tcgjit+ins": tcgjit * 1.05}
    for rep in range(reps):
        for config, t in times.items():
            result.add(overrides.get((config, rep)) or run(config, t * (1 + 0.01 * rep)))
    result.add(run("stats", tcgjit + 0.2, stats=dict(STATS)))
    return result


# -- pure helpers -----------------------------------------------------------------------------

def test_geomean():
    assert bench.geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert bench.geomean([1.0, None, 4.0]) == pytest.approx(2.0)
    assert bench.geomean([]) is None
    assert bench.geomean([None, 0.0]) is None


def test_parse_insns_takes_the_last_report():
    assert bench.parse_insns(b"warning\ninsns: 12\ninsns: 345\n") == 345
    assert bench.parse_insns(b"insns: 7") == 7
    assert bench.parse_insns(b"nothing here\n") is None


def test_failure_line_skips_plugin_output():
    stderr = b"tcgjit: guest SIGILL at pc=0x10574 (insn 0xf2000653)\ninsns: 5146\n"
    assert bench.failure_line(stderr) == "tcgjit: guest SIGILL at pc=0x10574 (insn 0xf2000653)"


def test_select_filters():
    progs = build_bench.discover()
    names = [p.name for p in progs]
    assert len([n for n in names if n != build_bench.STARTUP]) >= 8
    assert names[-1] == build_bench.STARTUP
    assert [p.name for p in bench.select(progs, ["sha"])] == ["sha256"]
    assert [p.name for p in bench.select(progs, ["sort,hello"])] == ["sort", "hello"]
    assert [p.name for p in bench.select(progs, ["n*y"])] == ["nbody"]
    assert bench.select(progs, []) == progs
    assert bench.select(progs, ["no-such-benchmark"]) == []


# -- checksums and failures -------------------------------------------------------------------

def test_all_outputs_equal_is_ok():
    row = bench.summarize_bench(full_result("a"))
    assert row["ok"] and row["failures"] == {}
    assert row["median"]["tcgjit"] == pytest.approx(2.02)
    assert row["ratios"]["tcgjit/qemu"] == pytest.approx(2.0)
    assert row["ratios"]["tcgjit/native"] == pytest.approx(20.0)
    assert row["insns"] == 1_000_000_000
    assert row["mips"]["tcgjit"] == pytest.approx(1000 / 2.02)
    assert row["translation"]["share"] == pytest.approx(0.05 / 2.2)
    assert row["translation"]["insns_per_second"] == pytest.approx(100_000)
    assert row["checksum"] == "prog checksum 0123456789abcdef"


def test_checksum_mismatch_fails_the_row():
    bad = run("tcgjit", 2.0, stdout=b"prog checksum ffffffffffffffff\n")
    result = full_result("a", overrides={("tcgjit", 1): bad})
    summary = bench.summarize([result])
    row = summary["benchmarks"][0]
    assert not row["ok"]
    assert list(row["failures"]) == ["tcgjit"]
    assert "checksum mismatch" in row["failures"]["tcgjit"]
    assert "ffffffffffffffff" in row["failures"]["tcgjit"]
    # a failed configuration has no time: its ratios are n/a, the other columns stay
    assert row["median"]["tcgjit"] is None and row["ratios"]["tcgjit/qemu"] is None
    assert row["median"]["qemu"] is not None
    assert bench.exit_status(summary) == 1
    text = bench.format_table(summary)
    assert "FAILED" in text and "FAILED a [tcgjit]: checksum mismatch" in text


def test_majority_output_is_the_reference():
    # native disagrees with everybody else: native is the one that failed
    bad = run("native", 0.1, stdout=b"prog checksum 0000000000000000\n")
    result = full_result("a", overrides={("native", r): bad for r in range(3)})
    row = bench.summarize_bench(result)
    assert list(row["failures"]) == ["native"]


def test_nonzero_status_and_timeout_fail():
    crash = run("tcgjit", 0.5, stdout=b"", status=132,
                stderr=b"tcgjit: guest SIGILL at pc=0x10574 (insn 0xf2000653)\n")
    timeout = RunResult("qemu+ins", 600.0, -1, error="timed out after 600 s")
    result = full_result("a", overrides={("tcgjit", 0): crash, ("qemu+ins", 0): timeout})
    row = bench.summarize_bench(result)
    assert row["failures"]["tcgjit"].startswith("exit status 132: tcgjit: guest SIGILL")
    assert row["failures"]["qemu+ins"] == "timed out after 600 s"
    assert not row["ok"]


def test_plugin_run_without_count_fails():
    silent = run("tcgjit+ins", 2.0, insns=None)
    silent.insns = None
    row = bench.summarize_bench(full_result("a", overrides={("tcgjit+ins", 0): silent}))
    assert "insns" in row["failures"]["tcgjit+ins"]


# -- the report -------------------------------------------------------------------------------

def make_summary(results=None, unavailable=None):
    results = results or [full_result("alpha", 0.1, 1.0, 2.0), full_result("beta", 0.2, 0.5, 2.0)]
    hello = BenchResult("hello", startup=True)
    for config, t in (("native", 0.001), ("qemu", 0.01), ("tcgjit", 0.4)):
        hello.add(run(config, t, stdout=b"hello, world\n"))
    meta = {"reps": 3, "unavailable": unavailable or {}}
    return bench.summarize([*results, hello], meta)


def test_geomeans_and_targets():
    summary = make_summary()
    geo = summary["geomean"]
    assert geo["ratios.tcgjit/qemu"]["value"] == pytest.approx(math.sqrt(2.0 * 4.0))
    assert geo["ratios.tcgjit/qemu"]["n"] == 2
    assert geo["ratios.tcgjit+ins/tcgjit"]["value"] == pytest.approx(1.05)
    assert summary["suite_size"] == 2      # the start-up program is not in the means
    targets = summary["targets"]
    assert targets["tcgjit/qemu"]["met"] is False
    assert targets["tcgjit+ins/tcgjit"]["met"] is True
    assert targets["startup_seconds"]["value"] == pytest.approx(0.4)
    assert targets["startup_seconds"]["met"] is True
    assert summary["translation_total"]["insns_per_second"] == pytest.approx(100_000)
    assert summary["ok"] and bench.exit_status(summary) == 0


def test_table_format():
    summary = make_summary()
    text = bench.format_table(summary)
    lines = text.splitlines()
    header = next(l for l in lines if l.startswith("benchmark"))
    for column in ("native", "qemu", "tcgjit", "tcg/qemu", "tcg/nat", "xlate%", "MIPS tcg"):
        assert column in header
    alpha = next(l for l in lines if l.startswith("alpha "))
    assert "2.00x" in alpha and "ok" in alpha
    geo = [l for l in lines if l.startswith("geomean")]
    assert len(geo) == 2                       # one per table
    assert "2.83x" in geo[0]                   # sqrt(2 * 4)
    assert "inscount inline" in text
    assert "start-up (hello" in text and "tcgjit 0.400 s" in text
    assert "all checksums match" in text


def test_unavailable_columns_print_na_with_a_reason():
    results = []
    for name in ("alpha", "beta"):
        r = full_result(name)
        for config in bench.PLUGIN_CONFIGS:
            r.runs.pop(config)
        r.unavailable["tcgjit+ins"] = "tcgjit has no -plugin option yet"
        results.append(r)
    # qemu+ins is not unavailable here; only its runs are missing
    summary = make_summary(results, {"tcgjit+ins": "tcgjit has no -plugin option yet"})
    text = bench.format_table(summary)
    assert "n/a tcgjit+ins: tcgjit has no -plugin option yet" in text
    assert text.count("no -plugin option") == 1    # one line, not one per benchmark
    row = summary["benchmarks"][0]
    assert row["ok"] and row["insns"] is None and row["mips"]["tcgjit"] is None
    assert summary["targets"]["tcgjit+ins/tcgjit"]["met"] is None


def test_json_is_serializable_and_round_trips():
    summary = make_summary()
    data = json.loads(json.dumps(summary))
    assert data["benchmarks"][0]["name"] == "alpha"
    assert data["benchmarks"][-1]["startup"] is True
    assert data["geomean"]["ratios.tcgjit/qemu"]["n"] == 2


def test_harness_commands_give_both_emulators_the_same_guest():
    opts = bench.parse_args(["--quick"])
    harness = bench.Harness(opts)
    try:
        harness.qemu = "/usr/bin/qemu-riscv64"
        harness.qemu_plugin = build_bench.CACHE_DIR / "insn.so"
        harness.tcgjit_plugin_opts = ["-plugin", "inscount,inline=on,per=insn"]
        prog = next(p for p in build_bench.discover() if p.name == "sort")
        qemu_cmd, qemu_env = harness.command("qemu", prog)
        tcg_cmd, tcg_env = harness.command("tcgjit", prog)
        ins_cmd, _ = harness.command("qemu+ins", prog)
        tins_cmd, _ = harness.command("tcgjit+ins", prog)
        assert qemu_env == {}
        assert qemu_cmd[-1] == tcg_cmd[-1] == ins_cmd[-1] == tins_cmd[-1] == "bench/bin/sort"
        assert tcg_cmd[:3] == [sys.executable, "-m", "tools.cli"]
        assert set(tcg_env) == {"PATH"} and "-U" in tcg_cmd
        assert ins_cmd[1:4] == ["-d", "plugin", "-plugin"] and ins_cmd[4].endswith(",per=insn")
        assert "inscount,inline=on,per=insn" in tins_cmd
        assert opts.reps == 1
    finally:
        harness.close()


# -- bench/ itself ----------------------------------------------------------------------------

def test_committed_binaries_match_their_sources():
    assert build_bench.stale_reason() is None
    for prog in build_bench.discover():
        build_bench.check_riscv_elf(prog.binary)


def test_list():
    res = subprocess.run([sys.executable, "-m", "tools.bench", "--list"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    names = res.stdout.split()
    assert "sha256" in names and "hello" in names


# -- live, on the start-up program only -------------------------------------------------------

needs_qemu = pytest.mark.skipif(shutil.which(bench.QEMU) is None or shutil.which("gcc") is None,
                                reason="needs qemu-riscv64 and gcc")


@needs_qemu
def test_live_hello_quick_json():
    res = subprocess.run([sys.executable, "-m", "tools.bench", "--quick", "--filter", "hello",
                          "--no-plugins", "--json", "-q"], cwd=REPO_ROOT, capture_output=True,
                         timeout=120)
    data = json.loads(res.stdout)
    (row,) = data["benchmarks"]
    assert row["name"] == "hello" and row["startup"]
    # native and qemu must agree on the output; tcgjit is whatever it is today, but consistent
    assert "native" not in row["failures"] and "qemu" not in row["failures"]
    assert row["checksum"] == "hello, world"
    assert row["median"]["native"] is not None and row["median"]["qemu"] is not None
    assert res.returncode == (0 if row["ok"] else 1)
    assert data["unavailable"]["qemu+ins"] == "--no-plugins"


@needs_qemu
def test_qemu_plugin_counts_instructions():
    plugin = build_bench.build_qemu_plugin()
    hello = build_bench.BIN_DIR / "hello"
    counts = []
    for per in ("insn", "tb"):
        res = subprocess.run([bench.QEMU, "-d", "plugin", "-plugin", f"{plugin},per={per}",
                              str(hello.relative_to(REPO_ROOT))], cwd=REPO_ROOT, env={},
                             capture_output=True, timeout=60)
        assert res.returncode == 0 and res.stdout == b"hello, world\n"
        counts.append(bench.parse_insns(res.stderr))
    assert counts[0] is not None and counts[0] > 1000
    assert counts[0] == counts[1]


def test_stats_child_reports_translation(tmp_path):
    out = tmp_path / "stats.json"
    res = subprocess.run([sys.executable, "-m", "tools.bench", "--stats-child", str(out),
                          "bench/bin/hello"], cwd=REPO_ROOT, capture_output=True, timeout=120)
    data = json.loads(out.read_text())
    if res.returncode != 0:
        pytest.skip(f"tcgjit cannot run bench/bin/hello yet: {res.stderr[-200:]!r}")
    assert res.stdout == b"hello, world\n"
    assert "error" not in data
    assert data["blocks"] > 0 and data["guest_insns"] >= data["blocks"]
    assert 0 < data["seconds"] <= data["run_seconds"]


def test_from_json_prints_the_saved_table(tmp_path, capsys):
    summary = make_summary()
    saved = tmp_path / "result.json"
    saved.write_text(json.dumps(summary))
    assert bench.main(["--from-json", str(saved)]) == 0
    assert capsys.readouterr().out == bench.format_table(json.loads(json.dumps(summary)))
