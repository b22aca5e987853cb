"""``df.kam``: the writers and plots of kameleoon-pandas on any DataFrame (thin, stateless).

Registered when ``kameleoon_pandas`` is imported. Every method is the module function it names
with the frame bound first, so ``df.kam.push_events("conversion")`` is
``kp.push_events(df, "conversion")`` and ``df.kam.forget()`` is ``kp.forget_visitors(df)``.

A method is a :class:`_Delegate` descriptor: on access it imports the function's module (so
matplotlib is imported on the first ``df.kam.plot_*``, never by ``import kameleoon_pandas``)
and returns a function carrying the target's docstring and its signature without the frame
parameter, which is what Jupyter's Shift-Tab and ``help()`` show.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, Self, overload

import pandas as pd

__all__ = ["KameleoonAccessor"]

_WRITERS = f"{__package__}.writers"
_PLOTS = f"{__package__}.plots"
_EXPERIMENTS = f"{__package__}.experiments"


class _Delegate:
    """A ``df.kam`` method: ``module.function`` with the accessor's frame as first argument."""

    def __init__(self, module: str, function: str | None = None) -> None:
        self.module = module
        self.function = function or ""  # by default the attribute's name (see __set_name__)
        self.name = ""
        # (target, its signature without the frame), computed on first access
        self._signature: tuple[Callable[..., Any], inspect.Signature] | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.function = self.function or name
        # What class-level introspection shows, without importing the target.
        self.__doc__ = f"``df.kam.{name}(...)`` is ``{self.module}.{self.function}(df, ...)``."

    def target(self) -> Callable[..., Any]:
        """The module function (its module imported now if it was not yet)."""
        function: Callable[..., Any] = getattr(importlib.import_module(self.module), self.function)
        return function

    def signature(self, target: Callable[..., Any]) -> inspect.Signature:
        """``target``'s signature without its first (frame) parameter."""
        if self._signature is None or self._signature[0] is not target:
            full = inspect.signature(target)
            parameters = list(full.parameters.values())[1:]
            self._signature = (target, full.replace(parameters=parameters))
        return self._signature[1]

    @overload
    def __get__(self, accessor: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(
        self, accessor: KameleoonAccessor, owner: type | None = None
    ) -> Callable[..., Any]: ...

    def __get__(
        self, accessor: KameleoonAccessor | None, owner: type | None = None
    ) -> Self | Callable[..., Any]:
        if accessor is None:
            return self
        target = self.target()
        frame = accessor._df

        def method(*args: Any, **kwargs: Any) -> Any:
            return target(frame, *args, **kwargs)

        method.__name__ = self.name
        method.__qualname__ = f"{type(accessor).__qualname__}.{self.name}"
        method.__doc__ = target.__doc__
        # Function attributes read by inspect.signature / inspect.unwrap (and so by Jupyter).
        method.__dict__["__signature__"] = self.signature(target)
        method.__dict__["__wrapped__"] = target
        return method

    def __repr__(self) -> str:
        return f"<df.kam.{self.name}: {self.module}.{self.function}>"


@pd.api.extensions.register_dataframe_accessor("kam")
class KameleoonAccessor:
    """Kameleoon Data API methods on a DataFrame: the writers and the plot shortcuts.

    Each method is the module function of the same name with this frame as its first
    argument, with that function's signature and docstring: ``push_events``,
    ``push_product_events``, ``push_maps`` and ``forget`` (``kp.forget_visitors``) return a
    :class:`~kameleoon_pandas.PushReport`; ``plot_counters``, ``plot_top_products``,
    ``plot_funnel``, ``plot_timeline`` and ``plot_conversions`` (``kp.plots.*``) return the
    matplotlib Axes. The accessor holds nothing but the frame.

    Raises
    ------
    AttributeError
        On ``df.kam`` when the frame's column names are not unique (every writer and plot
        reads columns by name).

    Examples
    --------
    >>> import pandas as pd
    >>> import kameleoon_pandas as kp
    >>> orders = pd.DataFrame({"visitor_code": ["v1"], "goal_id": [42]})
    >>> orders.kam.push_events("conversion", site_code="abc", dry_run=True).valid
    1
    """

    def __init__(self, df: pd.DataFrame) -> None:
        # Column names must be unique: every writer and plot reads columns by name.
        dupes = df.columns[df.columns.duplicated()].tolist()
        if dupes:
            raise AttributeError(f"df.kam needs unique column names; duplicated: {dupes}")
        self._df = df

    # -- writers ---------------------------------------------------------------------------------

    push_events = _Delegate(_WRITERS)
    push_product_events = _Delegate(_WRITERS)
    push_maps = _Delegate(_WRITERS)
    forget = _Delegate(_WRITERS, "forget_visitors")

    # -- plots (lazy: matplotlib is imported on first use) --------------------------------------

    plot_counters = _Delegate(_PLOTS)
    plot_top_products = _Delegate(_PLOTS)
    plot_funnel = _Delegate(_PLOTS)
    plot_timeline = _Delegate(_PLOTS)
    plot_conversions = _Delegate(_PLOTS)
    plot_experiment = _Delegate(_PLOTS)

    # -- experiments (lazy: scipy and statsmodels are imported on first use) ---------------------

    experiment_results = _Delegate(_EXPERIMENTS)
