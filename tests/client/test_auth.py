"""OAuth2 client credentials: cached, refreshed before expiry and once on a 401, never leaked."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pandas as pd
import pytest

import kameleoon_pandas as kp

from .conftest import SECRET, TOKEN, Recorder, token_response

CREDS = {"client_id": "my-id", "client_secret": SECRET}


class TokenServer:
    """A token endpoint handing out numbered tokens, and an API that checks them."""

    def __init__(self, expires_in: float = 3600.0) -> None:
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.lock = threading.Lock()

    def revoke_all(self) -> None:
        with self.lock:
            self.valid.clear()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            assert (
                request.headers["authorization"]
                == "Basic " + base64.b64encode(f"my-id:{SECRET}".encode()).decode()
            )
            assert request.content == b"grant_type=client_credentials"
            with self.lock:
                token = f"{TOKEN}-{len(self.issued)}"
                self.issued.append(token)
                self.valid.add(token)
            return token_response(self.expires_in, token)
        header = request.headers.get("authorization", "")
        if header.removeprefix("Bearer ") not in self.valid:
            return httpx.Response(401, json={"error": "unauthorized", "message": "bad token"})
        return httpx.Response(200, json={"ok": header.removeprefix("Bearer ")})


def test_one_token_for_many_concurrent_requests(make_client, recorder: Recorder) -> None:
    server = TokenServer()
    client = make_client(server, **CREDS)
    keys = [f"k{i}" for i in range(2000)]  # 20 concurrent calls
    client.get_maps(keys)
    assert server.issued == [f"{TOKEN}-0"]
    api = [r for r in recorder.requests if r.url.path == "/map/maps"]
    assert len(api) == 20
    assert {r.headers["authorization"] for r in api} == {f"Bearer {TOKEN}-0"}


class FakeClock:
    """A clock that moves only when told: token expiry without real waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _clocked(client) -> FakeClock:
    clock = FakeClock()
    client.async_client._token_provider.clock = clock
    return clock


def test_token_refreshed_before_it_expires(make_client) -> None:
    server = TokenServer(expires_in=4.0)  # usable for half its life: 2 s
    client = make_client(server, **CREDS)
    clock = _clocked(client)
    assert client.get_map("k") == {"ok": f"{TOKEN}-0"}
    clock.now += 1.9
    assert client.get_map("k") == {"ok": f"{TOKEN}-0"}
    clock.now += 0.2
    assert client.get_map("k") == {"ok": f"{TOKEN}-1"}


def test_a_401_refreshes_once_shared_by_concurrent_requests(make_client, recorder) -> None:
    server = TokenServer()
    client = make_client(server, **CREDS)
    client.get_map("k")
    server.revoke_all()  # the server forgets every token, as after a restart
    answer = client.get_maps([f"k{i}" for i in range(1600)])  # 16 requests at once, all 401
    assert answer == {}  # {"ok": ...} has no asked key: nothing to merge, but no error
    assert server.issued == [f"{TOKEN}-0", f"{TOKEN}-1"]


def test_a_second_401_is_an_authentication_error(make_client, recorder) -> None:
    def handler(request):
        if request.url.path == "/oauth/token":
            return token_response()
        return httpx.Response(401, json={"error": "unauthorized", "message": "token refused"})

    client = make_client(handler, **CREDS)
    with pytest.raises(kp.AuthenticationError, match="token refused"):
        client.get_map("k")
    assert len(recorder.paths("/oauth/token")) == 2  # the first token, then one refresh
    assert len(recorder.paths("/map/map")) == 2


@pytest.mark.parametrize("status", [400, 401])
def test_wrong_credentials_are_a_clear_authentication_error(make_client, caplog, status) -> None:
    def handler(request):
        if request.url.path == "/oauth/token":
            # a careless server echoing the credentials must not leak them either
            return httpx.Response(
                status, json={"error": "invalid_client", "message": f"bad secret {SECRET}"}
            )
        raise AssertionError("no API call without a token")

    caplog.set_level(logging.DEBUG)
    client = make_client(handler, **CREDS)
    with pytest.raises(kp.AuthenticationError) as info:
        client.get_map("k")
    text = str(info.value)
    assert "token endpoint refused the credentials" in text and "'my-id'" in text
    assert "KAMELEOON_CLIENT_SECRET" in text
    assert SECRET not in text and SECRET not in repr(info.value)
    assert SECRET not in caplog.text


