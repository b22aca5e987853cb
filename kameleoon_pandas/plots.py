"""Matplotlib plots of the frames the loaders return.

Every function takes the frame first and ``ax=None`` (a new figure when missing), returns the
Axes, labels both axes with their units and sets a title. None of them calls ``plt.show()``:
Jupyter draws the figure at the end of the cell, and a script decides for itself.

- :func:`plot_top_products` — top-N products by a counter (bars), from ``read_product_counters``.
- :func:`plot_counters` — a counter over time, in total or per product.
- :func:`plot_funnel` — views -> add to cart -> bought, with the rates between steps.
- :func:`plot_timeline` — one or a few visitors' events, one lane per kind, visits shaded.
- :func:`plot_conversions` — conversions and revenue per goal over time, from a visitor feed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Day, Tick

from ._exceptions import ValidationError
from .frames.schemas import FEED_KINDS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "plot_conversions",
    "plot_counters",
    "plot_experiment",
    "plot_funnel",
    "plot_timeline",
    "plot_top_products",
]

#: Counter columns -> (axis label with unit, short name for titles).
METRICS: dict[str, tuple[str, str]] = {
    "views": ("Views (count)", "views"),
    "add_to_cart_quantity": ("Added to cart (items)", "add-to-cart quantity"),
    "bought_quantity": ("Bought (items)", "bought quantity"),
}

#: Timeline lanes, top to bottom, in the order of the schema's kinds.
KIND_ORDER: tuple[str, ...] = tuple(FEED_KINDS)

#: At most this many visitors share one timeline, or products one time-series chart.
MAX_SERIES = 10

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


# -- helpers -----------------------------------------------------------------------------------


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (9.0, 4.5)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # pyplot only when we must create the figure

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _require(df: object, columns: Iterable[str], what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValidationError(f"{what} is missing column(s) {missing}; has {list(df.columns)}")
    return df


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValidationError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    return metric


def _no_data(ax: Axes, message: str = "No data") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")


def _numeric(series: pd.Series) -> pd.Series:
    """Nullable counts -> float with zeros for missing, so sums and plotting never choke on NA."""
    return pd.to_numeric(series, errors="coerce").astype("float64").fillna(0.0)


def _naive_utc(times: pd.Series) -> pd.Series:
    # Matplotlib's date converter wants naive or plain datetimes; label the axis "UTC" instead.
    return pd.to_datetime(times, utc=True).dt.tz_localize(None)


def describe_freq(step: pd.Timedelta | None) -> str:
    """Describe a window size for a title: ``1h`` -> "per hour", ``15min`` -> "per 15 min".

    Parameters
    ----------
    step : Timedelta or None
        The window size.

    Returns
    -------
    str
        ``"per minute"``, ``"per hour"``, ``"per day"``, ``"per week"``, else ``"per N days"``,
        ``"per N hours"``, ``"per N min"`` or ``"per N s"``; ``""`` for ``None``, ``NaT`` or a
        step that is not positive.

    Examples
    --------
    >>> describe_freq(pd.Timedelta("1D"))
    'per day'
    >>> describe_freq(pd.Timedelta("15min"))
    'per 15 min'
    >>> describe_freq(None)
    ''
    """
    if step is None or pd.isna(step) or step <= pd.Timedelta(0):
        return ""
    names = {
        pd.Timedelta(minutes=1): "per minute",
        pd.Timedelta(hours=1): "per hour",
        pd.Timedelta(days=1): "per day",
        pd.Timedelta(weeks=1): "per week",
    }
    if step in names:
        return names[step]
    seconds = step.total_seconds()
    if seconds % 86400 == 0:
        return f"per {int(seconds // 86400)} days"
    if seconds % 3600 == 0:
        return f"per {int(seconds // 3600)} hours"
    if seconds % 60 == 0:
        return f"per {int(seconds // 60)} min"
    return f"per {seconds:g} s"


def _format_time_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _product_labels(df: pd.DataFrame, eans: pd.Index) -> list[str]:
    """The product name next to its EAN when the frame carries a ``name`` column."""
    if "name" not in df.columns:
        return [str(e) for e in eans]
    names = df.drop_duplicates("ean").set_index("ean")["name"]
    labels = []
    for ean in eans:
        name = names.get(ean)
        if name is None or pd.isna(name) or not str(name):
            labels.append(str(ean))
        else:
            short = str(name) if len(str(name)) <= 32 else str(name)[:31] + "…"
            labels.append(f"{short} ({ean})")
    return labels


# -- counters ----------------------------------------------------------------------------------


def plot_top_products(
    df: pd.DataFrame, metric: str = "views", n: int = 10, ax: Axes | None = None
) -> Axes:
    """Horizontal bars of the ``n`` products with the most ``metric``, summed over all windows.

    The largest is at the top; each bar is labelled with its total.

    Parameters
    ----------
    df : DataFrame
        A :func:`~kameleoon_pandas.read_product_counters` frame: ``ean`` and the ``metric``
        column. A ``name`` column (joined from product data) labels the bars "name (ean)".
    metric : {"views", "add_to_cart_quantity", "bought_quantity"}, default "views"
        The counter to rank by.
    n : int, default 10
        How many products to draw.
    ax : matplotlib.axes.Axes, optional
        The Axes to draw into; ``None`` creates a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into, with "No data" on it when ``df`` has no rows.

    Raises
    ------
    ValidationError
        When ``metric`` is unknown, ``n`` is not a positive integer, or ``df`` is not a
        DataFrame or lacks a needed column.

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> counters = kp.read_product_counters(eans, start="2026-11-01", end="2026-11-08")
    >>> ax = kp.plots.plot_top_products(counters, metric="bought_quantity", n=5)
    """
    _check_metric(metric)
    _require(df, ["ean", metric], "df")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValidationError(f"n must be a positive integer, got {n!r}")
    label, short = METRICS[metric]
    ax = _new_axes(ax)
    totals = _numeric(df[metric]).groupby(df["ean"].astype("string")).sum()
    top = totals.sort_values(ascending=False, kind="stable").head(int(n))
    ax.set_title(f"Top {len(top) if len(top) else n} products by {short}")
    ax.set_xlabel(label)
    ax.set_ylabel("Product (EAN)")
    if top.empty:
        _no_data(ax)
        return ax
    top = top.iloc[::-1]  # barh draws bottom-up: put the largest at the top
    y = np.arange(len(top))
    bars = ax.barh(y, top.to_numpy(), color=_COLORS[0])
    ax.set_yticks(y, _product_labels(df, top.index))
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in top.to_numpy()], padding=3, fontsize=8)
    ax.margins(x=0.12)
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_counters(
    df: pd.DataFrame, metric: str = "views", by: str | None = None, ax: Axes | None = None
) -> Axes:
    """A counter over time: one line in total, or one per value of ``by`` (e.g. ``"ean"``).

    Each point sits at its window's start; the title names the window size ("per hour").

    Parameters
    ----------
    df : DataFrame
        A :func:`~kameleoon_pandas.read_product_counters` frame with several windows (read it
        with ``freq=``): ``window_start``, ``window_end`` and the ``metric`` column.
    metric : {"views", "add_to_cart_quantity", "bought_quantity"}, default "views"
        The counter to draw.
    by : str, optional
        A column to draw one line per value of (missing values as "(none)"); only the
        ``MAX_SERIES`` largest series are drawn, and the title says so. ``None`` (the default)
        draws one line, the total.
    ax : matplotlib.axes.Axes, optional
        The Axes to draw into; ``None`` creates a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into, with "No data" on it when ``df`` has no rows.

    Raises
    ------
    ValidationError
        When ``metric`` is unknown, or ``df`` is not a DataFrame or lacks a needed column
        (``by`` included).

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> hourly = kp.read_product_counters(eans, start="2026-11-01", end="2026-11-03", freq="1h")
    >>> ax = kp.plots.plot_counters(hourly, metric="views")
    >>> ax = kp.plots.plot_counters(hourly, metric="bought_quantity", by="ean")
    """
    _check_metric(metric)
    _require(df, ["window_start", "window_end", metric] + ([by] if by else []), "df")
    label, short = METRICS[metric]
    ax = _new_axes(ax)
    steps = pd.to_timedelta(df["window_end"] - df["window_start"]).dropna()
    per = describe_freq(steps.median() if len(steps) else None)
    scope = "in total" if by is None else f"by {by}"
    ax.set_title(f"{short.capitalize()} {per} {scope}".replace("  ", " "))
    ax.set_xlabel("Window start (UTC)")
    ax.set_ylabel(label)
    if df.empty:
        _no_data(ax)
        return ax
    values = _numeric(df[metric])
    start = _naive_utc(df["window_start"])
    if by is None:
        series = values.groupby(start).sum().sort_index()
        ax.plot(series.index, series.to_numpy(), marker="o" if len(series) < 50 else None)
    else:
        keys = df[by].astype("string").fillna("(none)")
        table = values.groupby([start, keys]).sum().unstack(fill_value=0).sort_index()
        order = table.sum().sort_values(ascending=False, kind="stable").index[:MAX_SERIES]
        marker = "o" if len(table) < 50 else None
        for key in order:
            ax.plot(table.index, table[key].to_numpy(), label=str(key), marker=marker)
        if len(order) < table.shape[1]:
            ax.set_title(f"{ax.get_title()} (top {len(order)} of {table.shape[1]})")
        ax.legend(title=by, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_ylim(bottom=0)
    _format_time_axis(ax)
    ax.grid(alpha=0.3)
    return ax


def plot_funnel(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Views -> added to cart -> bought over all rows, with the conversion rate between steps.

    Views count events; the two later steps count items (quantities), as the Data API reports
    them. A rate after a step with a zero total reads "n/a".

    Parameters
    ----------
    df : DataFrame
        A :func:`~kameleoon_pandas.read_product_counters` frame: ``views``,
        ``add_to_cart_quantity`` and ``bought_quantity``.
    ax : matplotlib.axes.Axes, optional
        The Axes to draw into; ``None`` creates a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into, with "No data" on it when every total is zero.

    Raises
    ------
    ValidationError
        When ``df`` is not a DataFrame or lacks one of the three counter columns.

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> counters = kp.read_product_counters(eans, start="2026-11-01", end="2026-11-08")
    >>> ax = kp.plots.plot_funnel(counters)
    """
    steps = list(METRICS)
    _require(df, steps, "df")
    ax = _new_axes(ax, figsize=(7.0, 4.5))
    totals = np.array([_numeric(df[c]).sum() for c in steps], dtype=float)
    names = ["Viewed", "Added to cart", "Bought"]
    bars = ax.bar(names, totals, color=[_COLORS[0], _COLORS[1], _COLORS[2]], width=0.6)
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in totals], padding=3, fontsize=9)
    ax.set_title("Product funnel: views → add to cart → bought")
    ax.set_xlabel("Step")
    ax.set_ylabel("Views (count) / items (quantity)")
    top = totals.max() if totals.size and totals.max() > 0 else 1.0
    ax.set_ylim(0, top * 1.25)
    for i in range(1, len(totals)):
        rate = totals[i] / totals[i - 1] if totals[i - 1] else float("nan")
        text = "n/a" if np.isnan(rate) else f"{rate:.1%}"
        ax.annotate(
            f"→ {text}",
            xy=(i - 0.5, top * 1.12),
            ha="center",
            va="center",
            fontsize=9,
            color="0.25",
            bbox={"boxstyle": "round,pad=0.25", "fc": "0.95", "ec": "0.7"},
        )
    if not totals.any():
        _no_data(ax)
    ax.grid(axis="y", alpha=0.3)
    return ax


