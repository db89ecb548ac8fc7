"""Hostile input: every bad request gets a clear refusal in seconds.

Oracle: the CLI contract. For each case ``clmsim.cli.main([...])`` (in process, output
captured) returns the expected exit status (2 for bad input), prints a message that names
the culprit, never a traceback, within a wall-time bound, and leaves nothing in ``--out``.
Files the user did not name (an ``extends`` target, an experiment's scenario, a path in a
results directory) are reported by path and location only: the test secrets never appear.

The case ids start with their category (scenario, experiment, data, cli, security, resume);
``pytest tests/test_hostile.py -q -rA | grep -c PASSED`` per category gives the table of the
hardening note.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from clmsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SECRET = "hunter2-s3cr3t"


# ------------------------------------------------------------------ harness
class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang("the command did not answer within the bound")


def cli(argv: list[str], bound: float = 20.0) -> tuple[int, str, str, float]:
    """Run the CLI in process: (exit status, stdout, stderr, seconds). A hang fails the test."""
    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(bound) + 30)
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:  # argparse usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - t0


def refused(argv, culprits, *, code: int = 2, bound: float = 20.0, out_dir: Path | None = None,
            absent: tuple[str, ...] = (SECRET,)) -> str:
    """Assert a clean refusal; return stderr."""
    got, out, err, seconds = cli(argv, bound)
    text = out + err
    assert got == code, f"exit {got}, expected {code}\n{text[-2000:]}"
    assert "Traceback" not in text, text[-3000:]
    for c in ([culprits] if isinstance(culprits, str) else culprits):
        assert c in text, f"{c!r} not in:\n{text[-2000:]}"
    for a in absent:
        assert a not in text, f"{a!r} leaked:\n{text[-2000:]}"
    assert seconds < bound, f"took {seconds:.1f} s (bound {bound} s)"
    if out_dir is not None:
        assert not out_dir.exists() or not any(out_dir.iterdir()), f"partial output in {out_dir}"
    return err


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def w(tmp_path_factory) -> Path:
    """A work directory with a valid scenario, experiments, data and hostile files."""
    d = tmp_path_factory.mktemp("hostile")
    shutil.copy(DATA / "small.yaml", d / "small.yaml")
    for name in ("survival_fh2007.csv", "transactions_small.csv", "panel_gap.csv"):
        shutil.copy(DATA / "calibration" / name, d / name)
    (d / "secret.yaml").write_text(f"db_password: {SECRET}\nname: {SECRET}\n", encoding="utf-8")
    (d / "secret_bad.yaml").write_text(f"schema_version: 1\ntime: {{horizon: {SECRET}}}\nstages: {{{SECRET}: {{kind: x}}}}\n",
                                       encoding="utf-8")
    (d / "shadow").write_text(f"root:{SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    os.mkfifo(d / "fifo.yaml")
    (d / "adir.yaml").mkdir()
    (d / "junk.yaml").write_bytes(bytes(range(256)) * 20)
    (d / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    with open(d / "huge.yaml", "wb") as fh:  # 50 MB, sparse: refused by size before any read
        fh.truncate(50 * 2**20)
    (d / "list.yaml").write_text("- 1\n- 2\n")
    (d / "scalar.yaml").write_text("just text\n")
    (d / "noversion.yaml").write_text("name: x\ntime: {horizon: 3}\n")
    (d / "empty.yaml").write_text("")
    (d / "laughs.yaml").write_text("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefg", "bcdefgh")))
    (d / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    (d / "pytag.yaml").write_text("schema_version: 1\nname: !!python/object/apply:os.system ['true']\n")
    (d / "esc.yaml").write_text((DATA / "small.yaml").read_text().replace("loyal", '"loy\\e[31mal"'))
    exp = ("name: e\nscenario: small.yaml\nlevers:\n  retention.programs.care.spend_per_customer: [0, 5]\n"
           "runs: 2\nseed: 1\nengine: analytic\n")
    (d / "exp.yaml").write_text(exp)
    (d / "sens.yaml").write_text(exp + "uncertainties:\n  transitions.new.loyal: {dist: uniform, low: 0.05, "
                                 "high: 0.15}\nsensitivity: {methods: [tornado]}\n")
    (d / "opt.yaml").write_text(exp + "optimize:\n  levers:\n    retention.programs.care.spend_per_customer: "
                                "{low: 0, high: 10}\n  grid: 3\n  rounds: 1\n")
    ro = d / "ro"
    ro.mkdir()
    yield d


def write(w: Path, name: str, text: str) -> Path:
    p = w / name
    p.write_text(text, encoding="utf-8")
    return p


def scen(w: Path, name: str, old: str, new: str) -> Path:
    return write(w, name, (DATA / "small.yaml").read_text().replace(old, new))


def experiment(w: Path, name: str, body: str, head: str = "name: e\nscenario: small.yaml\nseed: 1\n") -> Path:
    return write(w, name, head + body)


# ============================================================ scenario files
FILE_CASES = [  # (id, file name, culprit)
    ("fifo", "fifo.yaml", "named pipe (FIFO)"),
    ("devzero", "/dev/zero", "is a device"),
    ("directory", "adir.yaml", "is a directory"),
    ("huge", "huge.yaml", "50.0 MiB"),
    ("binary", "junk.yaml", "binary data"),
    ("latin1", "latin1.yaml", "not UTF-8"),
    ("missing", "nope.yaml", "file not found"),
    ("list", "list.yaml", "not a scenario"),
    ("scalar", "scalar.yaml", "not a scenario"),
    ("noversion", "noversion.yaml", "no schema_version"),
    ("aliases", "laughs.yaml", "expands to more than"),
    ("deep", "deep.yaml", "nested too deeply"),
    ("pytag", "pytag.yaml", "not allowed"),
]


@pytest.mark.parametrize("command", ["validate", "run", "compare"])
@pytest.mark.parametrize("case", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_scenario_file_refused(w, command, case):
    _, name, culprit = case
    path = name if name.startswith("/") else w / name
    extra = ["--runs", "2", "--seed", "1", "--out", w / f"o-{command}-{case[0]}"] if command == "compare" else []
    refused([command, path, *extra], [culprit, str(path)], bound=10,
            out_dir=w / f"o-{command}-{case[0]}" if extra else None)


EXTENDS_CASES = [  # (id, extends target, culprit)
    ("fifo", "fifo.yaml", "named pipe (FIFO)"),
    ("devzero", "/dev/zero", "is a device"),
    ("directory", "adir.yaml", "is a directory"),
    ("huge", "huge.yaml", "50.0 MiB"),
    ("binary", "junk.yaml", "binary data"),
    ("shadow", "shadow", "not a scenario"),
    ("secret-keys", "secret.yaml", "not a scenario file"),
    ("secret-values", "secret_bad.yaml", "problem in a file that was not named"),
    ("missing", "nope.yaml", "file not found"),
    ("self", "self.yaml", "cycle in extends"),
]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("case", EXTENDS_CASES, ids=[c[0] for c in EXTENDS_CASES])
def test_scenario_extends_refused_by_path_only(w, command, case):
    _, target, culprit = case
    child = write(w, f"ext-{case[0]}.yaml" if case[0] != "self" else "self.yaml",
                  f"extends: {target}\nschema_version: 1\nname: child\n")
    refused([command, child], [culprit], bound=10, absent=(SECRET, "db_password", "root:"))


VALUE_CASES = [  # (id, --set or file edit, culprit)
    ("spend-1e308", ["acquisition.channels.search.spend_per_period=1e308"], "1e+15"),
    ("customers-1e17", ["acquisition.channels.search.spend_per_period=1e14",
                        "acquisition.channels.search.response.cost_per_customer=0.001"], "customers per period"),
    ("population-1e13", ["initial_population.new=10000000000000"], "less than or equal to 1000000000000"),
    ("horizon-10001", ["time.horizon=10001"], "less than or equal to 10000"),
    ("horizon-0", ["time.horizon=0"], "time.horizon"),
    ("negative-revenue", ["stages.loyal.revenue=-5"], "greater than or equal to 0, got -5"),
    ("negative-mean", ['stages.new.revenue={"mean": -4, "cv": 0.2}'], "stages.new.revenue.mean"),
    ("empty-values", ['acquisition.channels.search.spend_per_period={"values": []}'], "at least 1 item"),
    ("nan", ["stages.loyal.margin=.nan"], "stages.loyal.margin"),
    ("inf", ["stages.loyal.revenue=.inf"], "finite"),
    ("bool", ["stages.loyal.revenue=true"], "expected a number, got true"),
    ("text", ["time.horizon=abc"], "time.horizon"),
    ("row-sum", ["transitions.new.loyal=0.99"], "sum to"),
    ("coverage-pct", ["winback.policies.call.coverage=20"], "coverage"),
    ("unknown-path", ["stages.nwe.kind=active"], "stages.nwe"),
    ("garbage-set", ["no equals sign"], "--set"),
]


@pytest.mark.parametrize("case", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_scenario_value_refused(w, case):
    _, sets, culprit = case
    argv = ["validate", w / "small.yaml"]
    for s in sets:
        argv += ["--set", s]
    refused(argv, culprit, bound=10)


def test_scenario_discount_rate_8_warns_did_you_mean_and_strict_refuses(w):
    code, out, err, _ = cli(["validate", w / "small.yaml", "--set", "time.discount_rate=8"])
    assert code == 0 and "did you mean 0.08?" in err and "warning" in err and "Traceback" not in err
    refused(["--strict", "validate", w / "small.yaml", "--set", "time.discount_rate=8"], "did you mean 0.08?")


def test_scenario_nfd_name_is_said_to_differ_in_unicode(w):
    import unicodedata

    nfc, nfd = "café", unicodedata.normalize("NFD", "café")
    p = scen(w, "nfd.yaml", "  loyal: {kind: active", f"  {nfc}: {{kind: active")
    p.write_text(p.read_text().replace("new: {loyal: 0.1", f"new: {{{nfd}: 0.1"), encoding="utf-8")
    refused(["validate", p], "different Unicode code points")


def test_scenario_control_characters_are_escaped_on_the_terminal(w):
    code, out, err, _ = cli(["validate", w / "esc.yaml"])
    assert code == 0 and "\x1b" not in out + err and "\\x1b[31m" in out


ENGINE_SIZE_CASES = [  # (id, argv tail, culprit)
    ("fast-individual-1e12", ["--engine", "fast", "--mode", "individual", "--runs", "2", "--set",
                              "initial_population.new=1000000000000"], "customer-periods"),
    ("des-1e12", ["--engine", "des", "--runs", "1", "--set", "initial_population.new=1000000000000"],
     "customer-periods"),
    ("analytic-h10000-het", ["--set", "time.horizon=10000", "--set",
                             'heterogeneity={"churn_multiplier": {"dist": "gamma", "cv": 0.5}}'], "nodes=16"),
]


@pytest.mark.parametrize("case", ENGINE_SIZE_CASES, ids=[c[0] for c in ENGINE_SIZE_CASES])
def test_scenario_beyond_the_engine_is_refused_with_the_estimate(w, case):
    out = w / f"o-size-{case[0]}"
    refused(["run", w / "small.yaml", *case[1], "--out", out], [case[2], "exceeds the limit",
                                                                  "--allow-large"], bound=15, out_dir=out)


@pytest.mark.parametrize("winback", [[], ["--set", "winback.policies={}"]], ids=["winback", "no-winback"])
def test_scenario_counts_mode_is_not_refused_for_a_large_population(w, winback):
    # counts mode's cost does not grow with the population, win-back included
    code, out, err, _ = cli(["run", w / "small.yaml", "--engine", "fast", "--runs", "2", "--seed", "1",
                             "--set", "initial_population.new=1000000000000", *winback])
    assert code == 0, err


# ============================================================ experiment files
EXP_FILE_CASES = [
    ("binary", "junk.yaml", "binary data"),
    ("directory", "adir.yaml", "is a directory"),
    ("fifo", "fifo.yaml", "named pipe (FIFO)"),
    ("devzero", "/dev/zero", "is a device"),
    ("huge", "huge.yaml", "50.0 MiB"),
    ("scenario-instead", "small.yaml", "this is a scenario file, not an experiment"),
    ("list", "list.yaml", "not an experiment"),
    ("missing", "nope.yaml", "file not found"),
]


@pytest.mark.parametrize("command", ["sweep", "sensitivity", "optimize"])
@pytest.mark.parametrize("case", EXP_FILE_CASES, ids=[c[0] for c in EXP_FILE_CASES])
def test_experiment_file_refused(w, command, case):
    _, name, culprit = case
    path = name if name.startswith("/") else w / name
    out = w / f"o-{command}-{case[0]}"
    extra = ["--out", out] if command in ("sweep", "sensitivity") else []
    refused([command, path, *extra], culprit, bound=10, out_dir=out)


LEVER = "retention.programs.care.spend_per_customer"
EXP_CASES = [  # (id, body, culprit)
    ("infinite-range", f"levers:\n  {LEVER}: {{from: 0, to: .inf, step: 1}}\n", "finite"),
    ("nan-range", f"levers:\n  {LEVER}: {{from: .nan, to: 1, step: 1}}\n", "finite"),
    ("step-zero", f"levers:\n  {LEVER}: {{from: 0, to: 1, step: 0}}\n", "greater than 0"),
    ("tiny-step", f"levers:\n  {LEVER}: {{from: 0, to: 1, step: 1.0e-12}}\n", "1e+12 points"),
    ("1e9-points", f"levers:\n  {LEVER}: {{from: 0, to: 1000000000, step: 1}}\n", "1e+09 points"),
    ("grid-1e6", "levers:\n" + "".join(f"  {p}: {{from: 0, to: 99, step: 1}}\n" for p in (
        LEVER, "winback.policies.call.contact_cost", "stages.loyal.revenue", "stages.new.cost_to_serve")),
     "experiment points"),
    ("empty-range", f"levers:\n  {LEVER}: {{from: 5, to: 1, step: 1}}\n", "empty range"),
    ("empty-list", f"levers:\n  {LEVER}: []\n", "no values"),
    ("runs-1e12", "runs: 1.0e+12\nengine: fast\n", "exceeds the limit"),
    ("runs-zero", "runs: 0\n", "runs"),
    ("runs-text", "runs: many\n", "runs"),
    ("seed-negative", "", "seed"),
    ("unknown-field", "chunk_run: 5\n", "did you mean 'chunk_runs'"),
    ("unknown-dist", "uncertainties:\n  transitions.new.loyal: {dist: unifrm, low: 0, high: 1}\n",
     "did you mean 'uniform'"),
    ("low-above-high", "uncertainties:\n  transitions.new.loyal: {dist: uniform, low: 0.5, high: 0.1}\n",
     "must be below high"),
    ("sd-zero", "uncertainties:\n  transitions.new.loyal: {dist: normal, mean: 0.1, sd: 0}\n", "sd"),
    ("lever-not-field", f"levers:\n  {LEVER}x: [1, 2]\n", f"did you mean '{LEVER}'"),
    ("lever-text", "levers:\n  name: [1, 2]\n", "not a number"),
    ("unknown-strategy", "strategies: [more_car]\n", "did you mean 'more_care'"),
    ("bad-engine", "engine: fsat\n", "engine"),
    ("bad-mode", "mode: count\n", "mode"),
    ("chunk-zero", "chunk_runs: 0\n", "chunk_runs"),
    ("samples-zero", "sampling: {samples: 0}\n", "samples"),
    ("samples-huge", "sampling: {samples: 100000000}\n", "samples"),
    ("sens-negative", "uncertainties:\n  transitions.new.loyal: {dist: uniform, low: 0, high: 0.1}\n"
                      "sensitivity: {samples: -5}\n", "sensitivity.samples"),
    ("sens-no-uncertainty", "sensitivity: {methods: [sobol]}\n", "needs 'uncertainties'"),
    ("opt-inverted", f"optimize:\n  levers:\n    {LEVER}: {{low: 10, high: 0}}\n", "must not exceed high"),
    ("opt-no-levers", "optimize:\n  levers: {}\n", "optimize.levers"),
    ("override-bad", "overrides: {time.horizon: 0}\n", "overrides.time.horizon"),
    ("invalid-point", "levers:\n  winback.policies.call.coverage: [0.5, 2]\n", "exp-invalid-point.yaml:5:3"),
]


@pytest.mark.parametrize("case", EXP_CASES, ids=[c[0] for c in EXP_CASES])
def test_experiment_content_refused_at_its_line(w, case):
    name, body, culprit = case
    head = "name: e\nscenario: small.yaml\nseed: -1\n" if name == "seed-negative" else \
        "name: e\nscenario: small.yaml\nseed: 1\n"
    p = experiment(w, f"exp-{name}.yaml", body, head)
    out = w / f"o-exp-{name}"
    refused(["sweep", p, "--out", out, "--backend", "serial"], [culprit, str(p)], bound=15, out_dir=out)


SCEN_REF_CASES = [
    ("shadow", "shadow", "not a scenario"),
    ("secret-keys", "secret.yaml", "not a scenario file"),
    ("secret-values", "secret_bad.yaml", "problem in a file that was not named"),
    ("fifo", "fifo.yaml", "named pipe (FIFO)"),
    ("directory", "adir.yaml", "is a directory"),
    ("missing", "nope.yaml", "scenario file not found"),
]


@pytest.mark.parametrize("command", ["sweep", "sensitivity", "optimize"])
@pytest.mark.parametrize("case", SCEN_REF_CASES, ids=[c[0] for c in SCEN_REF_CASES])
def test_experiment_scenario_reported_by_path_only(w, command, case):
    p = experiment(w, f"ref-{case[0]}.yaml", "", f"name: e\nscenario: {case[1]}\nseed: 1\n")
    out = w / f"o-ref-{command}-{case[0]}"
    extra = ["--out", out] if command in ("sweep", "sensitivity") else []
    refused([command, p, *extra], case[2], bound=10, out_dir=out, absent=(SECRET, "db_password", "root:"))


# ============================================================ data files (fit)
def test_data_sbg_alive_overflow_names_the_value(w):
    p = write(w, "overflow.csv", "period,alive\n0,1e300\n1,5\n2,3\n")
    refused(["fit", "sbg", p], ["1e+300", "row 2"])


DATA_CASES = [  # (id, argv, culprit)
    ("sbg-missing", ["fit", "sbg", "{w}/nope.csv"], "not found"),
    ("sbg-directory", ["fit", "sbg", "{w}/adir.yaml"], "is a directory"),
    ("sbg-fifo", ["fit", "sbg", "{w}/fifo.yaml"], "named pipe (FIFO)"),
    ("sbg-devzero", ["fit", "sbg", "/dev/zero"], "is a device"),
    ("sbg-binary", ["fit", "sbg", "{w}/junk.yaml"], "survival data"),
    ("sbg-empty", ["fit", "sbg", "{w}/empty.yaml"], "survival data"),
    ("sbg-columns", ["fit", "sbg", "{w}/transactions_small.csv"], "lacks column"),
    ("sbg-periods", ["fit", "sbg", "{w}/survival_fh2007.csv", "--periods", "-5"], "--periods"),
    ("sbg-discount", ["fit", "sbg", "{w}/survival_fh2007.csv", "--discount-rate", "0"], "--discount-rate"),
    ("sbg-out-missing-dir", ["fit", "sbg", "{w}/survival_fh2007.csv", "--out", "{w}/nodir/x.yaml"],
     "does not exist"),
    ("sbg-cohort", ["fit", "sbg", "{w}/survival_fh2007.csv", "--cohort", "nobody"], "unknown cohort"),
    ("tr-nboot", ["fit", "transitions", "{w}/panel_gap.csv", "--n-boot", "0"], "--n-boot"),
    ("tr-level", ["fit", "transitions", "{w}/panel_gap.csv", "--level", "2"], "--level"),
    ("tr-seed", ["fit", "transitions", "{w}/panel_gap.csv", "--seed", "-1"], "--seed"),
    ("tr-table-missing-dir", ["fit", "transitions", "{w}/panel_gap.csv", "--table", "{w}/nodir/t.csv"],
     "does not exist"),
    ("tr-base-fifo", ["fit", "transitions", "{w}/panel_gap.csv", "--base", "{w}/fifo.yaml"], "FIFO"),
    ("rfm-date-format", ["fit", "rfm", "{w}/transactions_small.csv", "--date-format", "%Q"], "--date-format"),
    ("rfm-holdout", ["fit", "rfm", "{w}/transactions_small.csv", "--holdout", "-1"], "--holdout"),
    ("rfm-report-missing-dir", ["fit", "rfm", "{w}/transactions_small.csv", "--report", "{w}/nodir/r.md"],
     "does not exist"),
    ("rfm-panel-missing-dir", ["fit", "rfm", "{w}/transactions_small.csv", "--panel-out", "{w}/nodir/p.csv"],
     "does not exist"),
    ("rfm-churn-after", ["fit", "rfm", "{w}/transactions_small.csv", "--churn-after", "0"], "--churn-after"),
    ("rfm-bad-date", ["fit", "rfm", str(DATA / "calibration" / "transactions_bad_date.csv")], "unparseable dates"),
    ("rfm-negative", ["fit", "rfm", str(DATA / "calibration" / "transactions_negative.csv")], "negative"),
    ("rfm-start", ["fit", "rfm", "{w}/transactions_small.csv", "--start", "yesterday"], "--start"),
]


@pytest.mark.parametrize("case", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_data_refused(w, case):
    argv = [a.replace("{w}", str(w)) for a in case[1]]
    refused([*argv, "--out", w / f"fit-{case[0]}.yaml"] if "--out" not in argv else argv, case[2], bound=15)
    assert not (w / f"fit-{case[0]}.yaml").exists()


# ============================================================ command line
CLI_CASES = [  # (id, argv, culprit)
    ("compare-runs-1e12", ["compare", "{s}", "--runs", "1000000000000", "--seed", "1"], "exceeds the limit"),
    ("run-fast-runs-1e12", ["run", "{s}", "--engine", "fast", "--runs", "1e12"], "exceeds the limit"),
    ("run-des-runs-1e12", ["run", "{s}", "--engine", "des", "--runs", "1e12"], "exceeds the limit"),
    ("run-runs-1e300", ["run", "{s}", "--engine", "fast", "--runs", "1e300"], "--runs"),
    ("run-runs-zero", ["run", "{s}", "--engine", "fast", "--runs", "0"], "--runs"),
    ("run-runs-text", ["run", "{s}", "--engine", "fast", "--runs", "many"], "--runs"),
    ("run-seed-negative", ["run", "{s}", "--engine", "fast", "--seed", "-1"], "--seed"),
    ("run-mode", ["run", "{s}", "--engine", "fast", "--mode", "count"], "--mode"),
    ("run-option", ["run", "{s}", "--engine", "fast", "--runs", "2", "--option", "het_nodes=abc"], "het_nodes"),
    ("run-unknown-option", ["run", "{s}", "--option", "nodez=3"], "nodez"),
    ("run-strategy", ["run", "{s}", "--strategy", "more_car"], "more_car"),
    ("trace-customers-1e9", ["trace", "{s}", "--customers", "1000000000"], "exceeds the limit"),
    ("trace-seed", ["trace", "{s}", "--seed", "-1"], "--seed"),
    ("trace-run", ["trace", "{s}", "--run", "-1"], "--run"),
    ("compare-max-runs-0", ["compare", "{s}", "--runs", "20", "--max-runs", "0", "--precision", "0.1"],
     "--max-runs"),
    ("compare-max-below-runs", ["compare", "{s}", "--runs", "20", "--max-runs", "10", "--precision", "0.1",
                                "--seed", "1"], "max_runs (10) must be at least runs (20)"),
    ("compare-precision-0", ["compare", "{s}", "--precision", "0"], "--precision"),
    ("compare-precision-2", ["compare", "{s}", "--precision", "2"], "--precision"),
    ("compare-workers-0", ["compare", "{s}", "--workers", "0"], "--workers"),
    ("compare-scheduler", ["compare", "{s}", "--scheduler", "localhost:1", "--runs", "2", "--seed", "1"],
     "tcp://HOST:PORT"),
    ("compare-baseline", ["compare", "{s}", "--baseline", "nobody", "--runs", "2"], "nobody"),
    ("compare-engine-option", ["compare", "{s}", "--engine-option", "oops", "--runs", "2"], "KEY=VALUE"),
    ("sweep-seed", ["sweep", "{e}", "--out", "{o}", "--seed", "-1"], "--seed"),
    ("sweep-runs-1e12", ["sweep", "{e}", "--out", "{o}", "--runs", "1000000000000", "--engine", "fast"],
     "exceeds the limit"),
    ("sweep-workers-0", ["sweep", "{e}", "--out", "{o}", "--workers", "0"], "--workers"),
    ("sweep-scheduler", ["sweep", "{e}", "--out", "{o}", "--scheduler", "nowhere"], "tcp://HOST:PORT"),
    ("sweep-mode", ["sweep", "{e}", "--out", "{o}", "--mode", "x"], "--mode"),
    ("sens-samples-negative", ["sensitivity", "{x}", "--samples", "-5"], "--samples"),
    ("sens-samples-2", ["sensitivity", "{x}", "--samples", "2", "--method", "sobol"], "at least 4"),
    ("sens-trajectories-1", ["sensitivity", "{x}", "--trajectories", "1", "--method", "morris"], "at least 2"),
    ("opt-budget-negative", ["optimize", "{p}", "--budget", "-1"], "--budget"),
    ("opt-frontier-nan", ["optimize", "{p}", "--frontier", "nan"], "--frontier"),
    ("opt-no-section", ["optimize", "{e}"], "no 'optimize' section"),
    ("demo-runs-1", ["demo", "--runs", "1", "--out", "{o}"], "--runs"),
    ("demo-seed", ["demo", "--seed", "-3", "--out", "{o}"], "--seed"),
    ("limits-env-bad", ["validate", "{s}"], "CLMSIM_LIMITS"),
    ("out-is-a-file", ["run", "{s}", "--out", "{s}"], "cannot write"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_value_refused(w, case, monkeypatch):
    out = w / f"o-cli-{case[0]}"
    sub = {"{s}": str(w / "small.yaml"), "{e}": str(w / "exp.yaml"), "{o}": str(out),
           "{x}": str(w / "sens.yaml"), "{p}": str(w / "opt.yaml")}
    argv = [sub.get(a, a) for a in case[1]]
    if case[0] == "limits-env-bad":
        monkeypatch.setenv("CLMSIM_LIMITS", "bogus=3")
    refused(argv, case[2], bound=30, out_dir=out)


def test_cli_allow_large_raises_the_limit(w):
    refused(["trace", w / "small.yaml", "--customers", "20000"], "exceeds the limit")
    code, out, err, _ = cli(["--allow-large", "trace", w / "small.yaml", "--customers", "20000"])
    assert code == 0 and "customer" in out


def test_cli_fresh_seed_is_short_enough_to_retype(w):
    code, out, err, _ = cli(["compare", w / "small.yaml", "--runs", "2", "--engine", "analytic"])
    assert code == 0
    code, out, err, _ = cli(["compare", w / "small.yaml", "--runs", "2", "--json"])
    seed = json.loads(out)["seed"]
    assert 0 <= seed < 10**9


def test_cli_unexpected_error_is_one_line_and_a_crash_report(w, monkeypatch, tmp_path):
    import clmsim.cli.scenario_cmds as sc

    monkeypatch.setenv("CLMSIM_CRASH_DIR", str(tmp_path))
    monkeypatch.setattr(sc, "describe", lambda s: 1 / 0)
    code, out, err, _ = cli(["validate", w / "small.yaml"])
    assert code == 70 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "ZeroDivisionError" in err and "--debug" in err
    (report,) = tmp_path.iterdir()
    assert "Traceback" in report.read_text() and "validate" in report.read_text()
    code, out, err, _ = cli(["--debug", "validate", w / "small.yaml"])
    assert code == 70 and "Traceback" in err


def test_cli_memory_error_gets_its_own_message(w, monkeypatch):
    import clmsim.cli.scenario_cmds as sc

    def boom(s):
        raise MemoryError

    monkeypatch.setattr(sc, "describe", boom)
    code, out, err, _ = cli(["validate", w / "small.yaml"])
    assert code == 3 and "out of memory" in err and "Traceback" not in err


# ============================================================ security
def test_security_report_never_opens_a_path_from_the_results(w):
    from clmsim import api

    res = api.simulate(w / "small.yaml")
    res.provenance["scenario_source"] = str(w / "secret_bad.yaml")
    res.provenance["source"] = str(w / "shadow")
    res.to_parquet(w / "run-sec")
    code, out, err, _ = cli(["report", w / "run-sec", "--out", w / "rep-sec"])
    assert code == 0 and "Traceback" not in err
    html = (w / "rep-sec" / "report.html").read_text(encoding="utf-8")
    assert SECRET not in html + out + err and "root:" not in html


def test_security_scenario_yaml_beside_results_is_not_echoed(w):
    from clmsim import api

    api.simulate(w / "small.yaml").to_parquet(w / "run-sec2")
    (w / "run-sec2" / "scenario.yaml").write_text((w / "secret_bad.yaml").read_text())
    code, out, err, _ = cli(["report", w / "run-sec2", "--out", w / "rep-sec2"])
    assert code == 0 and SECRET not in out + err
    assert SECRET not in (w / "rep-sec2" / "report.html").read_text(encoding="utf-8")


def test_security_mathtext_in_a_strategy_name_is_shown_as_written(w):
    import matplotlib

    matplotlib.use("Agg")
    p = scen(w, "dollar.yaml", "  more_care:", "  $\\frac{a$:")
    code, out, err, _ = cli(["run", p, "--report", "--out", w / "rep-dollar"])
    assert code == 0, err
    assert (w / "rep-dollar" / "report.html").exists()


# ============================================================ writes
@pytest.fixture()
def readonly(tmp_path):
    """A read-only directory: a read-only tmpfs (root ignores permission bits)."""
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() == 0:
        import subprocess

        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(d)],
                          capture_output=True).returncode != 0:
            pytest.skip("cannot mount a read-only tmpfs here")
        yield d
        subprocess.run(["umount", str(d)], capture_output=True)
    else:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)


WRITE_CASES = [
    ("run", ["run", "{s}", "--out", "{ro}/run"]),
    ("run-report", ["run", "{s}", "--report", "--out", "{ro}/run"]),
    ("compare", ["compare", "{s}", "--runs", "2", "--seed", "1", "--out", "{ro}/cmp"]),
    ("sweep", ["sweep", "{e}", "--out", "{ro}/sw", "--backend", "serial"]),
    ("sensitivity", ["sensitivity", "{x}", "--out", "{ro}/sens", "--backend", "serial"]),
    ("fit-table", ["fit", "transitions", "{panel}", "--kind", "churned=churned", "--table", "{ro}/t.csv"]),
    ("fit-out", ["fit", "sbg", "{surv}", "--out", "{ro}/h.yaml"]),
]


@pytest.mark.parametrize("case", WRITE_CASES, ids=[c[0] for c in WRITE_CASES])
def test_cli_read_only_target_is_one_clear_message(w, readonly, case):
    sub = {"{s}": str(w / "small.yaml"), "{e}": str(w / "exp.yaml"), "{x}": str(w / "sens.yaml"),
           "{panel}": str(w / "panel_gap.csv"), "{surv}": str(w / "survival_fh2007.csv")}
    argv = [sub.get(a, a).replace("{ro}", str(readonly)) for a in case[1]]
    err = refused(argv, [str(readonly)], bound=30)
    assert len([x for x in err.splitlines() if x.strip()]) == 1, err


# ============================================================ damaged runs
@pytest.fixture()
def swept(w, tmp_path):
    out = tmp_path / "sw"
    assert cli(["sweep", w / "exp.yaml", "--out", out, "--backend", "serial"])[0] == 0
    return out


@pytest.mark.parametrize("damage", ["truncate-chunk", "empty-chunk", "truncate-manifest", "garbage-manifest",
                                    "foreign-chunk", "stray-temporary"])
def test_resume_detects_damage_and_recomputes(w, swept, damage):
    before = (swept / "runs.parquet").read_bytes()
    chunk = sorted((swept / "chunks").glob("runs-*.parquet"))[0]
    if damage == "truncate-chunk":
        chunk.write_bytes(chunk.read_bytes()[:50])
    elif damage == "empty-chunk":
        chunk.write_bytes(b"")
    elif damage == "truncate-manifest":
        m = swept / "manifest.json"
        m.write_bytes(m.read_bytes()[:40])
    elif damage == "garbage-manifest":
        m = swept / "manifest.json"
        m.write_text(m.read_text().replace('"seed": 1', '"seed": 2'))
    elif damage == "foreign-chunk":
        shutil.copy(chunk, chunk.with_name("runs-E000099-R000000000-0123456789abcdef.parquet"))
    else:
        (swept / "chunks" / ".runs-x.parquet.123.tmp").write_bytes(b"partial")
    code, out, err, _ = cli(["sweep", w / "exp.yaml", "--out", swept, "--backend", "serial"])
    assert code == 0 and "Traceback" not in err, err
    if damage in ("truncate-chunk", "empty-chunk", "foreign-chunk"):
        assert "damaged or foreign chunk" in err
    if "manifest" in damage:
        assert "manifest.json was damaged" in err
    assert (swept / "runs.parquet").read_bytes() == before
    assert not list((swept / "chunks").glob(".*.tmp"))


def test_resume_reports_reused_chunks_and_a_changed_field(w, swept):
    code, out, err, _ = cli(["sweep", w / "exp.yaml", "--out", swept, "--backend", "serial"])
    assert code == 0 and "resumed: 2 of 2 chunks reused, 0 computed" in out
    changed = experiment(w, "exp-changed.yaml", f"levers:\n  {LEVER}: [0, 6]\nruns: 2\nengine: analytic\n")
    refused(["sweep", changed, "--out", swept], ["holds a different sweep", "experiment.levers"])


def test_resume_refused_sweep_leaves_nothing_that_blocks_the_corrected_rerun(w, tmp_path):
    out = tmp_path / "sw"
    bad = experiment(w, "exp-badopt.yaml", "runs: 2\nengine: fast\nengine_options: {het_nodes: 999}\n")
    refused(["sweep", bad, "--out", out, "--backend", "serial"], "het_nodes")
    good = experiment(w, "exp-goodopt.yaml", "runs: 2\nengine: fast\nengine_options: {het_nodes: 4}\n")
    code, _, err, _ = cli(["sweep", good, "--out", out, "--backend", "serial"])
    assert code == 0, err


def test_docs_state_the_limits_of_the_code():
    # one fact, one place: docs/cli.md's table lists every limit with its default
    from dataclasses import fields

    from clmsim import limits

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    shown = {"file_bytes": "1 MiB", "data_bytes": "1 GiB", "memory_bytes": "4 GiB", "customer_periods": "2e10",
             "count_steps": "5e9", "points": "1,000,000", "evaluations": "1,000,000", "trace_customers": "10,000"}
    assert {f.name for f in fields(limits.Limits)} == set(shown)
    for name, value in shown.items():
        assert f"| `{name}` | {value} |" in text, name
    d = limits.DEFAULT
    assert (d.file_bytes, d.data_bytes, d.memory_bytes) == (2**20, 2**30, 4 * 2**30)
    assert (d.customer_periods, d.count_steps, d.points, d.evaluations, d.trace_customers) == (
        2e10, 5e9, 10**6, 10**6, 10**4)
    assert f"by {limits.ALLOW_LARGE_FACTOR}" in text and f"up to {limits.MAX_BETA_CONCENTRATION:g}" in text


def test_cli_ctrl_c_is_one_line(w, monkeypatch):
    # (pool and Dask backends: tests/test_faults.py sends a real SIGINT)
    import clmsim.cli.scenario_cmds as sc

    def interrupt(s):
        raise KeyboardInterrupt

    monkeypatch.setattr(sc, "describe", interrupt)
    code, out, err, _ = cli(["validate", w / "small.yaml"])
    assert code == 130 and err == "clmsim: interrupted\n"
