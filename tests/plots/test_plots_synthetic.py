"""The plot functions on small frames built to the declared schemas: shapes, labels, bad input."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from kameleoon_pandas import plots
from kameleoon_pandas._exceptions import ValidationError
from kameleoon_pandas.frames.schemas import PRODUCT_COUNTERS, VISITOR_FEED, empty_frame

from . import synthetic


def test_top_products_bars_are_the_largest_in_order() -> None:
    df = synthetic.counters(n_eans=6, n_windows=3)
    ax = plots.plot_top_products(df, metric="views", n=4)
    assert ax.get_title() == "Top 4 products by views"
    assert ax.get_xlabel() == "Views (count)"
    widths = [bar.get_width() for bar in ax.patches]
    # EAN-005 has 60 views a window over 3 windows; barh draws the largest at the top (last).
    assert widths == [90.0, 120.0, 150.0, 180.0]
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "EAN-005"


def test_top_products_labels_with_names_and_draws_into_a_given_axes() -> None:
    df = synthetic.counters(n_eans=3, n_windows=2)
    df["name"] = df["ean"].map({"EAN-000": "Mug", "EAN-001": "Lamp", "EAN-002": "Desk"})
    _fig, ax = plt.subplots()
    out = plots.plot_top_products(df, metric="add_to_cart_quantity", n=10, ax=ax)
    assert out is ax
    assert ax.get_xlabel() == "Added to cart (items)"
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Mug (EAN-000)",
        "Lamp (EAN-001)",
        "Desk (EAN-002)",
    ]


def test_counters_total_and_per_product() -> None:
    df = synthetic.counters(n_eans=4, n_windows=24, step="1h")
    ax = plots.plot_counters(df, metric="add_to_cart_quantity")
    assert ax.get_title() == "Add-to-cart quantity per hour in total"
    assert ax.get_ylabel() == "Added to cart (items)"
    assert ax.get_xlabel() == "Window start (UTC)"
    (line,) = ax.get_lines()
    assert len(line.get_xdata()) == 24
    np.testing.assert_array_equal(line.get_ydata(), np.full(24, 1 + 2 + 3 + 4))

    ax = plots.plot_counters(df, metric="views", by="ean")
    assert len(ax.get_lines()) == 4
    assert ax.get_legend().get_texts()[0].get_text() == "EAN-003"


def test_funnel_shows_rates_between_steps() -> None:
    df = synthetic.counters(n_eans=2, n_windows=1)  # views 10+20, atc 1+2, bought 0+1
    ax = plots.plot_funnel(df)
    assert [p.get_height() for p in ax.patches] == [30.0, 3.0, 1.0]
    notes = [t.get_text() for t in ax.texts]
    assert "→ 10.0%" in notes and "→ 33.3%" in notes


def test_timeline_lanes_visits_and_one_colour_per_visitor() -> None:
    feed = synthetic.feed()
    ax = plots.plot_timeline(feed, visitor_codes="alice0000000001")
    assert ax.get_title() == "Timeline of visitor alice0000000001: 7 events in 2 visits"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["page", "conversion", "static_data"]
    assert len([c for c in ax.collections if isinstance(c, PathCollection)]) == 1
    assert len(ax.patches) == 2  # one shaded band per visit

    ax = plots.plot_timeline(feed)
    assert len([c for c in ax.collections if isinstance(c, PathCollection)]) == 3
    assert len(ax.patches) == 6


def test_conversions_per_goal_count_negatives_as_cancellations() -> None:
    feed = synthetic.feed()
    cancel = feed[feed["kind"] == "conversion"].head(1).copy()
    cancel["negative"] = pd.array([True], dtype="boolean")
    feed = pd.concat([feed, cancel], ignore_index=True)
    ax = plots.plot_conversions(feed, freq="1D")
    assert ax.get_ylabel() == "Conversions (count)"
    assert ax.right_ax.get_ylabel() == "Revenue (currency units)"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"goal 100", "goal 101"}
    # goal 100: alice (10.0) and carol (30.0) converted, alice's was cancelled once.
    assert list(lines["goal 100"].get_ydata()) == [1.0]
    revenue = [list(line.get_ydata()) for line in ax.right_ax.get_lines()]
    assert [30.0] in revenue and [20.0] in revenue


@pytest.mark.parametrize(
    ("fn", "schema"),
    [
        (plots.plot_top_products, PRODUCT_COUNTERS),
        (plots.plot_counters, PRODUCT_COUNTERS),
        (plots.plot_funnel, PRODUCT_COUNTERS),
        (plots.plot_timeline, VISITOR_FEED),
        (plots.plot_conversions, VISITOR_FEED),
    ],
)
def test_empty_frames_give_a_labelled_empty_plot(fn, schema) -> None:
    ax = fn(empty_frame(schema))
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert any(t.get_text().startswith("No ") for t in ax.texts)


def test_bad_input_names_the_parameter_or_column() -> None:
    df = synthetic.counters(n_eans=2, n_windows=2)
    with pytest.raises(ValidationError, match="metric must be one of"):
        plots.plot_top_products(df, metric="clicks")
    with pytest.raises(ValidationError, match="n must be a positive integer"):
        plots.plot_top_products(df, n=0)
    with pytest.raises(ValidationError, match=r"missing column\(s\) \['window_end'\]"):
        plots.plot_counters(df.drop(columns="window_end"))
    with pytest.raises(ValidationError, match="freq must be a fixed pandas frequency"):
        plots.plot_conversions(synthetic.feed(), freq="1M")
    with pytest.raises(ValidationError, match="not in the feed"):
        plots.plot_timeline(synthetic.feed(), visitor_codes=["nobody"])
    with pytest.raises(ValidationError, match="must be a pandas DataFrame"):
        plots.plot_funnel([1, 2, 3])
