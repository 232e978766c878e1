"""How the reports print numbers: rates as percentages, p-values at their resolution, n/a for what is missing."""

from __future__ import annotations


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def interval(lo_hi: list | None, digits: int = 3) -> str:
    return "n/a" if not lo_hi or lo_hi[0] is None else f"{lo_hi[0]:.{digits}f}-{lo_hi[1]:.{digits}f}"


def p_value(p: float | None, n: int | None) -> str:
    """A permutation p-value at its resolution: below 1/(B + 1) it is printed as such, never as 1e-112."""
    if p is None:
        return "n/a"
    if n is None and p < 0.001:  # an exact test: printed at its size, never as 0.000
        return f"{p:.2g}"
    if n and p <= 1 / (n + 1) + 1e-15:  # no relabelling reached the observed value
        return f"≤ 1/{n + 1}"
    return f"{p:.3g}"


def pct_range(lo_hi: list | tuple | None) -> str:
    """A rate's interval as percentages, '91.6-99.7%'; n/a where it was not computed."""
    return "n/a" if not lo_hi or lo_hi[0] is None else f"{100 * lo_hi[0]:.1f}-{100 * lo_hi[1]:.1f}%"


def of(k: int | None, n: int | None) -> str:
    """A count out of its total, '63 of 64'."""
    return f"{k} of {n}"


def odds(auc: float) -> str:
    """An AUC as a reader takes it: how often an attack ranks a training image above an unseen one."""
    return f"{pct(auc)} of the time, where guessing gives 50%"
