"""``AsyncClient`` (the async core) and ``Client`` (its sync face): one method per endpoint.

Every call goes through the same path: auth (an ``httpx.Auth`` flow, ``_auth.py``), a
concurrency semaphore, an optional requests-per-second limiter, the retry policy (``_retry.py``)
and one factory that turns an error status into an exception (``make_status_error``). Key lists
longer than a call allows are split into calls of at most 100 keys, run concurrently, and merged
back in the order of the input.

Two shortcuts keep that path's behaviour: with a cache, a GET is looked up first, so that an
answer from the cache needs no token (issue 11); without one, a GET on the default aiohttp
transport skips building httpx objects and goes to aiohttp directly (``_fast_get``, issue 13).

``Client`` runs the very same core on a private event loop in a daemon thread (``_runner.py``),
so it works in a script, inside Jupyter's running loop, from several threads and next to
``nest_asyncio`` without patching anything.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import html
import json as jsonlib
import logging
import math
import os
import ssl
import threading
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar, cast

import aiohttp
import httpx
from aiolimiter import AsyncLimiter
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)
from tenacity.stop import stop_base

from . import _retry
from ._auth import ClientCredentialsAuth, TokenProvider
from ._cache import CachingTransport, credential_scope
from ._config import Settings, resolve_settings
from ._contract import (
    KIND_FLAGS,
    MAX_ID_LENGTH,
    MAX_KEYS_PER_CALL,
    MAX_PREVIOUS_VISITS,
    MAX_TTL_HOURS,
)
from ._docs import shared_doc
from ._exceptions import (
    APIStatusError,
    ClientClosedError,
    ConnectError,
    KameleoonError,
    TransportError,
    ValidationError,
    make_status_error,
    scrub,
)
from ._runner import LoopThread
from ._version import __version__

__all__ = ["MAX_KEYS_PER_CALL", "AsyncClient", "Client", "resolve_client", "set_default_client"]

T = TypeVar("T")
R = TypeVar("R")
logger = logging.getLogger("kameleoon_pandas.client")
httpx_logger = logging.getLogger("httpx")

#: The longest identifier the API accepts (data-api.md 1); the writers check the same.
MAX_KEY_LENGTH = MAX_ID_LENGTH

#: Called with 1 after each completed request of the current task (progress bars set it).
on_request: contextvars.ContextVar[Callable[[int], None] | None] = contextvars.ContextVar(
    "kameleoon_pandas_on_request", default=None
)


def settings_html(kind: str, s: Settings, *, closed: bool) -> str:
    """A client's settings as a small HTML table for Jupyter; never the secret or a token."""
    rows = [
        ("site code", s.site_code or "none (pass site_code=...)"),
        ("site codes", ", ".join(s.site_codes) or "none"),
        ("Data API", s.base_url),
        ("token endpoint", s.token_url if s.has_credentials else "not used (no credentials)"),
        ("client_id", s.client_id or "none: calls go out without a token"),
        (
            "requests",
            f"{s.max_concurrency} in flight" + (f", {s.rate_limit:g}/s" if s.rate_limit else ""),
        ),
        ("retries", f"up to {s.max_retries} within {s.retry_budget:g} s; timeout {s.timeout:g} s"),
        ("cache", f"{s.cache_path} ({s.cache_ttl:g} s)" if s.cache_path else "off"),
    ]
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    state = " (closed)" if closed else ""
    return f"<div><strong>kameleoon_pandas.{kind}</strong>{state}<table>{body}</table></div>"


class _RetryableStatus(Exception):
    """Internal: a response whose status is worth another try (never escapes this module)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class _FastAnswer:
    """Internal: a successful answer of the fast GET path, its body read, no httpx objects."""

    __slots__ = ("body", "raw_headers", "reason", "status_code")

    def __init__(self, status_code: int, body: bytes, raw_headers: Any, reason: str | None) -> None:
        self.status_code = status_code
        self.body = body
        self.raw_headers = raw_headers  # aiohttp's ((name, value), ...) in bytes
        self.reason = reason


def _is_retryable_exception(exc: BaseException) -> bool:
    if isinstance(exc, _RetryableStatus):
        return True
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.ProxyError):
        return False  # a wrong URL or request never gets better by waiting
    if _retry.connect_failure(exc) == "certificate":
        return False  # a certificate that failed verification fails again the same way
    return _retry.should_retry(exc)


class _stop_fast_on_no_connection(stop_base):
    """Stop after CONNECT_RETRIES quick retries when nothing accepts the connection at all."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        return (
            exc is not None
            and retry_state.attempt_number > _retry.CONNECT_RETRIES
            and _retry.connect_failure(exc) in ("refused", "dns")
        )


def _connect_error(
    method: str, path: str, url: httpx.URL, exc: BaseException, attempts: int
) -> TransportError:
    """The error for a request whose network failed throughout: what, where, and what to check."""
    where = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    kind = _retry.connect_failure(exc)
    if kind == "refused":
        message = (
            f"{method} {path}: could not connect to {where} (connection refused, {tries}); "
            "is the server running?"
        )
    elif kind == "dns":
        message = (
            f"{method} {path}: the host {url.host!r} does not resolve ({tries}); check the URL "
            "(base_url / KAMELEOON_BASE_URL, token_url / KAMELEOON_TOKEN_URL)"
        )
    elif kind == "certificate":
        message = (
            f"{method} {path}: the TLS certificate of {where} could not be verified "
            f"(not retried): {scrub(str(exc) or type(exc).__name__)}"
        )
    else:
        detail = scrub(str(exc) or type(exc).__name__)
        return TransportError(
            f"{method} {path} failed: {type(exc).__name__}: {detail} ({tries})",
            method=method,
            path=path,
        )
    return ConnectError(message, method=method, path=path, url=where)


# -- input checks shared with the loaders (raise before any request) ---------------------------


