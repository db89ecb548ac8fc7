"""The shortcuts that keep the explorer's redraw fast give the numbers of the long way.

Each test names its oracle: a rule computed afresh, the one-entry-at-a-time recursion, a
separate backward pass, an untouched deep copy of the file's settings.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from clmsim import compile_model, load_scenario
from clmsim.engines import het_quadrature
from clmsim.engines.analytic import engine
from clmsim.engines.analytic.chains import build_chains
from clmsim.model import Heterogeneity
from clmsim.scenario import ScenarioEditor

ROOT = Path(__file__).resolve().parent.parent
TEXTBOOK = ROOT / "scenarios" / "textbook.yaml"
GAMMA = ROOT / "scenarios" / "reference" / "gamma.yaml"


@pytest.mark.parametrize("het", [Heterogeneity("gamma", mean=1.0, cv=0.8), Heterogeneity("beta", alpha=0.7, beta=3.0)])
def test_remembered_piece_rules_equal_rules_computed_afresh(het):
    # oracle: the same rule with the memory emptied. Moving one break reuses the pieces it does
    # not bound (the explorer's slider moves one kink at a time)
    breaks = np.array([0.05, 0.3, 0.7]) if het.kind == "beta" else np.array([0.2, 1.1, 2.5])
    het_quadrature._piece_rules.clear()
    het_quadrature._nodes.cache_clear()
    x1, w1 = het_quadrature.mixture_nodes(het, breaks, 12)
    kept = len(het_quadrature._piece_rules)
    moved = breaks.copy()
    moved[-1] *= 1.01
    het_quadrature.mixture_nodes(het, moved, 12)
    assert len(het_quadrature._piece_rules) - kept == 2  # the two pieces next to the moved break
    het_quadrature._nodes.cache_clear()
    x2, w2 = het_quadrature.mixture_nodes(het, breaks, 12)  # from remembered pieces
    het_quadrature._piece_rules.clear()
    het_quadrature._nodes.cache_clear()
    x3, w3 = het_quadrature.mixture_nodes(het, breaks, 12)  # afresh
    assert np.array_equal(x1, x2) and np.array_equal(w1, w2)
    assert np.array_equal(x2, x3) and np.array_equal(w2, w3)


def test_batched_survival_equals_each_entry_stage_moved_alone():
    # oracle: one entry stage at a time, y_t = y_{t-1} M, summed over active states
    model = compile_model(load_scenario(GAMMA))
    ch = build_chains(model, engine.nodes_for(model))
    entries = np.flatnonzero(np.isin(model.stage_kind, (0, 1)))
    surv = engine._survival(ch, entries)
    for n, s in enumerate(entries):
        y = np.zeros(ch.w.shape + (ch.space.size,))
        y[:, :, ch.space.normal[s]] = ch.w
        for t in range(model.horizon + 1):
            if t:
                y = np.einsum("gqi,gqij->gqj", y, ch.M[ch.regime[t - 1]])
            assert np.allclose(surv[n, :, t], (y * ch.active).sum(axis=(1, 2)), rtol=1e-13, atol=1e-15)


def test_clv_table_horizon_lifetime_column_equals_its_own_backward_pass():
    # oracle: the separate recursion W_{t-1} = nu_t + M W_t (v = 1, reward "active after the move")
    model = compile_model(load_scenario(GAMMA))
    tail = build_chains(model, max(engine.nodes_for(model) // 2, engine.TAIL_MIN_NODES), tail=True)
    v = 1.0 / (1.0 + model.discount_rate)
    horizon, _, _, life_h = engine._table_values(tail, v)
    zeros = np.zeros(tail.w.shape + (tail.space.size,))
    expect = engine._mix_nodes(tail, engine._backward(tail, zeros, 1.0, reward="active"))
    assert np.allclose(life_h, expect, rtol=1e-13, atol=1e-13)
    cash = engine._mix_nodes(tail, engine._backward(tail, zeros, v))
    assert np.allclose(horizon, cash, rtol=1e-13, atol=1e-9)


def test_editor_edits_leave_the_files_settings_untouched_and_sets_follow_every_edit():
    # oracle: a deep copy taken before any edit; the --set strings recomputed for new edits
    ed = ScenarioEditor(TEXTBOOK)
    before = copy.deepcopy(ed.settings())
    edits = {("segments", "early_abort", "transitions", "formation", "terminated"): 0.2}
    first = ed.set_arguments("baseline", edits)
    ed.apply("baseline", edits)
    assert ed.settings() == before
    edits[("time", "discount_rate")] = 0.05  # the same dict, changed: the remembered strings must not be reused
    assert ed.set_arguments("baseline", edits) == first + ["time.discount_rate=0.05"]
    edits[("time", "discount_rate")] = 0.06
    assert ed.set_arguments("baseline", edits)[-1] == "time.discount_rate=0.06"
    assert ed.settings() == before
