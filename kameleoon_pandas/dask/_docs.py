"""Docstring pieces shared by the Dask verbs, written once (filled in by ``_docs.fill``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TypeVar

from .._docs import fill

__all__ = ["DASK", "dask_doc"]

F = TypeVar("F", bound=Callable[..., object])

DASK: dict[str, str] = {
    "dask_client": """\
client : Client, optional
    The client whose settings the workers use. ``None`` (the default) uses one process-wide
    client built from the ``KAMELEOON_*`` environment variables (see
    :class:`kameleoon_pandas.Client`). A client cannot travel: each worker builds its own from
    these settings, once, and keeps it; a setting left unset here (no credentials, say) is read
    from the worker's own environment. The secret never appears in a task key, a repr or the
    dashboard.""",
    "max_in_flight": """\
max_in_flight : int, optional
    Requests in flight across all the workers at most, held by one ``distributed.Semaphore``
    on the scheduler; ``None`` (the default) is the client's ``max_concurrency``, the load of
    one pandas call. The client's ``rate_limit`` is shared out evenly over the workers.
    Without a ``distributed`` cluster (a local scheduler) the process's one client caps its
    requests itself.""",
    "dask_dtype_backend": """\
dtype_backend : {"numpy_nullable", "pyarrow"}, default "numpy_nullable"
    The dtypes of the result's partitions (and ``meta``), as in the pandas loaders:
    ``"numpy_nullable"`` the declared ones, ``"pyarrow"`` their ``pandas.ArrowDtype`` (needs
    pyarrow; nested values as Arrow lists or JSON text). An unknown name raises
    ``ValidationError`` now.""",
    "retries": """\
retries : int, default 2
    How many times ``distributed`` runs a partition again when its task fails (a worker lost,
    an unexpected error). Safe: a partition pushed again stores nothing twice (see Notes).
    Ignored by local schedulers.""",
    "dask_progress": """\
progress : bool, optional
    Show a progress bar counting partitions done. ``None`` (the default) shows one in a
    notebook or a terminal and none when output is piped; ``True`` or ``False`` force it.""",
    "shuffle": """\
shuffle : bool, default True
    First move the rows that the push relates to one another into one partition (a dask
    shuffle on a hash of the ``key=`` columns, or of the visitor / EAN / map key without; see
    Notes), so that each partition is pushed exactly as the pandas writer would push it inside
    the whole frame. ``False`` pushes the partitions as they are: only right when they are
    already disjoint that way (no two identical rows, rows sharing a key or rows of one custom
    data event in two partitions), e.g. a frame partitioned by that hash already.""",
    "event_notes": """\
Notes
-----
Exactly once rests on the nonces, as in the pandas writer: an event's nonce comes from the
site code, the kind and the ``key=`` columns or, without, the row's content and its rank
among the rows identical to it. That rank is counted within a partition, so identical rows
in two partitions would get the same nonce and be stored once: silent data loss. The push
therefore shuffles first (``shuffle=True``): with ``key=`` on a hash of the key columns,
without on a hash of the visitor (``visitor_code``, ``mapping_value``) or the ``ean``, so
that identical rows, rows sharing a key (all refused, as in pandas) and the rows of one
custom data event meet in one partition. Each partition's events then get exactly the
nonces a pandas push of the whole frame gives them: pushing the same rows again, from Dask
or pandas, stores nothing twice. A partition pushed again (``retries``, a lost worker, the
whole push re-run after an error) sends the same nonces, and the Data API drops what it
already has; :meth:`PushReport.retry` sends the failed rows with the nonces they were sent
with (in a ``nonce`` column of ``report.failed``).

The pushes of the partitions run concurrently, each partition's bodies in its own order;
the Data API stamps events when it receives them. A frame with few distinct visitors (or
keys) shuffles into few busy partitions: correctness first.""",
}


def dask_doc(func: F) -> F:
    """Fill the shared pieces (the package's and :data:`DASK`) into ``func.__doc__``."""
    if func.__doc__:
        func.__doc__ = fill(inspect.cleandoc(func.__doc__), DASK)
    return func
