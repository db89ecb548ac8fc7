"""Write the sample data files of the README's calibration commands (deterministic).

* ``panel.csv`` -- 800 telecom customers observed monthly for up to 18 months
  (``customer_id, period, stage, revenue``), simulated from the transitions and stage
  revenues of ``scenarios/telecom.yaml`` (without heterogeneity): customers join in
  ``onboarding`` over the first 6 months; rows stop once a customer is ``lost``.
* ``renewals.csv`` -- customers still under contract at yearly renewals of two cohorts
  (``cohort, period, alive``): 1,000 who signed in 2018 (renewals 0..7) and 800 who signed in
  2021 (renewals 0..4), each customer leaving at every renewal with her own probability
  ``theta ~ Beta(0.7, 1.2)`` (shifted-beta-geometric, Fader & Hardie 2007): one population,
  cohorts of different lengths, fitted jointly.

Run from the repository root: ``.venv/bin/python docs/data/make_samples.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
SEED = 20260117


def panel(rng: np.random.Generator) -> str:
    sc = yaml.safe_load((HERE.parents[1] / "scenarios" / "telecom.yaml").read_text(encoding="utf-8"))
    stages = list(sc["stages"])
    idx = {s: i for i, s in enumerate(stages)}
    P = np.zeros((len(stages), len(stages)))
    for src, row in sc["transitions"].items():
        for dst, p in row.items():
            P[idx[src], idx[dst]] = p
    P[np.arange(len(stages)), np.arange(len(stages))] = 1.0 - P.sum(axis=1)
    lines = ["customer_id,period,stage,revenue"]
    for c in range(800):
        start = int(rng.integers(0, 6))
        s = idx["onboarding"]
        for t in range(start, 18):
            if t > start:
                s = int(rng.choice(len(stages), p=P[s]))
            name = stages[s]
            rev = sc["stages"][name].get("revenue")
            if rev is None:
                cell = ""
            else:
                k = 1.0 / rev["cv"] ** 2
                cell = f"{rng.gamma(k, rev['mean'] / k):.2f}"
            lines.append(f"C{c:04d},{t},{name},{cell}")
            if name == "lost":
                break
    return "\n".join(lines) + "\n"


def renewals(rng: np.random.Generator) -> str:
    lines = ["cohort,period,alive"]
    for cohort, (n, periods) in {"2018": (1000, 8), "2021": (800, 5)}.items():
        theta = rng.beta(0.7, 1.2, size=n)
        life = rng.geometric(theta)  # leaves at renewal `life` (still there at renewals 0..life-1)
        for t in range(periods):
            lines.append(f"{cohort},{t},{int((life > t).sum())}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    rng = np.random.default_rng(np.random.SeedSequence(SEED))
    (HERE / "panel.csv").write_text(panel(rng), encoding="utf-8")
    (HERE / "renewals.csv").write_text(renewals(rng), encoding="utf-8")
