"""POST /product/events, GET /product/productCounters and /product/productData over HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from kameleoon_pandas.emulator import model

from .helpers import error_of, line, nonce


def post_products(http: httpx.Client, site: str, *lines: str, **query: str) -> httpx.Response:
    return http.post(
        "/product/events", params={"siteCode": site, **query}, content="\n".join(lines)
    )


def counters(http: httpx.Client, site: str, eans: list[str], **query: int) -> dict:
    params = {"siteCode": site, "eans": json.dumps(eans), **{k: str(v) for k, v in query.items()}}
    response = http.get("/product/productCounters", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_counters_count_views_cart_and_bought_quantities(http: httpx.Client, site: str) -> None:
    response = post_products(
        http,
        site,
        line(eventType="productPage", ean="E1"),
        line(eventType="productPage", ean="E1"),
        line(eventType="PRODUCTADDTOCART", ean="E1", quantity=3),
        line(eventType="productAddToCart", ean="E1"),
        line(eventType="productBuy", ean="E1", quantity=2),
        "eventType=productPage&ean=E2",  # the browser engine omits the nonce
        "eventType=productPage&ean=E2",
    )
    assert response.status_code == 204
    assert counters(http, site, ["E1", "E2", "E3"]) == {
        "E1": {"v": 2, "atcq": 4, "bq": 2},
        "E2": {"v": 2, "atcq": 0, "bq": 0},
        "E3": {"v": 0, "atcq": 0, "bq": 0},  # [chosen] unknown EANs answer zeros
    }


def test_ean_from_the_query_and_json_body(http: httpx.Client, site: str) -> None:
    events = [
        {"eventType": "productBuy", "nonce": nonce(), "quantity": 5},
        {"eventType": "productPage"},
    ]
    response = http.post(
        "/product/events", params={"siteCode": site, "ean": "Q1", "json": "true"}, json=events
    )
    assert response.status_code == 204
    assert counters(http, site, ["Q1"])["Q1"] == {"v": 1, "atcq": 0, "bq": 5}


def test_resent_product_nonces_count_once(http: httpx.Client, site: str) -> None:
    buy = line(eventType="productBuy", ean="N1", quantity=2)
    page = line(eventType="productPage", ean="N1", name="First")
    post_products(http, site, buy, page)
    post_products(http, site, buy, page.replace("First", "Changed"))
    assert counters(http, site, ["N1"])["N1"] == {"v": 1, "atcq": 0, "bq": 2}
    data = http.get("/product/productData", params={"siteCode": site, "eans": '["N1"]'}).json()
    assert data["N1"]["name"] == "First"  # a retried event changes nothing


def test_counter_window_includes_begin_and_excludes_end(
    http: httpx.Client, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = {"now": 1_700_000_000_000}
    monkeypatch.setattr(model, "now_ms", lambda: clock["now"])
    post_products(http, site, line(eventType="productPage", ean="W"))
    clock["now"] += 1_000
    post_products(http, site, line(eventType="productBuy", ean="W"))
    t0 = 1_700_000_000_000
    assert counters(http, site, ["W"], timeBegin=t0, timeEnd=t0 + 1_000)["W"] == {
        "v": 1,
        "atcq": 0,
        "bq": 0,
    }
    assert counters(http, site, ["W"], timeBegin=t0 + 1, timeEnd=t0 + 1_001)["W"] == {
        "v": 0,
        "atcq": 0,
        "bq": 1,
    }
    assert counters(http, site, ["W"], timeBegin=t0, timeEnd=t0 + 1_001)["W"]["v"] == 1
    assert counters(http, site, ["W"])["W"] == {"v": 1, "atcq": 0, "bq": 1}  # all time


def test_product_page_merges_attributes(http: httpx.Client, site: str) -> None:
    categories = json.dumps([{"id": 1, "name": "Shoes", "parent": None}])
    post_products(
        http,
        site,
        line(
            eventType="productPage",
            ean="A1",
            name="Trail Runner",
            price="89.90",
            categories=categories,
        ),
        line(eventType="productPage", ean="A1", price="79.90", available="true", color="blue"),
    )
    response = http.get(
        "/product/productData",
        params={"siteCode": site, "eans": '["A1", "missing"]', "all": "true"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "A1": {
            "name": "Trail Runner",
            "price": 79.9,
            "available": True,
            "color": "blue",
            "categories": [{"id": 1, "name": "Shoes", "parent": None}],
        }
    }


@pytest.mark.parametrize("path", ["/product/productCounters", "/product/productData"])
def test_more_than_one_hundred_eans_is_a_400(http: httpx.Client, site: str, path: str) -> None:
    eans = json.dumps([f"E{i}" for i in range(101)])
    response = http.get(path, params={"siteCode": site, "eans": eans})
    assert response.status_code == 400
    assert "'eans'" in error_of(response)["message"]
    ok = http.get(
        path, params={"siteCode": site, "eans": json.dumps([f"E{i}" for i in range(100)])}
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"eans": "E1"}, "eans"),
        ({}, "eans"),
        ({"eans": "[true]"}, "eans"),  # was read as the EAN "True"
        ({"eans": '["E1"]', "timeBegin": "yesterday"}, "timeBegin"),
        ({"eans": '["E1"]', "timeBegin": "10", "timeEnd": "5"}, "timeEnd"),
    ],
)
def test_malformed_counter_queries_name_the_parameter(
    http: httpx.Client, site: str, params: dict, named: str
) -> None:
    response = http.get("/product/productCounters", params={"siteCode": site, **params})
    assert response.status_code == 400
    assert repr(named) in error_of(response)["message"]


def test_bad_product_lines_are_dropped_and_recorded(http, emu, site: str) -> None:
    response = post_products(
        http,
        site,
        line(eventType="productBuy", ean="B1", quantity=0),
        line(eventType="productView", ean="B1"),
        line(eventType="productBuy", ean="B1"),
    )
    assert response.status_code == 204
    assert counters(http, site, ["B1"])["B1"]["bq"] == 1
    rejected = emu.state.rejected_lines(site)
    assert [(r["path"], r["line"], r["field"]) for r in rejected] == [
        ("/product/events", 1, "quantity"),
        ("/product/events", 2, "eventType"),
    ]
