"""Import cost: a command imports the heavy libraries it needs and no others (checked in a fresh
interpreter, after the command ran). Wall times are reported by ``make bench``, not asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("scipy", "pandas", "numba", "dask", "distributed", "matplotlib", "SALib", "simpy")
PROBE = """
import sys
from clmsim.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:              # --help
    rc = exc.code or 0
print(rc, " ".join(m for m in {heavy!r} if m in sys.modules), "|",
      " ".join(m for m in sys.modules if m.startswith("clmsim.calibrate.")), "|",
      " ".join(m for m in sys.modules if m.split(".")[0] in ("pydantic", "yaml", "numpy")
               or m.startswith(("scipy.optimize", "scipy.stats", "clmsim.model", "clmsim.scenario."))))
"""


def _probe(*argv: str) -> tuple[int, set[str], set[str], set[str]]:
    """Exit status, heavy libraries, clmsim.calibrate modules and other watched modules loaded
    after ``clmsim ARGV`` ran in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    last = out.stdout.strip().splitlines()[-1]
    head, calib, other = last.split("|")
    rc, *mods = head.split()
    return int(rc), set(mods), set(calib.split()), set(other.split())


def _loaded(*argv: str) -> tuple[int, set[str], set[str]]:
    return _probe(*argv)[:3]


@pytest.mark.parametrize("argv", [("validate", "scenarios/telecom.yaml"), ("schema",), ("sweep", "--help")],
                         ids=lambda a: a[0])
def test_light_commands_import_no_heavy_library(argv):
    rc, mods, _ = _loaded(*argv)
    assert rc == 0 and mods == set()


def test_fit_sbg_imports_only_the_sbg_fit():
    rc, mods, calib, other = _probe("fit", "sbg", "tests/data/calibration/survival_fh2007.csv", "--cohort", "regular")
    assert rc == 0
    assert mods == {"scipy"}                  # scipy.special and the optimiser; the small CSV is read without pandas
    assert calib <= {"clmsim.calibrate.sbg", "clmsim.calibrate.io"}, calib
    assert not {m for m in other if m.startswith(("pydantic", "scipy.stats", "clmsim.model"))}, other
    assert not {m for m in other if m.startswith("clmsim.scenario.")} - {"clmsim.scenario.errors",
                                                                         "clmsim.scenario.loader"}, other


def test_help_loads_neither_numpy_nor_the_scenario_schema():
    rc, mods, calib, other = _probe("--help")
    assert rc == 0 and mods == set() and calib == set()
    assert not {m.split(".")[0] for m in other} & {"numpy", "pydantic", "yaml"}, other
    assert other <= {"clmsim.scenario.errors"}, other   # ScenarioError: what the CLI reports


def test_validate_loads_the_schema_but_no_heavy_library():
    rc, mods, _, other = _probe("validate", "scenarios/telecom.yaml")
    assert rc == 0 and mods == set()
    assert {"pydantic", "yaml", "numpy", "clmsim.model", "clmsim.scenario.schema"} <= other


def test_import_clmsim_is_lazy_and_its_names_still_resolve():
    code = ("import sys, clmsim; before = {m for m in sys.modules if m.split('.')[0] in ('numpy', 'pydantic', 'yaml')}; "
            "from clmsim import compile_model, load_scenario, ScenarioError; "
            "from clmsim.scenario import dump_yaml, Scenario; import clmsim.calibrate as c; "
            "print(sorted(before), compile_model.__module__, load_scenario.__module__, ScenarioError.__module__, "
            "dump_yaml.__module__, c.fit_sbg.__module__, 'fit_sbg' in dir(c), 'compile_model' in dir(clmsim))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "clmsim.model.build", "clmsim.scenario.core", "clmsim.scenario.errors",
                                  "clmsim.scenario.loader", "clmsim.calibrate.sbg", "True", "True"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        import clmsim

        clmsim.nope  # noqa: B018
