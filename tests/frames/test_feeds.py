"""frames.feeds: visitor feed answers -> the long, typed feed frame (no I/O)."""

from __future__ import annotations

import pandas as pd
import pytest

from kameleoon_pandas.frames.feeds import feed_frame
from kameleoon_pandas.frames.schemas import VISITOR_FEED

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
