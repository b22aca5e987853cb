"""The client on the workers: the driver's settings travel with the tasks, the secret hidden.

A :class:`~kameleoon_pandas.Client` cannot travel (it owns a thread and connections), so the
driver sends a :class:`RemoteClient`: its resolved :class:`~kameleoon_pandas._config.Settings`,
the share of the rate limit each worker gets and the cluster-wide cap on requests in flight.
On a worker, :func:`client_for` builds one client per settings and keeps it for the worker's
life, so the partitions of a push (and later pushes) reuse its connections and token.

Secrets stay out of everything dask shows: a ``RemoteClient``'s repr names the API, the site
and the client id only (``Settings`` hides the secret too), and its dask token, from which task
keys are made, is a random id, never derived from a setting. The secret does travel inside the
pickled task, as any credential given to the driver must; to keep it off the driver and the
scheduler altogether, give the driver a client without credentials and set
``KAMELEOON_CLIENT_ID`` / ``KAMELEOON_CLIENT_SECRET`` in the workers' environment: a setting
the driver leaves unset is read from the worker's environment.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
import weakref
from typing import TYPE_CHECKING, Any

import httpx
from httpx_aiohttp import AiohttpTransport

from ..client import Client, shared_tls_context
from ._cap import CappedTransport, semaphore_name

if TYPE_CHECKING:
    from .._config import Settings

__all__ = ["PARTITION_LOCK", "RemoteClient", "client_for", "distributed_client", "remote_client"]


class RemoteClient:
    """What a worker needs to build the driver's client: settings, rate share and cap.

    Not a dataclass on purpose: ``dask.delayed`` unpacks dataclass arguments field by field
    into the graph, which would put every setting (the secret too) into it as a literal.

    Parameters
    ----------
    settings : Settings
        The driver client's resolved settings (their repr hides the secret).
    rate_limit : float, optional
        Requests per second for each worker's client (the driver's limit shared out).
    max_in_flight : int, optional
        Requests in flight across the whole cluster at most (a ``distributed.Semaphore``),
        when the tasks run on ``distributed`` workers; elsewhere (a local scheduler) each
        process's one client caps itself. ``None``: no cluster-wide cap.
    """

    __slots__ = ("max_in_flight", "rate_limit", "settings", "token")

    def __init__(
        self, settings: Settings, rate_limit: float | None = None, max_in_flight: int | None = None
    ) -> None:
        self.settings = settings
        self.rate_limit = rate_limit
        self.max_in_flight = max_in_flight
        self.token = uuid.uuid4().hex

    def __getstate__(self) -> tuple:
        return (self.settings, self.rate_limit, self.max_in_flight, self.token)

    def __setstate__(self, state: tuple) -> None:
        self.settings, self.rate_limit, self.max_in_flight, self.token = state

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"RemoteClient(base_url={s.base_url!r}, site_code={s.site_code!r}, "
            f"client_id={s.client_id!r}, max_in_flight={self.max_in_flight!r})"
        )

    def __dask_tokenize__(self) -> tuple[str, str]:
        # Task keys are made of tokens: this one is random, never a hash of the settings.
        return ("kameleoon_pandas.RemoteClient", self.token)


def distributed_client() -> Any | None:
    """The ``distributed.Client`` dask computes on now, or None (a local scheduler)."""
    try:
        import dask
        from distributed import default_client
    except ImportError:
        return None
    try:
        client = default_client()
    except ValueError:
        return None
    scheduler = dask.base.get_scheduler()
    return client if scheduler == client.get else None


def _worker() -> Any | None:
    """The ``distributed.Worker`` running the current task, or None."""
    try:
        from distributed import get_worker
    except ImportError:
        return None
    try:
        return get_worker()
    except ValueError:
        return None


#: One kameleoon partition at a time per process: the pandas verbs warn, and catching a warning
#: changes process-wide state (two threads doing it at once could lose or leak one). Each
#: partition's own requests still go ``max_concurrency`` at a time.
PARTITION_LOCK = threading.Lock()

# One client per settings, per worker (weakly: a closed and collected worker takes its clients
# with it) or, outside a distributed worker, per process.
_lock = threading.Lock()
_by_worker: weakref.WeakKeyDictionary[Any, dict[tuple, Client]] = weakref.WeakKeyDictionary()
_in_process: dict[tuple, Client] = {}


def _fingerprint(remote: RemoteClient) -> tuple:
    values = tuple(
        tuple(v) if isinstance(v, list) else v for v in dataclasses.astuple(remote.settings)
    )
    return (values, remote.rate_limit, remote.max_in_flight)


def client_for(remote: RemoteClient) -> Client:
    """The client of ``remote``'s settings on this worker (built on first use, then kept).

    Call it inside a task: on a ``distributed`` worker, the request cap's semaphore is bound to
    the worker running the task.
    """
    worker = _worker()
    key = _fingerprint(remote)
    with _lock:
        store = _in_process if worker is None else _by_worker.setdefault(worker, {})
        client = store.get(key)
        if client is None or client.closed:
            client = store[key] = _build(remote, worker)
    return client


def _build(remote: RemoteClient, worker: Any | None) -> Client:
    s = remote.settings
    # The client's own default transport, built here so that the cap can wrap it.
    limits = httpx.Limits(
        max_connections=s.max_concurrency + 4, max_keepalive_connections=s.max_concurrency
    )
    transport: httpx.AsyncBaseTransport = AiohttpTransport(
        limits=limits, verify=shared_tls_context()
    )
    if worker is not None and remote.max_in_flight is not None:
        from distributed import Semaphore

        semaphore = Semaphore(
            max_leases=remote.max_in_flight, name=semaphore_name(s, remote.max_in_flight)
        )
        transport = CappedTransport(transport, semaphore)
    return Client(
        s.site_code,
        site_codes=s.site_codes,
        client_id=s.client_id,
        client_secret=s.client_secret,
        base_url=s.base_url,
        token_url=s.token_url,
        max_concurrency=s.max_concurrency,
        rate_limit=remote.rate_limit,
        timeout=s.timeout,
        retry_budget=s.retry_budget,
        max_retries=s.max_retries,
        cache=s.cache_path or False,
        cache_ttl=s.cache_ttl,
        transport=transport,
    )


def remote_client(
    client: Client, *, max_in_flight: int | None, cluster: Any | None
) -> RemoteClient:
    """The :class:`RemoteClient` of the driver's ``client``.

    ``max_in_flight`` (default: the client's ``max_concurrency``) is the cap across the
    cluster, applied wherever the tasks run on ``distributed`` workers. ``cluster`` is the
    ``distributed.Client`` active now, if any: the client's rate limit is shared out evenly
    over the workers it has.
    """
    s = client.settings
    cap = s.max_concurrency if max_in_flight is None else max_in_flight
    rate = s.rate_limit
    if rate is not None and cluster is not None:
        rate = rate / max(1, len(cluster.nthreads()))
    return RemoteClient(s, rate_limit=rate, max_in_flight=cap)


def _clear() -> None:
    """Close every client kept in this process (tests)."""
    with _lock:
        clients = [*_in_process.values()] + [c for d in _by_worker.values() for c in d.values()]
        _in_process.clear()
        _by_worker.clear()
    for client in clients:
        client.close()