def test_token_endpoint_failures_are_retried(make_client, recorder) -> None:
    calls = []

    def handler(request):
        if request.url.path == "/oauth/token":
            calls.append(1)
            if len(calls) == 1:
                return httpx.Response(503)
            return token_response()
        return httpx.Response(200, json={"v": 1})

    assert make_client(handler, **CREDS).get_map("k") == {"v": 1}
    assert len(calls) == 2


def test_secret_and_token_never_in_logs_reprs_or_errors(make_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    server = TokenServer(expires_in=0.2)
    client = make_client(server, **CREDS)
    clock = _clocked(client)
    client.get_map("k")
    clock.now += 0.15
    server.revoke_all()
    client.get_map("k")
    server.revoke_all()

    def always_401(request):
        return httpx.Response(401, json={"error": "unauthorized", "message": "nope"})

    failing = make_client(always_401, **CREDS)
    with pytest.raises(kp.AuthenticationError) as info:
        failing.get_map("k")
    texts = [caplog.text, repr(client), repr(client.async_client), repr(vars(client.async_client))]
    texts += [str(info.value), repr(info.value), repr(vars(client.async_client._auth))]
    for text in texts:
        assert SECRET not in text
        assert TOKEN not in text
    assert server.issued  # the tokens existed and were used


def test_concurrent_callers_in_threads_share_the_token(make_client) -> None:
    server = TokenServer()
    client = make_client(server, **CREDS)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: client.get_map(f"k{i}"), range(40)))
    assert all(a == {"ok": f"{TOKEN}-0"} for a in answers)
    assert len(server.issued) == 1


def test_a_token_endpoint_that_keeps_failing_is_a_server_error_not_bad_credentials(
    make_client, recorder
) -> None:
    def handler(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(503, json={"error": "unavailable", "message": f"down {SECRET}"})
        raise AssertionError("no API call without a token")

    client = make_client(handler, retry_budget=0.3, **CREDS)
    with pytest.raises(kp.ServerError) as info:
        client.get_map("k")
    text = str(info.value)
    assert "token endpoint failed" in text and "503" in text
    assert "refused the credentials" not in text and not isinstance(
        info.value, kp.AuthenticationError
    )
    assert SECRET not in text
    assert len(recorder.paths("/oauth/token")) >= 2  # it was retried first


def test_a_failed_refresh_is_shared_by_every_request_waiting_for_it(make_client, recorder):
    async def handler(request):
        if request.url.path == "/oauth/token":
            await asyncio.sleep(1.0)  # slow: the writer's requests all queue behind it
            return httpx.Response(503, json={"error": "unavailable", "message": "down"})
        raise AssertionError("no API call without a token")

    client = make_client(handler, retry_budget=0, **CREDS)
    frame = pd.DataFrame({"key": [f"k{i}" for i in range(5000)], "v": 1})  # 5 bodies at once
    report = kp.push_maps(frame, client=client, progress=False)
    assert report.failed_rows == 5000 and report.requests == 5
    assert report.failures["reason"].str.contains("token endpoint failed").all()
    # one token request for the five waiting bodies, not one each in turn (5 x the budget)
    assert len(recorder.paths("/oauth/token")) == 1


def test_no_frame_of_an_auth_error_holds_the_secret_in_a_local(make_client) -> None:
    # verbose tracebacks (%xmode Verbose), pytest -l and error trackers print every local
    def handler(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(401, json={"error": "invalid_client"})
        raise AssertionError("no API call without a token")

    client = make_client(handler, **CREDS)
    with pytest.raises(kp.AuthenticationError) as info:
        client.get_map("k")
    basic = base64.b64encode(f"my-id:{SECRET}".encode()).decode()
    frames = 0
    tb = info.value.__traceback__.tb_next  # past this test's own frame
    while tb is not None:
        for name, value in list(tb.tb_frame.f_locals.items()):
            text = repr(value)
            assert SECRET not in text and basic not in text, (tb.tb_frame.f_code.co_name, name)
        frames += 1
        tb = tb.tb_next
    assert frames > 5  # the frames of the token fetch were there to look at
