"""The emulator's rules called directly on the model: no HTTP, no server, explicit times."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from kameleoon_pandas.emulator import EmulatorState, wire
from kameleoon_pandas.emulator.model import VISIT_GAP_MS, EmulatorModel, split_visits

from .helpers import nonce

T0 = 1_700_000_000_000
MINUTE = 60_000
SITE = "modelsite"


@pytest.fixture
def model() -> Iterator[EmulatorModel]:
    state = EmulatorState(":memory:")
    try:
        yield EmulatorModel(state)
    finally:
        state.close()


def event(kind: str = "page", visitor: str | None = "v1", **params: Any) -> wire.VisitEvent:
    """A validated visit event, as the routes hand it to the model."""
    return wire.parse_visit_event({"eventType": kind, "nonce": nonce(), **params}, visitor)


def page(model: EmulatorModel, href: str, at: int, visitor: str = "v1", site: str = SITE) -> None:
    assert model.ingest_visit_events(site, [(event(href=href, visitor=visitor), "")], now=at) == 1


def hrefs(visit: dict[str, Any]) -> list[str]:
    return [e["data"]["href"] for e in visit["pageEvents"]]


def test_a_gap_of_more_than_thirty_minutes_starts_a_new_visit(model: EmulatorModel) -> None:
    page(model, "a", T0)
    page(model, "b", T0 + 30 * MINUTE)  # exactly 30 minutes: still the same visit
    page(model, "c", T0 + 60 * MINUTE + 1)  # 30 minutes and 1 ms later: a new one
    page(model, "d", T0 + 61 * MINUTE)

    feed = model.visitor_feed(SITE, visitor_code="v1", max_previous=25, now=T0 + 62 * MINUTE)
    assert hrefs(feed["currentVisit"]) == ["c", "d"]
    assert feed["currentVisit"]["timeStarted"] == T0 + 60 * MINUTE + 1
    assert feed["currentVisit"]["timeLastEvent"] == T0 + 61 * MINUTE
    [previous] = feed["previousVisits"]
    assert hrefs(previous) == ["a", "b"]
    assert (previous["timeStarted"], previous["timeLastEvent"]) == (T0, T0 + 30 * MINUTE)


def test_split_visits_keeps_each_device_apart_and_orders_by_last_event() -> None:
    events = [  # (visitor_code, time, seq, kind, data), oldest first
        ("phone", T0, 1, "page", "{}"),
        ("laptop", T0 + MINUTE, 2, "page", "{}"),
        ("phone", T0 + 2 * MINUTE, 3, "page", "{}"),
        ("laptop", T0 + 40 * MINUTE, 4, "page", "{}"),
    ]
    visits = split_visits(events)
    # Interleaved devices do not cut each other's visits; the laptop's 39-minute gap does.
    assert [[e[2] for e in v] for v in visits] == [[2], [1, 3], [4]]


def test_the_current_visit_is_the_latest_one_while_it_is_open(model: EmulatorModel) -> None:
    page(model, "first", T0)
    page(model, "second", T0 + 2 * VISIT_GAP_MS)
    last = T0 + 2 * VISIT_GAP_MS

    open_feed = model.visitor_feed(SITE, visitor_code="v1", max_previous=5, now=last + 29 * MINUTE)
    assert hrefs(open_feed["currentVisit"]) == ["second"]
    assert [hrefs(v) for v in open_feed["previousVisits"]] == [["first"]]

    # 30 minutes after its last event the visit is closed: every visit is a previous one,
    # newest first.
    closed = model.visitor_feed(SITE, visitor_code="v1", max_previous=5, now=last + VISIT_GAP_MS)
    assert "currentVisit" not in closed
    assert [hrefs(v) for v in closed["previousVisits"]] == [["second"], ["first"]]

    current, previous = model.visits(SITE, visitor_code="v1", now=last + 1)
    assert current is not None and [e[1] for e in current] == [last]
    assert [[e[1] for e in v] for v in previous] == [[T0]]
    # Not asked for: left out; an unknown visitor answers {}.
    only_current = model.visitor_feed(SITE, visitor_code="v1", now=last + 1)
    assert set(only_current) == {"currentVisit"}
    assert model.visitor_feed(SITE, visitor_code="nobody", now=last) == {}


def test_mapping_values_link_visitors_across_devices(model: EmulatorModel) -> None:
    link = event(
        "customData", "laptop", index=1, valuesCountMap='{"crm-7": 1}', mappingIdentifier="true"
    )
    model.ingest_visit_events(SITE, [(link, "")], now=T0)
    # An event sent with only the mapping value is stored under the linked visitor.
    later = event(visitor=None, href="/cart", mappingValue="crm-7")
    model.ingest_visit_events(SITE, [(later, "")], now=T0 + MINUTE)

    assert model.visitor_codes(SITE, mapping_value="crm-7") == ["crm-7", "laptop"]
    visit = model.visitor_feed(SITE, visitor_code="laptop", now=T0 + 2 * MINUTE)["currentVisit"]
    assert hrefs(visit) == ["/cart"]
    assert visit["customDataEvents"][0]["data"]["valuesCountMap"] == {"crm-7": 1}
    by_mapping = model.visitor_feed(SITE, mapping_value="crm-7", now=T0 + 2 * MINUTE)
    assert by_mapping["currentVisit"]["visitorCode"] == "laptop"


def test_map_merge_deletes_null_fields_and_empty_keys(model: EmulatorModel) -> None:
    model.merge_maps(SITE, {"k": {"a": 1, "b": {"deep": [1, 2]}}, "other": {"x": True}}, now=T0)
    model.merge_maps(SITE, {"k": {"a": None, "c": "new"}}, now=T0 + 1)
    assert json.loads(model.map_json(SITE, "k", now=T0 + 2)) == {"b": {"deep": [1, 2]}, "c": "new"}

    model.merge_maps(SITE, {"k": {"b": None, "c": None}}, now=T0 + 3)  # every field gone
    model.merge_maps(SITE, {"other": {}}, now=T0 + 3)  # {} deletes the key
    assert model.map_json(SITE, "k", now=T0 + 4) == "{}"
    assert model.get_maps(SITE, ["k", "other", "k"], now=T0 + 4) == {}


def test_maps_expire_ttl_hours_after_the_last_write(model: EmulatorModel) -> None:
    hour = 3_600_000
    model.merge_maps(SITE, {"short": {"a": 1}}, ttl_hours=1, now=T0)
    model.merge_maps(SITE, {"default": {"a": 1}}, now=T0)
    assert model.get_maps(SITE, ["short", "default"], now=T0 + hour - 1) == {
        "short": {"a": 1},
        "default": {"a": 1},
    }
    assert model.get_maps(SITE, ["short", "default"], now=T0 + hour) == {"default": {"a": 1}}
    assert model.map_json(SITE, "default", now=T0 + 2208 * hour) == "{}"  # 92 days by default
    model.merge_maps(SITE, {"short": {"b": 2}}, ttl_hours=1, now=T0 + hour)
    assert json.loads(model.map_json(SITE, "short", now=T0 + hour)) == {"b": 2}  # not merged


def test_forget_deletes_a_visitors_events_and_links_in_that_site_only(
    model: EmulatorModel,
) -> None:
    link = event(
        "customData", "gone", index=1, valuesCountMap='{"crm-9": 1}', mappingIdentifier="true"
    )
    model.ingest_visit_events(SITE, [(link, "")], now=T0)
    page(model, "kept", T0, visitor="stays")
    page(model, "elsewhere", T0, visitor="gone", site="othersite")

    model.forget(SITE, ["gone"])
    assert model.visitor_feed(SITE, visitor_code="gone", now=T0 + 1) == {}
    assert model.visitor_codes(SITE, mapping_value="crm-9") == ["crm-9"]  # the link is gone
    assert hrefs(model.visitor_feed(SITE, visitor_code="stays", now=T0 + 1)["currentVisit"]) == [
        "kept"
    ]
    other = model.visitor_feed("othersite", visitor_code="gone", now=T0 + 1)
    assert hrefs(other["currentVisit"]) == ["elsewhere"]
    # Forgotten events can be sent again: their nonces are free.
    again = event(visitor="gone", href="back")
    assert model.ingest_visit_events(SITE, [(again, "")], now=T0 + 2) == 1
    model.ingest_visit_events(SITE, [(again, "")], now=T0 + 3)  # a retry is dropped
    visit = model.visitor_feed(SITE, visitor_code="gone", now=T0 + 4)["currentVisit"]
    assert hrefs(visit) == ["back"]


def test_a_line_is_stored_as_received_and_read_back_decoded(model: EmulatorModel) -> None:
    text = f"eventType=page&href=https%3A%2F%2Fx.example%2F&title=Two+words&nonce={nonce()}"
    parsed = wire.parse_visit_event(wire.parse_line(text), "v1")
    model.ingest_visit_events(SITE, [(parsed, text)], now=T0)
    [(code, time, _seq, kind, stored)] = model.state.visitor_events(SITE, ["v1"])
    assert (code, time, kind, stored) == ("v1", T0, "page", text)
    visit = model.visitor_feed(SITE, visitor_code="v1", now=T0)["currentVisit"]
    # referrersIndices is always there, [] when none were sent (data-api.md 3.1).
    assert visit["pageEvents"][0]["data"] == {
        "href": "https://x.example/",
        "title": "Two words",
        "referrersIndices": [],
    }
