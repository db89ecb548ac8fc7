"""The expanded state space that makes win-back ages and concessions Markov.

A customer's next move depends on more than the stage: a churned customer's
win-back success depends on the whole periods ``k`` since churn, and a returned
customer pays a discounted price for a number of periods. Both are finite
counters, so the chain on (stage, counter) pairs is an ordinary Markov chain:

* prospect and lost stages: one state each;
* a churned stage: one state per age ``k = 0 .. K`` when any win-back policy
  exists (``K = max(eligible_after + window)`` over policies; ``k = K`` means
  "``K`` or more", no longer eligible anywhere); one state otherwise. The age is
  the number of whole periods since the customer left the active stages: it is
  0 in the first period after the churn, grows by one per period and is kept
  when a churned customer moves to another churned stage;
* an active stage: the normal state plus, for every win-back policy ``w`` with a
  concession (``periods > 0`` and ``discount > 0``), the states ``(w, c)``,
  ``c = 1 .. periods``: the customer pays ``revenue (1 - discount)`` in the
  current period and ``c - 1`` more. A return puts the customer in
  ``(return_stage, w, periods)``; a move between active stages keeps the
  concession (``c -> c - 1``, ``c = 1 -> normal``); churning ends it. Save offers
  (:class:`~clmsim.model.compiled.Intercept`) with a concession add the same states
  with ``w = W + k`` (``W`` win-back policies, offer ``k``): a save puts the customer
  in ``(save stage, W + k, periods)`` (:attr:`Space.save_target`).

The expanded one-period matrix ``M`` is built from the (program- and
heterogeneity-adjusted) base matrix ``B`` of :func:`clmsim.model.effective_matrix`:
for an eligible churned state ``(s, k)`` the win-back success
``pi = coverage_t p(k)`` goes to the return state and ``1 - pi`` follows the
churned stage's base row; every other state follows its base row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...model import ACTIVE, CHURNED, LOST, CompiledModel


@dataclass(frozen=True)
class Space:
    """The expanded states of one compiled model.

    Attributes
    ----------
    base : array (E,)
        Base stage of each state.
    age : array (E,)
        Periods since churn (churned states with ages), else -1.
    policy : array (E,)
        Concession policy index of an active state in concession, else -1.
    left : array (E,)
        Concession periods left including the current one, else 0.
    labels : tuple of str
        Readable names, e.g. ``churned[k=2]``, ``new[offer:3]``.
    pairs_src, pairs_dst, pairs_base_dst : arrays
        For every state ``i`` and base destination ``d`` the expanded target:
        ``M[i, pairs_dst] += (1 - pi_i) B[base[i], pairs_base_dst]``.
    ret_state : array (E,)
        Target of a successful win-back from each churned state (-1 if none).
    ret_plain : array (E,)
        The same target without the concession (for segments the concession does not
        grant it to; equal to ``ret_state`` for policies without one).
    ret_policy : array (E,)
        Policy serving each churned state's stage (-1 if none).
    normal : array (S,)
        The state a customer entering each base stage from outside occupies
        (age 0 for churned stages, no concession for active stages).
    save_target, save_plain : arrays (K, E)
        For save offer ``k`` and an active state: the state a saved customer goes to, with
        and without the offer's concession (-1 for states that are not active).
    """

    base: np.ndarray
    age: np.ndarray
    policy: np.ndarray
    left: np.ndarray
    labels: tuple[str, ...]
    pairs_src: np.ndarray
    pairs_dst: np.ndarray
    pairs_base_dst: np.ndarray
    ret_state: np.ndarray
    ret_plain: np.ndarray
    ret_policy: np.ndarray
    normal: np.ndarray
    save_target: np.ndarray
    save_plain: np.ndarray

    @property
    def size(self) -> int:
        return len(self.base)

    def aggregate(self, n_stages: int) -> np.ndarray:
        """0/1 matrix (E, S) summing expanded states into their base stages."""
        out = np.zeros((self.size, n_stages))
        out[np.arange(self.size), self.base] = 1.0
        return out


def build_space(model: CompiledModel) -> Space:
    """Enumerate the expanded states of ``model`` (see the module docstring)."""
    kind = model.stage_kind
    S = model.n_stages
    names = model.stage_names
    max_age = max((w.max_age for w in model.winbacks), default=0)
    W = len(model.winbacks)
    conc = [(w, pol) for w, pol in enumerate(model.winbacks) if pol.has_concession]
    conc += [(W + k, ic) for k, ic in enumerate(getattr(model, "intercepts", ())) if ic.has_concession]
    base, age, policy, left, labels = [], [], [], [], []
    index: dict[tuple, int] = {}

    def add(s: int, k: int = -1, w: int = -1, c: int = 0, label: str = "") -> None:
        index[(s, k, w, c)] = len(base)
        base.append(s)
        age.append(k)
        policy.append(w)
        left.append(c)
        labels.append(label or names[s])

    for s in range(S):
        if kind[s] == CHURNED and max_age > 0:
            for k in range(max_age + 1):
                add(s, k=k, label=f"{names[s]}[k={k}{'+' if k == max_age else ''}]")
        elif kind[s] == ACTIVE:
            add(s)
            for w, pol in conc:
                for c in range(1, pol.concession_periods + 1):
                    add(s, w=w, c=c, label=f"{names[s]}[{pol.name}:{c}]")
        else:
            add(s)

    def target(i: int, d: int) -> int:
        s, k, w, c = base[i], age[i], policy[i], left[i]
        if kind[d] == CHURNED:
            if max_age == 0:
                return index[(d, -1, -1, 0)]
            new_age = min(k + 1, max_age) if kind[s] == CHURNED else 0
            return index[(d, new_age, -1, 0)]
        if kind[d] == ACTIVE:
            if w >= 0 and kind[s] == ACTIVE and c > 1:
                return index[(d, -1, w, c - 1)]
            return index[(d, -1, -1, 0)]
        return index[(d, -1, -1, 0)]

    E = len(base)
    src, dst, bdst = [], [], []
    for i in range(E):
        for d in range(S):
            src.append(i)
            dst.append(target(i, d))
            bdst.append(d)
    serving = np.full(S, -1)
    for w, pol in enumerate(model.winbacks):
        serving[pol.from_stages] = w
    ret_state = np.full(E, -1)
    ret_plain = np.full(E, -1)
    ret_policy = np.full(E, -1)
    for i in range(E):
        w = serving[base[i]] if kind[base[i]] == CHURNED else -1
        if w < 0:
            continue
        pol = model.winbacks[w]
        ret_policy[i] = w
        ret_plain[i] = index[(pol.return_stage, -1, -1, 0)]
        if pol.has_concession:
            ret_state[i] = index[(pol.return_stage, -1, w, pol.concession_periods)]
        else:
            ret_state[i] = index[(pol.return_stage, -1, -1, 0)]
    normal = np.array([index[(s, 0 if (kind[s] == CHURNED and max_age > 0) else -1, -1, 0)]
                       for s in range(S)])
    intercepts = getattr(model, "intercepts", ())
    save_target = np.full((len(intercepts), E), -1)
    save_plain = np.full((len(intercepts), E), -1)
    for k, ic in enumerate(intercepts):
        for i in range(E):
            if kind[base[i]] != ACTIVE:
                continue
            d = ic.destination(base[i])
            save_plain[k, i] = index[(d, -1, -1, 0)]
            save_target[k, i] = index[(d, -1, W + k, ic.concession_periods)] if ic.has_concession else save_plain[k, i]
    return Space(np.array(base), np.array(age), np.array(policy), np.array(left), tuple(labels),
                 np.array(src), np.array(dst), np.array(bdst), ret_state, ret_plain, ret_policy, normal,
                 save_target, save_plain)


def concession_discount(model: CompiledModel, policy: int) -> float:
    """Discount of concession source ``policy``: win-back policy ``w < W``, else save offer ``w - W``."""
    W = len(model.winbacks)
    return model.winbacks[policy].discount if policy < W else model.intercepts[policy - W].discount


def winback_success(model: CompiledModel, space: Space, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment, per-state contact and success probabilities in period ``t`` (1-based).

    Returns
    -------
    contact : array (G, E)
        ``coverage_t`` for eligible churned states of segments the policy targets, else 0.
    success : array (G, E)
        ``coverage_t * base_g * decay_g**k`` there (segment ``g``'s success law), else 0.
    """
    G, E = model.n_segments, space.size
    contact = np.zeros((G, E))
    success = np.zeros((G, E))
    for i in np.flatnonzero(space.ret_policy >= 0):
        pol = model.winbacks[space.ret_policy[i]]
        k = space.age[i]
        if pol.eligible_after <= k < pol.max_age:
            cov = float(pol.coverage[t - 1])
            reach = pol.reaches(G)
            contact[:, i] = cov * reach
            success[:, i] = cov * reach * pol.success(k, np.arange(G))
    return contact, success


