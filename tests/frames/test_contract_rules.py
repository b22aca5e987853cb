"""The encoder refuses exactly what the server refuses (issue 9), case by case.

Each known gap of the encoder, as a value it now sends the way the contract wants, or a row it
now refuses before anything is sent. ``test_property_strict.py`` (tests/writers) checks the same
against the strict emulator on generated frames.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd
import pytest

from kameleoon_pandas import ValidationError
from kameleoon_pandas._contract import MAX_JSON_DEPTH
from kameleoon_pandas.frames import encode
from kameleoon_pandas.frames.encode import plan_product_events, plan_visit_events


def encoded(df: pd.DataFrame, kind: str | None, product: bool = False):
    """(the sent lines' parameters, {label: reason} of the invalid rows)."""
    planner = plan_product_events if product else plan_visit_events
    plan = planner(df, kind, site_code="s")
    lines = [x for b in plan.batches() for x in b.body.decode("ascii").split("\n") if x]
    got = [dict(parse_qsl(x, keep_blank_values=True)) for x in lines]
    return got, dict(zip(plan.invalid["index"], plan.invalid["reason"], strict=True))


def nest(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def conversions(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"visitor_code": [f"v{i}" for i in range(n)], "goal_id": 1, **columns})


def test_metadata_is_a_json_object_with_finite_numbers_at_most_64_levels_deep() -> None:
    df = conversions(
        metadata=[
            '{"a": NaN}',
            '{"a": 1e400}',
            "not json",
            "[1, 2]",
            {"a": float("nan")},
            {"a": nest(MAX_JSON_DEPTH - 1)},  # 64 levels: fine
            {"a": nest(MAX_JSON_DEPTH)},  # 65: refused
            {"k\ud800": 1},
            {"a": "\udfff"},
            '{"ok": [1, 2.5, "é"]}',
            {"n": np.int64(3), "x": np.float64(0.5), 7: True},
            {(1, 2): "tuple key"},
        ]
    )
    got, bad = encoded(df, "conversion")
    assert sorted(bad) == [0, 1, 2, 3, 4, 6, 7, 8, 11]
    assert "NaN" in bad[0] and "finite" in bad[1] and bad[3] == "not a JSON object"
    assert bad[6] == "JSON nested deeper than 64 levels"
    assert "surrogate" in bad[7] and "surrogate" in bad[8]
    sent = {p["visitorCode"]: json.loads(p["metadata"]) for p in got}
    assert sent["v5"] == {"a": nest(63)}
    assert sent["v9"] == {"ok": [1, 2.5, "é"]}
    assert sent["v10"] == {"n": 3, "x": 0.5, "7": True}


def test_required_texts_may_not_be_empty_optional_ones_may() -> None:
    pages = pd.DataFrame(
        {"visitor_code": ["a", "b", "c"], "href": ["", "https://x.example", 404], "title": ""}
    )
    got, bad = encoded(pages, "page")
    assert bad == {0: "missing value (an empty text)"}
    assert [p["href"] for p in got] == ["https://x.example", "404"]
    geo = pd.DataFrame({"visitor_code": ["a", "b"], "country": ["", "France"]})
    got, bad = encoded(geo, "geolocation")
    assert bad == {0: "missing value (an empty text)"} and got[0]["country"] == "France"


def test_referrers_indices_are_a_json_array_of_integers() -> None:
    df = pd.DataFrame(
        {
            "visitor_code": [f"v{i}" for i in range(8)],
            "href": "https://x.example",
            "referrers_indices": [
                [1, 2],
                [1.0, 2.0],
                "[3]",
                np.array([4, 5]),
                ["1"],
                [1.5],
                {"a": 1},
                [2**63],
            ],
        }
    )
    got, bad = encoded(df, "page")
    assert sorted(bad) == [4, 5, 6, 7]
    assert all(r.startswith("not a JSON array of integers") for r in bad.values())
    assert [json.loads(p["referrersIndices"]) for p in got] == [[1, 2], [1, 2], [3], [4, 5]]


def test_product_attributes_follow_the_contract_not_the_dtype() -> None:
    df = pd.DataFrame(
        {
            "ean": [f"E{i}" for i in range(8)],
            "available_quantity": [3, None, 4, 5, 6, 7, 8, 9],  # floats: 3.0, NaN, ...
            "price": ["9.5", "12", "n/a", 1, 2, 3, 4, 5],
            "available": [True, "yes", 0, "maybe", True, True, True, True],
            "categories": [
                [{"id": "1", "name": "Food", "parent": None}],
                None,
                None,
                None,
                "not json",
                '[{"id": "2", "name": "Tea", "parent": "1"}]',
                [{"id": "1"}],
                None,
            ],
            "tags": [["a"], None, None, None, None, None, None, {"not": "an array"}],
        }
    )
    got, bad = encoded(df, "product_page", product=True)
    assert bad == {
        2: "not a number",
        3: "not a boolean",
        4: "not JSON",
        6: 'not a JSON array of {"id", "name", "parent"} objects',
        7: "not a JSON array",
    }
    first, second, fifth = got[0], got[1], got[2]
    assert (first["availableQuantity"], first["price"], first["available"]) == ("3", "9.5", "true")
    assert "availableQuantity" not in second and second["price"] == "12.0"
    assert second["available"] == "true" and json.loads(first["tags"]) == ["a"]
    assert json.loads(fifth["categories"]) == [{"id": "2", "name": "Tea", "parent": "1"}]


def test_identifiers_are_texts_or_integers() -> None:
    df = pd.DataFrame(
        {
            "visitor_code": [101.0, 7, "abc", b"bytes", ("t",), True, 1.5, "x\ud800", "x" * 101],
            "goal_id": 1,
        }
    )
    got, bad = encoded(df, "conversion")
    assert [p["visitorCode"] for p in got] == ["101", "7", "abc"]
    assert bad == {
        3: "not a text (bytes)",
        4: "not a text (tuple)",
        5: "not a text (a boolean)",
        6: "not an identifier (a number with a fraction)",
        7: "a lone surrogate (U+D800 to U+DFFF): not encodable as UTF-8",
        8: "longer than 100 characters",
    }
    floats = pd.DataFrame({"ean": [101.0, np.nan, 2.5], "quantity": 1})
    got, bad = encoded(floats, "purchase", product=True)
    assert [p["ean"] for p in got] == ["101"] and sorted(bad) == [1, 2]
    keys, _, _, problems = encode.map_records(pd.DataFrame({"key": [101.0, 2.5], "a": 1}), "key")
    assert keys == ["101"] and problems.frame(pd.RangeIndex(2))["index"].tolist() == [1]


def test_lone_surrogates_in_any_text_are_invalid_rows() -> None:
    s = "bad\ud83d"
    df = pd.DataFrame(
        {
            "visitor_code": ["v0", "v1", "v2", "v3", "v4"],
            "kind": ["page", "geolocation", "custom_data", "conversion", "page"],
            "href": [s, None, None, None, "https://ok.example"],
            "country": [None, "F", None, None, None],
            "city": [None, s, None, None, None],
            "custom_data_index": [None, None, 1, None, None],
            "value": [None, None, s, None, None],
            "goal_id": [None, None, None, 1, None],
            "metadata": [None, None, None, {"k": s}, None],
        },
        dtype=object,  # pandas' pyarrow strings cannot even hold a lone surrogate
    )
    got, bad = encoded(df, None)
    assert sorted(bad) == [0, 1, 2, 3] and [p["visitorCode"] for p in got] == ["v4"]
    products = pd.DataFrame(
        {"ean": ["a", "b", "c"], "name": [s, "ok", "ok"], "colour": ["x", s, "y"]}, dtype=object
    )
    got, bad = encoded(products, "product_page", product=True)
    assert sorted(bad) == [0, 1] and [p["ean"] for p in got] == ["c"]


@pytest.mark.parametrize(
    ("df", "kind", "product", "bad"),
    [
        (conversions(revenue=[np.inf]), "conversion", False, {0: "not a finite number"}),
        (
            conversions(revenue=[np.inf, -np.inf]),
            "conversion",
            False,
            {0: "not a finite number", 1: "not a finite number"},
        ),
        (
            pd.DataFrame({"visitor_code": ["v"], "goal_id": [1.5]}),
            "conversion",
            False,
            {0: "not an integer"},
        ),
        (
            pd.DataFrame({"ean": ["e"], "quantity": [np.inf]}),
            "purchase",
            True,
            {0: "not a finite number"},
        ),
        (
            pd.DataFrame({"ean": ["e"], "quantity": [0]}),
            "purchase",
            True,
            {0: "must be at least 1"},
        ),
        (
            pd.DataFrame({"ean": ["e"], "quantity": [2**63]}),
            "purchase",
            True,
            {0: "integer out of range (signed 64 bits)"},
        ),
    ],
)
def test_a_column_whose_every_value_is_invalid_gives_invalid_rows(df, kind, product, bad) -> None:
    got, invalid = encoded(df, kind, product)
    assert got == [] and invalid == bad


def test_an_optional_number_missing_everywhere_is_left_out() -> None:
    geo = pd.DataFrame({"visitor_code": ["v"], "country": ["F"], "latitude": [np.nan]})
    got, bad = encoded(geo, "geolocation")
    assert not bad and "latitude" not in got[0]
    page = pd.DataFrame({"ean": ["e"], "price": [np.nan]})
    got, bad = encoded(page, "product_page", product=True)
    assert not bad and got[0] == {"eventType": "productPage", "ean": "e", "nonce": got[0]["nonce"]}


def test_integers_are_signed_64_bit_and_exact() -> None:
    df = pd.DataFrame(
        {
            "visitor_code": [f"v{i}" for i in range(7)],
            "goal_id": [
                2**63 - 1,
                -(2**63),
                "9223372036854775807",
                "9223372036854775808",
                2.0**63,
                9007199254740993,
                "42.0",
            ],
        }
    )
    got, bad = encoded(df, "conversion")
    assert sorted(bad) == [3, 4] and set(bad.values()) == {"integer out of range (signed 64 bits)"}
    assert [p["goalId"] for p in got] == [
        str(2**63 - 1),
        str(-(2**63)),
        str(2**63 - 1),
        "9007199254740993",
        "42",
    ]
    exact = pd.DataFrame({"visitor_code": ["a", "b"], "goal_id": [2**63 - 1, -(2**63)]})
    got, _ = encoded(exact, "conversion")  # an int64 column, written without a float on the way
    assert [p["goalId"] for p in got] == [str(2**63 - 1), str(-(2**63))]


def test_numbers_as_text_are_numbers_other_texts_are_not() -> None:
    df = conversions(revenue=["19.90", " 5 ", "1e400", "nan", "n/a", True, "0x10"])
    got, bad = encoded(df, "conversion")
    assert [p["revenue"] for p in got] == ["19.9", "5.0"]
    assert bad == {
        2: "not a finite number",
        3: "not a number",
        4: "not a number",
        5: "not a number",
        6: "not a number",
    }


def test_product_attribute_names_that_collide_or_are_the_envelope() -> None:
    df = pd.DataFrame({"ean": ["e"], "image_url": ["a"], "imageURL": ["b"]})
    with pytest.raises(ValidationError, match="'image_url' and 'imageURL'"):
        plan_product_events(df, "product_page", site_code="s")
    odd = pd.DataFrame({"ean": ["e"], "a&b=c": ["x"], "event_type": ["y"], "visitor_code": ["v"]})
    plan = plan_product_events(odd, "product_page", site_code="s")
    (line,) = next(plan.batches()).body.decode().split()
    params = dict(parse_qsl(line))
    assert params["a&b=c"] == "x" and params["eventType"] == "productPage"
    assert "visitorCode" not in params
    assert [label for label, _ in plan.unsent()] == ["event_type", "visitor_code"]


def test_push_maps_refuses_two_columns_of_one_field_name() -> None:
    df = pd.DataFrame({"key": ["k"], 1: ["a"], "1": ["b"]})
    with pytest.raises(ValidationError, match="columns 1 and '1' would both be the map field '1'"):
        encode.map_records(df, "key")
    deep = pd.DataFrame(
        {"key": ["a", "b", "c"], "v": [nest(MAX_JSON_DEPTH), nest(MAX_JSON_DEPTH + 1), "t\ud800"]}
    )
    keys, records, _, problems = encode.map_records(deep, "key")
    assert keys == ["a"] and records == [{"v": nest(64)}]
    assert problems.frame(deep.index)["index"].tolist() == [1, 2]
