"""The Data API endpoints and ``/oauth/token``, as a Starlette app (see ``data-api.md``).

A handler parses its request (with :mod:`.wire`), calls the model (:mod:`.model`, where every rule
lives) and renders the answer: JSON, ``204`` or the error body.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route, Router

from . import shapes, wire
from .faults import Gate
from .model import FEED_KEYS, FEED_KINDS, MAX_KEYS, MAX_TTL_HOURS, EmulatorModel
from .options import EmulatorOptions
from .state import EmulatorState

# The kind flags of GET /visit/visitor, each named as the stored kind it selects.
_KIND_FLAGS = tuple(FEED_KEYS)
_COMPACT = (",", ":")


class ApiError(Exception):
    """An error answer: ``{"error": code, "message": message}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _error_response(status: int, code: str, message: str) -> Response:
    # [chosen] the error body shape: {"error": "<code>", "message": "<what and where>"}; ASCII
    # JSON, so that no text quoted in a message can fail to encode.
    body = json.dumps({"error": code, "message": message}, separators=_COMPACT)
    return Response(body, status_code=status, media_type="application/json")


_QUERY = "kameleoon.query"  # where a request's parsed query is kept, in its scope


def _query(request: Request) -> Mapping[str, str]:
    """The query parameters, parsed once per request (the last value of a repeated name).

    A query without ``%`` or ``+`` needs no decoding: split in place, with what Starlette's
    ``request.query_params`` (``urllib.parse.parse_qsl``) would give, at a fraction of the cost
    on the cheapest requests. Anything else goes through Starlette's own parsing.
    """
    scope = request.scope
    parsed = scope.get(_QUERY)
    if parsed is None:
        text = scope["query_string"].decode("latin-1")
        if "%" in text or "+" in text:
            parsed = request.query_params
        else:
            parsed = {}
            for part in text.split("&"):
                if part:  # parse_qsl skips empty parts and reads "name" as "name="
                    name, _, value = part.partition("=")
                    parsed[name] = value
        scope[_QUERY] = parsed
    return parsed


def _json(request: Request, payload: Any, status: int = 200) -> Response:
    pretty = _query(request).get("prettyPrint", "").lower() == "true"
    body = json.dumps(payload, indent=2) if pretty else json.dumps(payload, separators=_COMPACT)
    return Response(body, status_code=status, media_type="application/json")


def _site(request: Request) -> str:
    site = _query(request).get("siteCode")
    if not site:
        raise wire.QueryError("siteCode", "missing (every endpoint requires it)")
    if len(site) > wire.MAX_IDENTIFIER:
        raise wire.QueryError("siteCode", f"longer than {wire.MAX_IDENTIFIER} characters")
    return site


def _optional_identifier(request: Request, name: str) -> str | None:
    value = _query(request).get(name)
    if value is None or value == "":
        return None
    if len(value) > wire.MAX_IDENTIFIER:
        raise wire.QueryError(name, f"longer than {wire.MAX_IDENTIFIER} characters")
    return value


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes with 413 (before reading it all)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413, "payload_too_large", f"the body has {int(declared)} bytes; at most {limit} here"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _invalid_body(exc: wire.BodyError) -> ApiError:
    return ApiError(400, "invalid_body", str(exc))


