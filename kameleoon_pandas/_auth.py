"""OAuth2 client credentials as an ``httpx.Auth`` flow (data-api.md 2).

The token is fetched on first use, cached, treated as stale 60 s before it expires (as the
official SDKs do) and refreshed once when the API answers 401. Concurrent requests share one
refresh, and its outcome: a token endpoint that fails is asked once, not once per waiting request.
Neither the secret nor the token ever appears in a repr, a log record or an exception message.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable

import httpx

from ._exceptions import (
    APIStatusError,
    AuthenticationError,
    KameleoonError,
    _server_message,
    make_status_error,
    mask_authorization,
    scrub,
)
from ._retry import is_retryable_status

__all__ = ["ClientCredentialsAuth", "TokenProvider"]

logger = logging.getLogger("kameleoon_pandas.auth")

#: A token is stale this many seconds before it expires.
EXPIRY_MARGIN = 60.0


class _Token:
    """A bearer token whose value never shows in a repr."""

    __slots__ = ("expires_at", "value")

    def __init__(self, value: str, expires_at: float) -> None:
        self.value = value
        self.expires_at = expires_at

    def fresh(self, now: float) -> bool:
        return now < self.expires_at  # expires_at already has the margin taken off

    def __repr__(self) -> str:
        return "<token ***>"


def _basic_auth(client_id: str, secret: str) -> str:
    """HTTP Basic, as the official Python SDK sends it (wire/official-python-sdk-*.json).

    A function of its own so that no frame of an error's traceback holds the pair in a local
    (verbose tracebacks, ``pytest -l`` and error trackers show locals).
    """
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")


class TokenProvider:
    """Fetches, caches and refreshes the token; ``send`` posts the token request.

    ``send(request)`` is the owning client's raw sender (with retries on network failures and
    server errors, without auth), so the token endpoint gets the same resilience as the API.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        token_url: str,
        send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    ) -> None:
        self.client_id = client_id
        self._secret = client_secret
        self.token_url = token_url
        self._send = send
        self._token: _Token | None = None
        self._refresh: asyncio.Task[str] | None = None  # the fetch in flight, shared
        self.refreshes = 0
        #: Seconds for token freshness; a test may swap in a clock it advances by hand.
        self.clock: Callable[[], float] = time.monotonic

    def __repr__(self) -> str:
        return f"TokenProvider(client_id={self.client_id!r}, token_url={self.token_url!r})"

    async def token(self, *, stale: str | None = None) -> str:
        """A fresh token; ``stale`` is one the API just refused (replaced unless done already)."""
        current = self._token
        if current is not None and current.fresh(self.clock()) and current.value != stale:
            return current.value
        if self._refresh is None:
            self._refresh = asyncio.ensure_future(self._refreshed())
        # shielded: a caller that gives up (cancelled) does not cancel the others' refresh
        return await asyncio.shield(self._refresh)

    async def _refreshed(self) -> str:
        try:
            self._token = await self._fetch()
            return self._token.value
        finally:
            self._refresh = None

    async def _fetch(self) -> _Token:
        request = httpx.Request(
            "POST",
            self.token_url,
            data={"grant_type": "client_credentials"},
        )
        request.headers["Authorization"] = _basic_auth(self.client_id, self._secret)
        sent_at = self.clock()
        try:
            response = await self._send(request)
        except KameleoonError as exc:
            raise self._scrub(exc) from None
        if response.status_code != 200:
            mask_authorization(response.request)
            message = _server_message(response, self.secrets)
            if is_retryable_status(response.status_code):
                # still failing when the retries ran out: the server's trouble (a ServerError,
                # a RateLimitError), not the credentials
                error_class = type(make_status_error(response))
                message = f"the token endpoint failed ({message}), even after retries"
            else:
                error_class = AuthenticationError
                message = (
                    f"the token endpoint refused the credentials of client_id {self.client_id!r}"
                    f" ({message}); check client_id / client_secret "
                    "(KAMELEOON_CLIENT_ID / KAMELEOON_CLIENT_SECRET)"
                )
            raise error_class(
                method="POST",
                path=response.request.url.path,
                status_code=response.status_code,
                message=message,
                response=response,
            )
        mask_authorization(response.request)
        try:
            payload = response.json()
            value = payload["access_token"]
            lifetime = float(payload.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise AuthenticationError(
                method="POST",
                path=response.request.url.path,
                status_code=response.status_code,
                message="the token endpoint answered without a usable access_token",
                response=response,
            ) from None
        if not isinstance(value, str) or not value:
            raise AuthenticationError(
                method="POST",
                path=response.request.url.path,
                status_code=response.status_code,
                message="the token endpoint answered an empty access_token",
                response=response,
            )
        # Stale EXPIRY_MARGIN before expiry; a lifetime shorter than twice the margin (a test
        # emulator) keeps half of it, so that a token is always usable at least once.
        margin = min(EXPIRY_MARGIN, lifetime / 2)
        self.refreshes += 1
        logger.debug("fetched a token for client_id %r (valid %.0f s)", self.client_id, lifetime)
        return _Token(value, sent_at + lifetime - margin)

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """What must never show: the secret, the Basic pair and the current token."""
        token = self._token.value if self._token else None
        return (self._secret, f"{self.client_id}:{self._secret}", token)

    def _clean(self, text: str) -> str:
        """``text`` that may come back from a server, without any credential (``scrub``)."""
        return scrub(text, self.secrets)

    def _scrub(self, exc: KameleoonError) -> KameleoonError:
        exc.args = tuple(self._clean(a) if isinstance(a, str) else a for a in exc.args)
        if isinstance(exc, APIStatusError):
            exc.message = self._clean(exc.message)
        return exc


class ClientCredentialsAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <token>`` and retries once with a new token on a 401."""

    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(client_id={self.provider.client_id!r})"

    def sync_auth_flow(self, request: httpx.Request):  # pragma: no cover - async only
        raise RuntimeError("ClientCredentialsAuth works with httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.provider.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = await self.provider.token(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request
