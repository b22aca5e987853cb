"""The emulator's rules over its state, without HTTP (moto's backend; ``routes`` are its responses).

The routes parse a request (with :mod:`.wire`), call one method here and render what it returns.
Everything the Data API decides lives here: which visit an event belongs to (a new visit after
30 minutes without events), which visit is the current one, how mapping values link visitors
across devices, how a feed answer is assembled, how product events count and merge attributes,
how maps merge and expire, and what forgetting a visitor deletes.

Times are milliseconds since the epoch. Every method that depends on the time takes ``now``;
without it, the module's :func:`now_ms` is read (a test may patch it).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Iterable, Sequence
from itertools import repeat
from typing import Any, NamedTuple

from . import wire
from .options import EmulatorOptions
from .shapes import FastLines
from .state import EmulatorState, EventRow, ProductRow, VisitRow, now_ms

__all__ = [
    "DEFAULT_TTL_HOURS",
    "FEED_KEYS",
    "FEED_KINDS",
    "MAX_KEYS",
    "MAX_TTL_HOURS",
    "VISIT_GAP_MS",
    "EmulatorModel",
    "ProductBatch",
    "StoredEvent",
    "VisitBatch",
    "now_ms",
    "split_visits",
    "visit_json",
]

VISIT_GAP_MS = 30 * 60 * 1000  # [chosen] a new visit starts after 30 minutes without events
DEFAULT_TTL_HOURS = 2208  # 92 days [sure]
MAX_TTL_HOURS = 8784
MAX_KEYS = 100  # [chosen] more than 100 EANs or keys in one call is a 400

#: The stored kinds a feed can show, each with its key in a visit object.
FEED_KEYS = {
    "page": "pageEvents",
    "conversion": "conversionEvents",
    "customData": "customDataEvents",
    "experiment": "experimentEvents",
    "personalization": "personalizationEvents",
    "geolocation": "geolocationEvents",
    "staticData": "staticDataEvent",
}
#: Every kind a feed can show (``all=true``, or no kind flag at all).
FEED_KINDS = frozenset(FEED_KEYS)
_COMPACT = (",", ":")
# Sequence numbers are reserved from the state in blocks (gaps are harmless: they only order).
_SEQ_BLOCK = 4096

#: A stored visit event as read back: ``(visitor_code, time, seq, kind, stored data)``.
StoredEvent = EventRow


class VisitBatch(NamedTuple):
    """Visit events ready to store: state rows and ``(site, mapping value, visitor)`` links."""

    site_code: str
    rows: list[VisitRow]
    links: list[tuple[str, str, str]]


class ProductBatch(NamedTuple):
    """Product events ready to store: state rows and each row's attributes (or None)."""

    site_code: str
    rows: list[ProductRow]
    attributes: list[dict[str, Any] | None]


