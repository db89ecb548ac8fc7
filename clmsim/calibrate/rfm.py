"""The RFM calibration pipeline: transaction log -> stages (:mod:`clmsim.calibrate.stages`) ->
rules chosen on the calibration window -> latent classes with dropout, as many as the BIC
supports (by default), or one chain (optionally with seasonal multipliers) -> complete
scenario, with a holdout report.

The stage rules (:class:`RFMRules`) are chosen before any holdout by a time split inside the
calibration window (:func:`choose_rules`); :func:`fit_rfm` fits the chain on all periods for the
scenario and, with ``holdout=H``, a second one on the calibration periods only for the report
(:mod:`clmsim.calibrate.report`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from ..scenario import scenario_from_text
from .classes import (DROPPED, ClassChoice, ClassFit, choose_classes, class_means, class_occupancy, class_scenario,
                      fit_classes)
from .io import write_yaml
from .report import HoldoutReport, holdout_report
from .seasonal import SeasonalFit, check_cycle, cycle_positions, fit_seasonal, scenario_accepts_seasonality
from .stages import (BUYING, KINDS, STAGES, RFMRules, StagePanel, build_stage_panel, panel_codes, panel_values,
                     period_starts, prepare_transactions)
from .transitions import TransitionFit, fit_transitions

# ------------------------------------------------------------- choosing the rules
RULE_CANDIDATES = {
    "churn_after": (2, 3, 4),
    "window": ((2, 2), (3, 2), (4, 2), (6, 2), (6, 3)),   # (frequency_window, loyal_frequency)
    "dormant_after": (None,),
    "loyal_monetary": (0.0,),
}
"""Rules searched by :func:`choose_rules` when the user does not fix them."""


@dataclass(frozen=True)
class RuleChoice:
    """Stage rules chosen on a window of the data (never on a holdout).

    Attributes
    ----------
    rules : RFMRules
        The rules with the lowest tracking error on the validation periods.
    table : DataFrame
        One row per candidate: ``churn_after, frequency_window, loyal_frequency, dormant_after,
        loyal_monetary, tracking_error, total_error, chosen`` (NaN errors: the candidate could
        not be fitted, ``note`` says why).
    fit_periods, validation_periods : int
        The split of the window: a chain fitted on the first ``fit_periods`` periods
        forecasts the next ``validation_periods``.
    seasonal : int or None
        Cycle length of the seasonal multipliers every candidate's forecast used (None: constant chain).
    constant : tuple of float or None
        With ``seasonal``: the chosen rules' (tracking error, total error) on the same split
        without seasonal multipliers -- whether seasonality earns its keep before any holdout.
    """

    rules: RFMRules
    table: pd.DataFrame
    fit_periods: int
    validation_periods: int
    seasonal: int | None = None
    constant: tuple[float, float] | None = None

    def describe(self) -> str:
        lines = [f"stage rules chosen on the data window before any holdout: a chain fitted on its first "
                 f"{self.fit_periods} periods forecasts the next {self.validation_periods}; lowest tracking error "
                 "(mean absolute error of repeat transactions per period) wins"]
        for r in self.table.to_dict("records"):
            rule = (f"churn_after {r['churn_after']}, frequency_window {r['frequency_window']}, loyal_frequency "
                    f"{r['loyal_frequency']}" + (f", dormant_after {int(r['dormant_after'])}"
                                                 if pd.notna(r["dormant_after"]) else ""))
            res = (f"tracking {r['tracking_error']:.1%}, total {r['total_error']:+.1%}"
                   if pd.notna(r["tracking_error"]) else f"not fitted: {r['note']}")
            lines.append(f"  {'*' if r['chosen'] else ' '} {rule}: {res}")
        if self.seasonal:
            best = self.table[self.table["chosen"]].iloc[0]
            te, tot = self.constant
            verdict = "better" if (best["tracking_error"], abs(best["total_error"])) < (te, abs(tot)) else "no better"
            lines.append(f"  (every forecast above with seasonal multipliers, cycle {self.seasonal}; the chosen rules "
                         f"without them: tracking {te:.1%}, total {tot:+.1%}: seasonal is {verdict} on this split)")
        return "\n".join(lines)


def choose_rules(tx: pd.DataFrame, fixed: dict | None = None, *, window_periods: int | None = None,
                 start=None, end=None, min_pairs: int = 20, seasonal: int | None = None) -> RuleChoice:
    """Choose the stage rules on a time split inside the first ``window_periods`` periods.

    Every combination of :data:`RULE_CANDIDATES` (a rule in ``fixed`` -- ``period``,
    ``churn_after``, ``frequency_window``, ``loyal_frequency``, ``dormant_after``,
    ``loyal_monetary`` -- takes the user's value only) derives the stages, fits a chain on
    the first ``W - V`` periods of the window (``V = max(2, W // 3)``) and forecasts the
    repeat transactions of the next ``V`` periods for the customers who made their first
    purchase before them (:func:`clmsim.calibrate.report.holdout_report`, numpy
    propagation). The candidate with the lowest tracking error (mean absolute percentage
    error of repeat transactions per period) wins; ties go to the smaller total error.
    Nothing after the window is read: with a holdout, pass the calibration window. With
    ``seasonal = N`` each candidate's chain gets seasonal multipliers fitted on the same
    ``W - V`` periods (:func:`clmsim.calibrate.seasonal.fit_seasonal`) and the forecast uses them.

    Raises
    ------
    ClmsimError
        A window too short to split (fewer than 4 periods), or no candidate could be fitted.
    """
    fixed = dict(fixed or {})
    period = fixed.pop("period", "month")
    base = build_stage_panel(tx, RFMRules(period=period), start, end)
    W = base.n_periods if window_periods is None else int(window_periods)
    V = max(2, W // 3)
    Ti = W - V
    if Ti < 2:
        raise ClmsimError(f"choosing the stage rules needs at least 4 {period}s before the holdout, got {W}; "
                          "give the rules (--churn-after, --frequency-window, --loyal-frequency)")
    ca = [fixed["churn_after"]] if "churn_after" in fixed else RULE_CANDIDATES["churn_after"]
    if "frequency_window" in fixed or "loyal_frequency" in fixed:
        fw = fixed.get("frequency_window")
        lf = fixed.get("loyal_frequency")
        windows = [(w, f) for w, f in RULE_CANDIDATES["window"] if (fw is None or w == fw) and (lf is None or f == lf)]
        if not windows:
            windows = [(fw or max(lf, 3), lf or min(2, fw))]
    else:
        windows = RULE_CANDIDATES["window"]
    da = [fixed["dormant_after"]] if "dormant_after" in fixed else RULE_CANDIDATES["dormant_after"]
    lm = [fixed["loyal_monetary"]] if "loyal_monetary" in fixed else RULE_CANDIDATES["loyal_monetary"]
    rows, best = [], None
    for c, (w, f), d, m in ((c, wf, d, m) for c in ca for wf in windows for d in da for m in lm):
        row = {"churn_after": c, "frequency_window": w, "loyal_frequency": f, "dormant_after": d,
               "loyal_monetary": m, "tracking_error": np.nan, "total_error": np.nan, "note": ""}
        try:
            rules = RFMRules(period=period, churn_after=c, frequency_window=w, loyal_frequency=f, dormant_after=d,
                             loyal_monetary=m)
            rep = _inner_split(tx, rules, W, Ti, start, end, min_pairs, seasonal)
            row.update(tracking_error=rep.tracking_error, total_error=rep.holdout_error)
            key = (rep.tracking_error, abs(rep.holdout_error))
            if best is None or key < best[0]:
                best = (key, rules, len(rows))
        except ClmsimError as exc:
            row["note"] = str(exc)
        rows.append(row)
    if best is None:
        notes = sorted({r["note"] for r in rows})
        raise ClmsimError(f"no candidate stage rules could be fitted on the {W} {period}s before any holdout (a chain "
                          f"fitted on the first {Ti} forecasts the last {W - Ti}): give the rules (--churn-after, "
                          f"--frequency-window, --loyal-frequency), use shorter periods or lower --min-pairs. "
                          f"First of {len(rows)} candidates: {notes[0]}"
                          + (f" (and {len(notes) - 1} other reason{'s' if len(notes) > 2 else ''})"
                             if len(notes) > 1 else ""))
    table = pd.DataFrame(rows)
    table["chosen"] = np.arange(len(table)) == best[2]
    constant = None
    if seasonal:
        rep = _inner_split(tx, best[1], W, Ti, start, end, min_pairs, None)
        constant = (rep.tracking_error, rep.holdout_error)
    return RuleChoice(best[1], table, Ti, V, seasonal, constant)


def _inner_split(tx: pd.DataFrame, rules: RFMRules, W: int, Ti: int, start, end, min_pairs: int,
                 seasonal: int | None) -> HoldoutReport:
    """Fit on periods ``0 .. Ti - 1`` of the window of ``W`` periods, forecast ``Ti .. W - 1``."""
    sp = build_stage_panel(tx, rules, start, end)
    window = sp.panel[sp.panel["period"] < W]
    inner = window[window["period"] < Ti].reset_index(drop=True)
    stages = tuple(s for s in sp.stages if (inner["stage"] == s).any())
    fit = _fit_panel(inner, stages, interval="dirichlet", min_pairs=min_pairs)
    P = fit.P
    if seasonal:
        pos = cycle_positions(sp.starts[:W], rules.period, seasonal)
        P = fit_seasonal(inner, fit.P, stages, pos, seasonal, rules.period).matrices(fit.transitions_block(), pos)
    return holdout_report(window, sp.first_period, sp.customers, sp.starts[:W], stages, P,
                          _tx_per_period(inner), Ti)


# ---------------------------------------------------------------------- pipeline
@dataclass(frozen=True)
class RFMFit:
    """Result of :func:`fit_rfm`.

    Attributes
    ----------
    rules : RFMRules
    stages : StagePanel
        The derived stage panel (all periods).
    fit : TransitionFit
        Chain fitted on all periods (this is what the scenario uses).
    transactions_per_period : dict
        Mean transactions per customer-period of each stage (all periods).
    report : HoldoutReport or None
        Holdout comparison of a chain fitted on the calibration periods only.
    scenario : dict
        The complete scenario (plain data), validated.
    choice : RuleChoice or None
        How the rules were chosen (None when the user gave them all).
    seasonal : SeasonalFit or None
        Seasonal multipliers fitted on all periods (what the scenario carries), with ``seasonal=N``.
    holdout_seasonal : SeasonalFit or None
        Seasonal multipliers fitted on the calibration periods only (what the holdout report uses).
    notes : tuple of str
        Remarks for the summary (e.g. a scenario this clmsim cannot run yet).
    classes : ClassFit or None
        Latent classes with dropout fitted on all periods (the scenario's segments), with ``classes=K``.
    holdout_classes : ClassFit or None
        The same fitted on the calibration periods only (what the holdout report uses).
    class_choice : ClassChoice or None
        With ``classes="auto"``: the number of classes chosen by BIC on the calibration periods
        (all periods without a holdout).
    """

    rules: RFMRules
    stages: StagePanel
    fit: TransitionFit
    transactions_per_period: dict
    report: HoldoutReport | None
    scenario: dict
    choice: RuleChoice | None = None
    seasonal: SeasonalFit | None = None
    holdout_seasonal: SeasonalFit | None = None
    notes: tuple[str, ...] = ()
    classes: ClassFit | None = None
    holdout_classes: ClassFit | None = None
    class_choice: ClassChoice | None = None


def _fit_panel(panel: pd.DataFrame, stages: tuple[str, ...], **options):
    df = panel.assign(revenue_value=panel["revenue"], line=panel.index.to_numpy() + 2)
    kinds = {s: KINDS[s] for s in stages}
    return fit_transitions(df, stages=stages, kinds=kinds,
                           what="stage panel derived from the transaction log (rows as in --panel-out)", **options)


def _tx_per_period(panel: pd.DataFrame) -> dict[str, float]:
    return {str(k): float(v) for k, v in panel.groupby("stage")["transactions"].mean().items()}


def rfm_scenario(fit, occupancy: dict[str, int], rules: RFMRules, *, name: str, description: str,
                 horizon: int, discount_rate: float, margin: float | None = None,
                 cost_to_serve: float | None = None) -> dict:
    """A complete scenario (plain data) from a fitted chain and a starting occupancy.

    Active stages get the fitted revenue (mean, cv), and ``margin`` /
    ``cost_to_serve`` when given; ``initial_population`` is ``occupancy``; one
    strategy, ``baseline``. Programs, win-back and acquisition are for the user
    to add (``extends`` this file).
    """
    stages = fit.stages_block()
    for s, entry in stages.items():
        if entry.get("kind") == "active":
            entry.setdefault("revenue", {"mean": 0.0, "cv": 0.0})
            if margin is not None:
                entry["margin"] = float(margin)
            if cost_to_serve is not None:
                entry["cost_to_serve"] = float(cost_to_serve)
    return {
        "schema_version": 1,
        "name": name,
        "description": description,
        "time": {"period": rules.period, "horizon": int(horizon), "discount_rate": float(discount_rate)},
        "stages": stages,
        "transitions": fit.transitions_block(),
        "initial_population": {s: int(n) for s, n in occupancy.items() if n > 0},
        "strategies": {"baseline": {}},
    }


def _positions(sp: StagePanel, period: str, cycle: int, n: int) -> np.ndarray:
    """Cycle positions of periods 0..n-1 of ``sp`` (n may run past the data)."""
    return cycle_positions(period_starts(period, sp.starts[0], n), period, cycle)


def _seasonal_scenario(scenario: dict, sfit: SeasonalFit, phase: int) -> bool:
    """Write ``sfit``'s seasonal transition entries (and revenue means, when supported) into
    ``scenario`` with the given ``phase``; True when anything seasonal was written."""
    scenario["transitions"] = sfit.transitions_block(scenario["transitions"], phase)
    for stage, mean in sfit.revenue_entries(phase).items():
        if "revenue" in scenario["stages"].get(stage, {}):
            scenario["stages"][stage]["revenue"]["mean"] = mean
    return bool(sfit.rows()) or bool(sfit.revenue_entries(phase))


def _constant_copy(scenario: dict) -> dict:
    """``scenario`` with every seasonal entry replaced by its base (for validating the rest)."""
    def flat(v):
        if isinstance(v, dict) and "seasonality" in v:
            return v["base"]
        if isinstance(v, dict):
            return {k: flat(x) for k, x in v.items()}
        return v
    return flat(scenario)


def _class_codes() -> dict:
    """The stage codes latent classes need (:mod:`clmsim.calibrate.classes`)."""
    return dict(churned=STAGES.index("churned"), buying=tuple(STAGES.index(s) for s in BUYING), n_stages=len(STAGES))


def _fit_classes(code: np.ndarray, periods: int, K: int) -> ClassFit:
    return fit_classes(code, periods, K, **_class_codes())


def resolve_classes(classes, *, seasonal: int | None = None, uncertainty: float | None = None,
                    rules: RFMRules | None = None, fixed: dict | None = None) -> tuple[int | str | None, tuple[str, ...]]:
    """What :func:`fit_rfm`'s ``classes`` means with the other options: ``K``, ``"auto"`` or None
    (one chain), and the options that turned the default (``"auto"``) off.

    Raises
    ------
    ClmsimError
        A bad number, or explicit classes with what they do not combine with yet.
    """
    dormant = bool(rules is not None and rules.dormant_after or (fixed or {}).get("dormant_after"))
    default_off: tuple[str, ...] = ()
    if classes is None:      # the default: as many classes as the BIC supports, where they apply
        default_off = tuple(o for o, on in (("--seasonal", seasonal is not None),
                                            ("--uncertainty", uncertainty is not None),
                                            ("--dormant-after", dormant)) if on)
        classes = 0 if default_off else "auto"
    if classes != "auto" and (isinstance(classes, (bool, str)) or int(classes) != classes
                              or not 0 <= classes <= 10):
        raise ClmsimError(f"classes must be a whole number from 0 to 10 or 'auto', got {classes!r}")
    if not classes:
        return None, default_off
    if seasonal is not None or uncertainty is not None:
        raise ClmsimError("latent classes cannot be combined with seasonal multipliers or a "
                          "parameter_uncertainty section yet: drop one of them (--classes 0: one chain)")
    if dormant:
        raise ClmsimError("latent classes model churned customers who buy again or drop out; a dormant stage "
                          "(--dormant-after) splits churned in two: drop one of them (--classes 0: one chain)")
    return (classes if classes == "auto" else int(classes)), default_off


def fit_rfm(tx: pd.DataFrame, rules: RFMRules | None = None, *, holdout: int = 0, horizon: int = 24,
            discount_rate: float = 0.10, margin: float | None = None, cost_to_serve: float | None = None,
            name: str = "calibrated-rfm", source: str = "transaction log", start=None, end=None,
            interval: str = "dirichlet", level: float = 0.95, n_boot: int = 500, seed: int | None = None,
            min_pairs: int = 20, uncertainty: float | None = None, fixed: dict | None = None,
            seasonal: int | None = None, classes: int | None = None) -> RFMFit:
    """Transaction log -> stages -> chain and revenue -> runnable scenario (+ holdout report).

    Parameters
    ----------
    tx : DataFrame
        From :func:`prepare_transactions`.
    rules : RFMRules, optional
        Stage rules and period length. None: chosen by :func:`choose_rules` on the data before
        the holdout (``fixed`` rules kept), never on the holdout.
    holdout : int
        Last ``holdout`` periods held out for the fit report (0: no report). The
        report's chain is fitted on the earlier periods; the scenario's chain on all.
    horizon, discount_rate : scenario clock (periods; annual effective rate).
    margin, cost_to_serve : optional economics of every active stage.
    interval, level, n_boot, seed, min_pairs : see :func:`clmsim.calibrate.transitions.fit_transitions`.
    uncertainty : float, optional
        Dirichlet prior concentration: the scenario also gets ``parameter_uncertainty``
        (:meth:`~clmsim.calibrate.transitions.TransitionFit.uncertainty_blocks`).
    seasonal : int, optional
        ``N`` >= 2: multiplicative seasonal factors per position in a cycle of ``N`` periods
        (12 with monthly periods: month of year) on the purchase probabilities and, when the
        data support it, on revenue per purchase (:mod:`clmsim.calibrate.seasonal`). The rule
        choice and the holdout report fit them on the periods they fit the chain on (never the
        holdout); the scenario carries the ones fitted on all periods, as
        ``{base, seasonality: {period, multipliers, phase}}`` entries whose ``phase`` is the
        position of the period after the data.
    classes : int or "auto", optional
        ``K`` >= 1: latent classes of chains in which a churned customer can drop out for good
        (:mod:`clmsim.calibrate.classes`), fitted by EM after the rules are chosen as without
        them. The scenario gets a stage ``dropped`` (kind ``churned``, without a row) and one
        segment per class (its share, rows, initial population and revenue per period in each
        earning stage); the holdout report forecasts with the classes fitted on the calibration
        periods, each with its own transactions per period in a buying stage. ``"auto"``: the number of classes
        (or none, one chain without dropout) chosen by BIC on the calibration periods, all
        periods without a holdout (:func:`~clmsim.calibrate.classes.choose_classes`); the
        same number is fitted on all periods for the scenario. ``0``: one chain without dropout.
        None (the default): ``"auto"``, or ``0`` with a note when ``seasonal``, ``uncertainty``
        or a dormant stage is asked for (the classes do not combine with them yet).

    Raises
    ------
    ClmsimError
        Bad data or options (a cycle length outside 2..1000, ``seasonal`` with ``uncertainty``);
        a holdout that leaves fewer than 2 calibration periods.
    """
    if seasonal is not None:
        seasonal = check_cycle(seasonal)
        if uncertainty is not None:
            raise ClmsimError("seasonal multipliers and a parameter_uncertainty section (--uncertainty) cannot be "
                              "combined yet: the Dirichlet rows would replace the seasonal transition entries with "
                              "constant draws; drop one of the two")
    classes, default_off = resolve_classes(classes, seasonal=seasonal, uncertainty=uncertainty, rules=rules,
                                           fixed=fixed)
    choice = None
    if rules is None:
        T = build_stage_panel(tx, RFMRules(period=(fixed or {}).get("period", "month")), start, end).n_periods
        if holdout and (T - int(holdout) < 2 or holdout < 0):
            raise ClmsimError(f"holdout of {holdout} periods leaves {T - int(holdout)} calibration period(s) of "
                              f"{T}; at least 2 are needed")
        choice = choose_rules(tx, fixed, window_periods=T - int(holdout or 0), start=start, end=end,
                              min_pairs=min_pairs, seasonal=seasonal)
        rules = choice.rules
    sp = build_stage_panel(tx, rules, start, end)
    Tc = sp.n_periods - int(holdout or 0)
    if holdout and (Tc < 2 or holdout < 0):
        raise ClmsimError(f"holdout of {holdout} {rules.period}s leaves {Tc} calibration period(s) of "
                          f"{sp.n_periods}; at least 2 are needed")
    options = dict(interval=interval, level=level, n_boot=n_boot, seed=seed, min_pairs=min_pairs)
    fit = _fit_panel(sp.panel, sp.stages, **options)
    last = sp.panel[sp.panel["period"] == sp.n_periods - 1]["stage"].value_counts()
    occupancy = {s: int(last.get(s, 0)) for s in sp.stages}
    period_text = f"{sp.starts[0]:%Y-%m-%d} .. {sp.n_periods} {rules.period}s"
    description = (f"Calibrated by clmsim fit rfm from {source}: {len(sp.customers):,} customers, {period_text}. "
                   f"Stages: {rules.describe()}. Initial population: stages at the end of the data.")
    scenario = rfm_scenario(fit, occupancy, rules, name=name, description=description, horizon=horizon,
                            discount_rate=discount_rate, margin=margin, cost_to_serve=cost_to_serve)
    notes: list[str] = []
    if default_off:
        notes.append(f"no latent classes (the default is --classes auto): they do not combine with "
                     f"{' or '.join(default_off)} yet, so the scenario is one chain without dropout")
    sfit = None
    seasonal_written = False
    if seasonal:
        pos = _positions(sp, rules.period, seasonal, sp.n_periods + 1)
        sfit = fit_seasonal(sp.panel, fit.P, sp.stages, pos[:-1], seasonal, rules.period)
        seasonal_written = _seasonal_scenario(scenario, sfit, int(pos[-1]) + 1)
        if seasonal_written:
            scenario["description"] += (
                f" Seasonal multipliers over a cycle of {seasonal} {rules.period}s (fitted on all periods) scale the "
                f"purchase probabilities" + (" and revenue per purchase" if sfit.revenue_entries(1) else "")
                + f"; phase {int(pos[-1]) + 1} = the position of the scenario's first period.")
        if not seasonal_written:
            notes.append("the data do not support seasonal multipliers (see the tests above): the scenario is "
                         "constant")
    if uncertainty is not None:
        scenario["parameter_uncertainty"] = fit.uncertainty_blocks(uncertainty)
    cls = hold_cls = class_choice = None
    code = panel_codes(sp) if classes else None
    if classes == "auto":
        class_choice = choose_classes(code, Tc, **_class_codes())
        classes = class_choice.classes or None
        if classes is None:
            notes.append("latent classes (--classes auto): the BIC prefers one chain without dropout; the scenario "
                         "has no classes")

    def fitted_classes(periods: int) -> ClassFit:
        if class_choice is not None and class_choice.periods == periods:
            return class_choice.fits[classes]
        return _fit_classes(code, periods, classes)

    if classes:
        revenue = panel_values(sp, "revenue")
        cls = fitted_classes(sp.n_periods)
        class_scenario(scenario, cls, STAGES, code[:, -1], np.ones(len(code), dtype=bool), sp.stages,
                       class_means(cls.posterior, code, revenue, sp.n_periods, len(STAGES)))
        window = f"the first {Tc} {rules.period}s, before the holdout" if holdout else f"all {Tc} {rules.period}s"
        chosen = f" (chosen by BIC on {window})" if class_choice is not None else ""
        scenario["description"] += (f" {classes} latent classes{chosen} (segments class_1 ..) in which a churned "
                                    f"customer can drop out for good (stage {DROPPED}, which a win-back policy still "
                                    f"contacts); each has its own revenue per period; initial populations: each "
                                    f"class's expected customers in each stage, the churned split between churned "
                                    f"and {DROPPED}, in whole customers.")
        held = [sum(seg["initial_population"].get(s, 0) for seg in scenario["segments"].values())
                for s in ("churned", DROPPED)]
        if sum(held):
            notes.append(f"of the {sum(held):,} customers churned at the end of the data, {held[0]:,} start in "
                         f"'churned' and {held[1]:,} in '{DROPPED}' (they probably dropped out: they never come back by "
                         f"themselves); a win-back policy mails both at its success rate, as a campaign that cannot "
                         f"tell them apart does. If the dropped never respond, give '{DROPPED}' a policy of its own "
                         f"with success 0 (docs/calibration.md)")
    runnable = not seasonal_written or scenario_accepts_seasonality()
    if not runnable:
        notes.append("this clmsim's scenario language does not accept seasonality entries yet: the scenario was "
                     "validated with every seasonal entry at its base value, and the holdout forecast is the "
                     "numpy propagation of the seasonal chain")
    # must be runnable: raises ScenarioError if not
    scenario_from_text(write_yaml(scenario if runnable else _constant_copy(scenario), None), f"<{name}>")
    report = None
    hold_sfit = None
    if holdout:
        cal = sp.panel[sp.panel["period"] < Tc]
        cal_stages = tuple(s for s in sp.stages if (cal["stage"] == s).any())
        cal_fit = _fit_panel(cal.reset_index(drop=True), cal_stages, **options)
        tracked = set(sp.customers[sp.first_period < Tc])
        end_rows = cal[(cal["period"] == Tc - 1) & cal["customer_id"].isin(tracked)]["stage"].value_counts()
        hold_sc = rfm_scenario(cal_fit, {s: int(end_rows.get(s, 0)) for s in cal_stages}, rules,
                               name=f"{name}-holdout", description="holdout check", horizon=int(holdout),
                               discount_rate=discount_rate)
        P = cal_fit.P
        engine_ok = True
        if seasonal:
            pos = _positions(sp, rules.period, seasonal, sp.n_periods)
            hold_sfit = fit_seasonal(cal, cal_fit.P, cal_stages, pos[:Tc], seasonal, rules.period)
            P = hold_sfit.matrices(cal_fit.transitions_block(), pos)
            engine_ok = not _seasonal_scenario(hold_sc, hold_sfit, int(pos[Tc]) + 1) or scenario_accepts_seasonality()
        occupancy = engine = None
        if classes:
            hold_cls = fitted_classes(Tc)
            class_scenario(hold_sc, hold_cls, STAGES, code[:, Tc - 1], sp.first_period < Tc, cal_stages,
                           class_means(hold_cls.posterior, code, revenue, Tc, len(STAGES)))
        hold_text = write_yaml(hold_sc, None) if engine_ok else None
        tx_rates = _tx_per_period(cal)
        if classes:
            occupancy, engine = class_occupancy(hold_cls, STAGES, sp.first_period, code, Tc, sp.n_periods, cal_stages,
                                                hold_text)
            tx, _ = class_means(hold_cls.posterior, code, panel_values(sp, "transactions"), Tc, len(STAGES))
            tx_rates = [{s: float(tx[k, STAGES.index(s)]) for s in cal_stages} for k in range(classes)]
        report = holdout_report(sp.panel, sp.first_period, sp.customers, sp.starts, cal_stages, P,
                                tx_rates, Tc, holdout_scenario=hold_text, seasonal=seasonal,
                                occupancy=occupancy, engine=engine, classes=classes)
    return RFMFit(rules=rules, stages=sp, fit=fit, transactions_per_period=_tx_per_period(sp.panel),
                  report=report, scenario=scenario, choice=choice, seasonal=sfit, holdout_seasonal=hold_sfit,
                  notes=tuple(notes), classes=cls, holdout_classes=hold_cls, class_choice=class_choice)
