"""CountersPanel: the top products and their trend for a site code and a time window."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from .._exceptions import ValidationError
from ._base import _WIDE, Report, _Panel, _Result
from .views import CountersSnapshot, counters_view, product_names, rank_products

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["MAX_WINDOWS", "PRESETS", "WINDOW_SIZES", "CountersPanel", "auto_freq", "load_slices"]

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

#: At most this many loads per Load, so the status line can count progress.
_SLICES = 8

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


def load_slices(
    start: pd.Timestamp, end: pd.Timestamp, freq: str, slices: int = _SLICES
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[start, end)`` cut into at most ``slices`` loads of whole windows of ``freq``.

    ``freq="all"`` gives one load. The last window ends at ``end`` even when shorter.
    """
    if freq == "all":
        return [(start, end)]
    edges = list(pd.date_range(start, end, freq=freq))
    if edges[-1] < end:
        edges.append(end)
    per_slice = max(1, -(-(len(edges) - 1) // slices))
    return [
        (edges[i], edges[min(i + per_slice, len(edges) - 1)])
        for i in range(0, len(edges) - 1, per_slice)
    ]


class CountersPanel(_Panel[CountersSnapshot]):
    """Product counters: top products and their trend for a site code and a time window.

    An ipywidgets ``VBox``. Load reads the counters of the EANs over the chosen range (on a
    background thread), then shows a bar chart of the top products, the metric over time and a
    table of the top products with their names; the status line shows progress and errors.

    Parameters
    ----------
    client : Client, optional
        The client to load through; ``None`` (the default) uses the default client built from
        the ``KAMELEOON_*`` environment variables, on the first Load.
    site_codes : iterable of str, optional
        The site codes to choose from; default the client's ``site_codes``, else
        ``KAMELEOON_SITE_CODES`` (comma-separated), else ``KAMELEOON_SITE_CODE``.
    eans : iterable of str, optional
        The EANs to count, filled into the ``eans`` box.

    Attributes
    ----------
    site_code : ipywidgets.Dropdown
        The site code to load.
    preset : ipywidgets.Dropdown
        The time window, a key of ``PRESETS`` (``"Last 24 hours"``); ``"Custom range"``
        enables ``start_date`` and ``end_date``.
    start_date, end_date : ipywidgets.DatePicker
        The custom range, both days included.
    window_size : ipywidgets.Dropdown
        The window size, a key of ``WINDOW_SIZES`` (``"Auto"``).
    metric : ipywidgets.Dropdown
        ``"views"``, ``"add_to_cart_quantity"`` or ``"bought_quantity"``.
    top_n : ipywidgets.IntSlider
        How many products the chart and the table show (3 to 30).
    eans : ipywidgets.Textarea
        The EANs, separated by commas, spaces or new lines.
    load_button : ipywidgets.Button
        Starts a load (so does :meth:`load`).
    status : ipywidgets.HTML
        The status line: progress, a summary, or the error.
    output : ipywidgets.Output
        The plot (``image/png``) and the table (``text/html``) of the last load.
    frame : DataFrame or None
        The counters of the last successful load (``read_product_counters``' schema).

    Examples
    --------
    In a notebook, the panel is the cell's result:

    >>> import kameleoon_pandas as kp
    >>> panel = kp.panels.CountersPanel(eans=["3600000000001", "3600000000002"])
    >>> panel

    In a script or a test, set the controls, load and wait:

    >>> panel.preset.value = "Last 7 days"
    >>> panel.metric.value = "bought_quantity"
    >>> panel.load_button.click()
    >>> counters = panel.wait()  # the frame, or None if the status line shows an error
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

    def _snapshot(self) -> CountersSnapshot:
        eans = [e for e in self.eans.value.replace(",", " ").split() if e]
        if not eans:
            raise ValidationError("EANs: enter at least one EAN to count")
        start, end, freq = self.time_range()
        return CountersSnapshot(
            eans=list(dict.fromkeys(eans)),
            start=start,
            end=end,
            freq=freq,
            metric=self.metric.value,
            top_n=int(self.top_n.value),
        )

    def _work(self, site_code: str, s: CountersSnapshot, report: Report) -> _Result:
        from ..loaders import read_product_counters

        client = self.client
        bounds = load_slices(s.start, s.end, s.freq)
        total = len(bounds) + 1
        frames = []
        for i, (a, b) in enumerate(bounds):
            report(i, total, f"Loading counters {i + 1}/{len(bounds)}…")
            frames.append(
                read_product_counters(
                    s.eans,
                    start=a,
                    end=b,
                    freq=None if s.freq == "all" else s.freq,
                    client=client,
                    site_code=site_code,
                    progress=False,
                )
            )
        counters = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        top = rank_products(counters, s.metric).head(s.top_n)
        report(len(bounds), total, "Loading product names…")
        # The raw call, not read_product_data: EANs unknown to the catalogue are simply left
        # out (the loader would warn, and a warning on a worker thread goes nowhere useful).
        data = client.get_product_data(list(top.index), site_code=site_code)
        names = product_names(data)
        return _Result.of(counters_view(counters, names, s, site_code), counters)
