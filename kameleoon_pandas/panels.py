"""Interactive panels for Jupyter: choose a site code and a window, press Load, see plot and table.

Each panel is an ipywidgets ``VBox`` that owns its controls, a status line and one ``Output``.
Pressing Load starts the work on a background thread, so the kernel stays responsive; the
result is handed back to the kernel's event loop (when there is one) and shown by replacing the
``Output``'s content — nothing is printed from the background thread. Errors appear in the
status line instead of being lost.

In a script or a test, set the controls' ``.value``, call ``panel.load_button.click()`` and then
``panel.wait()``; ``panel.output.outputs`` holds the plot (``image/png``) and the table
(``text/html``). Nothing in a panel shows a secret: the client's secret and tokens are never
read here, and error texts come from the library's own errors, which never carry them.
"""

from __future__ import annotations

import asyncio
import base64
import html
import io
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from . import plots
from ._exceptions import ValidationError
from .frames.schemas import FEED_KINDS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .client import Client

__all__ = ["CountersPanel", "VisitorFeedPanel"]

#: Time window presets: label -> span ending now (None: the custom date range).
PRESETS: dict[str, pd.Timedelta | None] = {
    "Last hour": pd.Timedelta(hours=1),
    "Last 24 hours": pd.Timedelta(hours=24),
    "Last 7 days": pd.Timedelta(days=7),
    "Last 28 days": pd.Timedelta(days=28),
    "Custom range": None,
}

#: Window sizes: label -> pandas frequency ("auto" picks one from the span; "all" is one window).
WINDOW_SIZES: dict[str, str] = {
    "Auto": "auto",
    "5 minutes": "5min",
    "15 minutes": "15min",
    "1 hour": "1h",
    "6 hours": "6h",
    "1 day": "1D",
    "Whole range": "all",
}

#: Most windows one Load may ask for (each window is a request per 100 EANs).
MAX_WINDOWS = 500

#: Labels longer than the default description width stay whole.
_WIDE = {"description_width": "initial"}

_METRIC_OPTIONS = [
    ("Views", "views"),
    ("Added to cart", "add_to_cart_quantity"),
    ("Bought", "bought_quantity"),
]


def auto_freq(span: pd.Timedelta) -> str:
    """A window size that gives a readable number of points for ``span``."""
    if span <= pd.Timedelta(hours=1):
        return "5min"
    if span <= pd.Timedelta(days=1):
        return "1h"
    if span <= pd.Timedelta(days=7):
        return "6h"
    return "1D"


def resolve_site_codes(client: Client | None, site_codes: Iterable[str] | None) -> list[str]:
    """The argument, else the client's ``site_codes``, else ``KAMELEOON_SITE_CODES``/``_CODE``."""
    if site_codes is not None:
        codes = [site_codes] if isinstance(site_codes, str) else list(site_codes)
    elif client is not None:
        codes = list(client.site_codes)
    else:
        raw = os.environ.get("KAMELEOON_SITE_CODES") or os.environ.get("KAMELEOON_SITE_CODE", "")
        codes = raw.split(",")
    codes = [str(c).strip() for c in codes]
    return list(dict.fromkeys(c for c in codes if c))


