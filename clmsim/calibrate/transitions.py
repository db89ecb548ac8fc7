"""Maximum-likelihood transition matrix from a stage panel, with intervals.

Data: a panel of rows ``(customer_id, period, stage[, revenue])``: the stage a
customer is in at the end of integer period ``period`` and the revenue earned in
that period (clmsim's timing: customers move, then earn).

Estimator. Only pairs of rows of one customer in **consecutive** periods
``(t, t + 1)`` are transitions; a customer observed in periods 3, 4, 7, 8
contributes the pairs (3, 4) and (7, 8) and the gap 4 -> 7 is skipped (it is
counted in :attr:`TransitionFit.n_gaps`, never imputed). Customers may enter and
leave the panel at any period. With ``n_ij`` the number of observed moves
``i -> j`` and ``n_i = sum_j n_ij``, the likelihood of a first-order chain is
``prod_ij p_ij ** n_ij`` and its maximum is

    p_ij = n_ij / n_i.

Intervals (per entry, equal-tailed, level ``level``):

* ``dirichlet``: the posterior of row ``i`` under a symmetric Dirichlet(``a``)
  prior over the stages a row may reach is Dirichlet(``n_i. + a``); its marginal is
  ``p_ij ~ Beta(n_ij + a, n_i + K a - n_ij - a)`` with ``K`` reachable stages.
  Default ``a = 0.5`` (Jeffreys). An entry observed never (``n_ij = 0``) gets the
  one-sided interval ``[0, q_level]``, one observed always (``n_ij = n_i``)
  ``[q_(1-level), 1]``, so the interval always contains the estimate.
* ``bootstrap``: customers are resampled with replacement (all of a customer's
  pairs together, which keeps within-customer dependence), the MLE is recomputed
  ``n_boot`` times, percentile intervals.

Stages of kind ``lost`` are absorbing: the estimator refuses data that leave them.

Revenue per stage: mean, standard deviation (ddof 1), ``cv = sd / mean`` and the
standard error of the mean ``sd / sqrt(n)`` over all rows in the stage with a revenue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..errors import ClmsimError
from .io import round_row, rows_text, sig

KINDS = ("prospect", "active", "churned", "lost")


@dataclass(frozen=True)
class TransitionFit:
    """A fitted per-period transition matrix.

    Attributes
    ----------
    stages : tuple of str
        Stage order of every matrix.
    counts : ndarray (S, S)
        ``n_ij``: observed moves between consecutive periods (diagonal = stays).
    P : ndarray (S, S)
        Maximum-likelihood matrix ``n_ij / n_i`` (rows without data: identity).
    lower, upper : ndarray (S, S)
        Interval bounds of each entry at ``level``.
    method : str
        ``"dirichlet"`` or ``"bootstrap"``.
    level : float
        Interval coverage, e.g. 0.95.
    n_customers, n_rows, n_gaps : int
        Customers and rows in the panel; skipped non-consecutive steps.
    revenue : DataFrame
        Per stage: ``n``, ``mean``, ``sd``, ``cv``, ``se_mean`` (empty without revenue data).
    kinds : dict
        Stage kinds when known (``{}`` otherwise).
    """

    stages: tuple[str, ...]
    counts: np.ndarray
    P: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    method: str
    level: float
    n_customers: int
    n_rows: int
    n_gaps: int
    revenue: pd.DataFrame
    kinds: dict[str, str] = field(default_factory=dict)

    @property
    def row_totals(self) -> np.ndarray:
        """``n_i``: observed moves out of (or staying in) each stage."""
        return self.counts.sum(axis=1)

    def table(self) -> pd.DataFrame:
        """Tidy table: ``from, to, count, p, lower, upper`` for every entry with data."""
        rows = []
        for i, a in enumerate(self.stages):
            if self.row_totals[i] == 0:
                continue
            for j, b in enumerate(self.stages):
                rows.append((a, b, int(self.counts[i, j]), self.P[i, j], self.lower[i, j], self.upper[i, j]))
        return pd.DataFrame(rows, columns=["from", "to", "count", "p", "lower", "upper"])

    def transitions_block(self, full_rows: dict[str, set[str]] | None = None) -> dict[str, dict[str, float]]:
        """The scenario's ``transitions`` mapping (moves only, staying implied).

        Entries are rounded down to 6 decimals (a row never sums above 1; a row
        whose stay probability is 0 gets the remainder on its largest entry). Zero
        entries are omitted unless listed in ``full_rows[src]`` (so that a fragment
        extending a base scenario overrides the base's non-zero entries).
        """
        out = {}
        for i, a in enumerate(self.stages):
            if self.row_totals[i] == 0 or self.kinds.get(a) == "lost":
                continue
            keep = (full_rows or {}).get(a, set())
            row = {b: self.P[i, j] for j, b in enumerate(self.stages)
                   if j != i and (self.P[i, j] > 0 or b in keep)}
            if row:
                row = round_row(row)
                if self.P[i, i] == 0.0:  # nobody stays: keep the row summing to exactly 1
                    top = max(row, key=row.get)
                    row[top] = round(1.0 - sum(v for k, v in row.items() if k != top), 9)
                out[a] = row
        return out

    def uncertainty_blocks(self, prior: float = 0.5) -> list[dict]:
        """``parameter_uncertainty`` blocks: per row, the Dirichlet(``n_ij + prior``) posterior over
        the destinations observed (staying included when observed; a destination never observed
        stays at 0 -- a structural zero), for every row with at least two of them."""
        out = []
        for i, a in enumerate(self.stages):
            if self.row_totals[i] == 0 or self.kinds.get(a) == "lost":
                continue
            alpha = {b: round(float(self.counts[i, j]) + float(prior), 6)
                     for j, b in enumerate(self.stages) if self.counts[i, j] > 0}
            if len(alpha) >= 2:
                out.append({"dist": "dirichlet", "row": a, "alpha": alpha})
        return out

    def stages_block(self) -> dict[str, dict]:
        """``stages`` entries with the fitted revenue (mean, cv) of stages that earn.

        With known kinds: active stages only. Without: stages whose mean revenue is positive.
        """
        out: dict[str, dict] = {}
        for name in self.stages:
            entry: dict = {}
            if name in self.kinds:
                entry["kind"] = self.kinds[name]
            earns = (self.kinds.get(name) == "active") if self.kinds else True
            if earns and name in self.revenue.index:
                r = self.revenue.loc[name]
                if self.kinds or r["mean"] > 0:
                    cv = r["cv"] if np.isfinite(r["cv"]) else 0.0
                    entry["revenue"] = {"mean": sig(r["mean"]), "cv": sig(cv)}
            if entry:
                out[name] = entry
        return out

    def summary(self) -> str:
        """Plain-text summary: counts, estimates and intervals."""
        pct = f"{self.level:.0%}"
        lines = [f"transition fit: {self.n_customers} customers, {self.n_rows} rows, "
                 f"{int(self.counts.sum())} consecutive-period pairs, {self.n_gaps} gaps skipped",
                 f"intervals: {self.method}, {pct}"]
        for i, a in enumerate(self.stages):
            n = int(self.row_totals[i])
            if n == 0:
                lines.append(f"  {a}: no moves observed")
                continue
            parts = [f"{b} {self.P[i, j]:.4f} [{self.lower[i, j]:.4f}, {self.upper[i, j]:.4f}]"
                     for j, b in enumerate(self.stages) if self.counts[i, j] > 0 or j == i]
            lines.append(f"  {a} (n={n}): " + "; ".join(parts))
        if len(self.revenue):
            lines.append("revenue per customer per period:")
            for name, r in self.revenue.iterrows():
                lines.append(f"  {name}: mean {r['mean']:.4g} (se {r['se_mean']:.3g}), cv {r['cv']:.3g}, n={int(r['n'])}")
        return "\n".join(lines)


# ------------------------------------------------------------------ building blocks
def encode_panel(panel: pd.DataFrame, stages: tuple[str, ...] | None = None,
                 what: str = "panel") -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]:
    """Customer codes, periods and stage codes of a panel, sorted by customer and period,
    the stage order and the file line of each sorted row.

    Raises
    ------
    ClmsimError
        Unknown stages (when ``stages`` is given) or duplicate (customer, period) rows.
    """
    stage_col = panel["stage"].astype(str).str.strip()
    if stages is None:
        stages = tuple(dict.fromkeys(stage_col))
    else:
        unknown = ~stage_col.isin(stages).to_numpy()
        if unknown.any():
            names = sorted(set(stage_col[unknown]))
            raise ClmsimError(f"{what}: unknown stage{'s' if len(names) > 1 else ''} "
                              f"{', '.join(repr(n) for n in names)} in {rows_text(panel['line'][unknown])}; "
                              f"known: {', '.join(stages)}")
    cust = pd.factorize(panel["customer_id"].astype(str).str.strip())[0]
    period = panel["period"].to_numpy(dtype=np.int64)
    code = pd.Categorical(stage_col, categories=list(stages)).codes.astype(np.int64)
    order = np.lexsort((period, cust))
    c, t, s = cust[order], period[order], code[order]
    dup = (c[1:] == c[:-1]) & (t[1:] == t[:-1])
    if dup.any():
        lines = panel["line"].to_numpy()[order]
        bad = np.concatenate([lines[1:][dup], lines[:-1][dup]])
        raise ClmsimError(f"{what}: a customer has two rows for one period in {rows_text(bad)}")
    return c, t, s, stages, panel["line"].to_numpy()[order]


def consecutive_pairs(cust: np.ndarray, period: np.ndarray, code: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
    """Origin, destination and customer of every consecutive-period pair (input sorted).

    Returns ``(src, dst, customer, n_gaps, origin_index)``; ``origin_index`` is the
    position (in the sorted input) of each pair's first row.
    """
    same = cust[1:] == cust[:-1]
    step = period[1:] - period[:-1]
    ok = same & (step == 1)
    n_gaps = int((same & (step > 1)).sum())
    idx = np.flatnonzero(ok)
    return code[idx], code[idx + 1], cust[idx], n_gaps, idx


def count_matrix(src: np.ndarray, dst: np.ndarray, S: int, weights: np.ndarray | None = None) -> np.ndarray:
    """``n_ij`` from pair arrays."""
    out = np.zeros((S, S))
    np.add.at(out, (src, dst), 1.0 if weights is None else weights)
    return out


def mle(counts: np.ndarray) -> np.ndarray:
    """``p_ij = n_ij / n_i``; rows without data stay put (identity row)."""
    counts = np.asarray(counts, dtype=float)
    n = counts.sum(axis=-1, keepdims=True)
    eye = np.broadcast_to(np.eye(counts.shape[-1]), counts.shape)
    return np.where(n > 0, counts / np.where(n > 0, n, 1.0), eye)


def dirichlet_intervals(counts: np.ndarray, level: float = 0.95, prior: float = 0.5,
                        support: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed marginal intervals of the Dirichlet(``n_i. + prior``) posterior.

    ``p_ij ~ Beta(n_ij + a, n_i + K_i a - n_ij - a)`` where ``K_i`` is the number of
    stages row ``i`` may reach (``support[i]``, default all). Entries outside the
    support are exactly 0.
    """
    counts = np.asarray(counts, dtype=float)
    S = counts.shape[0]
    support = np.ones((S, S), dtype=bool) if support is None else support
    K = support.sum(axis=1, keepdims=True)
    a = counts + prior
    b = counts.sum(axis=1, keepdims=True) + K * prior - a
    tail = (1.0 - level) / 2.0
    n = counts.sum(axis=1, keepdims=True)
    zero = counts == 0
    full = (counts == n) & (n > 0)
    b = np.maximum(b, 1e-300)
    with np.errstate(invalid="ignore"):
        lo = np.where(zero, 0.0, stats.beta.ppf(np.where(full, 1.0 - level, tail), a, b))
        hi = np.where(full, 1.0, stats.beta.ppf(np.where(zero, level, 1.0 - tail), a, b))
    lo = np.where(support, lo, 0.0)
    hi = np.where(support, hi, 0.0)
    only = support & (K == 1)  # a single reachable stage: certain
    return np.where(only, 1.0, lo), np.where(only, 1.0, hi)


def bootstrap_intervals(src: np.ndarray, dst: np.ndarray, customer: np.ndarray, S: int, *,
                        level: float = 0.95, n_boot: int = 500,
                        seed: int | np.random.SeedSequence | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals from a customer (cluster) bootstrap of the MLE.

    Each replicate draws ``C`` customers with replacement (multinomial weights) and
    recomputes ``n_ij / n_i`` from their pairs. Randomness comes only from ``seed``
    through :class:`numpy.random.SeedSequence`.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rng = np.random.default_rng(ss)
    C = int(customer.max()) + 1 if customer.size else 0
    if C == 0:
        z = np.zeros((S, S))
        return z, z
    cell = src * S + dst
    M = sparse.csr_matrix((np.ones(cell.size), (customer, cell)), shape=(C, S * S))
    reps = np.empty((n_boot, S, S))
    chunk = max(1, min(n_boot, 2_000_000 // max(C, 1)))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        W = rng.multinomial(C, np.full(C, 1.0 / C), size=b).astype(float)  # (b, C)
        cnt = np.asarray((M.T @ W.T).T).reshape(b, S, S)
        reps[done:done + b] = mle(cnt)
        done += b
    tail = (1.0 - level) / 2.0
    return np.quantile(reps, tail, axis=0), np.quantile(reps, 1.0 - tail, axis=0)


def revenue_stats(panel: pd.DataFrame) -> pd.DataFrame:
    """Per-stage revenue statistics (rows with a revenue value only).

    Returns a frame indexed by stage with ``n``, ``mean``, ``sd`` (ddof 1),
    ``cv = sd / mean`` (NaN when the mean is 0) and ``se_mean = sd / sqrt(n)``.
    """
    if "revenue_value" not in panel.columns:
        return pd.DataFrame(columns=["n", "mean", "sd", "cv", "se_mean"])
    df = panel.dropna(subset=["revenue_value"])
    g = df.groupby(df["stage"].astype(str).str.strip(), sort=False)["revenue_value"]
    out = pd.DataFrame({"n": g.size(), "mean": g.mean(), "sd": g.std(ddof=1)})
    out["sd"] = out["sd"].fillna(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cv"] = np.where(out["mean"] > 0, out["sd"] / out["mean"], np.nan)
    out["se_mean"] = out["sd"] / np.sqrt(out["n"])
    out.index.name = "stage"
    return out


# ----------------------------------------------------------------------- the fit
def prepare_panel(raw: pd.DataFrame, what: str = "panel") -> pd.DataFrame:
    """Parse a raw panel (strings, from :func:`clmsim.calibrate.io.read_table`):
    integer periods, non-negative revenue (``revenue_value``, NaN where blank)."""
    from .io import to_number

    df = raw.copy()
    df["period"] = to_number(df, "period", integer=True, what=what)
    if "revenue" in df.columns:
        blank = df["revenue"].astype(str).str.strip().eq("").to_numpy()
        values = np.full(len(df), np.nan)
        if (~blank).any():
            values[~blank] = to_number(df[~blank], "revenue", nonnegative=True, what=what)
        df["revenue_value"] = values
    return df


def fit_transitions(panel: pd.DataFrame, *, stages: tuple[str, ...] | None = None,
                    kinds: dict[str, str] | None = None, interval: str = "dirichlet", level: float = 0.95,
                    prior: float = 0.5, n_boot: int = 500, seed: int | None = None,
                    min_pairs: int = 20, what: str = "panel") -> TransitionFit:
    """Fit the per-period transition matrix of a stage panel.

    Parameters
    ----------
    panel : DataFrame
        Columns ``customer_id``, ``period`` (int), ``stage``, optional ``revenue_value``
        (float, NaN = unknown) and ``line`` (file line numbers, for messages). Use
        :func:`prepare_panel` on data read with :func:`clmsim.calibrate.io.read_table`.
    stages : tuple of str, optional
        Known stages in scenario order; a panel stage outside it is an error.
        Default: stages in order of first appearance.
    kinds : dict, optional
        Stage kinds (prospect/active/churned/lost). ``lost`` stages must be absorbing
        in the data; they get no row.
    interval : {"dirichlet", "bootstrap"}
        Interval method (see the module docstring).
    level : float
        Interval coverage in (0, 1).
    prior : float
        Dirichlet concentration ``a`` per reachable stage (``dirichlet`` only).
    n_boot : int
        Bootstrap replicates (``bootstrap`` only).
    seed : int, optional
        Seed of the bootstrap's :class:`numpy.random.SeedSequence`.
    min_pairs : int
        Minimum observed pairs out of each non-absorbing stage seen in the panel;
        fewer is an error naming the stage's rows (0 disables the check).

    Raises
    ------
    ClmsimError
        Unknown stages, duplicate rows, customers leaving a ``lost`` stage, too few
        observations, bad options.
    """
    kinds = dict(kinds or {})
    if interval not in ("dirichlet", "bootstrap"):
        raise ClmsimError(f"interval must be 'dirichlet' or 'bootstrap', got {interval!r}")
    if not 0.0 < level < 1.0:
        raise ClmsimError(f"interval level must be between 0 and 1, got {level}")
    if prior <= 0 and interval == "dirichlet":
        raise ClmsimError(f"the Dirichlet prior concentration must be > 0, got {prior}")
    for name, kind in kinds.items():
        if kind not in KINDS:
            raise ClmsimError(f"stage kind of {name!r} must be one of {', '.join(KINDS)}, got {kind!r}")
    cust, period, code, stages, lines_sorted = encode_panel(panel, stages, what)
    S = len(stages)
    src, dst, pc, n_gaps, origin = consecutive_pairs(cust, period, code)
    counts = count_matrix(src, dst, S)

    lost = np.array([kinds.get(s) == "lost" for s in stages])
    leaving = lost[src] & (src != dst)
    if leaving.any():
        names = sorted({stages[i] for i in src[leaving]})
        raise ClmsimError(f"{what}: customers leave the absorbing (kind lost) stage "
                          f"{', '.join(repr(n) for n in names)} in {rows_text(lines_sorted[origin[leaving] + 1])}; "
                          f"fix the data or declare the stage as kind churned")
    if min_pairs > 0:
        seen = np.bincount(code, minlength=S) > 0
        n_i = counts.sum(axis=1)
        for i in np.flatnonzero(seen & ~lost & (n_i < min_pairs)):
            rows = lines_sorted[code == i]
            raise ClmsimError(f"{what}: too few observations for a stable estimate: stage '{stages[i]}' has "
                              f"{int(n_i[i])} consecutive-period pair{'s' if n_i[i] != 1 else ''} "
                              f"(minimum {min_pairs}); it appears in {rows_text(rows)}. Merge the stage, "
                              f"add data or lower --min-pairs")
    P = mle(counts)
    if interval == "dirichlet":
        support = np.ones((S, S), dtype=bool)
        support[lost] = False
        support[lost, lost] = True
        lo, hi = dirichlet_intervals(counts, level, prior, support)
    else:
        lo, hi = bootstrap_intervals(src, dst, pc, S, level=level, n_boot=n_boot, seed=seed)
    empty = counts.sum(axis=1) == 0
    lo[empty] = np.nan
    hi[empty] = np.nan
    return TransitionFit(stages=tuple(stages), counts=counts, P=P, lower=lo, upper=hi, method=interval,
                         level=level, n_customers=int(cust.max()) + 1, n_rows=len(panel), n_gaps=n_gaps,
                         revenue=revenue_stats(panel), kinds={k: v for k, v in kinds.items() if k in stages})


def fragment(fit: TransitionFit, base: str | None = None,
             base_rows: dict[str, dict[str, float]] | None = None, uncertainty: float | None = None) -> dict:
    """A scenario fragment with the fitted ``stages`` revenue and ``transitions``.

    Parameters
    ----------
    base : str, optional
        Path (as written into the file) of a scenario the fragment ``extends``; the
        fragment then overrides that scenario's stages and rows.
    base_rows : dict, optional
        The base scenario's transition rows; entries the fit puts at zero are
        written as 0 so the merge does not keep the base's values.
    uncertainty : float, optional
        Dirichlet prior concentration: also write the ``parameter_uncertainty`` blocks of
        :meth:`TransitionFit.uncertainty_blocks`.
    """
    out: dict = {}
    if base is not None:
        out["extends"] = base
    full = {src: set(row) for src, row in (base_rows or {}).items()}
    stages = fit.stages_block()
    if stages:
        out["stages"] = stages
    out["transitions"] = fit.transitions_block(full)
    if uncertainty is not None:
        out["parameter_uncertainty"] = fit.uncertainty_blocks(uncertainty)
    return out
