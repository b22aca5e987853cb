"""Parsing and validating the two event-body encodings of the Data API (pure, no I/O).

A body is either lines (``name=value&...`` per line, percent-encoded values) or, with
``json=true``, a JSON array of objects with the same names and typed values. Both decode to the
same typed events; a bad line becomes a :class:`LineError` naming its line and field.

Every parse is bounded, so that no input reaches the state (or the answer) in a form that makes
the server fail [chosen, data-api.md section 1]: JSON is nested at most :data:`MAX_JSON_DEPTH`
levels and holds only finite numbers, typed integers fit in 64 signed bits, and every text can be
encoded as UTF-8 (no lone surrogate, which a JSON ``\\ud800`` escape can produce).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

MAX_IDENTIFIER = 100  # visitor codes, EANs, map keys: at most 100 characters [likely]
#: The deepest nesting of arrays and objects a JSON value may have: a value nested 64 levels
#: deep is read, 65 is refused (a 400, or a bad line). Counted per value the client gives: a
#: JSON parameter (``metadata``, ``valuesCountMap``, ``eans``, ...) as a whole, each field of a
#: JSON event, each field of a ``POST /map/maps`` key. [chosen] The client side (the encoder)
#: refuses deeper values with the same number and keeps its own copy of it on purpose: the
#: emulator imports nothing of the client, and either side must hold without the other.
MAX_JSON_DEPTH = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what SQLite (and the client's int64 columns) hold

BROWSERS = ("CHROME", "INTERNET_EXPLORER", "FIREFOX", "SAFARI", "OPERA", "OTHER")
# The OS order of the official SDKs' OperatingSystem enum (they send the index, read the name).
OPERATING_SYSTEMS = ("WINDOWS", "MAC", "IOS", "LINUX", "ANDROID", "WINDOWS_PHONE")
DEVICE_TYPES = ("DESKTOP", "PHONE", "TABLET")


class LineError(ValueError):
    """One event refused: ``reason`` says why, ``field`` names the parameter (or None)."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class RawEvent(NamedTuple):
    """One undecoded event: its 1-based line (or array position), parameters and source text."""

    line: int
    params: dict[str, Any]
    text: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused event, as kept in the state's rejected-line record."""

    line: int
    reason: str
    field: str | None
    text: str


class BodyError(ValueError):
    """The body as a whole cannot be decoded (bad UTF-8, not a JSON array)."""


# -- bounded JSON --------------------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # a JSON escape that may make one
_NOT_ENCODABLE = "a lone surrogate (U+D800 to U+DFFF): not encodable text"
_NOT_FINITE = "a number that is not finite (NaN, Infinity, or beyond 1.8e308)"


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0:  # inf - inf is nan, and nan != 0
        raise _NonFinite(f"{text[:40]} is {_NOT_FINITE}")
    return value


