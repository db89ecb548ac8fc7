"""Parameter uncertainty: joint distributions of scenario fields (``parameter_uncertainty``).

A scenario or an experiment may carry a list of *blocks*, each a joint distribution of
one or more numeric fields named by dotted paths (what the data left uncertain, e.g. as
written by ``clmsim fit ... --uncertainty``)::

    parameter_uncertainty:
      - {dist: dirichlet, row: new, alpha: {growing: 291.5, declining: 153.5, churned: 161.5, new: 2470.5}}
      - {dist: mvnormal, paths: [heterogeneity.churn_probability.alpha, heterogeneity.churn_probability.beta],
         mean: [-0.2841, 0.2621], cov: [[0.0065, 0.0087], [0.0087, 0.0118]], log: true}
      - {dist: beta, path: winback.policies.reactivation_offer.success.base, a: 24, b: 176}
      - {dist: gamma, path: stages.loyal.revenue.mean, shape: 400, rate: 5.33}
      - {dist: normal, path: acquisition.channels.retail_stores.response.cost_per_customer, mean: 375, sd: 20}
      - {dist: draws, file: transitions_bootstrap.csv}     # one joint draw per row, columns = paths

* ``dirichlet`` -- the transition row of stage ``row``: its destinations ``j`` (stage
  names; the row's own stage = staying) get probabilities ``p ~ Dirichlet(alpha)``, which
  sum to 1 (the posterior of a row of observed moves ``n_ij`` under a Dirichlet(``a``)
  prior is Dirichlet(``n_ij + a``)); sets ``transitions.<row>.<j>`` for every ``j != row``;
* ``mvnormal`` -- ``paths`` jointly normal with ``mean`` and covariance ``cov`` (``log:
  true``: the logarithms are, so the values are positive: a joint log-normal);
* ``beta`` (``a``, ``b``), ``gamma`` (``shape``, ``rate``; mean ``shape/rate``),
  ``normal`` (``mean``, ``sd``) -- one field;
* ``draws`` -- a CSV file (path relative to the scenario) whose header names the fields
  and whose rows are joint draws (e.g. bootstrap replicates): a draw picks a row.

Blocks are independent of each other; correlation lives inside a block. Every block maps
``dim`` uniforms in (0, 1) to values (:func:`transform`), so any sampler of the unit
hypercube (plain random, Latin hypercube) draws them. Validation (:func:`check_blocks`) is
located at ``file:line:col`` like every scenario problem.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import Diagnostic, Location, did_you_mean
from .loader import Positions, locate

Finite = Annotated[float, Field(allow_inf_nan=False)]
PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]

MAX_DRAW_ROWS = 1_000_000
"""Rows a ``draws`` file may hold."""


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DirichletRow(_Block):
    dist: Literal["dirichlet"]
    row: str = Field(min_length=1)
    alpha: dict[str, PositiveFinite] = Field(min_length=2)


class MVNormal(_Block):
    dist: Literal["mvnormal"]
    paths: list[str] = Field(min_length=1, max_length=1000)
    mean: list[Finite]
    cov: list[list[Finite]]
    log: bool = False

    @model_validator(mode="after")
    def _shape(self):
        d = len(self.paths)
        if len(self.mean) != d:
            raise ValueError(f"mean has {len(self.mean)} values for {d} paths")
        if len(self.cov) != d or any(len(r) != d for r in self.cov):
            raise ValueError(f"cov must be a {d} x {d} matrix (one row and column per path)")
        c = np.asarray(self.cov, dtype=float)
        if not np.allclose(c, c.T, rtol=1e-9, atol=1e-12 * max(1.0, float(np.abs(c).max()))):
            raise ValueError("cov must be symmetric")
        if float(np.linalg.eigvalsh(c).min()) < -1e-10 * max(1.0, float(np.abs(c).max())):
            raise ValueError("cov must be positive semi-definite (a covariance matrix)")
        if len(set(self.paths)) != d:
            raise ValueError("paths must be different")
        return self


class BetaParam(_Block):
    dist: Literal["beta"]
    path: str = Field(min_length=1)
    a: PositiveFinite
    b: PositiveFinite


class GammaParam(_Block):
    dist: Literal["gamma"]
    path: str = Field(min_length=1)
    shape: PositiveFinite
    rate: PositiveFinite


class NormalParam(_Block):
    dist: Literal["normal"]
    path: str = Field(min_length=1)
    mean: Finite
    sd: PositiveFinite


class Draws(_Block):
    dist: Literal["draws"]
    file: str = Field(min_length=1)


BLOCKS = {"dirichlet": DirichletRow, "mvnormal": MVNormal, "beta": BetaParam, "gamma": GammaParam,
          "normal": NormalParam, "draws": Draws}
ParameterBlock = Annotated[Union[DirichletRow, MVNormal, BetaParam, GammaParam, NormalParam, Draws],
                           Field(discriminator="dist")]


def block_paths(block, table: dict[str, np.ndarray] | None = None) -> list[str]:
    """Dotted paths a block sets (a ``draws`` block: the columns of its loaded ``table``)."""
    if isinstance(block, DirichletRow):
        return [f"transitions.{block.row}.{j}" for j in block.alpha if j != block.row]
    if isinstance(block, MVNormal):
        return list(block.paths)
    if isinstance(block, Draws):
        return list(table or {})
    return [block.path]


def block_dim(block) -> int:
    """Uniforms one draw of the block uses."""
    if isinstance(block, DirichletRow):
        return len(block.alpha)
    if isinstance(block, MVNormal):
        return len(block.paths)
    return 1


def transform(block, u: np.ndarray, table: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Values of the block's paths for uniforms ``u`` of shape ``(n, block_dim(block))``.

    dirichlet: independent ``Gamma(alpha_j, 1)`` quantiles of the uniforms, normalised;
    mvnormal: ``mean + L z`` with ``z`` the standard normal quantiles and ``L L' = cov``
    (eigen-decomposition, so a singular covariance works), exponentiated when ``log``;
    beta/gamma/normal: the quantile function; draws: row ``floor(u n_rows)``.
    """
    from scipy import stats

    u = np.clip(np.asarray(u, dtype=float), 1e-300, 1.0 - 1e-16)
    if isinstance(block, DirichletRow):
        names = list(block.alpha)
        g = np.column_stack([stats.gamma.ppf(u[:, k], block.alpha[j]) for k, j in enumerate(names)])
        p = g / g.sum(axis=1, keepdims=True)
        return {f"transitions.{block.row}.{j}": p[:, k] for k, j in enumerate(names) if j != block.row}
    if isinstance(block, MVNormal):
        c = np.asarray(block.cov, dtype=float)
        w, v = np.linalg.eigh(c)
        L = v * np.sqrt(np.clip(w, 0.0, None))
        x = np.asarray(block.mean)[None, :] + stats.norm.ppf(u) @ L.T
        if block.log:
            x = np.exp(x)
        return {p: x[:, k] for k, p in enumerate(block.paths)}
    if isinstance(block, BetaParam):
        return {block.path: stats.beta.ppf(u[:, 0], block.a, block.b)}
    if isinstance(block, GammaParam):
        return {block.path: stats.gamma.ppf(u[:, 0], block.shape, scale=1.0 / block.rate)}
    if isinstance(block, NormalParam):
        return {block.path: stats.norm.ppf(u[:, 0], block.mean, block.sd)}
    if isinstance(block, Draws):
        cols = table or {}
        n = len(next(iter(cols.values()))) if cols else 0
        idx = np.minimum((u[:, 0] * n).astype(np.int64), n - 1)
        return {p: np.asarray(v)[idx] for p, v in cols.items()}
    raise ValueError(f"unknown parameter block {block!r}")