# -- visitor feeds -----------------------------------------------------------------------------


def _fixed_step(freq: str) -> pd.Timedelta:
    """``freq`` as a Timedelta; a ValidationError unless it is a fixed frequency."""
    message = f"freq must be a fixed pandas frequency like '1h' or '1D', got {freq!r}"
    try:
        offset = to_offset(freq)
    except (ValueError, TypeError) as exc:
        raise ValidationError(message) from exc
    # Ticks (hours, minutes, ...) and days are fixed; weeks, months and business days are not.
    if not isinstance(offset, Tick | Day):
        raise ValidationError(message)
    return pd.Timedelta(offset.nanos, unit="ns")


def _visitor_list(visitor_codes: str | Sequence[str] | None) -> list[str] | None:
    if visitor_codes is None:
        return None
    if isinstance(visitor_codes, str):
        return [visitor_codes]
    codes = list(visitor_codes)
    bad = [c for c in codes if not isinstance(c, str)]
    if bad:
        raise ValidationError(f"visitor_codes must be strings, got {bad[0]!r}")
    return codes


def plot_timeline(
    feed: pd.DataFrame, visitor_codes: str | Sequence[str] | None = None, ax: Axes | None = None
) -> Axes:
    """Events of one or a few visitors on a time axis, one lane per kind, each visit shaded.

    The lanes are the kinds present, in the schema's order; each visitor is one colour (with a
    legend when there are several); rows without a time are left out.

    Parameters
    ----------
    feed : DataFrame
        A :func:`~kameleoon_pandas.read_visitor_feeds` frame: ``visitor_code``, ``visit``,
        ``visit_started``, ``visit_last_event``, ``kind`` and ``time``.
    visitor_codes : str or sequence of str, optional
        The visitors to draw; codes not in the feed are skipped as long as one is there.
        ``None`` (the default) draws every visitor in the feed, at most ``MAX_SERIES``, the
        busiest first.
    ax : matplotlib.axes.Axes, optional
        The Axes to draw into; ``None`` creates a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into, with "No events" on it when there are none to draw.

    Raises
    ------
    ValidationError
        When ``feed`` is not a DataFrame or lacks a needed column, a visitor code is not a
        string, or none of ``visitor_codes`` is in the feed.

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> feed = kp.read_visitor_feeds(["0a1b2c3d4e5f6a7b"], previous_visits=5)
    >>> ax = kp.plots.plot_timeline(feed, visitor_codes="0a1b2c3d4e5f6a7b")
    """
    _require(
        feed, ["visitor_code", "visit", "visit_started", "visit_last_event", "kind", "time"], "feed"
    )
    codes = _visitor_list(visitor_codes)
    ax = _new_axes(ax, figsize=(10.0, 4.0))
    frame = feed
    if codes is not None:
        unknown = [c for c in codes if not (feed["visitor_code"] == c).any()]
        if unknown and len(unknown) == len(codes):
            raise ValidationError(f"visitor_codes {unknown} are not in the feed")
        frame = feed[feed["visitor_code"].isin(codes)]
    else:
        busiest = frame["visitor_code"].value_counts(sort=True).index[:MAX_SERIES]
        codes = [str(c) for c in busiest]
        frame = frame[frame["visitor_code"].isin(codes)]
    frame = frame[frame["time"].notna()]
    who = f"visitor {codes[0]}" if len(codes) == 1 else f"{len(codes)} visitors"
    visits = frame[["visitor_code", "visit", "visit_started", "visit_last_event"]].drop_duplicates(
        ["visitor_code", "visit"]
    )
    ax.set_title(f"Timeline of {who}: {len(frame):,} events in {len(visits):,} visits")
    ax.set_xlabel("Time (UTC)")
    ax.set_ylabel("Event kind")
    if frame.empty:
        _no_data(ax, "No events")
        return ax
    present = set(frame["kind"].dropna().astype(str))
    kinds = [k for k in KIND_ORDER if k in present] + sorted(present - set(KIND_ORDER))
    lane = {k: i for i, k in enumerate(kinds)}
    # Visits first, under the events: one band per visit, alternating shade.
    starts = _naive_utc(visits["visit_started"].fillna(visits["visit_last_event"]))
    ends = _naive_utc(visits["visit_last_event"].fillna(visits["visit_started"]))
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        if pd.isna(s) or pd.isna(e):
            continue
        e = max(e, s + pd.Timedelta(seconds=1))  # a one-event visit still gets a visible band
        ax.axvspan(s, e, color="0.85" if i % 2 == 0 else "0.75", alpha=0.5, lw=0, zorder=0)
    times = _naive_utc(frame["time"])
    y = frame["kind"].astype(str).map(lane).to_numpy(dtype=float)
    for i, code in enumerate(codes):
        mask = (frame["visitor_code"] == code).to_numpy()
        if not mask.any():
            continue
        # A little vertical offset per visitor keeps overlapping markers apart.
        offset = 0.0 if len(codes) == 1 else (i - (len(codes) - 1) / 2) * 0.5 / len(codes)
        ax.scatter(
            times[mask],
            y[mask] + offset,
            s=28,
            label=code,
            zorder=3,
            color=_COLORS[i % len(_COLORS)],
            edgecolors="white",
            linewidths=0.5,
        )
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_ylim(-0.7, len(kinds) - 0.3)
    ax.invert_yaxis()
    _format_time_axis(ax)
    ax.grid(axis="x", alpha=0.3)
    if len(codes) > 1:
        ax.legend(title="visitor", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def plot_conversions(feed: pd.DataFrame, freq: str = "1D", ax: Axes | None = None) -> Axes:
    """Conversions (solid, left axis) and revenue (dashed, right axis) per goal over time.

    Only ``conversion`` rows count, and a ``negative`` conversion cancels one (count and
    revenue). At most the ``MAX_SERIES`` goals with the most conversions are drawn; goals
    without revenue get no revenue line.

    Parameters
    ----------
    feed : DataFrame
        A :func:`~kameleoon_pandas.read_visitor_feeds` frame: ``kind``, ``time``, ``goal_id``
        and ``revenue`` (``negative`` when present).
    freq : str, default "1D"
        A fixed pandas frequency for the buckets (``"1h"``, ``"1D"``, ``"7D"``).
    ax : matplotlib.axes.Axes, optional
        The Axes to draw into; ``None`` creates a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes of the conversions (left axis), with "No conversions" on it when there are
        none; the revenue axis is ``ax.right_ax`` (as pandas' ``secondary_y``).

    Raises
    ------
    ValidationError
        When ``freq`` is not a fixed frequency (``"1W"`` and ``"ME"`` are not), or ``feed`` is
        not a DataFrame or lacks a needed column.

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> feed = kp.read_visitor_feeds(visitor_codes)
    >>> ax = kp.plots.plot_conversions(feed, freq="1D")
    >>> ax.right_ax.get_ylabel()
    'Revenue (currency units)'
    """
    _require(feed, ["kind", "time", "goal_id", "revenue"], "feed")
    step = _fixed_step(freq)
    ax = _new_axes(ax)
    right = ax.twinx()
    # As pandas does for secondary_y. Axes declares no such attribute: set it on the instance.
    vars(ax)["right_ax"] = right
    conv = feed[(feed["kind"] == "conversion") & feed["time"].notna()]
    per = describe_freq(step)
    ax.set_title(f"Conversions and revenue per goal, {per}")
    ax.set_xlabel("Time (UTC)")
    ax.set_ylabel("Conversions (count)")
    right.set_ylabel("Revenue (currency units)")
    if conv.empty:
        _no_data(ax, "No conversions")
        return ax
    sign = (
        np.where(conv["negative"].fillna(False).to_numpy(dtype=bool), -1.0, 1.0)
        if ("negative" in conv.columns)
        else np.ones(len(conv))
    )
    bucket = _naive_utc(conv["time"]).dt.floor(step)
    goal = conv["goal_id"].astype("string").fillna("(none)")
    work = pd.DataFrame(
        {
            "bucket": bucket.to_numpy(),
            "goal": goal.to_numpy(),
            "n": sign,
            "revenue": _numeric(conv["revenue"]).to_numpy() * sign,
        }
    )
    grid = pd.date_range(work["bucket"].min(), work["bucket"].max(), freq=step)
    counts = work.pivot_table(
        index="bucket", columns="goal", values="n", aggfunc="sum", fill_value=0.0
    ).reindex(grid, fill_value=0.0)
    revenue = work.pivot_table(
        index="bucket", columns="goal", values="revenue", aggfunc="sum", fill_value=0.0
    ).reindex(grid, fill_value=0.0)
    order = counts.sum().sort_values(ascending=False, kind="stable").index[:MAX_SERIES]
    few = len(grid) < 40
    handles = []
    for i, g in enumerate(order):
        color = _COLORS[i % len(_COLORS)]
        (line,) = ax.plot(
            grid, counts[g].to_numpy(), color=color, marker="o" if few else None, label=f"goal {g}"
        )
        handles.append(line)
        if not revenue[g].any():
            continue  # a goal without revenue would only draw a dashed line along zero
        right.plot(
            grid,
            revenue[g].to_numpy(),
            color=color,
            ls="--",
            alpha=0.8,
            marker="x" if few else None,
        )
    # Two style keys so the legend explains solid vs dashed once, not per goal.
    handles += [
        Line2D([], [], color="0.3", label="conversions (left)"),
        Line2D([], [], color="0.3", ls="--", label="revenue (right)"),
    ]
    ax.set_ylim(bottom=min(0.0, float(counts.to_numpy().min())))
    right.set_ylim(bottom=min(0.0, float(revenue.to_numpy().min())))
    if len(grid) == 1:  # one bucket: centre it instead of letting the date axis span years
        ax.set_xlim(mdates.date2num(grid[0] - step), mdates.date2num(grid[0] + step))
    _format_time_axis(ax)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.1, 1.0))
    return ax


