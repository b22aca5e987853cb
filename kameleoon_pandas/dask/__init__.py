"""kameleoon-pandas on Dask: push Dask DataFrames and read the Data API into them.

>>> import kameleoon_pandas.dask as kd      # registers ddf.kam (needs the [dask] extra)
>>> report = orders.kam.push_events("conversion", key="order_id")      # doctest: +SKIP
>>> feed = kd.read_visitor_feeds(codes, npartitions=8)                  # doctest: +SKIP

Writers (``push_events``, ``push_product_events``, ``push_maps``, ``forget_visitors``, and the
same on ``ddf.kam``) push every partition with the pandas writer on a worker and add the
partitions' reports up into one :class:`~kameleoon_pandas.PushReport`; exactly once holds
across partitions (identical rows and rows sharing a key are brought into one partition
first). Loaders (``read_visitor_feeds``, ``read_product_counters``, ``read_product_data``,
``read_maps``) fan a key list out over partitions and return lazy Dask DataFrames whose
``meta`` is the declared schema.

On a ``distributed`` cluster, every request of every worker holds a lease of one
``distributed.Semaphore`` (``max_in_flight``, by default the client's ``max_concurrency``), so
N workers put no more requests on the Data API than one pandas call does. The client's
settings reach the workers with the tasks; the secret never appears in a task key, a repr or
the dashboard.

This module is the only one that imports dask: ``import kameleoon_pandas`` does not.
"""

from __future__ import annotations

try:
    import dask.dataframe  # noqa: F401  (the [dask] extra)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "kameleoon_pandas.dask needs dask: pip install 'kameleoon-pandas[dask]' "
        "(dask[dataframe] and distributed)"
    ) from exc

from .accessor import DaskKameleoonAccessor
from .loaders import read_maps, read_product_counters, read_product_data, read_visitor_feeds
from .writers import forget_visitors, push_events, push_maps, push_product_events

__all__ = [
    "DaskKameleoonAccessor",
    "forget_visitors",
    "push_events",
    "push_maps",
    "push_product_events",
    "read_maps",
    "read_product_counters",
    "read_product_data",
    "read_visitor_feeds",
]
