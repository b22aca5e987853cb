"""The network failing for real, over loopback: fail fast and clearly, never leak a credential.

Every server here is a real socket on 127.0.0.1: a port with nothing listening, a TLS server whose
certificate nobody trusts, a server that echoes the request's headers in its error bodies, and the
emulator with latency for a client closed while calls are in flight.
"""

from __future__ import annotations

import base64
import http.server
import json
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pandas as pd
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas.emulator import serve

CLIENT_ID = "echo-client"
SECRET = "echo-s3cret-NEVER-shown"
TOKEN = "echo-tok-NEVER-shown-42"
BASIC = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()


def _free_port() -> int:
    """A port on loopback that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_fails_fast_with_a_connect_error() -> None:
    port = _free_port()
    with kp.Client("site", base_url=f"http://127.0.0.1:{port}") as client:
        started = time.monotonic()
        with pytest.raises(kp.ConnectError) as info:
            client.get_map("k")
        elapsed = time.monotonic() - started
        assert client.async_client.attempts == 3  # the first try and two quick retries
    assert elapsed < 3.0
    message = str(info.value)
    assert f"http://127.0.0.1:{port}" in message
    assert "connection refused" in message and "is the server running?" in message
    assert info.value.url == f"http://127.0.0.1:{port}"
    # Nothing of the transport's own exception (nor the headers its frames held) stays attached.
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert isinstance(info.value, kp.TransportError) and isinstance(info.value, kp.APIError)


def test_a_host_that_does_not_resolve_fails_fast() -> None:
    with kp.Client("site", base_url="https://no-such-host.invalid") as client:
        started = time.monotonic()
        with pytest.raises(kp.ConnectError, match="does not resolve") as info:
            client.get_map("k")
        assert time.monotonic() - started < 3.0
        assert client.async_client.attempts == 3
    assert "'no-such-host.invalid'" in str(info.value)


@pytest.fixture(scope="module")
def untrusted_tls_server() -> Iterator[int]:
    """An HTTPS server on loopback whose certificate comes from a CA nobody trusts."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass  # the client gives up during the handshake
            except (ssl.SSLError, OSError):
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def test_a_certificate_failure_is_not_retried_and_says_so(untrusted_tls_server: int) -> None:
    with kp.Client("site", base_url=f"https://127.0.0.1:{untrusted_tls_server}") as client:
        with pytest.raises(kp.ConnectError, match="certificate") as info:
            client.get_map("k")
        assert client.async_client.attempts == 1
    assert "not retried" in str(info.value)


def test_max_retries_caps_the_attempts() -> None:
    calls = []

    def always_503(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, json={"error": "busy", "message": "try later"})

    transport = httpx.MockTransport(always_503)
    with (
        kp.Client("site", base_url="http://127.0.0.1:9", max_retries=2, transport=transport) as c,
        pytest.raises(kp.ServerError),
    ):
        c.get_map("k")
    assert len(calls) == 3
    with pytest.raises(kp.ConfigurationError, match="max_retries"):
        kp.Client("site", max_retries=-1)


# -- a server that echoes credentials back ----------------------------------------------------


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """Token endpoint and API that put every request header into their error bodies."""

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _echo(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.headers.items())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.startswith("/oauth/token"):
            if self.server.refuse_token:  # type: ignore[attr-defined]
                self._answer(401, {"error": "invalid_client", "message": "got " + self._echo()})
            else:
                self._answer(200, {"access_token": TOKEN, "expires_in": 3600})
            return
        self._answer(400, {"error": "bad_request", "message": "echo: " + self._echo()})

    def do_GET(self) -> None:
        # Not JSON, and long: the secret would straddle the message's cut without scrubbing.
        body = ("x" * 290 + " " + self._echo()).encode()
        self.send_response(404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def echo_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    server.refuse_token = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _echo_client(server: http.server.ThreadingHTTPServer) -> kp.Client:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    return kp.Client(
        "site",
        base_url=url,
        token_url=url + "/oauth/token",
        client_id=CLIENT_ID,
        client_secret=SECRET,
        retry_budget=0,
    )


def _leaks(text: str) -> list[str]:
    return [s for s in (SECRET, TOKEN, BASIC) if s in text]


def _everything_shown(exc: BaseException) -> str:
    shown = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    response = getattr(exc, "response", None)
    if response is not None:
        shown += [str(dict(response.request.headers)), getattr(exc, "message", "")]
    return "\n".join(shown)


def test_echoed_bearer_tokens_are_scrubbed_from_errors(echo_server) -> None:
    with _echo_client(echo_server) as client:
        with pytest.raises(kp.BadRequestError) as info:
            client.post_maps({"k": {"a": 1}})
        assert "echo:" in str(info.value) and "Bearer ***" in str(info.value)
        assert _leaks(_everything_shown(info.value)) == []

        with pytest.raises(kp.APIStatusError) as info:  # a plain-text body, cut at 300
            client.get_map("k")
        assert info.value.status_code == 404
        assert _leaks(_everything_shown(info.value)) == []


def test_an_echoed_basic_credential_is_scrubbed_from_the_token_error(echo_server) -> None:
    echo_server.refuse_token = True
    with _echo_client(echo_server) as client, pytest.raises(kp.AuthenticationError) as info:
        client.get_map("k")
    assert "Basic ***" in str(info.value)
    assert _leaks(_everything_shown(info.value)) == []


def test_push_report_failures_carry_no_credential(echo_server) -> None:
    frame = pd.DataFrame({"key": ["k1", "k2"], "a": [1, 2]})
    with _echo_client(echo_server) as client:
        report = kp.push_maps(frame, client=client, progress=False)
    assert report.failed_rows == 2
    shown = "\n".join(
        [repr(report), report._repr_html_(), report.failures.to_string(), str(report.failures)]
    )
    assert "Bearer ***" in shown
    assert _leaks(shown) == []


def test_scrub_removes_credentials_in_every_form() -> None:
    from kameleoon_pandas._exceptions import scrub

    text = f"a Bearer {TOKEN} b basic {BASIC} c {SECRET} d {base64.b64encode(SECRET.encode())}"
    cleaned = scrub(text, [SECRET])
    assert _leaks(cleaned) == [] and base64.b64encode(SECRET.encode()).decode() not in cleaned
    assert cleaned.startswith("a Bearer *** b basic *** c *** d")


# -- closing a client while calls are in flight ----------------------------------------------


def test_close_with_calls_in_flight_gives_each_caller_client_closed_error() -> None:
    # The server answers after 1.5 s (and its shutdown waits for that): closing must not.
    with serve(latency_ms=1500) as srv:
        client = kp.Client(srv.site_codes[0], base_url=srv.url)
        with ThreadPoolExecutor(4) as pool:
            calls = [pool.submit(client.get_map, f"k{i}") for i in range(4)]
            time.sleep(0.3)  # the calls are now waiting on the server
            started = time.monotonic()
            client.close()
            errors = [call.exception(timeout=10) for call in calls]
        assert time.monotonic() - started < 1.2
    assert all(isinstance(e, kp.ClientClosedError) for e in errors), errors
    assert all(isinstance(e, kp.KameleoonError) for e in errors)
    with pytest.raises(kp.ClientClosedError, match="closed"):
        client.get_map("k")
