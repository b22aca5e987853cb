"""The pure half of the panels: a loaded frame and a snapshot of the controls in, a View out.

Nothing here touches a widget, a thread or the API. A panel reads its controls into a snapshot
(:class:`CountersSnapshot`, :class:`FeedSnapshot`), loads a frame on its worker thread and hands
both to a view function (:func:`counters_view`, :func:`feed_view`), which aggregates, draws into
a new pyplot-free Figure and builds the table. So each step can be tested on a small frame,
without ipywidgets or a server; ``_base`` turns the :class:`View` into the panel's outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import plots

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CountersSnapshot",
    "FeedSnapshot",
    "View",
    "counters_table",
    "counters_view",
    "events_table",
    "feed_view",
    "new_figure",
    "product_names",
    "rank_products",
]


@dataclass(frozen=True)
class CountersSnapshot:
    """The CountersPanel's control values for one load (read on the kernel thread)."""

    #: The EANs to count, de-duplicated, in the order typed.
    eans: list[str]
    #: The start of the range (UTC, inclusive).
    start: pd.Timestamp
    #: The end of the range (UTC, exclusive).
    end: pd.Timestamp
    #: A pandas frequency for the windows, or ``"all"`` for one window over the range.
    freq: str
    #: The counter to rank and plot: a key of ``kp.plots.METRICS``.
    metric: str
    #: How many products the bar chart and the table show.
    top_n: int


@dataclass(frozen=True)
class FeedSnapshot:
    """The VisitorFeedPanel's control values for one load (read on the kernel thread)."""

    #: The visitor code or mapping value to look up.
    code: str
    #: ``"visitor_code"`` or ``"mapping_value"``.
    by: str
    #: The kinds of events to load.
    kinds: list[str]
    #: How many previous visits to load besides the current one.
    previous_visits: int


@dataclass(frozen=True)
class View:
    """What a panel shows after one load: a figure and a table (either may be absent), a status."""

    #: The status line (plain text; the panel escapes it).
    status: str
    #: The figure to show as a PNG, or None for none.
    figure: Figure | None = None
    #: The PNG's plain-text alternative.
    figure_alt: str = ""
    #: The table to show as HTML, or None for none.
    table: pd.DataFrame | None = None
    #: The caption above the table.
    table_caption: str = ""


def new_figure(width: float, height: float) -> Figure:
    """A new Figure of ``width`` x ``height`` inches, outside pyplot (safe on a worker thread)."""
    # Figure() rather than plt.figure(): pyplot's global state is not thread-safe, and a panel
    # must not leave figures behind for the notebook's inline backend to draw a second time.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _span(start: pd.Timestamp, end: pd.Timestamp) -> str:
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"


# -- counters ----------------------------------------------------------------------------------


def rank_products(counters: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Every counter summed per EAN (index ``ean``), the largest ``metric`` first (stable)."""
    return (
        counters.groupby("ean", observed=True)[list(plots.METRICS)]
        .sum()
        .sort_values(metric, ascending=False, kind="stable")
    )


def product_names(data: Mapping[str, Mapping[str, Any] | None]) -> pd.DataFrame:
    """``ean, name`` (string columns) from a ``Client.get_product_data`` answer (ean -> data)."""
    return pd.DataFrame(
        {
            "ean": pd.array(list(data), dtype="string"),
            "name": pd.array([(v or {}).get("name") for v in data.values()], dtype="string"),
        }
    )


def counters_table(top: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    """The counters table: ``top`` (from :func:`rank_products`) with names and bought per view.

    Columns: ``ean``, ``name`` (when ``names`` has rows), the counters, and ``bought_per_view``
    (bought quantity / views, rounded to 4 places; missing where a product has no views).
    """
    table = top.reset_index()
    if len(names):
        table = table.merge(names, on="ean", how="left")
        table = table[["ean", "name", *plots.METRICS]]
    views = table["views"].astype("float64")
    table["bought_per_view"] = (
        (table["bought_quantity"].astype("float64") / views).where(views > 0).round(4)
    )
    return table


def counters_view(
    counters: pd.DataFrame, names: pd.DataFrame, s: CountersSnapshot, site_code: str
) -> View:
    """The CountersPanel's view of a loaded counters frame.

    The figure has two Axes: the top ``s.top_n`` products by ``s.metric`` (labelled with
    ``names``) and the metric over time in total. The table is :func:`counters_table` of the
    top products; the status counts EANs, windows and views.
    """
    metric, top_n = s.metric, s.top_n
    totals = rank_products(counters, metric)
    top = totals.head(top_n)
    labelled = counters.merge(names, on="ean", how="left") if len(names) else counters

    fig = new_figure(11.0, 4.2)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
    plots.plot_top_products(labelled, metric=metric, n=top_n, ax=left)
    plots.plot_counters(counters, metric=metric, ax=right)

    table = counters_table(top, names)
    span = _span(s.start, s.end)
    n_windows = counters["window_start"].nunique()
    return View(
        status=(
            f"{site_code}: {len(s.eans)} EANs × {n_windows} windows ({span}); "
            f"{int(totals['views'].sum()):,} views in total."
        ),
        figure=fig,
        figure_alt=f"Top {top_n} products by {metric}, {site_code}, {span}",
        table=table,
        table_caption=f"Top {len(table)} of {len(totals)} products, {span}",
    )


# -- visitor feeds -----------------------------------------------------------------------------

#: Columns that describe an event in the feed table, in display order, per kind.
_DETAIL_COLUMNS = (
    "title",
    "href",
    "goal_id",
    "revenue",
    "custom_data_index",
    "value",
    "count",
    "experiment_id",
    "personalization_id",
    "variation_id",
    "country",
    "city",
    "device_type",
    "browser",
    "os",
)


def events_table(feed: pd.DataFrame) -> pd.DataFrame:
    """A compact view of a feed: visit, kind, time and the event's non-empty details.

    ``visitor_code`` is kept only when the feed has more than one visitor; rows are sorted by
    time (stable, missing times first).
    """
    details = [c for c in _DETAIL_COLUMNS if c in feed.columns and feed[c].notna().any()]
    cols = ["visitor_code", "visit", "kind", "time", *details]
    if feed["visitor_code"].nunique() <= 1:
        cols.remove("visitor_code")
    return feed[cols].sort_values(["time"], kind="stable", na_position="first")


def feed_view(feed: pd.DataFrame, s: FeedSnapshot, site_code: str) -> View:
    """The VisitorFeedPanel's view of a loaded feed: the timeline and :func:`events_table`.

    An empty feed gives a status only (no figure, no table).
    """
    if feed.empty:
        what = "visitor code" if s.by == "visitor_code" else "mapping value"
        return View(status=f"{site_code}: no events for {what} {s.code!r}.")
    fig = new_figure(11.0, 3.8)
    plots.plot_timeline(feed, ax=fig.subplots())
    visits = feed[["visitor_code", "visit"]].drop_duplicates()
    return View(
        status=f"{site_code}: {len(feed):,} events in {len(visits):,} visits of {s.code}.",
        figure=fig,
        figure_alt=f"Timeline of {s.code}",
        table=events_table(feed),
        table_caption=f"{len(feed)} events",
    )
