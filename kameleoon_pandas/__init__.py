"""kameleoon-pandas: the Kameleoon Data API in pandas and Jupyter.

Importing the package registers the ``df.kam`` accessor. The heavier rooms (``emulator``,
``panels``, ``plots``) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# -- writers and accessor (issue 4): add imports here --
from . import accessor  # noqa: F401  (registers df.kam)

# -- client and loaders (issue 3): add imports here --
from ._exceptions import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    KameleoonError,
    KameleoonWarning,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from .client import AsyncClient, Client
from .loaders import read_maps, read_product_counters, read_product_data, read_visitor_feeds
from .report import PushError, PushReport
from .writers import forget_visitors, push_events, push_maps, push_product_events

__version__ = "0.1.0"

_LAZY_MODULES = ("emulator", "panels", "plots")

if TYPE_CHECKING:
    from . import emulator, panels, plots  # noqa: F401


def __getattr__(name: str) -> Any:
    # Lazy so that `import kameleoon_pandas` does not pay for Starlette, ipywidgets or matplotlib.
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