class EmulatorModel:
    """The Data API's behaviour over one :class:`~.state.EmulatorState` (no HTTP involved).

    Parameters
    ----------
    state : EmulatorState
        Where events, mappings, products and maps are stored.
    options : EmulatorOptions, optional
        The live options (read for the token credentials and lifetime); defaults apply without.

    Examples
    --------
    >>> from kameleoon_pandas.emulator import EmulatorState, wire
    >>> from kameleoon_pandas.emulator.model import EmulatorModel
    >>> model = EmulatorModel(EmulatorState(":memory:"))
    >>> page = wire.parse_visit_event(
    ...     {"eventType": "page", "href": "/", "nonce": "00000000000000A1"}, "v1"
    ... )
    >>> model.ingest_visit_events("site1", [(page, "")], now=1_000)
    1
    >>> feed = model.visitor_feed("site1", visitor_code="v1", now=2_000)
    >>> feed["currentVisit"]["pageEvents"][0]["data"]["href"]
    '/'
    """

    def __init__(self, state: EmulatorState, options: EmulatorOptions | None = None) -> None:
        self.state = state
        self.options = options if options is not None else EmulatorOptions()

    # -- tokens ----------------------------------------------------------------------------------

    def issue_token(
        self, client_id: str | None, client_secret: str | None
    ) -> tuple[str, float | int] | None:
        """A new bearer token and its lifetime in seconds, or None for wrong credentials."""
        opts = self.options
        if client_id != opts.client_id or client_secret != opts.client_secret:
            return None
        ttl = opts.token_ttl
        # [chosen] tokens expire after a configurable lifetime, so refresh paths get exercised.
        token = self.state.issue_token(ttl)
        return token, int(ttl) if float(ttl).is_integer() else ttl

    # -- rejected lines --------------------------------------------------------------------------

    def record_rejections(
        self, site_code: str, path: str, rejections: list[wire.Rejection]
    ) -> list[wire.Rejection]:
        """Keep refused lines with their reason; return them sorted by line."""
        if not rejections:
            return rejections
        rejections.sort(key=lambda r: r.line)
        # [chosen] bad lines are dropped (as the real service does after its 204) and kept with
        # their reason, where a test or a user can read them (``state.rejected_lines()``).
        self.state.record_rejected(
            [(site_code, path, r.line, r.reason, r.field, r.text) for r in rejections]
        )
        return rejections

    # -- visits ----------------------------------------------------------------------------------

    def prepare_visit_events(
        self,
        site_code: str,
        events: Iterable[tuple[wire.VisitEvent, str]],
        *,
        now: int | None = None,
    ) -> VisitBatch:
        """The rows and mapping links that storing validated visit events writes.

        ``events`` holds ``(event, source line)`` pairs (the line is ``""`` for a JSON event),
        for example :func:`.wire.iter_visit_events`. No event carries a client time: all of them
        get ``now``, the time of receipt [sure]. Nothing is written until
        :meth:`store_visit_events`, so a refused body stores nothing.
        """
        when = now_ms() if now is None else now
        rows: list[VisitRow] = []
        seq = seq_end = 0
        links: list[tuple[str, str, str]] = []
        body_links: dict[str, str] = {}
        dumps = json.dumps
        for event, text in events:
            code = event.visitor_code
            mapping = event.mapping_value
            if code is not None:
                visitor = code
                if mapping is not None:
                    links.append((site_code, mapping, visitor))
                    body_links.setdefault(mapping, visitor)
            elif mapping is not None:
                # [chosen] an event sent with only a mappingValue is stored under the visitor it
                # is linked to (earlier in this body or before), or else under the mapping value.
                found = body_links.get(mapping)
                if found is None:
                    linked = self.state.linked_visitors(site_code, mapping)
                    found = linked[0] if linked else mapping
                visitor = found
            else:  # wire.parse_visit_event never returns such an event
                raise ValueError("a visit event needs a visitorCode or a mappingValue")
            if event.mapping_identifier:
                for value in event.data["valuesCountMap"]:
                    links.append((site_code, value, visitor))
                    body_links.setdefault(value, visitor)
            # A line is stored as received and decoded again when a feed is read (feeds are
            # small, ingestion is the hot path); a JSON event is stored as its data object.
            stored = text if text and text[0] != "{" else dumps(event.data, separators=_COMPACT)
            if seq == seq_end:  # insertion sequence numbers order events of equal time
                seq = self.state.next_seq(_SEQ_BLOCK)
                seq_end = seq + _SEQ_BLOCK
            rows.append((site_code, visitor, event.nonce, when, seq, event.kind, stored))
            seq += 1
        return VisitBatch(site_code, rows, links)

    def prepare_visit_lines(
        self, site_code: str, lines: FastLines, *, now: int | None = None
    ) -> VisitBatch:
        """The rows of a line body the fast path read whole (:func:`.shapes.match_visit_lines`).

        The same rows :meth:`prepare_visit_events` makes of those lines (each line stored as
        received, at the time of receipt), built column-wise. Such lines carry no mapping value.
        """
        when = now_ms() if now is None else now
        count = len(lines.lines)
        first = self.state.next_seq(count)
        rows = list(
            zip(
                repeat(site_code),
                lines.visitor_codes,
                lines.nonces,
                repeat(when),
                range(first, first + count),
                lines.kinds,
                lines.lines,
                strict=False,  # all of one length (checked by match_visit_lines)
            )
        )
        return VisitBatch(site_code, rows, [])

    def store_visit_events(self, batch: VisitBatch) -> int:
        """Write a prepared batch in one transaction; return how many events it held.

        An event already stored under the same ``(site, visitor, nonce)`` is dropped.
        """
        self.state.insert_visit_events(batch.site_code, batch.rows, batch.links)
        return len(batch.rows)

    def ingest_visit_events(
        self,
        site_code: str,
        events: Iterable[tuple[wire.VisitEvent, str]],
        *,
        now: int | None = None,
    ) -> int:
        """Prepare and store validated visit events at once; return how many were sent."""
        return self.store_visit_events(self.prepare_visit_events(site_code, events, now=now))

    def visitor_codes(
        self, site_code: str, *, visitor_code: str | None = None, mapping_value: str | None = None
    ) -> list[str]:
        """The visitor codes whose visits a feed reads, without repeats.

        A visitor code reads itself. [chosen] A mapping value reads the visits of every visitor
        linked to it, plus the events sent under the mapping value itself (cross-device).
        """
        if visitor_code is not None:
            return [visitor_code]
        if mapping_value is None:
            raise ValueError("give visitor_code or mapping_value")
        codes = [mapping_value, *self.state.linked_visitors(site_code, mapping_value)]
        return list(dict.fromkeys(codes))

    def visits(
        self,
        site_code: str,
        *,
        visitor_code: str | None = None,
        mapping_value: str | None = None,
        now: int | None = None,
    ) -> tuple[list[StoredEvent] | None, list[list[StoredEvent]]]:
        """``(current visit or None, previous visits newest first)`` of a visitor.

        [chosen] The current visit is the latest one if it is still open (an event less than
        30 minutes before ``now``); otherwise every visit is a previous one.
        """
        codes = self.visitor_codes(
            site_code, visitor_code=visitor_code, mapping_value=mapping_value
        )
        events = self.state.visitor_events(site_code, codes)
        if not events:
            return None, []
        all_visits = split_visits(events)
        when = now_ms() if now is None else now
        last = all_visits[-1]
        is_open = when - last[-1][1] < VISIT_GAP_MS
        previous = all_visits[:-1] if is_open else all_visits
        previous.sort(key=lambda v: (v[0][1], v[0][2]))
        return (last if is_open else None), previous[::-1]

    def visitor_feed(
        self,
        site_code: str,
        *,
        visitor_code: str | None = None,
        mapping_value: str | None = None,
        kinds: Collection[str] = FEED_KINDS,
        current_visit: bool = True,
        max_previous: int | None = None,
        now: int | None = None,
    ) -> dict[str, Any]:
        """The ``GET /visit/visitor`` answer: ``currentVisit`` and ``previousVisits``.

        ``kinds`` are the stored kinds to show (:data:`FEED_KINDS`); keys are left out when not
        asked for or empty, and an unknown visitor answers ``{}`` [chosen].
        """
        current, previous = self.visits(
            site_code, visitor_code=visitor_code, mapping_value=mapping_value, now=now
        )
        answer: dict[str, Any] = {}
        if current_visit and current is not None:
            answer["currentVisit"] = visit_json(current, kinds)
        if max_previous:
            chosen = previous[:max_previous]  # newest first [sure]
            if chosen:
                answer["previousVisits"] = [visit_json(v, kinds) for v in chosen]
        return answer

    def forget(self, site_code: str, visitor_codes: Sequence[str]) -> None:
        """Delete every visit, event and mapping link of those visitors in that site."""
        if visitor_codes:
            self.state.forget(site_code, visitor_codes)

    # -- products --------------------------------------------------------------------------------

    def prepare_product_events(
        self, site_code: str, events: Iterable[wire.ProductEvent], *, now: int | None = None
    ) -> ProductBatch:
        """The rows that storing validated product events writes (nothing is written yet).

        A view counts 1; a cart add or a purchase counts its quantity. An event without a nonce
        (the browser engine omits it) gets one of its own, so it is always new, also after a
        restart on the same file: a random prefix per batch, then the event's place in it.
        """
        when = now_ms() if now is None else now
        batch_id = secrets.token_hex(8)  # never a nonce: those are 16 hex digits, no "auto-"
        rows: list[ProductRow] = []
        attributes: list[dict[str, Any] | None] = []
        seq = seq_end = 0
        for event in events:
            if seq == seq_end:
                seq = self.state.next_seq(_SEQ_BLOCK)
                seq_end = seq + _SEQ_BLOCK
            kind = event.kind
            views = 1 if kind == "productPage" else 0
            atc = event.quantity if kind == "productAddToCart" else 0
            bought = event.quantity if kind == "productBuy" else 0
            rows.append(
                (
                    site_code,
                    event.ean,
                    event.nonce or f"auto-{batch_id}-{seq}",
                    when,
                    views,
                    atc,
                    bought,
                )
            )
            attributes.append(event.attributes)
            seq += 1
        return ProductBatch(site_code, rows, attributes)

    def store_product_events(self, batch: ProductBatch) -> int:
        """Write a prepared batch in one transaction; return how many events it held.

        A known ``(site, ean, nonce)`` changes nothing, not even the product's attributes:
        ``productPage`` attributes are merged only by a new event.
        """
        self.state.insert_product_events(batch.site_code, batch.rows, batch.attributes)
        return len(batch.rows)

    def ingest_product_events(
        self, site_code: str, events: Iterable[wire.ProductEvent], *, now: int | None = None
    ) -> int:
        """Prepare and store validated product events at once; return how many were sent."""
        return self.store_product_events(self.prepare_product_events(site_code, events, now=now))

    def product_counters(
        self,
        site_code: str,
        eans: Sequence[str],
        time_begin: int | None = None,
        time_end: int | None = None,
    ) -> dict[str, dict[str, int]]:
        """``{ean: {"v": views, "atcq": added to cart, "bq": bought}}`` over the window.

        [chosen] The window is ``time_begin <= t < time_end``, all time without bounds; an EAN
        with no events answers zeros.
        """
        return self.state.product_counters(site_code, eans, time_begin, time_end)

    def product_data(self, site_code: str, eans: Sequence[str]) -> dict[str, Any]:
        """``{ean: stored attributes}``; [chosen] unknown EANs are left out."""
        return self.state.product_data(site_code, eans)

    # -- maps ------------------------------------------------------------------------------------

    def map_json(self, site_code: str, key: str, *, now: int | None = None) -> str:
        """The stored JSON text of a key, as stored; [chosen] ``"{}"`` when unknown or expired."""
        stored = self.state.get_map_json(site_code, key, now_ms() if now is None else now)
        return "{}" if stored is None else stored

    def get_maps(
        self, site_code: str, keys: Sequence[str], *, now: int | None = None
    ) -> dict[str, Any]:
        """``{key: stored object}``; unknown or expired keys are left out [sure]."""
        when = now_ms() if now is None else now
        answer: dict[str, Any] = {}
        for key in dict.fromkeys(keys):
            stored = self.state.get_map_json(site_code, key, when)
            if stored is not None:
                answer[key] = json.loads(stored)
        return answer

    def merge_maps(
        self,
        site_code: str,
        updates: dict[str, dict[str, Any]],
        ttl_hours: int | None = None,
        *,
        now: int | None = None,
    ) -> None:
        """Merge fields into the stored maps [sure].

        A field set to ``None`` deletes that field, an empty object deletes the key, and data
        expires ``ttl_hours`` (default 2208, 92 days) after its last write; expired data is not
        merged into.
        """
        hours = DEFAULT_TTL_HOURS if ttl_hours is None else ttl_hours
        when = now_ms() if now is None else now
        self.state.merge_maps(site_code, updates, hours * 3_600_000, when)


