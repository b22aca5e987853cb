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


def test_custom_data_mapping_identifier_is_kept_in_the_data_when_true() -> None:
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
    # The feed shows mappingIdentifier: true on the event that carried it (data-api.md 3.1).
    assert event.data == {
        "index": 1,
        "valuesCountMap": {"crm-1": 1},
        "overwrite": True,
        "mappingIdentifier": True,
    }
    params["mappingIdentifier"] = "false"
    event = wire.parse_visit_event(params, None)
    assert event.mapping_identifier is False
    assert "mappingIdentifier" not in event.data


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


def test_loads_is_bounded_in_depth_and_refuses_non_finite_numbers_and_lone_surrogates() -> None:
    depth = wire.MAX_JSON_DEPTH
    assert wire.MAX_JSON_DEPTH == 64  # the encoder refuses with the same number
    assert wire.loads("[" * depth + "]" * depth) is not None  # 64 levels: fine
    for text, reason in [
        ("[" * (depth + 1) + "]" * (depth + 1), "deeper than 64"),
        ("[" * 100_000 + "]" * 100_000, "deeper than 64"),
        ('{"a": 1e400}', "not finite"),
        ("[-1e400]", "not finite"),
        ("[NaN]", "NaN"),
        ("[Infinity]", "Infinity"),
        ('["\\ud800"]', "surrogate"),
        ('{"\\udfff": 1}', "surrogate"),
        ("[1" + "0" * 5000 + "]", "digits"),
    ]:
        with pytest.raises(ValueError, match=reason):
            wire.loads(text)
    assert wire.loads('["\\ud83d\\ude00"]') == ["\U0001f600"]  # a surrogate pair is one character
    assert wire.loads(b'{"a": [1, 2.5]}') == {"a": [1, 2.5]}


def test_json_problem_walks_any_depth_without_recursion() -> None:
    value: list = []
    for _ in range(100_000):
        value = [value]
    assert wire.json_problem(value) == "JSON nested deeper than 64 levels"
    assert wire.json_problem({"a": [1.0, float("inf")]}) is not None
    assert wire.json_problem({"a": "x\ud800"}) is not None
    assert wire.json_problem({"a": [1, "ok", None, True, {"b": 2.5}]}) is None


@pytest.mark.parametrize(
    ("convert", "value"),
    [
        (wire.to_int, "9223372036854775808"),
        (wire.to_int, "-9223372036854775809"),
        (wire.to_int, 2**63),
        (wire.to_int, 1e19),
        (wire.to_quantity, "99999999999999999999"),
        (wire.to_float, 10**400),
        (wire.to_float, "1e400"),
        (wire.to_float, "nan"),
        (wire.to_counts, '{"a": 99999999999999999999}'),
        (wire.to_int_array, "[99999999999999999999]"),
    ],
)
def test_typed_values_stay_inside_64_bits_and_finite(convert, value) -> None:
    with pytest.raises(ValueError):
        convert(value)


def test_typed_integers_at_the_64_bit_limits_are_read() -> None:
    assert wire.to_int("9223372036854775807") == 2**63 - 1
    assert wire.to_int("-9223372036854775808") == -(2**63)


def test_forget_codes_are_taken_exactly_as_written() -> None:
    body = " abc \nx\x85\nplain\r\n\n\r\nlast\r".encode()
    # Only the line break goes; an empty line (or a lone \r\n) is no code; a last line has no
    # line break, so its \r stays.
    assert wire.parse_forget_body(body) == [" abc ", "x\x85", "plain", "last\r"]