def validate_keys(keys: Iterable[str] | str, what: str) -> list[str]:
    """A list of distinct identifiers in input order; a single string counts as one key.

    Raises ValidationError naming the offending value and its position.
    """
    if isinstance(keys, str):
        keys = [keys]
    elif isinstance(keys, bytes | Mapping) or not isinstance(keys, Iterable):
        raise ValidationError(f"{what} must be a list of strings, got {type(keys).__name__}")
    out: dict[str, None] = {}
    for position, key in enumerate(keys):
        if not isinstance(key, str):
            raise ValidationError(
                f"{what}[{position}] must be a string, got {key!r} ({type(key).__name__})"
            )
        if not key:
            raise ValidationError(f"{what}[{position}] is an empty string")
        if len(key) > MAX_KEY_LENGTH:
            raise ValidationError(
                f"{what}[{position}] is {len(key)} characters long (at most {MAX_KEY_LENGTH}): "
                f"{key[:40]!r}..."
            )
        out[key] = None
    return list(out)


def validate_kinds(kinds: Iterable[str] | str | None) -> list[str] | None:
    """The feed kinds asked for (None = all); an unknown kind raises ValidationError naming it."""
    if kinds is None:
        return None
    if isinstance(kinds, str):
        kinds = [kinds]
    out = []
    for kind in kinds:
        if kind not in KIND_FLAGS:
            raise ValidationError(
                f"unknown kind {kind!r}; expected one of {', '.join(sorted(KIND_FLAGS))}"
            )
        if kind not in out:
            out.append(kind)
    return out


def validate_previous_visits(previous_visits: int | None) -> int | None:
    if previous_visits is None:
        return None
    if (
        isinstance(previous_visits, bool)
        or not isinstance(previous_visits, int)
        or not 0 <= previous_visits <= MAX_PREVIOUS_VISITS
    ):
        raise ValidationError(
            f"previous_visits must be an integer 0..{MAX_PREVIOUS_VISITS}, got {previous_visits!r}"
        )
    return previous_visits


def validate_ttl_hours(ttl_hours: int | None) -> int | None:
    if ttl_hours is not None and (
        isinstance(ttl_hours, bool)
        or not isinstance(ttl_hours, int)
        or not 1 <= ttl_hours <= MAX_TTL_HOURS
    ):
        raise ValidationError(f"ttl_hours must be an integer 1..{MAX_TTL_HOURS}, got {ttl_hours!r}")
    return ttl_hours


def chunks(keys: list[str], size: int = MAX_KEYS_PER_CALL) -> list[list[str]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


async def gather_all(coros: Iterable[Awaitable[T]], *, limit: int | None = None) -> list[T]:
    """Run concurrently, results in input order; the first failure cancels the rest.

    With ``limit``, at most that many run at once: ``limit`` workers take the awaitables from
    ``coros`` (a lazy iterable is consumed as they go). A loader of 2,000 visitors then keeps a
    few dozen tasks alive rather than 2,000, which the garbage collector would otherwise scan
    again and again while the answers arrive.
    """
    if limit is None:
        tasks: list[asyncio.Task[T]] = []
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(_as_coroutine(c)) for c in coros]
        except BaseExceptionGroup as group_error:
            raise _first_of(group_error) from None
        return [task.result() for task in tasks]

    results: dict[int, T] = {}
    queue = enumerate(coros)

    async def worker() -> None:
        for index, awaitable in queue:  # shared: each item goes to one worker
            results[index] = await awaitable

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, limit)):
                group.create_task(worker())
    except BaseExceptionGroup as group_error:
        raise _first_of(group_error) from None
    return [results[index] for index in range(len(results))]


def _first_of(group_error: BaseExceptionGroup) -> BaseException:
    first = group_error.exceptions[0]
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


#: Bodies larger than this go out as a stream (event bodies reach 2.5 MiB).
STREAM_BODY_OVER = 1024 * 1024
_STREAM_CHUNK = 256 * 1024


async def _byte_stream(body: bytes) -> AsyncIterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), _STREAM_CHUNK):
        yield bytes(view[start : start + _STREAM_CHUNK])


#: What ``urllib.parse.quote_plus`` makes of each ASCII character it escapes, "%" first (the
#: later replacements bring in "%"s of their own) and the space last (after "+" is escaped).
_QUOTE_PLUS_ASCII = (
    [("%", "%25")]
    + [
        (chr(code), f"%{code:02X}")
        for code in range(128)
        if not (chr(code).isalnum() or chr(code) in "_.-~% ")
    ]
    + [(" ", "+")]
)


def _quote_plus(text: str) -> str:
    """``urllib.parse.quote_plus(text)``, faster for ASCII text such as JSON key lists.

    quote_plus escapes character by character in Python (about 0.15 ms for the 2.4 KB of 100
    EANs); a few ``str.replace`` calls over the characters present do it at C speed.
    """
    if len(text) <= 64:  # names and flags repeat in every query: memoised (bounded, small)
        return _quote_short(text)
    return _quote_any(text)


def _quote_any(text: str) -> str:
    if not text.isascii():
        return urllib.parse.quote_plus(text)
    for char, escaped in _QUOTE_PLUS_ASCII:
        if char in text:
            text = text.replace(char, escaped)
    return text


_quote_short = functools.lru_cache(maxsize=4096)(_quote_any)


def _urlencode(params: Mapping[str, str]) -> str:
    """``urllib.parse.urlencode(params)`` for string values (what httpx's query is made of)."""
    return "&".join(f"{_quote_plus(key)}={_quote_plus(value)}" for key, value in params.items())


def json_array(keys: list[str]) -> str:
    return jsonlib.dumps(keys, separators=(",", ":"), ensure_ascii=False)


def _ms(value: int | float) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"a time in epoch milliseconds must be a number, got {value!r}")
    return int(value)


def _tls_env() -> tuple[str | None, str | None]:
    return os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")


@functools.lru_cache(maxsize=4)
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """The verifying TLS context for a CA setting, built once per process.

    Loading the CA bundle takes about 20 ms, which every client paid; one context is safe to
    share between clients and threads. The key is the environment httpx reads (``SSL_CERT_*``).
    """
    return httpx.create_ssl_context()


