"""Small helpers shared by the emulator tests."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import urlencode

import httpx

_nonces = itertools.count(0x1000)


def nonce() -> str:
    """A fresh 16-hex-character nonce."""
    return f"{next(_nonces):016X}"


def line(**params: Any) -> str:
    """One event line, percent-encoded the way the SDKs do (``+`` for spaces)."""
    params.setdefault("nonce", nonce())
    return urlencode(params)


def post_events(http: httpx.Client, site: str, *lines: str, **query: Any) -> httpx.Response:
    return http.post("/visit/events", params={"siteCode": site, **query}, content="\n".join(lines))


def feed(http: httpx.Client, site: str, **query: Any) -> dict[str, Any]:
    params = {"siteCode": site, "currentVisit": "true", "maxNumberPreviousVisits": "25", **query}
    response = http.get("/visit/visitor", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The documented error body; asserts its shape."""
    body = response.json()
    assert set(body) == {"error", "message"}, body
    return body
