"""The numbers against scipy/statsmodels called directly on the same counts, and a textbook."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from statsmodels.stats import proportion as smp
from statsmodels.stats.multitest import multipletests

import kameleoon_pandas as kp
import kameleoon_pandas.experiments as ke

from . import synthetic as syn


def counts_frames(
    arms: dict[int, tuple[int, int]], goal: int = 1, experiment: int = 7
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exposures/conversions with exactly ``arms[variation] = (visitors, converted)``."""
    exp_rows, conv_rows = [], []
    for variation, (n, c) in arms.items():
        codes = [f"e{experiment}v{variation}n{i}" for i in range(n)]
        exp_rows += [(code, experiment, variation, 0.0) for code in codes]
        conv_rows += [(code, goal, 10.0, 1.0) for code in codes[:c]]
    return syn.exposures(exp_rows), syn.conversions(conv_rows)


def read(arms: dict[int, tuple[int, int]], **kw) -> pd.DataFrame:
    exp, conv = counts_frames(arms)
    return ke.experiment_results(exposures=exp, conversions=conv, goal_id=1, **kw)


def test_textbook_two_proportion_z_test() -> None:
    """Illowsky & Dean, *Introductory Statistics* (OpenStax, 2013; first as *Collaborative
    Statistics*, Connexions module m17043), section 10.4 "Comparing Two Independent Population
    Proportions", the hives example: 20 of 200 adults on medication A and 12 of 200 on
    medication B still had hives; pooled proportion 0.08, two-tailed p-value = 0.1404
    (z = 0.04 / sqrt(0.08 * 0.92 * (1/200 + 1/200)) = 1.47)."""
    results = read({0: (200, 12), 1: (200, 20)})  # B is the reference: A's uplift over it
    a = results.iloc[1]
    assert a["conversion_rate"] == 0.10 and results.iloc[0]["conversion_rate"] == 0.06
    assert round(a["p_value"], 4) == 0.1404
    z = stats.norm.isf(a["p_value"] / 2)
    assert z == pytest.approx(0.04 / np.sqrt(0.08 * 0.92 * (2 / 200)), rel=1e-9)
    assert round(z, 2) == 1.47
    assert a["uplift"] == pytest.approx(0.10 / 0.06 - 1)


