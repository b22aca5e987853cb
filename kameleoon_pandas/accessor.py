"""``df.kam``: the writers and plots of kameleoon-pandas on any DataFrame (thin, stateless).

Registered when ``kameleoon_pandas`` is imported. Every method delegates to the module function
of the same name with the frame first, so ``df.kam.push_events("conversion")`` is
``kp.push_events(df, "conversion")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from . import writers

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .report import PushReport

__all__ = ["KameleoonAccessor"]


@pd.api.extensions.register_dataframe_accessor("kam")
class KameleoonAccessor:
    """Kameleoon Data API methods on a DataFrame: ``push_events``, ``push_product_events``,
    ``push_maps``, ``forget`` and the ``plot_*`` shortcuts. Holds nothing but the frame."""

    def __init__(self, df: pd.DataFrame) -> None:
        # Column names must be unique: every writer and plot reads columns by name.
        dupes = df.columns[df.columns.duplicated()].tolist()
        if dupes:
            raise AttributeError(f"df.kam needs unique column names; duplicated: {dupes}")
        self._df = df

    # -- writers ---------------------------------------------------------------------------------

    def push_events(self, kind: str | None = None, **kwargs: Any) -> PushReport:
        """Push visit events, one per row, exactly once (see ``kp.push_events``).

        ``kind``: conversion, custom_data, page, experiment, personalization, geolocation,
        static_data or targeting_segment (else a ``kind`` column). Keywords: ``client``,
        ``site_code``, ``dry_run``, ``progress``, and column renames such as ``goal_id="goal"``.
        """
        return writers.push_events(self._df, kind, **kwargs)

    def push_product_events(self, kind: str | None = None, **kwargs: Any) -> PushReport:
        """Push product events by ``ean``: product_page, add_to_cart, purchase
        (see ``kp.push_product_events``)."""
        return writers.push_product_events(self._df, kind, **kwargs)

    def push_maps(
        self, key: str = "key", ttl_hours: int | None = None, **kwargs: Any
    ) -> PushReport:
        """Merge one map per row, keyed by the ``key`` column (see ``kp.push_maps``)."""
        return writers.push_maps(self._df, key, ttl_hours, **kwargs)

    def forget(self, visitor_code: str = "visitor_code", **kwargs: Any) -> PushReport:
        """Delete all data of the visitors in the ``visitor_code`` column
        (see ``kp.forget_visitors``)."""
        return writers.forget_visitors(self._df, visitor_code=visitor_code, **kwargs)

    # -- plots (lazy: matplotlib is imported on first use) --------------------------------------

    def _plot(self, name: str, **kwargs: Any) -> Axes:
        from . import plots

        return getattr(plots, name)(self._df, **kwargs)

    def plot_counters(self, **kwargs: Any) -> Axes:
        """Product counters over time (``kp.plots.plot_counters``); returns the Axes."""
        return self._plot("plot_counters", **kwargs)

    def plot_top_products(self, **kwargs: Any) -> Axes:
        """The top products by a counter (``kp.plots.plot_top_products``); returns the Axes."""
        return self._plot("plot_top_products", **kwargs)

    def plot_funnel(self, **kwargs: Any) -> Axes:
        """Views -> add to cart -> bought (``kp.plots.plot_funnel``); returns the Axes."""
        return self._plot("plot_funnel", **kwargs)

    def plot_timeline(self, **kwargs: Any) -> Axes:
        """Visitors' events on a time line (``kp.plots.plot_timeline``); returns the Axes."""
        return self._plot("plot_timeline", **kwargs)

    def plot_conversions(self, **kwargs: Any) -> Axes:
        """Conversions and revenue over time (``kp.plots.plot_conversions``); returns the Axes."""
        return self._plot("plot_conversions", **kwargs)
