"""Calibration on synthetic experiments (numpy, seeded): intervals cover, nulls reject ~alpha.

Each test reads out 400 simulated experiments at once (one frame, ``experiment_id`` 1..400, an
exact 50/50 split of 1,000 visitors per arm, so no SRM warning), through the public
``experiment_results``. With 400 experiments a rate's standard error is about 1.1 points, so
the bounds below (about 3.5 standard errors wide) do not flake, and the seeds are fixed anyway.
"""

from __future__ import annotations

import numpy as np
import pytest

import kameleoon_pandas.experiments as ke

from . import synthetic as syn

N_EXPERIMENTS = 400


def _read_out(seed: int, rates: list[float], means: list[float], metric: str):
    rng = np.random.default_rng(seed)
    exp, conv = syn.simulate(
        rng, experiments=N_EXPERIMENTS, visitors=1000, rates=rates, revenue_mean=means
    )
    results = ke.experiment_results(exposures=exp, conversions=conv, metric=metric)
    compared = results[results["variation_id"] == 1]
    assert len(compared) == N_EXPERIMENTS
    return compared


@pytest.mark.parametrize(
    ("metric", "rates", "means", "true_uplift"),
    [
        ("conversion_rate", [0.10, 0.12], [10.0, 10.0], 0.2),
        ("revenue_per_visitor", [0.10, 0.11], [10.0, 12.0], 0.11 * 12 / (0.10 * 10) - 1),
    ],
)
def test_the_95_percent_interval_covers_the_true_uplift(metric, rates, means, true_uplift) -> None:
    compared = _read_out(20261101, rates, means, metric)
    covered = (compared["ci_low"] <= true_uplift) & (true_uplift <= compared["ci_high"])
    assert 0.91 <= covered.mean() <= 0.99, covered.mean()
    # The uplift estimates centre on the truth, too (each has a standard error of about 0.2
    # for revenue, so their median over 400 is within about 0.015 of it; 0.05 is > 3 of them).
    assert compared["uplift"].median() == pytest.approx(true_uplift, abs=0.05)


@pytest.mark.parametrize("metric", ["conversion_rate", "revenue_per_visitor"])
def test_a_no_effect_experiment_rejects_about_5_percent(metric) -> None:
    compared = _read_out(42, [0.10, 0.10], [10.0, 10.0], metric)
    rejected = compared["p_value"] < 0.05
    assert 0.015 <= rejected.mean() <= 0.09, rejected.mean()
    # Under the null, p-values are about uniform and the chance to beat is about 0.5.
    assert compared["p_value"].median() == pytest.approx(0.5, abs=0.1)
    assert compared["chance_to_beat_reference"].mean() == pytest.approx(0.5, abs=0.05)
    # The interval holds 0 exactly when the test does not reject (score / Fieller-Welch).
    holds_zero = (compared["ci_low"] <= 0) & (compared["ci_high"] >= 0)
    assert (holds_zero == ~rejected).all()
