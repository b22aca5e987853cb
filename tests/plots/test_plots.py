"""Each plot on real loader output from the demo emulator, asserting on the Axes it returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from kameleoon_pandas import plots
from kameleoon_pandas.demo import demo_identifiers
from kameleoon_pandas.loaders import read_product_counters, read_visitor_feeds

END = pd.Timestamp.now(tz="UTC").floor("1D")


@pytest.fixture(scope="module")
def ids(demo_server) -> dict[str, list[str]]:
    return demo_identifiers(demo_server.state, "demosite01", visitors=300)


@pytest.fixture(scope="module")
def hourly(demo_client, ids) -> pd.DataFrame:
    return read_product_counters(
        ids["eans"],
        start=END - pd.Timedelta(days=2),
        end=END,
        freq="1h",
        client=demo_client,
        progress=False,
    )


@pytest.fixture(scope="module")
def feed(demo_client, ids) -> pd.DataFrame:
    return read_visitor_feeds(ids["visitor_codes"], client=demo_client, progress=False)


def test_top_products_on_counters(hourly) -> None:
    ax = plots.plot_top_products(hourly, metric="views", n=10)
    assert ax.get_title() == "Top 10 products by views"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Views (count)", "Product (EAN)")
    assert len(ax.patches) == 10
    expected = hourly.groupby("ean")["views"].sum().nlargest(10)
    widths = [p.get_width() for p in ax.patches][::-1]  # largest drawn at the top
    assert widths == [float(v) for v in expected.to_numpy()]
    assert ax.get_yticklabels()[-1].get_text() == expected.index[0]


def test_counters_over_time_on_counters(hourly) -> None:
    ax = plots.plot_counters(hourly, metric="views")
    assert ax.get_title() == "Views per hour in total"
    (line,) = ax.get_lines()
    assert len(line.get_xdata()) == 48
    assert line.get_ydata().sum() == hourly["views"].sum()

    ax = plots.plot_counters(hourly, metric="bought_quantity", by="ean")
    assert ax.get_title() == "Bought quantity per hour by ean (top 10 of 200)"
    assert ax.get_ylabel() == "Bought (items)"
    assert len(ax.get_lines()) == plots.MAX_SERIES


def test_funnel_on_counters(hourly) -> None:
    ax = plots.plot_funnel(hourly)
    totals = [float(hourly[c].sum()) for c in plots.METRICS]
    assert [p.get_height() for p in ax.patches] == totals
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Viewed", "Added to cart", "Bought"]
    assert f"→ {totals[1] / totals[0]:.1%}" in [t.get_text() for t in ax.texts]


def test_timeline_on_feeds(feed) -> None:
    codes = list(feed["visitor_code"].unique()[:3])
    ax = plots.plot_timeline(feed, visitor_codes=codes)
    mine = feed[feed["visitor_code"].isin(codes)]
    visits = mine[["visitor_code", "visit"]].drop_duplicates()
    assert (
        ax.get_title() == f"Timeline of 3 visitors: {len(mine):,} events in {len(visits):,} visits"
    )
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Time (UTC)", "Event kind")
    lanes = [t.get_text() for t in ax.get_yticklabels()]
    assert set(lanes) == set(mine["kind"])
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 3
    assert sum(len(c.get_offsets()) for c in scatters) == len(mine)
    assert len(ax.patches) == len(visits)


def test_conversions_on_feeds(feed) -> None:
    ax = plots.plot_conversions(feed, freq="1D")
    conv = feed[feed["kind"] == "conversion"]
    goals = sorted(conv["goal_id"].dropna().unique())
    assert ax.get_title() == "Conversions and revenue per goal, per day"
    assert ax.get_ylabel() == "Conversions (count)"
    assert ax.right_ax.get_ylabel() == "Revenue (currency units)"
    lines = ax.get_lines()
    assert sorted(line.get_label() for line in lines) == sorted(f"goal {g}" for g in goals)
    sign = np.where(conv["negative"].fillna(False).to_numpy(dtype=bool), -1, 1)
    assert sum(line.get_ydata().sum() for line in lines) == sign.sum()
    with_revenue = conv.loc[conv["revenue"].fillna(0) != 0, "goal_id"].nunique()
    assert len(ax.right_ax.get_lines()) == with_revenue
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [line.get_label() for line in lines] + [
        "conversions (left)",
        "revenue (right)",
    ]
    revenue = sum(line.get_ydata().sum() for line in ax.right_ax.get_lines())
    assert revenue == pytest.approx(float((conv["revenue"].fillna(0) * sign).sum()))