def read_draws(path: Path, where: Location, at: str) -> tuple[dict[str, np.ndarray] | None, list[Diagnostic]]:
    """The columns of a ``draws`` CSV file (``path -> values``), or the problems found."""
    from ..limits import current

    def bad(msg: str):
        return None, [Diagnostic(where, at, msg)]

    if not path.is_file():
        return bad(f"draws file not found: {path}")
    limit = min(MAX_DRAW_ROWS, current().points * 100)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                return bad(f"{path}: empty file (expected a header of dotted paths and one row per draw)")
            header = [h.strip() for h in header]
            rows = []
            for line, rec in enumerate(reader, start=2):
                if len(rows) >= limit:
                    return bad(f"{path}: more than {limit:,} draws")
                if not rec:
                    continue
                if len(rec) != len(header):
                    return bad(f"{path}:{line}: {len(rec)} values for {len(header)} columns")
                try:
                    vals = [float(x) for x in rec]
                except ValueError:
                    return bad(f"{path}:{line}: not a number in {rec!r}")
                if not all(math.isfinite(v) for v in vals):
                    return bad(f"{path}:{line}: values must be finite")
                rows.append(vals)
    except (OSError, UnicodeDecodeError) as exc:
        return bad(f"{path}: cannot read: {exc}")
    if len(rows) < 2:
        return bad(f"{path}: needs at least 2 draws, has {len(rows)}")
    if len(set(header)) != len(header):
        return bad(f"{path}: repeated column names")
    arr = np.asarray(rows, dtype=float)
    return {h: arr[:, k] for k, h in enumerate(header)}, []