@pytest.mark.parametrize(
    "arms",
    [
        {0: (1000, 100), 1: (1000, 120)},
        {0: (5000, 240), 1: (4900, 230), 2: (5100, 300)},
        {0: (300, 30), 1: (350, 0)},  # a variation nobody converted in
        {0: (80, 80), 1: (90, 81)},  # a reference where everyone converted
    ],
)
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_rates_match_statsmodels_called_directly(arms, alpha) -> None:
    results = read(arms, alpha=alpha)
    ref_n, ref_c = arms[0]
    assert results.iloc[0][["uplift", "ci_low", "ci_high", "p_value"]].isna().all()
    assert results.iloc[0][["chance_to_beat_reference", "expected_loss"]].isna().all()
    for _, row in results.iloc[1:].iterrows():
        n, c = arms[int(row["variation_id"])]
        assert (row["visitors"], row["converted"]) == (n, c)
        assert row["conversion_rate"] == c / n
        direct = smp.test_proportions_2indep(
            c, n, ref_c, ref_n, compare="diff", method="score", correction=False
        )
        assert row["p_value"] == pytest.approx(direct.pvalue, rel=1e-12)
        # ... which is the textbook pooled z-test:
        assert row["p_value"] == pytest.approx(smp.proportions_ztest([c, ref_c], [n, ref_n])[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = smp.confint_proportions_2indep(
                c, n, ref_c, ref_n, compare="ratio", method="score", alpha=alpha, correction=False
            )
        assert row["uplift"] == pytest.approx((c / n - ref_c / ref_n) / (ref_c / ref_n))
        if np.iscomplexobj(low) and abs(np.imag(low)) > 1e-9:
            # statsmodels' root finder fails where everyone in the reference converted: it
            # answers complex numbers; the read-out leaves the interval missing then.
            assert ref_c == ref_n and np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
            continue
        assert row["ci_low"] == pytest.approx(max(low, 0.0) - 1, abs=1e-9)
        assert row["ci_high"] == pytest.approx(high - 1, rel=1e-9)
        # The interval and the test agree (both score): 0 is outside iff p < alpha.
        assert (row["ci_low"] > 0 or row["ci_high"] < 0) == (row["p_value"] < alpha)


def _beta_by_integration(arms: dict[int, tuple[int, int]], variation: int) -> tuple[float, float]:
    (na, ca), (nb, cb) = arms[0], arms[variation]
    a = stats.beta(1 + ca, 1 + na - ca)
    b = stats.beta(1 + cb, 1 + nb - cb)
    lo, hi = min(a.ppf(1e-12), b.ppf(1e-12)), max(a.isf(1e-12), b.isf(1e-12))
    chance = integrate.quad(lambda x: b.pdf(x) * a.cdf(x), lo, hi, epsabs=1e-13, limit=200)[0]
    # E[max(A - B, 0)] = integral over x of P(A - B > x), i.e. of int_b f_B(b) P(A > b + x).
    loss = integrate.quad(
        lambda y: b.pdf(y) * (a.mean() * stats.beta(a.args[0] + 1, a.args[1]).sf(y) - y * a.sf(y)),
        lo,
        hi,
        epsabs=1e-14,
        limit=200,
    )[0]
    return chance, loss


@pytest.mark.parametrize(
    "arms",
    [
        {0: (1000, 100), 1: (1000, 120)},
        {0: (20000, 900), 1: (20000, 850)},
        {0: (50, 3), 1: (40, 9)},
        {0: (500, 0), 1: (500, 0)},
    ],
)
def test_chance_and_loss_are_the_beta_posteriors_in_closed_form(arms) -> None:
    results = read(arms)
    row = results.iloc[1]
    chance, loss = _beta_by_integration(arms, 1)
    assert row["chance_to_beat_reference"] == pytest.approx(chance, abs=1e-9)
    assert row["expected_loss"] == pytest.approx(loss, rel=1e-6, abs=1e-12)


def test_closed_form_against_a_seeded_monte_carlo() -> None:
    rng = np.random.default_rng(12)
    a = rng.beta(1 + 100, 1 + 900, 2_000_000)
    b = rng.beta(1 + 120, 1 + 880, 2_000_000)
    chance, loss = ke.beta_comparison(120, 1000, 100, 1000)
    assert chance == pytest.approx((b > a).mean(), abs=1e-3)
    assert loss == pytest.approx(np.maximum(a - b, 0).mean(), rel=1e-2)
    assert round(chance, 3) == 0.923  # the docstring's example


def test_revenue_per_visitor_is_welch_on_the_per_visitor_revenue() -> None:
    rng = np.random.default_rng(5)
    exp, conv = syn.simulate(rng, experiments=1, visitors=800, rates=[0.1, 0.13, 0.1])
    results = ke.experiment_results(exposures=exp, conversions=conv, metric="revenue_per_visitor")
    assert results.attrs == {"metric": "revenue_per_visitor", "alpha": 0.05}
    per_visitor = exp.merge(conv, on="visitor_code", how="left").fillna({"revenue": 0.0})
    ref = per_visitor.loc[per_visitor["variation_id"] == 0, "revenue"].to_numpy()
    for _, row in results.iloc[1:].iterrows():
        values = per_visitor.loc[per_visitor["variation_id"] == row["variation_id"], "revenue"]
        x = values.to_numpy()
        assert row["revenue"] == pytest.approx(x.sum())
        assert row["revenue_per_visitor"] == pytest.approx(x.mean())
        welch = stats.ttest_ind(x, ref, equal_var=False)
        assert row["p_value"] == pytest.approx(welch.pvalue, rel=1e-9)
        assert row["uplift"] == pytest.approx(x.mean() / ref.mean() - 1)
        # Fieller's interval of the ratio with Welch's degrees of freedom: the ratios R where
        # the t statistic of x - R * ref is below the quantile, solved here by brute force.
        va, vb = ref.var(ddof=1) / len(ref), x.var(ddof=1) / len(x)
        q = stats.t.ppf(0.975, welch.df)
        grid = np.linspace(0.3, 3.0, 2_000_001)
        inside = grid[(x.mean() - grid * ref.mean()) ** 2 <= q**2 * (vb + grid**2 * va)]
        assert row["ci_low"] == pytest.approx(inside.min() - 1, abs=2e-6)
        assert row["ci_high"] == pytest.approx(inside.max() - 1, abs=2e-6)
        assert (row["ci_low"] > 0 or row["ci_high"] < 0) == (row["p_value"] < 0.05)
        # Normal posteriors of the means.
        d, s = x.mean() - ref.mean(), np.sqrt(va + vb)
        assert row["chance_to_beat_reference"] == pytest.approx(stats.norm.cdf(d / s))
        draws = np.random.default_rng(1).normal(d, s, 1_000_000)
        assert row["expected_loss"] == pytest.approx(np.maximum(-draws, 0).mean(), rel=1e-2)


def test_srm_is_scipy_chisquare_and_warns_below_0_001() -> None:
    arms = {0: (1000, 100), 1: (1000, 100), 2: (800, 90)}
    with pytest.warns(kp.KameleoonWarning, match=r"experiment 7: sample ratio mismatch"):
        results = read(arms)
    expected = stats.chisquare([1000, 1000, 800]).pvalue
    assert expected < 0.001
    np.testing.assert_allclose(results["srm_p_value"], expected, rtol=1e-9)
    # Against the intended split, the same counts are fine: no warning (warnings are errors).
    fine = read(arms, weights={0: 5, 1: 5, 2: 4})
    assert fine["srm_p_value"].iloc[0] == pytest.approx(
        stats.chisquare([1000, 1000, 800], [1000, 1000, 800]).pvalue
    )
    assert fine["srm_p_value"].iloc[0] == pytest.approx(1.0)


def test_weights_count_a_variation_nobody_saw() -> None:
    with pytest.warns(kp.KameleoonWarning, match="sample ratio mismatch"):
        results = read({0: (500, 10), 1: (500, 12)}, weights={0: 1, 1: 1, 2: 1})
    assert results["srm_p_value"].iloc[0] == pytest.approx(stats.chisquare([500, 500, 0]).pvalue)
    nested = read({0: (500, 10), 1: (480, 12)}, weights={7: {0: 50, 1: 50}})
    assert nested["srm_p_value"].iloc[0] == pytest.approx(stats.chisquare([500, 480]).pvalue)


def test_holm_is_multipletests_holm_to_the_float(monkeypatch: pytest.MonkeyPatch) -> None:
    # experiments._holm stands in for statsmodels' holm branch, which runs gc.collect() on every
    # call: 0.2 s each in a test process, 25 s over these 123 references. The collection does not
    # touch the numbers, so it is switched off while they are computed.
    monkeypatch.setattr(gc, "collect", lambda generation=2: 0)
    rng = np.random.default_rng(13)
    for size in [*range(1, 41), 200]:
        for p in (
            rng.random(size),
            rng.choice([0.001, 0.01, 0.04, 0.5, 1.0], size),  # ties, and p-values of 1
            rng.random(size) ** 8,  # many small: the running maximum and the clip at 1 matter
        ):
            expected = multipletests(p, alpha=0.05, method="holm")[1]
            np.testing.assert_array_equal(ke._holm(p), expected)


def test_holm_correction_is_multipletests_over_variations_and_goals() -> None:
    exp_rows, conv_rows = [], []
    rng = np.random.default_rng(8)
    for variation in range(3):
        codes = [f"v{variation}n{i}" for i in range(1500)]
        exp_rows += [(code, 7, variation, 0.0) for code in codes]
        for goal, base in ((1, 0.10), (2, 0.05), (3, 0.20)):
            rate = base * (1 + 0.12 * variation)
            conv_rows += [(c, goal, 1.0, 1.0) for c in codes if rng.random() < rate]
    exp, conv = syn.exposures(exp_rows), syn.conversions(conv_rows)
    raw = ke.experiment_results(exposures=exp, conversions=conv)
    holm = ke.experiment_results(exposures=exp, conversions=conv, correction="holm")
    assert sorted(raw["goal_id"].unique()) == [1, 2, 3] and len(raw) == 9
    tested = raw["p_value"].notna()
    assert tested.sum() == 6
    adjusted = multipletests(raw.loc[tested, "p_value"], alpha=0.05, method="holm")[1]
    np.testing.assert_allclose(holm.loc[tested, "p_value"], adjusted, rtol=1e-12)
    assert (holm.loc[tested, "p_value"] >= raw.loc[tested, "p_value"]).all()
    cols = ["uplift", "ci_low", "ci_high", "chance_to_beat_reference", "visitors", "converted"]
    pd.testing.assert_frame_equal(holm[cols], raw[cols])  # only p-values move
    bonferroni = ke.experiment_results(exposures=exp, conversions=conv, correction="bonferroni")
    np.testing.assert_allclose(
        bonferroni.loc[tested, "p_value"], np.minimum(raw.loc[tested, "p_value"] * 6, 1)
    )


def test_reference_choice() -> None:
    arms = {3: (1000, 100), 5: (1000, 130), 9: (1000, 90)}
    lowest = read(arms)
    assert lowest.loc[lowest["variation_id"] == 3, "uplift"].isna().all()
    given = read(arms, reference=5)
    assert given.loc[given["variation_id"] == 5, "uplift"].isna().all()
    row = given[given["variation_id"] == 3].iloc[0]
    assert row["uplift"] == pytest.approx(0.10 / 0.13 - 1)
    assert row["chance_to_beat_reference"] < 0.05  # 10 % vs 13 %: very likely worse
    by_experiment = read(arms, reference={7: 9})
    assert by_experiment.loc[by_experiment["variation_id"] == 9, "uplift"].isna().all()
