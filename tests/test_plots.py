"""Plot functions on the Agg backend: assert the data, titles and labels drawn (no image diffs)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.patches import PathPatch, Rectangle  # noqa: E402
from plotdata import STAGES, make_results  # noqa: E402

from clmsim import plots  # noqa: E402
from clmsim.errors import ClmsimError  # noqa: E402
from clmsim.plots import style  # noqa: E402


# ------------------------------------------------------------------ occupancy
def test_occupancy_stack_tops_equal_cumulative_means():
    res = make_results()
    ax = plots.occupancy_area(res, "save_more", stages=["new", "loyal"])
    assert isinstance(ax, Axes)
    assert ax.get_title() == "Customers by stage \u2014 save_more"
    assert ax.get_xlabel() == "month"
    assert ax.get_ylabel() == "customers (end of period)"
    t = np.arange(13)
    # stackplot polygon k's upper edge = sum of stage means up to k
    poly = ax.collections[1].get_paths()[0].vertices
    upper = [poly[poly[:, 0] == x, 1].max() for x in t]
    assert np.allclose(upper, (100 + t + 10) + (200 + t + 10))
    # bands drawn: one per stage, 5 below / 5 above each stage's top edge
    band = ax.collections[2].get_paths()[0].vertices[:, 1]
    top0 = 100 + t + 10
    assert np.isclose(band.min(), top0.min() - 5) and np.isclose(band.max(), top0.max() + 5)
    assert [h.get_text() for h in ax.get_legend().get_texts()] == ["5-95% band across runs", "loyal", "new"]


def test_occupancy_analytic_has_no_band_and_unknown_stage_is_clear():
    res = make_results(mc=False)
    ax = plots.occupancy_area(res, "baseline")
    assert len(ax.collections) == len(STAGES)  # stack only
    with pytest.raises(ClmsimError, match="unknown stage"):
        plots.occupancy_area(res, "baseline", stages=["nope"])
    with pytest.raises(ClmsimError, match="no stage occupancy for strategy 'zzz'"):
        plots.occupancy_area(res, "zzz")


def test_occupancy_panels_one_axes_per_strategy_shared_y():
    axes = plots.occupancy_panels(make_results(), stages=["new", "loyal"])
    assert [a.get_title() for a in axes] == ["baseline", "save_more", "cut"]
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[2])


# ------------------------------------------------------------------ flows
def test_heatmap_shows_matrix_and_stage_labels():
    P = np.array([[0.8, 0.2, 0.0], [0.1, 0.85, 0.05], [0, 0, 1.0]])
    ax = plots.transition_heatmap(P, ["new", "loyal", "lost"], unit="month")
    assert np.allclose(ax.images[0].get_array(), P)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["new", "loyal", "lost"]
    assert ax.get_title() == "Transition probabilities per month"
    assert {t.get_text() for t in ax.texts} >= {"80%", "20%", "5.0%", "100%"}
    assert ax.get_xlabel() == "to stage" and ax.get_ylabel() == "from stage"


def test_cohort_flows_chain_is_markov_propagation():
    P = np.array([[0.7, 0.2, 0.1], [0.0, 0.9, 0.1], [0, 0, 1.0]])
    F = plots.cohort_flows([1000, 0, 0], P, [2, 3])
    assert np.allclose(F[0].sum(axis=1), [1000, 0, 0])
    assert np.allclose(F[1].sum(axis=0), np.array([1000, 0, 0]) @ np.linalg.matrix_power(P, 5))


def test_stage_flow_blocks_are_stage_totals_and_ribbons_are_flows():
    P = np.array([[0.7, 0.2, 0.1], [0.0, 0.9, 0.1], [0, 0, 1.0]])
    F = plots.cohort_flows([1000, 0, 0], P, [1, 1])
    ax = plots.stage_flow(F, ["new", "loyal", "lost"], column_labels=["start", "1", "2"])
    blocks = {p.get_gid(): p.get_height() for p in ax.patches if isinstance(p, Rectangle)}
    assert blocks["0|new"] == pytest.approx(1000)
    assert blocks["1|loyal"] == pytest.approx(200) and blocks["2|lost"] == pytest.approx(100 + 70 + 20)
    ribbons = {p.get_gid() for p in ax.patches if isinstance(p, PathPatch)}
    assert ribbons == {"0|new|new", "0|new|loyal", "0|new|lost", "1|new|new", "1|new|loyal", "1|new|lost",
                       "1|loyal|loyal", "1|loyal|lost", "1|lost|lost"}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["start", "1", "2"]
    with pytest.raises(ClmsimError, match="do not chain"):
        plots.stage_flow([F[0], F[0] * 2], ["new", "loyal", "lost"])


# ------------------------------------------------------------------ CLV
def test_clv_from_histogram_mean_is_midpoint_weighted():
    res = make_results()
    h = res.clv_hist[res.clv_hist["strategy"] == "baseline"]
    mid = (h["lo"] + h["hi"]) / 2
    exact_mean = float((mid * h["count"]).sum() / h["count"].sum())
    ax = plots.clv_distribution(res, "baseline")
    step = ax.patches[0]
    shares, edges = step.get_data().values, step.get_data().edges
    assert np.allclose(shares, h["count"] / h["count"].sum()) and edges[-1] == 500
    means = [ln for ln in ax.lines if ln.get_label().startswith("mean baseline")]
    assert means and means[0].get_xdata()[0] == pytest.approx(exact_mean)
    assert "5-95% of customers" in ax.get_title()
    assert ax.get_ylabel() == "share of customers"


def test_clv_histogram_quantile_matches_uniform_bins_oracle():
    # counts uniform over [0, 100): the q-quantile of a uniform histogram is 100 q
    assert plots.clv.hist_quantile(np.linspace(0, 100, 11), np.ones(10), 0.05) == pytest.approx(5.0)


def test_clv_from_runs_has_mean_ci_and_analytic_refuses():
    res = make_results()
    res.clv_hist = pd.DataFrame()
    sm = plots.clv_summary(res, "cut")
    r = res.runs[res.runs["strategy"] == "cut"]["clv_acquired"]
    assert sm.source == "runs" and sm.mean == pytest.approx(r.mean())
    from scipy import stats

    assert sm.hi - sm.mean == pytest.approx(stats.t.ppf(0.975, len(r) - 1) * r.std(ddof=1) / np.sqrt(len(r)))
    ax = plots.clv_distribution(res, ["baseline", "cut"])
    assert ax.get_ylabel() == "share of runs"
    with pytest.raises(ClmsimError, match="Monte Carlo"):
        plots.clv_summary(make_results(mc=False), "baseline")
    # Monte Carlo runs of a plan that acquires nobody: the reason is the missing acquisitions, not the engine
    none = make_results()
    none.clv_hist = pd.DataFrame()
    none.runs["clv_acquired"] = np.nan
    with pytest.raises(ClmsimError, match="'cut': it acquires no customers, so CLV per acquired customer is undefined"):
        plots.clv_summary(none, "cut")


# ------------------------------------------------------------------ survival
def test_survival_curve_draws_band_mean_and_analytic():
    t = np.arange(25)
    S = 0.9 ** t
    lo, hi = plots.binomial_band(S, 1000, 0.9)
    ax = plots.survival_curve(t, S * 1.01, lo=lo, hi=hi, analytic=S, unit="month")
    lines = {ln.get_label(): ln for ln in ax.lines}
    assert np.allclose(lines["analytic"].get_ydata(), S)
    assert np.allclose(lines["simulated"].get_ydata(), S * 1.01)
    assert ax.get_xlabel() == "months since the cohort joined" and ax.get_title() == "Cohort survival"
    assert len(ax.collections) == 1


def test_binomial_band_matches_normal_approximation_for_large_cohorts():
    # oracle: for n S (1-S) large the binomial quantile ~ S +- z sqrt(S(1-S)/n)
    lo, hi = plots.binomial_band(np.array([0.5]), 100_000, 0.90)
    half = 1.6449 * np.sqrt(0.25 / 100_000)
    assert lo[0] == pytest.approx(0.5 - half, abs=2e-5) and hi[0] == pytest.approx(0.5 + half, abs=2e-5)


# ------------------------------------------------------------------ compare
def test_paired_differences_equal_hand_computed_paired_t_interval():
    res = make_results()
    d = plots.paired_differences(res, "npv")
    w = res.runs.pivot(index="run", columns="strategy", values="npv")
    diff = w["save_more"] - w["baseline"]
    from scipy import stats

    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    row = d.set_index("strategy").loc["save_more"]
    assert row["mean"] == pytest.approx(diff.mean()) and row["hi"] - row["mean"] == pytest.approx(half)
    assert row["win_share"] == pytest.approx((diff > 0).mean())
    assert list(d["strategy"]) == ["save_more", "cut"]


def test_paired_differences_analytic_exact_without_interval():
    d = plots.paired_differences(make_results(mc=False), "npv")
    assert d.set_index("strategy").loc["cut", "mean"] == pytest.approx(100.0)
    assert d["lo"].isna().all()
    with pytest.raises(ClmsimError, match="baseline strategy 'nobase'"):
        plots.paired_differences(make_results(), "npv", baseline="nobase")


def test_comparison_plot_orders_by_mean_and_labels():
    d = pd.DataFrame({"strategy": ["a", "b", "c"], "mean": [5.0, -2.0, 1.0], "lo": [4.0, -3.0, -1.0],
                      "hi": [6.0, -1.0, 3.0], "n": 10, "win_share": [1.0, 0.0, 0.6]})
    ax = plots.comparison_plot(d, metric_label="NPV")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "c", "a"]
    pts = [(ln.get_xdata()[0], ln.get_ydata()[0]) for ln in ax.lines if ln.get_marker() == "o"
           and len(ln.get_xdata()) == 1]
    assert sorted(pts, key=lambda p: p[1]) == [(-2.0, 0), (1.0, 1), (5.0, 2)]
    assert ax.get_xlabel() == "NPV difference vs baseline"
    assert any("wins 60% of runs" in t.get_text() for t in ax.texts)
    assert any(ln.get_label() == "no difference" for ln in ax.lines)


# ------------------------------------------------------------------ budget
def test_break_even_points_linear_interpolation():
    assert plots.break_even_points([0, 10, 20], [-10, 10, 30]) == [5.0]
    assert plots.break_even_points([0, 10], [1, 2]) == []
    assert plots.break_even_points([0, 10, 20], [0, -1, -3]) == []  # the reference point is no crossing
    assert plots.break_even_points([0, 10, 20], [-1, 0, 3]) == [10.0]


def test_npv_vs_budget_line_band_break_even():
    df = pd.DataFrame({"budget": [0, 10, 20, 30], "mean": [-4.0, -1.0, 2.0, 1.0]})
    df["lo"], df["hi"] = df["mean"] - 1, df["mean"] + 1
    ax = plots.npv_vs_budget(df, xlabel="save-desk spend per customer", current=12)
    assert np.allclose(ax.lines[0].get_ydata(), df["mean"])
    labels = [ln.get_label() for ln in ax.lines]
    assert "break-even" in labels and "break-even at 13.3" in labels
    assert ax.get_title() == "NPV versus save-desk spend per customer"
    assert len(ax.collections) == 1
    ax = plots.npv_vs_budget(df, kind="roi", lo=None, hi=None)
    assert ax.get_ylabel() == "ROI" and len(ax.collections) == 0


def test_budget_frontier_with_allocation_shares():
    df = pd.DataFrame({"budget": [100.0, 200.0], "mean": [10.0, 15.0], "lo": [9.0, 14.0], "hi": [11.0, 16.0],
                       "acq": [75.0, 100.0], "ret": [25.0, 100.0]})
    ax = plots.budget_frontier(df, allocation=["acq", "ret"])
    assert np.allclose(ax.lines[0].get_ydata(), [10, 15])
    bars = ax.allocation_axes.containers
    assert [b.get_height() for b in bars[0]] == pytest.approx([0.75, 0.5])
    assert ax.get_ylabel() == "NPV at the optimum"


# ------------------------------------------------------------------ sensitivity
def test_tornado_bars_span_from_base_widest_on_top():
    df = pd.DataFrame({"parameter": ["churn", "margin", "cac"], "low": [120.0, 90.0, 99.0],
                       "high": [70.0, 115.0, 101.0]})
    ax = plots.tornado(df, base=100.0)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cac", "margin", "churn"]
    low, high = ax.containers[0], ax.containers[1]
    assert [b.get_x() for b in low] == [100.0] * 3
    assert [b.get_width() for b in low] == pytest.approx([-1.0, -10.0, 20.0])
    assert [b.get_width() for b in high] == pytest.approx([1.0, 15.0, -30.0])
    assert ax.get_xlabel() == "NPV (base 100)"


def test_sobol_bars_are_indices():
    df = pd.DataFrame({"parameter": ["x1", "x2"], "S1": [0.3, 0.5], "ST": [0.35, 0.6],
                       "S1_conf": [0.02, 0.02], "ST_conf": [0.03, 0.03]})
    ax = plots.sobol_indices(df)
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_width() for b in bars[0]] == pytest.approx([0.3, 0.5])
    assert [b.get_width() for b in bars[1]] == pytest.approx([0.35, 0.6])
    assert ax.get_xlabel() == "share of NPV variance"


# ------------------------------------------------------------------ style
def test_every_plot_accepts_and_returns_the_given_ax():
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    assert plots.occupancy_area(make_results(), "baseline", ax=ax) is ax


def test_money_formatting():
    assert style.money(-2.5e6, "\u00a5") == "-\u00a52.5M"
    assert style.human(1234) == "1.23k" and style.human(12) == "12" and style.human(0.125) == "0.125"


def test_okabe_ito_palette_cycles():
    assert style.color(0) == "#0072B2" and style.color(8) == style.color(0)


def test_cjk_labels_pick_installed_font_or_warn_once(monkeypatch):
    monkeypatch.setattr(style, "_cjk_state", {"checked": False, "font": None, "warned": False})
    monkeypatch.setattr(style, "find_cjk_font", lambda: None)
    with pytest.warns(UserWarning, match="no CJK font"):
        style.ensure_cjk_font(["考察期"])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        style.ensure_cjk_font(["形成期"])  # warned once only
        assert style.ensure_cjk_font(["latin only"]) is None


def test_cjk_font_used_when_installed():
    font = style.find_cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
    P = np.eye(2)
    ax = plots.transition_heatmap(P, ["考察期", "形成期"])
    fam = ax.get_yticklabels()[0].get_fontfamily()
    assert font in fam


def test_morris_bars_are_mu_star_with_interval_and_sigma_markers():
    df = pd.DataFrame({"parameter": ["a", "b"], "mu_star": [5.0, 2.0], "mu_star_lo": [4.0, 1.5],
                       "mu_star_hi": [6.0, 2.5], "sigma": [1.0, 0.5]})
    ax = plots.morris_screening(df)
    bars = [c for c in ax.containers if isinstance(c, BarContainer)][0]
    assert [b.get_width() for b in bars] == pytest.approx([2.0, 5.0])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "a"]
    sigma = [ln for ln in ax.lines if ln.get_label() == "\u03c3 (interactions)"][0]
    assert list(sigma.get_xdata()) == [0.5, 1.0]


def test_cumulative_difference_ends_at_summed_difference():
    res = make_results(strategies=("baseline", "b"))
    p = res.periods
    p.loc[(p["strategy"] == "b") & (p["item"] == "discounted_net_cash"), "mean"] += 2.0  # +2 per period
    ax = plots.cumulative_difference(res)
    line = [ln for ln in ax.lines if ln.get_label() == "b"][0]
    assert np.allclose(line.get_ydata(), 2.0 * np.arange(13))
    assert ax.get_ylabel() == "cumulative discounted net cash vs baseline"
    with pytest.raises(ClmsimError, match="no per-period item 'nope'"):
        plots.cumulative_difference(res, item="nope")
