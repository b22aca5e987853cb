"""Experiment read-outs: :func:`experiment_results` (a frame in) and :func:`read_experiment`.

As GrowthBook's gbstats does: the events are shaped into sufficient statistics per arm
(:mod:`kameleoon_pandas.frames.experiments`, pure and vectorised), then each variation is
compared with the reference variation using scipy and statsmodels, and one tidy table comes
out (the ``EXPERIMENT_RESULTS`` schema). scipy and statsmodels are imported on first use, so
``import kameleoon_pandas`` stays light.

The statistics, per (experiment, goal) and variation ``b`` against the reference ``a``:

``metric="conversion_rate"`` (the default)
    ``uplift = (p_b - p_a) / p_a`` with ``p = converted / visitors``. ``p_value``: the pooled
    two-proportion z-test (statsmodels ``test_proportions_2indep``, ``compare="diff"``,
    ``method="score"``, ``correction=False``: at a zero difference the score test is the
    textbook pooled z-test). ``ci_low, ci_high``: the score interval of the ratio
    ``p_b / p_a`` (``confint_proportions_2indep``, ``compare="ratio"``, ``method="score"``,
    ``correction=False``) minus 1, so it excludes 0 exactly when ``p_value < alpha``.
    ``chance_to_beat_reference = P(p_b > p_a)`` and ``expected_loss = E[max(p_a - p_b, 0)]``
    (in rate units) under independent Beta(1 + converted, 1 + visitors - converted)
    posteriors (a Beta(1, 1) prior), in closed form (Evan Miller's sum for ``P(X > Y)`` of
    two Betas with an integer parameter; the loss from the same sum, since
    ``E[X 1{X > Y}] = E[X] P(X' > Y)`` with ``X' ~ Beta(a + 1, b)``): exact, no sampling.

``metric="revenue_per_visitor"``
    ``uplift`` of the mean revenue per exposed visitor (non-converted visitors count 0).
    ``p_value``: Welch's t-test from the per-arm mean, standard deviation and count (scipy
    ``ttest_ind_from_stats``, ``equal_var=False``). ``ci_low, ci_high``: Fieller's interval
    of the ratio of means with Welch-Satterthwaite degrees of freedom, minus 1 (neither
    library has it; it inverts the same t statistic, so it excludes 0 exactly when
    ``p_value < alpha``; missing when unbounded, i.e. the reference's mean is not clearly
    above 0).
    ``chance_to_beat_reference`` and ``expected_loss`` (in revenue units): the normal
    approximation of each mean's posterior (flat prior), in closed form.

``srm_p_value``: scipy's chi-square test of the visitors per variation against the intended
split (equal, or ``weights=``); below 0.001 a :class:`~kameleoon_pandas.KameleoonWarning` says
so. ``correction=`` adjusts ``p_value`` over the comparisons of each experiment (every
non-reference variation and goal) with statsmodels ``multipletests``; intervals stay
unadjusted.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from ._docs import shared_doc
from ._exceptions import KameleoonWarning, ValidationError
from .frames.backends import Backend, DtypeBackend, Frame, check_backend, frame_backend, to_backend
from .frames.backends import to_pandas as _to_pandas
from .frames.experiments import (
    CONVERSION_COLUMNS,
    EXPERIMENT_RESULTS,
    EXPOSURE_COLUMNS,
    FEED_COLUMNS,
    arm_statistics,
    converted_goals,
    exposed_experiments,
    feed_conversions,
    feed_exposures,
    require_columns,
)
from .frames.schemas import conform

if TYPE_CHECKING:
    from .client import Client

__all__ = [
    "CORRECTIONS",
    "METRICS",
    "SRM_THRESHOLD",
    "beta_comparison",
    "experiment_results",
    "read_experiment",
]

#: The metrics the comparison can be about.
METRICS: Final = ("conversion_rate", "revenue_per_visitor")
#: The ``correction=`` methods (statsmodels ``multipletests`` names).
CORRECTIONS: Final = ("holm", "bonferroni", "holm-sidak", "sidak", "fdr_bh", "fdr_by", "hommel")
#: Below this sample-ratio-mismatch p-value, a KameleoonWarning.
SRM_THRESHOLD: Final = 0.001

#: The options of experiment_results that read_experiment passes through.
_OPTIONS: Final = ("metric", "weights", "correction")

Ids = int | Iterable[int] | None


# -- argument checks ---------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _id_list(value: Ids, name: str) -> list[int] | None:
    """``None``, an int or an iterable of ints -> a de-duplicated list (order kept)."""
    if value is None:
        return None
    items = [value] if _is_int(value) else value
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise ValidationError(f"{name} must be an integer id or a list of them, got {value!r}")
    out: list[Any] = list(items)
    bad = [v for v in out if not _is_int(v)]
    if bad:
        raise ValidationError(f"{name} must hold integer ids, got {bad[0]!r}")
    if not out:
        raise ValidationError(f"{name} is empty: pass an id, a list of ids, or None for all")
    return list(dict.fromkeys(int(v) for v in out))


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise ValidationError(f"alpha must be a number between 0 and 1, got {alpha!r}")
    value = float(alpha)
    if not 0.0 < value < 1.0:
        raise ValidationError(f"alpha must be between 0 and 1 (exclusive), got {alpha!r}")
    return value


def _inputs(
    feed: pd.DataFrame | None, exposures: pd.DataFrame | None, conversions: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(exposures, conversions, what the input is called in messages); polars and pyarrow frames
    are read into pandas first."""
    feed = None if feed is None else _to_pandas(feed, "feed")
    exposures = None if exposures is None else _to_pandas(exposures, "exposures")
    conversions = None if conversions is None else _to_pandas(conversions, "conversions")
    if feed is not None:
        if exposures is not None or conversions is not None:
            raise ValidationError("pass either feed or exposures= and conversions=, not both")
        require_columns(feed, FEED_COLUMNS, "feed")
        return feed_exposures(feed), feed_conversions(feed), "the feed"
    if exposures is None or conversions is None:
        raise ValidationError(
            "pass a visitor feed, or both exposures= (visitor_code, experiment_id, "
            "variation_id, time) and conversions= (visitor_code, goal_id, revenue, time; "
            "an empty frame with these columns when nobody converted)"
        )
    require_columns(exposures, EXPOSURE_COLUMNS, "exposures")
    require_columns(conversions, CONVERSION_COLUMNS, "conversions")
    return exposures, conversions, "exposures"


