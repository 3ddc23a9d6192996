"""Intervals and paired tests for study tables (scipy.stats)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def mean_ci(
    values: Sequence[float], kind: str = "t", level: float = 0.95, seed: int = 0
) -> tuple[float, float | None, float | None]:
    """Mean and its two-sided ``level`` confidence interval.

    ``kind="t"``: Student's t interval; ``"bootstrap"``: BCa bootstrap (scipy, 9,999
    resamples, fixed seed). Fewer than two values, or no spread, give no interval
    (``None``) for t and a zero-width one for the bootstrap.
    """
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("mean_ci: no values")
    m = float(x.mean())
    if x.size < 2:
        return m, None, None
    if kind == "t":
        sem = float(stats.sem(x))
        if sem == 0.0:
            return m, m, m
        lo, hi = stats.t.interval(level, x.size - 1, loc=m, scale=sem)
        return m, float(lo), float(hi)
    if kind == "bootstrap":
        if np.all(x == x[0]):
            return m, m, m
        res = stats.bootstrap(
            (x,), np.mean, confidence_level=level, n_resamples=9999,
            method="BCa", random_state=np.random.default_rng(seed),
        )  # fmt: skip
        lo, hi = res.confidence_interval
        return m, float(lo), float(hi)
    raise ValueError(f"mean_ci: kind {kind!r}; allowed: t, bootstrap")


def paired_test(
    a: Sequence[float], b: Sequence[float], level: float = 0.95
) -> dict[str, float | int | None]:
    """``a - b`` paired: mean difference with its t interval, Wilcoxon signed-rank and paired t
    p-values (two-sided). All differences zero gives p = 1."""
    from scipy import stats

    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired_test: {x.size} vs {y.size} values")
    d = x - y
    diff, lo, hi = mean_ci(d, "t", level) if d.size else (math.nan, None, None)
    out: dict[str, float | int | None] = {
        "n": int(d.size), "diff": diff, "diff_lo": lo, "diff_hi": hi,
        "wilcoxon_p": None, "ttest_p": None,
    }  # fmt: skip
    if d.size < 2:
        return out
    if np.all(d == 0):
        out["wilcoxon_p"] = out["ttest_p"] = 1.0
        return out
    out["wilcoxon_p"] = float(stats.wilcoxon(d).pvalue)
    t = stats.ttest_rel(x, y).pvalue
    out["ttest_p"] = None if math.isnan(t) else float(t)
    return out


def adjust_bh(pvalues: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (scipy's ``false_discovery_control``) over the
    given comparisons; ``None`` entries (no test) stay ``None`` and do not count."""
    from scipy import stats

    idx = [i for i, p in enumerate(pvalues) if p is not None]
    out: list[float | None] = [None] * len(pvalues)
    if idx:
        q = stats.false_discovery_control([float(pvalues[i]) for i in idx], method="bh")
        for i, v in zip(idx, np.atleast_1d(q), strict=True):
            out[i] = float(v)
    return out