def figure_png(fig: Figure) -> bytes:
    """Render a pyplot-free figure to PNG bytes (safe on a worker thread)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def new_figure(width: float, height: float) -> Figure:
    # Figure() rather than plt.figure(): pyplot's global state is not thread-safe, and a panel
    # must not leave figures behind for the notebook's inline backend to draw a second time.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _png_output(png: bytes, alt: str) -> dict[str, Any]:
    return {
        "output_type": "display_data",
        "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": alt},
        "metadata": {},
    }


def _table_output(frame: pd.DataFrame, caption: str) -> dict[str, Any]:
    table = frame.to_html(index=False, border=0, classes="kp-table", na_rep="", max_rows=200)
    return {
        "output_type": "display_data",
        "data": {
            "text/html": f"<p><b>{html.escape(caption)}</b></p>{table}",
            "text/plain": f"{caption}\n{frame.to_string(index=False, max_rows=50)}",
        },
        "metadata": {},
    }


@dataclass
class _Result:
    outputs: tuple[dict[str, Any], ...]
    status: str
    frame: pd.DataFrame


class _Panel(widgets.VBox):
    """The machinery both panels share: a Load button, a status line, an Output, a worker."""

    def __init__(self, client: Client | None, site_codes: Iterable[str] | None) -> None:
        self._client = client
        codes = resolve_site_codes(client, site_codes)
        self.site_code = widgets.Dropdown(
            options=codes, value=codes[0] if codes else None, description="Site code"
        )
        self.load_button = widgets.Button(
            description="Load", button_style="primary", icon="download", tooltip="Load the data"
        )
        self.status = widgets.HTML(value=self._idle_text(codes))
        self.progress = widgets.IntProgress(
            value=0, min=0, max=1, layout=widgets.Layout(width="220px", visibility="hidden")
        )
        self.output = widgets.Output()
        #: The last loaded frame (None before the first successful load).
        self.frame: pd.DataFrame | None = None
        #: The running or last load; done once its result is shown in the panel.
        self.future: Future[pd.DataFrame | None] | None = None
        self._shown = threading.Event()
        self._shown.set()
        self._generation = 0
        self._shown_generation = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: tuple[int, _Result | BaseException] | None = None
        self.load_button.on_click(self._on_click)
        super().__init__(
            children=[
                *self._control_rows(),
                widgets.HBox([self.load_button, self.progress, self.status]),
                self.output,
            ]
        )

    # -- what a panel defines ---------------------------------------------------------------

    def _control_rows(self) -> list[widgets.Widget]:
        raise NotImplementedError

    def _work(
        self, site_code: str, s: dict[str, Any], report: Callable[[int, int, str], None]
    ) -> _Result:
        """Runs on the worker thread: load, plot, build the outputs from the snapshot ``s``."""
        raise NotImplementedError

    def _snapshot(self) -> dict[str, Any]:
        """Control values, read on the kernel thread before the worker starts."""
        raise NotImplementedError

    # -- machinery --------------------------------------------------------------------------

    @staticmethod
    def _idle_text(codes: Sequence[str]) -> str:
        if codes:
            return "Ready: choose the options and press Load."
        return _error_html(
            "No site codes: pass site_codes=[...] or set KAMELEOON_SITE_CODES (comma-separated)."
        )

    @property
    def client(self) -> Client:
        """The client the panel uses: the one given, else the default built from the env."""
        if self._client is None:
            from .client import resolve_client

            self._client = resolve_client(None)
        return self._client

    def load(self) -> Future[pd.DataFrame | None]:
        """Start loading with the current control values (what the Load button does)."""
        self._on_click(self.load_button)
        assert self.future is not None
        return self.future

    def wait(self, timeout: float | None = 60.0) -> pd.DataFrame | None:
        """Block until the running load is shown in the panel; return its frame (None on error).

        For scripts and tests. In a notebook the panel updates itself; do not call this there
        from a cell while a load runs (the result is shown through the kernel's loop).
        """
        future = self.future
        if future is None:
            return None
        future.result(timeout=timeout)  # the worker finished (raises TimeoutError if not)
        if not self._shown.wait(timeout=0.05):
            # The kernel's loop cannot run the hand-back while this thread waits on it: show
            # the result from here (the hand-back then finds it already shown).
            self._show_pending()
        self._shown.wait(timeout=timeout)
        return future.result()

    def _on_click(self, _button: widgets.Button) -> None:
        if self.future is not None and not self.future.done():
            return  # one load at a time; the button is disabled meanwhile anyway
        try:
            self._loop = asyncio.get_running_loop()  # the kernel's loop, when in Jupyter
        except RuntimeError:
            self._loop = None
        future: Future[pd.DataFrame | None] = Future()
        self.future = future
        self._shown.clear()
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._pending = None
        site_code = self.site_code.value
        try:
            if not site_code:
                raise ValidationError("choose a site code first")
            snapshot = self._snapshot()
        except Exception as exc:
            self._deliver(generation, exc)
            future.set_result(None)
            return
        self.load_button.disabled = True
        self.progress.value = 0
        self.progress.layout.visibility = "visible"
        self.status.value = "Loading…"
        thread = threading.Thread(
            target=self._run,
            args=(future, generation, site_code, snapshot),
            name=f"kameleoon-{type(self).__name__}",
            daemon=True,
        )
        thread.start()

    def _run(
        self,
        future: Future[pd.DataFrame | None],
        generation: int,
        site_code: str,
        snapshot: dict[str, Any],
    ) -> None:
        def report(done: int, total: int, text: str) -> None:
            self._post(lambda: self._set_progress(generation, done, total, text))

        try:
            result: _Result | BaseException = self._work(site_code, snapshot, report)
        except Exception as exc:
            result = exc
        with self._lock:
            self._pending = (generation, result)
        self._post(self._show_pending)
        # Resolve the future after the hand-back is queued, so wait() sees a pending result.
        future.set_result(None if isinstance(result, BaseException) else result.frame)

    def _post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the kernel's loop when there is one, else right here."""
        loop = self._loop
        if loop is not None and loop.is_running() and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(fn)
                return
            except RuntimeError:  # the loop closed in between
                pass
        fn()

    def _set_progress(self, generation: int, done: int, total: int, text: str) -> None:
        if generation != self._generation or generation == self._shown_generation:
            return  # a newer load runs, or this one's result is already shown
        self.progress.max = max(total, 1)
        self.progress.value = min(done, total)
        self.status.value = html.escape(text)

    def _show_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is None:
            return
        self._deliver(*pending)

    def _deliver(self, generation: int, result: _Result | BaseException) -> None:
        if generation != self._generation:
            return
        self.load_button.disabled = False
        self.progress.layout.visibility = "hidden"
        if isinstance(result, BaseException):
            self.status.value = _error_html(f"{type(result).__name__}: {result}")
        else:
            self.frame = result.frame
            # Replacing the outputs (not printing into the Output) is safe from any thread
            # and leaves exactly one plot and one table.
            self.output.outputs = result.outputs
            self.status.value = html.escape(result.status)
        self._shown_generation = generation
        self._shown.set()


def _error_html(text: str) -> str:
    return f'<span style="color:#b00020"><b>Error:</b> {html.escape(text)}</span>'


class CountersPanel(_Panel):
    """Product counters: top products and their trend for a site code and a time window.

    Controls: site code (from ``site_codes``, else the client's ``site_codes``, else
    ``KAMELEOON_SITE_CODES``), a window preset or a custom date range, the window size, the
    metric, top-N and the EANs to count (``eans=`` fills them in). Load shows a bar chart of the
    top products, the metric over time, and a table; the status line shows progress and errors.
    """

    def __init__(
        self,
        client: Client | None = None,
        site_codes: Iterable[str] | None = None,
        *,
        eans: Iterable[str] | None = None,
    ) -> None:
        today = pd.Timestamp.now(tz="UTC").date()
        self.preset = widgets.Dropdown(
            options=list(PRESETS), value="Last 24 hours", description="Window"
        )
        self.start_date = widgets.DatePicker(
            description="From", value=today - pd.Timedelta(days=7), disabled=True
        )
        self.end_date = widgets.DatePicker(description="To", value=today, disabled=True)
        self.window_size = widgets.Dropdown(
            options=list(WINDOW_SIZES), value="Auto", description="Window size", style=_WIDE
        )
        self.metric = widgets.Dropdown(options=_METRIC_OPTIONS, value="views", description="Metric")
        self.top_n = widgets.IntSlider(
            value=10, min=3, max=30, description="Top N", continuous_update=False
        )
        self.eans = widgets.Textarea(
            value=", ".join(eans or []),
            description="EANs",
            placeholder="EANs to count, separated by commas, spaces or new lines",
            layout=widgets.Layout(width="98%", height="60px"),
        )
        self.preset.observe(self._on_preset, names="value")
        super().__init__(client, site_codes)

    def _control_rows(self) -> list[widgets.Widget]:
        return [
            widgets.HBox([self.site_code, self.preset, self.window_size]),
            widgets.HBox([self.start_date, self.end_date]),
            widgets.HBox([self.metric, self.top_n]),
            self.eans,
        ]

    def _on_preset(self, change: dict[str, Any]) -> None:
        custom = PRESETS[change["new"]] is None
        self.start_date.disabled = not custom
        self.end_date.disabled = not custom

    def time_range(self, now: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp, str]:
        """``(start, end, freq)`` the controls ask for; ``freq`` is ``"all"`` for one window."""
        now = pd.Timestamp.now(tz="UTC") if now is None else now
        span = PRESETS[self.preset.value]
        size = WINDOW_SIZES[self.window_size.value]
        if span is None:
            first, last = self.start_date.value, self.end_date.value
            if not isinstance(first, date) or not isinstance(last, date):
                raise ValidationError("custom range: choose both a From and a To date")
            if last < first:
                raise ValidationError(f"custom range: To ({last}) is before From ({first})")
            start = pd.Timestamp(first, tz="UTC")
            end = pd.Timestamp(last, tz="UTC") + pd.Timedelta(days=1)  # To is inclusive
        else:
            freq = auto_freq(span) if size == "auto" else size
            # Whole windows that have ended, aligned with the clock (hourly windows start on
            # the hour): a partial last window would read as a sudden drop.
            end = now.floor(freq) if freq != "all" else now
            start = end - span
        freq = auto_freq(end - start) if size == "auto" else size
        if freq != "all":
            windows = (end - start) / pd.Timedelta(freq)
            if windows > MAX_WINDOWS:
                raise ValidationError(
                    f"window size {self.window_size.value!r} gives {windows:.0f} windows over "
                    f"this range; at most {MAX_WINDOWS}: choose a larger window size"
                )
        return start, end, freq

    def _snapshot(self) -> dict[str, Any]:
        eans = [e for e in self.eans.value.replace(",", " ").split() if e]
        if not eans:
            raise ValidationError("EANs: enter at least one EAN to count")
        start, end, freq = self.time_range()
        return {
            "eans": list(dict.fromkeys(eans)),
            "start": start,
            "end": end,
            "freq": freq,
            "metric": self.metric.value,
            "top_n": int(self.top_n.value),
        }

    def _work(
        self, site_code: str, s: dict[str, Any], report: Callable[[int, int, str], None]
    ) -> _Result:
        from .loaders import read_product_counters

        client = self.client
        start, end, freq = s["start"], s["end"], s["freq"]
        # Load in slices of windows so the status line can count progress.
        if freq == "all":
            bounds = [(start, end)]
        else:
            edges = list(pd.date_range(start, end, freq=freq))
            if edges[-1] < end:
                edges.append(end)
            per_slice = max(1, -(-(len(edges) - 1) // 8))
            bounds = [
                (edges[i], edges[min(i + per_slice, len(edges) - 1)])
                for i in range(0, len(edges) - 1, per_slice)
            ]
        total = len(bounds) + 1
        frames = []
        for i, (a, b) in enumerate(bounds):
            report(i, total, f"Loading counters {i + 1}/{len(bounds)}…")
            frames.append(
                read_product_counters(
                    s["eans"],
                    start=a,
                    end=b,
                    freq=None if freq == "all" else freq,
                    client=client,
                    site_code=site_code,
                    progress=False,
                )
            )
        counters = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        metric, top_n = s["metric"], s["top_n"]
        totals = (
            counters.groupby("ean", observed=True)[list(plots.METRICS)]
            .sum()
            .sort_values(metric, ascending=False, kind="stable")
        )
        top = totals.head(top_n)
        report(len(bounds), total, "Loading product names…")
        # The raw call, not read_product_data: EANs unknown to the catalogue are simply left
        # out (the loader would warn, and a warning on a worker thread goes nowhere useful).
        data = client.get_product_data(list(top.index), site_code=site_code)
        names = pd.DataFrame(
            {
                "ean": pd.array(list(data), dtype="string"),
                "name": pd.array([(v or {}).get("name") for v in data.values()], dtype="string"),
            }
        )
        labelled = counters
        if len(names):
            labelled = counters.merge(names, on="ean", how="left")

        fig = new_figure(11.0, 4.2)
        left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
        plots.plot_top_products(labelled, metric=metric, n=top_n, ax=left)
        plots.plot_counters(counters, metric=metric, ax=right)
        png = figure_png(fig)

        table = top.reset_index()
        if len(names):
            table = table.merge(names, on="ean", how="left")
            table = table[["ean", "name", *plots.METRICS]]
        views = table["views"].astype("float64")
        table["bought_per_view"] = (
            (table["bought_quantity"].astype("float64") / views).where(views > 0).round(4)
        )
        span = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"
        n_windows = counters["window_start"].nunique()
        outputs = (
            _png_output(png, f"Top {top_n} products by {metric}, {site_code}, {span}"),
            _table_output(table, f"Top {len(table)} of {len(totals)} products, {span}"),
        )
        status = (
            f"{site_code}: {len(s['eans'])} EANs × {n_windows} windows ({span}); "
            f"{int(totals['views'].sum()):,} views in total."
        )
        return _Result(outputs, status, counters)


class VisitorFeedPanel(_Panel):
    """One visitor's activity: the timeline of their events and the events table.

    Controls: site code, look up by visitor code or by mapping value (the cross-device id), the
    code itself, how many previous visits, and which kinds of events to show.
    """

    def __init__(
        self,
        client: Client | None = None,
        site_codes: Iterable[str] | None = None,
        *,
        visitor_code: str = "",
    ) -> None:
        self.by = widgets.ToggleButtons(
            options=[("Visitor code", "visitor_code"), ("Mapping value", "mapping_value")],
            value="visitor_code",
            description="Look up by",
            style=_WIDE,
        )
        self.visitor_code = widgets.Text(
            value=visitor_code, description="Code", placeholder="visitor code or mapping value"
        )
        self.previous_visits = widgets.IntSlider(
            value=10,
            min=0,
            max=25,
            description="Past visits",
            continuous_update=False,
            style=_WIDE,
        )
        self.kinds = widgets.SelectMultiple(
            options=list(FEED_KINDS),
            value=tuple(FEED_KINDS),
            description="Kinds",
            rows=len(FEED_KINDS),
        )
        super().__init__(client, site_codes)

    def _control_rows(self) -> list[widgets.Widget]:
        return [
            widgets.HBox([self.site_code, self.by]),
            widgets.HBox([self.visitor_code, self.previous_visits]),
            self.kinds,
        ]

    def _snapshot(self) -> dict[str, Any]:
        code = self.visitor_code.value.strip()
        if not code:
            raise ValidationError("Code: enter a visitor code or a mapping value")
        kinds = list(self.kinds.value)
        if not kinds:
            raise ValidationError("Kinds: choose at least one kind of event")
        return {
            "code": code,
            "by": self.by.value,
            "kinds": kinds,
            "previous_visits": int(self.previous_visits.value),
        }

    def _work(
        self, site_code: str, s: dict[str, Any], report: Callable[[int, int, str], None]
    ) -> _Result:
        from .loaders import read_visitor_feeds

        report(0, 1, f"Loading the feed of {s['code']}…")
        feed = read_visitor_feeds(
            [s["code"]],
            previous_visits=s["previous_visits"],
            current_visit=True,
            kinds=s["kinds"],
            by=s["by"],
            client=self.client,
            site_code=site_code,
            progress=False,
        )
        if feed.empty:
            what = "visitor code" if s["by"] == "visitor_code" else "mapping value"
            return _Result((), f"{site_code}: no events for {what} {s['code']!r}.", feed)
        fig = new_figure(11.0, 3.8)
        ax = fig.subplots()
        plots.plot_timeline(feed, ax=ax)
        png = figure_png(fig)
        table = events_table(feed)
        visits = feed[["visitor_code", "visit"]].drop_duplicates()
        outputs = (
            _png_output(png, f"Timeline of {s['code']}"),
            _table_output(table, f"{len(feed)} events"),
        )
        status = f"{site_code}: {len(feed):,} events in {len(visits):,} visits of {s['code']}."
        return _Result(outputs, status, feed)


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
    """A compact view of a feed: visit, kind, time and the event's non-empty details."""
    details = [c for c in _DETAIL_COLUMNS if c in feed.columns and feed[c].notna().any()]
    cols = ["visitor_code", "visit", "kind", "time", *details]
    if feed["visitor_code"].nunique() <= 1:
        cols.remove("visitor_code")
    return feed[cols].sort_values(["time"], kind="stable", na_position="first")