def return_states(model: CompiledModel, space: Space, segment: int) -> np.ndarray:
    """Target state of a successful win-back from each churned state for one segment:
    with the concession where the policy grants it to the segment, else without (-1: none)."""
    out = space.ret_state.copy()
    for i in np.flatnonzero(space.ret_policy >= 0):
        if not model.winbacks[space.ret_policy[i]].grants(model.n_segments)[segment]:
            out[i] = space.ret_plain[i]
    return out


def expand(B: np.ndarray, space: Space, success: np.ndarray, ret_state: np.ndarray | None = None) -> np.ndarray:
    """Expanded matrices from base matrices.

    Parameters
    ----------
    B : array (..., S, S)
        Base one-period matrices (any leading batch shape, e.g. nodes).
    space : Space
    success : array (E,)
        Win-back success probability per state for this period.
    ret_state : array (E,), optional
        Return target per state (default ``space.ret_state``; see :func:`return_states`).

    Returns
    -------
    array (..., E, E)
    """
    E = space.size
    ret = space.ret_state if ret_state is None else ret_state
    out = np.zeros(B.shape[:-2] + (E, E))
    keep = 1.0 - success
    vals = B[..., space.base[space.pairs_src], space.pairs_base_dst] * keep[space.pairs_src]
    out[..., space.pairs_src, space.pairs_dst] = vals  # (src, dst) pairs are distinct
    rows = np.flatnonzero(ret >= 0)
    out[..., rows, ret[rows]] += success[rows]
    return out


