"""The gate in front of the routes: latency, bearer tokens, injected faults, the access log and
the catch-all that turns any internal failure into a JSON ``500``.

A raw ASGI wrapper (outermost, so it sees uvicorn's own ``send`` and can reach the connection's
transport to drop it). The faults ``429``, ``500`` and ``drop`` are decided before the routes
run, so they never store anything; ``lost-ack`` lets the request be handled (and stored), then
drops the connection instead of sending the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect

from .options import FAULT_KINDS, EmulatorOptions
from .state import EmulatorState

__all__ = ["ACCESS_LOGGER", "FAULT_KINDS", "Gate", "InjectedDrop", "drop_connection", "send_json"]

TOKEN_PATH = "/oauth/token"
#: The logger of the access log (one INFO line per request when ``options.access_log`` is on).
ACCESS_LOGGER = "kameleoon_pandas.emulator.access"
_access = logging.getLogger(ACCESS_LOGGER)
_errors = logging.getLogger("kameleoon_pandas.emulator")

Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]


async def send_json(
    send: Any, status: int, payload: dict[str, Any], headers: dict | None = None
) -> None:
    """Answer from raw ASGI with a JSON body (ASCII: any text in it is escaped)."""
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


def _note(outcome: list[Any] | None, text: str) -> None:
    """Keep the first note on a request for the access log (when it is on)."""
    if outcome is not None and not outcome[1]:
        outcome[1] = text


class Gate:
    """ASGI middleware: latency, then auth, then faults, then the app, behind a catch-all.

    It also keeps the last user agents seen (``state.user_agents``) and writes the access log.
    """

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
        self._record_user_agent = state.record_user_agent

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        options = self.options  # read on every request: a test may change it live
        if not options.access_log:
            await self._guarded(scope, receive, send, send, options, None)
            return
        # The access log: the answer's status is read on its way out (a request is logged
        # whole or not at all, as the option was when it came in).
        began = time.perf_counter()
        outcome: list[Any] = [0, ""]  # the status, and a note

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome[0] = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, send, tracked, options, outcome)
        finally:
            elapsed = (time.perf_counter() - began) * 1000
            note = f" {outcome[1]}" if outcome[1] else ""
            _access.info(
                "%s %s %s %.1f ms%s",
                scope["method"],
                scope["path"],
                outcome[0] or "-",
                elapsed,
                note,
            )

    async def _guarded(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        reply: Send,
        options: EmulatorOptions,
        outcome: list[Any] | None,
    ) -> None:
        """The catch-all: whatever fails, answer JSON and return normally, so that uvicorn
        keeps the connection open for the next request (it closes it on an exception)."""
        try:
            await self._handle(scope, receive, send, reply, options, outcome)
        except InjectedDrop:
            raise  # in-process: the caller sees the dropped connection
        except ClientDisconnect:
            _note(outcome, "(the client went away)")  # nobody to answer, nothing failed here
        except Exception as exc:  # the gate's own code failed: nothing was answered yet
            _errors.error("emulator: %s %s failed", scope["method"], scope["path"], exc_info=exc)
            _note(outcome, f"({type(exc).__name__})")
            with contextlib.suppress(Exception):  # the connection is gone: nothing to answer
                await self._internal(scope, reply, exc)

    async def _app(self, scope: dict[str, Any], receive: Any, reply: Send, outcome: Any) -> None:
        """The routes; a failure there has been answered already (a JSON 500, by
        ``routes.internal_error``) when Starlette re-raises it: log it, answer nothing more."""
        try:
            await self.app(scope, receive, reply)
        except (InjectedDrop, ClientDisconnect):
            raise
        except Exception as exc:
            _errors.error("emulator: %s %s failed", scope["method"], scope["path"], exc_info=exc)
            _note(outcome, f"({type(exc).__name__})")

    async def _handle(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        reply: Send,
        options: EmulatorOptions,
        outcome: list[Any] | None,
    ) -> None:
        if options.latency_ms > 0:
            await asyncio.sleep(options.latency_ms / 1000.0)  # never blocks the loop
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"user-agent":
                self._record_user_agent(value.decode("latin-1"))
        if scope["path"] != TOKEN_PATH:
            problem = self._auth_problem(authorization, options)
            if problem is not None:
                code, message = problem
                await send_json(
                    reply,
                    401,
                    {"error": code, "message": message},
                    {"WWW-Authenticate": "Bearer"},
                )
                return
            if options.fault_rate > 0 and options.faults and self.rng.random() < options.fault_rate:
                kind = self.rng.choice(options.faults)
                _note(outcome, f"(injected {kind})")
                await self._fault(kind, scope, receive, send, reply, outcome)
                return
        await self._app(scope, receive, reply, outcome)

    def _auth_problem(self, header: str | None, options: EmulatorOptions) -> tuple[str, str] | None:
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

    async def _fault(
        self,
        kind: str,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        reply: Send,
        outcome: list[Any] | None,
    ) -> None:
        if kind == "429":
            # [chosen] Retry-After: 0 so that clients retry at once and tests stay fast.
            await send_json(
                reply,
                429,
                {"error": "rate_limited", "message": "injected fault: too many requests"},
                {"Retry-After": "0"},
            )
        elif kind == "500":
            await send_json(
                reply, 500, {"error": "internal", "message": "injected fault: server error"}
            )
        elif kind == "drop":
            await drop_connection(receive, send)
        else:  # "lost-ack": handled and stored, then the answer is lost with the connection

            async def swallow(message: Message) -> None:  # the answer never leaves
                if outcome is not None and message["type"] == "http.response.start":
                    outcome[0] = message["status"]  # (for the access log: what was lost)

            await self._app(scope, receive, swallow, outcome)
            await drop_connection(receive, send)

    async def _internal(self, scope: dict[str, Any], send: Send, exc: Exception) -> None:
        await send_json(
            send,
            500,
            {
                "error": "internal",
                "message": f"{scope['method']} {scope['path']}: {type(exc).__name__}",
            },
        )