# -- experiments -------------------------------------------------------------------------------


#: The columns of an ``experiment_results`` frame that :func:`plot_experiment` reads.
_EXPERIMENT_COLUMNS = (
    "experiment_id",
    "variation_id",
    "goal_id",
    "uplift",
    "ci_low",
    "ci_high",
    "p_value",
    "chance_to_beat_reference",
)

_METRIC_NAMES = {"conversion_rate": "conversion rate", "revenue_per_visitor": "revenue per visitor"}


def _percent(value: float | np.floating) -> str:
    return "n/a" if pd.isna(value) else f"{value:+.1%}"


def _experiment_axes(ax: object, n: int) -> list[Axes]:
    """``n`` Axes: the ones given (one Axes, or a sequence/array of exactly ``n``), or new."""
    if ax is None:
        import matplotlib.pyplot as plt  # pyplot only when we must create the figure

        _, grid = plt.subplots(
            n, 1, figsize=(9.0, 0.8 + 2.2 * n), layout="constrained", squeeze=False
        )
        return list(grid[:, 0])
    given = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(given) != n:
        raise ValidationError(
            f"ax must hold one Axes per (experiment, goal): {n} needed, got {len(given)}"
        )
    return given


def _draw_uplifts(ax: Axes, panel: pd.DataFrame, what: str, level: str) -> None:
    """One (experiment, goal): each variation's uplift and interval against a zero line."""
    experiment, goal = panel["experiment_id"].iloc[0], panel["goal_id"].iloc[0]
    is_ref = panel["chance_to_beat_reference"].isna().to_numpy()
    refs = panel.loc[is_ref, "variation_id"].tolist()
    rows = panel[~is_ref].sort_values("variation_id", kind="stable")
    ref = f"variation {refs[0]} (reference)" if refs else "the reference"
    ax.set_title(f"Experiment {experiment}, goal {goal}: uplift vs {ref}")
    ax.set_xlabel(f"Uplift of the {what} vs {ref}, with its {level}interval (%)")
    ax.set_ylabel("Variation")
    ax.axvline(0.0, color="0.3", lw=1.0, zorder=1)
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
    if rows.empty:
        _no_data(ax, "No variation to compare")
        return
    uplift = pd.to_numeric(rows["uplift"], errors="coerce").astype("float64").to_numpy()
    low = pd.to_numeric(rows["ci_low"], errors="coerce").astype("float64").to_numpy()
    high = pd.to_numeric(rows["ci_high"], errors="coerce").astype("float64").to_numpy()
    p = pd.to_numeric(rows["p_value"], errors="coerce").astype("float64").to_numpy()
    y = np.arange(len(rows))[::-1]  # the lowest variation id at the top
    for yi, u, lo, hi, pv in zip(y, uplift, low, high, p, strict=True):
        # Green above zero, red below, grey when the interval holds 0 (or is unknown).
        color = _COLORS[2] if lo > 0 else (_COLORS[3] if hi < 0 else "0.45")
        if np.isfinite(lo) and np.isfinite(hi):
            ax.plot([lo, hi], [yi, yi], color=color, lw=2.5, solid_capstyle="butt", zorder=2)
        if np.isfinite(u):
            ax.scatter([u], [yi], color=color, s=40, zorder=3, edgecolors="white")
        p_text = "p n/a" if np.isnan(pv) else f"p = {pv:.3g}"
        ax.annotate(
            f"{_percent(u)}  [{_percent(lo)}, {_percent(hi)}]  {p_text}",
            xy=(1.0, yi),
            xycoords=("axes fraction", "data"),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color="0.2",
        )
    ax.set_yticks(y, [f"variation {v}" for v in rows["variation_id"]])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    finite = np.concatenate([uplift, low, high, [0.0]])
    finite = finite[np.isfinite(finite)]
    span = max(float(finite.max() - finite.min()), 0.01)
    ax.set_xlim(float(finite.min()) - 0.1 * span, float(finite.max()) + 0.1 * span)
    ax.grid(axis="x", alpha=0.3)


