"""POST /oauth/token and bearer tokens over HTTP."""

from __future__ import annotations

import base64

import httpx
import pytest

from kameleoon_pandas.emulator import EmulatorServer

from .helpers import error_of


def fetch_token(http: httpx.Client, emu: EmulatorServer) -> str:
    response = http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_token_from_form_fields(http: httpx.Client, emu: EmulatorServer) -> None:
    response = http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 20


def test_token_from_http_basic(http: httpx.Client, emu: EmulatorServer) -> None:
    basic = base64.b64encode(b"demo-client:demo-secret").decode()
    response = http.post(
        "/oauth/token",
        content="grant_type=client_credentials",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 200
    assert response.json()["expires_in"] == 3600


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (
            {
                "grant_type": "client_credentials",
                "client_id": "demo-client",
                "client_secret": "wrong",
            },
            401,
            "invalid_client",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "other",
                "client_secret": "demo-secret",
            },
            401,
            "invalid_client",
        ),
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),
        (
            {"grant_type": "password", "client_id": "demo-client", "client_secret": "demo-secret"},
            400,
            "unsupported_grant_type",
        ),
    ],
)
def test_bad_token_requests(
    http: httpx.Client, emu: EmulatorServer, data: dict, status: int, code: str
) -> None:
    response = http.post("/oauth/token", data=data)
    assert response.status_code == status
    body = error_of(response)
    assert body["error"] == code
    assert "demo-secret" not in response.text


def test_token_is_optional_by_default_but_a_bad_one_is_refused(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    assert http.get("/map/map", params={"siteCode": site, "key": "k"}).status_code == 200
    response = http.get(
        "/map/map",
        params={"siteCode": site, "key": "k"},
        headers={"Authorization": "Bearer forged"},
    )
    assert response.status_code == 401
    assert error_of(response)["error"] == "invalid_token"
    not_bearer = http.get(
        "/map/map", params={"siteCode": site, "key": "k"}, headers={"Authorization": "Basic abc"}
    )
    assert not_bearer.status_code == 401


def test_require_auth_refuses_a_missing_token(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    emu.options.require_auth = True
    response = http.get("/map/map", params={"siteCode": site, "key": "k"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization" in error_of(response)["message"]
    token = fetch_token(http, emu)  # the token endpoint itself needs no token
    ok = http.get(
        "/map/map",
        params={"siteCode": site, "key": "k"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert ok.status_code == 200


def test_tokens_expire_after_the_configured_lifetime(
    http: httpx.Client, emu: EmulatorServer, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A frozen clock: on a loaded machine, 0.3 s of wall time can pass before the first call.
    clock = {"now": 1_700_000_000.0}
    monkeypatch.setattr(emu.state, "clock", lambda: clock["now"])
    emu.options.token_ttl = 0.3
    response = http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
        },
    )
    assert response.json()["expires_in"] == 0.3
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert (
        http.get("/map/map", params={"siteCode": site, "key": "k"}, headers=headers).status_code
        == 200
    )
    clock["now"] += 0.29  # still valid just before the end of its life
    assert (
        http.get("/map/map", params={"siteCode": site, "key": "k"}, headers=headers).status_code
        == 200
    )
    clock["now"] += 0.02
    expired = http.get("/map/map", params={"siteCode": site, "key": "k"}, headers=headers)
    assert expired.status_code == 401
    assert error_of(expired)["error"] == "token_expired"


def test_credentials_are_options(http: httpx.Client, emu: EmulatorServer) -> None:
    emu.options.client_id, emu.options.client_secret = "cid", "csecret"
    basic = base64.b64encode(b"cid:csecret").decode()
    response = http.post(
        "/oauth/token",
        content="grant_type=client_credentials",
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    assert emu.client_id == "cid" and emu.env()["KAMELEOON_CLIENT_SECRET"] == "csecret"
