"""Bad input gets a ValidationError that names what is missing or wrong."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import kameleoon_pandas.experiments as ke
from kameleoon_pandas import ValidationError

from . import synthetic as syn


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    exp = syn.exposures([("a", 7, 0, 0), ("b", 7, 1, 0), ("c", 8, 4, 0)])
    conv = syn.conversions([("a", 1, 1.0, 1)])
    return exp, conv


def test_no_exposures_for_the_experiment(frames) -> None:
    exp, conv = frames
    with pytest.raises(ValidationError, match=r"no exposures to experiment\(s\) \[99\].*\[7, 8\]"):
        ke.experiment_results(exposures=exp, conversions=conv, experiment_id=99)
    feed = syn.as_feed(exp.iloc[:0], conv)
    with pytest.raises(ValidationError, match="no exposures in the feed"):
        ke.experiment_results(feed)


def test_an_unknown_reference_variation(frames) -> None:
    exp, conv = frames
    message = "unknown reference variation 3 for experiment 7: its exposed variations are [0, 1]"
    with pytest.raises(ValidationError, match=re.escape(message)):
        ke.experiment_results(exposures=exp, conversions=conv, experiment_id=7, reference=3)
    with pytest.raises(ValidationError, match="reference has no variation for experiment 7"):
        ke.experiment_results(exposures=exp, conversions=conv, experiment_id=7, reference={8: 4})


def test_a_single_variation(frames) -> None:
    exp, conv = frames
    with pytest.raises(ValidationError, match=r"experiment 8 has a single variation \(4\)"):
        ke.experiment_results(exposures=exp, conversions=conv, experiment_id=8)
    both = syn.exposures([("a", 7, 0, 0), ("a", 7, 1, 1)])
    with pytest.raises(ValidationError, match=r"experiment\(s\) \[7\]: every exposed visitor"):
        ke.experiment_results(exposures=both, conversions=conv)


@pytest.mark.parametrize("column", ["visitor_code", "kind", "time", "variation_id", "revenue"])
def test_missing_feed_columns_are_named(frames, column) -> None:
    feed = syn.as_feed(*frames).drop(columns=column)
    with pytest.raises(ValidationError, match=rf"feed is missing column\(s\) \['{column}'\]"):
        ke.experiment_results(feed)


def test_missing_warehouse_columns_are_named(frames) -> None:
    exp, conv = frames
    with pytest.raises(ValidationError, match=r"exposures is missing column\(s\) \['time'\]"):
        ke.experiment_results(exposures=exp.drop(columns="time"), conversions=conv)
    with pytest.raises(
        ValidationError, match=r"conversions is missing column\(s\) \['goal_id', 'revenue'\]"
    ):
        ke.experiment_results(exposures=exp, conversions=conv.drop(columns=["goal_id", "revenue"]))
    with pytest.raises(ValidationError, match="both exposures="):
        ke.experiment_results(exposures=exp)
    with pytest.raises(ValidationError, match="not both"):
        ke.experiment_results(syn.as_feed(exp, conv), exposures=exp, conversions=conv)
    with pytest.raises(
        ValidationError, match="must be a pandas, polars or pyarrow DataFrame, got list"
    ):
        ke.experiment_results([1, 2])  # type: ignore[arg-type]


def test_no_conversions_and_no_goal(frames) -> None:
    exp, conv = frames
    with pytest.raises(ValidationError, match=r"no conversions in exposures.*pass goal_id="):
        ke.experiment_results(exposures=exp, conversions=conv.iloc[:0], experiment_id=7)
    rows = ke.experiment_results(
        exposures=exp, conversions=conv.iloc[:0], experiment_id=7, goal_id=5
    )
    assert rows["goal_id"].tolist() == [5, 5] and rows["converted"].eq(0).all()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"alpha": 1.5}, "alpha must be between 0 and 1"),
        ({"alpha": True}, "alpha must be a number"),
        ({"metric": "aov"}, "metric must be one of"),
        ({"correction": "magic"}, "correction must be None or one of"),
        ({"experiment_id": "7"}, "experiment_id must be an integer id"),
        ({"goal_id": [1, 2.5]}, "goal_id must hold integer ids, got 2.5"),
        ({"goal_id": []}, "goal_id is empty"),
        ({"experiment_id": 7, "weights": {0: 1}}, r"no weight for variation\(s\) \[1\]"),
        ({"experiment_id": 7, "weights": {0: 1, 1: -1}}, "must be a positive number"),
        ({"experiment_id": 7, "weights": {8: {4: 1}}}, "weights has no split for experiment 7"),
        ({"experiment_id": 7, "weights": [1, 1]}, "weights must be a mapping"),
    ],
)
def test_bad_options(frames, options, match) -> None:
    exp, conv = frames
    with pytest.raises(ValidationError, match=match):
        ke.experiment_results(exposures=exp, conversions=conv, **options)


def test_read_experiment_checks_before_any_request() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['metrc'\]"):
        ke.read_experiment(["a"], 7, metrc="revenue_per_visitor")
    with pytest.raises(ValidationError, match="experiment_id must be an integer id"):
        ke.read_experiment(["a"], "7")  # type: ignore[arg-type]