def shared_tls_context() -> ssl.SSLContext:
    """This process's verifying TLS context for the current ``SSL_CERT_*`` setting.

    For transports built outside :class:`AsyncClient` (the Dask workers' clients), which would
    otherwise each load the CA bundle again.
    """
    return _tls_context(*_tls_env())


@shared_doc
class AsyncClient:
    """The async core of the Data API client: one ``httpx.AsyncClient`` over ``httpx-aiohttp``.

    Settings are resolved once, here: the argument, then the ``KAMELEOON_*`` environment
    variable, then the default. Every call goes through auth, a concurrency cap, an optional
    rate limiter and the retry policy; an error status raises the matching
    :class:`~kameleoon_pandas.APIStatusError`. Use one event loop per client.

    Parameters
    ----------
    {settings}

    Raises
    ------
    ConfigurationError
        A setting is malformed or unsafe (plain HTTP to a remote host, one credential of two).

    See Also
    --------
    Client : the same methods as plain calls, for scripts and notebooks.

    Examples
    --------
    >>> async with kp.AsyncClient(site_code="abc123site") as ac:  # doctest: +SKIP
    ...     feed = await ac.get_visitor("8k2j4h6g8f0d2s4a")
    """

    def __init__(
        self,
        site_code: str | None = None,
        *,
        site_codes: Iterable[str] | str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str | None = None,
        token_url: str | None = None,
        max_concurrency: int = 16,
        rate_limit: float | None = None,
        timeout: float = 30.0,
        retry_budget: float = 60.0,
        max_retries: int = 4,
        cache: bool | str | os.PathLike[str] | None = None,
        cache_ttl: float = 3600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings: Settings = resolve_settings(
            site_code=site_code,
            site_codes=site_codes,
            client_id=client_id,
            client_secret=client_secret,
            base_url=base_url,
            token_url=token_url,
            max_concurrency=max_concurrency,
            rate_limit=rate_limit,
            timeout=timeout,
            retry_budget=retry_budget,
            max_retries=max_retries,
            cache=cache,
            cache_ttl=cache_ttl,
        )
        s = self.settings
        default: AiohttpTransport | None = None
        if transport is None:
            # The aiohttp session inside is created lazily by the transport, on the first
            # request, hence inside the running loop as aiohttp requires.
            limits = httpx.Limits(
                max_connections=s.max_concurrency + 4, max_keepalive_connections=s.max_concurrency
            )
            transport = default = AiohttpTransport(limits=limits, verify=shared_tls_context())
        self._cache: CachingTransport | None = None
        if s.cache_path is not None:
            scope = credential_scope(s.base_url, s.client_id, s.client_secret)
            self._cache = CachingTransport(
                transport, path=s.cache_path, ttl=s.cache_ttl, scope=scope
            )
            transport = self._cache

        self._http = httpx.AsyncClient(
            base_url=s.base_url,
            transport=transport,
            timeout=s.timeout,
            headers={"User-Agent": f"kameleoon-pandas/{__version__}"},
            follow_redirects=False,
        )
        self._slots = asyncio.Semaphore(s.max_concurrency)
        self._limiter = AsyncLimiter(s.rate_limit, 1.0) if s.rate_limit else None
        self._token_provider: TokenProvider | None = None
        self._auth: httpx.Auth | None = None
        if s.client_id is not None and s.client_secret is not None:
            self._token_provider = TokenProvider(
                client_id=s.client_id,
                client_secret=s.client_secret,
                token_url=s.token_url,
                send=self._send_token_request,
            )
            self._auth = ClientCredentialsAuth(self._token_provider)
        self._fast = self._fast_transport(default)
        self._fast_prefixes: dict[str, str] = {}
        self._fast_base_headers: dict[str, str] | None = None
        self._fast_timeout: aiohttp.ClientTimeout | None = None
        self._retry_parts: dict[str, Any] | None = None
        self._closed = False
        #: Requests sent (attempts, retries included); handy for tests and benchmarks.
        self.attempts = 0

    def _fast_transport(self, default: AiohttpTransport | None) -> AiohttpTransport | None:
        """The transport GETs may bypass httpx for (see ``_fast_get``), or None.

        Only the aiohttp transport this client built itself qualifies, and only when httpx
        would hand it the requests: no cache in between, and nothing else mounted for the base
        URL (httpx ignores the proxy variables when given a transport, as here; the check
        keeps the fast path honest should a mount ever be added).
        """
        if default is None or self._cache is not None:
            return None
        # httpx's own routing (a private method, hence the check that it is still there).
        route = getattr(self._http, "_transport_for_url", None)
        if route is None or route(self._http.base_url) is not default:
            return None
        return default

    # -- settings and lifecycle ----------------------------------------------------------------

    @property
    def site_code(self) -> str | None:
        """The default site code of every call (None when unset)."""
        return self.settings.site_code

    @property
    def site_codes(self) -> list[str]:
        """The site codes offered by pickers (the default one among them)."""
        return list(self.settings.site_codes)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"{type(self).__name__}(site_code={s.site_code!r}, base_url={s.base_url!r}, "
            f"client_id={s.client_id!r})"
        )

    def _repr_html_(self) -> str:
        return settings_html(type(self).__name__, self.settings, closed=self.closed)

    @property
    def cache(self) -> CachingTransport | None:
        """The cache of GET answers (``path``, ``ttl``, ``hits``, ``misses``), or None."""
        return self._cache

    async def cache_clear(self) -> None:
        """Drop every answer stored in the cache (nothing happens without a cache)."""
        if self._cache is not None:
            await self._cache.clear()

    async def close(self) -> None:
        """Close the connections; idempotent."""
        if not self._closed:
            self._closed = True
            await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- the one request path --------------------------------------------------------------

    def _retrying(self) -> AsyncRetrying:
        """A fresh retry loop (it holds one call's state); its parts are built once per client."""
        parts = self._retry_parts
        if parts is None:
            parts = self._retry_parts = self._build_retry_parts()
        return AsyncRetrying(**parts)

    def _build_retry_parts(self) -> dict[str, Any]:
        """The retry policy's stateless parts: the same for every call of this client (the
        settings are frozen), so each call only pays for a new ``AsyncRetrying``."""
        budget = self.settings.retry_budget

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if exc is not None and _retry.connect_failure(exc) in ("refused", "dns"):
                return _retry.CONNECT_RETRY_DELAY * state.attempt_number
            retry_after = None
            if isinstance(exc, _RetryableStatus):
                retry_after = _retry.parse_retry_after(exc.response.headers.get("Retry-After"))
            remaining = budget - (state.seconds_since_start or 0.0)
            return _retry.retry_delay(state.attempt_number, retry_after, remaining=remaining)

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            reason = (
                f"status {exc.response.status_code}"
                if isinstance(exc, _RetryableStatus)
                else type(exc).__name__
            )
            logger.debug(
                "retrying after %s (attempt %d, sleeping %.2f s)",
                reason,
                state.attempt_number,
                state.upcoming_sleep,
            )

        return {
            "retry": retry_if_exception(_is_retryable_exception),
            "stop": (
                stop_before_delay(budget)
                | stop_after_attempt(self.settings.max_retries + 1)
                | _stop_fast_on_no_connection()
            ),
            "wait": wait,
            "before_sleep": log_retry,
            "sleep": asyncio.sleep,
            "reraise": True,
        }

    async def _send_with_retries(
        self,
        method: str,
        path: str,
        build: Callable[[], httpx.Request],
        *,
        auth: httpx.Auth | None,
        limited: bool,
    ) -> httpx.Response:
        """Send ``build()`` until success, a non-retryable status or the budget's end; return the
        last response (any status). Raises TransportError (ConnectError when no connection could
        be made) when the network failed throughout, ClientClosedError once closed."""
        url: httpx.URL | None = None

        async def attempt() -> httpx.Response:
            nonlocal url
            request = build()
            url = request.url
            return await self._attempt(request, auth=auth, limited=limited)

        return await self._retried(method, path, attempt, lambda: cast(httpx.URL, url))

    async def _retried(
        self,
        method: str,
        path: str,
        attempt: Callable[[], Awaitable[R]],
        url: Callable[[], httpx.URL],
    ) -> R:
        """Run ``attempt()`` under the retry policy; the one loop of both request paths.

        ``attempt`` returns an ``httpx.Response`` (any status) or, on the fast GET path, a
        ``_FastAnswer`` (a success); ``url()`` names where the last attempt went, for errors.
        """
        attempts = 0
        try:
            async for retry in self._retrying():
                with retry:
                    if self._closed:
                        raise ClientClosedError("this client is closed")
                    attempts += 1
                    response = await attempt()
                    if isinstance(response, httpx.Response) and _retry.is_retryable_status(
                        response.status_code
                    ):
                        raise _RetryableStatus(response)
                    return response
        except _RetryableStatus as exc:
            # what the attempt itself returned, so of the attempt's own type
            return cast(R, exc.response)
        except (httpx.TransportError, ConnectionError, RuntimeError) as exc:
            if self._closed:
                failure: KameleoonError = ClientClosedError(
                    f"{method} {path}: the client was closed while this call was in flight"
                )
            elif isinstance(exc, RuntimeError):
                raise
            else:
                failure = _connect_error(method, path, url(), exc, attempts)
        else:  # tenacity (reraise=True) ends the loop only by a return above or by raising
            raise AssertionError("unreachable: the retry loop ended without an outcome")
        # Raised outside the except block, so that no __context__ keeps the transport's
        # exception (and the headers its frames hold) attached to what the user sees.
        raise failure

    async def _attempt(
        self, request: httpx.Request, *, auth: httpx.Auth | None, limited: bool
    ) -> httpx.Response:
        if not limited:
            self.attempts += 1
            return await self._http.send(request, auth=auth)
        async with self._slots:
            if self._limiter is not None:
                await self._limiter.acquire()
            self.attempts += 1
            return await self._http.send(request, auth=auth)

    def _secrets(self) -> tuple[str | None, ...]:
        """This client's credentials, for scrubbing what servers say back."""
        return self._token_provider.secrets if self._token_provider is not None else ()

    async def _send_token_request(self, request: httpx.Request) -> httpx.Response:
        # Built outside this client (``_auth``): it still names us, as every request does.
        request.headers.setdefault("User-Agent", self._http.headers["User-Agent"])
        # Outside the semaphore: requests waiting for the token hold slots, and must not
        # starve the one request that fetches it.
        return await self._send_with_retries(
            request.method, request.url.path, lambda: request, auth=None, limited=False
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: str | bytes | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request to the Data API through auth, limits and retries.

        Parameters
        ----------
        method : str
            ``"GET"`` or ``"POST"``.
        path : str
            Relative to ``base_url``, e.g. ``"/map/map"``.
        params : mapping, optional
            The query; it must carry ``siteCode``.
        content : str or bytes, optional
            The raw body (bodies over 1 MiB are streamed with a Content-Length).
        json : object, optional
            A body to send as JSON instead of ``content``.
        headers : mapping, optional
            Extra headers.

        Returns
        -------
        httpx.Response
            The successful response.

        Raises
        ------
        APIStatusError
            The server answered an error status (the subclass names it, e.g. RateLimitError).
        TransportError
            The network failed on every attempt.
        """

        def build() -> httpx.Request:
            body: Any = content.encode() if isinstance(content, str) else content
            sent_headers = dict(headers or {})
            if isinstance(body, bytes) and len(body) > STREAM_BODY_OVER:
                # aiohttp warns (ResourceWarning) on raw bytes bodies over 1 MiB; an async stream
                # with an explicit Content-Length sends the same bytes, unchunked, without it.
                sent_headers["Content-Length"] = str(len(body))
                body = _byte_stream(body)
            return self._http.build_request(
                method, path, params=params, content=body, json=json, headers=sent_headers
            )

        response = await self._from_cache(method, build)
        if response is None:
            response = await self._send_with_retries(
                method, path, build, auth=self._auth, limited=True
            )
        if response.status_code >= 400:
            raise make_status_error(response, self._secrets())
        callback = on_request.get()
        if callback is not None:
            callback(1)
        return response

    async def _from_cache(
        self, method: str, build: Callable[[], httpx.Request]
    ) -> httpx.Response | None:
        """A GET's stored answer, looked up before auth, limits and retries; else None.

        An answer from the cache goes to no server, so it needs no token: looking it up before
        the auth flow is what lets a re-run from the cache make no request at all.
        """
        if self._cache is None or method != "GET":
            return None
        if self._closed:
            raise ClientClosedError("this client is closed")
        return await self._cache.lookup(build())

    async def _get_json(self, path: str, params: dict[str, Any]) -> Any:
        if (
            self._fast is not None
            and not self._http.cookies  # httpx would send them: let it
            and all(type(value) is str for value in params.values())  # encoded as httpx does
        ):
            return await self._fast_get(path, params)
        response = await self.request("GET", path, params=params)
        return self._json_of(path, response)

    @staticmethod
    def _json_of(path: str, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise APIStatusError(
                method="GET",
                path=path,
                status_code=response.status_code,
                message=f"the answer is not JSON: {response.text[:200]!r}",
                response=response,
            ) from None

    # -- the fast GET path -----------------------------------------------------------------------
    #
    # httpx spends about 0.8 ms of CPU per request parsing and re-quoting each URL (2.4 KB for
    # 100 EANs) and building Request and Response objects. When httpx would only hand the
    # request to this client's own aiohttp transport anyway (``_fast_transport``), a GET goes
    # straight to the transport's aiohttp session with the URL string httpx would have built
    # (encoded once, by urlencode), and the very same headers, timeouts and exception mapping.
    # Everything around it is shared with ``request``: the retry loop, the semaphore and rate
    # limiter, the token and its refresh on 401, the error factory. An httpx.Response is built
    # only when something needs one: an error status (for the exceptions), a compressed body, a
    # cookie, a non-JSON answer, httpx's INFO log line.

    async def _fast_get(self, path: str, params: Mapping[str, str]) -> Any:
        """``request("GET", path, params=params)`` then ``.json()``, on the transport directly."""
        url = self._fast_url(path, params)
        outcome = await self._retried(
            "GET", path, lambda: self._fast_attempt(url), lambda: self._http.base_url
        )
        if isinstance(outcome, httpx.Response):
            if outcome.status_code >= 400:
                raise make_status_error(outcome, self._secrets())
            answer = self._json_of(path, outcome)
        else:
            try:
                answer = jsonlib.loads(outcome.body)
            except ValueError:  # the same error as the normal path, from a real response
                response = self._fast_response(url, {}, outcome)
                await response.aread()
                answer = self._json_of(path, response)
        callback = on_request.get()
        if callback is not None:
            callback(1)
        return answer

    def _fast_url(self, path: str, params: Mapping[str, str]) -> str:
        """The URL httpx builds for ``path`` and ``params``, as a string, quoted once.

        httpx joins the base URL and the path (done by httpx itself, once per path) and
        encodes the query with ``urllib.parse.urlencode``; its own re-quoting leaves that
        output unchanged. aiohttp gets this string exactly as the transport would pass it.
        """
        prefix = self._fast_prefixes.get(path)
        if prefix is None:
            prefix = str(self._http.build_request("GET", path).url)
            self._fast_prefixes[path] = prefix
        return f"{prefix}?{_urlencode(params)}" if params else prefix

    async def _fast_attempt(self, url: str) -> httpx.Response | _FastAnswer:
        """One attempt, as ``_attempt`` makes it: slot, rate limit, then the auth flow."""
        async with self._slots:
            if self._limiter is not None:
                await self._limiter.acquire()
            self.attempts += 1
            return await self._fast_auth_flow(url)

    async def _fast_auth_flow(self, url: str) -> httpx.Response | _FastAnswer:
        """``ClientCredentialsAuth``'s flow: a bearer token, and one new token after a 401."""
        headers = self._fast_headers()
        provider = self._token_provider
        if provider is None:
            return await self._fast_send(url, headers)
        token = await provider.token()
        headers["authorization"] = f"Bearer {token}"
        answer = await self._fast_send(url, headers)
        if answer.status_code == 401:
            token = await provider.token(stale=token)
            headers["authorization"] = f"Bearer {token}"
            answer = await self._fast_send(url, headers)
        return answer

    def _fast_headers(self) -> dict[str, str]:
        """The headers httpx sends on a GET: Host first, then the client's, lower-cased.

        httpx-aiohttp hands aiohttp an ``httpx.Headers``, whose keys are lower-case; the auth
        flow's ``Authorization`` comes last, as here. Built by httpx once, then copied.
        """
        if self._fast_base_headers is None:
            self._fast_base_headers = dict(self._http.build_request("GET", "/").headers.items())
        return dict(self._fast_base_headers)

    async def _fast_send(self, url: str, headers: dict[str, str]) -> httpx.Response | _FastAnswer:
        """What ``AiohttpTransport.handle_async_request`` does for a GET, the body read."""
        if self._http.is_closed:  # httpx's own refusal, which the retry loop maps
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        transport = cast(AiohttpTransport, self._fast)
        if not isinstance(transport.client, aiohttp.ClientSession):
            transport.client = transport.get_client()
        if self._fast_timeout is None:  # the transport's own mapping of httpx's timeouts
            timeout = self._http.timeout
            self._fast_timeout = aiohttp.ClientTimeout(
                sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool
            )
        with map_aiohttp_exceptions():
            async with transport.client.request(
                "GET",
                url,  # a str, as the transport passes it: aiohttp quotes it the same way
                headers=headers,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=self._fast_timeout,
            ) as raw:
                answer = _FastAnswer(raw.status, await raw.read(), raw.raw_headers, raw.reason)
        plain = answer.status_code < 400 and not any(
            name.lower() in (b"content-encoding", b"set-cookie") for name, _ in answer.raw_headers
        )
        if plain and not httpx_logger.isEnabledFor(logging.INFO):
            return answer
        response = self._fast_response(url, headers, answer)
        # httpx logs every response at INFO; so does this path, with the same line.
        httpx_logger.info(
            'HTTP Request: %s %s "%s %d %s"',
            response.request.method,
            response.request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
        if plain:
            return answer
        self._http.cookies.extract_cookies(response)
        await response.aread()  # decodes a Content-Encoding, as httpx does
        return response

    def _fast_response(
        self, url: str, headers: dict[str, str], answer: _FastAnswer
    ) -> httpx.Response:
        """The ``httpx.Response`` the normal path would have returned for this answer."""
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if answer.reason:
            extensions["reason_phrase"] = answer.reason.encode()
        response = httpx.Response(
            answer.status_code,
            headers=list(answer.raw_headers),
            stream=httpx.ByteStream(answer.body),
            request=httpx.Request("GET", url, headers=headers),
            extensions=extensions,
        )
        response.default_encoding = self._http._default_encoding
        return response

    def _site(self, site_code: str | None) -> str:
        return self.settings.site_code_for(site_code)

    async def _chunked(
        self, keys: list[str], fetch: Callable[[list[str]], Awaitable[Any]]
    ) -> dict[str, Any]:
        answers = await gather_all(fetch(chunk) for chunk in chunks(keys))
        merged: dict[str, Any] = {}
        for answer in answers:
            if isinstance(answer, dict):
                merged.update(answer)
        return {key: merged[key] for key in keys if key in merged}

    # -- endpoints (data-api.md 3) -------------------------------------------------------------

    async def get_visitor(
        self,
        visitor_code: str | None = None,
        *,
        mapping_value: str | None = None,
        previous_visits: int | None = None,
        current_visit: bool = True,
        kinds: Iterable[str] | None = None,
        site_code: str | None = None,
    ) -> dict:
        """``GET /visit/visitor``: the raw activity feed of one visitor.

        Parameters
        ----------
        visitor_code : str, optional
            The visitor; give it or ``mapping_value``, not both.
        mapping_value : str, optional
            The cross-device identifier instead of a visitor code.
        previous_visits : int, optional
            Previous visits (0..25) besides the current one; ``None`` means 0.
        current_visit : bool, default True
            Include the current visit.
        kinds : list of str, optional
            The event kinds, by the ``kind`` column's names (page, conversion, custom_data,
            experiment, personalization, geolocation, static_data); ``None`` means all.
        site_code : str, optional
            ``None`` uses the client's default.

        Returns
        -------
        dict
            The feed as the API sends it (``{}`` for an unknown visitor).

        See Also
        --------
        kameleoon_pandas.read_visitor_feeds : many visitors, as one tidy DataFrame.
        """
        params = self._visitor_params(
            visitor_code,
            mapping_value=mapping_value,
            previous_visits=validate_previous_visits(previous_visits),
            current_visit=current_visit,
            kinds=validate_kinds(kinds),
            site_code=site_code,
        )
        answer = await self._get_json("/visit/visitor", params)
        return answer if isinstance(answer, dict) else {}

    def _visitor_params(
        self,
        visitor_code: str | None,
        *,
        mapping_value: str | None,
        previous_visits: int | None,
        current_visit: bool,
        kinds: list[str] | None,
        site_code: str | None,
    ) -> dict[str, str]:
        if (visitor_code is None) == (mapping_value is None):
            raise ValidationError("pass exactly one of visitor_code and mapping_value")
        params = {"siteCode": self._site(site_code)}
        if visitor_code is not None:
            params["visitorCode"] = validate_keys([visitor_code], "visitor_code")[0]
        elif mapping_value is not None:
            params["mappingValue"] = validate_keys([mapping_value], "mapping_value")[0]
        if previous_visits:
            params["maxNumberPreviousVisits"] = str(previous_visits)
        params["version"] = "0"  # always sent by the official SDKs
        params["currentVisit"] = "true" if current_visit else "false"
        if kinds is None:
            params["all"] = "true"
        else:
            params.update({KIND_FLAGS[kind]: "true" for kind in kinds})
        return params

    async def post_visit_events(
        self,
        body: str | bytes | list[dict],
        *,
        visitor_code: str | None = None,
        site_code: str | None = None,
    ) -> None:
        """``POST /visit/events``: send a body of visit events as it is.

        Parameters
        ----------
        body : str, bytes or list of dict
            Event lines, or event objects (sent as JSON with ``json=true``).
        visitor_code : str, optional
            Applies to every event of the body.
        site_code : str, optional
            ``None`` uses the client's default.

        See Also
        --------
        kameleoon_pandas.push_events : builds the bodies from a DataFrame, with nonces, size
            limits and a report.
        """
        params: dict[str, str] = {"siteCode": self._site(site_code)}
        if visitor_code is not None:
            params["visitorCode"] = validate_keys([visitor_code], "visitor_code")[0]
        await self._post_events("/visit/events", body, params)

    async def post_product_events(
        self,
        body: str | bytes | list[dict],
        *,
        ean: str | None = None,
        site_code: str | None = None,
    ) -> None:
        """``POST /product/events``: send a body of product events as it is.

        Parameters
        ----------
        body : str, bytes or list of dict
            Event lines, or event objects (sent as JSON with ``json=true``).
        ean : str, optional
            Applies to every event of the body.
        site_code : str, optional
            ``None`` uses the client's default.

        See Also
        --------
        kameleoon_pandas.push_product_events : the same from a DataFrame.
        """
        params: dict[str, str] = {"siteCode": self._site(site_code)}
        if ean is not None:
            params["ean"] = validate_keys([ean], "ean")[0]
        await self._post_events("/product/events", body, params)

    async def _post_events(
        self, path: str, body: str | bytes | list[dict], params: dict[str, str]
    ) -> None:
        if isinstance(body, list):
            params["json"] = "true"
            content = jsonlib.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json"}
        elif isinstance(body, str | bytes):
            content = body.encode() if isinstance(body, str) else body
            headers = {"Content-Type": "text/plain; charset=utf-8"}
        else:
            raise ValidationError(
                f"body must be str, bytes or a list of dicts, got {type(body).__name__}"
            )
        await self.request("POST", path, params=params, content=content, headers=headers)

    async def post_forget(
        self, visitor_codes: Iterable[str], *, site_code: str | None = None
    ) -> None:
        """``POST /visit/forget``: delete every visit and event of these visitors.

        Parameters
        ----------
        visitor_codes : list of str
            The visitors, each taken exactly as written.
        site_code : str, optional
            ``None`` uses the client's default.

        See Also
        --------
        kameleoon_pandas.forget_visitors : the same from a DataFrame column, in chunks.
        """
        codes = validate_keys(visitor_codes, "visitor_codes")
        params = {"siteCode": self._site(site_code)}
        await self.request(
            "POST",
            "/visit/forget",
            params=params,
            content="\n".join(codes).encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )

    async def get_product_counters(
        self,
        eans: Iterable[str],
        *,
        time_begin: int,
        time_end: int,
        site_code: str | None = None,
    ) -> dict:
        """``GET /product/productCounters``: views, add-to-cart and bought quantities.

        Parameters
        ----------
        eans : list of str
            The products; more than 100 are split into concurrent calls.
        time_begin, time_end : int
            The window ``[time_begin, time_end)`` in epoch milliseconds.
        site_code : str, optional
            ``None`` uses the client's default.

        Returns
        -------
        dict
            ``{ean: {"v": views, "atcq": add_to_cart_quantity, "bq": bought_quantity}}`` in the
            order of ``eans``.

        See Also
        --------
        kameleoon_pandas.read_product_counters : as a DataFrame, one row per (ean, window).
        """
        keys = validate_keys(eans, "eans")
        begin, end = _ms(time_begin), _ms(time_end)
        if begin >= end:
            raise ValidationError(f"time_begin ({begin}) must be before time_end ({end})")
        site = self._site(site_code)

        async def fetch(chunk: list[str]) -> Any:
            return await self._counters_call(json_array(chunk), begin, end, site)

        return await self._chunked(keys, fetch)

    async def _counters_call(self, eans_json: str, begin: int, end: int, site: str) -> Any:
        """One ``GET /product/productCounters`` of checked arguments (at most 100 EANs, as a
        JSON array): the raw answer. ``read_product_counters`` calls it once per window and
        block, having checked the EANs and encoded the blocks once for all windows."""
        params = {"siteCode": site, "eans": eans_json, "timeBegin": str(begin), "timeEnd": str(end)}
        return await self._get_json("/product/productCounters", params)

    async def get_product_data(self, eans: Iterable[str], *, site_code: str | None = None) -> dict:
        """``GET /product/productData``: the stored attributes of each product.

        Parameters
        ----------
        eans : list of str
            The products; more than 100 are split into concurrent calls.
        site_code : str, optional
            ``None`` uses the client's default.

        Returns
        -------
        dict
            ``{ean: {attribute: value}}`` in the order of ``eans``; unknown EANs are left out.
        """
        keys = validate_keys(eans, "eans")
        site = self._site(site_code)

        async def fetch(chunk: list[str]) -> Any:
            params = {"siteCode": site, "eans": json_array(chunk), "all": "true"}
            return await self._get_json("/product/productData", params)

        return await self._chunked(keys, fetch)

    async def get_map(self, key: str, *, site_code: str | None = None) -> dict:
        """``GET /map/map``: the object stored under one key.

        Parameters
        ----------
        key : str
            The map key.
        site_code : str, optional
            ``None`` uses the client's default.

        Returns
        -------
        dict
            The stored object, ``{}`` for an unknown key.
        """
        key = validate_keys([key], "key")[0]
        answer = await self._get_json("/map/map", {"siteCode": self._site(site_code), "key": key})
        return answer if isinstance(answer, dict) else {}

    async def get_maps(self, keys: Iterable[str], *, site_code: str | None = None) -> dict:
        """``GET /map/maps``: the objects stored under several keys.

        Parameters
        ----------
        keys : list of str
            The map keys; more than 100 are split into concurrent calls.
        site_code : str, optional
            ``None`` uses the client's default.

        Returns
        -------
        dict
            ``{key: object}`` in the order of ``keys``; unknown keys are left out.
        """
        wanted = validate_keys(keys, "keys")
        site = self._site(site_code)

        async def fetch(chunk: list[str]) -> Any:
            return await self._get_json("/map/maps", {"siteCode": site, "keys": json_array(chunk)})

        return await self._chunked(wanted, fetch)

    async def post_maps(
        self, data: Mapping[str, Any], *, ttl_hours: int | None = None, site_code: str | None = None
    ) -> None:
        """``POST /map/maps``: merge ``{key: {field: value}}`` into the stored objects.

        Parameters
        ----------
        data : mapping
            ``{key: {field: value}}``; a ``None`` field deletes that field, an empty object
            deletes the key.
        ttl_hours : int, optional
            Expiry after this write, 1..8784 hours; ``None`` leaves the server's default
            (2208, 92 days).
        site_code : str, optional
            ``None`` uses the client's default.
        """
        if not isinstance(data, Mapping):
            raise ValidationError(
                f"data must be a dict of key -> object, got {type(data).__name__}"
            )
        validate_keys(list(data), "keys")
        params = {"siteCode": self._site(site_code)}
        if validate_ttl_hours(ttl_hours) is not None:
            params["ttlHours"] = str(ttl_hours)
        content = jsonlib.dumps(dict(data), separators=(",", ":"), ensure_ascii=False).encode()
        await self.request(
            "POST",
            "/map/maps",
            params=params,
            content=content,
            headers={"Content-Type": "application/json"},
        )


def _sync(name: str) -> Callable[..., Any]:
    """A sync method that runs ``AsyncClient.<name>`` on the client's loop thread."""
    coroutine_function = getattr(AsyncClient, name)

    @functools.wraps(coroutine_function)
    def method(self: Client, *args: Any, **kwargs: Any) -> Any:
        return self.run(getattr(self._async, name)(*args, **kwargs))

    return method


def _shutdown(runner: LoopThread, core: AsyncClient) -> None:
    """Close the core on its loop, then stop the loop (also runs at interpreter exit)."""
    if runner.running and not core.closed:
        try:
            runner.run(core.close(), timeout=5.0)
        except Exception:  # best effort at exit; the thread is a daemon anyway
            logger.debug("closing the client at shutdown failed", exc_info=True)
    runner.stop()


@shared_doc
class Client:
    """The Data API client for scripts and notebooks: the methods of :class:`AsyncClient`, sync.

    Settings are resolved once, here: the argument, then the ``KAMELEOON_*`` environment
    variable, then the default. The async core runs on a private event loop in a daemon thread,
    so a ``Client`` works in scripts, inside Jupyter's running loop and from several threads,
    without patching asyncio. Close it with ``close()`` or a ``with`` block; an unclosed client
    is closed at exit and never keeps the interpreter alive. Every loader and writer takes one
    as ``client=``.

    Parameters
    ----------
    {settings}

    Raises
    ------
    ConfigurationError
        A setting is malformed or unsafe (plain HTTP to a remote host, one credential of two).

    See Also
    --------
    AsyncClient : the same methods as coroutines.

    Examples
    --------
    >>> with kp.Client(site_code="abc123site") as client:  # doctest: +SKIP
    ...     counters = kp.read_product_counters(["SKU-1"], start="2026-11-01", client=client)
    """

    def __init__(
        self,
        site_code: str | None = None,
        *,
        site_codes: Iterable[str] | str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str | None = None,
        token_url: str | None = None,
        max_concurrency: int = 16,
        rate_limit: float | None = None,
        timeout: float = 30.0,
        retry_budget: float = 60.0,
        max_retries: int = 4,
        cache: bool | str | os.PathLike[str] | None = None,
        cache_ttl: float = 3600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # Settings are resolved (and refused) before any thread starts.
        self._async = AsyncClient(
            site_code,
            site_codes=site_codes,
            client_id=client_id,
            client_secret=client_secret,
            base_url=base_url,
            token_url=token_url,
            max_concurrency=max_concurrency,
            rate_limit=rate_limit,
            timeout=timeout,
            retry_budget=retry_budget,
            max_retries=max_retries,
            cache=cache,
            cache_ttl=cache_ttl,
            transport=transport,
        )
        self._runner = LoopThread()
        self._finalizer = weakref.finalize(self, _shutdown, self._runner, self._async)

    @property
    def async_client(self) -> AsyncClient:
        """The AsyncClient core (its coroutines must run on this client's loop: use ``run``)."""
        return self._async

    @property
    def settings(self) -> Settings:
        """The resolved settings (their repr hides the secret)."""
        return self._async.settings

    @property
    def site_code(self) -> str | None:
        """The default site code of every call (None when unset)."""
        return self._async.site_code

    @property
    def site_codes(self) -> list[str]:
        """The site codes offered by pickers (the default one among them)."""
        return self._async.site_codes

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the client was closed at exit)."""
        return not self._finalizer.alive

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"Client(site_code={s.site_code!r}, base_url={s.base_url!r}, client_id={s.client_id!r})"
        )

    def _repr_html_(self) -> str:
        return settings_html("Client", self.settings, closed=self.closed)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the client's private loop thread and return its result.

        Parameters
        ----------
        coro : coroutine
            Typically a call of ``client.async_client``'s methods.

        Returns
        -------
        object
            What the coroutine returned.

        Raises
        ------
        RuntimeError
            The client is closed.
        """
        if self.closed:
            coro.close()
            raise ClientClosedError("this client is closed")
        try:
            return self._runner.run(coro)
        except (concurrent.futures.CancelledError, asyncio.CancelledError):
            if self.closed:  # close() from another thread cancelled the call's task
                raise ClientClosedError(
                    "the client was closed while this call was in flight"
                ) from None
            raise

    def close(self) -> None:
        """Close the connections and stop the loop thread; idempotent."""
        self._finalizer()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def cache(self) -> CachingTransport | None:
        """The cache of GET answers (``path``, ``ttl``, ``hits``, ``misses``), or None."""
        return self._async.cache

    request = _sync("request")
    cache_clear = _sync("cache_clear")
    get_visitor = _sync("get_visitor")
    post_visit_events = _sync("post_visit_events")
    post_forget = _sync("post_forget")
    post_product_events = _sync("post_product_events")
    get_product_counters = _sync("get_product_counters")
    get_product_data = _sync("get_product_data")
    get_map = _sync("get_map")
    get_maps = _sync("get_maps")
    post_maps = _sync("post_maps")


_default_client: Client | None = None
_default_lock = threading.Lock()


def resolve_client(client: Client | None) -> Client:
    """``client`` itself, or (for ``None``) one process-wide client built from the environment.

    The default client is built lazily on first use, then reused; it is rebuilt if it was closed.
    Anything but a ``kp.Client`` (an ``AsyncClient`` too) is a ValidationError.
    """
    global _default_client
    if client is not None:
        if isinstance(client, AsyncClient):
            raise ValidationError(
                "client= takes a kp.Client; for an AsyncClient, call its methods with await"
            )
        if not isinstance(client, Client):
            raise ValidationError(f"client must be a kp.Client, got {type(client).__name__}")
        return client
    with _default_lock:
        if _default_client is None or _default_client.closed:
            _default_client = Client()
        return _default_client


def set_default_client(client: Client | None) -> Client | None:
    """Make ``client`` the one that calls with ``client=None`` use; return the previous one.

    ``None`` goes back to building one from the environment on next use. The previous default
    is not closed (the caller may still hold it). ``%kam serve`` points a session at an
    emulator this way.
    """
    global _default_client
    if client is not None and not isinstance(client, Client):
        raise ValidationError(
            f"the default client must be a kp.Client, got {type(client).__name__}"
        )
    with _default_lock:
        previous, _default_client = _default_client, client
    return previous
