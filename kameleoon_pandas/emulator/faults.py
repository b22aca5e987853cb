"""The gate in front of the routes: injected latency, bearer-token checks and injected faults.

A raw ASGI wrapper (outermost, so it sees uvicorn's own ``send`` and can reach the connection's
transport to drop it). A fault is decided before the routes run, so an injected fault never
stores anything.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from .options import EmulatorOptions
from .state import EmulatorState

TOKEN_PATH = "/oauth/token"
FAULT_KINDS = ("429", "500", "drop")


async def send_json(
    send: Any, status: int, payload: dict[str, Any], headers: dict | None = None
) -> None:
    """Answer from raw ASGI with a JSON body."""
    body = json.dumps(payload).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode(), str(value).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class InjectedDrop(ConnectionResetError):
    """Raised in-process (no socket to drop) when a dropped connection is injected."""


async def drop_connection(receive: Any, send: Any) -> None:
    """Abort the TCP connection without an answer, so the client sees a transport error.

    Under uvicorn, ``send`` is a bound method of the connection's request cycle, which holds the
    asyncio transport: aborting it resets the socket. Then we wait for uvicorn to notice the
    disconnect, so it does not try to answer 500 on a dead connection. In-process (httpx's
    ASGITransport) there is no socket: raise instead, which the transport hands to the caller.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        raise InjectedDrop("emulator: injected dropped connection")
    transport.abort()
    try:
        async with asyncio.timeout(5):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        pass


def _bearer(scope: dict[str, Any]) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


class Gate:
    """ASGI middleware: latency, then auth, then faults, then the app."""

    def __init__(
        self,
        app: Any,
        state: EmulatorState,
        options: EmulatorOptions,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.state = state
        self.options = options
        self.rng = rng or random.Random()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        options = self.options  # read on every request: a test may change it live
        if options.latency_ms > 0:
            await asyncio.sleep(options.latency_ms / 1000.0)  # never blocks the loop
        if scope["path"] != TOKEN_PATH:
            problem = self._auth_problem(scope, options)
            if problem is not None:
                code, message = problem
                await send_json(
                    send, 401, {"error": code, "message": message}, {"WWW-Authenticate": "Bearer"}
                )
                return
            if options.fault_rate > 0 and self.rng.random() < options.fault_rate:
                await self._fault(receive, send)
                return
        await self.app(scope, receive, send)

    def _auth_problem(
        self, scope: dict[str, Any], options: EmulatorOptions
    ) -> tuple[str, str] | None:
        header = _bearer(scope)
        if header is None:
            # [chosen] the token is optional by default; require_auth makes it mandatory.
            if options.require_auth:
                return "unauthorized", "missing Authorization: Bearer <token> header"
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "unauthorized", "the Authorization header is not 'Bearer <token>'"
        status = self.state.token_status(token.strip())
        if status == "valid":
            return None
        if status == "expired":
            return "token_expired", "the bearer token has expired; fetch a new one"
        return "invalid_token", "the bearer token is not known to this server"

    async def _fault(self, receive: Any, send: Any) -> None:
        kind = self.rng.choice(FAULT_KINDS)
        if kind == "429":
            # [chosen] Retry-After: 0 so that clients retry at once and tests stay fast.
            await send_json(
                send,
                429,
                {"error": "rate_limited", "message": "injected fault: too many requests"},
                {"Retry-After": "0"},
            )
        elif kind == "500":
            await send_json(
                send, 500, {"error": "internal", "message": "injected fault: server error"}
            )
        else:
            await drop_connection(receive, send)