def _numeric(data, path: str) -> str | None:
    """None when ``path`` names a number written in ``data``; else why not."""
    node = data
    for key in path.split("."):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return "not a field of the scenario (fields must be written in the scenario)"
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        return f"holds {type(node).__name__}, not a number"
    return None


def check_blocks(blocks: list, data: dict, positions: Positions, default: Location, base_dir: Path,
                 section: tuple = ("parameter_uncertainty",)) -> tuple[list[dict | None], list[Diagnostic]]:
    """Semantic checks of parameter blocks against the scenario data ``data``.

    Every path must name a number written in the scenario (a ``dirichlet`` row: a
    transition row of a stage, destinations that are stages), no path may be set by two
    blocks, and a ``draws`` file must be readable. Returns the loaded draw tables (one per
    block, None for the others) and the problems, each located in the file.
    """
    from .overrides import numeric_paths

    diags: list[Diagnostic] = []
    tables: list[dict | None] = []
    seen: dict[str, int] = {}
    stages = list((data.get("stages") or {}))
    numbers = None
    for i, b in enumerate(blocks):
        here = locate(positions, section + (i,), default)
        at = ".".join(map(str, section + (i,)))
        table = None
        if isinstance(b, Draws):
            table, d = read_draws((base_dir / b.file), locate(positions, section + (i, "file"), here), at + ".file")
            diags += d
        if isinstance(b, DirichletRow):
            if b.row not in stages:
                diags.append(Diagnostic(locate(positions, section + (i, "row"), here), at + ".row",
                                        f"unknown stage '{b.row}'{did_you_mean(b.row, stages)}"))
            for j in b.alpha:
                if j not in stages:
                    diags.append(Diagnostic(locate(positions, section + (i, "alpha", j), here), f"{at}.alpha.{j}",
                                            f"unknown stage '{j}'{did_you_mean(j, stages)}"))
            if b.row in stages and not any(j != b.row for j in b.alpha):
                diags.append(Diagnostic(here, at, "a row needs at least one destination other than staying"))
        else:
            for k, p in enumerate(block_paths(b, table)):
                why = _numeric(data, p)
                if why:
                    numbers = numbers if numbers is not None else numeric_paths(data)
                    key = ("path",) if hasattr(b, "path") else ("paths", k) if isinstance(b, MVNormal) else ("file",)
                    where = locate(positions, section + (i,) + key, here)
                    diags.append(Diagnostic(where, f"{at}.{'.'.join(map(str, key))}",
                                            f"'{p}' is {why}{did_you_mean(p, numbers)}"
                                            if why.startswith("not") else f"'{p}' {why}"))
        for p in block_paths(b, table):
            if p in seen:
                diags.append(Diagnostic(here, at, f"'{p}' is also set by block {seen[p]}: "
                                        "put jointly uncertain fields in one block"))
            seen.setdefault(p, i)
        tables.append(table)
    return tables, diags


__all__ = ["BLOCKS", "BetaParam", "DirichletRow", "Draws", "GammaParam", "MVNormal", "NormalParam",
           "ParameterBlock", "block_dim", "block_paths", "check_blocks", "read_draws", "transform"]
