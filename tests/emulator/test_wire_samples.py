"""Every request recorded from the official Python SDK is accepted unchanged, over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from kameleoon_pandas.emulator import serve


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