# Built once: json.loads with hooks would build a decoder on every call (the hot path reads a
# JSON parameter on many lines).
_STRICT = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate, which no UTF-8 encoder (nor SQLite) accepts."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def json_problem(value: Any, limit: int = MAX_JSON_DEPTH) -> str | None:
    """Why a decoded JSON value cannot be kept, or None: nested deeper than ``limit`` levels,
    a non-finite number, or a text (value or object key) with a lone surrogate.

    Iterative (no recursion), so any depth is safe to inspect.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        kind = type(item)
        if kind is str:
            if has_surrogate(item):
                return f"a text with {_NOT_ENCODABLE}"
        elif kind is float:
            if item - item != 0:
                return _NOT_FINITE
        elif kind is dict or kind is list:
            if depth >= limit:
                return f"JSON nested deeper than {limit} levels"
            if kind is dict:
                for key, inner in item.items():
                    if type(key) is str and has_surrogate(key):
                        return f"an object key with {_NOT_ENCODABLE}"
                    push((inner, depth + 1))
            else:
                for inner in item:
                    push((inner, depth + 1))
    return None


def _may_hide_problems(text: str, limit: int) -> bool:
    """Cheap test: False when ``text`` (JSON that parsed) cannot nest deeper than ``limit`` nor
    hold a lone surrogate; True when a :func:`json_problem` walk must tell."""
    return (
        text.count("[") + text.count("{") > limit
        or ("\\u" in text and _SURROGATE_ESCAPE.search(text) is not None)
        or has_surrogate(text)
    )


def loads(text: str | bytes) -> Any:
    """``json.loads``, bounded: refuses ``NaN``, ``Infinity`` and numbers beyond the float range,
    nesting deeper than :data:`MAX_JSON_DEPTH` and texts with a lone surrogate (ValueError)."""
    if not isinstance(text, str):
        text = text.decode("utf-8")  # UnicodeDecodeError is a ValueError
    try:
        value = _STRICT.decode(text)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    if _may_hide_problems(text, MAX_JSON_DEPTH):
        problem = json_problem(value)
        if problem is not None:
            raise ValueError(problem)
    return value


# -- decoding the two encodings ------------------------------------------------------------------


def decode_body(body: bytes, *, json_body: bool) -> tuple[list[RawEvent], list[Rejection]]:
    """Split a body into raw events; undecodable lines come back as rejections."""
    return decode_text(decode_utf8(body), json_body=json_body)


def decode_utf8(body: bytes) -> str:
    """The body as text; BodyError naming the first bad byte when it is not UTF-8."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"the body is not valid UTF-8 (byte {exc.start})") from None


def decode_text(text: str, *, json_body: bool) -> tuple[list[RawEvent], list[Rejection]]:
    """Split a decoded body into raw events; undecodable lines come back as rejections."""
    if json_body:
        return _decode_json(text)
    return _decode_lines(text), []


def _decode_lines(text: str) -> list[RawEvent]:
    events: list[RawEvent] = []
    append = events.append
    for number, line in enumerate(text.split("\n"), start=1):
        if "\r" in line:
            line = line.strip("\r")
        if not line:
            continue  # a trailing (or stray) empty line is allowed [sure]
        append(RawEvent(number, parse_line(line), line))
    return events


def parse_line(line: str) -> dict[str, str]:
    """``name=value&...`` -> dict; ``+`` and ``%20`` both mean a space [sure]."""
    if "%" not in line and "+" not in line:
        return _split_params(line)
    upper = line.upper()
    if "%26" not in upper and "%3D" not in upper:
        # No encoded separator inside a value: one unquote of the whole line is safe, and far
        # cheaper than one per value (this is the ingestion hot path).
        return _split_params(_unquote_line(line))
    params: dict[str, str] = {}
    for part in line.split("&"):
        name, _, value = part.partition("=")
        params[unquote_plus(name)] = unquote_plus(value)
    return params


def _unquote_line(line: str) -> str:
    """``unquote_plus`` for a whole line, done by C codecs when the line is plain ASCII.

    ``%XX`` becomes ``\\xXX`` for the ``unicode_escape`` codec (bytes as latin-1 code points),
    then the bytes are read as UTF-8. Anything unusual (a backslash, non-ASCII, a bad escape,
    bad UTF-8) takes the stdlib path, which is the reference behaviour.
    """
    if "\\" in line or not line.isascii():
        return unquote_plus(line)
    try:
        escaped = line.replace("+", " ").replace("%", "\\x").encode("ascii")
        return escaped.decode("unicode_escape").encode("latin-1").decode("utf-8")
    except UnicodeError:
        return unquote_plus(line)


def _split_params(line: str) -> dict[str, str]:
    try:
        return dict([part.split("=", 1) for part in line.split("&")])
    except ValueError:  # a part without "=": a name with an empty value
        return {name: value for name, _, value in (p.partition("=") for p in line.split("&"))}


