"""The pure shaping functions: JSON answers -> typed frames (no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kameleoon_pandas.frames.feeds import feed_frame
from kameleoon_pandas.frames.maps import maps_frame
from kameleoon_pandas.frames.products import counters_frame, product_data_frame
from kameleoon_pandas.frames.schemas import (
    MAP_KEYS,
    PRODUCT_ATTRIBUTES,
    PRODUCT_COUNTERS,
    VISITOR_FEED,
)

T0 = 1_718_000_000_000


def ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def visit(code: str, start: int, **events) -> dict:
    return {"visitorCode": code, "timeStarted": start, "timeLastEvent": start + 9_000, **events}


def test_feed_rows_kinds_visits_and_order() -> None:
    current = visit(
        "v1",
        T0,
        pageEvents=[
            {
                "time": T0 + 500,
                "data": {"href": "https://a/1", "title": "One", "referrersIndices": [0, 2]},
            },
            {"time": T0 + 100, "data": {"href": "https://a/0"}},
        ],
        customDataEvents=[
            {
                "time": T0 + 300,
                "data": {"index": 3, "overwrite": False, "valuesCountMap": {"gold": 1, "x": 4}},
            }
        ],
        staticDataEvent={
            "time": T0 + 50,
            "data": {
                "deviceType": "TABLET",
                "browser": "FIREFOX",
                "browserVersion": 120.5,
                "os": "LINUX",
                "visitNumber": 3,
            },
        },
        conversionEvents=[
            {
                "time": T0 + 700,
                "data": {"goalId": 9, "revenue": 1.5, "negative": False, "metadata": {"k": 1}},
            }
        ],
    )
    previous = visit(
        "v1",
        T0 - 90_000_000,
        geolocationEvents=[
            {
                "time": T0 - 90_000_000,
                "data": {"country": "Italy", "latitude": 45.5, "postalCode": "20100"},
            }
        ],
        experimentEvents=[{"time": T0 - 89_000_000, "data": {"id": 5, "variationId": 6}}],
        personalizationEvents=[{"time": T0 - 88_000_000, "data": {"id": 7, "variationId": 8}}],
    )
    answers = [{}, {"currentVisit": current, "previousVisits": [previous]}]
    frame = feed_frame(answers, keys=["nobody", "v1"], site_code="s")

    assert dict(frame.dtypes.astype(str)) == dict(VISITOR_FEED)
    assert frame["kind"].tolist() == [
        "static_data",
        "page",
        "custom_data",
        "custom_data",
        "page",
        "conversion",
        "geolocation",
        "experiment",
        "personalization",
    ]
    assert frame["visit"].tolist() == [0] * 6 + [1] * 3
    assert frame["time"].tolist() == [ts(T0 + d) for d in (50, 100, 300, 300, 500, 700)] + [
        ts(T0 - 90_000_000),
        ts(T0 - 89_000_000),
        ts(T0 - 88_000_000),
    ]
    assert frame["visit_started"].iloc[0] == ts(T0)
    assert frame["visit_last_event"].iloc[-1] == ts(T0 - 90_000_000 + 9_000)
    row = frame.iloc[0]
    assert (row.device_type, row.browser, row.browser_version, row.os, row.visit_number) == (
        "TABLET",
        "FIREFOX",
        120.5,
        "LINUX",
        3,
    )
    customs = frame[frame["kind"] == "custom_data"]
    assert customs["value"].tolist() == ["gold", "x"] and customs["count"].tolist() == [1, 4]
    assert customs["custom_data_index"].tolist() == [3, 3]
    assert customs["overwrite"].tolist() == [False, False]
    assert frame.loc[4, "referrers_indices"] == [0, 2] and frame.loc[4, "title"] == "One"
    assert frame.loc[5, "metadata"] == {"k": 1} and frame.loc[5, "revenue"] == 1.5
    geo = frame.iloc[6]
    assert (geo.country, geo.latitude, geo.postal_code) == ("Italy", 45.5, "20100")
    assert pd.isna(geo.region)
    assert frame.loc[7, "experiment_id"] == 5 and frame.loc[8, "personalization_id"] == 7
    assert frame["variation_id"].tolist()[7:] == [6, 8]
    assert frame["site_code"].unique().tolist() == ["s"]


def test_feed_kinds_filter_and_mapping_value() -> None:
    answer = {
        "currentVisit": visit(
            "real-code",
            T0,
            pageEvents=[{"time": T0, "data": {"href": "h"}}],
            experimentEvents=[{"time": T0, "data": {"id": 1}}],
        )
    }
    frame = feed_frame([answer], keys=["crm-1"], site_code="s", kinds=["page"], by="mapping_value")
    assert frame["kind"].tolist() == ["page"]
    assert frame["visitor_code"].tolist() == ["real-code"]
    assert frame["mapping_value"].tolist() == ["crm-1"]
    assert frame.columns.tolist() == [*VISITOR_FEED, "mapping_value"]


def test_feed_of_nothing_is_an_empty_typed_frame() -> None:
    for answers, keys in (([], []), ([{}], ["a"]), ([{"currentVisit": {}}], ["a"])):
        frame = feed_frame(answers, keys=keys, site_code="s")
        assert frame.empty and dict(frame.dtypes.astype(str)) == dict(VISITOR_FEED)


def test_feed_of_100k_events_is_built_quickly_enough_to_be_vectorised() -> None:
    # 2,000 visitors x 50 events: a shape check at scale (timings are for the benchmark).
    events = [{"time": T0 + i, "data": {"href": f"https://a/{i}", "title": "t"}} for i in range(50)]
    answers = [{"currentVisit": visit(f"v{n}", T0, pageEvents=events)} for n in range(2_000)]
    frame = feed_frame(answers, keys=[f"v{n}" for n in range(2_000)], site_code="s")
    assert len(frame) == 100_000
    assert frame["visitor_code"].iloc[::50].tolist() == [f"v{n}" for n in range(2_000)]
    assert (frame["time"].iloc[:50] == [ts(T0 + i) for i in range(50)]).all()


def test_counters_frame_rows_per_ean_and_window() -> None:
    windows = [(T0, T0 + 3_600_000), (T0 + 3_600_000, T0 + 7_200_000)]
    answers = [
        {"b": {"v": 1, "atcq": 2, "bq": 3}, "a": {"v": 4, "atcq": 0, "bq": 0}},
        {"a": {"v": 5, "atcq": 6, "bq": 7}, "b": {"v": 0, "atcq": 0, "bq": 0}},
    ]
    frame, missing = counters_frame(answers, windows=windows, eans=["a", "b", "c"], site_code="s")
    assert missing == ["c"]
    assert dict(frame.dtypes.astype(str)) == dict(PRODUCT_COUNTERS)
    assert frame["ean"].tolist() == ["a", "a", "b", "b"]
    assert frame["window_start"].tolist() == [ts(T0), ts(T0 + 3_600_000)] * 2
    assert frame["window_end"].tolist() == [ts(T0 + 3_600_000), ts(T0 + 7_200_000)] * 2
    assert frame["views"].tolist() == [4, 5, 1, 0]
    assert frame["add_to_cart_quantity"].tolist() == [0, 6, 2, 0]
    assert frame["bought_quantity"].tolist() == [0, 7, 3, 0]
    empty, _ = counters_frame([{}], windows=windows[:1], eans=["a"], site_code="s")
    assert empty.empty and dict(empty.dtypes.astype(str)) == dict(PRODUCT_COUNTERS)


def test_product_data_declared_and_extra_attributes() -> None:
    answer = {
        "e2": {
            "name": "Two",
            "price": 3,
            "available": True,
            "availableQuantity": 5,
            "categories": [{"id": 1, "name": "C", "parent": None}],
            "imageURL": "u",
            "warrantyYears": 2,
            "madeIn": "FR",
        },
        "e1": {"name": "One", "oldPrice": 9.5, "tags": ["a", "b"]},
    }
    frame, missing = product_data_frame(answer, eans=["e1", "e2", "e3"], site_code="s")
    assert missing == ["e3"]
    declared = [column for column, _ in PRODUCT_ATTRIBUTES.values()]
    assert frame.columns.tolist() == ["site_code", "ean", *declared, "warranty_years", "made_in"]
    assert frame["ean"].tolist() == ["e1", "e2"]
    assert frame["price"].tolist()[1] == 3.0 and np.isnan(frame["price"].tolist()[0])
    assert str(frame["price"].dtype) == "float64"
    assert str(frame["available_quantity"].dtype) == "Int64"
    assert frame["tags"].tolist() == [["a", "b"], None]
    assert frame["categories"].tolist()[1] == [{"id": 1, "name": "C", "parent": None}]
    assert frame["image_url"].tolist()[1] == "u"
    assert str(frame["warranty_years"].dtype) == "Int64"
    assert str(frame["made_in"].dtype) == "string"
    empty, missing = product_data_frame({}, eans=["x"], site_code="s")
    assert empty.empty and missing == ["x"]
    assert empty.columns.tolist() == ["site_code", "ean", *declared]


def test_maps_frame_fields_in_first_seen_order() -> None:
    answer = {"k1": {"b": 1.5, "nested": {"x": [1]}}, "k2": {"a": True, "b": 2}}
    frame, missing = maps_frame(answer, keys=["k2", "k1", "k3"], site_code="s")
    assert missing == ["k3"]
    assert frame.columns.tolist() == ["site_code", "key", "a", "b", "nested"]
    assert frame["key"].tolist() == ["k2", "k1"]
    assert str(frame["a"].dtype) == "boolean" and str(frame["b"].dtype) == "float64"
    assert frame["nested"].tolist() == [None, {"x": [1]}]
    empty, _ = maps_frame({}, keys=[], site_code="s")
    assert dict(empty.dtypes.astype(str)) == dict(MAP_KEYS)


def test_a_value_that_does_not_fit_its_dtype_keeps_the_column_as_objects() -> None:
    frame, _ = product_data_frame({"e": {"price": "n/a"}}, eans=["e"], site_code="s")
    assert frame["price"].tolist() == ["n/a"]


@pytest.mark.parametrize("kinds", [["page"], ["static_data"], ["custom_data", "conversion"]])
def test_feed_only_has_the_asked_kinds(kinds) -> None:
    answer = {
        "currentVisit": visit(
            "v",
            T0,
            pageEvents=[{"time": T0, "data": {"href": "h"}}],
            staticDataEvent={"time": T0, "data": {"os": "MAC"}},
            customDataEvents=[{"time": T0, "data": {"index": 1, "valuesCountMap": {"a": 1}}}],
            conversionEvents=[{"time": T0, "data": {"goalId": 1}}],
        )
    }
    frame = feed_frame([answer], keys=["v"], site_code="s", kinds=kinds)
    assert set(frame["kind"]) == set(kinds)


def test_field_names_that_clash_with_columns_never_overwrite_each_other() -> None:
    answer = {"k": {"key_": 1, "key": 2, "site_code": 3, "site_code_": 4}}
    frame, _ = maps_frame(answer, keys=["k"], site_code="s")
    assert frame.columns.is_unique
    row = frame.iloc[0]
    assert (row["site_code"], row["key"]) == ("s", "k")
    # every field value is still there, under its own column
    fields = frame.drop(columns=["site_code", "key"]).iloc[0]
    assert sorted(fields.tolist()) == [1, 2, 3, 4]
