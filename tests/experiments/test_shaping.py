"""The counting rules of ``frames.experiments``: exposure, exclusion, timing, cancelling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kameleoon_pandas.experiments as ke
from kameleoon_pandas._exceptions import ValidationError
from kameleoon_pandas.frames.experiments import (
    ARM_STATISTICS,
    EXPERIMENT_RESULTS,
    arm_statistics,
    feed_conversions,
    feed_exposures,
)

from . import synthetic as syn


def _arm(stats: pd.DataFrame, variation: int, goal: int = 1) -> pd.Series:
    row = stats[(stats["variation_id"] == variation) & (stats["goal_id"] == goal)]
    assert len(row) == 1
    return row.iloc[0]


def test_schema_is_the_documented_one() -> None:
    assert list(EXPERIMENT_RESULTS) == [
        "site_code",
        "experiment_id",
        "variation_id",
        "goal_id",
        "visitors",
        "converted",
        "conversion_rate",
        "revenue",
        "revenue_per_visitor",
        "uplift",
        "ci_low",
        "ci_high",
        "p_value",
        "chance_to_beat_reference",
        "expected_loss",
        "srm_p_value",
        "excluded_visitors",
    ]
    assert EXPERIMENT_RESULTS["site_code"] == "string"
    assert {EXPERIMENT_RESULTS[c] for c in ("experiment_id", "visitors", "converted")} == {"Int64"}
    assert EXPERIMENT_RESULTS["uplift"] == EXPERIMENT_RESULTS["revenue"] == "float64"


def test_converted_only_at_or_after_the_first_exposure() -> None:
    exp = syn.exposures(
        [("a", 7, 0, 10), ("a", 7, 0, 30), ("b", 7, 0, 10), ("c", 7, 1, 10), ("d", 7, 1, 10)]
    )
    conv = syn.conversions(
        [
            ("a", 1, 5.0, 20),  # after the first exposure (10), before the second: counts
            ("b", 1, 7.0, 5),  # before the exposure: ignored
            ("c", 1, 9.0, 10),  # at the exposure's very time: counts
            ("d", 1, 4.0, 9.999),  # just before: ignored
        ]
    )
    stats = arm_statistics(exp, conv)
    assert list(stats.columns) == list(ARM_STATISTICS)
    assert (_arm(stats, 0)["visitors"], _arm(stats, 0)["converted"]) == (2, 1)
    assert _arm(stats, 0)["revenue"] == 5.0
    assert (_arm(stats, 1)["visitors"], _arm(stats, 1)["converted"]) == (2, 1)
    assert _arm(stats, 1)["revenue"] == 9.0


def test_visitors_of_several_variations_are_excluded_and_counted() -> None:
    exp = syn.exposures(
        [
            ("a", 7, 0, 0),
            ("b", 7, 1, 0),
            ("x", 7, 0, 0),
            ("x", 7, 1, 5),  # x saw both variations of 7
            ("y", 7, 1, 0),
            ("y", 7, 1, 3),  # y saw variation 1 twice: kept
            ("x", 8, 0, 0),  # x in another experiment: kept there
            ("z", 8, 1, 0),
        ]
    )
    conv = syn.conversions([("x", 1, 1.0, 10), ("y", 1, 2.0, 10)])
    stats = arm_statistics(exp, conv)
    seven = stats[stats["experiment_id"] == 7]
    assert seven.set_index("variation_id")["visitors"].to_dict() == {0: 1, 1: 2}
    assert seven["excluded_visitors"].tolist() == [1, 1]
    assert seven["converted"].sum() == 1  # y only; x is out of experiment 7
    eight = stats[stats["experiment_id"] == 8].set_index("variation_id")
    assert eight["visitors"].to_dict() == {0: 1, 1: 1}
    assert eight.loc[0, "converted"] == 1 and eight["excluded_visitors"].eq(0).all()


def test_a_negative_conversion_cancels_one() -> None:
    exp = syn.exposures([(c, 7, 0, 0) for c in "abcd"] + [("e", 7, 1, 0)])
    conv = syn.conversions(
        [
            ("a", 1, 50.0, 1),
            ("a", 1, 50.0, 2, True),  # a's only conversion cancelled: not converted
            ("b", 1, 30.0, 1),
            ("b", 1, 20.0, 2),
            ("b", 1, 20.0, 3, True),  # b: net 1 conversion, net revenue 30
            ("c", 1, 10.0, 1, True),  # c: a lone refund counts -1: not converted, revenue 0
            ("d", 1, 15.0, 1),
            ("d", 1, 15.0, 2),  # d: twice: converted once, revenue 30
        ]
    )
    arm = _arm(arm_statistics(exp, conv), 0)
    assert (arm["visitors"], arm["converted"]) == (4, 2)
    assert arm["revenue"] == 60.0
    assert arm["revenue_squares"] == 30.0**2 + 30.0**2


def test_a_goal_nobody_converted_on_gives_zeros() -> None:
    exp = syn.exposures([("a", 7, 0, 0), ("b", 7, 1, 0)])
    conv = syn.conversions([("a", 1, 3.0, 1)])
    stats = arm_statistics(exp, conv, goal_ids=[1, 2])
    two = stats[stats["goal_id"] == 2]
    assert len(two) == 2 and two["converted"].eq(0).all() and two["revenue"].eq(0).all()
    assert two["visitors"].tolist() == [1, 1]
    # Through the public function: rows with zeros, no crash, undefined tests missing.
    results = ke.experiment_results(exposures=exp, conversions=conv.iloc[:0], goal_id=2)
    assert results["converted"].tolist() == [0, 0]
    assert results["conversion_rate"].tolist() == [0.0, 0.0]
    assert results["uplift"].isna().all() and results["p_value"].isna().all()
    assert results["chance_to_beat_reference"].iloc[1] == pytest.approx(0.5)


def test_events_without_a_time_or_a_visitor_are_left_out() -> None:
    exp = syn.exposures([("a", 7, 0, 0), ("b", 7, 1, 0), ("c", 7, 1, 0), ("d", 7, 1, 0)])
    exp.loc[2, "time"] = pd.NaT
    exp.loc[3, "visitor_code"] = pd.NA
    conv = syn.conversions([("a", 1, 1.0, 1), ("b", 1, 1.0, 1), ("d", 1, 1.0, 1)])
    conv.loc[1, "time"] = pd.NaT
    conv.loc[2, "visitor_code"] = pd.NA
    stats = arm_statistics(exp, conv)
    assert stats.set_index("variation_id")["visitors"].to_dict() == {0: 1, 1: 1}
    assert stats.set_index("variation_id")["converted"].to_dict() == {0: 1, 1: 0}


def test_site_codes_keep_visitors_apart() -> None:
    exp = syn.exposures([("a", 7, 0, 0), ("b", 7, 1, 0)])
    conv = syn.conversions([("a", 1, 1.0, 1), ("b", 1, 1.0, 1)])
    conv.loc[1, "site_code"] = "othersite"  # another project's visitor "b"
    stats = arm_statistics(exp, conv)
    assert stats.set_index("variation_id")["converted"].to_dict() == {0: 1, 1: 0}
    # Without site codes in one of the frames, visitors are matched by code alone.
    stats = arm_statistics(exp, conv.drop(columns="site_code"))
    assert stats.set_index("variation_id")["converted"].to_dict() == {0: 1, 1: 1}
    assert stats["site_code"].eq(syn.SITE).all()
    stats = arm_statistics(exp.drop(columns="site_code"), conv)
    assert stats["site_code"].isna().all() and str(stats["site_code"].dtype) == "string"


def test_feed_and_warehouse_shapes_give_the_same_results() -> None:
    rng = np.random.default_rng(3)
    exp, conv = syn.simulate(rng, experiments=2, visitors=300, rates=[0.2, 0.25, 0.3])
    exp = exp.assign(site_code=syn.SITE)
    conv = conv.assign(site_code=syn.SITE, negative=False)
    conv.loc[conv.index[:5], "negative"] = True
    # Late exposures of a few visitors to a second variation, and early conversions.
    extra_exp = exp.iloc[:4].assign(variation_id=2, time=syn.T0 + pd.Timedelta(hours=2))
    early = conv.iloc[:6].assign(time=syn.T0 - pd.Timedelta(hours=1))
    exp = pd.concat([exp, extra_exp], ignore_index=True)
    conv = pd.concat([conv, early], ignore_index=True)
    feed = syn.as_feed(exp, conv)
    assert len(feed_exposures(feed)) == len(exp) and len(feed_conversions(feed)) == len(conv)
    from_feed = ke.experiment_results(feed, correction="holm")
    from_frames = ke.experiment_results(exposures=exp, conversions=conv, correction="holm")
    pd.testing.assert_frame_equal(from_feed, from_frames)
    assert from_feed["excluded_visitors"].tolist() == [4] * 3 + [0] * 3
    for metric in ke.METRICS:
        pd.testing.assert_frame_equal(
            ke.experiment_results(feed, metric=metric, experiment_id=2),
            ke.experiment_results(exposures=exp, conversions=conv, metric=metric, experiment_id=2),
        )


def test_warehouse_frames_with_plain_dtypes_and_naive_times() -> None:
    exp = pd.DataFrame(
        {
            "visitor_code": ["a", "b", "c", "d"],
            "experiment_id": [7, 7, 7, 7],
            "variation_id": [0, 0, 1, 1],
            "time": pd.to_datetime(["2026-11-01 10:00"] * 4),  # naive: read as UTC
        }
    )
    conv = pd.DataFrame(
        {
            "visitor_code": ["a", "c", "d"],
            "goal_id": [1.0, 1.0, 1.0],  # integral floats are ids
            "revenue": [None, 5.0, 6.0],  # a missing revenue is 0
            "time": ["2026-11-01T10:30:00Z", "2026-11-01T09:00:00Z", "2026-11-01T11:00:00Z"],
        }
    )
    results = ke.experiment_results(exposures=exp, conversions=conv)
    assert results["converted"].tolist() == [1, 1]  # c converted before exposure
    assert results["revenue"].tolist() == [0.0, 6.0]
    assert results["site_code"].isna().all()
    with pytest.raises(ValidationError, match=r"conversions.goal_id must hold integer ids"):
        ke.experiment_results(exposures=exp, conversions=conv.assign(goal_id=["x", "y", "z"]))
