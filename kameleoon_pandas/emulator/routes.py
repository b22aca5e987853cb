"""The Data API endpoints and ``/oauth/token``, as a Starlette app (see ``data-api.md``)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import wire
from .faults import Gate
from .options import EmulatorOptions
from .state import EmulatorState, now_ms

VISIT_GAP_MS = 30 * 60 * 1000  # [chosen] a new visit starts after 30 minutes without events
DEFAULT_TTL_HOURS = 2208  # 92 days [sure]
MAX_TTL_HOURS = 8784
MAX_KEYS = 100  # [chosen] more than 100 EANs or keys in one call is a 400

_FEED_KINDS = {  # query flag -> (stored kind, feed key)
    "page": ("page", "pageEvents"),
    "conversion": ("conversion", "conversionEvents"),
    "customData": ("customData", "customDataEvents"),
    "experiment": ("experiment", "experimentEvents"),
    "personalization": ("personalization", "personalizationEvents"),
    "geolocation": ("geolocation", "geolocationEvents"),
    "staticData": ("staticData", "staticDataEvent"),
}
_KIND_KEY = {kind: key for kind, key in _FEED_KINDS.values()}
_COMPACT = (",", ":")


class ApiError(Exception):
    """An error answer: ``{"error": code, "message": message}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _error_response(status: int, code: str, message: str) -> JSONResponse:
    # [chosen] the error body shape: {"error": "<code>", "message": "<what and where>"}
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _json(request: Request, payload: Any, status: int = 200) -> Response:
    pretty = request.query_params.get("prettyPrint", "").lower() == "true"
    body = json.dumps(payload, indent=2) if pretty else json.dumps(payload, separators=_COMPACT)
    return Response(body, status_code=status, media_type="application/json")


def _site(request: Request) -> str:
    site = request.query_params.get("siteCode")
    if not site:
        raise wire.QueryError("siteCode", "missing (every endpoint requires it)")
    if len(site) > wire.MAX_IDENTIFIER:
        raise wire.QueryError("siteCode", f"longer than {wire.MAX_IDENTIFIER} characters")
    return site


