"""The loaders shape each answer as it arrives (``CountersColumns``, ``FeedColumns``): whatever the
order the requests complete in, the frame is the one of the answers in input order."""

from __future__ import annotations

import random

import pandas as pd

from kameleoon_pandas.frames.feeds import FeedColumns, feed_frame
from kameleoon_pandas.frames.products import CountersColumns, counters_frame

T0 = 1_718_000_000_000


def feed_answer(i: int) -> dict:
    def visit(start: int) -> dict:
        return {
            "visitorCode": f"v{i}",
            "timeStarted": start,
            "timeLastEvent": start + 5,
            "pageEvents": [
                {"time": start + 2, "data": {"href": f"h{i}", "referrersIndices": [i]}},
                {"time": start + 2, "data": {"href": "tie"}},  # a tie keeps the wire order
            ],
            "customDataEvents": [
                {"time": start + 1, "data": {"index": 1, "valuesCountMap": {"a": i, "b": 1}}}
            ],
            "staticDataEvent": {"time": start, "data": {"os": "MAC"}},
        }

    return {"currentVisit": visit(T0 + i), "previousVisits": [visit(T0 - 10_000 + i)]}


def test_feed_columns_do_not_depend_on_the_arrival_order() -> None:
    keys = [f"k{i}" for i in range(40)]
    answers = [feed_answer(i) if i % 7 else {} for i in range(40)]
    expected = feed_frame(answers, keys=keys, site_code="s")
    assert len(expected) > 0
    for seed in range(5):
        order = list(range(40))
        random.Random(seed).shuffle(order)
        columns = FeedColumns(keys=keys, site_code="s")
        for index in order:
            columns.add(index, answers[index])
        pd.testing.assert_frame_equal(columns.frame(), expected)


def test_counters_columns_do_not_depend_on_the_arrival_order() -> None:
    eans = [f"e{i}" for i in range(30)]
    windows = [(T0 + w * 10, T0 + w * 10 + 10) for w in range(6)]
    answers = [
        {ean: {"v": w + i, "atcq": i, "bq": w} for i, ean in enumerate(eans) if (i + w) % 4}
        for w in range(len(windows))
    ]
    expected, missing = counters_frame(answers, windows=windows, eans=eans, site_code="s")
    assert len(expected) > 0
    for seed in range(5):
        order = list(range(len(windows)))
        random.Random(seed).shuffle(order)
        columns = CountersColumns(windows=windows, eans=eans, site_code="s")
        for w in order:
            # and each window's answer in its own key order, as chunks merge
            items = list(answers[w].items())
            random.Random(seed + w).shuffle(items)
            columns.add(w, dict(items))
        pd.testing.assert_frame_equal(columns.frame(), expected)
        assert columns.missing() == missing
    assert expected["ean"].tolist() == sorted(expected["ean"].tolist(), key=eans.index)
