"""The panels' pure steps on small frames: no widget, no thread, no server."""

from __future__ import annotations

import base64

import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from kameleoon_pandas.frames.schemas import PRODUCT_COUNTERS, VISITOR_FEED, conform
from kameleoon_pandas.panels import _base
from kameleoon_pandas.panels.counters import load_slices
from kameleoon_pandas.panels.views import (
    CountersSnapshot,
    FeedSnapshot,
    View,
    counters_table,
    counters_view,
    events_table,
    feed_view,
    product_names,
    rank_products,
)

T0 = pd.Timestamp("2026-11-01T00:00:00Z")
HOUR = pd.Timedelta(hours=1)
METRICS = ["views", "add_to_cart_quantity", "bought_quantity"]

#: Per EAN, per window (two hourly windows): (views, added to cart, bought).
COUNTS = {
    "EAN-A": [(5, 1, 0), (5, 1, 1)],  # 10 views, 2, 1
    "EAN-B": [(20, 2, 1), (10, 0, 1)],  # 30 views, 2, 2
    "EAN-C": [(0, 0, 0), (0, 0, 0)],  # nothing
    "EAN-D": [(10, 3, 0), (0, 0, 0)],  # 10 views (a tie with EAN-A), 3, 0
}


def _counters() -> pd.DataFrame:
    rows = [
        {
            "site_code": "s1",
            "ean": ean,
            "window_start": T0 + w * HOUR,
            "window_end": T0 + (w + 1) * HOUR,
            **dict(zip(METRICS, values, strict=True)),
        }
        for ean, windows in COUNTS.items()
        for w, values in enumerate(windows)
    ]
    return conform(pd.DataFrame(rows), PRODUCT_COUNTERS)


def _snapshot(**changes) -> CountersSnapshot:
    values = {
        "eans": list(COUNTS),
        "start": T0,
        "end": T0 + 2 * HOUR,
        "freq": "1h",
        "metric": "views",
        "top_n": 3,
    }
    return CountersSnapshot(**(values | changes))


def _feed(codes=("v1",)) -> pd.DataFrame:
    """Per visitor: visit 1 with a page view, visit 0 with a page, a conversion, static data."""
    rows = []
    for n, code in enumerate(codes):
        for visit, start in ((1, T0 + n * HOUR), (0, T0 + pd.Timedelta(days=1) + n * HOUR)):
            base = {
                "site_code": "s1",
                "visitor_code": code,
                "visit": visit,
                "visit_started": start,
                "visit_last_event": start + pd.Timedelta(minutes=10),
            }
            rows.append(base | {"kind": "page", "time": start, "title": "Home", "href": "/"})
            if visit == 0:
                rows.append(
                    base
                    | {
                        "kind": "conversion",
                        "time": start + pd.Timedelta(minutes=10),
                        "goal_id": 7,
                        "revenue": 12.5,
                        "negative": False,
                    }
                )
                rows.append(base | {"kind": "static_data", "time": start, "device_type": "PHONE"})
    return conform(pd.DataFrame(rows), VISITOR_FEED)


# -- counters ----------------------------------------------------------------------------------


def test_rank_products_sums_every_counter_per_ean_largest_first() -> None:
    totals = rank_products(_counters(), "views")
    assert list(totals.index) == ["EAN-B", "EAN-A", "EAN-D", "EAN-C"]  # the tie keeps EAN order
    assert list(totals.columns) == METRICS
    assert totals.loc["EAN-B"].tolist() == [30, 2, 2]
    assert totals.loc["EAN-D"].tolist() == [10, 3, 0]

    by_bought = rank_products(_counters(), "bought_quantity")
    assert list(by_bought.index) == ["EAN-B", "EAN-A", "EAN-C", "EAN-D"]


def test_product_names_takes_the_name_of_each_answer() -> None:
    names = product_names({"EAN-A": {"name": "Mug", "price": 3}, "EAN-B": None, "EAN-D": {}})
    assert names["ean"].tolist() == ["EAN-A", "EAN-B", "EAN-D"]
    assert names["name"].tolist() == ["Mug", pd.NA, pd.NA]
    assert (str(names["ean"].dtype), str(names["name"].dtype)) == ("string", "string")
    assert product_names({}).empty


def test_counters_table_adds_names_and_bought_per_view() -> None:
    totals = rank_products(_counters(), "views")
    table = counters_table(totals, product_names({"EAN-A": {"name": "Mug"}}))
    assert list(table.columns) == ["ean", "name", *METRICS, "bought_per_view"]
    assert table["ean"].tolist() == ["EAN-B", "EAN-A", "EAN-D", "EAN-C"]
    assert table["name"].tolist() == [pd.NA, "Mug", pd.NA, pd.NA]
    assert table["bought_per_view"].iloc[:3].tolist() == [0.0667, 0.1, 0.0]
    assert pd.isna(table["bought_per_view"].iloc[3])  # no views: no rate, not 0

    bare = counters_table(totals.head(2), product_names({}))
    assert list(bare.columns) == ["ean", *METRICS, "bought_per_view"]
    assert bare["views"].tolist() == [30, 10]