def plot_experiment(
    results: pd.DataFrame, ax: Axes | Sequence[Axes] | np.ndarray | None = None
) -> Axes | np.ndarray:
    """Each variation's uplift with its confidence interval against a zero line, per goal.

    One panel per (experiment, goal), in the order of the frame's experiments and goals; in
    a panel one row per non-reference variation (the lowest id at the top): a dot at the
    uplift, a bar over the interval (green above zero, red below, grey when it holds 0), the
    numbers to the right ("+4.2%  [-1.0%, +9.7%]  p = 0.11"). The reference is named in the
    title and the axis label; the x axis is in percent.

    Parameters
    ----------
    results : DataFrame
        A :func:`~kameleoon_pandas.experiment_results` frame: ``experiment_id``,
        ``variation_id``, ``goal_id``, ``uplift``, ``ci_low``, ``ci_high``, ``p_value`` and
        ``chance_to_beat_reference`` (missing on the reference's rows, which is how the
        reference is found). Its ``attrs`` (``metric``, ``alpha``) name the metric and the
        interval's level.
    ax : matplotlib.axes.Axes or sequence of Axes, optional
        Where to draw: one Axes for one (experiment, goal), else exactly one Axes per
        (experiment, goal) (a list or an array, e.g. from ``plt.subplots(n)``). ``None``
        (the default) creates a new figure with one panel per (experiment, goal), stacked.

    Returns
    -------
    matplotlib.axes.Axes or numpy.ndarray of matplotlib.axes.Axes
        The Axes for one (experiment, goal) (with "No data" on it when ``results`` has no
        rows); for several, a 1-D array of Axes in panel order.

    Raises
    ------
    ValidationError
        When ``results`` is not a DataFrame or lacks a needed column, or ``ax`` does not hold
        one Axes per (experiment, goal).

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> results = kp.experiment_results(feed, experiment_id=4242, goal_id=17)
    >>> ax = kp.plots.plot_experiment(results)
    >>> axes = kp.plots.plot_experiment(kp.experiment_results(feed, goal_id=[17, 18]))
    >>> len(axes)
    2
    """
    _require(results, _EXPERIMENT_COLUMNS, "results")
    what = _METRIC_NAMES.get(str(results.attrs.get("metric")), "metric")
    alpha = results.attrs.get("alpha")
    level = f"{1 - float(alpha):.0%} " if isinstance(alpha, float | int) else ""
    keys = results[["experiment_id", "goal_id"]].drop_duplicates()
    if keys.empty:
        axes = _experiment_axes(ax, 1)[0]
        axes.set_title("Experiment uplift vs the reference")
        axes.set_xlabel("Uplift (%)")
        axes.set_ylabel("Variation")
        _no_data(axes)
        return axes
    panels = _experiment_axes(ax, len(keys))
    for axes, (experiment, goal) in zip(panels, keys.itertuples(index=False), strict=True):
        mask = (results["experiment_id"] == experiment) & (results["goal_id"] == goal)
        _draw_uplifts(axes, results[mask.fillna(False).to_numpy(dtype=bool)], what, level)
    if len(panels) == 1:
        return panels[0]
    out = np.empty(len(panels), dtype=object)
    out[:] = panels
    return out
