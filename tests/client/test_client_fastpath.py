"""The fast GET path (issue 13): taken by the default client, and the same as httpx's path.

Each behaviour is checked over real loopback HTTP, once on the fast path and once with it
switched off, and the two must agree: the requests the server saw (request line and headers,
byte for byte) and the outcome (the answer, or the exception's type and message).
"""

from __future__ import annotations

import json
import random
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas.client import on_request

SECRET = "fast-path-secret-never-shown"

#: A reply: status, headers, body.
Reply = tuple[int, dict[str, str], bytes]


def _json(status: int, payload: Any, **headers: str) -> Reply:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(payload).encode()


class ScriptedServer:
    """A loopback HTTP server: replies from a script per path, records every request."""

    def __init__(self) -> None:
        self.script: dict[str, list[Reply]] = {}
        self.seen: list[tuple[str, list[tuple[str, str]]]] = []
        self.tokens_issued = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.seen.append((self.requestline, list(self.headers.items())))
                status, headers, body = outer.reply_for(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _reply

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def reply_for(self, target: str) -> Reply:
        path = urllib.parse.urlsplit(target).path
        if path == "/oauth/token":
            self.tokens_issued += 1
            return _json(200, {"access_token": f"tok-{self.tokens_issued}", "expires_in": 3600})
        queue = self.script.get(path)
        if queue:
            return queue.pop(0) if len(queue) > 1 else queue[0]
        return _json(404, {"error": "not_found", "message": "nothing here"})

    def gets(self) -> list[tuple[str, list[tuple[str, str]]]]:
        return [seen for seen in self.seen if seen[0].startswith("GET ")]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


def _client(server: ScriptedServer, *, fast: bool, **settings: Any) -> kp.Client:
    options: dict[str, Any] = {
        "site_code": "site1",
        "base_url": server.url,
        "token_url": server.url + "/oauth/token",
        "client_id": "cid",
        "client_secret": SECRET,
        "retry_budget": 5.0,
    }
    options.update(settings)
    client = kp.Client(**options)
    assert client.async_client._fast is not None  # the default client qualifies
    if not fast:
        client.async_client._fast = None  # the httpx path, for comparison
    return client


def _outcome(call: Callable[[kp.Client], Any], client: kp.Client) -> tuple[str, Any]:
    try:
        return "answer", call(client)
    except kp.KameleoonError as exc:
        return type(exc).__name__, str(exc)


def _both_paths(
    server: ScriptedServer,
    script: dict[str, list[Reply]],
    call: Callable[[kp.Client], Any],
    **settings: Any,
) -> tuple[Any, Any, list]:
    """Run ``call`` on each path with the same script; the outcomes and requests must agree."""
    results = []
    for fast in (True, False):
        server.script = {path: list(replies) for path, replies in script.items()}
        server.seen.clear()
        server.tokens_issued = 0
        with _client(server, fast=fast, **settings) as client:
            outcome = _outcome(call, client)
            results.append((outcome, list(server.seen), client.async_client.attempts))
    (fast_outcome, fast_seen, fast_attempts), (slow_outcome, slow_seen, slow_attempts) = results
    assert fast_outcome == slow_outcome
    assert fast_seen == slow_seen  # the same request lines and headers, in the same order
    assert fast_attempts == slow_attempts
    return fast_outcome, fast_attempts, fast_seen


def test_the_default_client_sends_gets_on_the_fast_path(server: ScriptedServer) -> None:
    server.script = {
        "/map/map": [_json(200, {"a": 1})],
        "/product/productData": [_json(200, {"e2": {"name": "two"}})],
    }
    with _client(server, fast=True) as client:
        core = client.async_client
        sent: list[str] = []
        original = core._http.send

        async def spy(request: httpx.Request, **kwargs: Any) -> httpx.Response:
            sent.append(f"{request.method} {request.url.path}")
            return await original(request, **kwargs)

        core._http.send = spy  # type: ignore[method-assign]
        assert client.get_map("k") == {"a": 1}
        assert client.get_product_data(["e1", "e2"]) == {"e2": {"name": "two"}}
    assert sent == ["POST /oauth/token"]  # only the token went through httpx
    assert [line for line, _ in server.gets()] == [
        "GET /map/map?siteCode=site1&key=k HTTP/1.1",
        "GET /product/productData?siteCode=site1&eans=%5B%22e1%22,%22e2%22%5D&all=true HTTP/1.1",
    ]


def test_the_fast_path_is_not_taken_when_httpx_would_do_more(
    server: ScriptedServer, tmp_path: Any
) -> None:
    with kp.Client("s", base_url=server.url, cache=tmp_path / "c.sqlite") as cached:
        assert cached.async_client._fast is None  # the cache sits between httpx and aiohttp
    with kp.Client("s", base_url=server.url, transport=httpx.MockTransport(print)) as own:
        assert own.async_client._fast is None  # not our transport
    with kp.Client("s", base_url=server.url) as mounted:
        core = mounted.async_client
        default = core._fast
        core._http._mounts = {httpx._utils.URLPattern("all://"): httpx.MockTransport(print)}
        assert core._fast_transport(default) is None  # httpx would route elsewhere


def test_the_url_is_the_one_httpx_builds() -> None:
    params = {
        "siteCode": "site1",
        "eans": json.dumps(["a b", "c+d", "e%41", "f~g", "ü€", "x&y=z", "#?/"]),
        "timeBegin": "1",
    }
    with kp.Client("site1", base_url="http://127.0.0.1:9/prefix") as client:
        core = client.async_client
        built = core._http.build_request("GET", "/product/productCounters", params=params)
        fast = core._fast_url("/product/productCounters", params)
    assert fast == str(built.url)  # the string the transport hands aiohttp


def test_a_retryable_status_is_retried_with_its_retry_after(server: ScriptedServer) -> None:
    script = {
        "/map/map": [
            _json(503, {"error": "unavailable", "message": "busy"}, **{"Retry-After": "0"}),
            _json(429, {"error": "rate_limited", "message": "slow down"}, **{"Retry-After": "0"}),
            _json(200, {"a": 2}),
        ]
    }
    outcome, attempts, seen = _both_paths(server, script, lambda c: c.get_map("k"))
    assert outcome == ("answer", {"a": 2})
    assert attempts == 4  # the token request, then three GETs
    targets = [line.split("?")[0].removesuffix(" HTTP/1.1") for line, _ in seen]
    assert targets == ["POST /oauth/token"] + ["GET /map/map"] * 3


def test_retries_that_run_out_raise_the_same_error(server: ScriptedServer) -> None:
    script = {"/map/map": [_json(503, {"error": "unavailable", "message": "busy"})]}
    outcome, attempts, _ = _both_paths(
        server, script, lambda c: c.get_map("k"), max_retries=2, retry_budget=2.0
    )
    assert outcome[0] == "ServerError" and "busy" in outcome[1]
    assert attempts == 4  # the token request, then 1 + max_retries GETs


def test_a_401_gets_a_new_token_once(server: ScriptedServer) -> None:
    script = {"/map/map": [_json(401, {"error": "unauthorized", "message": "expired"}),
                           _json(200, {"a": 3})]}  # fmt: skip
    outcome, attempts, seen = _both_paths(server, script, lambda c: c.get_map("k"))
    assert outcome == ("answer", {"a": 3})
    # two token requests and one GET attempt: the refresh is part of the attempt (auth flow)
    assert attempts == 3
    bearer = [
        value
        for line, headers in seen
        if line.startswith("GET ")
        for name, value in headers
        if name.lower() == "authorization"
    ]
    assert bearer == ["Bearer tok-1", "Bearer tok-2"]


def test_a_second_401_is_an_authentication_error(server: ScriptedServer) -> None:
    script = {"/map/map": [_json(401, {"error": "unauthorized", "message": "no"})]}
    outcome, _, _ = _both_paths(server, script, lambda c: c.get_map("k"))
    assert outcome[0] == "AuthenticationError"
    assert SECRET not in outcome[1] and "tok-" not in outcome[1]


def test_error_statuses_and_bad_answers_raise_the_same_exceptions(
    server: ScriptedServer,
) -> None:
    script = {"/map/map": [_json(400, {"error": "bad_request", "message": f"bad {SECRET}"})]}
    outcome, attempts, _ = _both_paths(server, script, lambda c: c.get_map("k"))
    assert outcome[0] == "BadRequestError" and SECRET not in outcome[1]
    assert attempts == 2  # the token request and one GET: a 400 is never retried
    script = {"/map/map": [(200, {"Content-Type": "text/plain"}, b"not json")]}
    outcome, _, _ = _both_paths(server, script, lambda c: c.get_map("k"))
    assert outcome[0] == "APIStatusError" and "not JSON" in outcome[1]


def test_a_refused_connection_is_the_same_connect_error(
    server: ScriptedServer, quick_connect_retries: None
) -> None:
    outcomes = []
    for fast in (True, False):
        client = _client(server, fast=fast, client_id=None, client_secret=None)
        with client:
            client.async_client._http.base_url = "http://127.0.0.1:9"  # nothing listens there
            client.async_client._fast_prefixes.clear()
            outcomes.append(_outcome(lambda c: c.get_map("k"), client))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == "ConnectError" and "connection refused" in outcomes[0][1]


def test_the_progress_callback_counts_fast_gets(server: ScriptedServer) -> None:
    server.script = {"/map/map": [_json(200, {"a": 1})]}
    counted: list[int] = []

    async def read(core: kp.AsyncClient) -> dict:
        on_request.set(counted.append)
        return await core.get_map("k")

    with _client(server, fast=True) as client:
        assert client.run(read(client.async_client)) == {"a": 1}
    assert counted == [1]


def test_the_query_encoding_is_urlencode_for_every_character() -> None:
    from kameleoon_pandas.client import _urlencode

    rng = random.Random(13)
    every_ascii = "".join(chr(code) for code in range(128))
    samples = [every_ascii, every_ascii[::-1], "%41+ %", json.dumps(["a", "b"]), "ü€ x"]
    for _ in range(2000):
        alphabet = every_ascii + "éü€\U0001f600"
        samples.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30))))
    for text in samples:
        params = {"siteCode": "s", "v": text, text or "k": "x"}
        assert _urlencode(params) == urllib.parse.urlencode(params)