def split_visits(events: Sequence[StoredEvent]) -> list[list[StoredEvent]]:
    """Cut time-ordered events into visits at gaps of more than 30 minutes.

    Each visitor code (device) has its own visits; the result is ordered by last event.
    """
    visits: list[list[StoredEvent]] = []
    open_visit: dict[str, list[StoredEvent]] = {}
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
        data: dict[str, Any] = json.loads(stored)
        return data
    params = wire.parse_line(stored)
    try:
        return wire.parse_visit_event(params, visitor_code).data
    except wire.LineError:
        # Stored before a rule was tightened (an older file): shown as stored, never a 500.
        return {k: v for k, v in params.items() if k not in _ENVELOPE}


_ENVELOPE = frozenset({"eventType", "nonce", "visitorCode", "mappingValue", "userAgent"})


def visit_json(events: Sequence[StoredEvent], kinds: Collection[str]) -> dict[str, Any]:
    """One visit as the feed shows it, with the events of ``kinds`` only (oldest first)."""
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
            # One object gathering the visit's static data events [sure], each event's names
            # first (an event naming its browser keeps that name: data-api.md 3.1).
            if static is None:
                static, static_time = {}, time
            static.update(wire.static_data_view(data))
            continue
        if kind == "page" and "referrersIndices" not in data:
            # Always there, [] when none were sent [sure: the official JavaScript SDK reads
            # referrersIndices[0] unguarded]. Also for pages stored without it (seeded data).
            data["referrersIndices"] = []
        visit.setdefault(FEED_KEYS[kind], []).append({"time": time, "data": data})
    if static is not None:
        visit["staticDataEvent"] = {"time": static_time, "data": static}
    return visit
