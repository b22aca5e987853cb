"""kameleoon-pandas: the Kameleoon Data API in pandas and Jupyter.

>>> import kameleoon_pandas as kp                  # registers the df.kam accessor
>>> counters = kp.read_product_counters(["SKU-1"], freq="1h")
>>> report = orders.kam.push_events("conversion", goal_id="goal")

Settings come from arguments, then ``KAMELEOON_*`` environment variables, then defaults (see
:class:`Client`). The heavier rooms (``kp.emulator``, ``kp.panels``, ``kp.plots``) are imported
on first use, so ``import kameleoon_pandas`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import accessor  # noqa: F401  (registers df.kam)
from ._exceptions import (
    APIError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    KameleoonError,
    KameleoonWarning,
    PayloadTooLargeError,
    PermissionDeniedError,
    PushError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from ._version import __version__
from .client import AsyncClient, Client
from .experiments import experiment_results, read_experiment
from .loaders import read_maps, read_product_counters, read_product_data, read_visitor_feeds
from .report import PushReport
from .writers import forget_visitors, push_events, push_maps, push_product_events

if TYPE_CHECKING:
    from . import emulator, panels, plots

__all__ = [
    "APIError",
    "APIStatusError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectError",
    "KameleoonError",
    "KameleoonWarning",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PushError",
    "PushReport",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "ValidationError",
    "__version__",
    "emulator",
    "experiment_results",
    "forget_visitors",
    "panels",
    "plots",
    "push_events",
    "push_maps",
    "push_product_events",
    "read_experiment",
    "read_maps",
    "read_product_counters",
    "read_product_data",
    "read_visitor_feeds",
]

_LAZY_MODULES = ("emulator", "panels", "plots", "dask", "spark")


def __getattr__(name: str) -> Any:
    # Lazy so that `import kameleoon_pandas` does not pay for Starlette, ipywidgets or matplotlib.
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kameleoon_pandas``: register the ``%kam`` magics (see ``.ipython``)."""
    from .ipython import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext kameleoon_pandas``."""
    from .ipython import unload_ipython_extension as unload

    unload(ipython)


def __dir__() -> list[str]:
    # Only the public names: tab completion on ``kp.`` shows what users should type.
    return sorted(__all__)
