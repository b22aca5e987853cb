"""POST /visit/events, GET /visit/visitor and POST /visit/forget over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from kameleoon_pandas.emulator import EmulatorServer, model

from .helpers import error_of, feed, line, nonce, post_events


def test_events_show_up_in_the_feed_in_order(http: httpx.Client, site: str) -> None:
    response = post_events(
        http,
        site,
        line(eventType="page", href="https://shop.example/a", title="Page A", visitorCode="v1"),
        line(eventType="conversion", goalId=7, revenue=19.5, visitorCode="v1"),
        line(eventType="page", href="https://shop.example/b", visitorCode="v1"),
    )
    assert response.status_code == 204
    assert response.content == b""
    visit = feed(http, site, visitorCode="v1")["currentVisit"]
    assert visit["visitorCode"] == "v1"
    assert [e["data"]["href"] for e in visit["pageEvents"]] == [
        "https://shop.example/a",
        "https://shop.example/b",
    ]
    assert visit["pageEvents"][0]["data"]["title"] == "Page A"
    assert visit["conversionEvents"][0]["data"] == {"goalId": 7, "revenue": 19.5, "negative": False}
    assert visit["timeStarted"] <= visit["timeLastEvent"]
    assert all(isinstance(e["time"], int) for e in visit["pageEvents"])


def test_free_order_spaces_case_and_trailing_line(http: httpx.Client, site: str) -> None:
    body = (
        f"title=Two+words&visitorCode=v2&href=https%3A%2F%2Fx.example&eventType=PAGE&nonce={nonce()}\n"
        f"eventType=Page&title=Three%20more%20words&href=y&visitorCode=v2&nonce={nonce()}\n"
    )
    assert http.post("/visit/events", params={"siteCode": site}, content=body).status_code == 204
    titles = [
        e["data"]["title"] for e in feed(http, site, visitorCode="v2")["currentVisit"]["pageEvents"]
    ]
    assert titles == ["Two words", "Three more words"]


def test_visitor_code_from_the_query_and_unknown_parameters(http: httpx.Client, site: str) -> None:
    response = post_events(
        http,
        site,
        f"eventType=activity&nonce={nonce()}",
        f"eventType=experiment&id=5&variationId=6&nonce={nonce()}&userAgent=Mozilla",
        visitorCode="fromquery",
        sdkName="PYTHON",
        sdkVersion="3.22.2",
        bodyUa="true",
    )
    assert response.status_code == 204
    visit = feed(http, site, visitorCode="fromquery")["currentVisit"]
    assert visit["experimentEvents"][0]["data"] == {"id": 5, "variationId": 6}


def test_json_body_is_the_same_events_with_typed_values(http: httpx.Client, site: str) -> None:
    events = [
        {
            "eventType": "CONVERSION",
            "nonce": nonce(),
            "visitorCode": "j1",
            "goalId": 3,
            "revenue": 2.5,
            "negative": True,
            "metadata": {"channel": "store"},
        },
        {
            "eventType": "geolocation",
            "nonce": nonce(),
            "visitorCode": "j1",
            "country": "France",
            "latitude": 48.85,
            "longitude": 2.35,
        },
    ]
    response = http.post("/visit/events", params={"siteCode": site, "json": "true"}, json=events)
    assert response.status_code == 204
    visit = feed(http, site, visitorCode="j1")["currentVisit"]
    assert visit["conversionEvents"][0]["data"] == {
        "goalId": 3,
        "revenue": 2.5,
        "negative": True,
        "metadata": {"channel": "store"},
    }
    assert visit["geolocationEvents"][0]["data"] == {
        "country": "France",
        "latitude": 48.85,
        "longitude": 2.35,
    }


def test_a_resent_nonce_is_stored_once(http: httpx.Client, site: str) -> None:
    repeated = line(eventType="conversion", goalId=1, revenue=10, visitorCode="d1")
    assert post_events(http, site, repeated, repeated).status_code == 204
    assert post_events(http, site, repeated.replace("nonce=", "nonce=").lower()).status_code == 204
    conversions = feed(http, site, visitorCode="d1")["currentVisit"]["conversionEvents"]
    assert len(conversions) == 1


def test_the_same_nonce_for_another_visitor_is_another_event(http: httpx.Client, site: str) -> None:
    shared = nonce()
    post_events(
        http,
        site,
        line(eventType="page", href="a", visitorCode="n1", nonce=shared),
        line(eventType="page", href="b", visitorCode="n2", nonce=shared),
    )
    assert len(feed(http, site, visitorCode="n1")["currentVisit"]["pageEvents"]) == 1
    assert len(feed(http, site, visitorCode="n2")["currentVisit"]["pageEvents"]) == 1


def test_visits_split_after_thirty_minutes(
    http: httpx.Client, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = {"now": 1_700_000_000_000}
    monkeypatch.setattr(model, "now_ms", lambda: clock["now"])
    post_events(http, site, line(eventType="page", href="first", visitorCode="s1"))
    clock["now"] += 29 * 60_000  # still the same visit
    post_events(http, site, line(eventType="page", href="second", visitorCode="s1"))
    clock["now"] += 31 * 60_000  # a new visit
    post_events(http, site, line(eventType="page", href="third", visitorCode="s1"))
    clock["now"] += 60_000
    post_events(http, site, line(eventType="page", href="fourth", visitorCode="s1"))
    clock["now"] += 2 * 3_600_000  # and a third one, still open
    post_events(http, site, line(eventType="page", href="fifth", visitorCode="s1"))

    answer = feed(http, site, visitorCode="s1")
    assert [e["data"]["href"] for e in answer["currentVisit"]["pageEvents"]] == ["fifth"]
    previous = answer["previousVisits"]  # newest first
    assert [[e["data"]["href"] for e in v["pageEvents"]] for v in previous] == [
        ["third", "fourth"],
        ["first", "second"],
    ]
    assert previous[1]["timeLastEvent"] - previous[1]["timeStarted"] == 29 * 60_000

    one = feed(http, site, visitorCode="s1", maxNumberPreviousVisits="1")
    assert len(one["previousVisits"]) == 1
    only_previous = feed(http, site, visitorCode="s1", currentVisit="false")
    assert "currentVisit" not in only_previous and len(only_previous["previousVisits"]) == 2

    clock["now"] += 31 * 60_000  # nothing open any more: every visit is a previous one
    closed = feed(http, site, visitorCode="s1")
    assert "currentVisit" not in closed
    assert len(closed["previousVisits"]) == 3


def test_kind_flags_select_what_comes_back(http: httpx.Client, site: str) -> None:
    post_events(
        http,
        site,
        line(eventType="page", href="p", visitorCode="k1"),
        line(eventType="conversion", goalId=9, visitorCode="k1"),
        line(eventType="staticData", deviceType="PHONE", visitorCode="k1"),
    )
    only_pages = feed(http, site, visitorCode="k1", page="true")["currentVisit"]
    assert "pageEvents" in only_pages and "conversionEvents" not in only_pages
    assert "staticDataEvent" not in only_pages
    both = feed(http, site, visitorCode="k1", conversion="true", staticData="true", page="false")
    assert set(both["currentVisit"]) == {
        "visitorCode",
        "timeStarted",
        "timeLastEvent",
        "conversionEvents",
        "staticDataEvent",
    }
    everything = feed(http, site, visitorCode="k1", all="true", page="false")["currentVisit"]
    assert {"pageEvents", "conversionEvents", "staticDataEvent"} <= set(everything)
    no_flags = feed(http, site, visitorCode="k1")["currentVisit"]  # [chosen] no flag = every kind
    assert {"pageEvents", "conversionEvents", "staticDataEvent"} <= set(no_flags)


def test_static_data_is_one_object_naming_browser_and_os(http: httpx.Client, site: str) -> None:
    post_events(
        http,
        site,
        line(eventType="staticData", deviceType="DESKTOP", visitorCode="b1"),
        line(
            eventType="staticData",
            browserIndex=2,
            browserVersion="125.0",
            osIndex=3,
            visitorCode="b1",
        ),
        line(eventType="staticData", visitNumber=4, visitorCode="b1"),
    )
    static = feed(http, site, visitorCode="b1", staticData="true")["currentVisit"][
        "staticDataEvent"
    ]
    assert isinstance(static, dict)
    assert static["data"] == {
        "deviceType": "DESKTOP",
        "browser": "FIREFOX",
        "browserVersion": 125.0,
        "os": "LINUX",
        "visitNumber": 4,
    }


def test_unknown_visitor_is_an_empty_object(http: httpx.Client, site: str) -> None:
    assert feed(http, site, visitorCode="nobody") == {}


def test_mapping_value_links_visitors_across_devices(http: httpx.Client, site: str) -> None:
    link = json.dumps({"crm-77": 1})
    post_events(
        http,
        site,
        line(
            eventType="customData",
            index=1,
            valuesCountMap=link,
            mappingIdentifier="true",
            visitorCode="phone",
        ),
        line(eventType="page", href="on-phone", visitorCode="phone"),
    )
    post_events(
        http,
        site,
        line(
            eventType="customData",
            index=1,
            valuesCountMap=link,
            mappingIdentifier="true",
            visitorCode="laptop",
        ),
        line(eventType="page", href="on-laptop", visitorCode="laptop"),
        # Sent with the mapping value only: stored under the linked visitor.
        line(eventType="conversion", goalId=5, mappingValue="crm-77"),
    )
    answer = feed(http, site, mappingValue="crm-77", page="true", conversion="true")
    visits = [answer["currentVisit"], *answer.get("previousVisits", [])]
    hrefs = sorted(e["data"]["href"] for v in visits for e in v.get("pageEvents", []))
    assert hrefs == ["on-laptop", "on-phone"]
    assert sum(len(v.get("conversionEvents", [])) for v in visits) == 1
    assert {v["visitorCode"] for v in visits} == {"phone", "laptop"}


def test_forget_deletes_everything_of_those_visitors(http: httpx.Client, site: str) -> None:
    for code in ("f1", "f2", "keep"):
        post_events(http, site, line(eventType="page", href="x", visitorCode=code))
    post_events(
        http,
        site,
        line(
            eventType="customData",
            index=1,
            valuesCountMap='{"crm-f": 1}',
            mappingIdentifier="true",
            visitorCode="f1",
        ),
    )
    response = http.post("/visit/forget", params={"siteCode": site}, content="f1\nf2\n\n")
    assert response.status_code == 204
    assert feed(http, site, visitorCode="f1") == {}
    assert feed(http, site, visitorCode="f2") == {}
    assert feed(http, site, mappingValue="crm-f") == {}
    assert feed(http, site, visitorCode="keep") != {}


def test_forget_refuses_an_overlong_code_naming_the_line(http: httpx.Client, site: str) -> None:
    response = http.post("/visit/forget", params={"siteCode": site}, content="ok\n" + "x" * 101)
    assert response.status_code == 400
    assert "line 2" in error_of(response)["message"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "visitorCode"),
        ({"visitorCode": "v", "maxNumberPreviousVisits": "26"}, "maxNumberPreviousVisits"),
        ({"visitorCode": "v", "maxNumberPreviousVisits": "two"}, "maxNumberPreviousVisits"),
        ({"visitorCode": "v", "currentVisit": "yes"}, "currentVisit"),
        ({"visitorCode": "v", "page": "1"}, "page"),
    ],
)
def test_malformed_feed_queries_name_the_parameter(
    http: httpx.Client, site: str, params: dict, named: str
) -> None:
    response = http.get("/visit/visitor", params={"siteCode": site, **params})
    assert response.status_code == 400
    body = error_of(response)
    assert body["error"] == "invalid_parameter"
    assert repr(named) in body["message"]


def test_site_codes_are_isolated(http: httpx.Client, site: str) -> None:
    post_events(http, site, line(eventType="page", href="mine", visitorCode="iso"))
    assert feed(http, site + "x", visitorCode="iso") == {}
    http.post("/visit/forget", params={"siteCode": site + "x"}, content="iso")
    assert feed(http, site, visitorCode="iso") != {}


def test_pretty_print(http: httpx.Client, site: str) -> None:
    post_events(http, site, line(eventType="page", href="p", visitorCode="pp"))
    response = http.get(
        "/visit/visitor",
        params={
            "siteCode": site,
            "visitorCode": "pp",
            "currentVisit": "true",
            "prettyPrint": "true",
        },
    )
    assert response.text.startswith("{\n  ")


def test_the_server_answers_its_own_env(emu: EmulatorServer) -> None:
    env = emu.env()
    assert env["KAMELEOON_BASE_URL"] == emu.url
    assert env["KAMELEOON_TOKEN_URL"] == emu.url + "/oauth/token"
    assert env["KAMELEOON_SITE_CODE"] == emu.site_codes[0]
    assert env["KAMELEOON_SITE_CODES"].split(",") == emu.site_codes
    assert emu.url.startswith("http://127.0.0.1:")
    assert "demo-secret" not in repr(emu) + repr(emu.options)


def test_forget_takes_each_code_exactly_as_written(http: httpx.Client, site: str) -> None:
    codes = ["abc", " abc ", "x", "x\x85", "tab\t", "crlf"]
    for code in codes:
        post_events(http, site, line(eventType="page", href="x", visitorCode=code))
    # Only the line break goes: \n, or the \r\n of crlf. " abc " is not abc, x\x85 is not x.
    body = " abc \nx\x85\ntab\t\ncrlf\r\n"
    assert http.post("/visit/forget", params={"siteCode": site}, content=body).status_code == 204
    left = {code for code in codes if feed(http, site, visitorCode=code)}
    assert left == {"abc", "x"}


def test_page_events_always_carry_referrers_indices(http: httpx.Client, site: str) -> None:
    post_events(
        http,
        site,
        line(eventType="page", href="none", visitorCode="ri"),
        line(eventType="page", href="some", referrersIndices="[3, 1]", visitorCode="ri"),
    )
    events = [
        {"eventType": "page", "nonce": nonce(), "visitorCode": "ri", "href": "json"},
        {"eventType": "page", "nonce": nonce(), "visitorCode": "ri", "href": "json2",
         "referrersIndices": [2]},
    ]  # fmt: skip
    http.post("/visit/events", params={"siteCode": site, "json": "true"}, json=events)
    pages = feed(http, site, visitorCode="ri", page="true")["currentVisit"]["pageEvents"]
    assert [(p["data"]["href"], p["data"]["referrersIndices"]) for p in pages] == [
        ("none", []),
        ("some", [3, 1]),
        ("json", []),
        ("json2", [2]),
    ]


def test_mapping_identifier_is_kept_on_the_events_that_carried_it(
    http: httpx.Client, site: str
) -> None:
    post_events(
        http,
        site,
        line(
            eventType="customData",
            index=1,
            valuesCountMap='{"crm-mi": 1}',
            mappingIdentifier="true",
            visitorCode="mi",
        ),
        line(eventType="customData", index=2, valuesCountMap='{"plain": 1}', visitorCode="mi"),
        line(
            eventType="customData",
            index=3,
            valuesCountMap='{"off": 1}',
            mappingIdentifier="false",
            visitorCode="mi",
        ),
    )
    events = feed(http, site, visitorCode="mi")["currentVisit"]["customDataEvents"]
    assert [e["data"] for e in events] == [
        {"index": 1, "valuesCountMap": {"crm-mi": 1}, "overwrite": True, "mappingIdentifier": True},
        {"index": 2, "valuesCountMap": {"plain": 1}, "overwrite": True},
        {"index": 3, "valuesCountMap": {"off": 1}, "overwrite": True},
    ]
    # and the link works (the JavaScript SDK reads the visitor back by its mapping value)
    assert feed(http, site, mappingValue="crm-mi")["currentVisit"]["visitorCode"] == "mi"


def test_browser_names_follow_the_contract(http: httpx.Client, site: str) -> None:
    post_events(
        http,
        site,
        # Only the index, as the official Python SDK sends: the Python SDK's name.
        line(eventType="staticData", browserIndex=1, visitorCode="py"),
        # A name with the index, as the official JavaScript SDK sends: that name is kept.
        line(eventType="staticData", browser="IE", browserIndex=1, visitorCode="js"),
        # Both in one visit: each event is named on its own, the later one wins.
        line(eventType="staticData", browser="IE", browserIndex=1, visitorCode="both"),
        line(eventType="staticData", browserIndex=0, osIndex=4, visitorCode="both"),
    )

    def browser(code: str) -> dict:
        return feed(http, site, visitorCode=code)["currentVisit"]["staticDataEvent"]["data"]

    assert browser("py") == {"browser": "INTERNET_EXPLORER"}
    assert browser("js") == {"browser": "IE"}
    assert browser("both") == {"browser": "CHROME", "os": "ANDROID"}
