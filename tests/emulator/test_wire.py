"""The pure decoding and validation of event bodies (no server)."""

from __future__ import annotations

import json
import random
from urllib.parse import quote, quote_plus, unquote_plus

import pytest

from kameleoon_pandas.emulator import wire


def test_parse_line_decodes_plus_and_percent_twenty_as_spaces() -> None:
    assert wire.parse_line("title=My+Cart&alt=My%20Cart") == {"title": "My Cart", "alt": "My Cart"}


def test_parse_line_keeps_encoded_separators_inside_values() -> None:
    params = wire.parse_line("href=https%3A%2F%2Fx.example%2F%3Fa%3D1%26b%3D2&title=a%2Bb")
    assert params == {"href": "https://x.example/?a=1&b=2", "title": "a+b"}


def test_parse_line_accepts_a_name_without_value() -> None:
    assert wire.parse_line("eventType=activity&flag&x=") == {
        "eventType": "activity",
        "flag": "",
        "x": "",
    }


def test_whole_line_unquote_matches_the_stdlib_on_random_input() -> None:
    rnd = random.Random(7)
    alphabet = 'ab +%/é€\\"{}:=&~\n'
    for _ in range(3000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 24)))
        for candidate in (text, quote(text), quote_plus(text), text.replace("%", "%4")):
            assert wire._unquote_line(candidate) == unquote_plus(candidate), candidate


def test_decode_lines_numbers_lines_and_skips_empty_ones() -> None:
    body = b"eventType=activity&nonce=1\r\n\neventType=page&nonce=2\n"
    events, rejected = wire.decode_body(body, json_body=False)
    assert [(e.line, e.params["nonce"]) for e in events] == [(1, "1"), (3, "2")]
    assert rejected == []


def test_decode_json_rejects_non_objects_by_position() -> None:
    events, rejected = wire.decode_body(b'[{"eventType": "activity"}, 3]', json_body=True)
    assert [e.line for e in events] == [1]
    assert [(r.line, r.reason) for r in rejected] == [(2, "an event must be a JSON object")]


@pytest.mark.parametrize(
    ("body", "json_body", "message"),
    [(b"\xff\xfe", False, "UTF-8"), (b"[1,", True, "malformed"), (b'"x"', True, "array")],
)
def test_undecodable_bodies_raise(body: bytes, json_body: bool, message: str) -> None:
    with pytest.raises(wire.BodyError, match=message):
        wire.decode_body(body, json_body=json_body)


def test_visit_event_types_are_case_insensitive_and_typed() -> None:
    params = {
        "eventType": "CONVERSION",
        "nonce": "00000000000000ab",
        "visitorCode": "v1",
        "goalId": "42",
        "revenue": "9.5",
    }
    event = wire.parse_visit_event(params, None)
    assert event.kind == "conversion"
    assert event.nonce == "00000000000000AB"  # nonces compare case-insensitively
    assert event.data == {"goalId": 42, "revenue": 9.5, "negative": False}


def test_visit_event_takes_the_visitor_from_the_query() -> None:
    event = wire.parse_visit_event({"eventType": "activity", "nonce": "0" * 16}, "fromquery")
    assert event.visitor_code == "fromquery"


def test_custom_data_mapping_identifier_is_not_part_of_the_data() -> None:
    params = {
        "eventType": "customData",
        "nonce": "0" * 16,
        "visitorCode": "v",
        "index": "1",
        "valuesCountMap": json.dumps({"crm-1": 1}),
        "mappingIdentifier": "true",
    }
    event = wire.parse_visit_event(params, None)
    assert event.mapping_identifier is True
    assert event.data == {"index": 1, "valuesCountMap": {"crm-1": 1}, "overwrite": True}


def ev(kind: str | None, **params: str) -> dict[str, str]:
    """A visit event with a valid nonce and visitor code unless overridden (None drops one)."""
    event = {"eventType": kind, "nonce": "0" * 16, "visitorCode": "v", **params}
    return {k: v for k, v in event.items() if v is not None}


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        (ev(None), "eventType", "missing"),
        (ev("nope"), "eventType", "unknown"),
        (ev("page", nonce=None, href="x"), "nonce", "missing"),
        (ev("page", nonce="xyz", href="x"), "nonce", "hex"),
        (ev("page", visitorCode=None, href="x"), "visitorCode", "missing"),
        (ev("page", visitorCode="v" * 101, href="x"), "visitorCode", "100"),
        (ev("page"), "href", "missing"),
        (ev("conversion", goalId="x"), "goalId", "invalid"),
        (ev("conversion", goalId="1", negative="maybe"), "negative", "true or false"),
        (ev("customData", index="1", valuesCountMap="[1]"), "valuesCountMap", "JSON object"),
        (ev("staticData", browserIndex="9"), "browserIndex", "0 to 5"),
        (ev("staticData", deviceType="FRIDGE"), "deviceType", "DESKTOP"),
        (ev("geolocation", city="Paris"), "country", "missing"),
    ],
)
def test_bad_visit_events_name_the_field(params: dict, field: str, reason: str) -> None:
    with pytest.raises(wire.LineError) as info:
        wire.parse_visit_event(params, None)
    assert info.value.field == field
    assert reason in info.value.reason


def test_static_data_view_names_browser_and_os() -> None:
    view = wire.static_data_view({"browserIndex": 3, "osIndex": 1, "deviceType": "PHONE"})
    assert view == {"browser": "SAFARI", "os": "MAC", "deviceType": "PHONE"}


def test_product_events_accept_a_missing_nonce_and_default_quantity() -> None:
    event = wire.parse_product_event({"eventType": "PRODUCTBUY"}, "EAN-1")
    assert (event.ean, event.nonce, event.kind, event.quantity) == ("EAN-1", None, "productBuy", 1)


def test_product_page_keeps_typed_and_further_attributes() -> None:
    params = {
        "eventType": "productPage",
        "ean": "E",
        "price": "9.90",
        "available": "true",
        "categories": '[{"id": 1, "name": "Shoes", "parent": null}]',
        "color": "red",
    }
    event = wire.parse_product_event(params, None)
    assert event.attributes == {
        "price": 9.9,
        "available": True,
        "categories": [{"id": 1, "name": "Shoes", "parent": None}],
        "color": "red",
    }


@pytest.mark.parametrize("quantity", ["0", "-1", "two"])
def test_product_quantity_must_be_a_positive_integer(quantity: str) -> None:
    with pytest.raises(wire.LineError) as info:
        wire.parse_product_event(
            {"eventType": "productAddToCart", "ean": "E", "quantity": quantity}, None
        )
    assert info.value.field == "quantity"


def test_identifier_list_limits_and_names_the_parameter() -> None:
    assert wire.identifier_list('["a", 2]', "eans") == ["a", "2"]
    with pytest.raises(wire.QueryError, match=r"'eans'.*at most 100"):
        wire.identifier_list(json.dumps([str(i) for i in range(101)]), "eans")
    with pytest.raises(wire.QueryError, match=r"'keys'.*JSON array"):
        wire.identifier_list("a,b", "keys")
