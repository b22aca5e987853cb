"""The retry policy as small pure functions: should this outcome be retried, and how long to wait.

The loop itself is tenacity's ``AsyncRetrying`` (see ``client.py``). We use tenacity rather than
stamina because tenacity is async-native, lets the wait be computed from the failed attempt (so
the server's ``Retry-After`` can be honoured) and has ``stop_before_delay`` for a total time
budget that no sleep overshoots; stamina hides the wait behind its own backoff formula.
"""

from __future__ import annotations

import email.utils
import errno
import random
import socket
import ssl
import time
from collections.abc import Callable

import httpx

__all__ = [
    "CONNECT_RETRIES",
    "CONNECT_RETRY_DELAY",
    "RETRY_AFTER_CAP",
    "RETRY_STATUSES",
    "backoff_delay",
    "connect_failure",
    "is_retryable_status",
    "parse_retry_after",
    "retry_delay",
    "should_retry",
]

#: Statuses worth another try: timeout, rate limited, and every server error.
RETRY_STATUSES = frozenset({408, 429})
#: The longest wait a ``Retry-After`` header may impose, in seconds.
RETRY_AFTER_CAP = 30.0
BACKOFF_BASE = 0.1
BACKOFF_CAP = 5.0
#: A connection refused or a host that does not resolve gets this many quick retries (a server
#: that is restarting), CONNECT_RETRY_DELAY * n seconds apart: under a second in all.
CONNECT_RETRIES = 2
CONNECT_RETRY_DELAY = 0.25


def is_retryable_status(status: int) -> bool:
    """408, 429 and every 5xx; never 413 or another 4xx (they would fail again the same way)."""
    return status in RETRY_STATUSES or 500 <= status <= 599


def should_retry(outcome: httpx.Response | BaseException) -> bool:
    """Retry on network failures and on retryable statuses.

    Network failures are ``httpx.TransportError`` and, for in-process transports that let the
    socket-level error through unmapped (``httpx.ASGITransport``), ``ConnectionError``.
    """
    if isinstance(outcome, httpx.Response):
        return is_retryable_status(outcome.status_code)
    return isinstance(outcome, httpx.TransportError | ConnectionError)


def connect_failure(exc: BaseException) -> str | None:
    """Why no connection could be made, read from ``exc`` and what caused it.

    ``"certificate"`` (TLS verification failed: never retried), ``"refused"`` (nothing listens
    there) or ``"dns"`` (the host does not resolve); ``None`` for any other failure. Transports
    wrap the socket error (httpx-aiohttp even maps a refused connection to ``ConnectTimeout``),
    so the chain of causes is what tells.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return "certificate"
        if isinstance(current, socket.gaierror):
            return "dns"
        if isinstance(current, OSError) and current.errno == errno.ECONNREFUSED:
            return "refused"
        current = current.__cause__ or current.__context__
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), else None."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def backoff_delay(
    attempt: int,
    *,
    base: float = BACKOFF_BASE,
    cap: float = BACKOFF_CAP,
    rand: Callable[[], float] = random.random,
) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(attempt-1))].

    ``attempt`` counts the failed attempts so far (1 after the first failure).
    """
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling * rand()


def retry_delay(
    attempt: int,
    retry_after: float | None,
    *,
    remaining: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """How long to sleep before the next attempt, never past the ``remaining`` budget.

    A server's ``Retry-After`` wins over the backoff (capped at :data:`RETRY_AFTER_CAP`); a
    little jitter is added to it so that many waiting requests do not return all at once.
    """
    if retry_after is not None:
        delay = min(retry_after, RETRY_AFTER_CAP) + BACKOFF_BASE * rand()
    else:
        delay = backoff_delay(attempt, rand=rand)
    return max(0.0, min(delay, remaining))