def _split(
    weights: Mapping[Any, Any] | None, experiment: int, observed: list[int]
) -> dict[int, float]:
    """The intended split of ``experiment``: variation -> share (summing to 1)."""
    if weights is None:
        return {v: 1.0 / len(observed) for v in observed}
    if not isinstance(weights, Mapping):
        raise ValidationError(f"weights must be a mapping variation_id -> weight, got {weights!r}")
    table: Any = weights
    if weights and all(isinstance(w, Mapping) for w in weights.values()):
        if experiment not in weights:
            raise ValidationError(f"weights has no split for experiment {experiment}")
        table = weights[experiment]
    split: dict[int, float] = {}
    for variation, weight in table.items():
        if not _is_int(variation):
            raise ValidationError(f"weights: variation ids must be integers, got {variation!r}")
        ok = isinstance(weight, numbers.Real) and not isinstance(weight, bool)
        if not ok or not math.isfinite(float(weight)) or float(weight) <= 0:
            raise ValidationError(
                f"weights: the weight of variation {variation} must be a positive number, "
                f"got {weight!r}"
            )
        split[int(variation)] = float(weight)
    unknown = [v for v in observed if v not in split]
    if unknown:
        raise ValidationError(
            f"weights has no weight for variation(s) {unknown} of experiment {experiment} "
            f"(weights: {sorted(split)}); with several experiments pass "
            "{experiment_id: {variation_id: weight}}"
        )
    total = sum(split.values())
    return {v: w / total for v, w in sorted(split.items())}


def _reference(reference: Any, experiment: int, variations: list[int]) -> int:
    chosen = reference
    if isinstance(reference, Mapping):
        if experiment not in reference:
            raise ValidationError(f"reference has no variation for experiment {experiment}")
        chosen = reference[experiment]
    if chosen is None:
        return variations[0]
    if not _is_int(chosen):
        raise ValidationError(f"reference must be a variation id, got {chosen!r}")
    if int(chosen) not in variations:
        raise ValidationError(
            f"unknown reference variation {chosen} for experiment {experiment}: "
            f"its exposed variations are {variations}"
        )
    return int(chosen)


# -- the statistics ----------------------------------------------------------------------------


def _prob_greater(a_x: float, b_x: float, a_y: float, b_y: float) -> float:
    """``P(X > Y)`` for independent ``X ~ Beta(a_x, b_x)``, ``Y ~ Beta(a_y, b_y)``.

    Evan Miller's closed form needs an integer first parameter on the summed side; it sums
    over the smaller one (``P(X > Y) = 1 - P(Y > X)``), in log space.
    """
    from scipy.special import betaln, logsumexp

    if a_x > a_y:
        return 1.0 - _prob_greater(a_y, b_y, a_x, b_x)
    i = np.arange(int(a_x), dtype=np.float64)
    terms = betaln(a_y + i, b_x + b_y) - np.log(b_x + i) - betaln(1.0 + i, b_x) - betaln(a_y, b_y)
    return float(min(max(math.exp(float(logsumexp(terms))), 0.0), 1.0))


