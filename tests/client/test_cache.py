"""The opt-in cache of GET answers: hishel on a SQLite file, per client and credentials."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas._config import default_cache_path, resolve_settings

BASE = "http://127.0.0.1:9"


class CountingServer:
    """A MockTransport handler that counts what reaches it (and echoes the token it saw)."""

    def __init__(self) -> None:
        self.gets = 0
        self.posts = 0
        self.fail_next = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if request.method == "POST":
            self.posts += 1
            return httpx.Response(204)
        self.gets += 1
        if self.fail_next:
            self.fail_next = False
            return httpx.Response(404, json={"error": "not_found", "message": "no"})
        return httpx.Response(
            200, json={"n": self.gets, "auth": request.headers.get("authorization")}
        )


def _client(server: CountingServer, path: Path, **kwargs) -> kp.Client:
    return kp.Client(
        "site",
        base_url=BASE,
        cache=path,
        transport=httpx.MockTransport(server),
        retry_budget=0,
        **kwargs,
    )


def test_get_answers_are_served_from_the_cache(tmp_path: Path) -> None:
    server = CountingServer()
    with _client(server, tmp_path / "c.sqlite") as client:
        first = client.get_map("k")
        assert client.get_map("k") == first  # the same answer, not a new one
        assert server.gets == 1
        assert client.cache.hits == 1 and client.cache.misses == 1
        client.get_map("other")
        assert server.gets == 2


def test_the_cache_persists_across_clients_and_a_bearer_token_does_not_stop_it(
    tmp_path: Path,
) -> None:
    server = CountingServer()
    creds = {"client_id": "id", "client_secret": "secret", "token_url": BASE + "/oauth/token"}
    with _client(server, tmp_path / "c.sqlite", **creds) as client:
        assert client.get_map("k")["auth"] == "Bearer t"
    with _client(server, tmp_path / "c.sqlite", **creds) as again:
        again.get_map("k")
        assert again.cache.hits == 1
    assert server.gets == 1


def test_never_shared_across_credentials(tmp_path: Path) -> None:
    server = CountingServer()
    token_url = BASE + "/oauth/token"
    with _client(
        server, tmp_path / "c.sqlite", client_id="a", client_secret="1", token_url=token_url
    ) as a:
        a.get_map("k")
    with _client(
        server, tmp_path / "c.sqlite", client_id="b", client_secret="2", token_url=token_url
    ) as b:
        b.get_map("k")
        assert b.cache.hits == 0
    assert server.gets == 2


def test_errors_and_writes_are_never_cached(tmp_path: Path) -> None:
    server = CountingServer()
    with _client(server, tmp_path / "c.sqlite") as client:
        server.fail_next = True
        with pytest.raises(kp.APIStatusError):
            client.get_map("k")
        assert client.get_map("k")["n"] == 2  # the 404 was not kept
        client.post_maps({"k": {"a": 1}})
        client.post_maps({"k": {"a": 1}})
        assert server.posts == 2


def test_entries_expire_after_the_ttl(tmp_path: Path) -> None:
    server = CountingServer()
    with _client(server, tmp_path / "c.sqlite", cache_ttl=0.05) as client:
        client.get_map("k")
        import time

        time.sleep(0.2)  # hishel's storage reads the wall clock; the TTL is tiny
        client.get_map("k")
    assert server.gets == 2


def test_cache_clear_drops_every_entry(tmp_path: Path) -> None:
    server = CountingServer()
    path = tmp_path / "c.sqlite"
    with _client(server, path) as client:
        client.get_map("k")
        client.cache_clear()
        client.get_map("k")
        client.get_map("k")
        assert server.gets == 2 and client.cache.hits == 1
    with kp.Client("site", base_url=BASE) as plain:
        assert plain.cache is None
        plain.cache_clear()  # nothing to clear: no error


def test_cache_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert resolve_settings().cache_path is None
    assert resolve_settings(cache=True).cache_path == default_cache_path()
    monkeypatch.setenv("KAMELEOON_CACHE", "1")
    assert resolve_settings().cache_path == default_cache_path()
    monkeypatch.setenv("KAMELEOON_CACHE", str(tmp_path / "x.sqlite"))
    assert resolve_settings().cache_path == str(tmp_path / "x.sqlite")
    assert resolve_settings(cache=False).cache_path is None  # the argument wins
    monkeypatch.setenv("KAMELEOON_CACHE", "off")
    assert resolve_settings().cache_path is None
    with pytest.raises(kp.ConfigurationError, match="folder"):
        resolve_settings(cache=tmp_path)
    with pytest.raises(kp.ConfigurationError, match="cache_ttl"):
        resolve_settings(cache=True, cache_ttl=0)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_path() == str(tmp_path / "kameleoon-pandas" / "http-cache.sqlite")


def test_the_storage_calls_sqlite_on_the_loop_thread_not_in_worker_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # anysqlite hops to a worker thread through anyio.to_thread.run_sync for each call: the
    # connection the cache hands hishel makes none (_cache_sqlite), on a miss, a hit or a clear.
    import anyio.to_thread

    hops: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(function, *args, **kwargs):
        hops.append(function)
        return await run_sync(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    server = CountingServer()
    with _client(server, tmp_path / "c.sqlite") as client:
        client.get_map("k")
        client.get_map("k")
        client.cache_clear()
        client.get_map("k")
        assert client.cache.hits == 1 and client.cache.misses == 2
    assert server.gets == 2
    assert hops == []