def _decode_document(text: str, depth: int) -> tuple[Any, bool]:
    """A JSON body (an event array, a map update): ``(data, whether to walk its values)``.

    ``NaN`` and ``Infinity`` are no JSON: the body is malformed. A number beyond the float
    range (``1e400``) is JSON, so it is only noted here: the caller refuses the event or the
    field that holds it. The walk is asked for when the body holds such a number, may nest
    deeper than ``depth`` or may hold a lone surrogate.
    """
    non_finite: list[str] = []  # noted by this body's own number hook

    def parse_float(literal: str) -> float:
        value = float(literal)
        if value - value != 0:
            non_finite.append(literal)
        return value

    decoder = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=parse_float)
    try:
        data = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise BodyError(
            f"the JSON body is malformed (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise BodyError(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # NaN, Infinity: not JSON at all
        raise BodyError(f"the JSON body is malformed: {exc}") from None
    return data, bool(non_finite) or _may_hide_problems(text, depth)


def _decode_json(text: str) -> tuple[list[RawEvent], list[Rejection]]:
    # Each event's fields are held to the limits of a JSON value on their own (a field nested
    # MAX_JSON_DEPTH deep is fine, in an event in an array); the walk runs only when needed.
    data, check = _decode_document(text, MAX_JSON_DEPTH + 2) if text.strip() else ([], False)
    if isinstance(data, dict):
        data = [data]  # [chosen] a single object is read as a one-event array
    if not isinstance(data, list):
        raise BodyError("the JSON body must be an array of event objects")
    events: list[RawEvent] = []
    rejections: list[Rejection] = []
    for number, item in enumerate(data, start=1):
        if type(item) is not dict:
            rejections.append(
                Rejection(number, "an event must be a JSON object", None, _shown(item))
            )
            continue
        if check:
            problem = _event_problem(item)
            if problem is not None:
                reason, field = problem
                rejections.append(Rejection(number, reason, field, _shown(item)))
                continue
        events.append(RawEvent(number, item, ""))
    return events, rejections


def _event_problem(event: dict[str, Any]) -> tuple[str, str | None] | None:
    """``(reason, field)`` when a field of a JSON event cannot be kept (:func:`json_problem`)."""
    for name, value in event.items():
        if has_surrogate(name):
            return f"a parameter name with {_NOT_ENCODABLE}", None
        problem = json_problem(value)
        if problem is not None:
            return f"invalid value: {problem}", name
    return None


def _shown(value: Any) -> str:
    """A JSON value as a rejection keeps it: compact, ASCII, at most 500 characters."""
    try:
        return json.dumps(value, separators=(",", ":"), default=str)[:500]
    except (ValueError, TypeError, RecursionError):
        return "<not shown: nested too deep>"


# -- typed values --------------------------------------------------------------------------------


def _int64(value: int) -> int:
    if INT64_MIN <= value <= INT64_MAX:
        return value
    raise ValueError("outside the signed 64-bit range")


def to_int(value: Any) -> int:
    if type(value) is str:
        return _int64(int(value))
    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer")
    if isinstance(value, int):
        return _int64(value)
    if isinstance(value, float):
        if value.is_integer():
            return _int64(int(value))
        raise ValueError("not an integer")
    return _int64(int(str(value).strip()))


_FLOAT_MAX = 1.7976931348623157e308


def to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if type(value) is int and not -_FLOAT_MAX <= value <= _FLOAT_MAX:
        raise ValueError("not a finite number")  # float() would raise OverflowError
    number = float(value)
    if -1e308 < number < 1e308:
        return number
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def to_bool(value: Any) -> bool:
    if value == "true" or value is True:
        return True
    if value == "false" or value is False:
        return False
    text = str(value).strip().lower()
    if text == "true":
        return True
    if text == "false":
        return False
    raise ValueError("expected true or false")


def to_str(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, (dict, list)):
        raise ValueError("expected a string")
    return value if isinstance(value, str) else json.dumps(value)


def to_upper_str(value: Any) -> str:
    return to_str(value).upper()


def _json_value(value: Any) -> Any:
    # A JSON event's value is already decoded (and checked in _decode_json); a line's is text.
    return loads(value) if isinstance(value, str) else value


def to_json_object(value: Any) -> dict[str, Any]:
    data = _json_value(value)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def to_json_array(value: Any) -> list[Any]:
    data = _json_value(value)
    if not isinstance(data, list):
        raise ValueError("expected a JSON array")
    return data


def to_int_array(value: Any) -> list[int]:
    return [to_int(v) for v in to_json_array(value)]


def to_json_any(value: Any) -> Any:
    return _json_value(value)


def to_counts(value: Any) -> dict[str, int]:
    data = to_json_object(value)
    if all(type(v) is int and INT64_MIN <= v <= INT64_MAX for v in data.values()):
        return data  # JSON object keys are strings already
    return {str(k): to_int(v) for k, v in data.items()}


def to_device(value: Any) -> str:
    text = str(value).strip().upper()
    if text not in DEVICE_TYPES:
        raise ValueError(f"expected one of {', '.join(DEVICE_TYPES)}")
    return text


def to_browser_index(value: Any) -> int:
    index = to_int(value)
    if not 0 <= index < len(BROWSERS):
        raise ValueError(f"expected 0 to {len(BROWSERS) - 1}")
    return index


def to_os_index(value: Any) -> int:
    index = to_int(value)
    if not 0 <= index < len(OPERATING_SYSTEMS):
        raise ValueError(f"expected 0 to {len(OPERATING_SYSTEMS) - 1}")
    return index


def to_quantity(value: Any) -> int:
    number = to_int(value)
    if number < 1:
        raise ValueError("expected an integer >= 1")
    return number


#: The converters whose value is JSON text in a line (checked by :func:`loads`).
JSON_CONVERTERS = frozenset({to_json_object, to_json_array, to_int_array, to_json_any, to_counts})


# -- visit events --------------------------------------------------------------------------------

Converter = Callable[[Any], Any]

# Per event type: field -> (converter, required). Fields outside the table are ignored, as the
# real service ignores what it does not know (userAgent, sdk extras).
_VISIT_FIELDS: dict[str, dict[str, tuple[Converter, bool]]] = {
    "conversion": {
        "goalId": (to_int, True),
        "revenue": (to_float, False),
        "negative": (to_bool, False),
        "metadata": (to_json_any, False),
    },
    "customData": {
        "index": (to_int, True),
        "valuesCountMap": (to_counts, True),
        "overwrite": (to_bool, False),
        "mappingIdentifier": (to_bool, False),
    },
    "page": {
        "href": (to_str, True),
        "title": (to_str, False),
        "referrersIndices": (to_int_array, False),
    },
    "staticData": {
        "browserIndex": (to_browser_index, False),
        "browser": (to_upper_str, False),
        "browserVersion": (to_float, False),
        "deviceType": (to_device, False),
        "os": (to_upper_str, False),
        "osIndex": (to_os_index, False),
        "visitNumber": (to_int, False),
        "timeSincePreviousVisit": (to_int, False),
    },
    "experiment": {"id": (to_int, True), "variationId": (to_int, True)},
    "personalization": {"id": (to_int, True), "variationId": (to_int, True)},
    "geolocation": {
        "country": (to_str, True),
        "region": (to_str, False),
        "city": (to_str, False),
        "postalCode": (to_str, False),
        "latitude": (to_float, False),
        "longitude": (to_float, False),
    },
    "targetingSegment": {"id": (to_int, True)},
    "activity": {},
}
#: Per visit event kind: parameter -> (converter, required).
VISIT_FIELDS = _VISIT_FIELDS
# eventType is case-insensitive: lines say `conversion`, the docs say `CONVERSION` [sure].
VISIT_KINDS = {name.lower(): name for name in _VISIT_FIELDS}


class VisitEvent(NamedTuple):
    """A validated visit event; ``data`` is exactly what the feed shows under ``data``."""

    visitor_code: str | None
    mapping_value: str | None
    nonce: str
    kind: str
    data: dict[str, Any]
    mapping_identifier: bool = False


_REQUIRED = {
    kind: tuple(n for n, (_, req) in spec.items() if req) for kind, spec in _VISIT_FIELDS.items()
}
_NONCE = re.compile(r"[0-9A-Fa-f]{16}")


def _identifier(value: Any, field: str) -> str:
    if type(value) is str:
        text = value
    else:
        try:
            text = to_str(value)  # a JSON number is read as its text; an object or array is not
        except ValueError as exc:
            raise LineError(f"invalid value: {exc}", field) from None
    if len(text) > MAX_IDENTIFIER:
        raise LineError(f"longer than {MAX_IDENTIFIER} characters", field)
    return text


def _nonce(params: dict[str, Any], required: bool) -> str | None:
    nonce = params.get("nonce")
    if nonce is None or nonce == "":
        if required:
            raise LineError("missing", "nonce")
        return None
    nonce = str(nonce)
    # 16 hex characters [sure]; compared case-insensitively so a re-sent nonce always matches.
    if _NONCE.fullmatch(nonce) is None:
        raise LineError("expected 16 hexadecimal characters", "nonce")
    return nonce.upper()


def _convert(
    fields: dict[str, tuple[Converter, bool]], required: tuple[str, ...], params: dict[str, Any]
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    # Only the parameters that are fields of this event type (not nonce, visitorCode, userAgent,
    # unknown extras); the set intersection runs in C, which matters on the ingestion path.
    for name in params.keys() & fields.keys():
        value = params[name]
        if value is None or value == "":
            continue
        try:
            data[name] = fields[name][0](value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise LineError(f"invalid value: {exc}", name) from None
    for name in required:
        if name not in data:
            raise LineError("missing", name)
    return data


def parse_visit_event(params: dict[str, Any], query_visitor: str | None) -> VisitEvent:
    """Validate one visit event; raise :class:`LineError` naming the field at fault."""
    raw_type = params.get("eventType")
    if not raw_type:
        raise LineError("missing", "eventType")
    kind = VISIT_KINDS.get(raw_type.lower() if type(raw_type) is str else str(raw_type).lower())
    if kind is None:
        raise LineError(f"unknown event type {str(raw_type)[:40]!r}", "eventType")
    nonce = params.get("nonce")
    # 16 hex characters [sure]; compared case-insensitively so a re-sent nonce always matches.
    if type(nonce) is not str or _NONCE.fullmatch(nonce) is None:
        _nonce(params, required=True)  # raises, naming what is wrong
        raise LineError("expected 16 hexadecimal characters", "nonce")
    nonce = nonce.upper()
    visitor = params.get("visitorCode") or query_visitor
    mapping = params.get("mappingValue")
    if visitor:
        visitor = _identifier(visitor, "visitorCode")
    if mapping:
        mapping = _identifier(mapping, "mappingValue")
    if not visitor and not mapping:
        raise LineError("missing (nor mappingValue, nor visitorCode in the query)", "visitorCode")
    data = _convert(_VISIT_FIELDS[kind], _REQUIRED[kind], params)
    if kind == "conversion":
        data.setdefault("revenue", 0.0)
        data.setdefault("negative", False)
    elif kind == "customData":
        data.setdefault("overwrite", True)
        # Kept in the data only when true: the feed shows `mappingIdentifier: true` on the event
        # that carried it (the official JavaScript SDK reads it back) [sure].
        if data.pop("mappingIdentifier", False):
            for value in data["valuesCountMap"]:  # each value becomes a mapping value
                if len(value) > MAX_IDENTIFIER:
                    raise LineError(
                        f"a mapping value longer than {MAX_IDENTIFIER} characters",
                        "valuesCountMap",
                    )
            data["mappingIdentifier"] = True
            return VisitEvent(visitor or None, mapping or None, nonce, kind, data, True)
    return VisitEvent(visitor or None, mapping or None, nonce, kind, data)


def static_data_view(data: dict[str, Any]) -> dict[str, Any]:
    """Name the browser and OS of one static data event, as the feed shows them [sure].

    [chosen, data-api.md 3.1] An event that names its browser (``browser=IE``, as the official
    JavaScript SDK sends) keeps that name; one that sends only ``browserIndex`` gets the name
    the official Python SDK reads (:data:`BROWSERS`: ``INTERNET_EXPLORER`` for 1). The same
    for ``os`` and ``osIndex``. The feed merges the views of a visit's events, in order.
    """
    view = dict(data)
    index = view.pop("browserIndex", None)
    if index is not None and "browser" not in view:
        view["browser"] = BROWSERS[index]
    index = view.pop("osIndex", None)
    if index is not None and "os" not in view:
        view["os"] = OPERATING_SYSTEMS[index]
    return view


# -- product events ------------------------------------------------------------------------------

_PRODUCT_ATTRIBUTES: dict[str, Converter] = {
    "name": to_str,
    "price": to_float,
    "oldPrice": to_float,
    "available": to_bool,
    "availableQuantity": to_int,
    "brand": to_str,
    "sku": to_str,
    "url": to_str,
    "imageURL": to_str,
    "description": to_str,
    "categories": to_json_array,
    "tags": to_json_any,
    "rating": to_float,
}
PRODUCT_KINDS = {k.lower(): k for k in ("productPage", "productAddToCart", "productBuy")}
# Parameters that belong to the envelope, never to the product's stored attributes.
_PRODUCT_ENVELOPE = frozenset(
    {"ean", "eventType", "nonce", "quantity", "siteCode", "userAgent", "visitorCode", "json"}
)


class ProductEvent(NamedTuple):
    """A validated product event; ``attributes`` only for ``productPage``."""

    ean: str
    nonce: str | None
    kind: str
    quantity: int
    attributes: dict[str, Any] | None


def parse_product_event(params: dict[str, Any], query_ean: str | None) -> ProductEvent:
    """Validate one product event; raise :class:`LineError` naming the field at fault."""
    raw_type = params.get("eventType")
    if raw_type is None or raw_type == "":
        raise LineError("missing", "eventType")
    kind = PRODUCT_KINDS.get(str(raw_type).lower())
    if kind is None:
        raise LineError(f"unknown event type {str(raw_type)[:40]!r}", "eventType")
    ean = params.get("ean") or query_ean
    if not ean:
        raise LineError("missing", "ean")
    ean = _identifier(ean, "ean")
    nonce = _nonce(params, required=False)  # the browser engine omits it: accept that [sure]
    if kind != "productPage":
        value = params.get("quantity")
        quantity = 1
        if value is not None and value != "":
            try:
                quantity = to_quantity(value)
            except (ValueError, TypeError, OverflowError) as exc:
                raise LineError(f"invalid value: {exc}", "quantity") from None
        return ProductEvent(ean, nonce, kind, quantity, None)
    attributes: dict[str, Any] = {}
    for name, value in params.items():
        if name in _PRODUCT_ENVELOPE or value is None:
            continue
        convert = _PRODUCT_ATTRIBUTES.get(name)
        if convert is None:
            attributes[name] = value  # "and further attributes": kept as sent
            continue
        try:
            attributes[name] = convert(value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise LineError(f"invalid value: {exc}", name) from None
    return ProductEvent(ean, nonce, kind, 1, attributes)


# -- whole bodies --------------------------------------------------------------------------------


def line_text(raw: RawEvent) -> str:
    """The text a rejection keeps: the line as received, or the JSON event (cut at 500)."""
    return raw.text or _shown(raw.params)


def iter_visit_events(
    raws: Iterable[RawEvent], query_visitor: str | None, rejections: list[Rejection]
) -> Iterator[tuple[VisitEvent, str]]:
    """Validate decoded visit events lazily: ``(event, source line)``; refused lines are appended
    to ``rejections``.

    Lazy on purpose: consumed as it is validated, a 2.5 MiB body never holds tens of thousands of
    event objects at once, which would make the garbage collector cost a fifth of the ingestion.
    """
    parse = parse_visit_event
    for raw in raws:
        try:
            event = parse(raw.params, query_visitor)
        except LineError as exc:
            rejections.append(Rejection(raw.line, exc.reason, exc.field, line_text(raw)))
            continue
        yield event, raw.text


def iter_product_events(
    raws: Iterable[RawEvent], query_ean: str | None, rejections: list[Rejection]
) -> Iterator[ProductEvent]:
    """Validate decoded product events lazily; refused lines are appended to ``rejections``."""
    for raw in raws:
        try:
            event = parse_product_event(raw.params, query_ean)
        except LineError as exc:
            rejections.append(Rejection(raw.line, exc.reason, exc.field, line_text(raw)))
            continue
        yield event


def parse_forget_body(body: bytes) -> list[str]:
    """The visitor codes of a ``/visit/forget`` body, one per line (empty lines skipped).

    [chosen, data-api.md 3.3] A code is taken exactly as written: only the line break (``\\n``
    or ``\\r\\n``) is removed, nothing else, so ``" abc "`` is not ``abc`` and ``"x\\x85"``
    is not ``x``.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"the body is not valid UTF-8 (byte {exc.start})") from None
    lines = text.split("\n")
    codes: list[str] = []
    last = len(lines)
    for number, line in enumerate(lines, start=1):
        if number < last and line.endswith("\r"):
            line = line[:-1]  # the \r of a \r\n line break (a last line has no line break)
        if not line:
            continue
        if len(line) > MAX_IDENTIFIER:
            raise BodyError(f"line {number}: visitor code longer than {MAX_IDENTIFIER} characters")
        codes.append(line)
    return codes


def parse_map_updates(body: bytes) -> dict[str, dict[str, Any]]:
    """The ``{"<key>": {"<field>": <any JSON>}}`` body of ``POST /map/maps``.

    Each field value is a JSON value on its own: at most :data:`MAX_JSON_DEPTH` levels deep,
    finite numbers only, encodable texts; the error names the key and the field.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"the body is not valid UTF-8 (byte {exc.start})") from None
    data, check = _decode_document(text, MAX_JSON_DEPTH + 2) if text.strip() else (None, False)
    if not isinstance(data, dict):
        raise BodyError('the body must be a JSON object {"<key>": {...}}')
    for key, fields in data.items():
        if has_surrogate(key):
            raise BodyError(f"key {key[:40]!r}: a text with {_NOT_ENCODABLE}")
        if not key or len(key) > MAX_IDENTIFIER:
            raise BodyError(f"key {key[:40]!r}: 1 to {MAX_IDENTIFIER} characters")
        if not isinstance(fields, dict):
            raise BodyError(f"key {key!r}: the value must be a JSON object")
        if check:
            for name, value in fields.items():
                if has_surrogate(name):
                    raise BodyError(f"key {key!r}, field {name[:40]!r}: {_NOT_ENCODABLE}")
                problem = json_problem(value)
                if problem is not None:
                    raise BodyError(f"key {key!r}, field {name[:40]!r}: {problem}")
    return data


# -- query parameters ----------------------------------------------------------------------------


class QueryError(ValueError):
    """A query parameter is missing or malformed; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"query parameter {param!r}: {message}")
        self.param = param


def identifier_list(raw: str | None, param: str, *, limit: int = 100) -> list[str]:
    """Decode a JSON array of identifiers (``eans``, ``keys``), at most ``limit`` of them."""
    if raw is None or raw == "":
        raise QueryError(param, "missing (a JSON array of strings)")
    try:
        values = loads(raw)
    except ValueError as exc:
        raise QueryError(param, f"not a JSON array of strings ({exc})") from None
    # Numbers are read as their text; a boolean is no identifier (bool is an int in Python).
    if not isinstance(values, list) or not all(
        isinstance(v, (str, int)) and not isinstance(v, bool) for v in values
    ):
        raise QueryError(param, "not a JSON array of strings")
    if len(values) > limit:
        raise QueryError(param, f"{len(values)} values, at most {limit} per call")
    out = [str(v) for v in values]
    for value in out:
        if len(value) > MAX_IDENTIFIER:
            raise QueryError(param, f"a value is longer than {MAX_IDENTIFIER} characters")
    return out


def query_int(
    raw: str | None, param: str, *, low: int | None = None, high: int | None = None
) -> int | None:
    """An optional integer query parameter within ``[low, high]`` (signed 64 bits without)."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(param, f"{raw[:40]!r} is not an integer") from None
    low = INT64_MIN if low is None else low
    high = INT64_MAX if high is None else high
    if not low <= value <= high:
        shown = f"{raw[:40]}..." if len(raw) > 40 else raw
        raise QueryError(param, f"{shown} is outside {low}..{high}")
    return value


def query_bool(raw: str | None, param: str) -> bool:
    """An optional boolean query parameter, the strings ``true``/``false``."""
    if raw is None or raw == "":
        return False
    low = raw.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    raise QueryError(param, f"{raw[:40]!r} is not true or false")