def _optional_identifier(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if len(value) > wire.MAX_IDENTIFIER:
        raise wire.QueryError(name, f"longer than {wire.MAX_IDENTIFIER} characters")
    return value


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes with 413 (before reading it all)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
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


def _decode(body: bytes, json_body: bool) -> tuple[list[wire.RawEvent], list[wire.Rejection]]:
    try:
        return wire.decode_body(body, json_body=json_body)
    except wire.BodyError as exc:
        raise ApiError(400, "invalid_body", str(exc)) from None


def _line_text(raw: wire.RawEvent) -> str:
    return raw.text or json.dumps(raw.params, separators=_COMPACT, default=str)[:500]


class Handlers:
    """The endpoint functions, bound to one state and one options object."""

    def __init__(self, state: EmulatorState, options: EmulatorOptions) -> None:
        self.state = state
        self.options = options

    # -- shared by the two event endpoints -----------------------------------------------------

    async def _event_body(
        self, request: Request, id_param: str
    ) -> tuple[str, str | None, list[wire.RawEvent], list[wire.Rejection]]:
        """``(site, the id given in the query, raw events, undecodable lines)`` of an event POST."""
        site = _site(request)
        json_body = wire.query_bool(request.query_params.get("json"), "json")
        query_id = _optional_identifier(request, id_param)
        body = await _read_body(request, self.options.max_event_body)
        raws, rejections = _decode(body, json_body)
        return site, query_id, raws, rejections

    def _settle_rejections(self, site: str, path: str, rejections: list[wire.Rejection]) -> None:
        if not rejections:
            return
        rejections.sort(key=lambda r: r.line)
        # [chosen] bad lines are dropped (as the real service does after its 204) and kept with
        # their reason; strict mode refuses the whole body instead, naming the line and field.
        self.state.record_rejected(
            [(site, path, r.line, r.reason, r.field, r.text) for r in rejections]
        )
        if self.options.strict:
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
        opts = self.options
        if client_id != opts.client_id or client_secret != opts.client_secret:
            return JSONResponse(
                {"error": "invalid_client", "message": "unknown client id or wrong client secret"},
                status_code=401,
            )
        ttl = opts.token_ttl
        # [chosen] tokens expire after a configurable lifetime, so refresh paths get exercised.
        token = self.state.issue_token(ttl)
        expires_in: float | int = int(ttl) if float(ttl).is_integer() else ttl
        return JSONResponse(
            {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"},
            headers={"Cache-Control": "no-store"},
        )

    # -- visits ----------------------------------------------------------------------------------

    async def visit_events(self, request: Request) -> Response:
        site, query_visitor, raws, rejections = await self._event_body(request, "visitorCode")
        now = now_ms()  # no event carries a client time: it is the time of receipt [sure]
        seq = self.state.next_seq(len(raws))
        rows: list[tuple] = []
        links: list[tuple[str, str, str]] = []
        body_links: dict[str, str] = {}
        parse = wire.parse_visit_event
        dumps = json.dumps
        for raw in raws:
            try:
                event = parse(raw.params, query_visitor)
            except wire.LineError as exc:
                rejections.append(wire.Rejection(raw.line, exc.reason, exc.field, _line_text(raw)))
                continue
            visitor = event.visitor_code
            if event.mapping_value is not None:
                if visitor is None:
                    # [chosen] an event sent with only a mappingValue is stored under the
                    # visitor it is linked to (earlier in this body or before), or else under
                    # the mapping value itself.
                    visitor = body_links.get(event.mapping_value)
                    if visitor is None:
                        linked = self.state.linked_visitors(site, event.mapping_value)
                        visitor = linked[0] if linked else event.mapping_value
                else:
                    links.append((site, event.mapping_value, visitor))
                    body_links.setdefault(event.mapping_value, visitor)
            if event.mapping_identifier:
                for value in event.data["valuesCountMap"]:
                    links.append((site, value, visitor))
                    body_links.setdefault(value, visitor)
            # A line is stored as received and decoded again when a feed is read (feeds are
            # small, ingestion is the hot path); a JSON event is stored as its data object.
            text = raw.text
            stored = text if text and text[0] != "{" else dumps(event.data, separators=_COMPACT)
            rows.append((site, visitor, event.nonce, now, seq, event.kind, stored))
            seq += 1
        self._settle_rejections(site, "/visit/events", rejections)
        self.state.insert_visit_events(site, rows, links)
        return Response(status_code=204)

    async def visitor(self, request: Request) -> Response:
        site = _site(request)
        query = request.query_params
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
        flags = {flag: wire.query_bool(query.get(flag), flag) for flag in _FEED_KINDS}
        for flag in ("kcs", "cbs"):
            wire.query_bool(query.get(flag), flag)  # accepted; the emulator holds no scores
        if everything or not any(flags.values()):
            # [chosen] all=true, or no kind flag at all, means every kind.
            kinds = {kind for kind, _ in _FEED_KINDS.values()}
        else:
            kinds = {_FEED_KINDS[flag][0] for flag, on in flags.items() if on}

        if visitor is not None:
            codes = [visitor]
        else:
            assert mapping is not None
            # [chosen] a mapping value reads the visits of every visitor linked to it, plus the
            # events sent under the mapping value itself (cross-device).
            codes = [mapping, *self.state.linked_visitors(site, mapping)]
        events = self.state.visitor_events(site, list(dict.fromkeys(codes)))
        if not events:
            return _json(request, {})  # [chosen] unknown visitor -> 200 {}
        visits = _split_visits(events)
        now = now_ms()
        answer: dict[str, Any] = {}
        last = visits[-1]
        # [chosen] the current visit is the latest one if it is still open (an event in the last
        # 30 minutes); otherwise every visit is a previous one.
        is_open = now - last[-1][1] < VISIT_GAP_MS
        previous = visits[:-1] if is_open else visits
        previous.sort(key=lambda v: (v[0][1], v[0][2]))
        if current and is_open:
            answer["currentVisit"] = _visit_json(last, kinds)
        if max_previous:
            chosen = previous[::-1][:max_previous]  # newest first [sure]
            if chosen:
                answer["previousVisits"] = [_visit_json(v, kinds) for v in chosen]
        return _json(request, answer)

    async def forget(self, request: Request) -> Response:
        site = _site(request)
        body = await _read_body(request, self.options.max_small_body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "invalid_body", "the body is not valid UTF-8") from None
        codes: list[str] = []
        for number, line in enumerate(text.split("\n"), start=1):
            code = line.strip()
            if not code:
                continue
            if len(code) > wire.MAX_IDENTIFIER:
                raise ApiError(
                    400,
                    "invalid_body",
                    f"line {number}: visitor code longer than {wire.MAX_IDENTIFIER} characters",
                )
            codes.append(code)
        if codes:
            self.state.forget(site, codes)
        return Response(status_code=204)

    # -- products --------------------------------------------------------------------------------

    async def product_events(self, request: Request) -> Response:
        site, query_ean, raws, rejections = await self._event_body(request, "ean")
        now = now_ms()
        seq = self.state.next_seq(len(raws))
        rows: list[tuple] = []
        attributes: list[dict | None] = []
        for raw in raws:
            try:
                event = wire.parse_product_event(raw.params, query_ean)
            except wire.LineError as exc:
                rejections.append(wire.Rejection(raw.line, exc.reason, exc.field, _line_text(raw)))
                continue
            # Without a nonce (the browser engine omits it) the event is always new.
            nonce = event.nonce or f"auto-{seq}"
            seq += 1
            views = 1 if event.kind == "productPage" else 0
            atc = event.quantity if event.kind == "productAddToCart" else 0
            bought = event.quantity if event.kind == "productBuy" else 0
            rows.append((site, event.ean, nonce, now, views, atc, bought))
            attributes.append(event.attributes)
        self._settle_rejections(site, "/product/events", rejections)
        self.state.insert_product_events(site, rows, attributes)
        return Response(status_code=204)

    async def product_counters(self, request: Request) -> Response:
        site = _site(request)
        query = request.query_params
        eans = wire.identifier_list(query.get("eans"), "eans", limit=MAX_KEYS)
        begin = wire.query_int(query.get("timeBegin"), "timeBegin")
        end = wire.query_int(query.get("timeEnd"), "timeEnd")
        if begin is not None and end is not None and end < begin:
            raise wire.QueryError("timeEnd", f"{end} is before timeBegin {begin}")
        # [chosen] the window is timeBegin <= t < timeEnd, all time without bounds; an EAN with
        # no events answers zeros.
        return _json(request, self.state.product_counters(site, eans, begin, end))

    async def product_data(self, request: Request) -> Response:
        site = _site(request)
        query = request.query_params
        eans = wire.identifier_list(query.get("eans"), "eans", limit=MAX_KEYS)
        wire.query_bool(query.get("all"), "all")
        # [chosen] the answer maps EAN -> stored attributes; unknown EANs are left out.
        return _json(request, self.state.product_data(site, eans))

    # -- maps ------------------------------------------------------------------------------------

    async def get_map(self, request: Request) -> Response:
        site = _site(request)
        key = _optional_identifier(request, "key")
        if key is None:
            raise wire.QueryError("key", "missing")
        stored = self.state.get_map_json(site, key, now_ms())
        if stored is None:
            stored = "{}"  # [chosen] unknown key -> 200 {}
        if request.query_params.get("prettyPrint", "").lower() == "true":
            return _json(request, json.loads(stored))
        return Response(stored, media_type="application/json")

    async def get_maps(self, request: Request) -> Response:
        site = _site(request)
        keys = wire.identifier_list(request.query_params.get("keys"), "keys", limit=MAX_KEYS)
        now = now_ms()
        answer = {}
        for key in dict.fromkeys(keys):
            stored = self.state.get_map_json(site, key, now)
            if stored is not None:
                answer[key] = json.loads(stored)  # unknown keys are left out [sure]
        return _json(request, answer)

    async def post_maps(self, request: Request) -> Response:
        site = _site(request)
        ttl_hours = wire.query_int(
            request.query_params.get("ttlHours"), "ttlHours", low=1, high=MAX_TTL_HOURS
        )
        body = await _read_body(request, self.options.max_small_body)
        try:
            data = wire.loads(body) if body.strip() else None
        except ValueError as exc:  # malformed JSON, NaN or Infinity, bad UTF-8
            raise ApiError(400, "invalid_body", f"the JSON body is malformed: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_body", 'the body must be a JSON object {"<key>": {...}}')
        for key, fields in data.items():
            if not key or len(key) > wire.MAX_IDENTIFIER:
                raise ApiError(
                    400, "invalid_body", f"key {key[:40]!r}: 1 to {wire.MAX_IDENTIFIER} characters"
                )
            if not isinstance(fields, dict):
                raise ApiError(400, "invalid_body", f"key {key!r}: the value must be a JSON object")
        # [chosen] POST has no key count limit of its own, only the 1 MB body limit.
        hours = DEFAULT_TTL_HOURS if ttl_hours is None else ttl_hours
        self.state.merge_maps(site, data, hours * 3_600_000, now_ms())
        return Response(status_code=204)


def _split_visits(events: list[tuple]) -> list[list[tuple]]:
    """Cut time-ordered events into visits at gaps of more than 30 minutes.

    Each visitor code (device) has its own visits; the result is ordered by last event.
    """
    visits: list[list[tuple]] = []
    open_visit: dict[str, list[tuple]] = {}
    for event in events:
        visit = open_visit.get(event[0])
        if visit is None or event[1] - visit[-1][1] > VISIT_GAP_MS:
            visit = open_visit[event[0]] = []
            visits.append(visit)
        visit.append(event)
    if len(open_visit) > 1:
        visits.sort(key=lambda v: (v[-1][1], v[-1][2]))
    return visits


def _event_data(stored: str, visitor_code: str) -> dict[str, Any]:
    """The feed's ``data`` of a stored event: a JSON object, or a line as it was received."""
    if stored[0] == "{":
        return json.loads(stored)
    return wire.parse_visit_event(wire.parse_line(stored), visitor_code).data


def _visit_json(events: list[tuple], kinds: set[str]) -> dict[str, Any]:
    visit: dict[str, Any] = {
        "visitorCode": events[0][0],
        "timeStarted": events[0][1],
        "timeLastEvent": events[-1][1],
    }
    static: dict[str, Any] | None = None
    static_time = 0
    for code, time, _seq, kind, stored in events:
        if kind not in kinds:
            continue
        data = _event_data(stored, code)
        if kind == "staticData":
            # One object gathering the visit's static data events [sure].
            if static is None:
                static, static_time = {}, time
            static.update(data)
            continue
        visit.setdefault(_KIND_KEY[kind], []).append({"time": time, "data": data})
    if static is not None:
        visit["staticDataEvent"] = {"time": static_time, "data": wire.static_data_view(static)}
    return visit


def create_app(state: EmulatorState, options: EmulatorOptions | None = None) -> Any:
    """The emulator as an ASGI app (Starlette behind the latency/auth/fault gate).

    Use it in-process with ``httpx.ASGITransport(app=create_app(state, options))``.
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
    return Gate(app, state, options)
