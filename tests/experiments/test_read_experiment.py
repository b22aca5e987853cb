"""read_experiment against the real emulator over loopback (data pushed through the API)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats import proportion as smp

import kameleoon_pandas as kp
import kameleoon_pandas.experiments as ke
from kameleoon_pandas.frames.experiments import EXPERIMENT_RESULTS

from .conftest import EXPERIMENT, VISITORS


def test_read_experiment_counts_what_was_pushed(experiment_client) -> None:
    results = ke.read_experiment(
        VISITORS, EXPERIMENT, goal_id=[1, 2, 3], client=experiment_client, progress=False
    )
    assert list(results.columns) == list(EXPERIMENT_RESULTS)
    assert {c: str(t) for c, t in results.dtypes.items()} == dict(EXPERIMENT_RESULTS)
    assert results["site_code"].eq(experiment_client.site_codes[0]).all()
    one = results[results["goal_id"] == 1].set_index("variation_id")
    assert one["visitors"].to_dict() == {0: 30, 1: 35}
    assert one["converted"].to_dict() == {0: 6, 1: 12}
    assert one["revenue"].to_dict() == {0: 60.0, 1: 225.0}
    assert results["excluded_visitors"].eq(3).all()
    two = results[results["goal_id"] == 2].set_index("variation_id")
    assert two["converted"].to_dict() == {0: 1, 1: 0}
    three = results[results["goal_id"] == 3]
    assert three["converted"].eq(0).all() and three["visitors"].tolist() == [30, 35]
    expected = smp.test_proportions_2indep(
        12, 35, 6, 30, compare="diff", method="score", correction=False
    ).pvalue
    assert one.loc[1, "p_value"] == pytest.approx(expected)
    assert one.loc[1, "uplift"] == pytest.approx((12 / 35) / (6 / 30) - 1)
    assert np.isnan(one.loc[0, "uplift"])
    assert results["srm_p_value"].iloc[0] == pytest.approx(stats.chisquare([30, 35]).pvalue)


def test_read_experiment_is_experiment_results_of_the_feed(experiment_client) -> None:
    feed = kp.read_visitor_feeds(
        VISITORS,
        previous_visits=25,
        kinds=["experiment", "conversion"],
        client=experiment_client,
        progress=False,
    )
    for options in ({}, {"metric": "revenue_per_visitor", "correction": "holm"}):
        read = ke.read_experiment(
            VISITORS, EXPERIMENT, reference=1, client=experiment_client, progress=False, **options
        )
        direct = ke.experiment_results(feed, experiment_id=EXPERIMENT, reference=1, **options)
        pd.testing.assert_frame_equal(read, direct)
        assert sorted(read["goal_id"].unique()) == [1, 2]  # the goals converted on


def test_read_experiment_errors_name_the_problem(experiment_client) -> None:
    with pytest.raises(kp.ValidationError, match=r"no exposures to experiment\(s\) \[99\]"):
        ke.read_experiment(VISITORS, 99, client=experiment_client, progress=False)
    with pytest.raises(kp.ValidationError, match="unknown reference variation 5"):
        ke.read_experiment(VISITORS, EXPERIMENT, reference=5, client=experiment_client)