def test_counters_view_draws_top_products_and_trend_and_builds_the_table() -> None:
    counters = _counters()
    names = product_names({"EAN-A": {"name": "Mug"}, "EAN-B": {"name": "Lamp"}})
    view = counters_view(counters, names, _snapshot(), "s1")

    span = "2026-11-01 00:00 – 2026-11-01 02:00 UTC"
    assert view.status == f"s1: 4 EANs × 2 windows ({span}); 50 views in total."
    assert view.figure_alt == f"Top 3 products by views, s1, {span}"
    assert view.table_caption == f"Top 3 of 4 products, {span}"
    pd.testing.assert_frame_equal(
        view.table, counters_table(rank_products(counters, "views").head(3), names)
    )

    assert isinstance(view.figure, Figure)
    bars, trend = view.figure.axes
    assert bars.get_title() == "Top 3 products by views"
    assert [p.get_width() for p in bars.patches] == [10.0, 10.0, 30.0]  # largest at the top
    assert [t.get_text() for t in bars.get_yticklabels()] == [
        "EAN-D",
        "Mug (EAN-A)",
        "Lamp (EAN-B)",
    ]
    assert trend.get_title() == "Views per hour in total"
    (line,) = trend.get_lines()
    assert line.get_ydata().tolist() == [35.0, 15.0]


def test_counters_view_follows_metric_and_top_n_without_names() -> None:
    view = counters_view(
        _counters(), product_names({}), _snapshot(metric="bought_quantity", top_n=2), "s2"
    )
    assert view.table is not None
    assert view.table["ean"].tolist() == ["EAN-B", "EAN-A"]
    assert "name" not in view.table.columns
    assert view.table_caption.startswith("Top 2 of 4 products")
    bars, trend = view.figure.axes
    assert bars.get_title() == "Top 2 products by bought quantity"
    assert [t.get_text() for t in bars.get_yticklabels()] == ["EAN-A", "EAN-B"]
    assert trend.get_ylabel() == "Bought (items)"
    assert trend.get_lines()[0].get_ydata().tolist() == [1.0, 2.0]


def test_load_slices_cover_the_range_in_whole_windows() -> None:
    end = T0 + 24 * HOUR
    slices = load_slices(T0, end, "1h")
    assert len(slices) == 8
    assert all(b - a == 3 * HOUR for a, b in slices)
    assert [a for a, _ in slices[1:]] == [b for _, b in slices[:-1]]  # contiguous
    assert (slices[0][0], slices[-1][1]) == (T0, end)

    assert load_slices(T0, end, "all") == [(T0, end)]
    assert load_slices(T0, T0 + 3 * HOUR, "1h") == [
        (T0, T0 + HOUR),
        (T0 + HOUR, T0 + 2 * HOUR),
        (T0 + 2 * HOUR, T0 + 3 * HOUR),
    ]
    short = load_slices(T0, T0 + pd.Timedelta(minutes=150), "1h")  # the last window is short
    assert short[-1] == (T0 + 2 * HOUR, T0 + pd.Timedelta(minutes=150))


# -- visitor feeds -----------------------------------------------------------------------------


def test_events_table_keeps_the_non_empty_details_in_time_order() -> None:
    feed = _feed()
    table = events_table(feed)
    assert list(table.columns) == [
        "visit",
        "kind",
        "time",
        "title",
        "href",
        "goal_id",
        "revenue",
        "device_type",
    ]
    assert table["time"].is_monotonic_increasing
    assert table["kind"].tolist() == ["page", "page", "static_data", "conversion"]

    undated = feed.copy()
    undated.loc[undated["kind"] == "conversion", "time"] = pd.NaT
    assert events_table(undated)["kind"].iloc[0] == "conversion"  # missing times first

    both = events_table(_feed(("v1", "v2")))
    assert both.columns[0] == "visitor_code" and len(both) == 8


def test_feed_view_draws_the_timeline_and_lists_the_events() -> None:
    feed = _feed()
    view = feed_view(feed, FeedSnapshot("v1", "visitor_code", ["page"], 3), "s1")
    assert view.status == "s1: 4 events in 2 visits of v1."
    assert view.figure_alt == "Timeline of v1"
    assert view.table_caption == "4 events"
    pd.testing.assert_frame_equal(view.table, events_table(feed))
    (ax,) = view.figure.axes
    assert ax.get_title() == "Timeline of visitor v1: 4 events in 2 visits"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["page", "conversion", "static_data"]
    (dots,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(dots.get_offsets()) == 4


@pytest.mark.parametrize(
    ("by", "what"), [("visitor_code", "visitor code"), ("mapping_value", "mapping value")]
)
def test_feed_view_of_an_empty_feed_is_a_status_only(by, what) -> None:
    empty = _feed().iloc[:0]
    view = feed_view(empty, FeedSnapshot("nobody", by, ["page"], 0), "s1")
    assert view == View(status=f"s1: no events for {what} 'nobody'.")


# -- from a view to the panel's outputs --------------------------------------------------------


def test_a_view_renders_to_a_png_and_an_html_table() -> None:
    view = feed_view(_feed(), FeedSnapshot("v1", "visitor_code", ["page"], 3), "s1")
    result = _base._Result.of(view, _feed())
    png, table = result.outputs
    assert base64.b64decode(png["data"]["image/png"]).startswith(b"\x89PNG")
    assert png["data"]["text/plain"] == "Timeline of v1"
    assert table["data"]["text/html"].startswith("<p><b>4 events</b></p>")
    assert table["data"]["text/html"].count("<tr") == 1 + 4
    assert result.status == view.status

    assert _base._Result.of(View(status="nothing"), _feed()).outputs == ()
