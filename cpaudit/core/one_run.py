"""An empirical epsilon lower bound from ONE training run (Steinke, Nasr & Jagielski, "Privacy Auditing with
One (1) Training Run", NeurIPS 2023, arXiv 2305.08846).

The auditor guesses "member" for some candidates, "held out" for others, and abstains on the rest. If the
training run is (epsilon, delta)-DP with respect to each candidate and every candidate was included by an
independent fair coin, the number of correct guesses W among r guesses satisfies (their Theorem 5.2)

    P[W >= v] <= P[Binomial(r, q) >= v] + 2 m delta max_i P[v > Binomial(r, q) >= v - i] / i,
    q = e^epsilon / (1 + e^epsilon),

for m candidates. The bound is the largest epsilon that this p-value rejects at level beta. It follows
the authors' published procedure (`p_value_DP_audit` / `get_eps_audit` in the paper's appendix; also
ubc-systopia/panoramia-privacy-measurement O1_Steinke_Code/o1_audit.py); the code here is our own.

The independent coins matter. With exactly k members among the m candidates (a fixed-size split, and every
fold of the audit, whose halves hold a set number of members and of held-out images) the proof's step "given
the others, candidate i is a member with probability 1/2" fails, and so can the statement: of m = 2
candidates with exactly one a member, an epsilon-DP mechanism can tell which with probability
1 - e^-epsilon / 2 (0.82 at epsilon 1), above q (0.73). What holds (`fixed_count=True`): where, given the
candidates and everything outside them, the members among them are a uniformly random k of the m (a split
cpaudit drew, of either design, then the audit's seeded uniform choice of candidates and of halves, which
depends on membership only through counts), that is the independent coins conditioned on their count being
k, so P[W >= v | k] <= P[W >= v] / P[Binomial(m, 1/2) = k]: the same test at level
beta * P[Binomial(m, 1/2) = k] (0.099 at 32 of 64). A split the user chose has no coins at all.

What it can reach is limited by the number of guesses: with every one of r guesses correct and delta = 0,
epsilon <= log(q / (1 - q)) with q^r = beta, 2.49 for r = 64 at beta = 0.05/8. At the audit's sizes (64
candidates a fold, beta = 0.025 over the 13-count grid, delta = 1e-5) the ceiling is 2.26, and 1.86 with
the fixed count's correction: `max_provable` gives it. That is the ceiling of this procedure at those sizes,
not a limit on any attack or on the model's epsilon: a perfect attack reaches it, and only more candidates
(or another procedure) could show more.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

SEARCH_STEPS = 24  # bisection steps: epsilon to about 6e-8 of its bracket


def p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """P[at least v of r guesses correct] under (epsilon, delta)-DP, m candidates (Theorem 5.2's bound)."""
    if not 0 <= v <= r <= m:
        raise ValueError(f"need 0 <= v <= r <= m, got v={v}, r={r}, m={m}")
    q = 1 / (1 + math.exp(-epsilon))  # the accuracy of epsilon-DP randomised response
    beta = float(sps.binom.sf(v - 1, r, q))
    if delta == 0 or v == 0:
        return min(beta, 1.0)
    pmf = sps.binom.pmf(v - np.arange(1, v + 1), r, q)  # P[W = v - i], i = 1..v
    alpha = float(np.max(np.cumsum(pmf) / np.arange(1, v + 1)))
    return min(beta + alpha * delta * 2 * m, 1.0)


@functools.lru_cache(maxsize=65536)  # pure; an audit asks the same (m, r, v) of many attacks
def epsilon_from_guesses(m: int, r: int, v: int, delta: float, beta: float) -> float:
    """The largest epsilon at which v correct of r guesses is rejected at level beta (0 if none is)."""
    if r == 0 or p_value(m, r, v, 0.0, delta) >= beta:
        return 0.0
    lo, hi = 0.0, 1.0
    while p_value(m, r, v, hi, delta) < beta:
        lo, hi = hi, 2 * hi
        if hi > 1e3:
            return math.inf
    for _ in range(SEARCH_STEPS):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if p_value(m, r, v, mid, delta) < beta else (lo, mid)
    return lo


@dataclass(frozen=True)
class OneRunBound:
    epsilon: float
    guesses: int  # r, of the best guess count on the grid
    correct: int  # v
    candidates: int  # m
    max_provable: float  # the bound if every guess on the grid were correct: the most these sizes can show
    delta: float
    beta: float  # level of each guess count (the family's level / grid size, times P[count] under fixed_count)


def guess_counts(m: int) -> list[tuple[int, int]]:
    """The pre-set grid of (guess "member" for the k_top highest, guess "held out" for the k_bottom lowest):
    top-only and symmetric guesses at 1, 2, 4, ... and all m candidates. Fixed before seeing any score."""
    sizes = sorted({min(2**i, m) for i in range(int(math.log2(max(m, 1))) + 1)} | {m})
    grid = [(r, 0) for r in sizes] + [(r // 2, r - r // 2) for r in sizes if r >= 2]
    return grid


def _guesses(pos: np.ndarray, neg: np.ndarray, k_top: int, k_bottom: int) -> tuple[int, int]:
    """(guesses, correct): "member" for scores strictly above the (k_top + 1)-th highest, "held out" for
    those strictly below the (k_bottom + 1)-th lowest. Ties at a cut are abstained on, never broken by
    which side an image came from."""
    s = np.concatenate([pos, neg])
    is_member = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
    order = np.sort(s)
    r = v = 0
    if k_top:
        top = s > order[-k_top - 1] if k_top < len(s) else np.ones(len(s), bool)
        r, v = r + int(top.sum()), v + int((top & is_member).sum())
    if k_bottom:
        bottom = s < order[k_bottom] if k_bottom < len(s) else np.ones(len(s), bool)
        if k_top:
            bottom &= ~top
        r, v = r + int(bottom.sum()), v + int((bottom & ~is_member).sum())
    return r, v


def count_probability(m: int, k: int) -> float:
    """P[Binomial(m, 1/2) = k]: how likely independent fair coins are to make exactly k of m candidates members,
    the price of conditioning Theorem 5.2 on that count (module docstring)."""
    return float(sps.binom.pmf(k, m, 0.5))


def one_run_bound(
    pos: np.ndarray, neg: np.ndarray, delta: float, beta: float, fixed_count: bool = False
) -> OneRunBound:
    """The one-run bound from out-of-fold scores (higher = member) of m = len(pos) + len(neg) candidates,
    at family level beta with a Bonferroni correction over the guess-count grid. fixed_count: the members
    among the candidates are a uniformly random len(pos) of them, not independent coins; each count is then
    tested at level * P[Binomial(m, 1/2) = len(pos)], which keeps the guarantee (module docstring)."""
    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    m = len(pos) + len(neg)
    grid = guess_counts(m)
    level = beta / len(grid) * (count_probability(m, len(pos)) if fixed_count else 1.0)
    best = (0.0, 0, 0)
    for k_top, k_bottom in grid:
        r, v = _guesses(pos, neg, k_top, k_bottom)
        eps = epsilon_from_guesses(m, int(r), int(v), delta, level)
        if eps > best[0]:
            best = (eps, r, v)
    ceiling = max(epsilon_from_guesses(m, k + b, k + b, delta, level) for k, b in grid)
    return OneRunBound(best[0], best[1], best[2], m, ceiling, delta, level)


def one_run_delta(n_members: int) -> float:
    """delta well below 1/n: publishing one random member verbatim is already (0, 1/n)-DP."""
    return min(1e-5, 0.01 / max(n_members, 1))