class Handlers:
    """The endpoint functions: parse the request, call the model, render the answer."""

    def __init__(self, state: EmulatorState, options: EmulatorOptions) -> None:
        self.state = state
        self.options = options
        self.model = EmulatorModel(state, options)

    # -- shared by the two event endpoints -----------------------------------------------------

    async def _event_body(
        self, request: Request, id_param: str
    ) -> tuple[str, str | None, bool, str]:
        """``(site, the id given in the query, json=true?, the body's text)`` of an event POST."""
        site = _site(request)
        json_body = wire.query_bool(_query(request).get("json"), "json")
        query_id = _optional_identifier(request, id_param)
        body = await _read_body(request, self.options.max_event_body)
        try:
            text = wire.decode_utf8(body)
        except wire.BodyError as exc:
            raise _invalid_body(exc) from None
        return site, query_id, json_body, text

    @staticmethod
    def _decode(text: str, json_body: bool) -> tuple[list[wire.RawEvent], list[wire.Rejection]]:
        try:
            return wire.decode_text(text, json_body=json_body)
        except wire.BodyError as exc:
            raise _invalid_body(exc) from None

    def _settle_rejections(self, site: str, path: str, rejections: list[wire.Rejection]) -> None:
        """Record the refused lines; in strict mode, refuse the whole body naming the first."""
        if not rejections:
            return
        rejections = self.model.record_rejections(site, path, rejections)
        if self.options.strict:
            # [chosen] strict mode answers 400 naming the line and field; nothing is stored.
            first = rejections[0]
            where = f"line {first.line}" + (f", field {first.field!r}" if first.field else "")
            more = f" (and {len(rejections) - 1} more bad lines)" if len(rejections) > 1 else ""
            raise ApiError(400, "invalid_event", f"{where}: {first.reason}{more}; nothing stored")

    # -- /oauth/token ----------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        body = await _read_body(request, 64_000)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return JSONResponse(
                {
                    "error": "unsupported_grant_type",
                    "message": "form field 'grant_type' must be 'client_credentials'",
                },
                status_code=400,
            )
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header[:6].lower() == "basic ":
            # The Python SDK sends HTTP Basic, the Go and PHP SDKs send form fields [sure].
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ":"
            client_id, _, client_secret = decoded.partition(":")
        issued = self.model.issue_token(client_id, client_secret)
        if issued is None:
            return JSONResponse(
                {"error": "invalid_client", "message": "unknown client id or wrong client secret"},
                status_code=401,
            )
        token, expires_in = issued
        return JSONResponse(
            {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"},
            headers={"Cache-Control": "no-store"},
        )

    # -- visits ----------------------------------------------------------------------------------

    async def visit_events(self, request: Request) -> Response:
        site, query_visitor, json_body, text = await self._event_body(request, "visitorCode")
        if not json_body:
            # Every line of a known shape: rows straight from the body (see .shapes).
            fast = shapes.match_visit_lines(text)
            if fast is not None:
                self.model.store_visit_events(self.model.prepare_visit_lines(site, fast))
                return Response(status_code=204)
        raws, rejections = self._decode(text, json_body)
        events = wire.iter_visit_events(raws, query_visitor, rejections)
        batch = self.model.prepare_visit_events(site, events)
        self._settle_rejections(site, "/visit/events", rejections)  # strict: 400, nothing stored
        self.model.store_visit_events(batch)
        if not json_body and batch.rows:
            refused = {r.line for r in rejections}
            shapes.learn_visit_lines(raw.text for raw in raws if raw.line not in refused)
        return Response(status_code=204)

    async def visitor(self, request: Request) -> Response:
        site = _site(request)
        query = _query(request)
        visitor = _optional_identifier(request, "visitorCode")
        mapping = _optional_identifier(request, "mappingValue")
        if visitor is None and mapping is None:
            raise wire.QueryError("visitorCode", "missing (give visitorCode or mappingValue)")
        # [chosen] 0 is allowed; absent means no previous visits.
        max_previous = wire.query_int(
            query.get("maxNumberPreviousVisits"), "maxNumberPreviousVisits", low=0, high=25
        )
        # `version=0` is always sent by the SDKs, meaning unknown: accepted and ignored [sure].
        current = wire.query_bool(query.get("currentVisit"), "currentVisit")
        everything = wire.query_bool(query.get("all"), "all")
        flags = {flag: wire.query_bool(query.get(flag), flag) for flag in _KIND_FLAGS}
        for flag in ("kcs", "cbs"):
            wire.query_bool(query.get(flag), flag)  # accepted; the emulator holds no scores
        if everything or not any(flags.values()):
            kinds: frozenset[str] = FEED_KINDS  # [chosen] all=true, or no kind flag: every kind
        else:
            kinds = frozenset(flag for flag, on in flags.items() if on)
        answer = self.model.visitor_feed(
            site,
            visitor_code=visitor,
            mapping_value=mapping,
            kinds=kinds,
            current_visit=current,
            max_previous=max_previous,
        )
        return _json(request, answer)

    async def forget(self, request: Request) -> Response:
        site = _site(request)
        body = await _read_body(request, self.options.max_small_body)
        try:
            codes = wire.parse_forget_body(body)
        except wire.BodyError as exc:
            raise _invalid_body(exc) from None
        self.model.forget(site, codes)
        return Response(status_code=204)

    # -- products --------------------------------------------------------------------------------

    async def product_events(self, request: Request) -> Response:
        site, query_ean, json_body, text = await self._event_body(request, "ean")
        raws, rejections = self._decode(text, json_body)
        events = wire.iter_product_events(raws, query_ean, rejections)
        batch = self.model.prepare_product_events(site, events)
        self._settle_rejections(site, "/product/events", rejections)  # strict: 400, nothing stored
        self.model.store_product_events(batch)
        return Response(status_code=204)

    async def product_counters(self, request: Request) -> Response:
        site = _site(request)
        query = _query(request)
        eans = wire.identifier_list(query.get("eans"), "eans", limit=MAX_KEYS)
        begin = wire.query_int(query.get("timeBegin"), "timeBegin")
        end = wire.query_int(query.get("timeEnd"), "timeEnd")
        if begin is not None and end is not None and end < begin:
            raise wire.QueryError("timeEnd", f"{end} is before timeBegin {begin}")
        return _json(request, self.model.product_counters(site, eans, begin, end))

    async def product_data(self, request: Request) -> Response:
        site = _site(request)
        query = _query(request)
        eans = wire.identifier_list(query.get("eans"), "eans", limit=MAX_KEYS)
        wire.query_bool(query.get("all"), "all")
        return _json(request, self.model.product_data(site, eans))

    # -- maps ------------------------------------------------------------------------------------

    async def get_map(self, request: Request) -> Response:
        site = _site(request)
        key = _optional_identifier(request, "key")
        if key is None:
            raise wire.QueryError("key", "missing")
        stored = self.model.map_json(site, key)
        if _query(request).get("prettyPrint", "").lower() == "true":
            return _json(request, json.loads(stored))
        return Response(stored, media_type="application/json")

    async def get_maps(self, request: Request) -> Response:
        site = _site(request)
        keys = wire.identifier_list(_query(request).get("keys"), "keys", limit=MAX_KEYS)
        return _json(request, self.model.get_maps(site, keys))

    async def post_maps(self, request: Request) -> Response:
        site = _site(request)
        ttl_hours = wire.query_int(
            _query(request).get("ttlHours"), "ttlHours", low=1, high=MAX_TTL_HOURS
        )
        body = await _read_body(request, self.options.max_small_body)
        try:
            updates = wire.parse_map_updates(body)
        except wire.BodyError as exc:
            raise _invalid_body(exc) from None
        # [chosen] POST has no key count limit of its own, only the 1 MB body limit.
        self.model.merge_maps(site, updates, ttl_hours)
        return Response(status_code=204)


class _PathRouter(Router):
    """Starlette's router, finding the route by its exact path first (one dict lookup instead
    of one regular expression per route: a tenth of a cheap request's time); anything else
    (a 405, a 404) is left to Starlette's own matching."""

    def __init__(self, routes: list[Route]) -> None:
        super().__init__(routes=routes)
        self._by_path: dict[str, list[Route]] = {}
        for route in routes:
            self._by_path.setdefault(route.path, []).append(route)

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for route in self._by_path.get(scope["path"], ()):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


def create_app(state: EmulatorState, options: EmulatorOptions | None = None) -> Any:
    """The emulator as an ASGI app: the Starlette routes behind the latency/auth/fault gate.

    Parameters
    ----------
    state : EmulatorState
        What the app reads and writes.
    options : EmulatorOptions, optional
        The live options, read on every request; the defaults without.

    Returns
    -------
    ASGI application
        For ``httpx.ASGITransport`` (in-process, no socket) or any ASGI server.

    Examples
    --------
    >>> import httpx
    >>> from kameleoon_pandas.emulator import EmulatorState, create_app
    >>> app = create_app(EmulatorState(":memory:"))
    >>> async def read() -> int:
    ...     transport = httpx.ASGITransport(app=app)
    ...     async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as c:
    ...         r = await c.get("/map/map", params={"siteCode": "site1", "key": "k"})
    ...         return r.status_code
    >>> import asyncio; asyncio.run(read())
    200
    """
    options = options if options is not None else EmulatorOptions()
    h = Handlers(state, options)
    routes = [
        Route("/oauth/token", h.token, methods=["POST"]),
        Route("/visit/visitor", h.visitor, methods=["GET"]),
        Route("/visit/events", h.visit_events, methods=["POST"]),
        Route("/visit/forget", h.forget, methods=["POST"]),
        Route("/product/events", h.product_events, methods=["POST"]),
        Route("/product/productCounters", h.product_counters, methods=["GET"]),
        Route("/product/productData", h.product_data, methods=["GET"]),
        Route("/map/map", h.get_map, methods=["GET"]),
        Route("/map/maps", h.get_maps, methods=["GET"]),
        Route("/map/maps", h.post_maps, methods=["POST"]),
    ]

    async def api_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error_response(exc.status, exc.code, exc.message)

    async def query_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, wire.QueryError)
        return _error_response(400, "invalid_parameter", str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error_response(
            exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}"
        )

    async def internal_error(request: Request, exc: Exception) -> Response:
        return _error_response(
            500, "internal", f"{request.method} {request.url.path}: {type(exc).__name__}"
        )

    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: api_error,
            wire.QueryError: query_error,
            HTTPException: http_error,
            Exception: internal_error,
        },
    )
    app.router = _PathRouter(routes)
    return Gate(app, state, options)
