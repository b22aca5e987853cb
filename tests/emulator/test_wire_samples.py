"""Every request recorded from the official Python and JavaScript SDKs is accepted unchanged,
over real HTTP, and what they sent reads back in the feed."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from kameleoon_pandas.emulator import serve
from kameleoon_pandas.emulator.wire import parse_line


@pytest.fixture(scope="module")
def recorded(data_dir: Path) -> dict:
    return json.loads((data_dir / "wire" / "official-python-sdk-3.22.2.json").read_text())


def test_the_recorded_sdk_requests_are_accepted_and_their_events_read_back(recorded: dict) -> None:
    # The recording used credentials cid/csecret and was handed the token "tok-123": give the
    # emulator the same, then replay every request byte for byte, with require_auth on.
    with serve(client_id="cid", client_secret="csecret", require_auth=True) as srv:
        srv.state.issue_token(3600, value="tok-123")
        answers = []
        with httpx.Client(base_url=srv.url) as http:
            for request in recorded["requests"]:
                response = http.request(
                    request["method"],
                    request["path"],
                    params=request["query"],
                    headers=request["headers"],
                    content=request["body"].encode(),
                )
                assert response.status_code in (200, 204), (request["path"], response.text)
                answers.append(response)
            assert srv.state.rejected_lines() == []

            token = answers[0].json()
            assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
            assert answers[1].json() == {}  # the map of an unknown key

            feed = answers[-1].json()  # the SDK's own read: staticData and customData only
            visit = feed["currentVisit"]
            assert visit["visitorCode"] == "sdkvisitor000001"
            assert visit["staticDataEvent"]["data"] == {
                "deviceType": "DESKTOP",
                "browser": "CHROME",
                "browserVersion": 125.0,
            }
            assert visit["customDataEvents"][0]["data"] == {
                "index": 3,
                "valuesCountMap": {"gold": 1},
                "overwrite": True,
            }
            assert "pageEvents" not in visit and "previousVisits" not in feed

            everything = http.get(
                "/visit/visitor",
                params={
                    "siteCode": "abc123site",
                    "visitorCode": "sdkvisitor000001",
                    "currentVisit": "true",
                    "all": "true",
                },
                headers={"Authorization": "Bearer tok-123"},
            ).json()["currentVisit"]
            assert everything["pageEvents"][0]["data"] == {
                "href": "https://shop.example/cart",
                "title": "Cart",
                "referrersIndices": [],  # always there (data-api.md 3.1)
            }
            assert [c["data"]["goalId"] for c in everything["conversionEvents"]] == [4321, 99]
            assert everything["conversionEvents"][0]["data"]["revenue"] == 59.9
            assert everything["geolocationEvents"][0]["data"] == {
                "country": "France",
                "region": "Ile-de-France",
                "city": "Paris",
            }
            # The activity event kept the visit alive without showing up as a kind.
            assert everything["timeLastEvent"] >= everything["conversionEvents"][-1]["time"]

            # Replaying the event bodies (an SDK retry) stores nothing twice.
            for request in recorded["requests"][2:4]:
                http.post(
                    request["path"],
                    params=request["query"],
                    headers=request["headers"],
                    content=request["body"].encode(),
                )
            again = http.get(
                "/visit/visitor",
                params={
                    "siteCode": "abc123site",
                    "visitorCode": "sdkvisitor000001",
                    "currentVisit": "true",
                },
                headers={"Authorization": "Bearer tok-123"},
            ).json()["currentVisit"]
            assert len(again["conversionEvents"]) == 2


JS_SITE = "jssite0001"


@pytest.fixture(scope="module")
def recorded_js(data_dir: Path) -> dict:
    return json.loads((data_dir / "wire" / "official-javascript-sdk-4.17.1.json").read_text())


def _feed(http: httpx.Client, visitor: str) -> dict:
    params = {"siteCode": JS_SITE, "visitorCode": visitor, "currentVisit": "true", "all": "true"}
    return http.get("/visit/visitor", params=params).json()["currentVisit"]


def test_the_recorded_javascript_sdk_requests_are_accepted_and_read_back(
    recorded_js: dict,
) -> None:
    requests = recorded_js["requests"]
    # As the recording's "about" says: pyvisitor0000003 was first written the way the official
    # Python SDK writes static data (browserIndex=1 only), then read back by the JavaScript SDK.
    python_way = "eventType=staticData&browserIndex=1&nonce=00000000000000B1"
    with serve() as srv, httpx.Client(base_url=srv.url) as http:
        first = http.post(
            "/visit/events",
            params={"siteCode": JS_SITE, "visitorCode": "pyvisitor0000003"},
            content=python_way,
        )
        assert first.status_code == 204
        answers = []
        for request in requests:  # no token: this SDK never calls /oauth/token
            response = http.request(
                request["method"],
                request["path"],
                params=request["query"],
                headers=request["headers"],
                content=request["body"].encode(),
            )
            assert response.status_code in (200, 204), (request["path"], response.text)
            answers.append(response)

        # The SDK read back what the Python SDK wrote: the index named as Python reads it.
        read_back = answers[8].json()["currentVisit"]["staticDataEvent"]["data"]
        assert read_back == {"browser": "INTERNET_EXPLORER"}

        # Only the two lines with browserIndex=undefined were refused, recorded, not stored.
        last_body = requests[-1]["body"].split("\n")
        rejected = srv.state.rejected_lines(JS_SITE)
        assert [(r["line"], r["field"], r["text"]) for r in rejected] == [
            (1, "browserIndex", last_body[0]),
            (4, "browserIndex", last_body[3]),
        ]
        assert all("undefined" in r["text"] for r in rejected)

        # Every other line is stored once, under its visitor and nonce.
        refused = {r["text"] for r in rejected}
        sent: dict[str, set[str]] = {}
        for request in requests:
            if request["method"] == "POST":
                for text in request["body"].split("\n"):
                    if text and text not in refused:
                        params = parse_line(text)
                        sent.setdefault(params["visitorCode"], set()).add(params["nonce"])
        assert set(sent) == {"jsvisitor0000001", "jsvisitor0000002", "pyvisitor0000003"}
        for visitor, nonces in sent.items():
            stored = [
                parse_line(row[4])["nonce"] for row in srv.state.visitor_events(JS_SITE, [visitor])
            ]
            assert sorted(n for n in stored if n != "00000000000000B1") == sorted(nonces), visitor

        one = _feed(http, "jsvisitor0000001")
        assert [c["data"]["goalId"] for c in one["conversionEvents"]] == [99, 4321]
        assert [c["data"]["revenue"] for c in one["conversionEvents"]] == [10.5, 59.9]
        assert [c["data"] for c in one["pageEvents"]] == [
            {"href": "https://shop.example/cart", "title": "Cart", "referrersIndices": []}
        ]
        assert len(one["customDataEvents"]) == 2  # two events, two nonces
        assert one["customDataEvents"][0]["data"] == {
            "index": 3,
            "valuesCountMap": {"gold": 1},
            "overwrite": True,
        }
        assert one["geolocationEvents"][0]["data"] == {
            "country": "France",
            "region": "Ile-de-France",
            "city": "Paris",
        }
        assert one["staticDataEvent"]["data"] == {
            "deviceType": "DESKTOP",
            "browser": "CHROME",
            "browserVersion": 125.0,
            "visitNumber": 0,
            "timeSincePreviousVisit": 0,
        }

        two = _feed(http, "jsvisitor0000002")
        assert two["conversionEvents"][0]["data"] == {
            "goalId": 7,
            "revenue": 1.0,
            "negative": False,
            "metadata": {"5": ["promo"]},
        }
        assert two["customDataEvents"][0]["data"] == {
            "index": 4,
            "valuesCountMap": {"a b&c": 1, "\u00e9": 1},
            "overwrite": False,
        }
        assert two["pageEvents"][0]["data"] == {
            "href": "https://shop.example/p?id=1&x=2",
            "title": "Prod & Co",
            "referrersIndices": [1, 2],
        }
        assert two["geolocationEvents"][0]["data"] == {"country": "Germany", "region": "Bayern"}
        # A static data event that names its browser keeps that name (IE, as this SDK sends).
        assert two["staticDataEvent"]["data"] == {
            "deviceType": "PHONE",
            "browser": "IE",
            "browserVersion": 11.0,
            "os": "WINDOWS",
            "visitNumber": 0,
            "timeSincePreviousVisit": 0,
        }

        three = _feed(http, "pyvisitor0000003")
        assert three["staticDataEvent"]["data"] == {
            "browser": "INTERNET_EXPLORER",  # the index-only event, named the Python SDK's way
            "deviceType": "DESKTOP",
            "os": "WINDOWS",
        }