def intercept_offers(model: CompiledModel, space: Space, M: np.ndarray, g: int, t: int,
                     draws: np.ndarray) -> np.ndarray:
    """Apply the save offers of period ``t`` to segment ``g``'s expanded matrices ``M`` (Q, E, E)
    (one per heterogeneity node, draw ``draws[q]``) in place; return the offer cost per node
    and starting state (Q, E).

    From an active state ``i`` the offer reaches, the churn mass ``m_i`` (moves into churned
    and lost states) is an attempt: it costs ``spend_t m_i``; a share ``p_g(t)`` of it goes
    to the save state (:attr:`Space.save_target`, or :attr:`Space.save_plain` when the
    concession is not granted to ``g``) and ``1 - p_g(t)`` of it leaves as before. A
    risk-targeted offer reaches the nodes whose draw exceeds its threshold only.
    """
    cost = np.zeros(M.shape[:-1])
    gone = np.isin(model.stage_kind[space.base], (CHURNED, LOST))
    G = model.n_segments
    for k, ic in enumerate(model.intercepts):
        rows = np.flatnonzero(ic.reach(G)[g, space.base] & (model.stage_kind[space.base] == ACTIVE))
        if not len(rows):
            continue
        hit = (np.asarray(draws, dtype=float) > ic.thresholds(G)[g]).astype(float)   # (Q,)
        p = float(ic.success(t, G)[g]) * hit
        dest = space.save_target[k] if ic.grants(G)[g] else space.save_plain[k]
        block = M[:, rows, :]
        mass = np.where(gone, block, 0.0).sum(axis=-1)           # (Q, rows)
        cost[:, rows] = float(ic.spend[t - 1]) * mass * hit[:, None]
        block[:, :, gone] *= (1.0 - p)[:, None, None]
        M[:, rows, :] = block
        M[:, rows, dest[rows]] += p[:, None] * mass
    return cost
