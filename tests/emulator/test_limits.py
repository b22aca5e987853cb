"""Body limits, strict mode and the record of rejected lines, over HTTP."""

from __future__ import annotations

import httpx
import pytest

from kameleoon_pandas.emulator import EmulatorServer

from .helpers import error_of, feed, line, nonce, post_events


@pytest.mark.parametrize("path", ["/visit/events", "/product/events"])
def test_event_bodies_above_the_limit_are_a_413(
    http: httpx.Client, emu: EmulatorServer, site: str, path: str
) -> None:
    emu.options.max_event_body = 1_000
    body = "\n".join(line(eventType="activity", visitorCode=f"big{i}") for i in range(40))
    assert len(body) > 1_000
    response = http.post(path, params={"siteCode": site}, content=body)
    assert response.status_code == 413
    assert "1000" in error_of(response)["message"]
    assert feed(http, site, visitorCode="big0") == {}


def test_the_default_event_limit_is_three_megabytes(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    assert emu.options.max_event_body == 3_000_000
    response = http.post("/visit/events", params={"siteCode": site}, content=b"x" * 3_000_001)
    assert response.status_code == 413


def test_a_streamed_body_without_length_is_cut_at_the_limit(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    emu.options.max_small_body = 100

    def chunks():
        for _ in range(10):
            yield b"visitor-code\n" * 5

    response = http.post("/visit/forget", params={"siteCode": site}, content=chunks())
    assert response.status_code == 413


@pytest.mark.parametrize("path", ["/visit/forget", "/map/maps"])
def test_small_bodies_above_one_megabyte_are_a_413(
    http: httpx.Client, emu: EmulatorServer, site: str, path: str
) -> None:
    response = http.post(path, params={"siteCode": site}, content=b"a" * 1_000_001)
    assert response.status_code == 413
    assert error_of(response)["error"] == "payload_too_large"


def test_bad_lines_are_dropped_and_recorded(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    response = post_events(
        http,
        site,
        line(eventType="page", href="good", visitorCode="r1"),
        line(eventType="conversion", goalId="abc", visitorCode="r1"),
        "eventType=page&href=no-nonce&visitorCode=r1",
        line(eventType="page", href="also-good", visitorCode="r1"),
    )
    assert response.status_code == 204  # as the real service: validated after answering
    pages = feed(http, site, visitorCode="r1")["currentVisit"]["pageEvents"]
    assert [p["data"]["href"] for p in pages] == ["good", "also-good"]
    rejected = emu.state.rejected_lines(site_code=site)
    assert [(r["site_code"], r["path"], r["line"], r["field"]) for r in rejected] == [
        (site, "/visit/events", 2, "goalId"),
        (site, "/visit/events", 3, "nonce"),
    ]
    assert "invalid value" in rejected[0]["reason"]
    assert rejected[1]["text"] == "eventType=page&href=no-nonce&visitorCode=r1"
    assert all(r["site_code"] == site for r in emu.state.rejected_lines(site))
    assert len(emu.state.rejected_lines()) >= 2


def test_strict_mode_refuses_the_body_naming_line_and_field(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    emu.options.strict = True
    response = post_events(
        http,
        site,
        line(eventType="page", href="good", visitorCode="st"),
        line(eventType="page", href="fine", visitorCode="st"),
        line(eventType="geolocation", city="Paris", visitorCode="st"),
    )
    assert response.status_code == 400
    body = error_of(response)
    assert body["error"] == "invalid_event"
    assert "line 3" in body["message"] and "'country'" in body["message"]
    assert feed(http, site, visitorCode="st") == {}  # nothing stored
    assert emu.state.rejected_lines(site)[0]["line"] == 3


def test_strict_json_body_names_the_array_position(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    emu.options.strict = True
    events = [
        {"eventType": "page", "nonce": "00000000000000F1", "visitorCode": "sj", "href": "x"},
        "oops",
    ]
    response = http.post("/visit/events", params={"siteCode": site, "json": "true"}, json=events)
    assert response.status_code == 400
    assert "line 2" in error_of(response)["message"]


@pytest.mark.parametrize(
    ("content", "query", "message"),
    [
        (b"\xff", {}, "UTF-8"),
        (b"[{]", {"json": "true"}, "malformed"),
        (b"{}", {"json": "maybe"}, "'json'"),
        (b'[{"eventType": "activity", "x": Infinity}]', {"json": "true"}, "Infinity"),
    ],
)
def test_undecodable_bodies_are_a_400(
    http: httpx.Client, site: str, content: bytes, query: dict, message: str
) -> None:
    response = http.post("/visit/events", params={"siteCode": site, **query}, content=content)
    assert response.status_code == 400
    assert message in error_of(response)["message"]


def test_json_identifiers_that_are_not_strings_are_rejected_lines_naming_the_field(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    events = [
        {"eventType": "page", "nonce": nonce(), "visitorCode": {"id": 1}, "href": "x"},
        {"eventType": "page", "nonce": nonce(), "mappingValue": ["m"], "href": "x"},
        {"eventType": "page", "nonce": nonce(), "visitorCode": 42, "href": "kept"},
    ]
    response = http.post("/visit/events", params={"siteCode": site, "json": "true"}, json=events)
    assert response.status_code == 204  # was a 500: the bad identifier escaped as a ValueError
    products = [{"eventType": "productBuy", "nonce": nonce(), "ean": {"sku": "A"}}]
    response = http.post(
        "/product/events", params={"siteCode": site, "json": "true"}, json=products
    )
    assert response.status_code == 204
    rejected = emu.state.rejected_lines(site)
    assert [(r["path"], r["line"], r["field"]) for r in rejected] == [
        ("/visit/events", 1, "visitorCode"),
        ("/visit/events", 2, "mappingValue"),
        ("/product/events", 1, "ean"),
    ]
    assert all("expected a string" in r["reason"] for r in rejected)
    # A number is read as its text, as before.
    pages = feed(http, site, visitorCode="42")["currentVisit"]["pageEvents"]
    assert [p["data"]["href"] for p in pages] == ["kept"]


def test_identifier_lists_with_nan_are_a_400_not_a_crash(http: httpx.Client, site: str) -> None:
    response = http.get("/product/productData", params={"siteCode": site, "eans": "[NaN]"})
    assert response.status_code == 400
    assert "'eans'" in error_of(response)["message"]


def test_every_endpoint_needs_a_site_code(http: httpx.Client) -> None:
    for method, path in [
        ("GET", "/visit/visitor"),
        ("POST", "/visit/events"),
        ("POST", "/visit/forget"),
        ("POST", "/product/events"),
        ("GET", "/product/productCounters"),
        ("GET", "/product/productData"),
        ("GET", "/map/map"),
        ("GET", "/map/maps"),
        ("POST", "/map/maps"),
    ]:
        response = http.request(method, path)
        assert response.status_code == 400, path
        assert "'siteCode'" in error_of(response)["message"], path


def test_unknown_paths_and_methods_answer_json_errors(http: httpx.Client) -> None:
    missing = http.get("/visit/nothing")
    assert missing.status_code == 404 and error_of(missing)["error"] == "not_found"
    wrong = http.delete("/map/map")
    assert wrong.status_code == 405 and error_of(wrong)["error"] == "method_not_allowed"
