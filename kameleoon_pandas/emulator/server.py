"""Running the emulator: uvicorn on a background thread (``serve``) or in the foreground (CLI).

Both bind 127.0.0.1 themselves before uvicorn starts, so port 0 works and the URL is known at
once; ``serve`` returns only once uvicorn reports it is accepting connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from .options import EmulatorOptions
from .routes import create_app
from .state import EmulatorState

if TYPE_CHECKING:
    from ..client import Client

DEFAULT_SITE_CODES = ["demosite01"]
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787  # the foreground server (the CLI); ``serve`` picks a free port
DEFAULT_DB = ":memory:"
_READY_TIMEOUT = 20.0


def bind_socket(host: str = DEFAULT_HOST, port: int = 0) -> socket.socket:
    """A listening TCP socket (port 0 picks a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def uvicorn_config(app: Any, *, access_log: bool = False) -> uvicorn.Config:
    """httptools and uvloop: a trivial route serves far more requests/s than with h11/asyncio.

    uvicorn's own access log stays off (``access_log`` is for other apps on this stack): the
    emulator writes its own, with the time each request took (``EmulatorOptions.access_log``).
    """
    return uvicorn.Config(
        app,
        http="httptools",
        loop="uvloop",
        lifespan="off",
        log_config=None,  # never reconfigure the host application's logging
        log_level="warning",
        access_log=access_log,
        timeout_keep_alive=30,
    )


class _Server(uvicorn.Server):
    """uvicorn's server, which :meth:`stop` wakes at once.

    uvicorn looks at ``should_exit`` once per 0.1 s tick, so leaving ``serve`` waited for the
    next tick (half of the 0.19 s a ``with serve()`` took to exit). The loop below is
    uvicorn's ``main_loop`` (as of 0.55) with the tick's sleep made an event wait; should a
    later uvicorn stop calling ``main_loop``, ``stop`` still works, at the tick's pace.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    def stop(self) -> None:
        """Ask the server to shut down; callable from any thread."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed already
                loop.call_soon_threadsafe(wake.set)


class RequestCounter:
    """ASGI middleware: counts the HTTP requests that reach the emulator, per method and path.

    Every request is counted on arrival, before latency, auth or an injected fault (so a
    refused one counts too); the query string is left out of the key.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()  # read from the caller's thread, written on the server's

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            key = f"{scope['method']} {scope['path']}"
            with self._lock:
                self._counts[key] += 1
        await self.app(scope, receive, send)

    def counts(self) -> Counter[str]:
        """A copy of the counts so far, ``{"GET /visit/visitor": 12, ...}``."""
        with self._lock:
            return Counter(self._counts)


def base_url(host: str, port: int) -> str:
    """The URL a client on this machine connects to: a wildcard bind (``0.0.0.0``, ``::``) is
    reached on loopback, an IPv6 address goes in brackets."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


@dataclass
class EmulatorServer:
    """A running emulator: its URLs, credentials, site codes, live options and state.

    Yielded by :func:`serve`; the foreground server (``kameleoon-pandas serve``) describes
    itself with one too.

    Attributes
    ----------
    url : str
        The Data API base URL, ``http://127.0.0.1:<port>`` (no trailing slash).
    options : EmulatorOptions
        The live options: a change (``srv.options.fault_rate = 0.2``) applies to the next request.
    state : EmulatorState
        What the server stores; readable (and writable) while it runs.
    site_codes : list of str
        The site codes that hold data (the demo's, after ``seed="demo"``), the first one being
        the default; ``["demosite01"]`` when the state is empty.
    token_url : str
        The ``/oauth/token`` URL.
    client_id, client_secret : str
        The credentials ``/oauth/token`` accepts (from :attr:`options`).
    port : int
        The bound port.
    user_agents : list of str
        The ``User-Agent`` headers of the last 1,000 requests, oldest first.
    request_counts : collections.Counter
        Every HTTP request served so far, per ``"METHOD /path"`` (a copy).
    request_count : int
        Their total.

    Examples
    --------
    >>> from kameleoon_pandas.emulator import serve
    >>> with serve() as srv:
    ...     srv.token_url == srv.url + "/oauth/token"
    True
    """

    url: str
    options: EmulatorOptions
    state: EmulatorState
    site_codes: list[str] = field(default_factory=list)
    _counter: RequestCounter | None = field(default=None, repr=False, compare=False)

    @property
    def token_url(self) -> str:
        """The ``/oauth/token`` URL of this server."""
        return self.url + "/oauth/token"

    @property
    def client_id(self) -> str:
        """The client id ``/oauth/token`` accepts."""
        return self.options.client_id

    @property
    def client_secret(self) -> str:
        """The client secret ``/oauth/token`` accepts."""
        return self.options.client_secret

    @property
    def user_agents(self) -> list[str]:
        """The ``User-Agent`` headers of the last requests (at most 1,000), oldest first."""
        return self.state.user_agents

    @property
    def request_counts(self) -> Counter[str]:
        """The HTTP requests served so far, per ``"METHOD /path"``: a copy, to diff with another.

        Counted on arrival (refused and faulted requests included), whatever their query
        string; token requests are ``"POST /oauth/token"``. Empty for a server that is not
        running (``kameleoon-pandas serve`` before it starts).

        Examples
        --------
        >>> import kameleoon_pandas as kp
        >>> from kameleoon_pandas.emulator import serve
        >>> with serve(seed="demo") as srv, srv.client() as client:
        ...     before = srv.request_counts
        ...     _ = kp.read_product_data(["4017000000000"], client=client, progress=False)
        ...     srv.request_counts - before
        Counter({'POST /oauth/token': 1, 'GET /product/productData': 1})
        """
        return self._counter.counts() if self._counter is not None else Counter()

    @property
    def request_count(self) -> int:
        """How many HTTP requests the server has served so far (see :attr:`request_counts`)."""
        return self.request_counts.total()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.url.rsplit(":", 1)[1])

    def env(self) -> dict[str, str]:
        """The ``KAMELEOON_*`` settings that point a client at this server.

        Returns
        -------
        dict of str to str
            ``KAMELEOON_BASE_URL``, ``KAMELEOON_TOKEN_URL``, ``KAMELEOON_CLIENT_ID``,
            ``KAMELEOON_CLIENT_SECRET``, ``KAMELEOON_SITE_CODE`` (the first site code) and
            ``KAMELEOON_SITE_CODES`` (all of them, comma-separated).

        Examples
        --------
        >>> from kameleoon_pandas.emulator import serve
        >>> with serve(seed="demo") as srv:
        ...     env = srv.env()  # os.environ.update(env): kp.Client() then talks to it
        ...     env["KAMELEOON_SITE_CODES"]
        'demosite01,demosite02'
        """
        return {
            "KAMELEOON_BASE_URL": self.url,
            "KAMELEOON_TOKEN_URL": self.token_url,
            "KAMELEOON_CLIENT_ID": self.client_id,
            "KAMELEOON_CLIENT_SECRET": self.client_secret,
            "KAMELEOON_SITE_CODE": self.site_codes[0],
            "KAMELEOON_SITE_CODES": ",".join(self.site_codes),
        }

    def client(self, **settings: Any) -> Client:
        """A ready ``kp.Client`` for this server: its URLs, credentials and site codes.

        Parameters
        ----------
        **settings
            Any other :class:`kameleoon_pandas.Client` argument (``cache=True``,
            ``max_concurrency=...``), or an override of the ones filled in here.

        Returns
        -------
        kameleoon_pandas.Client
            Close it (or use ``with``) when done; the server does not own it.

        Examples
        --------
        >>> from kameleoon_pandas.emulator import serve
        >>> with serve(seed="demo") as srv, srv.client() as client:
        ...     client.site_code
        'demosite01'
        """
        # The one place the emulator touches the client side, and only when asked: a
        # convenience for users; nothing the server does depends on it.
        from ..client import Client

        given = {
            "site_codes": self.site_codes,
            "base_url": self.url,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        return Client(**{**given, **settings})

    def __repr__(self) -> str:
        return f"EmulatorServer(url={self.url!r}, site_codes={self.site_codes!r})"

    def _repr_html_(self) -> str:
        rows = [
            ("Data API", self.url),
            ("token endpoint", self.token_url),
            ("client_id", self.client_id),
            ("site codes", ", ".join(self.site_codes)),
            ("auth required", "yes" if self.options.require_auth else "no"),
            ("strict", "yes" if self.options.strict else "no"),
            (
                "faults",
                f"{self.options.fault_rate:g} of requests" if self.options.fault_rate else "none",
            ),
            ("latency", f"{self.options.latency_ms:g} ms" if self.options.latency_ms else "none"),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        # The secret stays out: srv.client_secret or srv.env() give it to code that needs it.
        return f"<div><strong>Kameleoon Data API emulator</strong><table>{body}</table></div>"


def prepare(
    db: str | Path | EmulatorState,
    seed: str | None,
    random_seed: int,
    option_fields: dict[str, Any],
) -> tuple[EmulatorState, EmulatorOptions, list[str], bool]:
    """Open (and seed) the state and build the options; say whether we own the state."""
    unknown = set(option_fields) - EmulatorOptions.field_names()
    if unknown:
        raise TypeError(f"unknown emulator option(s): {', '.join(sorted(unknown))}")
    options = EmulatorOptions(**option_fields)
    if isinstance(db, EmulatorState):
        state, owned = db, False  # the caller's: left open
    else:
        state, owned = EmulatorState(db), True
    try:
        if seed is not None:
            from .seed import seed_state

            site_codes = seed_state(state, seed, random_seed=random_seed)
        else:
            site_codes = state.site_codes() or list(DEFAULT_SITE_CODES)
    except BaseException:
        if owned:
            state.close()
        raise
    return state, options, site_codes, owned


@contextmanager
def serve(
    db: str | Path | EmulatorState = DEFAULT_DB,
    seed: str | None = None,
    random_seed: int = 0,
    port: int = 0,
    host: str = DEFAULT_HOST,
    **option_fields: Any,
) -> Iterator[EmulatorServer]:
    """Run the emulator on a background thread for the duration of a ``with`` block.

    Returns only once the server accepts connections; stops it (and closes a state it opened)
    on leaving the block.

    Parameters
    ----------
    db : str, Path or EmulatorState, default ":memory:"
        ``":memory:"``, an SQLite file path (its data is kept across restarts) or an open
        :class:`EmulatorState` (left open afterwards).
    seed : {None, "demo"}, optional
        ``"demo"`` writes the demo data set (see :func:`seed_state`) unless already there.
    random_seed : int, default 0
        The seed of the demo data.
    port : int, default 0
        The port to bind on ``host``; 0 picks a free one.
    host : str, default "127.0.0.1"
        The address to bind.
    **option_fields
        :class:`EmulatorOptions` fields: ``require_auth=True``, ``fault_rate=0.1``, ...

    Yields
    ------
    EmulatorServer
        ``url``, ``token_url``, ``client_id``, ``client_secret``, ``site_codes``, the live
        ``options``, the ``state`` and ``env()``.

    Raises
    ------
    TypeError
        For a keyword that is no :class:`EmulatorOptions` field.
    ValueError
        For an unknown ``seed``.
    OSError
        When ``host:port`` cannot be bound.
    RuntimeError
        When the server fails to start (or does not within 20 s).

    Examples
    --------
    >>> import httpx
    >>> from kameleoon_pandas.emulator import serve
    >>> with serve(seed="demo", require_auth=True) as srv:
    ...     httpx.get(srv.url + "/map/map", params={"siteCode": "demosite01", "key": "k"})
    <Response [401 Unauthorized]>
    """
    state, options, site_codes, owned = prepare(db, seed, random_seed, option_fields)
    sock: socket.socket | None = None
    thread: threading.Thread | None = None
    server: _Server | None = None
    try:
        sock = bind_socket(host, port)
        bound_port = sock.getsockname()[1]
        counter = RequestCounter(create_app(state, options))
        server = _Server(uvicorn_config(counter))
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=_run_in_thread,
            args=(server, sock, failure),
            name=f"kameleoon-emulator-{bound_port}",
            daemon=True,
        )
        thread.start()
        deadline = time.monotonic() + _READY_TIMEOUT
        while not server.started:
            if failure or not thread.is_alive():
                raise RuntimeError(
                    f"the emulator failed to start: {failure[0] if failure else '?'}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start within {_READY_TIMEOUT:g} s")
            time.sleep(0.005)
        yield EmulatorServer(base_url(host, bound_port), options, state, site_codes, counter)
    finally:
        if server is not None:
            server.stop()
        if thread is not None:
            thread.join(timeout=10)
        if sock is not None:
            sock.close()
        if owned:
            state.close()


def _run_in_thread(
    server: uvicorn.Server, sock: socket.socket, failure: list[BaseException]
) -> None:
    import uvloop

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(server.serve(sockets=[sock]))
    except BaseException as exc:  # reported to the starting thread
        failure.append(exc)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def run_foreground(
    db: str | Path = DEFAULT_DB,
    seed: str | None = None,
    random_seed: int = 0,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    on_ready: Callable[[EmulatorServer], object] | None = None,
    **option_fields: Any,
) -> None:
    """Serve in this thread until interrupted (Ctrl-C / SIGTERM), then close the state.

    Takes the parameters of :func:`serve` (``port`` defaults to 8787); ``on_ready(server)`` runs
    with an :class:`EmulatorServer` once the socket is bound (``access_log=True``, an option,
    logs every request). Raises ``OSError`` when ``host:port`` cannot be bound.
    """
    state, options, site_codes, _owned = prepare(db, seed, random_seed, option_fields)
    try:
        sock = bind_socket(host, port)
        bound_port = sock.getsockname()[1]
        counter = RequestCounter(create_app(state, options))
        info = EmulatorServer(base_url(host, bound_port), options, state, site_codes, counter)
        if on_ready is not None:
            on_ready(info)
        server = uvicorn.Server(uvicorn_config(counter))
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
    finally:
        state.close()
