"""VisitorFeedPanel: one visitor's activity, as a timeline and a table of events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import ipywidgets as widgets

from .._exceptions import ValidationError
from ..frames.schemas import FEED_KINDS
from ._base import _WIDE, Report, _Panel, _Result
from .views import FeedSnapshot, feed_view

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["VisitorFeedPanel"]


class VisitorFeedPanel(_Panel[FeedSnapshot]):
    """One visitor's activity: the timeline of their events and the events table.

    An ipywidgets ``VBox``. Load reads the visitor's feed (on a background thread), looked up
    by visitor code or by mapping value (the cross-device id), and shows the timeline (one lane
    per kind, visits shaded) and a table of the events; the status line shows progress and
    errors, or says that the visitor has no events.

    Parameters
    ----------
    client : Client, optional
        The client to load through; ``None`` (the default) uses the default client built from
        the ``KAMELEOON_*`` environment variables, on the first Load.
    site_codes : iterable of str, optional
        The site codes to choose from; default the client's ``site_codes``, else
        ``KAMELEOON_SITE_CODES`` (comma-separated), else ``KAMELEOON_SITE_CODE``.
    visitor_code : str, default ""
        The code to look up, filled into the ``visitor_code`` box.

    Attributes
    ----------
    site_code : ipywidgets.Dropdown
        The site code to load.
    by : ipywidgets.ToggleButtons
        ``"visitor_code"`` (the default) or ``"mapping_value"``.
    visitor_code : ipywidgets.Text
        The visitor code or mapping value.
    previous_visits : ipywidgets.IntSlider
        How many previous visits to load besides the current one (0 to 25, default 10).
    kinds : ipywidgets.SelectMultiple
        The kinds of events to load (default all of them).
    load_button : ipywidgets.Button
        Starts a load (so does :meth:`load`).
    status : ipywidgets.HTML
        The status line: progress, a summary, or the error.
    output : ipywidgets.Output
        The timeline (``image/png``) and the events table (``text/html``) of the last load.
    frame : DataFrame or None
        The feed of the last successful load (``read_visitor_feeds``' schema).

    Examples
    --------
    In a notebook, the panel is the cell's result:

    >>> import kameleoon_pandas as kp
    >>> panel = kp.panels.VisitorFeedPanel(visitor_code="0a1b2c3d4e5f6a7b")
    >>> panel

    In a script or a test, set the controls, load and wait:

    >>> panel.kinds.value = ("page", "conversion")
    >>> panel.load_button.click()
    >>> feed = panel.wait()  # the frame, or None if the status line shows an error
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

    def _snapshot(self) -> FeedSnapshot:
        code = self.visitor_code.value.strip()
        if not code:
            raise ValidationError("Code: enter a visitor code or a mapping value")
        kinds = list(self.kinds.value)
        if not kinds:
            raise ValidationError("Kinds: choose at least one kind of event")
        return FeedSnapshot(
            code=code,
            by=self.by.value,
            kinds=kinds,
            previous_visits=int(self.previous_visits.value),
        )

    def _work(self, site_code: str, s: FeedSnapshot, report: Report) -> _Result:
        from ..loaders import read_visitor_feeds

        report(0, 1, f"Loading the feed of {s.code}…")
        feed = read_visitor_feeds(
            [s.code],
            previous_visits=s.previous_visits,
            current_visit=True,
            kinds=s.kinds,
            by=s.by,
            client=self.client,
            site_code=site_code,
            progress=False,
        )
        return _Result.of(feed_view(feed, s, site_code), feed)
