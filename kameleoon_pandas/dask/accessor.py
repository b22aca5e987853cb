"""``ddf.kam`` on Dask DataFrames: the Dask writers with the frame bound first (thin, stateless).

Registered when :mod:`kameleoon_pandas.dask` is imported (``dask.dataframe.extensions``). Every
method is the :mod:`kameleoon_pandas.dask.writers` function it names, with that function's
docstring and its signature without the frame, as Jupyter's Shift-Tab shows them:
``ddf.kam.push_events("conversion")`` is ``kp.dask.push_events(ddf, "conversion")``, and
``ddf.kam.forget()`` (as on pandas frames) is ``kp.dask.forget_visitors(ddf)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dask.dataframe.extensions import register_dataframe_accessor

from . import writers

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["DaskKameleoonAccessor"]


def _bound(function: Callable[..., Any], name: str) -> property:
    """A property giving ``function`` with the accessor's frame as its first argument."""
    full = inspect.signature(function)
    signature = full.replace(parameters=list(full.parameters.values())[1:])

    def get(self: DaskKameleoonAccessor) -> Callable[..., Any]:
        frame = self._ddf

        def method(*args: Any, **kwargs: Any) -> Any:
            return function(frame, *args, **kwargs)

        method.__name__ = name
        method.__qualname__ = f"DaskKameleoonAccessor.{name}"
        method.__doc__ = function.__doc__
        # Function attributes read by inspect.signature / inspect.unwrap (and so by Jupyter).
        method.__dict__["__signature__"] = signature
        method.__dict__["__wrapped__"] = function
        return method

    return property(get, doc=f"``ddf.kam.{name}(...)`` is ``{function.__name__}(ddf, ...)``.")


@register_dataframe_accessor("kam")
class DaskKameleoonAccessor:
    """Kameleoon Data API writers on a Dask DataFrame.

    Each method is the :mod:`kameleoon_pandas.dask` function of the same name with this frame
    as its first argument, with that function's signature and docstring: ``push_events``,
    ``push_product_events``, ``push_maps`` and ``forget`` / ``forget_visitors`` return one
    :class:`~kameleoon_pandas.PushReport` for all partitions. The accessor holds nothing but
    the frame.

    Raises
    ------
    AttributeError
        On ``ddf.kam`` when the frame's column names are not unique (every writer reads
        columns by name).

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> import kameleoon_pandas.dask  # registers ddf.kam
    >>> orders = dd.from_pandas(pd.DataFrame({"visitor_code": ["v1"], "goal_id": [42]}), 1)
    >>> orders.kam.push_events("conversion", site_code="abc", dry_run=True).valid
    1
    """

    def __init__(self, ddf: dd.DataFrame) -> None:
        dupes = ddf.columns[ddf.columns.duplicated()].tolist()
        if dupes:
            raise AttributeError(f"ddf.kam needs unique column names; duplicated: {dupes}")
        self._ddf = ddf

    push_events = _bound(writers.push_events, "push_events")
    push_product_events = _bound(writers.push_product_events, "push_product_events")
    push_maps = _bound(writers.push_maps, "push_maps")
    forget = _bound(writers.forget_visitors, "forget")
    forget_visitors = _bound(writers.forget_visitors, "forget_visitors")