def beta_comparison(
    converted_b: int, visitors_b: int, converted_a: int, visitors_a: int
) -> tuple[float, float]:
    """``(P(p_b > p_a), E[max(p_a - p_b, 0)])`` under Beta(1, 1)-prior posteriors, exact.

    Parameters
    ----------
    converted_b, visitors_b : int
        The variation's conversions and visitors.
    converted_a, visitors_a : int
        The reference's.

    Returns
    -------
    tuple of float
        The chance that the variation's rate beats the reference's, and the expected loss
        (in rate units) of choosing the variation.

    Examples
    --------
    >>> chance, loss = beta_comparison(120, 1000, 100, 1000)
    >>> round(chance, 3)
    0.923
    """
    a_b, b_b = 1.0 + converted_b, 1.0 + visitors_b - converted_b
    a_a, b_a = 1.0 + converted_a, 1.0 + visitors_a - converted_a
    chance = _prob_greater(a_b, b_b, a_a, b_a)
    # E[max(A - B, 0)] = E[A 1{A > B}] - E[B 1{A > B}] = m_A P(A' > B) - m_B P(A > B')
    mean_a, mean_b = a_a / (a_a + b_a), a_b / (a_b + b_b)
    loss = mean_a * _prob_greater(a_a + 1.0, b_a, a_b, b_b) - mean_b * (
        1.0 - _prob_greater(a_b + 1.0, b_b, a_a, b_a)
    )
    return chance, max(loss, 0.0)


