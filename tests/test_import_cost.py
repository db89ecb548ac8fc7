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
      " ".join(m for m in sys.modules if m.startswith("clmsim.calibrate.")))
"""


def _loaded(*argv: str) -> tuple[int, set[str], set[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    last = out.stdout.strip().splitlines()[-1]
    head, calib = last.split("|")
    rc, *mods = head.split()
    return int(rc), set(mods), set(calib.split())


@pytest.mark.parametrize("argv", [("validate", "scenarios/telecom.yaml"), ("schema",), ("sweep", "--help")],
                         ids=lambda a: a[0])
def test_light_commands_import_no_heavy_library(argv):
    rc, mods, _ = _loaded(*argv)
    assert rc == 0 and mods == set()


def test_fit_sbg_imports_only_the_sbg_fit():
    rc, mods, calib = _loaded("fit", "sbg", "tests/data/calibration/survival_fh2007.csv", "--cohort", "regular")
    assert rc == 0
    assert mods <= {"scipy", "pandas"}
    assert calib <= {"clmsim.calibrate.sbg", "clmsim.calibrate.io"}, calib
