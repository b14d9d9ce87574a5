"""The statistics the reports rely on: intervals for a proportion and an NPS, and the tests that
say whether a change between two surveys is more than chance (scipy does the distributions)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as _scipy

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (as fractions)."""
    if n == 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def nps_variance(promoters: int, detractors: int, n: int) -> float:
    """Variance of one answer's score (+1 promoter, −1 detractor, 0 passive): p+ + p− − (p+ − p−)²."""
    pp, pm = promoters / n, detractors / n
    return max(0.0, pp + pm - (pp - pm) ** 2)


def nps_margin(promoters: int, detractors: int, n: int, z: float = Z95) -> float | None:
    """95 % margin of the NPS in points: z·√((p+ + p− − (p+ − p−)²)/n)·100."""
    if n == 0:
        return None
    return z * math.sqrt(nps_variance(promoters, detractors, n) / n) * 100


@dataclass(frozen=True)
class Change:
    """A difference between two surveys and whether it is more than chance (two-sided, 5 %)."""

    before: float
    after: float
    difference: float
    p_value: float
    test: str

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


def mean_change(before: list[float], after: list[float]) -> Change | None:
    """Welch's t-test on two sets of scores (unequal variances)."""
    if len(before) < 2 or len(after) < 2:
        return None
    result = _scipy.ttest_ind(after, before, equal_var=False)
    a, b = float(sum(after) / len(after)), float(sum(before) / len(before))
    p = float(result.pvalue) if not math.isnan(result.pvalue) else (1.0 if a == b else 0.0)
    return Change(b, a, a - b, p, "Welch t")


def proportion_change(successes_before: int, n_before: int, successes_after: int, n_after: int) -> Change | None:
    """Two-proportion z-test (pooled), the proportions in percent."""
    if not n_before or not n_after:
        return None
    p1, p2 = successes_before / n_before, successes_after / n_after
    pooled = (successes_before + successes_after) / (n_before + n_after)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_before + 1 / n_after))
    p = 1.0 if se == 0 else float(2 * _scipy.norm.sf(abs(p2 - p1) / se))
    return Change(100 * p1, 100 * p2, 100 * (p2 - p1), p, "two-proportion z")


def nps_change(before: tuple[int, int, int], after: tuple[int, int, int]) -> Change | None:
    """z-test on the difference of two NPS, each (promoters, detractors, n)."""
    (pb, db, nb), (pa, da, na) = before, after
    if not nb or not na:
        return None
    score_b, score_a = (pb - db) / nb, (pa - da) / na
    se = math.sqrt(nps_variance(pb, db, nb) / nb + nps_variance(pa, da, na) / na)
    p = 1.0 if se == 0 else float(2 * _scipy.norm.sf(abs(score_a - score_b) / se))
    return Change(100 * score_b, 100 * score_a, 100 * (score_a - score_b), p, "z (NPS)")