def _normal_comparison(diff: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(P(D > 0), E[max(-D, 0)])`` for ``D ~ N(diff, se**2)``, elementwise."""
    from scipy.stats import norm

    with np.errstate(all="ignore"):
        z = diff / se
        loss = se * norm.pdf(z) - diff * norm.cdf(-z)
        chance = np.asarray(norm.cdf(z), dtype=np.float64)
    # No spread at all: the difference is known exactly.
    certain = se == 0.0
    chance = np.where(certain, np.where(diff == 0, 0.5, (diff > 0).astype(np.float64)), chance)
    loss = np.where(certain, -diff, loss)
    return chance, np.where(loss > 0.0, loss, 0.0)  # as max(0, loss): a NaN loss counts 0


def _finite(value: complex | float) -> float:
    """A real, finite float or NaN (statsmodels' root finder can answer a complex number)."""
    number = complex(value)
    if abs(number.imag) > 1e-9 * max(1.0, abs(number.real)) or not math.isfinite(number.real):
        return math.nan
    return number.real


def _rate_comparisons(
    cb: np.ndarray, nb: np.ndarray, ca: np.ndarray, na: np.ndarray, alpha: float
) -> dict[str, np.ndarray]:
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        test_proportions_2indep,
    )

    n = len(cb)
    pa, pb = ca / na, cb / nb
    out = {k: np.full(n, np.nan) for k in ("uplift", "ci_low", "ci_high", "p_value")}
    out["chance"], out["loss"] = np.empty(n), np.empty(n)
    pooled = (ca + cb) / (na + nb)
    testable = (pooled > 0) & (pooled < 1)
    if testable.any():
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = test_proportions_2indep(
                cb[testable],
                nb[testable],
                ca[testable],
                na[testable],
                compare="diff",
                method="score",
                correction=False,
            )
        out["p_value"][testable] = np.asarray(result.pvalue, dtype=np.float64)
    # statsmodels inverts the score test of the ratio with a scalar root finder and the Beta
    # sum has a length per row: one call per comparison (about 1 ms), never per visitor.
    for i in range(n):
        if ca[i] > 0:
            out["uplift"][i] = pb[i] / pa[i] - 1.0
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                low, high = confint_proportions_2indep(
                    int(cb[i]),
                    int(nb[i]),
                    int(ca[i]),
                    int(na[i]),
                    compare="ratio",
                    method="score",
                    alpha=alpha,
                    correction=False,
                )
            out["ci_low"][i] = max(_finite(low), 0.0) - 1.0
            out["ci_high"][i] = _finite(high) - 1.0
        chance, loss = beta_comparison(int(cb[i]), int(nb[i]), int(ca[i]), int(na[i]))
        out["chance"][i], out["loss"][i] = chance, loss
    return out


def _mean_and_sd(total: np.ndarray, squares: np.ndarray, n: np.ndarray) -> tuple[Any, Any]:
    mean = total / n
    with np.errstate(all="ignore"):
        var = np.where(n > 1, (squares - n * mean * mean) / (n - 1), np.nan)
    return mean, np.sqrt(np.clip(var, 0.0, None))


def _revenue_comparisons(
    rb: np.ndarray,
    sb: np.ndarray,
    nb: np.ndarray,
    ra: np.ndarray,
    sa: np.ndarray,
    na: np.ndarray,
    alpha: float,
) -> dict[str, np.ndarray]:
    """Welch's test, Fieller's interval and the normal posteriors, for all rows at once."""
    from scipy.stats import ttest_ind_from_stats

    n = len(rb)
    mb, sdb = _mean_and_sd(rb, sb, nb)
    ma, sda = _mean_and_sd(ra, sa, na)
    out = {k: np.full(n, np.nan) for k in ("uplift", "ci_low", "ci_high", "p_value")}
    with np.errstate(all="ignore"):
        # squared standard errors; 0 for an arm of a single visitor (no standard deviation)
        vb = np.where(np.isfinite(sdb), sdb**2 / nb, 0.0)
        va = np.where(np.isfinite(sda), sda**2 / na, 0.0)
    defined = np.isfinite(sdb) & np.isfinite(sda) & ((va + vb) > 0)
    if defined.any():
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            test = ttest_ind_from_stats(
                mb[defined],
                sdb[defined],
                nb[defined],
                ma[defined],
                sda[defined],
                na[defined],
                equal_var=False,
            )
        out["p_value"][defined] = np.asarray(test.pvalue, dtype=np.float64)
    positive = ma > 0
    out["uplift"][positive] = mb[positive] / ma[positive] - 1.0
    bounded = positive & defined
    if bounded.any():
        low, high = _fieller(
            mb[bounded], vb[bounded], nb[bounded], ma[bounded], va[bounded], na[bounded], alpha
        )
        out["ci_low"][bounded], out["ci_high"][bounded] = low - 1.0, high - 1.0
    out["chance"], out["loss"] = _normal_comparison(mb - ma, np.sqrt(va + vb))
    return out


def _fieller(
    mb: np.ndarray,
    vb: np.ndarray,
    nb: np.ndarray,
    ma: np.ndarray,
    va: np.ndarray,
    na: np.ndarray,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Fieller's interval of ``m_b / m_a`` (independent means, squared standard errors
    ``vb``, ``va``) with Welch-Satterthwaite degrees of freedom; NaNs where it is unbounded.

    The ratios ``R`` with ``(m_b - R m_a)**2 <= q**2 (vb + R**2 va)``: at ``R = 1`` that is
    Welch's test, so the interval holds 1 exactly when Welch's test does not reject.
    """
    from scipy.stats import t as student_t

    with np.errstate(all="ignore"):
        # an arm without spread adds nothing to the degrees of freedom (and may have n = 1)
        spread_a = np.where(va != 0, va**2 / (na - 1), 0.0)
        spread_b = np.where(vb != 0, vb**2 / (nb - 1), 0.0)
        df = (va + vb) ** 2 / (spread_a + spread_b)
        q2 = np.asarray(student_t.ppf(1.0 - alpha / 2.0, df), dtype=np.float64) ** 2
        a = ma * ma - q2 * va
        # a <= 0: the reference's mean is not clearly above 0, the set is unbounded
        root = np.sqrt(np.where(a > 0, q2 * (va * mb * mb + vb * a), np.nan))
        a = np.where(a > 0, a, np.nan)
        return (ma * mb - root) / a, (ma * mb + root) / a


def _srm_p_values(observed: list[dict[int, int]], splits: list[dict[int, float]]) -> np.ndarray:
    """The SRM p-value of each experiment: Pearson's chi-square of its visitors per variation
    against ``counts.sum() * split``, as scipy's ``chisquare`` computes it, with one
    ``chi2.sf`` call for all experiments (``chisquare`` costs milliseconds a call)."""
    from scipy.stats import chi2

    stats = np.empty(len(splits))
    dof = np.empty(len(splits))
    for i, (seen, split) in enumerate(zip(observed, splits, strict=True)):
        counts = np.array([seen.get(v, 0) for v in split], dtype=np.float64)
        expected = counts.sum() * np.array(list(split.values()), dtype=np.float64)
        stats[i] = ((counts - expected) ** 2 / expected).sum()
        dof[i] = len(counts) - 1
    return np.asarray(chi2.sf(stats, dof), dtype=np.float64)


# -- the read-out ------------------------------------------------------------------------------


def _read_out(
    feed: pd.DataFrame | None,
    *,
    experiment_id: Ids,
    goal_id: Ids,
    reference: Any,
    alpha: float,
    metric: str,
    weights: Mapping[Any, Any] | None,
    correction: str | None,
    exposures: pd.DataFrame | None,
    conversions: pd.DataFrame | None,
) -> tuple[pd.DataFrame, list[str]]:
    """The results frame and the sample-ratio-mismatch messages (warned by the caller)."""
    alpha = _check_alpha(alpha)
    if metric not in METRICS:
        raise ValidationError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    if correction is not None and correction not in CORRECTIONS:
        raise ValidationError(
            f"correction must be None or one of {list(CORRECTIONS)}, got {correction!r}"
        )
    experiments = _id_list(experiment_id, "experiment_id")
    goals = _id_list(goal_id, "goal_id")
    ex, cv, source = _inputs(feed, exposures, conversions)

    exposed = exposed_experiments(ex)
    if experiments is None:
        if not exposed:
            raise ValidationError(
                f"no exposures in {source}: no experiment event with an experiment_id, a "
                "variation_id and a time"
            )
        experiments = exposed
    missing = [e for e in experiments if e not in exposed]
    if missing:
        raise ValidationError(
            f"no exposures to experiment(s) {missing} in {source} (experiment events with a "
            f"variation_id and a time); experiments with exposures: {exposed}"
        )
    if goals is None:
        goals = converted_goals(cv)
        if not goals:
            raise ValidationError(
                f"no conversions in {source} to take the goals from: pass goal_id= (rows with "
                "zeros for a goal nobody converted on)"
            )
    arms = arm_statistics(ex, cv, experiment_ids=experiments, goal_ids=goals)

    done = set(int(e) for e in arms["experiment_id"].unique())
    lost = [e for e in experiments if e not in done]
    if lost:
        raise ValidationError(
            f"experiment(s) {lost}: every exposed visitor saw more than one variation and was "
            "left out (excluded_visitors): nothing to compare"
        )
    # One group per (site, experiment), numbered in order of first appearance.
    group = (
        arms.groupby(["site_code", "experiment_id"], dropna=False, sort=False)
        .ngroup()
        .to_numpy(dtype=np.int64)
    )
    order = np.argsort(group, kind="stable")  # the rows of each group together, in order
    arms = arms.iloc[order].reset_index(drop=True)
    group = group[order]
    names, observed = _observed(arms, group)
    refs, splits = [], []
    for experiment, seen in zip(names, observed, strict=True):
        variations = sorted(seen)
        if len(variations) < 2:
            raise ValidationError(
                f"experiment {experiment} has a single variation ({variations[0]}) among its "
                "exposed visitors: nothing to compare"
            )
        refs.append(_reference(reference, experiment, variations))
        splits.append(_split(weights, experiment, variations))
    srm = _srm_p_values(observed, splits)
    messages = [
        f"experiment {experiment}: sample ratio mismatch (SRM p-value {p:.2g} < "
        f"{SRM_THRESHOLD}): visitors per variation {seen} against the intended "
        f"split { {v: round(s, 4) for v, s in split.items()} }; the assignment or the "
        "tracking may be broken, read the results with care"
        for experiment, seen, split, p in zip(names, observed, splits, srm, strict=True)
        if p < SRM_THRESHOLD
    ]
    out = _compare(arms, group, np.asarray(refs, dtype=np.int64), alpha, metric, correction)
    out["srm_p_value"] = srm[group]
    frame = conform(out[list(EXPERIMENT_RESULTS)], EXPERIMENT_RESULTS)
    frame.attrs.update({"metric": metric, "alpha": alpha})
    return frame, messages


def _observed(arms: pd.DataFrame, group: np.ndarray) -> tuple[list[int], list[dict[int, int]]]:
    """Each group's experiment id and visitors per variation (in the order of the rows)."""
    experiment_ids = arms["experiment_id"].to_numpy(dtype=np.int64)
    variation_ids = arms["variation_id"].to_numpy(dtype=np.int64)
    visitors = arms["visitors"].to_numpy(dtype=np.int64)
    names: list[int] = []
    observed: list[dict[int, int]] = []
    for g, experiment, variation, n in zip(
        group.tolist(),
        experiment_ids.tolist(),
        variation_ids.tolist(),
        visitors.tolist(),
        strict=True,
    ):
        if g == len(names):
            names.append(experiment)
            observed.append({})
        observed[g].setdefault(variation, n)  # the visitors of a variation are per goal alike
    return names, observed


def _compare(
    arms: pd.DataFrame,
    group: np.ndarray,
    refs: np.ndarray,
    alpha: float,
    metric: str,
    correction: str | None,
) -> pd.DataFrame:
    """Every row's arm statistics and each variation against its group's reference ``refs``,
    all groups at once (``group``: the row's (site, experiment) number)."""
    out = arms.copy()
    visitors = out["visitors"].to_numpy(dtype=np.float64)
    converted = out["converted"].to_numpy(dtype=np.float64)
    revenue = out["revenue"].to_numpy(dtype=np.float64)
    squares = out["revenue_squares"].to_numpy(dtype=np.float64)
    out["conversion_rate"] = converted / visitors
    out["revenue_per_visitor"] = revenue / visitors
    is_ref = out["variation_id"].to_numpy(dtype=np.int64) == refs[group]
    # The reference's row of each (group, goal), aligned with every row.
    goals = out["goal_id"].to_numpy(dtype=np.int64)
    ref_keys = pd.MultiIndex.from_arrays([group[is_ref], goals[is_ref]])
    at = np.flatnonzero(is_ref)[ref_keys.get_indexer(pd.MultiIndex.from_arrays([group, goals]))]
    rows = np.flatnonzero(~is_ref)
    ref_rows = at[rows]
    if metric == "conversion_rate":
        stats = _rate_comparisons(
            converted[rows], visitors[rows], converted[ref_rows], visitors[ref_rows], alpha
        )
    else:
        stats = _revenue_comparisons(
            revenue[rows],
            squares[rows],
            visitors[rows],
            revenue[ref_rows],
            squares[ref_rows],
            visitors[ref_rows],
            alpha,
        )
    if correction is not None:
        stats["p_value"] = _adjusted(stats["p_value"], group[rows], alpha, correction)
    names = {"chance": "chance_to_beat_reference", "loss": "expected_loss"}
    for key, values in stats.items():
        column = np.full(len(out), np.nan)
        column[rows] = values
        out[names.get(key, key)] = column
    return out


def _adjusted(p: np.ndarray, group: np.ndarray, alpha: float, correction: str) -> np.ndarray:
    """``p`` adjusted with ``multipletests`` within each group (its defined p-values only)."""
    from statsmodels.stats.multitest import multipletests

    out = p.copy()
    known = np.isfinite(p)
    for g in np.unique(group[known]):
        mine = known & (group == g)
        if correction == "holm":
            out[mine] = _holm(p[mine])
        else:
            out[mine] = multipletests(p[mine], alpha=alpha, method=correction)[1]
    return out


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment: ``multipletests(p, method="holm")[1]``, the same floats.

    Not statsmodels' own because its holm branch runs ``gc.collect()`` on every call: a full
    collection, 0.1 s and more in a session that holds large frames, once per experiment.
    """
    order = np.argsort(p)
    adjusted = np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1))
    out = np.empty_like(adjusted)
    out[order] = np.minimum(adjusted, 1.0)
    return out


@shared_doc
def experiment_results(
    feed: pd.DataFrame | Frame | None = None,
    *,
    experiment_id: Ids = None,
    goal_id: Ids = None,
    reference: int | Mapping[int, int] | None = None,
    alpha: float = 0.05,
    metric: str = "conversion_rate",
    weights: Mapping[Any, Any] | None = None,
    correction: str | None = None,
    exposures: pd.DataFrame | Frame | None = None,
    conversions: pd.DataFrame | Frame | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    backend: Backend | None = None,
) -> pd.DataFrame | Frame:
    """The read-out of experiments: each variation against the reference, per goal.

    Counting (precisely in :mod:`kameleoon_pandas.frames.experiments`): a visitor is exposed
    to an experiment by an ``experiment`` event of it; one exposed to several of its
    variations is left out and counted in ``excluded_visitors``. A visitor converted on a goal
    when their conversions on it at or after their first exposure net to at least one, where
    a ``negative=True`` conversion cancels one (-1 and its revenue subtracted); a converted
    visitor's revenue is that net revenue, any other's 0. Events without a time are left out.
    The statistics are in the module docstring: the pooled two-proportion z-test and the
    score interval of the rate ratio (statsmodels), or Welch's t-test and Fieller's interval
    for revenue per visitor (scipy); the chance to beat the reference and the expected loss
    in closed form from Beta(1, 1)-prior posteriors (no Monte Carlo); the SRM chi-square
    test (scipy).

    Parameters
    ----------
    feed : DataFrame, optional
        A :func:`~kameleoon_pandas.read_visitor_feeds` frame (pandas, polars or pyarrow; any
        backend of it) with the ``experiment`` and
        ``conversion`` events: ``visitor_code, kind, time, experiment_id, variation_id,
        goal_id, revenue`` (``site_code`` and ``negative`` are read when present). ``None``
        when ``exposures`` and ``conversions`` are given instead.
    experiment_id : int or list of int, optional
        The experiments to read out; ``None`` (the default): every experiment exposed in the
        input.
    goal_id : int or list of int, optional
        The goals; a goal nobody converted on gives rows with zero conversions. ``None`` (the
        default): every goal that has a conversion in the input.
    reference : int or dict, optional
        The reference variation id, or ``{experiment_id: variation_id}``; ``None`` (the
        default): each experiment's lowest exposed variation id.
    alpha : float, default 0.05
        The intervals have confidence level ``1 - alpha``; also the family level of
        ``correction``.
    metric : {"conversion_rate", "revenue_per_visitor"}, default "conversion_rate"
        What ``uplift``, ``ci_low``, ``ci_high``, ``p_value``, ``chance_to_beat_reference``
        and ``expected_loss`` compare: the conversion rate (two-proportion tests, Beta
        posteriors) or the revenue per exposed visitor (Welch's t-test, normal posteriors).
        The counts and rates of both are in every row either way.
    weights : dict, optional
        The intended split for the sample ratio mismatch test, ``{variation_id: weight}``
        (the same for every experiment; a variation listed but never exposed counts as zero
        visitors) or ``{experiment_id: {variation_id: weight}}``. ``None`` (the default): an
        equal split over the exposed variations.
    correction : str, optional
        Adjust ``p_value`` for multiple comparisons over each experiment's comparisons (every
        non-reference variation and goal) with statsmodels ``multipletests``: ``"holm"``,
        ``"bonferroni"``, ``"holm-sidak"``, ``"sidak"``, ``"fdr_bh"``, ``"fdr_by"`` or
        ``"hommel"`` (``"holm"`` is computed in numpy, to the same floats). ``None`` (the
        default): unadjusted. Intervals are never adjusted.
    exposures : DataFrame, optional
        Instead of ``feed``, a warehouse export of exposures: ``visitor_code, experiment_id,
        variation_id, time`` (``site_code`` optional). Naive times are read as UTC.
    conversions : DataFrame, optional
        With ``exposures``: ``visitor_code, goal_id, revenue, time`` (``site_code`` and
        ``negative`` optional); an empty frame with these columns when nobody converted.
        ``exposures`` and ``conversions`` may be polars DataFrames or pyarrow Tables too.
    {dtype_backend}
    backend : {"pandas", "polars", "pyarrow"}, optional
        What to return: a ``pandas.DataFrame``, a ``polars.DataFrame`` or a ``pyarrow.Table``
        (the same columns, typed from the same schema; a Table carries ``metric`` and
        ``alpha`` in its schema metadata). ``None`` (the default): the kind of the input
        (``feed``, else ``exposures``).

    Returns
    -------
    pandas.DataFrame, polars.DataFrame or pyarrow.Table
        The ``EXPERIMENT_RESULTS`` schema, one row per (experiment, variation, goal), sorted
        by site code, experiment, goal and variation: ``site_code, experiment_id,
        variation_id, goal_id`` (``Int64``; ``site_code`` string, missing when the input has
        none), ``visitors, converted`` (``Int64``), ``conversion_rate, revenue,
        revenue_per_visitor``, ``uplift`` (relative: 0.1 is +10 %), ``ci_low, ci_high``,
        ``p_value``, ``chance_to_beat_reference``, ``expected_loss`` (float64; missing on
        the reference's rows; ``uplift`` and the interval also where the reference's rate or
        mean is 0, the interval where statsmodels finds none (e.g. everyone in the reference
        converted), ``p_value`` where the test is undefined (e.g. nobody converted in either
        arm)), ``srm_p_value`` (per experiment) and ``excluded_visitors`` (per experiment).
        ``attrs`` holds ``metric`` and ``alpha``.

    Raises
    ------
    ValidationError
        An input that is no DataFrame, missing columns (named), both or neither of ``feed``
        and ``exposures``/``conversions``; an experiment with no exposures, or a single
        exposed variation; an unknown reference variation; no conversions at all and no
        ``goal_id``; a bad ``alpha``, ``metric``, ``weights``, ``correction``, ``backend`` or
        ``dtype_backend``.

    Warns
    -----
    KameleoonWarning
        When an experiment's SRM p-value is below 0.001 (visitors per variation far from the
        intended split).

    See Also
    --------
    read_experiment : Load the feeds and read out one experiment.
    kameleoon_pandas.plots.plot_experiment : The uplifts and their intervals.

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> feed = kp.read_visitor_feeds(codes, kinds=["experiment", "conversion"])  # doctest: +SKIP
    >>> kp.experiment_results(feed, experiment_id=4242, goal_id=[17, 18])  # doctest: +SKIP

    From a warehouse export, revenue per visitor, Holm-adjusted over the goals:

    >>> kp.experiment_results(  # doctest: +SKIP
    ...     exposures=exposures, conversions=orders, metric="revenue_per_visitor",
    ...     correction="holm",
    ... )
    """
    if backend is None:
        given = feed if feed is not None else exposures
        backend = frame_backend(given) if given is not None else "pandas"
    check_backend(backend, dtype_backend)
    frame, messages = _read_out(
        feed,
        experiment_id=experiment_id,
        goal_id=goal_id,
        reference=reference,
        alpha=alpha,
        metric=metric,
        weights=weights,
        correction=correction,
        exposures=exposures,
        conversions=conversions,
    )
    for message in messages:
        warnings.warn(message, KameleoonWarning, stacklevel=2)
    return _results_as(frame, backend, dtype_backend)


def _results_as(frame: pd.DataFrame, backend: Backend, dtype_backend: DtypeBackend) -> Frame:
    """The results as ``backend`` asks; a pyarrow Table keeps ``attrs`` as schema metadata."""
    out = to_backend(frame, backend=backend, dtype_backend=dtype_backend)
    if backend == "pyarrow":
        notes = {key: str(value) for key, value in frame.attrs.items()}
        out = out.replace_schema_metadata({**(out.schema.metadata or {}), **notes})
    return out


@shared_doc
def read_experiment(
    visitor_codes: Iterable[str],
    experiment_id: int,
    *,
    goal_id: Ids = None,
    reference: int | None = None,
    alpha: float = 0.05,
    client: Client | None = None,
    site_code: str | None = None,
    progress: bool | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    backend: Backend = "pandas",
    **options: Any,
) -> pd.DataFrame | Frame:
    """Load the visitors' feeds and read out one experiment (:func:`experiment_results`).

    Reads the ``experiment`` and ``conversion`` events of the current and the 25 previous
    visits of each visitor (``read_visitor_feeds(..., kinds=["experiment", "conversion"],
    previous_visits=25)``), then compares each variation with the reference.

    Parameters
    ----------
    visitor_codes : iterable of str
        The visitors to read (those never exposed to the experiment are simply not counted).
    experiment_id : int
        The experiment.
    goal_id : int or list of int, optional
        The goals; ``None`` (the default): every goal the visitors converted on.
    reference : int, optional
        The reference variation; ``None`` (the default): the lowest exposed variation id.
    alpha : float, default 0.05
        The intervals have confidence level ``1 - alpha``.
    {client}
    {site_code}
    {progress}
    {dtype_backend}
    {backend}
    **options
        Passed to :func:`experiment_results`: ``metric``, ``weights``, ``correction``.

    Returns
    -------
    pandas.DataFrame, polars.DataFrame or pyarrow.Table
        The ``EXPERIMENT_RESULTS`` schema (see :func:`experiment_results`).

    Raises
    ------
    TypeError
        For an option :func:`experiment_results` does not take, before any request.
    ImportError
        When ``backend`` or ``dtype_backend`` needs polars or pyarrow and it is not
        installed; before any request.
    ValidationError
        As :func:`experiment_results` (no exposures to the experiment among these visitors,
        a single variation, an unknown reference, ...) and :func:`read_visitor_feeds` (bad
        visitor codes).
    APIError
        When a request still fails after the client's retries.

    Warns
    -----
    KameleoonWarning
        On a sample ratio mismatch (SRM p-value below 0.001).

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> results = kp.read_experiment(codes, 4242, goal_id=17)  # doctest: +SKIP
    >>> results[["variation_id", "conversion_rate", "uplift", "p_value"]]  # doctest: +SKIP
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise TypeError(
            f"read_experiment() got unexpected keyword argument(s) {unknown}; "
            f"options are {list(_OPTIONS)}"
        )
    if not _is_int(experiment_id):
        raise ValidationError(f"experiment_id must be an integer id, got {experiment_id!r}")
    check_backend(backend, dtype_backend)
    from .loaders import read_visitor_feeds

    feed = read_visitor_feeds(
        visitor_codes,
        previous_visits=25,
        kinds=["experiment", "conversion"],
        client=client,
        site_code=site_code,
        progress=progress,
    )
    frame, messages = _read_out(
        feed,
        experiment_id=experiment_id,
        goal_id=goal_id,
        reference=reference,
        alpha=alpha,
        metric=options.get("metric", "conversion_rate"),
        weights=options.get("weights"),
        correction=options.get("correction"),
        exposures=None,
        conversions=None,
    )
    for message in messages:
        warnings.warn(message, KameleoonWarning, stacklevel=2)
    return _results_as(frame, backend, dtype_backend)
