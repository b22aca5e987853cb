"""Parsing and validating the two event-body encodings of the Data API (pure, no I/O).

A body is either lines (``name=value&...`` per line, percent-encoded values) or, with
``json=true``, a JSON array of objects with the same names and typed values. Both decode to the
same typed events; a bad line becomes a :class:`LineError` naming its line and field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

MAX_IDENTIFIER = 100  # visitor codes, EANs, map keys: at most 100 characters [likely]

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


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes) -> Any:
    """``json.loads`` refusing ``NaN`` and ``Infinity``: not JSON, strict readers choke on them."""
    return json.loads(text, parse_constant=_refuse_constant)


# -- decoding the two encodings ------------------------------------------------------------------


def decode_body(body: bytes, *, json_body: bool) -> tuple[list[RawEvent], list[Rejection]]:
    """Split a body into raw events; undecodable lines come back as rejections."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"the body is not valid UTF-8 (byte {exc.start})") from None
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


def _decode_json(text: str) -> tuple[list[RawEvent], list[Rejection]]:
    try:
        data = loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise BodyError(
            f"the JSON body is malformed (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:
        raise BodyError(f"the JSON body is malformed: {exc}") from None
    if isinstance(data, dict):
        data = [data]  # [chosen] a single object is read as a one-event array
    if not isinstance(data, list):
        raise BodyError("the JSON body must be an array of event objects")
    events: list[RawEvent] = []
    rejections: list[Rejection] = []
    for number, item in enumerate(data, start=1):
        if isinstance(item, dict):
            events.append(RawEvent(number, item, ""))
        else:
            rejections.append(
                Rejection(number, "an event must be a JSON object", None, repr(item)[:200])
            )
    return events, rejections


# -- typed values --------------------------------------------------------------------------------


def to_int(value: Any) -> int:
    if type(value) is str:
        return int(value)
    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError("not an integer")
    return int(str(value).strip())


def to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    number = float(value)
    if -1e308 < number < 1e308:
        return number
    if number != number or number in (float("inf"), float("-inf")):
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


def _json_value(value: Any) -> Any:
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
    if all(type(v) is int for v in data.values()):
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
        "browser": (lambda v: to_str(v).upper(), False),
        "browserVersion": (to_float, False),
        "deviceType": (to_device, False),
        "os": (lambda v: to_str(v).upper(), False),
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
        except (ValueError, TypeError) as exc:
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
        if data.pop("mappingIdentifier", False):
            return VisitEvent(visitor or None, mapping or None, nonce, kind, data, True)
    return VisitEvent(visitor or None, mapping or None, nonce, kind, data)


def static_data_view(data: dict[str, Any]) -> dict[str, Any]:
    """Name the browser and OS of merged static data, as the feed shows them [sure]."""
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
            except (ValueError, TypeError) as exc:
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
        except (ValueError, TypeError) as exc:
            raise LineError(f"invalid value: {exc}", name) from None
    return ProductEvent(ean, nonce, kind, 1, attributes)


# -- whole bodies --------------------------------------------------------------------------------


def line_text(raw: RawEvent) -> str:
    """The text a rejection keeps: the line as received, or the JSON event (cut at 500)."""
    return raw.text or json.dumps(raw.params, separators=(",", ":"), default=str)[:500]


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
    """The visitor codes of a ``/visit/forget`` body, one per line (empty lines skipped)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("the body is not valid UTF-8") from None
    codes: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        code = line.strip()
        if not code:
            continue
        if len(code) > MAX_IDENTIFIER:
            raise BodyError(f"line {number}: visitor code longer than {MAX_IDENTIFIER} characters")
        codes.append(code)
    return codes


def parse_map_updates(body: bytes) -> dict[str, dict[str, Any]]:
    """The ``{"<key>": {"<field>": <any JSON>}}`` body of ``POST /map/maps``."""
    try:
        data = loads(body) if body.strip() else None
    except ValueError as exc:  # malformed JSON, NaN or Infinity, bad UTF-8
        raise BodyError(f"the JSON body is malformed: {exc}") from None
    if not isinstance(data, dict):
        raise BodyError('the body must be a JSON object {"<key>": {...}}')
    for key, fields in data.items():
        if not key or len(key) > MAX_IDENTIFIER:
            raise BodyError(f"key {key[:40]!r}: 1 to {MAX_IDENTIFIER} characters")
        if not isinstance(fields, dict):
            raise BodyError(f"key {key!r}: the value must be a JSON object")
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
    except ValueError:
        raise QueryError(param, "not a JSON array of strings") from None
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
    """An optional integer query parameter within ``[low, high]``."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(param, f"{raw[:40]!r} is not an integer") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise QueryError(param, f"{value} is outside {low}..{high}")
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
