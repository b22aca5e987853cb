"""/map/map, GET /map/maps and POST /map/maps over HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from kameleoon_pandas.emulator import model

from .helpers import error_of


def post_maps(http: httpx.Client, site: str, data: dict, **query: str) -> httpx.Response:
    return http.post("/map/maps", params={"siteCode": site, **query}, json=data)


def get_map(http: httpx.Client, site: str, key: str) -> dict:
    response = http.get("/map/map", params={"siteCode": site, "key": key})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def test_post_merges_fields_null_deletes_and_empty_deletes_the_key(
    http: httpx.Client, site: str
) -> None:
    data = {"u1": {"warehouseAudiences": {"801": True}, "ltv": 10.5, "tags": ["a"]}, "u2": {"x": 1}}
    assert post_maps(http, site, data).status_code == 204
    assert get_map(http, site, "u1") == data["u1"]
    assert post_maps(http, site, {"u1": {"ltv": None, "orders": 3}, "u2": {}}).status_code == 204
    assert get_map(http, site, "u1") == {
        "warehouseAudiences": {"801": True},
        "tags": ["a"],
        "orders": 3,
    }
    assert get_map(http, site, "u2") == {}  # deleted; [chosen] unknown key -> {}


def test_get_maps_leaves_unknown_keys_out(http: httpx.Client, site: str) -> None:
    post_maps(http, site, {"k1": {"a": 1}, "k2": {"b": 2}})
    response = http.get("/map/maps", params={"siteCode": site, "keys": '["k1", "k2", "nope"]'})
    assert response.status_code == 200
    assert response.json() == {"k1": {"a": 1}, "k2": {"b": 2}}


def test_maps_expire_ttl_hours_after_the_last_write(
    http: httpx.Client, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = {"now": 1_700_000_000_000}
    monkeypatch.setattr(model, "now_ms", lambda: clock["now"])
    post_maps(http, site, {"short": {"a": 1}}, ttlHours="1")
    post_maps(http, site, {"default": {"a": 1}})
    clock["now"] += 3_600_000 - 1
    assert get_map(http, site, "short") == {"a": 1}
    post_maps(http, site, {"short": {"b": 2}}, ttlHours="1")  # a write restarts the clock
    clock["now"] += 3_600_000 - 1
    assert get_map(http, site, "short") == {"a": 1, "b": 2}
    clock["now"] += 1
    assert get_map(http, site, "short") == {}
    clock["now"] = 1_700_000_000_000 + 2208 * 3_600_000 - 1  # 92 days by default
    assert get_map(http, site, "default") == {"a": 1}
    clock["now"] += 1
    assert get_map(http, site, "default") == {}
    post_maps(http, site, {"short": {"c": 3}})  # expired data is not merged into
    assert get_map(http, site, "short") == {"c": 3}


@pytest.mark.parametrize("ttl", ["0", "8785", "soon"])
def test_ttl_hours_out_of_range_is_a_400(http: httpx.Client, site: str, ttl: str) -> None:
    response = post_maps(http, site, {"k": {"a": 1}}, ttlHours=ttl)
    assert response.status_code == 400
    assert "'ttlHours'" in error_of(response)["message"]


def test_more_than_one_hundred_keys_is_a_400(http: httpx.Client, site: str) -> None:
    keys = json.dumps([f"k{i}" for i in range(101)])
    response = http.get("/map/maps", params={"siteCode": site, "keys": keys})
    assert response.status_code == 400
    assert "'keys'" in error_of(response)["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1, 2]", "JSON object"),
        (b'{"k": [1]}', "'k'"),
        (b"{bad json", "malformed"),
        (b"", "JSON object"),
        (b'{"k": {"a": NaN}}', "NaN"),  # not JSON: answering it back would break strict readers
    ],
)
def test_malformed_map_bodies_are_a_400(
    http: httpx.Client, site: str, body: bytes, message: str
) -> None:
    response = http.post("/map/maps", params={"siteCode": site}, content=body)
    assert response.status_code == 400
    assert message in error_of(response)["message"]


def test_map_queries_need_their_parameters(http: httpx.Client, site: str) -> None:
    missing_key = http.get("/map/map", params={"siteCode": site})
    assert missing_key.status_code == 400 and "'key'" in error_of(missing_key)["message"]
    missing_site = http.get("/map/map", params={"key": "k"})
    assert missing_site.status_code == 400 and "'siteCode'" in error_of(missing_site)["message"]


def test_maps_are_isolated_per_site(http: httpx.Client, site: str) -> None:
    post_maps(http, site, {"shared-key": {"owner": site}})
    assert get_map(http, site + "b", "shared-key") == {}
    assert get_map(http, site, "shared-key") == {"owner": site}
